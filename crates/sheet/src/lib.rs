//! Reading and writing the household spreadsheets officials keep: one row per
//! resident, grouped into households by the "Mã hộ" column, as CSV or XLSX.
//!
//! Reading streams: CSV record by record, XLSX through calamine's cell reader
//! on a worker thread, so a province-sized file is read with bounded memory.
//! Only calamine's shared-string table (one copy of each distinct text in the
//! workbook) is held in full; that is how calamine opens any XLSX file.
//! Before calamine sees an XLSX file, `unpack` measures what its parts really
//! unpack to and refuses zip bombs ([`SheetError::TooLargeUnpacked`]): that
//! table stays under 64 MiB and the worksheet under 256 MiB (over 330,000
//! full rows; larger lists go in as CSV).

mod columns;
mod error;
mod export;
mod hamlet;
mod read;
mod unpack;
mod validate;
mod xlsx;

use std::path::Path;

pub use error::{SheetError, UnpackLimit};
pub use export::{write_csv, write_tables_xlsx, write_xlsx, Cell, ExportRow, Table, XLSX_MAX_ROWS};
pub use hamlet::HamletIndex;
pub use read::{ResidentRow, SheetReader, MAX_COLUMNS, MAX_ROWS};
pub use validate::{validate, Validation, ValidationReport, MAX_LISTED_ERRORS};

/// The canonical headers, in the order exports write them.
pub const HEADERS: [&str; 12] = [
    "Mã hộ",
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Quan hệ với chủ hộ",
    "Số điện thoại",
    "Số CCCD",
    "Thôn",
    "Xã",
    "Địa chỉ",
    "Nhận tin qua",
    "Tổ dân vận",
];

/// A spreadsheet file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// Tells the format from the first bytes of a file: XLSX is a zip
    /// archive, CSV is UTF-8 text. A multi-byte character cut off at the end
    /// of the sample is allowed, since callers pass a fixed-size prefix.
    pub fn sniff(first_bytes: &[u8]) -> Option<Format> {
        if first_bytes.starts_with(b"PK\x03\x04") {
            return Some(Format::Xlsx);
        }
        let text_ok = match std::str::from_utf8(first_bytes) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        };
        // NUL never occurs in a text spreadsheet but does in UTF-16 and binaries.
        if text_ok && !first_bytes.contains(&0) {
            Some(Format::Csv)
        } else {
            None
        }
    }

    /// The format a file name promises (".csv", ".xlsx"); content wins when reading.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

/// One problem found in one row, ready to show to the official.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// Spreadsheet row number as the official sees it (the header is row 1).
    pub row: usize,
    /// The header as written in the file, or the canonical header.
    pub column: String,
    /// The offending value, at most 60 characters; citizen ids masked.
    pub value: String,
    pub message_vi: String,
    pub message_en: String,
}

/// Longest value kept in a [`RowError`], in characters.
const MAX_ERROR_VALUE: usize = 60;

impl RowError {
    pub(crate) fn new(
        row: usize,
        column: &str,
        value: &str,
        message_vi: impl Into<String>,
        message_en: impl Into<String>,
    ) -> RowError {
        RowError {
            row,
            column: column.to_string(),
            value: truncate(value.trim(), MAX_ERROR_VALUE),
            message_vi: message_vi.into(),
            message_en: message_en.into(),
        }
    }
}

/// Cuts `s` to at most `max` characters, marking the cut with an ellipsis.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
