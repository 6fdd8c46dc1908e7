//! All-or-nothing import: one bad row deep in a file rejects the whole file,
//! and the report names every bad row by number and column.

use std::io::Write;

use danvan_store::{Actor, Scope};

use crate::common::{unit_id, Backend, TestDb};

const HEADER: &str = "Mã hộ,Họ và tên,Ngày sinh,Giới tính,Quan hệ với chủ hộ,Số điện thoại,Số CCCD,Thôn,Xã,Địa chỉ,Nhận tin qua,Tổ dân vận";

/// A file of `n` households of 3 people in Mai Hoàng; `bad` maps a data
/// row index (0-based) to a replacement line.
pub fn file(n: usize, bad: &[(usize, String)]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(f, "{HEADER}").unwrap();
    let mut i = 0usize;
    for h in 0..n {
        for (rel, name, g, year) in [
            ("Chủ hộ", "Lương Văn Nhập", "Nam", "1970"),
            ("Vợ", "Đinh Thị Mới", "Nữ", "12/05/1975"),
            ("Con", "Lương Thu Hà", "Nữ", "2005"),
        ] {
            let line = bad.iter().find(|(k, _)| *k == i).map(|(_, l)| l.clone()).unwrap_or_else(|| {
                format!("NK{h:05},{name} {h},{year},{g},{rel},09{:08},,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm Nhập số {h},Điện thoại thường,", 10_000_000 + i)
            });
            writeln!(f, "{line}").unwrap();
            i += 1;
        }
    }
    f.flush().unwrap();
    f
}

async fn import_is_all_or_nothing(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let all = Scope::all();
    let phuc_son = unit_id(s, "xa phuc son").await;
    let path = s.unit(&all, phuc_son).await.unwrap().path;
    let before = s.counts(&path).await.unwrap();

    // 400 households; row 1,000 of the sheet has a bad phone, row 1,101 an
    // unknown hamlet and row 1,150 an empty name (sheet rows count the header).
    let bad = [
        (998, "NK00332,Lương Văn Sai,1970,Nam,Chủ hộ,12345,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Điện thoại thường,".to_string()),
        (1099, "NK00366,Lương Văn Lạ,1970,Nam,Chủ hộ,,,Thôn Không Có,Xã Phúc Sơn,Xóm,Điện thoại thường,".to_string()),
        (1148, "NK00382,,1970,Nam,Chủ hộ,,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Điện thoại thường,".to_string()),
    ];
    let f = file(400, &bad);
    let out = s
        .import_households(&danvan_store::Viewer::cli(), phuc_son, f.path(), false)
        .await
        .unwrap();
    assert!(!out.committed);
    let rows: Vec<(usize, &str)> = out
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert!(rows.contains(&(1000, "Số điện thoại")), "{rows:?}");
    assert!(rows.contains(&(1101, "Thôn")), "{rows:?}");
    assert!(rows.contains(&(1150, "Họ và tên")), "{rows:?}");
    assert!(out.errors.iter().all(|e| !e.message_vi.is_empty()));
    assert_eq!(
        s.counts(&path).await.unwrap(),
        before,
        "nothing was written"
    );

    // Dry run of a clean file: a report, still nothing written.
    let good = file(400, &[]);
    let out = s
        .import_households(&danvan_store::Viewer::cli(), phuc_son, good.path(), true)
        .await
        .unwrap();
    assert_eq!(
        (out.error_count, out.households, out.rows, out.committed),
        (0, 400, 1200, false)
    );
    assert_eq!(s.counts(&path).await.unwrap(), before);

    // The clean file imports whole, in one go.
    let out = s
        .import_households(&danvan_store::Viewer::cli(), phuc_son, good.path(), false)
        .await
        .unwrap();
    assert!(out.committed);
    let after = s.counts(&path).await.unwrap();
    assert_eq!(after.households, before.households + 400);
    assert_eq!(after.residents, before.residents + 1200);
    assert_eq!(
        after.unassigned_households,
        before.unassigned_households + 400
    );
    let hit = s.search(&all, "luong van nhap 17", 5).await.unwrap();
    let h = s
        .household(&all, hit.residents[0].household_id)
        .await
        .unwrap();
    assert_eq!(h.head_name, "Lương Văn Nhập 17");
    assert_eq!(h.resident_count, 3);
    // Importing it again: every household code already exists, nothing changes.
    let out = s
        .import_households(&danvan_store::Viewer::cli(), phuc_son, good.path(), false)
        .await
        .unwrap();
    assert!(!out.committed);
    assert!(out.errors.iter().any(|e| e.column == "Mã hộ"));
    assert_eq!(s.counts(&path).await.unwrap(), after);
    assert!(s
        .audit_entries(&danvan_store::Viewer::cli(), None, 1000)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "import"));
    db.finish().await;
}
both!(import_is_all_or_nothing);

async fn export_reimports(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let all = Scope::all();
    let mai_hoang = unit_id(s, "mai hoang").await;
    let dir = tempfile::tempdir().unwrap();
    for (xlsx, name) in [(false, "x.csv"), (true, "x.xlsx")] {
        let out = dir.path().join(name);
        let rows = s
            .export_households(&danvan_store::Viewer::cli(), mai_hoang, &out, xlsx)
            .await
            .unwrap();
        let path = s.unit(&all, mai_hoang).await.unwrap().path;
        assert_eq!(rows as i64, s.counts(&path).await.unwrap().residents);
        // Re-importing the export is refused only because the households exist.
        let report = s
            .import_households(&danvan_store::Viewer::cli(), mai_hoang, &out, true)
            .await
            .unwrap();
        assert!(
            report.errors.iter().all(|e| e.column == "Mã hộ"),
            "{:?}",
            report.errors.first()
        );
        assert_eq!(report.households, 245);
    }
    db.finish().await;
}
both!(export_reimports);

async fn households_spread_over_the_file(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let all = Scope::all();
    let phuc_son = unit_id(s, "xa phuc son").await;
    let path = s.unit(&all, phuc_son).await.unwrap().path;
    let before = s.counts(&path).await.unwrap();
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    let row = |code: &str, name: &str, rel: &str| {
        format!(
            "{code},{name},1980,Nam,{rel},,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm Rải,Điện thoại thường,"
        )
    };
    // SP1: head first, a child 500 rows later. SP2: the head comes last.
    writeln!(f, "{HEADER}").unwrap();
    writeln!(f, "{}", row("SP1", "Kiều Văn Đầu", "Chủ hộ")).unwrap();
    writeln!(f, "{}", row("SP2", "Kiều Thị Con", "Con")).unwrap();
    for i in 0..500 {
        writeln!(
            f,
            "{}",
            row(
                &format!("FILL{i:04}"),
                &format!("Lục Văn Đệm {i}"),
                "Chủ hộ"
            )
        )
        .unwrap();
    }
    writeln!(f, "{}", row("SP1", "Kiều Văn Cuối", "Con")).unwrap();
    writeln!(f, "{}", row("SP2", "Kiều Văn Chủ", "Chủ hộ")).unwrap();
    f.flush().unwrap();
    let out = s
        .import_households(&danvan_store::Viewer::cli(), phuc_son, f.path(), false)
        .await
        .unwrap();
    assert!(out.committed, "{:?}", out.errors.first());
    assert_eq!((out.households, out.rows), (502, 504));
    for (code, head, n) in [("SP1", "Kiều Văn Đầu", 2), ("SP2", "Kiều Văn Chủ", 2)] {
        let hit = s.search(&all, code, 5).await.unwrap();
        let h = hit.households.iter().find(|h| h.code == code).unwrap();
        assert_eq!(
            (h.head_name.as_str(), h.resident_count),
            (head, n),
            "{code}"
        );
    }
    let after = s.counts(&path).await.unwrap();
    assert_eq!(
        (after.households, after.residents),
        (before.households + 502, before.residents + 504),
        "counts add up"
    );
    db.finish().await;
}
both!(households_spread_over_the_file);

/// Index names of the residents table, from the database's own catalogue.
async fn resident_indexes(s: &danvan_store::Store) -> Vec<String> {
    let mut names: Vec<String> = match &s.db {
        danvan_store::Db::Sqlite(p) => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'residents' AND sql IS NOT NULL",
        )
        .fetch_all(p)
        .await
        .unwrap(),
        danvan_store::Db::Postgres(p) => sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'residents' AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%citizen_id%'",
        )
        .fetch_all(p)
        .await
        .unwrap(),
    };
    names.sort();
    names
}

/// A first import into an empty registry (where SQLite drops the search
/// indexes while it writes and builds them again at the end) leaves every
/// index in place, also when a bad row deep in the file rolls back rows
/// already written; conflicts with the registry are reported by row.
async fn first_import_keeps_the_search_indexes(b: Backend) {
    use danvan_domain::{TeamKind, UnitLevel};
    use danvan_store::registry::team::NewTeam;
    use danvan_store::registry::unit::NewUnit;
    let db = TestDb::new(b).await;
    let s = &db.store;
    let a = Actor::cli();
    let all = Scope::all();
    let (_, commune, dong, _) = crate::registry::small_tree(s).await;
    let mai_hoang = s
        .create_unit(
            &a,
            &NewUnit {
                parent_id: Some(commune),
                level: UnitLevel::Hamlet,
                name: "Thôn Mai Hoàng".into(),
                code: None,
                valid_from: None,
                valid_to: None,
            },
        )
        .await
        .unwrap();
    for (hamlet, code) in [(mai_hoang, "MH-1"), (dong, "DONG-1")] {
        s.create_team(
            &a,
            &NewTeam {
                hamlet_id: hamlet,
                kind: TeamKind::Team,
                parent_team_id: None,
                code: code.into(),
                name: format!("Tổ dân vận {code}"),
                target_size: None,
            },
        )
        .await
        .unwrap();
    }
    let path = s.unit(&all, commune).await.unwrap().path;
    let empty = s.counts(&path).await.unwrap();
    let expected = vec![
        "residents_given_fold".to_string(),
        "residents_household".to_string(),
        "residents_name_fold".to_string(),
        "residents_phone".to_string(),
    ];
    assert_eq!(resident_indexes(s).await, expected);

    // 1,000 households: the first batches are written before the bad phone
    // on sheet row 2,902 is read; all of it rolls back.
    let bad = [(2900, "NK00966,Lương Thu Sai,2005,Nữ,Con,12345,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Điện thoại thường,".to_string())];
    let f = file(1000, &bad);
    let out = s
        .import_households(&danvan_store::Viewer::cli(), commune, f.path(), false)
        .await
        .unwrap();
    assert!(!out.committed);
    assert_eq!(
        (out.error_count, out.errors[0].row),
        (1, 2902),
        "{:?}",
        out.errors
    );
    assert_eq!(s.counts(&path).await.unwrap(), empty, "nothing was written");
    assert_eq!(resident_indexes(s).await, expected);

    // A clean file, with a citizen id and a team of the household's hamlet.
    let mut good = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(good, "{HEADER}").unwrap();
    writeln!(good, "CC001,Lê Văn Căn,1960,Nam,Chủ hộ,,001060012345,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm Giữa,Không có điện thoại,mh-1").unwrap();
    good.flush().unwrap();
    let out = s
        .import_households(&danvan_store::Viewer::cli(), commune, good.path(), false)
        .await
        .unwrap();
    assert!(out.committed, "{:?}", out.errors);
    let f = file(60, &[]);
    let out = s
        .import_households(&danvan_store::Viewer::cli(), commune, f.path(), false)
        .await
        .unwrap();
    assert!(out.committed, "{:?}", out.errors);
    assert_eq!(resident_indexes(s).await, expected);
    let hit = s.search(&all, "luong van nhap 42", 5).await.unwrap();
    assert_eq!(hit.residents.len(), 1);
    let hit = s.search(&all, "0910000", 50).await.unwrap();
    assert!(!hit.residents.is_empty());
    let hit = s.search(&all, "le van can", 5).await.unwrap();
    let h = s
        .household(&all, hit.residents[0].household_id)
        .await
        .unwrap();
    assert!(h.team_id.is_some(), "the team code was taken");
    let after = s.counts(&path).await.unwrap();
    assert_eq!(after.households, 61);

    // What only the registry knows, named by row and column.
    let mut clash = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(clash, "{HEADER}").unwrap();
    for line in [
        "CC002,Lê Văn Hai,1961,Nam,Chủ hộ,,001060012345,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Không có điện thoại,",
        "CC003,Lê Văn Ba,1962,Nam,Chủ hộ,,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Không có điện thoại,DONG-1",
        "CC004,Lê Văn Bốn,1963,Nam,Chủ hộ,,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Không có điện thoại,KHONG-CO",
        "CC001,Lê Văn Năm,1964,Nam,Chủ hộ,,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Không có điện thoại,",
    ] {
        writeln!(clash, "{line}").unwrap();
    }
    clash.flush().unwrap();
    let out = s
        .import_households(&danvan_store::Viewer::cli(), commune, clash.path(), false)
        .await
        .unwrap();
    assert!(!out.committed);
    let found: Vec<(usize, &str)> = out
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            (2, "Số CCCD"),
            (3, "Tổ dân vận"),
            (4, "Tổ dân vận"),
            (5, "Mã hộ")
        ],
        "{:?}",
        out.errors
    );
    assert!(out.errors[0].message_vi.contains("đã có"));
    assert!(!out.errors[0].value.contains("0012345"), "the id is masked");
    assert!(out.errors[1].message_vi.contains("thôn khác"));
    assert_eq!(s.counts(&path).await.unwrap(), after);
    db.finish().await;
}
both!(first_import_keeps_the_search_indexes);
