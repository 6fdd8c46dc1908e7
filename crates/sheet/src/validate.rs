//! Pass one of an all-or-nothing import: every row and cross-row check,
//! without touching the database.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};

use crate::columns::Field;
use crate::hamlet::{message, HamletIndex, Resolved};
use crate::{RowError, SheetReader};

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
pub fn validate(mut reader: SheetReader, hamlets: &HamletIndex) -> ValidationReport {
    let hamlet_col = reader.label(Field::Hamlet);
    let id_col = reader.label(Field::CitizenId);
    let relation_col = reader.label(Field::Relation);

    let mut errors = ErrorSink::default();
    let mut rows = 0;
    let mut households: HashMap<String, Household> = HashMap::new();
    // Citizen id (12 digits fit a u64) → the row it first appeared on.
    let mut citizen_ids: HashMap<u64, usize> = HashMap::new();

    while let Some(parsed) = reader.next_parsed() {
        let row = parsed.row;
        if parsed.is_data {
            rows += 1;
        }
        for e in parsed.errors {
            errors.push(e);
        }
        let f = parsed.fields;

        let hamlet_id = f.hamlet.as_deref().and_then(|hamlet| {
            let commune = f.commune.as_deref();
            match hamlets.lookup(commune, hamlet) {
                Resolved::Found(id) => Some(id),
                other => {
                    let (vi, en) = message(&other, commune, hamlet);
                    errors.push(RowError::new(row, &hamlet_col, hamlet, vi, en));
                    None
                }
            }
        });

        if let Some(id) = &f.citizen_id {
            if let Ok(n) = id.as_str().parse::<u64>() {
                match citizen_ids.entry(n) {
                    Entry::Occupied(first) => errors.push(RowError::new(
                        row,
                        &id_col,
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

        if let Some(code) = f.household_code {
            let heads = u32::from(f.is_head);
            match households.get_mut(&code) {
                Some(h) => {
                    h.heads += heads;
                    match (h.hamlet, hamlet_id) {
                        (Some(a), Some(b)) if a != b => errors.push(RowError::new(
                            row,
                            &hamlet_col,
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
                    households.insert(
                        code,
                        Household {
                            hamlet: hamlet_id,
                            heads,
                            first_row: row,
                        },
                    );
                }
            }
        }
    }

    for (code, h) in &households {
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
        errors.push(RowError::new(h.first_row, &relation_col, code, vi, en));
    }

    let (errors, error_count) = errors.finish();
    ValidationReport {
        rows,
        households: households.len(),
        errors,
        error_count,
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
