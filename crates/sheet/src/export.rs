//! Writing household lists in the layout [`crate::SheetReader`] reads back.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};

use crate::{SheetError, HEADERS};

/// Data rows one XLSX worksheet holds (1,048,576 rows less the header).
pub const XLSX_MAX_ROWS: usize = 1_048_575;

/// One resident as exported; every field is display text.
#[derive(Debug, Clone, Default)]
pub struct ExportRow {
    pub household_code: String,
    pub full_name: String,
    pub birth: String,
    pub gender: String,
    pub relation: String,
    pub phone: String,
    pub citizen_id_masked: String,
    pub hamlet: String,
    pub commune: String,
    pub address: String,
    pub reach: String,
    pub team_code: String,
}

impl ExportRow {
    /// The cells in [`HEADERS`] order.
    fn cells(&self) -> [&str; 12] {
        [
            &self.household_code,
            &self.full_name,
            &self.birth,
            &self.gender,
            &self.relation,
            &self.phone,
            &self.citizen_id_masked,
            &self.hamlet,
            &self.commune,
            &self.address,
            &self.reach,
            &self.team_code,
        ]
    }
}

/// Writes CSV: UTF-8 with a BOM, which Excel needs to show Vietnamese right.
pub fn write_csv<W: Write>(
    rows: impl Iterator<Item = ExportRow>,
    mut out: W,
) -> Result<(), SheetError> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(HEADERS).map_err(csv_error)?;
    for row in rows {
        let cells = row.cells().map(defuse);
        csv.write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(csv_error)?;
    }
    csv.flush()?;
    Ok(())
}

/// Spreadsheet programs run a cell starting with = + - @ as a formula (CSV
/// injection); an apostrophe keeps it text. The reader strips it again.
/// Phone numbers in E.164 ("+84…") are left alone: digits cannot run code.
fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@'])
        && !(cell.starts_with('+') && cell[1..].bytes().all(|b| b.is_ascii_digit() || b == b' '));
    if risky {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn csv_error(e: csv::Error) -> SheetError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => SheetError::Io(e),
        other => SheetError::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

/// Column widths in characters, in [`HEADERS`] order.
const WIDTHS: [f64; 12] = [
    12.0, 28.0, 12.0, 9.0, 18.0, 15.0, 15.0, 20.0, 20.0, 30.0, 24.0, 12.0,
];

/// Writes the first worksheet of an XLSX file, streaming rows to disk
/// (constant-memory mode). Every cell is text, so leading zeros survive.
pub fn write_xlsx(rows: impl Iterator<Item = ExportRow>, path: &Path) -> Result<(), SheetError> {
    let mut book = Workbook::new();
    let bold = CellFormat::new().set_bold();
    let sheet = book.add_worksheet_with_constant_memory();
    sheet.set_name("Danh sách hộ").map_err(xlsx_error)?;
    for (col, width) in WIDTHS.iter().enumerate() {
        sheet
            .set_column_width(col as u16, *width)
            .map_err(xlsx_error)?;
    }
    for (col, header) in HEADERS.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *header, &bold)
            .map_err(xlsx_error)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
    for (i, row) in rows.enumerate() {
        if i >= XLSX_MAX_ROWS {
            return Err(SheetError::TooManyRows { max: XLSX_MAX_ROWS });
        }
        let r = i as u32 + 1;
        for (col, cell) in row.cells().iter().enumerate() {
            // Blank cells are simply not written.
            if !cell.is_empty() {
                sheet
                    .write_string(r, col as u16, *cell)
                    .map_err(xlsx_error)?;
            }
        }
    }
    book.save(path).map_err(xlsx_error)
}

fn xlsx_error(e: XlsxError) -> SheetError {
    match e {
        XlsxError::IoError(e) => SheetError::Io(e),
        other => SheetError::Xlsx(other.to_string()),
    }
}

/// A cell of a report table: text, or a number a spreadsheet can sum.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

/// One worksheet of a report: a title line, a bold header and rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub name: String,
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Writes report tables (a dashboard, say) as one XLSX workbook in memory,
/// a worksheet per table. Reports are small; lists use `write_xlsx`.
pub fn write_tables_xlsx(tables: &[Table]) -> Result<Vec<u8>, SheetError> {
    let mut book = Workbook::new();
    let bold = CellFormat::new().set_bold();
    for t in tables {
        let sheet = book.add_worksheet();
        // Worksheet names: at most 31 characters, none of []:*?/\.
        let name: String = t
            .name
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(31)
            .collect();
        sheet.set_name(name).map_err(xlsx_error)?;
        sheet
            .write_string_with_format(0, 0, &t.title, &bold)
            .map_err(xlsx_error)?;
        for (col, h) in t.header.iter().enumerate() {
            sheet
                .write_string_with_format(2, col as u16, h, &bold)
                .map_err(xlsx_error)?;
            sheet
                .set_column_width(col as u16, if col == 0 { 28 } else { 14 })
                .map_err(xlsx_error)?;
        }
        for (i, row) in t.rows.iter().enumerate() {
            let r = i as u32 + 3;
            for (col, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Text(s) if !s.is_empty() => {
                        sheet.write_string(r, col as u16, s).map_err(xlsx_error)?;
                    }
                    Cell::Number(n) => {
                        sheet.write_number(r, col as u16, *n).map_err(xlsx_error)?;
                    }
                    Cell::Text(_) => {}
                }
            }
        }
        sheet.set_freeze_panes(3, 1).map_err(xlsx_error)?;
    }
    book.save_to_buffer().map_err(xlsx_error)
}
