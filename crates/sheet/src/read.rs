//! Reading resident rows from CSV or XLSX, one row at a time.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use chrono::NaiveDate;
use danvan_domain::household::is_head_relation;
use danvan_domain::text::{clean_line, clean_required, nfc};
use danvan_domain::{Birth, CitizenId, FieldError, Gender, PersonName, Phone, Reach};

use crate::columns::{column_letters, ColumnMap, Field};
use crate::xlsx::XlsxSource;
use crate::{Format, RowError, SheetError};

/// Default limit on data rows, above the largest province's household list.
pub const MAX_ROWS: usize = 2_000_000;
/// Columns beyond this are ignored (headers and cells alike).
pub const MAX_COLUMNS: usize = 128;
/// Title rows ("DANH SÁCH HỘ GIA ĐÌNH …") may sit above the header; look this far for it.
const HEADER_SCAN_ROWS: usize = 10;
/// Bytes looked at to tell the format and the CSV delimiter.
const SNIFF_BYTES: usize = 8192;

const MAX_CODE: usize = 50;
const MAX_NAME: usize = 100;
const MAX_RELATION: usize = 50;
const MAX_PLACE: usize = 100;
const MAX_ADDRESS: usize = 200;
const MAX_TEAM: usize = 30;

/// One resident, parsed and checked.
#[derive(Debug, Clone)]
pub struct ResidentRow {
    /// Spreadsheet row number as the official sees it: the header is row 1.
    pub row: usize,
    pub household_code: String,
    pub name: PersonName,
    pub birth: Option<Birth>,
    pub gender: Option<Gender>,
    pub relation: String,
    pub is_head: bool,
    pub phone: Option<Phone>,
    pub citizen_id: Option<CitizenId>,
    pub hamlet: String,
    pub commune: Option<String>,
    pub address: String,
    pub reach: Option<Reach>,
    pub team_code: Option<String>,
}

/// A cell as read, before any column's rules apply.
#[derive(Debug, Clone)]
pub(crate) enum RawCell {
    Empty,
    Text(String),
    Number(f64),
    Date(NaiveDate),
    /// An Excel error value such as "#N/A".
    Error(String),
    /// A CSV field that is not UTF-8, decoded lossily for display.
    BadEncoding(String),
}

impl RawCell {
    fn is_empty(&self) -> bool {
        match self {
            RawCell::Empty => true,
            RawCell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    fn display(&self) -> String {
        match self {
            RawCell::Empty => String::new(),
            RawCell::Text(s) | RawCell::Error(s) | RawCell::BadEncoding(s) => s.clone(),
            RawCell::Number(n) => number_text(*n),
            RawCell::Date(d) => d.format("%d/%m/%Y").to_string(),
        }
    }
}

/// A merged range, 0-based (row, column) corners inclusive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Merged {
    pub(crate) first: (u32, u32),
    pub(crate) last: (u32, u32),
}

impl Merged {
    fn a1(&self) -> String {
        format!(
            "{}{}:{}{}",
            column_letters(self.first.1 as usize),
            self.first.0 + 1,
            column_letters(self.last.1 as usize),
            self.last.0 + 1
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RawRow {
    /// 1-based spreadsheet row.
    pub(crate) row: usize,
    pub(crate) cells: Vec<RawCell>,
    /// Bit c set when column c holds a formula (XLSX only).
    pub(crate) formulas: u128,
    /// Merged ranges whose top-left cell is on this row (XLSX only).
    pub(crate) merged: Vec<Merged>,
}

impl RawRow {
    fn has_content(&self) -> bool {
        self.cells.iter().any(|c| !c.is_empty())
    }

    fn texts(&self) -> Vec<String> {
        self.cells.iter().map(RawCell::display).collect()
    }

    fn has_formula(&self, col: usize) -> bool {
        col < MAX_COLUMNS && self.formulas & (1u128 << col) != 0
    }
}

/// Integral numbers print without ".0": codes, years and phone numbers
/// typed into number cells.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Reads CSV line by line. The csv crate skips blank lines without telling
/// where, and counts CRLF lines one record late; officials need the row
/// number Excel shows, so records are split here (RFC 4180 quoting, lenient
/// about stray quotes inside unquoted fields).
struct CsvSource {
    input: BufReader<File>,
    delimiter: u8,
    line: Vec<u8>,
    /// The current record's fields, back to back; `ends[i]` closes field i.
    record: Vec<u8>,
    ends: Vec<usize>,
    /// Lines read so far.
    lines: u64,
    /// Line breaks inside quoted fields so far: Excel shows such a record as
    /// one row, so they do not count toward row numbers.
    embedded_breaks: u64,
    finished: bool,
}

/// A record longer than this means an unclosed quote swallowing the file.
const MAX_RECORD_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote seen inside a quoted field: closing, or the first of a pair.
    QuoteInQuoted,
}

impl CsvSource {
    fn open(mut file: File) -> Result<CsvSource, SheetError> {
        file.seek(SeekFrom::Start(0))?;
        let mut input = BufReader::with_capacity(64 * 1024, file);
        let head = input.fill_buf()?;
        let bom = head.starts_with(b"\xEF\xBB\xBF");
        let delimiter = sniff_delimiter(if bom { &head[3..] } else { head });
        if bom {
            input.consume(3);
        }
        Ok(CsvSource {
            input,
            delimiter,
            line: Vec::new(),
            record: Vec::new(),
            ends: Vec::new(),
            lines: 0,
            embedded_breaks: 0,
            finished: false,
        })
    }

    fn next_row(&mut self) -> Option<Result<RawRow, SheetError>> {
        if self.finished {
            return None;
        }
        match self.read_record() {
            Ok(Some(row)) => {
                let mut cells = Vec::with_capacity(self.ends.len().min(MAX_COLUMNS));
                let mut from = 0;
                for &to in self.ends.iter().take(MAX_COLUMNS) {
                    cells.push(csv_cell(&self.record[from..to]));
                    from = to;
                }
                Some(Ok(RawRow {
                    row,
                    cells,
                    formulas: 0,
                    merged: Vec::new(),
                }))
            }
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }

    /// Reads one record into `record`/`ends`; returns its row number.
    fn read_record(&mut self) -> Result<Option<usize>, SheetError> {
        self.record.clear();
        self.ends.clear();
        let row = (self.lines + 1).saturating_sub(self.embedded_breaks) as usize;
        let mut state = QuoteState::FieldStart;
        loop {
            self.line.clear();
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                if state != QuoteState::Quoted {
                    return Ok(None);
                }
                // An unclosed quote at the end of the file: keep what was read.
                self.ends.push(self.record.len());
                return Ok(Some(row));
            }
            self.lines += 1;
            let mut text: &[u8] = &self.line;
            if let Some(rest) = text.strip_suffix(b"\n") {
                text = rest.strip_suffix(b"\r").unwrap_or(rest);
            }
            for &b in text {
                state = match (state, b) {
                    (QuoteState::FieldStart, b'"') => QuoteState::Quoted,
                    (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuoted,
                    (QuoteState::QuoteInQuoted, b'"') => {
                        self.record.push(b'"');
                        QuoteState::Quoted
                    }
                    (QuoteState::Quoted, _) => {
                        self.record.push(b);
                        QuoteState::Quoted
                    }
                    (_, d) if d == self.delimiter => {
                        self.ends.push(self.record.len());
                        QuoteState::FieldStart
                    }
                    _ => {
                        self.record.push(b);
                        QuoteState::Unquoted
                    }
                };
            }
            if state != QuoteState::Quoted {
                self.ends.push(self.record.len());
                return Ok(Some(row));
            }
            if self.record.len() > MAX_RECORD_BYTES {
                return Err(SheetError::Io(std::io::Error::other(format!(
                    "dòng {row} có dấu ngoặc kép (\") không được đóng"
                ))));
            }
            self.record.push(b'\n');
            self.embedded_breaks += 1;
        }
    }
}

fn csv_cell(field: &[u8]) -> RawCell {
    match std::str::from_utf8(field) {
        Ok(s) => {
            // Exports escape a leading formula character with an apostrophe
            // (against CSV injection); undo it so a round trip is exact.
            let s = match s.strip_prefix('\'') {
                Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
                _ => s,
            };
            RawCell::Text(s.to_string())
        }
        Err(_) => RawCell::BadEncoding(String::from_utf8_lossy(field).into_owned()),
    }
}

/// The delimiter that occurs most, outside quotes, on the first line that
/// has any (a title line above the header may have none).
fn sniff_delimiter(head: &[u8]) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    for line in head.split(|b| *b == b'\n').take(HEADER_SCAN_ROWS) {
        let mut counts = [0usize; 3];
        let mut quoted = false;
        for b in line {
            if *b == b'"' {
                quoted = !quoted;
            } else if !quoted {
                if let Some(i) = CANDIDATES.iter().position(|c| c == b) {
                    counts[i] += 1;
                }
            }
        }
        let (best, count) = counts
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .map_or((0, 0), |(i, c)| (i, *c));
        if count > 0 {
            return CANDIDATES[best];
        }
    }
    b','
}

enum Source {
    Csv(CsvSource),
    Xlsx(XlsxSource),
}

impl Source {
    fn next_row(&mut self) -> Option<Result<RawRow, SheetError>> {
        match self {
            Source::Csv(s) => s.next_row(),
            Source::Xlsx(s) => s.next_row(),
        }
    }
}

/// A row read and checked, with whatever fields could be parsed even when
/// others failed, so cross-row checks still see the household and hamlet.
pub(crate) struct Parsed {
    pub(crate) row: usize,
    /// False for items that carry only file-level errors (merged ranges on
    /// an otherwise blank row, a broken file, too many rows).
    pub(crate) is_data: bool,
    pub(crate) fields: Fields,
    pub(crate) errors: Vec<RowError>,
}

#[derive(Default)]
pub(crate) struct Fields {
    pub(crate) household_code: Option<String>,
    pub(crate) name: Option<PersonName>,
    pub(crate) birth: Option<Birth>,
    pub(crate) gender: Option<Gender>,
    pub(crate) relation: Option<String>,
    pub(crate) is_head: bool,
    pub(crate) phone: Option<Phone>,
    pub(crate) citizen_id: Option<CitizenId>,
    pub(crate) hamlet: Option<String>,
    pub(crate) commune: Option<String>,
    pub(crate) address: String,
    pub(crate) reach: Option<Reach>,
    pub(crate) team_code: Option<String>,
}

impl Parsed {
    fn errors_only(row: usize, errors: Vec<RowError>) -> Parsed {
        Parsed {
            row,
            is_data: false,
            fields: Fields::default(),
            errors,
        }
    }

    pub(crate) fn into_result(self) -> Result<ResidentRow, Vec<RowError>> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let f = self.fields;
        match (f.household_code, f.name, f.relation, f.hamlet) {
            (Some(household_code), Some(name), Some(relation), Some(hamlet)) => Ok(ResidentRow {
                row: self.row,
                household_code,
                name,
                birth: f.birth,
                gender: f.gender,
                relation,
                is_head: f.is_head,
                phone: f.phone,
                citizen_id: f.citizen_id,
                hamlet,
                commune: f.commune,
                address: f.address,
                reach: f.reach,
                team_code: f.team_code,
            }),
            // Unreachable in practice: an empty required cell is reported.
            _ => Err(vec![RowError::new(
                self.row,
                "",
                "",
                "Dòng thiếu dữ liệu bắt buộc",
                "The row lacks required data",
            )]),
        }
    }
}

/// Streams resident rows from a CSV or XLSX file.
pub struct SheetReader {
    source: Source,
    columns: ColumnMap,
    format: Format,
    today: NaiveDate,
    header_row: usize,
    /// Rows read while looking for the header or the first data row.
    pending: VecDeque<RawRow>,
    max_rows: usize,
    data_rows: usize,
    last_row: usize,
    done: bool,
}

impl std::fmt::Debug for SheetReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SheetReader")
            .field("format", &self.format)
            .field("header_row", &self.header_row)
            .field("data_rows", &self.data_rows)
            .finish_non_exhaustive()
    }
}

impl SheetReader {
    /// Opens a file, telling CSV from XLSX by content, and reads the header
    /// row. `today` bounds birth dates.
    pub fn open(path: &Path, today: NaiveDate) -> Result<SheetReader, SheetError> {
        Self::open_with_limit(path, today, MAX_ROWS)
    }

    /// [`SheetReader::open`] with a different limit on data rows.
    pub fn open_with_limit(
        path: &Path,
        today: NaiveDate,
        max_rows: usize,
    ) -> Result<SheetReader, SheetError> {
        let mut file = File::open(path)?;
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut file)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)?;
        let format = Format::sniff(&head).ok_or_else(|| not_readable(&head))?;
        let mut source = match format {
            Format::Csv => Source::Csv(CsvSource::open(file)?),
            Format::Xlsx => {
                drop(file);
                let opened = XlsxSource::open(path)?;
                if opened
                    .declared_rows
                    .is_some_and(|n| n > max_rows.saturating_add(HEADER_SCAN_ROWS))
                {
                    return Err(SheetError::TooManyRows { max: max_rows });
                }
                Source::Xlsx(opened.source)
            }
        };

        let (columns, header_row, mut pending) = find_header(&mut source)?;
        let missing = columns.missing();
        if !missing.is_empty() {
            return Err(SheetError::MissingColumns(missing));
        }
        let mut reader = SheetReader {
            source,
            columns,
            format,
            today,
            header_row,
            pending: VecDeque::new(),
            max_rows,
            data_rows: 0,
            last_row: header_row,
            done: false,
        };
        // Keep only rows that matter, then make sure one holds data.
        pending.retain(|r| reader.is_data_row(r) || !reader.merged_errors(r).is_empty());
        reader.pending = pending.into();
        if !reader.pending.iter().any(|r| reader.is_data_row(r)) {
            loop {
                match reader.source.next_row() {
                    None => return Err(SheetError::Empty),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(r)) => {
                        let data = reader.is_data_row(&r);
                        if data || !reader.merged_errors(&r).is_empty() {
                            reader.pending.push_back(r);
                        }
                        if data {
                            break;
                        }
                    }
                }
            }
        }
        Ok(reader)
    }

    /// The format the content turned out to be.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The spreadsheet row holding the header (1 unless title rows precede it).
    pub fn header_row(&self) -> usize {
        self.header_row
    }

    pub(crate) fn label(&self, field: Field) -> String {
        self.columns.label(field)
    }

    /// A row is data when any column the import reads is filled in; rows
    /// holding only ignored columns (a prefilled "STT") count as blank.
    fn is_data_row(&self, r: &RawRow) -> bool {
        r.cells
            .iter()
            .enumerate()
            .any(|(i, c)| self.columns.is_used(i) && (!c.is_empty() || r.has_formula(i)))
    }

    fn merged_errors(&self, r: &RawRow) -> Vec<RowError> {
        r.merged
            .iter()
            // Titles and headers may be merged; data may not.
            .filter(|m| m.first.0 as usize + 1 > self.header_row)
            .filter(|m| (m.first.1..=m.last.1).any(|c| self.columns.is_used(c as usize)))
            .map(|m| {
                let range = m.a1();
                RowError::new(
                    m.first.0 as usize + 1,
                    &self.columns.label_at(m.first.1 as usize),
                    &range,
                    format!("Ô gộp {range} không được phép; hãy bỏ gộp và ghi đủ từng ô"),
                    format!(
                        "Merged cells {range} are not allowed; unmerge them and fill in every cell"
                    ),
                )
            })
            .collect()
    }

    /// The next data row, parsed as far as possible.
    pub(crate) fn next_parsed(&mut self) -> Option<Parsed> {
        while !self.done {
            let next = match self.pending.pop_front() {
                Some(r) => Some(Ok(r)),
                None => self.source.next_row(),
            };
            let raw = match next {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(self.fatal(e));
                }
                Some(Ok(raw)) => raw,
            };
            self.last_row = self.last_row.max(raw.row);
            let merged = self.merged_errors(&raw);
            if !self.is_data_row(&raw) {
                if merged.is_empty() {
                    continue;
                }
                return Some(Parsed::errors_only(raw.row, merged));
            }
            self.data_rows += 1;
            if self.data_rows > self.max_rows {
                self.done = true;
                return Some(self.fatal(SheetError::TooManyRows { max: self.max_rows }));
            }
            let mut parsed = self.parse(&raw);
            parsed.errors.extend(merged);
            return Some(parsed);
        }
        None
    }

    fn fatal(&self, e: SheetError) -> Parsed {
        let row = self.last_row + 1;
        Parsed::errors_only(
            row,
            vec![RowError::new(row, "", "", e.message_vi(), e.message_en())],
        )
    }

    fn parse(&self, raw: &RawRow) -> Parsed {
        let mut cx = RowContext {
            raw,
            columns: &self.columns,
            errors: Vec::new(),
        };
        // Checked in column order, so errors come out in that order.
        let household_code = cx.required(Field::HouseholdCode, MAX_CODE);
        let name = cx.name();
        let today = self.today;
        let birth = cx.optional(Field::Birth, |v| Birth::parse(v, today));
        let gender = cx.optional(Field::Gender, Gender::parse);
        let relation = cx.required(Field::Relation, MAX_RELATION);
        let is_head = relation.as_deref().is_some_and(is_head_relation);
        let phone = cx.optional(Field::Phone, Phone::parse);
        let citizen_id = cx.citizen_id();
        let hamlet = cx.required(Field::Hamlet, MAX_PLACE);
        let commune = cx.line(Field::Commune, MAX_PLACE);
        let address = cx.line(Field::Address, MAX_ADDRESS).unwrap_or_default();
        let reach = cx.optional(Field::Reach, Reach::parse);
        let team_code = cx.line(Field::TeamCode, MAX_TEAM);
        let f = Fields {
            household_code,
            name,
            birth,
            gender,
            relation,
            is_head,
            phone,
            citizen_id,
            hamlet,
            commune,
            address,
            reach,
            team_code,
        };

        Parsed {
            row: raw.row,
            is_data: true,
            fields: f,
            errors: cx.errors,
        }
    }
}

impl Iterator for SheetReader {
    type Item = Result<ResidentRow, Vec<RowError>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_parsed().map(Parsed::into_result)
    }
}

/// Why a file that is neither XLSX nor UTF-8 text cannot be read.
fn not_readable(head: &[u8]) -> SheetError {
    let utf16_bom = head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF");
    if utf16_bom || !head.contains(&0) {
        // Windows-1258, Latin-1, TCVN3 or UTF-16 text: a spreadsheet saved
        // in the wrong encoding, not a stray binary.
        SheetError::WrongEncoding
    } else {
        SheetError::NotASpreadsheet
    }
}

type HeaderFound = (ColumnMap, usize, Vec<RawRow>);

/// Picks the header among the first non-blank rows: the first holding every
/// required column, else the one matching most known columns. Returns the
/// rows read after it.
fn find_header(source: &mut Source) -> Result<HeaderFound, SheetError> {
    let mut rows: Vec<RawRow> = Vec::new();
    let mut content_rows = 0;
    let mut complete = None;
    while content_rows < HEADER_SCAN_ROWS {
        let Some(next) = source.next_row() else { break };
        let r = next?;
        if !r.has_content() {
            if !r.merged.is_empty() {
                rows.push(r);
            }
            continue;
        }
        content_rows += 1;
        let map = ColumnMap::from_header(&r.texts());
        let done = map.missing().is_empty();
        rows.push(r);
        if done {
            complete = Some(rows.len() - 1);
            break;
        }
    }
    let header_at = match complete {
        Some(i) => i,
        None => {
            let mut best: Option<(usize, usize)> = None;
            for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.has_content()) {
                let matched = ColumnMap::from_header(&r.texts()).matched();
                if best.is_none_or(|(_, m)| matched > m) {
                    best = Some((i, matched));
                }
            }
            best.ok_or(SheetError::Empty)?.0
        }
    };
    let rest = rows.split_off(header_at + 1);
    let header = rows.pop().ok_or(SheetError::Empty)?;
    Ok((ColumnMap::from_header(&header.texts()), header.row, rest))
}

/// "********1234": all but the last four characters hidden.
fn mask(v: &str) -> String {
    let chars: Vec<char> = v.trim().chars().collect();
    let keep = chars.len().saturating_sub(4);
    std::iter::repeat_n('*', keep)
        .chain(chars[keep..].iter().copied())
        .collect()
}

/// Reads one row's cells under a column's rules, collecting errors.
struct RowContext<'a> {
    raw: &'a RawRow,
    columns: &'a ColumnMap,
    errors: Vec<RowError>,
}

impl RowContext<'_> {
    /// The cell's text, or None when empty, absent, or unusable (reported).
    fn value(&mut self, field: Field) -> Option<String> {
        let col = self.columns.index(field)?;
        let cell = self.raw.cells.get(col).unwrap_or(&RawCell::Empty);
        if self.raw.has_formula(col) {
            self.error(
                field,
                &cell.display(),
                "Ô có công thức; hãy dán giá trị",
                "The cell holds a formula; paste values instead",
            );
            return None;
        }
        match cell {
            RawCell::Empty => None,
            RawCell::Text(s) if s.trim().is_empty() => None,
            // Line breaks typed inside a cell (Alt+Enter) are not control
            // characters to refuse but spaces the official meant.
            RawCell::Text(s) => Some(s.replace(['\r', '\n', '\t'], " ")),
            RawCell::Number(n) => Some(number_for(field, *n)),
            RawCell::Date(d) => Some(d.format("%d/%m/%Y").to_string()),
            RawCell::Error(e) => {
                let e = e.clone();
                self.error(
                    field,
                    &e,
                    format!("Ô bị lỗi {e}; hãy sửa hoặc dán giá trị"),
                    format!("The cell holds the error {e}; fix it or paste a value"),
                );
                None
            }
            RawCell::BadEncoding(s) => {
                let s = s.clone();
                self.error(
                    field,
                    &s,
                    "Ô có ký tự không phải mã UTF-8",
                    "The cell has characters that are not UTF-8",
                );
                None
            }
        }
    }

    fn has_error(&self, field: Field) -> bool {
        let label = self.columns.label(field);
        self.errors.iter().any(|e| e.column == label)
    }

    fn error(&mut self, field: Field, value: &str, vi: impl Into<String>, en: impl Into<String>) {
        let label = self.columns.label(field);
        self.errors
            .push(RowError::new(self.raw.row, &label, value, vi, en));
    }

    fn field_error(&mut self, field: Field, value: &str, e: &FieldError) {
        self.error(
            field,
            value,
            e.message_vi().to_string(),
            e.message_en().to_string(),
        );
    }

    fn check<T>(&mut self, field: Field, value: &str, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(t) => Some(t),
            Err(e) => {
                self.field_error(field, value, &e);
                None
            }
        }
    }

    fn required(&mut self, field: Field, max: usize) -> Option<String> {
        match self.value(field) {
            Some(v) => {
                let r = clean_required(&v, max);
                self.check(field, &v, r)
            }
            None => {
                self.required_missing(field);
                None
            }
        }
    }

    /// Reports an empty required cell, unless the cell was already reported.
    fn required_missing(&mut self, field: Field) {
        if !self.has_error(field) {
            if let Err(e) = clean_required("", 1) {
                self.field_error(field, "", &e);
            }
        }
    }

    fn optional<T>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        let v = self.value(field)?;
        let r = parse(v.trim());
        self.check(field, &v, r)
    }

    fn name(&mut self) -> Option<PersonName> {
        let Some(v) = self.value(Field::Name) else {
            self.required_missing(Field::Name);
            return None;
        };
        let len = nfc(v.trim()).chars().count();
        if len > MAX_NAME {
            self.error(
                Field::Name,
                &v,
                format!("Họ tên dài {len} ký tự, quá {MAX_NAME} ký tự"),
                format!("The name is {len} characters long, over {MAX_NAME}"),
            );
            return None;
        }
        let r = PersonName::parse(&v);
        self.check(Field::Name, &v, r)
    }

    fn citizen_id(&mut self) -> Option<CitizenId> {
        let v = self.value(Field::CitizenId)?;
        // A masked export value ("********1234") stands for "not given".
        if v.contains('*') {
            return None;
        }
        match CitizenId::parse(v.trim()) {
            Ok(id) => Some(id),
            Err(e) => {
                // Even a mistyped citizen id is personal data: show it masked.
                self.field_error(Field::CitizenId, &mask(&v), &e);
                None
            }
        }
    }

    fn line(&mut self, field: Field, max: usize) -> Option<String> {
        let v = self.value(field)?;
        let r = clean_line(&v, max);
        self.check(field, &v, r).filter(|s| !s.is_empty())
    }
}

/// A number cell as text for a column: spreadsheets drop the leading zero
/// of phone numbers and citizen ids typed into number cells.
fn number_for(field: Field, n: f64) -> String {
    let text = number_text(n);
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    match field {
        Field::Phone if digits && text.len() == 9 => format!("0{text}"),
        Field::CitizenId if digits && (9..12).contains(&text.len()) => format!("{text:0>12}"),
        _ => text,
    }
}
