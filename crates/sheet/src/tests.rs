use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_xlsxwriter::{Format as CellFormat, Workbook};
use tempfile::TempDir;

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn hamlets() -> HamletIndex {
    HamletIndex::new([
        (1, "Xã An Bình".to_string(), "Thôn 1".to_string()),
        (2, "Xã An Bình".to_string(), "Thôn 2".to_string()),
        (3, "Phường Tân Mai".to_string(), "Tổ dân phố 5".to_string()),
        (4, "Xã Hòa Lạc".to_string(), "Thôn Đông".to_string()),
        (5, "Xã Phú Mỹ".to_string(), "Thôn Đông".to_string()),
    ])
}

const HEADER: &str = "Mã hộ,Họ và tên,Ngày sinh,Giới tính,Quan hệ với chủ hộ,Số điện thoại,Số CCCD,Thôn,Xã,Địa chỉ,Nhận tin qua,Tổ dân vận";

/// A valid household of two: head and spouse.
fn household(code: &str, n: usize) -> String {
    format!(
        "{code},Nguyễn Văn An {n},1980,Nam,Chủ hộ,0912{n:06},{:012},Thôn 1,Xã An Bình,Số {n} ngõ 3,Điện thoại thông minh,T01\n\
         {code},Trần Thị Bình {n},15/03/1985,Nữ,Vợ,,,Thôn 1,,,,\n",
        1_000_000_000 + n
    )
}

fn csv_file(dir: &TempDir, body: &str) -> PathBuf {
    write(dir, "ds.csv", format!("{HEADER}\n{body}").as_bytes())
}

fn open(path: &Path) -> SheetReader {
    SheetReader::open(path, today()).unwrap()
}

fn open_err(path: &Path) -> SheetError {
    SheetReader::open(path, today()).unwrap_err()
}

fn rows(path: &Path) -> Vec<ResidentRow> {
    open(path).map(|r| r.unwrap()).collect()
}

#[test]
fn format_sniffing() {
    assert_eq!(Format::sniff(b"PK\x03\x04rest"), Some(Format::Xlsx));
    assert_eq!(Format::sniff("Mã hộ,Họ tên".as_bytes()), Some(Format::Csv));
    // A sample cut inside a multi-byte character is still text.
    let s = "Mã hộ".as_bytes();
    assert_eq!(Format::sniff(&s[..s.len() - 1]), Some(Format::Csv));
    assert_eq!(Format::sniff(b"M\xe3 h\xf4"), None);
    assert_eq!(Format::sniff(b"\xD0\xCF\x11\xE0\0\0"), None);
    assert_eq!(
        Format::from_extension(Path::new("a/DS.XLSX")),
        Some(Format::Xlsx)
    );
    assert_eq!(
        Format::from_extension(Path::new("ds.csv")),
        Some(Format::Csv)
    );
    assert_eq!(Format::from_extension(Path::new("ds.xls")), None);
}

#[test]
fn reads_a_plain_csv() {
    let dir = TempDir::new().unwrap();
    let path = csv_file(&dir, &household("H001", 1));
    let reader = open(&path);
    assert_eq!(reader.format(), Format::Csv);
    assert_eq!(reader.header_row(), 1);
    let rows: Vec<_> = reader.map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let head = &rows[0];
    assert_eq!(head.row, 2);
    assert_eq!(head.household_code, "H001");
    assert_eq!(head.name.full(), "Nguyễn Văn An 1");
    assert!(head.is_head);
    assert_eq!(head.phone.as_ref().unwrap().as_str(), "+84912000001");
    assert_eq!(head.citizen_id.as_ref().unwrap().as_str(), "001000000001");
    assert_eq!(head.hamlet, "Thôn 1");
    assert_eq!(head.commune.as_deref(), Some("Xã An Bình"));
    assert_eq!(head.address, "Số 1 ngõ 3");
    assert!(head.reach.is_some());
    assert_eq!(head.team_code.as_deref(), Some("T01"));
    let spouse = &rows[1];
    assert_eq!(spouse.row, 3);
    assert!(!spouse.is_head);
    assert!(spouse.birth.is_some());
    assert!(spouse.phone.is_none() && spouse.citizen_id.is_none() && spouse.commune.is_none());
    assert_eq!(spouse.address, "");
}

#[test]
fn header_aliases_folding_and_extra_columns() {
    let dir = TempDir::new().unwrap();
    // Any order, aliases, capitals, missing diacritics, NFD, an extra column.
    let nfd_thon = "Tho\u{302}n / To\u{302}\u{309} da\u{302}n pho\u{301}";
    let text = format!(
        "STT,{nfd_thon},QUAN HỆ,ho ten,MA HO,Năm sinh,SĐT,Số định danh,Ghi chú\n\
         1,Thôn 2,Chủ hộ,Lê Văn Cường,H9,1970,0987654321,001070000009,ghi chú\n"
    );
    let path = write(&dir, "alias.csv", text.as_bytes());
    let rows = rows(&path);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.household_code, "H9");
    assert_eq!(r.hamlet, "Thôn 2");
    assert_eq!(r.name.full(), "Lê Văn Cường");
    assert!(r.is_head);
    assert!(r.phone.is_some() && r.citizen_id.is_some() && r.birth.is_some());
}

#[test]
fn semicolon_csv_with_bom() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "\u{feff}{}\n{}",
        HEADER.replace(',', ";"),
        household("H1", 7).replace(',', ";")
    );
    let path = write(&dir, "semi.csv", text.as_bytes());
    let rows = rows(&path);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].household_code, "H1");
    assert_eq!(rows[1].name.full(), "Trần Thị Bình 7");
}

#[test]
fn legacy_encodings_are_refused() {
    let dir = TempDir::new().unwrap();
    let text = format!("{HEADER}\n{}", household("H1", 1));
    let (cp1258, _, _) = encoding_rs::WINDOWS_1258.encode(&text);
    let path = write(&dir, "cp1258.csv", &cp1258);
    assert!(matches!(open_err(&path), SheetError::WrongEncoding));
    let latin1 = write(&dir, "latin1.csv", b"M\xe3 h\xf4,H\xf4 t\xean\nH1,An\n");
    let err = open_err(&latin1);
    assert!(matches!(err, SheetError::WrongEncoding));
    assert_eq!(
        err.to_string(),
        "Tệp không phải mã UTF-8. Hãy lưu lại dưới dạng CSV UTF-8 hoặc XLSX."
    );
    let old_xls = write(&dir, "old.xls", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0");
    assert!(matches!(open_err(&old_xls), SheetError::NotASpreadsheet));
}

#[test]
fn empty_files_are_refused() {
    let dir = TempDir::new().unwrap();
    for (name, body) in [
        ("zero.csv", ""),
        ("bom.csv", "\u{feff}"),
        ("blank.csv", "\n\n ,, \n"),
        ("header.csv", &format!("{HEADER}\n,,,\n")),
    ] {
        let path = write(&dir, name, body.as_bytes());
        assert!(matches!(open_err(&path), SheetError::Empty), "{name}");
    }
    let path = dir.path().join("empty.xlsx");
    let mut book = Workbook::new();
    book.add_worksheet();
    book.save(&path).unwrap();
    assert!(matches!(open_err(&path), SheetError::Empty));
}

#[test]
fn missing_columns_are_named() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "m.csv", "Họ và tên,Quan hệ\nAn,Chủ hộ\n".as_bytes());
    let err = open_err(&path);
    match &err {
        SheetError::MissingColumns(cols) => assert_eq!(cols, &["Mã hộ", "Thôn"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "Thiếu cột bắt buộc: Mã hộ, Thôn");
    assert_eq!(err.message_en(), "Missing required columns: Mã hộ, Thôn");
}

#[test]
fn bad_cells_deep_in_the_file_are_reported_by_row_and_column() {
    let dir = TempDir::new().unwrap();
    let mut body = String::new();
    for n in 0..2500 {
        body.push_str(&household(&format!("H{n}"), n));
    }
    // Data row 5001, below the header: spreadsheet row 5002.
    body.push_str("HX,Phạm Văn Dũng,31/02/1990,abc,Chủ hộ,12345,,Thôn 1,,,,\n");
    let path = csv_file(&dir, &body);
    let report = validate(open(&path), &hamlets());
    assert_eq!(report.rows, 5001);
    assert_eq!(report.households, 2501);
    assert_eq!(report.error_count, 3, "{:#?}", report.errors);
    let columns: Vec<_> = report.errors.iter().map(|e| e.column.as_str()).collect();
    assert_eq!(columns, ["Ngày sinh", "Giới tính", "Số điện thoại"]);
    assert!(report.errors.iter().all(|e| e.row == 5002));
    assert_eq!(report.errors[2].value, "12345");
    assert!(report
        .errors
        .iter()
        .all(|e| !e.message_vi.is_empty() && !e.message_en.is_empty()));

    let bad: Vec<_> = open(&path).filter_map(Result::err).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].len(), 3);
}

#[test]
fn required_cells_and_blank_rows() {
    let dir = TempDir::new().unwrap();
    let body = format!(
        "{}\n,,,,,,,,,,,\n,,1990,,Con,,,Thôn 1,,,,\n",
        household("H1", 1)
    );
    let path = csv_file(&dir, &body);
    let items: Vec<_> = open(&path).collect();
    assert_eq!(items.len(), 3, "blank rows are skipped");
    let errors = items[2].as_ref().unwrap_err();
    assert!(errors.iter().all(|e| e.row == 6));
    let columns: Vec<_> = errors.iter().map(|e| e.column.as_str()).collect();
    assert_eq!(columns, ["Mã hộ", "Họ và tên"]);
}

#[test]
fn duplicate_citizen_id_names_the_earlier_row() {
    let dir = TempDir::new().unwrap();
    let body = format!(
        "{}H2,Đỗ Văn Em,1990,Nam,Chủ hộ,,001000000001,Thôn 1,,,,\n",
        household("H1", 1)
    );
    let path = csv_file(&dir, &body);
    let report = validate(open(&path), &hamlets());
    assert_eq!(report.error_count, 1, "{:#?}", report.errors);
    let e = &report.errors[0];
    assert_eq!((e.row, e.column.as_str()), (4, "Số CCCD"));
    assert!(e.message_vi.contains("dòng 2"), "{}", e.message_vi);
    assert_eq!(e.value, "********0001");
}

#[test]
fn masked_citizen_ids_count_as_absent() {
    let dir = TempDir::new().unwrap();
    let body = "H1,An,1990,Nam,Chủ hộ,,********0001,Thôn 1,,,,\n\
                H2,Bình,1990,Nam,Chủ hộ,,********0001,Thôn 1,,,,\n";
    let path = csv_file(&dir, body);
    let report = validate(open(&path), &hamlets());
    assert_eq!(report.error_count, 0, "{:#?}", report.errors);
    assert!(rows(&path).iter().all(|r| r.citizen_id.is_none()));
}

#[test]
fn bad_citizen_id_value_is_masked() {
    let dir = TempDir::new().unwrap();
    let path = csv_file(&dir, "H1,An,1990,Nam,Chủ hộ,,0010000000,Thôn 1,,,,\n");
    let errors = open(&path).next().unwrap().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].value, "******0000");
}

#[test]
fn unknown_and_ambiguous_hamlets() {
    let dir = TempDir::new().unwrap();
    let body = "H1,An,1990,Nam,Chủ hộ,,,Thôn 9,,,,\n\
                H2,Bình,1990,Nam,Chủ hộ,,,Thôn Đông,,,,\n\
                H3,Cúc,1990,Nữ,Chủ hộ,,,thon dong,Phú Mỹ,,,\n\
                H4,Dung,1990,Nữ,Chủ hộ,,,  THÔN ĐÔNG ,Xã Hòa Lạc,,,\n\
                H5,Em,1990,Nữ,Chủ hộ,,,5,Phường Tân Mai,,,\n";
    let path = csv_file(&dir, body);
    let report = validate(open(&path), &hamlets());
    assert_eq!(report.error_count, 2, "{:#?}", report.errors);
    let e = &report.errors[0];
    assert_eq!((e.row, e.column.as_str()), (2, "Thôn"));
    assert_eq!(
        e.message_vi,
        "Không tìm thấy thôn «Thôn 9» trong đơn vị đã chọn"
    );
    let e = &report.errors[1];
    assert_eq!(e.row, 3);
    assert_eq!(
        e.message_vi,
        "Có nhiều thôn tên «Thôn Đông»; hãy ghi thêm cột Xã"
    );

    let index = hamlets();
    assert_eq!(index.resolve(Some("Phú Mỹ"), "Thôn Đông"), Ok(5));
    assert_eq!(index.resolve(Some("xa hoa lac"), "thôn đông"), Ok(4));
    assert_eq!(index.resolve(None, "Thon 2"), Ok(2));
    assert_eq!(index.resolve(Some("Thị trấn Phú Mỹ"), "Đông"), Ok(5));
    assert!(index.resolve(Some("Xã Khác"), "Thôn 1").is_err());
}

#[test]
fn households_need_exactly_one_head_and_one_hamlet() {
    let dir = TempDir::new().unwrap();
    let body = "H1,An,1990,Nam,Vợ,,,Thôn 1,,,,\n\
                H1,Bình,2010,Nam,Con,,,Thôn 1,,,,\n\
                H2,Cúc,1960,Nữ,Chủ hộ,,,Thôn 1,,,,\n\
                H2,Dũng,1962,Nam,Chủ hộ,,,Thôn 1,,,,\n\
                H3,Em,1970,Nam,Chủ hộ,,,Thôn 1,,,,\n\
                H3,Giang,1972,Nữ,Vợ,,,Thôn 2,,,,\n";
    let path = csv_file(&dir, body);
    let report = validate(open(&path), &hamlets());
    assert_eq!(report.households, 3);
    assert_eq!(report.error_count, 3, "{:#?}", report.errors);
    let e = &report.errors[0];
    assert_eq!(
        (e.row, e.column.as_str(), e.value.as_str()),
        (2, "Quan hệ với chủ hộ", "H1")
    );
    assert!(e.message_vi.contains("không có"), "{}", e.message_vi);
    let e = &report.errors[1];
    assert_eq!(e.row, 4);
    assert!(e.message_vi.contains("2 dòng"), "{}", e.message_vi);
    let e = &report.errors[2];
    assert_eq!((e.row, e.column.as_str()), (7, "Thôn"));
    assert!(e.message_vi.contains("dòng 6"), "{}", e.message_vi);
}

#[test]
fn very_long_name_is_refused_and_truncated() {
    let dir = TempDir::new().unwrap();
    let name = "Nguyễn ".repeat(1430);
    let path = csv_file(&dir, &format!("H1,{name},1990,Nam,Chủ hộ,,,Thôn 1,,,,\n"));
    let report = validate(open(&path), &hamlets());
    assert_eq!(report.error_count, 1, "{:#?}", report.errors);
    let e = &report.errors[0];
    assert_eq!(e.column, "Họ và tên");
    assert!(e.value.chars().count() <= 60);
    assert!(e.message_vi.contains("100"), "{}", e.message_vi);
}

#[test]
fn multiline_fields_and_title_rows_keep_spreadsheet_row_numbers() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "DANH SÁCH HỘ GIA ĐÌNH\n\n{HEADER}\n\
         H1,An,1990,Nam,Chủ hộ,,,Thôn 1,,\"Số 3\nngõ 5\",,\n\
         \n\
         H1,Bình,1990,Nữ,Vợ,,,Thôn 1,,,Bồ câu,\n"
    );
    let path = write(&dir, "title.csv", text.as_bytes());
    let reader = open(&path);
    assert_eq!(reader.header_row(), 3);
    let items: Vec<_> = reader.collect();
    assert_eq!(items.len(), 2);
    let first = items[0].as_ref().unwrap();
    assert_eq!(first.row, 4);
    // A line break typed inside a cell (Alt+Enter) becomes a space.
    assert_eq!(first.address, "Số 3 ngõ 5");
    let errors = items[1].as_ref().unwrap_err();
    assert_eq!(
        (errors[0].row, errors[0].column.as_str()),
        (6, "Nhận tin qua")
    );
}

#[test]
fn error_list_is_capped_but_counted() {
    let dir = TempDir::new().unwrap();
    let mut body = String::new();
    for n in 0..1500 {
        body.push_str(&format!("H{n},An,1990,Nam,Chủ hộ,999,,Thôn 1,,,,\n"));
    }
    let path = csv_file(&dir, &body);
    let report = validate(open(&path), &hamlets());
    assert_eq!(report.error_count, 1500);
    assert_eq!(report.errors.len(), MAX_LISTED_ERRORS);
    assert!(report.errors.windows(2).all(|w| w[0].row < w[1].row));
    assert_eq!(report.errors[0].row, 2);
}

#[test]
fn too_many_rows() {
    let dir = TempDir::new().unwrap();
    let path = csv_file(&dir, &(household("H1", 1) + &household("H2", 2)));
    let items: Vec<_> = SheetReader::open_with_limit(&path, today(), 3)
        .unwrap()
        .collect();
    assert_eq!(items.len(), 4);
    let errors = items[3].as_ref().unwrap_err();
    assert!(errors[0].message_vi.contains("hơn 3 dòng"), "{:?}", errors);
}

fn sample_export() -> Vec<ExportRow> {
    vec![
        ExportRow {
            household_code: "007".into(),
            full_name: "Nguyễn Thị Ánh Tuyết".into(),
            birth: "05/01/1961".into(),
            gender: "Nữ".into(),
            relation: "Chủ hộ".into(),
            phone: "0912345678".into(),
            citizen_id_masked: "********1234".into(),
            hamlet: "Thôn 1".into(),
            commune: "Xã An Bình".into(),
            address: "Xóm Giữa, số 12".into(),
            reach: "Điện thoại thông minh".into(),
            team_code: "T-01".into(),
        },
        ExportRow {
            household_code: "007".into(),
            full_name: "Đặng Văn Út".into(),
            birth: "1988".into(),
            gender: "Nam".into(),
            relation: "Con".into(),
            phone: "+84 98 765 4321".into(),
            citizen_id_masked: String::new(),
            hamlet: "Thôn 1".into(),
            commune: "Xã An Bình".into(),
            address: "=HYPERLINK(\"x\")".into(),
            reach: "Không có điện thoại".into(),
            team_code: String::new(),
        },
    ]
}

fn check_round_trip(path: &Path) {
    let report = validate(open(path), &hamlets());
    assert_eq!((report.rows, report.households), (2, 1));
    assert_eq!(report.error_count, 0, "{:#?}", report.errors);
    let rows = rows(path);
    let expected = sample_export();
    for (row, exp) in rows.iter().zip(&expected) {
        assert_eq!(row.household_code, exp.household_code);
        assert_eq!(row.name.full(), exp.full_name);
        assert_eq!(row.birth.as_ref().unwrap().display(), exp.birth);
        assert_eq!(row.gender.as_ref().unwrap().label_vi(), exp.gender);
        assert_eq!(row.relation, exp.relation);
        assert_eq!(row.reach.as_ref().unwrap().label_vi(), exp.reach);
        assert_eq!(row.address, exp.address);
        assert_eq!(row.hamlet, exp.hamlet);
        assert_eq!(row.commune.as_deref(), Some(exp.commune.as_str()));
        assert!(row.citizen_id.is_none());
    }
    assert_eq!(rows[0].phone.as_ref().unwrap().as_str(), "+84912345678");
    assert_eq!(rows[1].phone.as_ref().unwrap().as_str(), "+84987654321");
    assert_eq!(rows[0].team_code.as_deref(), Some("T-01"));
    assert!(rows[0].is_head && !rows[1].is_head);
}

#[test]
fn csv_round_trip() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("export.csv");
    let mut out = Vec::new();
    write_csv(sample_export().into_iter(), &mut out).unwrap();
    assert!(out.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&out[3..]).unwrap();
    assert!(text.starts_with(&HEADERS.join(",")));
    assert!(text.contains("'=HYPERLINK"), "formula text is defused");
    std::fs::write(&path, &out).unwrap();
    check_round_trip(&path);
}

#[test]
fn xlsx_round_trip() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("export.xlsx");
    write_xlsx(sample_export().into_iter(), &path).unwrap();
    let reader = open(&path);
    assert_eq!(reader.format(), Format::Xlsx);
    check_round_trip(&path);
}

#[test]
fn xlsx_typed_cells_formulas_and_merged_ranges() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("typed.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = CellFormat::new().set_num_format("dd/mm/yyyy");
    let plain = CellFormat::new();
    // A title row merged across, then the header on row 2.
    sheet
        .merge_range(0, 0, 0, 5, "DANH SÁCH HỘ", &plain)
        .unwrap();
    for (c, h) in [
        "STT",
        "Mã hộ",
        "Họ và tên",
        "Ngày sinh",
        "Quan hệ",
        "SĐT",
        "CCCD",
        "Thôn",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    // Row 3: numbers for code, year, phone without its 0, id without its 0.
    sheet.write_formula(2, 0, "=ROW()-2").unwrap();
    sheet.write_number(2, 1, 101).unwrap();
    sheet.write_string(2, 2, "Vũ Văn Hải").unwrap();
    sheet.write_number(2, 3, 1975).unwrap();
    sheet.write_string(2, 4, "Chủ hộ").unwrap();
    sheet.write_number(2, 5, 912345678).unwrap();
    sheet.write_number(2, 6, 1075000123.0).unwrap();
    sheet.write_string(2, 7, "Thôn 1").unwrap();
    // Row 4: a real date cell; the name is a formula.
    sheet.write_number(3, 1, 101).unwrap();
    sheet.write_formula(3, 2, "=\"Vũ Thị \"&\"Lan\"").unwrap();
    let born = rust_xlsxwriter::ExcelDateTime::from_ymd(1980, 2, 29).unwrap();
    sheet.write_date_with_format(3, 3, &born, &date).unwrap();
    sheet.write_string(3, 4, "Vợ").unwrap();
    sheet.write_string(3, 7, "Thôn 1").unwrap();
    // Rows 5–6: the household code merged down over two people.
    sheet.merge_range(4, 1, 5, 1, "102", &plain).unwrap();
    sheet.write_string(4, 2, "Lý Văn Minh").unwrap();
    sheet.write_string(4, 4, "Chủ hộ").unwrap();
    sheet.write_string(4, 7, "Thôn 2").unwrap();
    sheet.write_string(5, 2, "Lý Thị Nga").unwrap();
    sheet.write_string(5, 4, "Con").unwrap();
    sheet.write_string(5, 7, "Thôn 2").unwrap();
    book.save(&path).unwrap();

    let reader = open(&path);
    assert_eq!(reader.header_row(), 2);
    let items: Vec<_> = reader.collect();
    assert_eq!(items.len(), 4, "{items:#?}");
    let first = items[0].as_ref().unwrap();
    assert_eq!(first.row, 3);
    assert_eq!(first.household_code, "101");
    assert_eq!(first.birth.as_ref().unwrap().display(), "1975");
    assert_eq!(first.phone.as_ref().unwrap().as_str(), "+84912345678");
    assert_eq!(first.citizen_id.as_ref().unwrap().as_str(), "001075000123");

    let report = validate(open(&path), &hamlets());
    let summary: Vec<_> = report
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str(), e.message_vi.as_str()))
        .collect();
    assert_eq!(report.error_count, 3, "{summary:#?}");
    assert_eq!(
        summary[0],
        (4, "Họ và tên", "Ô có công thức; hãy dán giá trị")
    );
    assert_eq!(summary[1].0, 5);
    assert_eq!(summary[1].1, "Mã hộ");
    assert!(
        summary[1].2.starts_with("Ô gộp B5:B6 không được phép"),
        "{}",
        summary[1].2
    );
    // Row 6 has no household code: the merged cell left it empty.
    assert_eq!((summary[2].0, summary[2].1), (6, "Mã hộ"));
}

#[test]
fn xlsx_date_cells_become_birth_dates() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("dates.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = CellFormat::new().set_num_format("dd/mm/yyyy");
    for (c, h) in ["Mã hộ", "Họ và tên", "Ngày sinh", "Quan hệ", "Thôn"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "H1").unwrap();
    sheet.write_string(1, 1, "Hồ Văn Tư").unwrap();
    let born = rust_xlsxwriter::ExcelDateTime::from_ymd(1980, 2, 29).unwrap();
    sheet.write_date_with_format(1, 2, &born, &date).unwrap();
    sheet.write_string(1, 3, "Chủ hộ").unwrap();
    sheet.write_string(1, 4, "Thôn 1").unwrap();
    book.save(&path).unwrap();
    let rows = rows(&path);
    assert_eq!(rows[0].birth.as_ref().unwrap().display(), "29/02/1980");
}

#[test]
fn non_spreadsheet_zip_is_an_xlsx_error() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "fake.xlsx", b"PK\x03\x04 not really a zip");
    assert!(matches!(open_err(&path), SheetError::Xlsx(_)));
}

#[test]
fn crlf_and_blank_lines_keep_row_numbers() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "{HEADER}\r\n{}\r\n\r\nH2,\"Lý \"\"Út\"\"\",1990,Nam,Chủ hộ,abc,,Thôn 1,,,,\r\n",
        household("H1", 1).replace('\n', "\r\n")
    );
    let path = write(&dir, "crlf.csv", text.as_bytes());
    let items: Vec<_> = open(&path).collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].as_ref().unwrap().row, 3);
    let errors = items[2].as_ref().unwrap_err();
    assert_eq!(
        (errors[0].row, errors[0].column.as_str()),
        (6, "Số điện thoại")
    );
}

#[test]
fn unclosed_quote_ends_the_file_with_an_error() {
    let dir = TempDir::new().unwrap();
    let body = format!("{}H2,\"Lý Út,1990\n", household("H1", 1));
    let path = csv_file(&dir, &body);
    let items: Vec<_> = open(&path).collect();
    // The rest of the file is one unterminated field: reported, not lost silently.
    assert_eq!(items.len(), 3);
    assert!(items[2].is_err());
}

/// Province scale: `cargo test -p danvan-sheet --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn province_sized_csv_streams() {
    use std::io::Write;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("province.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    for n in 0..900_000 {
        out.write_all(household(&format!("H{n:07}"), n).as_bytes())
            .unwrap();
    }
    drop(out);
    let size = std::fs::metadata(&path).unwrap().len();
    let started = std::time::Instant::now();
    let report = validate(open(&path), &hamlets());
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    println!(
        "{} MB, {} rows, {} households, {} errors in {:?}; {peak}",
        size / 1_000_000,
        report.rows,
        report.households,
        report.error_count,
        started.elapsed()
    );
    assert_eq!(report.rows, 1_800_000);
    assert_eq!(report.error_count, 0);
}

#[test]
#[ignore]
fn large_xlsx_streams() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("big.xlsx");
    let rows = (0..300_000).map(|n| ExportRow {
        household_code: format!("H{}", n / 3),
        full_name: format!("Nguyễn Văn {n}"),
        birth: "1980".into(),
        relation: if n % 3 == 0 { "Chủ hộ" } else { "Con" }.into(),
        hamlet: "Thôn 1".into(),
        ..ExportRow::default()
    });
    let started = std::time::Instant::now();
    write_xlsx(rows, &path).unwrap();
    let written = started.elapsed();
    let report = validate(open(&path), &hamlets());
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    println!(
        "written in {written:?}, validated {} rows in {:?}; {peak}",
        report.rows,
        started.elapsed() - written
    );
    assert_eq!(report.error_count, 0, "{:?}", report.errors.first());
}

#[test]
fn names_that_fold_alike_are_told_apart_by_their_diacritics() {
    let index = HamletIndex::new([
        (1, "Xã Đức Đông".to_string(), "Thôn Hòa".to_string()),
        (2, "Xã Đức Đồng".to_string(), "Thôn Hòa".to_string()),
        (3, "Xã Đức Đồng".to_string(), "Thôn Hóa".to_string()),
    ]);
    assert_eq!(index.resolve(Some("Xã Đức Đông"), "Thôn Hòa"), Ok(1));
    assert_eq!(index.resolve(Some("Đức Đồng"), "thôn hòa"), Ok(2));
    assert_eq!(index.resolve(Some("Xã Đức Đồng"), "Thôn Hóa"), Ok(3));
    // Typed without diacritics it stays ambiguous, and says so.
    assert!(index
        .resolve(Some("xa duc dong"), "thon hoa")
        .unwrap_err()
        .contains("nhiều thôn"));
}

// XLSX zip bombs (`unpack`).

const MIB: u64 = 1024 * 1024;

/// Writes a minimal XLSX by hand: a header row (shared strings), the rows of
/// `household("H1", 1)` (inline strings), and, after the header texts,
/// `filler` bytes of repeated text as one more shared string, streamed
/// through deflate so a bomb costs the test little memory.
fn handmade_xlsx(dir: &TempDir, name: &str, filler: u64, extra_parts: &[(&str, u64)]) -> PathBuf {
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const PKG: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    let path = dir.path().join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let part = |zip: &mut zip::ZipWriter<std::fs::File>, name: &str, body: &str| {
        zip.start_file(name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    };
    part(
        &mut zip,
        "[Content_Types].xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
         <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
         <Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>\
         </Types>",
    );
    part(
        &mut zip,
        "_rels/.rels",
        &format!(
            "<Relationships xmlns=\"{PKG}\"><Relationship Id=\"rId1\" \
             Type=\"{REL}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
        ),
    );
    part(
        &mut zip,
        "xl/workbook.xml",
        &format!(
            "<workbook xmlns=\"{MAIN}\" xmlns:r=\"{REL}\"><sheets>\
             <sheet name=\"Danh sách hộ\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
        ),
    );
    part(
        &mut zip,
        "xl/_rels/workbook.xml.rels",
        &format!(
            "<Relationships xmlns=\"{PKG}\">\
             <Relationship Id=\"rId1\" Type=\"{REL}/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
             <Relationship Id=\"rId2\" Type=\"{REL}/sharedStrings\" Target=\"sharedStrings.xml\"/>\
             </Relationships>"
        ),
    );
    let mut sheet = format!("<worksheet xmlns=\"{MAIN}\"><sheetData><row r=\"1\">");
    for (c, _) in HEADERS.iter().enumerate() {
        let col = crate::columns::column_letters(c);
        sheet.push_str(&format!("<c r=\"{col}1\" t=\"s\"><v>{c}</v></c>"));
    }
    sheet.push_str("</row>");
    for (r, line) in household("H1", 1).lines().enumerate() {
        let r = r + 2;
        sheet.push_str(&format!("<row r=\"{r}\">"));
        for (c, value) in line.split(',').enumerate() {
            let col = crate::columns::column_letters(c);
            sheet.push_str(&format!(
                "<c r=\"{col}{r}\" t=\"inlineStr\"><is><t>{value}</t></is></c>"
            ));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    part(&mut zip, "xl/worksheets/sheet1.xml", &sheet);

    zip.start_file("xl/sharedStrings.xml", options).unwrap();
    write!(zip, "<sst xmlns=\"{MAIN}\">").unwrap();
    for h in HEADERS {
        write!(zip, "<si><t>{h}</t></si>").unwrap();
    }
    if filler > 0 {
        zip.write_all(b"<si><t>").unwrap();
        write_filler(&mut zip, filler);
        zip.write_all(b"</t></si>").unwrap();
    }
    zip.write_all(b"</sst>").unwrap();
    for (name, size) in extra_parts {
        zip.start_file(*name, options).unwrap();
        write_filler(&mut zip, *size);
    }
    zip.finish().unwrap();
    path
}

/// `size` bytes of repeated text, written a mebibyte at a time.
fn write_filler(out: &mut impl std::io::Write, size: u64) {
    let chunk = "Nguyễn Văn An ".repeat(MIB as usize / 16);
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk.as_bytes()[..n]).unwrap();
        left -= n as u64;
    }
}

/// Makes `part` declare `size` unpacked bytes, in its local header and in
/// the central directory, as a crafted bomb would.
fn lie_about_size(path: &Path, part: &str, size: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut patched = 0;
    // (signature, offset of the unpacked size, of the name length, of the name)
    for (signature, size_at, name_len_at, name_at) in
        [(b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)]
    {
        let starts: Vec<usize> = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == signature)
            .map(|(i, _)| i)
            .collect();
        for at in starts {
            let len_bytes = [bytes[at + name_len_at], bytes[at + name_len_at + 1]];
            let len = u16::from_le_bytes(len_bytes) as usize;
            if bytes.get(at + name_at..at + name_at + len) == Some(part.as_bytes()) {
                bytes[at + size_at..at + size_at + 4].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
    }
    assert_eq!(patched, 2, "local header and central directory of {part}");
    std::fs::write(path, bytes).unwrap();
}

fn unpack_error(e: SheetError) -> UnpackLimit {
    match e {
        SheetError::TooLargeUnpacked(limit) => limit,
        other => panic!("expected TooLargeUnpacked, got {other:?}"),
    }
}

#[test]
fn normal_workbooks_pass_the_unpack_check() {
    let dir = TempDir::new().unwrap();
    // The bombs below are built like this, so they are refused for their size alone.
    let path = handmade_xlsx(&dir, "ok.xlsx", MIB / 2, &[]);
    unpack::check(&path).unwrap();
    let rows = rows(&path);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].name.full(), "Nguyễn Văn An 1");
    assert_eq!(rows[1].relation, "Vợ");

    // A workbook as Excel writes one (shared strings), every text distinct:
    // parts of several mebibytes, packing 7-10 times.
    let path = dir.path().join("shared.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for n in 1..=20_000u32 {
        let values = [
            format!("HGD-{:05}", n / 4),
            format!("Nguyễn Thị Ánh Tuyết {n}"),
            format!("{:02}/{:02}/19{:02}", n % 28 + 1, n % 12 + 1, n % 90 + 10),
            if n % 2 == 0 { "Nữ" } else { "Nam" }.to_string(),
            if n % 4 == 1 { "Chủ hộ" } else { "Con" }.to_string(),
            format!("09{:08}", n * 7919 % 100_000_000),
            format!("0012{:08}", n * 104_729 % 100_000_000),
            format!("Thôn {}", n % 3 + 1),
            "Xã An Bình".to_string(),
            format!("Xóm Giữa, số {}, ngõ {} đường Lê Lợi", n % 300, n % 17),
            "Điện thoại thông minh".to_string(),
            String::new(),
        ];
        for (c, v) in values.iter().enumerate() {
            sheet.write_string(n, c as u16, v).unwrap();
        }
    }
    book.save(&path).unwrap();
    unpack::check(&path).unwrap();
    assert_eq!(open(&path).header_row(), 1);
}

#[test]
fn xlsx_zip_bomb_is_refused_before_calamine_reads_it() {
    let dir = TempDir::new().unwrap();
    // 200 MB of shared strings packed into a few hundred kilobytes.
    let path = handmade_xlsx(&dir, "bomb.xlsx", 200 * MIB, &[]);
    assert!(std::fs::metadata(&path).unwrap().len() < 2 * MIB);
    let e = open_err(&path);
    assert!(
        e.message_vi().starts_with("Tệp quá lớn khi giải nén"),
        "{}",
        e.message_vi()
    );
    assert!(e
        .message_en()
        .starts_with("The file is too large when unpacked"));
    assert_eq!(
        unpack_error(e),
        UnpackLimit::Part {
            name: "xl/sharedStrings.xml".into(),
            max_bytes: unpack::MAX_PART_BYTES,
        }
    );
}

#[test]
fn xlsx_zip_bomb_lying_about_its_size_is_refused_while_unpacking() {
    let dir = TempDir::new().unwrap();
    let path = handmade_xlsx(&dir, "liar.xlsx", 100 * MIB, &[]);
    lie_about_size(&path, "xl/sharedStrings.xml", 1000);
    // The central directory now looks harmless; unpacking stops at 100 times
    // the packed size, long before the 100 MB.
    assert_eq!(
        unpack_error(open_err(&path)),
        UnpackLimit::Ratio {
            name: "xl/sharedStrings.xml".into(),
            max: unpack::MAX_RATIO,
        }
    );
}

#[test]
fn unpack_limits_on_parts_worksheets_and_total() {
    let dir = TempDir::new().unwrap();
    let limits = unpack::Limits {
        worksheet: 4 * MIB,
        part: 2 * MIB,
        total: 6 * MIB,
        parts: 20,
        ratio: u64::MAX,
        ratio_grace: 0,
    };
    let check = |path: &Path| unpack_error(unpack::check_with(path, &limits).unwrap_err());
    let part = |name: &str, max_bytes: u64| UnpackLimit::Part {
        name: name.into(),
        max_bytes,
    };

    // Shared strings over their limit, declared honestly, then lying.
    let path = handmade_xlsx(&dir, "strings.xlsx", 3 * MIB, &[]);
    assert_eq!(check(&path), part("xl/sharedStrings.xml", 2 * MIB));
    lie_about_size(&path, "xl/sharedStrings.xml", 1000);
    assert_eq!(check(&path), part("xl/sharedStrings.xml", 2 * MIB));

    // A worksheet may be larger than other parts, not without bound.
    let path = handmade_xlsx(
        &dir,
        "sheets.xlsx",
        0,
        &[("xl/worksheets/sheet2.xml", 3 * MIB)],
    );
    unpack::check_with(&path, &limits).unwrap();
    let path = handmade_xlsx(
        &dir,
        "sheet.xlsx",
        0,
        &[("xl/worksheets/sheet2.xml", 5 * MIB)],
    );
    assert_eq!(check(&path), part("xl/worksheets/sheet2.xml", 4 * MIB));
    lie_about_size(&path, "xl/worksheets/sheet2.xml", 1000);
    assert_eq!(check(&path), part("xl/worksheets/sheet2.xml", 4 * MIB));

    // Parts each within their limit, too many bytes together.
    let extra = [
        ("xl/worksheets/sheet2.xml", 3 * MIB),
        ("xl/worksheets/sheet3.xml", 3 * MIB),
    ];
    let path = handmade_xlsx(&dir, "total.xlsx", 0, &extra);
    let total = UnpackLimit::Total { max_bytes: 6 * MIB };
    assert_eq!(check(&path), total);
    lie_about_size(&path, "xl/worksheets/sheet2.xml", 1000);
    lie_about_size(&path, "xl/worksheets/sheet3.xml", 1000);
    assert_eq!(check(&path), total);
}

#[test]
fn xlsx_with_too_many_parts_is_refused() {
    let dir = TempDir::new().unwrap();
    let names: Vec<String> = (0..unpack::MAX_PARTS)
        .map(|i| format!("xl/media/image{i}.png"))
        .collect();
    let extra: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    let path = handmade_xlsx(&dir, "parts.xlsx", 0, &extra);
    assert_eq!(
        unpack_error(open_err(&path)),
        UnpackLimit::Parts {
            max: unpack::MAX_PARTS
        }
    );
}
