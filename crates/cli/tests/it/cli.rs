//! The binary itself: help, one-line errors, accounts, tokens, import, export.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{unit_id, Backend, TestDb};

/// `head` followed by `tail`, as one argument list.
fn with<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    [head, tail].concat()
}

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

/// Mistakes in the command line (clap's usage errors) end as one `lỗi:`
/// line in Vietnamese naming the command's help, and exit 2.
#[test]
fn usage_errors_are_one_vietnamese_line() {
    for (args, expected) in [
        (
            vec!["unit", "add", "--nope"],
            "lỗi: không có tuỳ chọn «--nope» (xem: danvan unit add --help)",
        ),
        (
            vec!["token", "create", "--gatway"],
            "lỗi: không có tuỳ chọn «--gatway»; có phải ý bạn là «--gateway»? (xem: danvan token create --help)",
        ),
        (
            vec!["unit", "list", "--database-url", "sqlite://x.db", "--q"],
            "lỗi: --q <Q> cần một giá trị (xem: danvan unit list --help)",
        ),
        (
            vec!["unit", "move", "--database-url", "sqlite://x.db", "--unit", "3"],
            "lỗi: thiếu tham số bắt buộc: --parent <PARENT>, --date <DATE>, --basis <BASIS> (xem: danvan unit move --help)",
        ),
        (
            vec!["unit", "rename", "--unit", "ba"],
            "lỗi: giá trị «ba» không hợp lệ cho --unit <UNIT> (xem: danvan unit rename --help)",
        ),
        (
            vec!["bench", "--suite", "nope"],
            "lỗi: giá trị «nope» không hợp lệ cho --suite <SUITE>; dùng một trong: registry, feedback, announcements, audio (xem: danvan bench --help)",
        ),
        (
            vec!["unit", "centre", "--unit", "1", "--lat", "21", "--long", "106", "--clear"],
            "lỗi: --lat <LAT> không dùng cùng --clear (xem: danvan unit centre --help)",
        ),
        (
            vec!["unt", "list"],
            "lỗi: không có lệnh «unt»; có phải ý bạn là «unit»? (xem: danvan --help)",
        ),
    ] {
        let out = danvan()
            .args(&args)
            .env_remove("DANVAN_DATABASE_URL")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end(), expected, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A command without its subcommand: the list, then the line.
    let out = danvan().arg("unit").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rename"), "{err}");
    assert_eq!(
        err.trim_end().lines().last(),
        Some("lỗi: thiếu lệnh: hãy chọn một lệnh (xem: danvan unit --help)")
    );
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
    assert!(db
        .store
        .principal_for_gateway_token(&token)
        .await
        .unwrap()
        .is_none());
    // --gateway makes a key for the SMS gateway only.
    let out = run(
        &["token", "create", "--username", "canbo.moi", "--gateway"],
        "",
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains("Khoá cổng SMS"), "{stdout}");
    let gateway = stdout.trim_end().lines().last().unwrap().to_string();
    assert!(db
        .store
        .principal_for_gateway_token(&gateway)
        .await
        .unwrap()
        .is_some());
    assert!(db
        .store
        .principal_for_api_token(&gateway)
        .await
        .unwrap()
        .is_none());
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

async fn registry_commands_record_history(b: Backend) {
    let db = TestDb::new(b).await;
    let url = db.url.clone();
    let run = |args: &[&str]| {
        let out = danvan()
            .args(args)
            .env("DANVAN_DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .lines()
            .last()
            .unwrap_or("")
            .to_string()
    };
    let basis = ["--date", "01/07/2025", "--basis", "Nghị quyết thử nghiệm"];
    let p = run(&[
        "unit",
        "add",
        "--name",
        "Tỉnh Thử",
        "--level",
        "tỉnh",
        "--code",
        "97",
    ]);
    let c = run(&[
        "unit", "add", "--name", "Xã Cũ", "--level", "xa", "--parent", &p,
    ]);
    let c2 = run(&[
        "unit",
        "add",
        "--name",
        "Xã Mới",
        "--level",
        "commune",
        "--parent",
        &p,
        "--valid-from",
        "01/07/2025",
    ]);
    let h = run(&[
        "unit",
        "add",
        "--name",
        "Thôn Một",
        "--level",
        "hamlet",
        "--parent",
        &c,
    ]);
    let h2 = run(&[
        "unit",
        "add",
        "--name",
        "Thôn Hai",
        "--level",
        "hamlet",
        "--parent",
        &c,
    ]);
    let t = run(&[
        "team",
        "add",
        "--hamlet",
        &h,
        "--code",
        "TM-1",
        "--name",
        "Tổ dân vận số 1 thôn Một",
    ]);
    run(&[
        "team",
        "add",
        "--hamlet",
        &h,
        "--code",
        "TM-1-N1",
        "--name",
        "Nhóm 1",
        "--group",
        "--parent-team",
        &t,
    ]);
    run(&[
        "team",
        "member",
        "--team",
        &t,
        "--name",
        "Nguyễn Thị Lan",
        "--role",
        "tổ trưởng",
        "--represents",
        "womens_union",
        "--phone",
        "0912 345 001",
    ]);
    let listing = run(&["unit", "list", "--q", "thon mot"]);
    assert!(listing.contains("Thôn Một"), "{listing}");
    // A household to carry through the split.
    let file = crate::import::file(1, &[]);
    let csv = std::fs::read_to_string(file.path())
        .unwrap()
        .replace("Thôn Mai Hoàng", "Thôn Hai")
        .replace("Xã Phúc Sơn", "Xã Cũ");
    let f2 = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(f2.path(), csv).unwrap();
    run(&[
        "import",
        "households",
        f2.path().to_str().unwrap(),
        "--unit",
        &c,
    ]);
    let n1 = run(&[
        "unit",
        "add",
        "--name",
        "Thôn Hai A",
        "--level",
        "hamlet",
        "--parent",
        &c,
    ]);
    let n2 = run(&[
        "unit",
        "add",
        "--name",
        "Thôn Hai B",
        "--level",
        "hamlet",
        "--parent",
        &c,
    ]);
    let moves = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(moves.path(), format!("Mã hộ,Thôn mới\nNK00000,{n2}\n")).unwrap();
    run(&with(
        &[
            "unit",
            "split",
            "--unit",
            &h2,
            "--into",
            &format!("{n1},{n2}"),
            "--households",
            moves.path().to_str().unwrap(),
        ],
        &basis,
    ));
    run(&with(
        &["unit", "rename", "--unit", &h, "--name", "Thôn Nhất"],
        &basis,
    ));
    run(&with(
        &[
            "unit",
            "merge",
            "--sources",
            &c,
            "--into",
            &c2,
            "--move-children",
        ],
        &basis,
    ));
    // A bad date is one clear line, and nothing is recorded.
    let out = danvan()
        .args([
            "unit",
            "move",
            "--unit",
            &c2,
            "--parent",
            &p,
            "--date",
            "31/02/2025",
            "--basis",
            "x",
        ])
        .env("DANVAN_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("lỗi: --date"));

    let s = &db.store;
    let all = danvan_store::Scope::all();
    let id = |v: &str| v.parse::<i64>().unwrap();
    let hamlet = s.unit(&all, id(&h)).await.unwrap();
    assert_eq!(hamlet.name, "Thôn Nhất");
    assert_eq!(hamlet.parent_id, Some(id(&c2)), "moved with the merge");
    assert_eq!(
        s.unit(&all, id(&c)).await.unwrap().valid_to.as_deref(),
        Some("2025-06-30")
    );
    let hist = s.unit_history(&all, id(&h2)).await.unwrap();
    assert_eq!(hist[0].kind.as_str(), "split");
    assert_eq!(hist[0].households_moved, 1);
    let c2_path = s.unit(&all, id(&c2)).await.unwrap().path;
    let counts = s.counts(&c2_path).await.unwrap();
    assert_eq!((counts.teams, counts.groups, counts.households), (1, 1, 1));
    assert_eq!(
        s.members(&danvan_store::Scope::all(), id(&t))
            .await
            .unwrap()[0]
            .full_name(),
        "Nguyễn Thị Lan"
    );
    db.finish().await;
}
both!(registry_commands_record_history);

async fn feedback_commands(b: Backend) {
    let db = TestDb::demo(b).await;
    let phuc_son = unit_id(&db.store, "xa phuc son").await;
    let run = |args: &[&str]| {
        danvan()
            .args(args)
            .env("DANVAN_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let out = run(&[
        "feedback",
        "holiday",
        "--date",
        "02/09/2027",
        "--name",
        "Quốc khánh",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (cal, _) = db.store.calendar_for("/1/").await.unwrap();
    assert!(cal
        .holidays
        .contains(&chrono::NaiveDate::from_ymd_opt(2027, 9, 2).unwrap()));
    let out = run(&["feedback", "leader", "--username", "xa.phucson"]);
    assert!(out.status.success());
    assert!(
        db.store
            .principal_by_username("xa.phucson")
            .await
            .unwrap()
            .leads_unit
    );
    let p = phuc_son.to_string();
    let out = run(&[
        "feedback",
        "rule",
        "--commune",
        &p,
        "--topic",
        "security",
        "--unit",
        &p,
        "--label",
        "Công an xã Phúc Sơn",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "feedback",
        "rule",
        "--commune",
        &p,
        "--topic",
        "weather",
        "--unit",
        &p,
        "--label",
        "X",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("lỗi:") && err.trim_end().lines().count() == 1,
        "{err}"
    );
    let out = run(&["feedback", "holiday", "--date", "31/02/2027", "--name", "x"]);
    assert!(!out.status.success());
    let out = run(&["feedback", "sweep"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Đã chuyển"));
    // Wiping the rollups and rebuilding them gives the dashboard back.
    let sys = danvan_store::feedback::Viewer::system();
    let province = db
        .store
        .top_units(&danvan_store::Scope::all())
        .await
        .unwrap()[0]
        .id;
    let hamlet = crate::common::unit_id(&db.store, "mai hoang").await;
    db.store
        .submit_feedback(
            &danvan_store::Actor::system(),
            &danvan_store::Scope::all(),
            &danvan_store::feedback::NewFeedback {
                topic: "environment".into(),
                severity: danvan_domain::feedback::Severity::Normal,
                channel: danvan_domain::feedback::Channel::Web,
                description: "Rác ở đầu ngõ".into(),
                hamlet_id: hamlet,
                lat: None,
                lon: None,
                reporter_name: None,
                reporter_phone: None,
                anonymous: false,
                household_id: None,
                resident_id: None,
                relay_method: None,
                identity_consent: false,
                submission_key: None,
                photos: Vec::new(),
            },
        )
        .await
        .unwrap();
    let before = db
        .store
        .feedback_dashboard(&sys, province, None)
        .await
        .unwrap();
    assert_eq!(before.totals.total(), 1);
    match &db.store.db {
        danvan_store::Db::Sqlite(p) => {
            sqlx::query("DELETE FROM feedback_rollup")
                .execute(p)
                .await
                .unwrap();
        }
        danvan_store::Db::Postgres(p) => {
            sqlx::query("DELETE FROM feedback_rollup")
                .execute(p)
                .await
                .unwrap();
        }
    }
    let out = run(&["feedback", "rebuild-rollups"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Đã tính lại"));
    let after = db
        .store
        .feedback_dashboard(&sys, province, None)
        .await
        .unwrap();
    assert_eq!(before.totals.by_state, after.totals.by_state);
    db.finish().await;
}
both!(feedback_commands);
