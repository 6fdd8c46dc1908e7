//! All-or-nothing import of the household spreadsheets officials keep.
//!
//! One pass in ONE transaction: a thread reads and validates the file (the
//! sheet crate's row checks, team codes) while the writer checks each batch
//! against what only the database knows (household codes and citizen ids
//! already recorded) and writes it in multi-row inserts. Any error stops the
//! writing and rolls everything back. It streams, so memory grows with the
//! number of households (a code → id map), not with the file.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use danvan_sheet::{
    HamletIndex, ResidentRow, RowError, SheetError, SheetReader, Validation, ValidationReport,
    MAX_LISTED_ERRORS,
};
use serde::Serialize;

use crate::registry::household::INSERT_RESIDENT;
use crate::registry::stats::refresh_hamlet;
use crate::viewer::Viewer;
use crate::{audit, in_tx, on_db, Result, Store, StoreError};
use danvan_domain::policy::{Action, Target};
use danvan_domain::UnitLevel;

/// One multi-row INSERT of residents: `$chunk` is `&[(household id, &Prepared)]`.
macro_rules! insert_residents {
    ($ex:expr, $sqlite:expr, $chunk:expr, $now:expr) => {{
        let chunk = $chunk;
        let head = INSERT_RESIDENT
            .split(" VALUES")
            .next()
            .unwrap_or(INSERT_RESIDENT);
        let sql = format!("{head} VALUES {}", placeholders($sqlite, chunk.len(), 17));
        let mut q = sqlx::query(&sql);
        for (id, p) in chunk.iter() {
            let r = &p.row;
            q = q
                .bind(*id)
                .bind(&r.name.family)
                .bind(&r.name.middle)
                .bind(&r.name.given)
                .bind(&p.fold)
                .bind(&p.given_fold)
                .bind(&p.sort_key)
                .bind(r.birth.map(|b| b.year))
                .bind(&p.birth_date)
                .bind(r.gender.map(|g| g.as_str()))
                .bind(&r.relation)
                .bind(r.is_head)
                .bind(&p.phone)
                .bind(&p.phone_digits)
                .bind(&p.citizen_id)
                .bind($now)
                .bind($now);
        }
        q.execute($ex).await?;
    }};
}

/// Households read ahead before they are written.
const BATCH: usize = 400;
// SQLite (through sqlx) looks up the name of every `$N` parameter with a
// linear scan, so a statement of many `$N` costs the square of its
// parameters; anonymous `?` parameters have no name to scan. Multi-row
// inserts therefore use `?` on SQLite (bound in order) and `$N` on
// PostgreSQL, and can be large on both.
/// Households per multi-row insert (12 parameters each).
const HOUSEHOLD_CHUNK: usize = 80;
/// Residents per multi-row insert (17 parameters each).
const RESIDENT_CHUNK: usize = 56;

/// `(…), (…)` placeholders for `rows` rows of `cols` values.
fn placeholders(sqlite: bool, rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            if sqlite {
                sql.push('?');
            } else {
                sql.push_str(&format!("${}", r * cols + c + 1));
            }
        }
        sql.push(')');
    }
    sql
}
/// Page cache of the SQLite connection that writes an import (128 MB).
/// At 256 MB the process peaked at 650–700 MB: when the search indexes
/// are built the rows' dirty pages are still held (SQLite frees them only
/// as it spills them) and the sorter comes on top (SQLite's own high-water
/// mark 361 MB), and the allocator keeps what SQLite frees. At 128 MB the
/// peak is 440–460 MB and the import no slower (BENCHMARKS.md).
const IMPORT_CACHE: &str = "PRAGMA cache_size = -131072";
/// Page cache (and so the sorter's memory) while the search indexes are
/// built again (64 MB): keeps the process well under its 500 MB budget.
const REBUILD_CACHE: &str = "PRAGMA cache_size = -65536";
/// Rows checked ahead of the writer, per message.
const FEED_ROWS: usize = 512;
/// Search indexes whose keys arrive in random order (see `rebuild`).
const SEARCH_INDEXES: &str = "('residents_name_fold', 'residents_given_fold', 'residents_phone')";

/// A clean row with every derived column computed on the checking thread,
/// so the writer only binds.
struct Prepared {
    row: ResidentRow,
    code: String,
    hamlet_id: i64,
    team_id: Option<i64>,
    full_name: String,
    fold: String,
    given_fold: String,
    sort_key: String,
    birth_date: Option<String>,
    phone: Option<String>,
    phone_digits: Option<String>,
    citizen_id: Option<String>,
}

impl Prepared {
    fn new(row: ResidentRow, hamlet_id: i64, team_id: Option<i64>) -> Prepared {
        let (fold, given_fold) = row.name.folds();
        Prepared {
            code: row.household_code.trim().to_uppercase(),
            hamlet_id,
            team_id,
            full_name: row.name.full(),
            fold,
            given_fold,
            sort_key: row.name.sort_key(),
            birth_date: row
                .birth
                .and_then(|b| b.date)
                .map(|d| d.format("%Y-%m-%d").to_string()),
            phone: row.phone.as_ref().map(|p| p.as_str().to_string()),
            phone_digits: row.phone.as_ref().map(|p| p.digits()),
            citizen_id: row.citizen_id.as_ref().map(|c| c.as_str().to_string()),
            row,
        }
    }
}

/// What the checking thread hands the writer.
enum Fed {
    /// Clean rows; `failing` once any row so far had an error (the writer
    /// then stops writing but keeps checking against the database).
    Rows { rows: Vec<Prepared>, failing: bool },
    /// The end of the file: the sheet's full report.
    Done(ValidationReport),
}

/// Reads and validates the file on a blocking thread (a province file would
/// hold a runtime thread for tens of seconds), a few batches ahead of the
/// writer; dropping the receiver stops it.
fn feed(
    reader: SheetReader,
    index: Arc<HamletIndex>,
    teams: HashMap<String, (i64, i64)>,
) -> tokio::sync::mpsc::Receiver<Fed> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Fed>(8);
    tokio::task::spawn_blocking(move || {
        let mut v = Validation::new(reader, &index);
        let mut batch = Vec::with_capacity(FEED_ROWS);
        while let Some((row, hamlet_id)) = v.next_clean() {
            let team_id = match &row.team_code {
                None => None,
                Some(t) => match teams.get(&t.to_uppercase()) {
                    Some(&(id, team_hamlet)) if team_hamlet == hamlet_id => Some(id),
                    found => {
                        let (vi, en) = if found.is_some() {
                            (
                                format!("Tổ dân vận «{t}» thuộc thôn khác, không phải thôn của hộ"),
                                format!(
                                    "Team «{t}» belongs to another hamlet than the household's"
                                ),
                            )
                        } else {
                            (
                                format!("Không có tổ dân vận mã «{t}» trong đơn vị đã chọn"),
                                format!("No team with code «{t}» in the chosen unit"),
                            )
                        };
                        v.push_error(row_error(row.row, "Tổ dân vận", t, vi, en));
                        continue;
                    }
                },
            };
            batch.push(Prepared::new(row, hamlet_id, team_id));
            if batch.len() >= FEED_ROWS {
                let rows = std::mem::replace(&mut batch, Vec::with_capacity(FEED_ROWS));
                let failing = v.error_count() > 0;
                if tx.blocking_send(Fed::Rows { rows, failing }).is_err() {
                    return;
                }
            }
        }
        let failing = v.error_count() > 0;
        if !batch.is_empty()
            && tx
                .blocking_send(Fed::Rows {
                    rows: batch,
                    failing,
                })
                .is_err()
        {
            return;
        }
        let _ = tx.blocking_send(Fed::Done(v.finish()));
    });
    rx
}

#[derive(Debug, Serialize)]
pub struct ImportOutcome {
    pub dry_run: bool,
    pub committed: bool,
    pub rows: usize,
    pub households: usize,
    pub error_count: usize,
    pub errors: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Sheet(#[from] SheetError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(e.into())
    }
}

struct PendingHousehold {
    code: String,
    first_row: usize,
    hamlet_id: i64,
    path: String,
    team_id: Option<i64>,
    address: String,
    reach: String,
    phone: Option<String>,
    residents: Vec<Prepared>,
}

fn row_error(row: usize, column: &str, value: &str, vi: String, en: String) -> RowError {
    RowError {
        row,
        column: column.to_string(),
        value: value.chars().take(60).collect(),
        message_vi: vi,
        message_en: en,
    }
}

/// Which of `values` (with their rows) are already in `table.column`: one
/// error per row found. `$ex` is the import's transaction.
macro_rules! already_recorded {
    ($ex:expr, $sqlite:expr, $table:literal, $column:literal, $values:expr, $errors:expr) => {{
        let values: &[(usize, &str)] = $values;
        if !values.is_empty() {
            let sql = format!(
                "SELECT {} FROM {} WHERE {} IN {}",
                $column,
                $table,
                $column,
                placeholders($sqlite, 1, values.len())
            );
            let mut q = sqlx::query_as::<_, (String,)>(&sql);
            for (_, v) in values {
                q = q.bind(*v);
            }
            let found: HashSet<String> =
                q.fetch_all($ex).await?.into_iter().map(|(v,)| v).collect();
            for (row, v) in values.iter().filter(|(_, v)| found.contains(*v)) {
                $errors.push(recorded_error($column, *row, v));
            }
        }
    }};
}

/// The error for a household code or citizen id already in the registry
/// (the citizen id masked).
/// The error of a file with more rows than its unit's level allows.
fn too_many_rows(max: usize, level: UnitLevel) -> RowError {
    row_error(
        max + 2,
        "",
        "",
        format!(
            "Tệp có hơn {max} dòng, quá nhiều cho một {}: hãy kiểm tra đã chọn đúng đơn vị và đúng tệp, hoặc nhập ở đơn vị cấp trên.",
            level.label_vi().to_lowercase()
        ),
        format!(
            "The file has more than {max} rows, too many for a {}: check the unit and the file, or import at the unit above.",
            level.label_en().to_lowercase()
        ),
    )
}

fn recorded_error(column: &str, row: usize, v: &str) -> RowError {
    if column == "code" {
        row_error(
            row,
            "Mã hộ",
            v,
            format!("Mã hộ «{v}» đã có trong hệ thống"),
            format!("Household code «{v}» already exists"),
        )
    } else {
        let masked = danvan_domain::CitizenId::parse(v)
            .map(|c| c.masked())
            .unwrap_or_default();
        row_error(
            row,
            "Số CCCD",
            &masked,
            "Số CCCD này đã có trong hệ thống".into(),
            "This citizen id is already recorded".into(),
        )
    }
}

/// Why the transaction of an import ended without a commit.
enum Unwritten {
    /// A dry run, or a file with errors: the report says which.
    Report(ValidationReport),
    Failed(ImportError),
}

impl From<sqlx::Error> for Unwritten {
    fn from(e: sqlx::Error) -> Self {
        Unwritten::Failed(e.into())
    }
}

impl From<StoreError> for Unwritten {
    fn from(e: StoreError) -> Self {
        Unwritten::Failed(e.into())
    }
}

/// Most rows a file may hold for a unit of this level: a hamlet of 245
/// households has about a thousand residents, not a million — a file that
/// big is a mistake or an attack, and would hold the write lock for long.
pub fn max_rows(level: UnitLevel) -> Option<usize> {
    match level {
        UnitLevel::Hamlet => Some(5_000),
        UnitLevel::Commune => Some(50_000),
        UnitLevel::District => Some(500_000),
        // A province's file is bounded by the upload's size.
        UnitLevel::Province => None,
    }
}

impl Store {
    /// Imports households from `file` into the subtree of `unit_id`.
    ///
    /// One pass, in one transaction: a thread reads and validates the file
    /// while this task checks each batch against the registry (household
    /// codes and citizen ids already recorded) and writes it. The first
    /// error stops the writing, the reading goes on so the report names
    /// every bad row, and the transaction is rolled back: all or nothing.
    /// The rollback happens at the first bad row, not at the end: the rest
    /// is only read, so the write lock (SQLite's is the whole database's)
    /// is not held while a long bad file is checked. More rows than the
    /// unit's level allows ([`max_rows`]) is an error too.
    /// A dry run checks the same way and writes nothing.
    pub async fn import_households(
        &self,
        viewer: &Viewer,
        unit_id: i64,
        file: &Path,
        dry_run: bool,
    ) -> Result<ImportOutcome, ImportError> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        viewer.require(Action::ImportRegistry, &Target::at(&unit.path))?;
        let actor = &viewer.actor;
        // Durations only: an import's log never names a person.
        let started = std::time::Instant::now();
        let hamlets = self.hamlets_under(&unit.path).await?;
        let paths: HashMap<i64, String> = {
            let mut m = HashMap::new();
            for (id, _, _) in &hamlets {
                m.insert(*id, self.unit_unscoped(*id).await?.path);
            }
            m
        };
        let index = Arc::new(HamletIndex::new(hamlets));
        let teams = self.team_codes_under(&unit.path).await?;
        let mut fed = feed(SheetReader::open(file, self.today())?, index, teams);
        let now = self.now();
        let sqlite = matches!(self.db, crate::Db::Sqlite(_));
        let max_rows = max_rows(unit.level);

        let outcome: std::result::Result<(usize, usize), Unwritten> = in_tx!(
            &self.db,
            immediate = !dry_run,
            |tx| {
                async {
                let mut writing = !dry_run;
                let mut db_errors: Vec<RowError> = Vec::new();
                let mut ids: HashMap<String, i64> = HashMap::new();
                let mut pending: Vec<PendingHousehold> = Vec::new();
                let mut pending_index: HashMap<String, usize> = HashMap::new();
                let mut late: Vec<(i64, Prepared)> = Vec::new();
                let mut touched: HashSet<i64> = HashSet::new();
                let mut late_households: HashSet<i64> = HashSet::new();
                let mut residents = 0usize;
                // A larger page cache for this connection while it writes;
                // set back before the commit.
                let cache: Option<(i64,)> = if sqlite && writing {
                    let old = sqlx::query_as("PRAGMA cache_size").fetch_one(&mut *tx).await?;
                    sqlx::query(IMPORT_CACHE).execute(&mut *tx).await?;
                    // Statement journals (one per multi-row INSERT) in memory.
                    sqlx::query("PRAGMA temp_store = MEMORY").execute(&mut *tx).await?;
                    Some(old)
                } else {
                    None
                };
                // Residents already registered: once the import has written
                // as many, SQLite's search indexes are dropped and built again
                // at the end (see `rebuild`).
                let registered: i64 = if sqlite && writing {
                    let (n,): (Option<i64>,) =
                        sqlx::query_as("SELECT SUM(residents) FROM hamlet_stats")
                            .fetch_one(&mut *tx)
                            .await?;
                    n.unwrap_or(0)
                } else {
                    i64::MAX
                };
                let mut rebuild: Vec<(String, String)> = Vec::new();
                // An empty registry has nothing to clash with (the file's own
                // repeats are the sheet's checks; the unique constraints stand
                // behind both), so a first import skips the lookups.
                let (empty,): (bool,) = sqlx::query_as(
                    "SELECT NOT EXISTS (SELECT 1 FROM households) AND NOT EXISTS (SELECT 1 FROM residents)",
                )
                .fetch_one(&mut *tx)
                .await?;

                let mut seen_rows = 0usize;
                let mut too_many: Option<RowError> = None;
                // At the first bad row what was written is rolled back and
                // the write lock released at once; the rest of the file is
                // only checked, in a read transaction.
                macro_rules! stop_writing {
                    () => {
                        if writing {
                            writing = false;
                            sqlx::query("ROLLBACK").execute(&mut *tx).await?;
                            if let Some((old,)) = cache {
                                sqlx::query(&format!("PRAGMA cache_size = {old}")).execute(&mut *tx).await?;
                                sqlx::query("PRAGMA temp_store = DEFAULT").execute(&mut *tx).await?;
                            }
                            sqlx::query("BEGIN").execute(&mut *tx).await?;
                            rebuild.clear();
                        }
                    };
                }

                let report = loop {
                    let (batch, failing, done) = match fed.recv().await {
                        Some(Fed::Rows { rows, failing }) => (rows, failing, None),
                        Some(Fed::Done(report)) => (Vec::new(), report.error_count > 0, Some(report)),
                        None => {
                            return Err(Unwritten::Failed(
                                StoreError::Internal("kiểm tra tệp bị gián đoạn".into()).into(),
                            ))
                        }
                    };
                    seen_rows += batch.len();
                    if let (None, Some(max)) = (&too_many, max_rows) {
                        if seen_rows > max {
                            too_many = Some(too_many_rows(max, unit.level));
                        }
                    }
                    if failing || too_many.is_some() {
                        stop_writing!();
                    }
                    for p in batch {
                        if let Some(&id) = ids.get(&p.code) {
                            // A household whose rows are not contiguous in the file.
                            late_households.insert(id);
                            late.push((id, p));
                        } else if let Some(&i) = pending_index.get(&p.code) {
                            let h = &mut pending[i];
                            if p.row.is_head {
                                h.address = p.row.address.clone();
                            }
                            if h.phone.is_none() {
                                h.phone = p.phone.clone();
                            }
                            if let Some(r) = p.row.reach {
                                h.reach = r.as_str().to_string();
                            }
                            h.residents.push(p);
                        } else {
                            pending_index.insert(p.code.clone(), pending.len());
                            pending.push(PendingHousehold {
                                code: p.code.clone(),
                                first_row: p.row.row,
                                hamlet_id: p.hamlet_id,
                                path: paths.get(&p.hamlet_id).cloned().unwrap_or_default(),
                                team_id: p.team_id,
                                address: p.row.address.clone(),
                                reach: p.row.reach.map_or("no_phone", |r| r.as_str()).to_string(),
                                phone: p.phone.clone(),
                                residents: vec![p],
                            });
                        }
                    }
                    let end = done.is_some();
                    if pending.len() < BATCH && late.len() < 100 && !end {
                        continue;
                    }

                    // What only the registry knows, for this batch.
                    let pending_lookups = if empty { &[][..] } else { &pending[..] };
                    let codes: Vec<(usize, &str)> = pending_lookups
                        .iter()
                        .map(|h| (h.first_row, h.code.as_str()))
                        .collect();
                    already_recorded!(&mut *tx, sqlite, "households", "code", &codes, db_errors);
                    let late_lookups = if empty { &[][..] } else { &late[..] };
                    let cids: Vec<(usize, &str)> = pending_lookups
                        .iter()
                        .flat_map(|h| h.residents.iter())
                        .chain(late_lookups.iter().map(|(_, p)| p))
                        .filter_map(|p| p.citizen_id.as_deref().map(|c| (p.row.row, c)))
                        .collect();
                    for part in cids.chunks(500) {
                        already_recorded!(&mut *tx, sqlite, "residents", "citizen_id", part, db_errors);
                    }
                    if !db_errors.is_empty() {
                        stop_writing!();
                    }

                    if writing && rebuild.is_empty() && residents as i64 >= registered {
                        rebuild = sqlx::query_as(&format!(
                            "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                             AND tbl_name = 'residents' AND name IN {SEARCH_INDEXES}"
                        ))
                        .fetch_all(&mut *tx)
                        .await?;
                        for (name, _) in &rebuild {
                            sqlx::query(&format!("DROP INDEX {name}")).execute(&mut *tx).await?;
                        }
                    }

                    if writing {
                        // Households first (codes are unique, so ids come back by code)…
                        for part in pending.chunks(HOUSEHOLD_CHUNK) {
                            let sql = format!(
                                "INSERT INTO households (code, hamlet_id, path, team_id, address, reach, phone, head_name, head_sort_key, resident_count, created_at, updated_at) VALUES {} RETURNING id, code",
                                placeholders(sqlite, part.len(), 12)
                            );
                            let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
                            for h in part {
                                // The head's name and the count, from the rows at
                                // hand; a household whose rows come later is fixed
                                // at the end.
                                let head = h.residents.iter().find(|r| r.row.is_head);
                                q = q
                                    .bind(&h.code)
                                    .bind(h.hamlet_id)
                                    .bind(&h.path)
                                    .bind(h.team_id)
                                    .bind(&h.address)
                                    .bind(&h.reach)
                                    .bind(&h.phone)
                                    .bind(head.map(|r| r.full_name.as_str()).unwrap_or_default())
                                    .bind(head.map(|r| r.sort_key.as_str()).unwrap_or_default())
                                    .bind(i32::try_from(h.residents.len()).unwrap_or(i32::MAX))
                                    .bind(now)
                                    .bind(now);
                            }
                            for (id, code) in q.fetch_all(&mut *tx).await? {
                                ids.insert(code, id);
                            }
                        }
                        // …then their residents, many per statement.
                        let mut rows: Vec<(i64, &Prepared)> = Vec::new();
                        for h in &pending {
                            touched.insert(h.hamlet_id);
                            let id = ids
                                .get(&h.code)
                                .copied()
                                .ok_or(StoreError::Internal("mất mã hộ khi ghi".into()))?;
                            rows.extend(h.residents.iter().map(|r| (id, r)));
                        }
                        rows.extend(late.iter().map(|(id, r)| (*id, r)));
                        for chunk in rows.chunks(RESIDENT_CHUNK) {
                            insert_residents!(&mut *tx, sqlite, chunk, now);
                        }
                        residents += rows.len();
                    } else {
                        // Not writing: remember the codes, so later rows of the
                        // same household are not looked up twice.
                        for h in &pending {
                            ids.entry(h.code.clone()).or_insert(0);
                        }
                    }
                    pending.clear();
                    pending_index.clear();
                    late.clear();
                    if let Some(report) = done {
                        break report;
                    }
                };
                tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, rows = report.rows, "import: rows read");

                let mut report = report;
                if let Some(e) = too_many {
                    report.error_count += 1;
                    report.errors.insert(0, e);
                    report.errors.truncate(MAX_LISTED_ERRORS);
                }
                if !db_errors.is_empty() {
                    report.error_count += db_errors.len();
                    report.errors.append(&mut db_errors);
                    report.errors.sort_by_key(|e| e.row);
                    report.errors.truncate(MAX_LISTED_ERRORS);
                }
                if dry_run || report.error_count > 0 {
                    // Dropped without a commit: everything written rolls back.
                    return Err(Unwritten::Report(report));
                }

                if let Some((old,)) = cache {
                    // The sorter of CREATE INDEX takes as much memory as the
                    // page cache allows: a smaller one while the indexes build.
                    sqlx::query(REBUILD_CACHE).execute(&mut *tx).await?;
                    sqlx::query("PRAGMA temp_store = DEFAULT").execute(&mut *tx).await?;
                    for (_, sql) in &rebuild {
                        sqlx::query(sql).execute(&mut *tx).await?;
                    }
                    if !rebuild.is_empty() {
                        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "import: search indexes built");
                    }
                    sqlx::query(&format!("PRAGMA cache_size = {old}")).execute(&mut *tx).await?;
                }
                // Households whose rows were spread over the file: their head
                // and count from what was written.
                for id in &late_households {
                    sqlx::query(
                        "UPDATE households SET \
                           head_name = COALESCE((SELECT TRIM(TRIM(r.family || ' ' || r.middle) || ' ' || r.given) FROM residents r WHERE r.household_id = $1 AND r.is_head = TRUE LIMIT 1), ''), \
                           head_sort_key = COALESCE((SELECT r.sort_key FROM residents r WHERE r.household_id = $1 AND r.is_head = TRUE LIMIT 1), ''), \
                           resident_count = (SELECT COUNT(*) FROM residents r WHERE r.household_id = $1) \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                if !sqlite {
                    // Fresh statistics, so PostgreSQL plans the rest of this
                    // transaction (and what follows) on the real table sizes.
                    sqlx::query("ANALYZE households, residents").execute(&mut *tx).await?;
                }
                for h in &touched {
                    refresh_hamlet!(&mut *tx, *h);
                }
                let detail = serde_json::json!({"households": ids.len(), "residents": residents, "unit_id": unit_id});
                audit!(&mut *tx, self, actor, "import", "households", unit_id, unit.path, detail);
                Ok((ids.len(), residents))
            }
            .await
            }
        );
        let outcome_of = |report: ValidationReport| ImportOutcome {
            dry_run,
            committed: false,
            rows: report.rows,
            households: report.households,
            error_count: report.error_count,
            errors: report.errors,
        };
        match outcome {
            Ok((households, rows)) => {
                tracing::info!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    households,
                    rows,
                    "import: committed"
                );
                Ok(ImportOutcome {
                    dry_run,
                    committed: true,
                    rows,
                    households,
                    error_count: 0,
                    errors: Vec::new(),
                })
            }
            Err(Unwritten::Report(report)) => Ok(outcome_of(report)),
            Err(Unwritten::Failed(e)) => Err(e),
        }
    }

    /// Team codes (upper case) of a subtree → (team id, hamlet id).
    pub async fn team_codes_under(&self, path: &str) -> Result<HashMap<String, (i64, i64)>> {
        let rows: Vec<(String, i64, i64)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT code, id, hamlet_id FROM teams WHERE path >= $1 AND path < $2"
        )
        .bind(path)
        .bind(crate::prefix_end(path))
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(c, id, h)| (c.to_uppercase(), (id, h)))
            .collect())
    }
}
