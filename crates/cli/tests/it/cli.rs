//! The binary itself: help, one-line errors, accounts, tokens, import, export.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{unit_id, Backend, TestDb};

fn danvan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_danvan"))
}

#[test]
fn help_is_plain_and_errors_are_one_line() {
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["serve", "--help"],
        vec!["user", "add", "--help"],
        vec!["import", "households", "--help"],
        vec!["export", "households", "--help"],
        vec!["token", "create", "--help"],
    ] {
        let out = danvan().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = danvan()
        .args(["serve", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("lỗi:") && err.trim_end().lines().count() == 1,
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
}

async fn commands_work_end_to_end(b: Backend) {
    let db = TestDb::demo(b).await;
    let url = db.url.clone();
    let phuc_son = unit_id(&db.store, "xa phuc son").await;
    let run = |args: &[&str], stdin: &str| {
        let mut child = danvan()
            .args(args)
            .env("DANVAN_DATABASE_URL", &url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    // user add reads the password from standard input.
    let out = run(
        &[
            "user",
            "add",
            "--username",
            "canbo.moi",
            "--role",
            "commune_officer",
            "--unit",
            &phuc_son.to_string(),
        ],
        "mat-khau-rat-dai\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["user", "add", "--username", "x", "--role", "chief"],
        "mat-khau-rat-dai\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vai trò"));
    // token create prints the token on its last line, and it works.
    let out = run(&["token", "create", "--username", "canbo.moi"], "");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let token = stdout.trim_end().lines().last().unwrap().to_string();
    assert!(db
        .store
        .principal_for_api_token(&token)
        .await
        .unwrap()
        .is_some());
    // import: errors listed, exit code 2, nothing written; --dry-run; then for real.
    let bad = crate::import::file(50, &[(100, "NK00033,Lương Văn Sai,31/02/1970,Nam,Chủ hộ,,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Điện thoại thường,".into())]);
    let out = run(
        &[
            "import",
            "households",
            bad.path().to_str().unwrap(),
            "--unit",
            &phuc_son.to_string(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Dòng 102"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let good = crate::import::file(50, &[]);
    let out = run(
        &[
            "import",
            "households",
            good.path().to_str().unwrap(),
            "--unit",
            &phuc_son.to_string(),
            "--dry-run",
        ],
        "",
    );
    assert!(out.status.success());
    let out = run(
        &[
            "import",
            "households",
            good.path().to_str().unwrap(),
            "--unit",
            &phuc_son.to_string(),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Đã nhập 50 hộ"));
    // export to a file, audited.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.xlsx");
    let out = run(
        &[
            "export",
            "households",
            "--unit",
            &phuc_son.to_string(),
            "--format",
            "xlsx",
            "--output",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&file).unwrap().len() > 10_000);
    let out = run(
        &[
            "export",
            "households",
            "--unit",
            "99999999",
            "--format",
            "csv",
        ],
        "",
    );
    assert!(!out.status.success());
    db.finish().await;
}
both!(commands_work_end_to_end);
