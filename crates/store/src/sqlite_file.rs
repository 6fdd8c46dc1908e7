//! The SQLite database as files on disk: who may read them, and which
//! process serves them. The registry is in there in clear (names, phones,
//! citizen ids), so the database and what SQLite keeps beside it are the
//! owner's only. Unix only, as the server is (Debian).

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{ErrorKind, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use crate::{Result, StoreError};

/// What SQLite (and `serve`) keep beside a database, by suffix.
const COMPANIONS: [&str; 4] = ["-wal", "-shm", "-journal", LOCK_SUFFIX];
const LOCK_SUFFIX: &str = ".lock";

/// The file a `sqlite:` address names, as SQLite will open it; None for
/// PostgreSQL and in-memory databases.
pub fn path_of(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let opts = SqliteConnectOptions::from_str(url).ok()?;
    let path = opts.get_filename();
    (!path.as_os_str().is_empty()).then(|| path.to_path_buf())
}

/// Creates a folder for a database (and its missing parents) 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates a missing database file empty (an empty file is an empty SQLite
/// database) and 0600, before SQLite opens it: SQLite would make it 0644
/// under the usual umask, and it makes the `-wal` and `-shm` files with the
/// database file's mode, so they are private too. An umask set around the
/// open would change the whole process's, threads included.
pub(crate) fn create_private(path: &Path) -> Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Config(format!(
            "không tạo được tệp cơ sở dữ liệu {}: {e}",
            path.display()
        ))),
    }
}

/// What [`tighten`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tightened {
    /// Files and folder made private (0600, 0700).
    pub changed: Vec<PathBuf>,
    /// The folder holds other files too and others may read it: left as
    /// it is (its database files are private all the same).
    pub shared_dir: Option<PathBuf>,
}

/// Takes group and world access away from an existing database, its
/// companions and, when it holds nothing else, its folder. At every start
/// of `serve` and `demo`, for databases made before files were created
/// private or copied in with a loose mode. Tightened rather than refused:
/// the files are the server's own and nothing of it needs others to read
/// them, so refusing would only stop an upgrade. A folder shared with other
/// files (the working directory, a home) is left alone: changing its mode
/// would surprise its owner and could break what else lives there, while
/// what it shows of the database is only the files' names.
pub fn tighten(db: &Path) -> std::io::Result<Tightened> {
    let mut out = Tightened::default();
    let mut files = vec![db.to_path_buf()];
    files.extend(COMPANIONS.iter().map(|s| with_suffix(db, s)));
    for f in files {
        match std::fs::metadata(&f) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&f, Permissions::from_mode(0o600))?;
                out.changed.push(f);
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mode = std::fs::metadata(&dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        if holds_only(&dir, db)? {
            std::fs::set_permissions(&dir, Permissions::from_mode(0o700))?;
            out.changed.push(dir);
        } else {
            out.shared_dir = Some(dir);
        }
    }
    Ok(out)
}

/// Whether `dir` holds nothing but the database and its companions.
fn holds_only(dir: &Path, db: &Path) -> std::io::Result<bool> {
    let Some(name) = db.file_name() else {
        return Ok(false);
    };
    let name = name.to_string_lossy();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?.file_name();
        let entry = entry.to_string_lossy();
        let ours = entry
            .strip_prefix(name.as_ref())
            .is_some_and(|rest| rest.is_empty() || COMPANIONS.contains(&rest));
        if !ours {
            return Ok(false);
        }
    }
    Ok(true)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The one server of a SQLite database: an exclusive advisory lock on
/// `<db>.lock`, held for as long as the value lives (the kernel lets go
/// when the process ends, however it ends).
///
/// One process per file, because what keeps SQLite fast and correct is
/// per process: the group-commit writer and its checkpointer (two
/// processes would take turns at the write lock and make the WAL grow),
/// the feedback caches, the in-memory rate limits. Several servers share a
/// PostgreSQL database instead, where what must be shared (login
/// failures, the outbox's claims) is in the database.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock of `db`, or says which process holds it.
pub fn lock(db: &Path) -> Result<ServeLock> {
    let path = with_suffix(db, LOCK_SUFFIX);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            StoreError::Config(format!("không mở được tệp khoá {}: {e}", path.display()))
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (tiến trình {pid})"),
            };
            return Err(StoreError::Config(format!(
                "cơ sở dữ liệu {} đang được một máy chủ danvan khác phục vụ{holder}; \
                 mỗi tệp SQLite chỉ một máy chủ: dừng máy chủ kia trước, hoặc dùng \
                 PostgreSQL để chạy nhiều máy chủ (database in use by another danvan server)",
                db.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::Config(format!(
                "không khoá được {}: {e}",
                path.display()
            )))
        }
    }
    // Who holds it, for the message of the next one to try.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(ServeLock { _file: file, path })
}
