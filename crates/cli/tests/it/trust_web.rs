//! Issue 13 (trust), items 10 and 15: the database's files are private and
//! served by one process.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use danvan_store::sqlite_file;
use danvan_store::Store;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn beside(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

/// Item 10: a database the store creates is 0600, and so are the WAL and
/// shared-memory files SQLite makes beside it (under the usual umask 022).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item10_new_database_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("danvan.db");
    let store = Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    for f in [db.clone(), beside(&db, "-wal"), beside(&db, "-shm")] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    store.close().await;

    // The demo's folder, when danvan makes it (and its parents): 0700.
    let data = dir.path().join("demo/data");
    sqlite_file::create_private_dir(&data).unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&dir.path().join("demo")), 0o700);
}

/// Item 10: at start, an existing database readable by others is made
/// private (files 0600; its folder 0700 when the folder is its own, left
/// alone and reported when it holds other files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item10_existing_database_is_tightened_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own");
    let shared = dir.path().join("shared");
    for folder in [&own, &shared] {
        std::fs::create_dir(folder).unwrap();
        let db = folder.join("danvan.db");
        for f in [db.clone(), beside(&db, "-wal"), beside(&db, "-shm")] {
            std::fs::write(&f, b"").unwrap();
            chmod(&f, 0o644);
        }
        chmod(folder, 0o755);
    }
    std::fs::write(shared.join("notes.txt"), b"other things").unwrap();

    let url = |folder: &Path| format!("sqlite://{}", folder.join("danvan.db").display());
    let lock = danvan::runtime::claim_database(&url(&own)).unwrap();
    assert!(lock.is_some());
    let db = own.join("danvan.db");
    for f in [
        db.clone(),
        beside(&db, "-wal"),
        beside(&db, "-shm"),
        beside(&db, ".lock"),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&own), 0o700, "a folder of its own is made private");

    let db = shared.join("danvan.db");
    let done = sqlite_file::tighten(&db).unwrap();
    assert_eq!(done.shared_dir.as_deref(), Some(shared.as_path()));
    for f in [db.clone(), beside(&db, "-wal"), beside(&db, "-shm")] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&shared), 0o755, "a shared folder is left as it is");
    assert_eq!(
        sqlite_file::tighten(&own.join("danvan.db")).unwrap(),
        sqlite_file::Tightened::default(),
        "nothing left to do"
    );

    // PostgreSQL has no file to claim.
    assert!(
        danvan::runtime::claim_database("postgres://postgres@127.0.0.1/x")
            .unwrap()
            .is_none()
    );
}

/// Item 15: one lock per database file, in this process as across them.
#[test]
fn item15_one_lock_per_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let first = sqlite_file::lock(&a).unwrap();
    let err = sqlite_file::lock(&a).unwrap_err().to_string();
    assert!(
        err.contains("đang được một máy chủ danvan khác phục vụ")
            && err.contains(&format!("tiến trình {}", std::process::id())),
        "{err}"
    );
    let other = sqlite_file::lock(&dir.path().join("b.db")).unwrap();
    drop(first);
    let again = sqlite_file::lock(&a).unwrap();
    drop((other, again));
}

/// A server the test started; stopped when dropped, also when the test
/// fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `danvan ARGS`, waiting for the line it prints once it listens.
fn start(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_danvan"))
        .args(args)
        .env("DANVAN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("http://") => break,
            Some(Ok(_)) => {}
            _ => {
                let _ = child.kill();
                panic!("danvan {args:?} did not start: {:?}", child.wait());
            }
        }
    }
    // The rest of its output is not read: keep the pipe drained.
    std::thread::spawn(move || for _ in lines {});
    Running(child)
}

/// `danvan ARGS`, expected to stop at once with an error: its stderr.
/// One still running after a minute is a failure, not a hang.
fn refused(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_danvan"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            drop(Running(child));
            panic!("danvan {args:?} was not refused: it runs");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "danvan {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Item 15 (and 10) through the binary: a second `serve` on the file a
/// server holds is refused with a clear message, another file serves; the
/// demo's folder and database are private.
#[test]
fn item15_second_server_on_one_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let serve = |name: &str| {
        vec![
            "serve".to_string(),
            "--database-url".into(),
            url(name),
            "--bind".into(),
            "127.0.0.1:0".into(),
        ]
    };
    let a = serve("a.db");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let first = start(&a);
    let err = refused(&a);
    assert!(
        err.starts_with("lỗi: cơ sở dữ liệu")
            && err.contains("đang được một máy chủ danvan khác phục vụ")
            && err.contains(&format!("tiến trình {}", first.0.id())),
        "{err}"
    );
    let b = serve("b.db");
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    drop(start(&b));
    // The lock goes with the process.
    drop(first);
    drop(start(&a));

    // The demo: its folder 0700, its database 0600; a second demo on the
    // same folder is refused.
    let data = dir.path().join("demo");
    let data_arg = data.display().to_string();
    let demo = ["demo", "--data-dir", &data_arg, "--bind", "127.0.0.1:0"];
    let running = start(&demo);
    assert_eq!(mode(&data), 0o700);
    for f in [
        "danvan.db",
        "danvan.db-wal",
        "danvan.db-shm",
        "danvan.db.lock",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    assert!(refused(&demo).contains("danvan khác"));
    drop(running);
}
