//! The checks of an all-or-nothing import: every row and cross-row check,
//! without touching the database.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};

use crate::columns::Field;
use crate::hamlet::{message, HamletIndex, Resolved};
use crate::{ResidentRow, RowError, SheetReader};

/// Errors listed in a report; the count covers all of them.
pub const MAX_LISTED_ERRORS: usize = 1000;

#[derive(Debug, Default, serde::Serialize)]
pub struct ValidationReport {
    /// Data rows read (blank rows excluded).
    pub rows: usize,
    /// Distinct household codes.
    pub households: usize,
    /// The first [`MAX_LISTED_ERRORS`] errors in row order.
    pub errors: Vec<RowError>,
    pub error_count: usize,
}

impl ValidationReport {
    pub fn is_ok(&self) -> bool {
        self.error_count == 0
    }
}

/// What is remembered per household; the rows themselves are not kept.
struct Household {
    hamlet: Option<i64>,
    heads: u32,
    first_row: usize,
}

/// Streams every row, checking each on its own and against the others.
/// Memory grows with the number of households and citizen ids only.
pub fn validate(reader: SheetReader, hamlets: &HamletIndex) -> ValidationReport {
    let mut v = Validation::new(reader, hamlets);
    while v.next_clean().is_some() {}
    v.finish()
}

/// The checks of [`validate`], one row at a time, handing on each row that
/// passed them, so an import can write while it validates (and roll back if
/// anything was wrong) instead of reading the file twice.
pub struct Validation<'a> {
    reader: SheetReader,
    hamlets: &'a HamletIndex,
    hamlet_col: String,
    id_col: String,
    relation_col: String,
    errors: ErrorSink,
    rows: usize,
    households: HashMap<String, Household>,
    // Citizen id (12 digits fit a u64) → the row it first appeared on.
    citizen_ids: HashMap<u64, usize>,
    // The last place found: the rows of a household, and households in
    // turn, repeat it, and finding it folds two names.
    last_place: Option<(Option<String>, String, i64)>,
}

impl<'a> Validation<'a> {
    pub fn new(reader: SheetReader, hamlets: &'a HamletIndex) -> Validation<'a> {
        Validation {
            hamlet_col: reader.label(Field::Hamlet),
            id_col: reader.label(Field::CitizenId),
            relation_col: reader.label(Field::Relation),
            reader,
            hamlets,
            errors: ErrorSink::default(),
            rows: 0,
            households: HashMap::new(),
            citizen_ids: HashMap::new(),
            last_place: None,
        }
    }

    /// Errors found so far (every later row is still checked).
    pub fn error_count(&self) -> usize {
        self.errors.count
    }

    /// Records an error found outside the file (by the database).
    pub fn push_error(&mut self, error: RowError) {
        self.errors.push(error);
    }

    /// The next row without errors of its own or against the rows before
    /// it, with its hamlet's id; rows with errors are recorded and skipped.
    /// `None` at the end of the file. Whether every household has exactly
    /// one head is only known at [`Validation::finish`].
    pub fn next_clean(&mut self) -> Option<(ResidentRow, i64)> {
        loop {
            let mut parsed = self.reader.next_parsed()?;
            let row = parsed.row;
            if parsed.is_data {
                self.rows += 1;
            }
            let clean = parsed.errors.is_empty();
            let before = self.errors.count;
            for e in std::mem::take(&mut parsed.errors) {
                self.errors.push(e);
            }
            let f = &parsed.fields;
            let hamlet_id = f.hamlet.as_deref().and_then(|hamlet| {
                let commune = f.commune.as_deref();
                if let Some((c, h, id)) = &self.last_place {
                    if c.as_deref() == commune && h == hamlet {
                        return Some(*id);
                    }
                }
                match self.hamlets.lookup(commune, hamlet) {
                    Resolved::Found(id) => {
                        self.last_place = Some((commune.map(Into::into), hamlet.into(), id));
                        Some(id)
                    }
                    other => {
                        let (vi, en) = message(&other, commune, hamlet);
                        self.errors
                            .push(RowError::new(row, &self.hamlet_col, hamlet, vi, en));
                        None
                    }
                }
            });
            if let Some(id) = &f.citizen_id {
                if let Ok(n) = id.as_str().parse::<u64>() {
                    match self.citizen_ids.entry(n) {
                        Entry::Occupied(first) => self.errors.push(RowError::new(
                            row,
                            &self.id_col,
                            &id.masked(),
                            format!("Số CCCD trùng với dòng {}", first.get()),
                            format!("The citizen id repeats row {}", first.get()),
                        )),
                        Entry::Vacant(slot) => {
                            slot.insert(row);
                        }
                    }
                }
            }
            if let Some(code) = &f.household_code {
                let heads = u32::from(f.is_head);
                match self.households.get_mut(code) {
                    Some(h) => {
                        h.heads += heads;
                        match (h.hamlet, hamlet_id) {
                            (Some(a), Some(b)) if a != b => self.errors.push(RowError::new(
                                row,
                                &self.hamlet_col,
                                f.hamlet.as_deref().unwrap_or_default(),
                                format!(
                                    "Hộ «{code}» đã ghi thôn khác ở dòng {}; \
                                     mọi người trong hộ phải cùng thôn",
                                    h.first_row
                                ),
                                format!(
                                    "Household «{code}» has another hamlet on row {}; \
                                     a household lives in one hamlet",
                                    h.first_row
                                ),
                            )),
                            (None, Some(b)) => h.hamlet = Some(b),
                            _ => {}
                        }
                    }
                    None => {
                        self.households.insert(
                            code.clone(),
                            Household {
                                hamlet: hamlet_id,
                                heads,
                                first_row: row,
                            },
                        );
                    }
                }
            }
            if clean && self.errors.count == before {
                if let (Ok(r), Some(id)) = (parsed.into_result(), hamlet_id) {
                    return Some((r, id));
                }
            }
        }
    }

    /// Reads what is left, adds the per-household checks, and reports.
    pub fn finish(mut self) -> ValidationReport {
        while self.next_clean().is_some() {}
        for (code, h) in &self.households {
            let (vi, en) = match h.heads {
                1 => continue,
                0 => (
                    format!("Hộ «{code}» không có dòng nào là «Chủ hộ»"),
                    format!("Household «{code}» has no row marked «Chủ hộ» (head)"),
                ),
                n => (
                    format!("Hộ «{code}» có {n} dòng «Chủ hộ»; mỗi hộ chỉ có một chủ hộ"),
                    format!("Household «{code}» has {n} heads; a household has one"),
                ),
            };
            self.errors
                .push(RowError::new(h.first_row, &self.relation_col, code, vi, en));
        }
        let (errors, error_count) = self.errors.finish();
        ValidationReport {
            rows: self.rows,
            households: self.households.len(),
            errors,
            error_count,
        }
    }
}

/// Keeps the first errors by row (then by discovery), however many arrive.
#[derive(Default)]
struct ErrorSink {
    heap: BinaryHeap<Ranked>,
    seq: u64,
    count: usize,
}

struct Ranked {
    key: (usize, u64),
    error: RowError,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl ErrorSink {
    fn push(&mut self, error: RowError) {
        self.count += 1;
        self.seq += 1;
        let key = (error.row, self.seq);
        if self.heap.len() < MAX_LISTED_ERRORS {
            self.heap.push(Ranked { key, error });
        } else if self.heap.peek().is_some_and(|top| key < top.key) {
            self.heap.pop();
            self.heap.push(Ranked { key, error });
        }
    }

    fn finish(self) -> (Vec<RowError>, usize) {
        let errors = self
            .heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.error)
            .collect();
        (errors, self.count)
    }
}
