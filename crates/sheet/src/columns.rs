//! Matching the header row to the columns the import knows.

use danvan_domain::text::fold;

use crate::HEADERS;

/// A known column; the discriminant indexes [`HEADERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    HouseholdCode = 0,
    Name,
    Birth,
    Gender,
    Relation,
    Phone,
    CitizenId,
    Hamlet,
    Commune,
    Address,
    Reach,
    TeamCode,
}

pub(crate) const FIELDS: [Field; 12] = [
    Field::HouseholdCode,
    Field::Name,
    Field::Birth,
    Field::Gender,
    Field::Relation,
    Field::Phone,
    Field::CitizenId,
    Field::Hamlet,
    Field::Commune,
    Field::Address,
    Field::Reach,
    Field::TeamCode,
];

impl Field {
    pub(crate) fn canonical(self) -> &'static str {
        HEADERS[self as usize]
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::HouseholdCode => &["Ma ho", "Mã hộ gia đình"],
            Field::Name => &["Họ tên"],
            Field::Birth => &["Năm sinh", "Ngày tháng năm sinh"],
            Field::Gender => &[],
            Field::Relation => &["Quan hệ"],
            Field::Phone => &["SĐT", "Điện thoại"],
            Field::CitizenId => &["CCCD", "Số định danh cá nhân", "Số định danh"],
            Field::Hamlet => &["Thôn/Tổ dân phố", "Tổ dân phố"],
            Field::Commune => &["Xã/Phường"],
            Field::Address => &[],
            Field::Reach => &["Phương tiện nhận tin"],
            Field::TeamCode => &[],
        }
    }

    pub(crate) fn required(self) -> bool {
        matches!(
            self,
            Field::HouseholdCode | Field::Name | Field::Relation | Field::Hamlet
        )
    }
}

/// Folded and stripped of everything but letters and digits, so "Mã hộ",
/// "MÃ HỘ", "Ma ho (*)" and "Thôn / Tổ dân phố" match their canonical forms.
fn header_key(s: &str) -> String {
    fold(s).chars().filter(|c| c.is_alphanumeric()).collect()
}

fn match_header(s: &str) -> Option<Field> {
    let key = header_key(s);
    if key.is_empty() {
        return None;
    }
    FIELDS.into_iter().find(|f| {
        header_key(f.canonical()) == key || f.aliases().iter().any(|a| header_key(a) == key)
    })
}

/// Where each known column sits in the file, and its header as written.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMap {
    index: [Option<usize>; 12],
    /// Every header cell as written, to name columns the import ignores.
    written: Vec<String>,
}

impl ColumnMap {
    pub(crate) fn from_header(cells: &[String]) -> ColumnMap {
        let mut index = [None; 12];
        for (i, cell) in cells.iter().enumerate() {
            if let Some(f) = match_header(cell) {
                // The first matching column wins; later duplicates are ignored.
                index[f as usize].get_or_insert(i);
            }
        }
        ColumnMap {
            index,
            written: cells.iter().map(|c| c.trim().to_string()).collect(),
        }
    }

    pub(crate) fn matched(&self) -> usize {
        self.index.iter().filter(|i| i.is_some()).count()
    }

    pub(crate) fn missing(&self) -> Vec<String> {
        FIELDS
            .into_iter()
            .filter(|f| f.required() && self.index[*f as usize].is_none())
            .map(|f| f.canonical().to_string())
            .collect()
    }

    pub(crate) fn index(&self, field: Field) -> Option<usize> {
        self.index[field as usize]
    }

    pub(crate) fn is_used(&self, col: usize) -> bool {
        self.index.contains(&Some(col))
    }

    /// The header as written for a known column, else the canonical one.
    pub(crate) fn label(&self, field: Field) -> String {
        self.index(field)
            .and_then(|i| self.written.get(i))
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| field.canonical().to_string())
    }

    /// The header as written for any column, else its letter.
    pub(crate) fn label_at(&self, col: usize) -> String {
        self.written
            .get(col)
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| column_letters(col))
    }
}

/// "A", "B", … "Z", "AA" for a 0-based column index.
pub(crate) fn column_letters(col: usize) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}
