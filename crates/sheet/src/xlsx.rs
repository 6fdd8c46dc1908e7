//! Streaming the first worksheet of an XLSX file.
//!
//! calamine's `XlsxCellReader` borrows the workbook, so it cannot live in a
//! struct next to it. A worker thread owns both and hands finished rows over
//! a bounded channel; memory stays bounded and parsing overlaps validation.
//! Three passes over the sheet XML: merged ranges (stored after the cells),
//! formula positions (calamine reports a formula cell's cached value only),
//! then the values.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType, Reader, SheetType, Xlsx, XlsxError};
use chrono::{Days, NaiveDate};

use crate::read::{Merged, RawCell, RawRow, MAX_COLUMNS};
use crate::SheetError;

/// Rows in flight between the worker and the reader.
const CHANNEL_ROWS: usize = 512;

enum Msg {
    /// The sheet opened; its declared last row (1-based), when it declares one.
    Opened {
        declared_rows: Option<usize>,
    },
    Row(RawRow),
    Done,
    Fatal(String),
}

pub(crate) struct XlsxSource {
    rx: Receiver<Msg>,
    finished: bool,
}

pub(crate) struct Opened {
    pub(crate) source: XlsxSource,
    pub(crate) declared_rows: Option<usize>,
}

impl XlsxSource {
    pub(crate) fn open(path: &Path) -> Result<Opened, SheetError> {
        // Zip bombs are refused here, before calamine unpacks anything.
        crate::unpack::check(path)?;
        let (tx, rx) = sync_channel(CHANNEL_ROWS);
        let path: PathBuf = path.to_path_buf();
        std::thread::Builder::new()
            .name("danvan-sheet-xlsx".into())
            .spawn(move || {
                if let Err(Stop::Fatal(detail)) = work(&path, &tx) {
                    let _ = tx.send(Msg::Fatal(detail));
                }
            })?;
        let mut source = XlsxSource {
            rx,
            finished: false,
        };
        match source.rx.recv() {
            Ok(Msg::Opened { declared_rows }) => Ok(Opened {
                source,
                declared_rows,
            }),
            Ok(Msg::Done) => {
                source.finished = true;
                Ok(Opened {
                    source,
                    declared_rows: None,
                })
            }
            Ok(Msg::Fatal(detail)) => Err(SheetError::Xlsx(detail)),
            Ok(Msg::Row(_)) | Err(_) => Err(SheetError::Xlsx(WORKER_DIED.into())),
        }
    }

    pub(crate) fn next_row(&mut self) -> Option<Result<RawRow, SheetError>> {
        if self.finished {
            return None;
        }
        match self.rx.recv() {
            Ok(Msg::Row(row)) => Some(Ok(row)),
            Ok(Msg::Done) => {
                self.finished = true;
                None
            }
            Ok(Msg::Fatal(detail)) => {
                self.finished = true;
                Some(Err(SheetError::Xlsx(detail)))
            }
            // The worker hangs up without Done only if it panicked on a broken file.
            Ok(Msg::Opened { .. }) | Err(_) => {
                self.finished = true;
                Some(Err(SheetError::Xlsx(WORKER_DIED.into())))
            }
        }
    }
}

const WORKER_DIED: &str = "calamine stopped while reading the worksheet";

enum Stop {
    /// The reader was dropped; nothing left to do.
    Closed,
    Fatal(String),
}

impl From<XlsxError> for Stop {
    fn from(e: XlsxError) -> Self {
        Stop::Fatal(e.to_string())
    }
}

fn send(tx: &SyncSender<Msg>, msg: Msg) -> Result<(), Stop> {
    tx.send(msg).map_err(|_| Stop::Closed)
}

fn work(path: &Path, tx: &SyncSender<Msg>) -> Result<(), Stop> {
    let mut book: Xlsx<BufReader<File>> = calamine::open_workbook(path)?;
    let Some(name) = book
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
    else {
        return send(tx, Msg::Done);
    };

    let mut merged: Vec<Merged> = book
        .worksheet_merge_cells(&name)
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .map(|d| Merged {
            first: d.start,
            last: d.end,
        })
        .collect();
    merged.sort_by_key(|m| m.first);

    let formulas = formula_rows(&mut book, &name)?;

    let mut cells = book.worksheet_cells_reader(&name)?;
    let dims = cells.dimensions();
    // A sheet without a <dimension> element reports the default (0,0)-(0,0).
    let declared_rows = (dims.end.0 > 0).then_some(dims.end.0 as usize + 1);
    send(tx, Msg::Opened { declared_rows })?;

    let mut rows = RowAssembler {
        tx,
        merged,
        next_merged: 0,
        formulas,
        current: None,
    };
    while let Some(cell) = cells.next_cell()? {
        let (r, c) = cell.get_position();
        rows.cell(r, c, cell.get_value())?;
    }
    rows.finish()?;
    send(tx, Msg::Done)
}

/// Rows holding formula cells, as (row, bit mask of columns), sorted by row.
/// Eight bytes plus a mask per row keeps even a formula in every row bounded.
fn formula_rows(
    book: &mut Xlsx<BufReader<File>>,
    name: &str,
) -> Result<Vec<(u32, u128)>, XlsxError> {
    let mut out: Vec<(u32, u128)> = Vec::new();
    let mut reader = book.worksheet_cells_reader(name)?;
    while let Some(cell) = reader.next_formula()? {
        let (r, c) = cell.get_position();
        if cell.get_value().is_empty() || c as usize >= MAX_COLUMNS {
            continue;
        }
        let bit = 1u128 << c;
        match out.last_mut() {
            Some((row, mask)) if *row == r => *mask |= bit,
            _ => out.push((r, bit)),
        }
    }
    // Rows arrive in order in any sane file; merge duplicates if not.
    out.sort_by_key(|(r, _)| *r);
    out.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 |= later.1;
        }
        same
    });
    Ok(out)
}

struct RowAssembler<'a> {
    tx: &'a SyncSender<Msg>,
    merged: Vec<Merged>,
    next_merged: usize,
    formulas: Vec<(u32, u128)>,
    current: Option<(u32, Vec<RawCell>)>,
}

impl RowAssembler<'_> {
    fn cell(&mut self, r: u32, c: u32, value: &DataRef<'_>) -> Result<(), Stop> {
        if self.current.as_ref().is_some_and(|(row, _)| *row != r) {
            self.flush()?;
        }
        let (_, cells) = self.current.get_or_insert_with(|| (r, Vec::new()));
        let c = c as usize;
        if c >= MAX_COLUMNS {
            return Ok(());
        }
        let raw = convert(value);
        if cells.len() <= c {
            cells.resize(c + 1, RawCell::Empty);
        }
        cells[c] = raw;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stop> {
        let Some((r, cells)) = self.current.take() else {
            return Ok(());
        };
        self.merged_before(Some(r))?;
        let mut merged = Vec::new();
        while let Some(m) = self.merged.get(self.next_merged).filter(|m| m.first.0 == r) {
            merged.push(*m);
            self.next_merged += 1;
        }
        let formulas = self
            .formulas
            .binary_search_by_key(&r, |(row, _)| *row)
            .ok()
            .and_then(|i| self.formulas.get(i))
            .map_or(0, |(_, mask)| *mask);
        send(
            self.tx,
            Msg::Row(RawRow {
                row: r as usize + 1,
                cells,
                formulas,
                merged,
            }),
        )
    }

    /// Sends merged ranges that start on rows without any cell as rows of their own.
    fn merged_before(&mut self, limit: Option<u32>) -> Result<(), Stop> {
        while let Some(m) = self
            .merged
            .get(self.next_merged)
            .filter(|m| limit.is_none_or(|l| m.first.0 < l))
            .copied()
        {
            let mut merged = vec![m];
            self.next_merged += 1;
            while let Some(n) = self
                .merged
                .get(self.next_merged)
                .filter(|n| n.first.0 == m.first.0)
            {
                merged.push(*n);
                self.next_merged += 1;
            }
            send(
                self.tx,
                Msg::Row(RawRow {
                    row: m.first.0 as usize + 1,
                    cells: Vec::new(),
                    formulas: 0,
                    merged,
                }),
            )?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Stop> {
        self.flush()?;
        self.merged_before(None)
    }
}

fn convert(value: &DataRef<'_>) -> RawCell {
    match value {
        DataRef::Empty => RawCell::Empty,
        DataRef::String(s) => RawCell::Text(s.clone()),
        DataRef::SharedString(s) => RawCell::Text((*s).to_string()),
        DataRef::Int(i) => RawCell::Number(*i as f64),
        DataRef::Float(f) => RawCell::Number(*f),
        DataRef::Bool(b) => RawCell::Text(if *b { "TRUE" } else { "FALSE" }.to_string()),
        DataRef::DateTime(dt) => match serial_date(dt) {
            Some(d) => RawCell::Date(d),
            None => RawCell::Number(dt.as_f64()),
        },
        DataRef::DateTimeIso(s) => match s.get(..10).and_then(|d| d.parse::<NaiveDate>().ok()) {
            Some(d) => RawCell::Date(d),
            None => RawCell::Text(s.clone()),
        },
        DataRef::DurationIso(s) => RawCell::Text(s.clone()),
        DataRef::Error(e) => RawCell::Error(e.to_string()),
    }
}

/// The calendar date of an Excel serial date. calamine computes this only
/// with its "dates" feature, and hides the 1904 flag; comparing with a
/// rebuilt value reveals it.
fn serial_date(dt: &ExcelDateTime) -> Option<NaiveDate> {
    let serial = dt.as_f64();
    if !serial.is_finite() || serial < 0.0 {
        return None;
    }
    let is_1904 = *dt == ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, true);
    let days = serial.floor() as u64;
    let (epoch, days) = if is_1904 {
        (NaiveDate::from_ymd_opt(1904, 1, 1)?, days)
    } else if days >= 61 {
        (NaiveDate::from_ymd_opt(1899, 12, 30)?, days)
    } else {
        // Excel counts a 29 February 1900 that never was; before it, day 1 is 1 January 1900.
        (NaiveDate::from_ymd_opt(1899, 12, 31)?, days)
    };
    epoch.checked_add_days(Days::new(days))
}
