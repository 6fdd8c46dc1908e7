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
    let a = Actor::cli();
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
        .import_households(&a, &all, phuc_son, f.path(), false)
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
        .import_households(&a, &all, phuc_son, good.path(), true)
        .await
        .unwrap();
    assert_eq!(
        (out.error_count, out.households, out.rows, out.committed),
        (0, 400, 1200, false)
    );
    assert_eq!(s.counts(&path).await.unwrap(), before);

    // The clean file imports whole, in one go.
    let out = s
        .import_households(&a, &all, phuc_son, good.path(), false)
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
        .import_households(&a, &all, phuc_son, good.path(), false)
        .await
        .unwrap();
    assert!(!out.committed);
    assert!(out.errors.iter().any(|e| e.column == "Mã hộ"));
    assert_eq!(s.counts(&path).await.unwrap(), after);
    assert!(s
        .audit_entries("/", None, 1000)
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
    let a = Actor::cli();
    let all = Scope::all();
    let mai_hoang = unit_id(s, "mai hoang").await;
    let dir = tempfile::tempdir().unwrap();
    for (xlsx, name) in [(false, "x.csv"), (true, "x.xlsx")] {
        let out = dir.path().join(name);
        let rows = s
            .export_households(&a, &all, mai_hoang, &out, xlsx)
            .await
            .unwrap();
        let path = s.unit(&all, mai_hoang).await.unwrap().path;
        assert_eq!(rows as i64, s.counts(&path).await.unwrap().residents);
        // Re-importing the export is refused only because the households exist.
        let report = s
            .import_households(&a, &all, mai_hoang, &out, true)
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
        .import_households(&Actor::cli(), &all, phuc_son, f.path(), false)
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
