//! All-or-nothing import of the household spreadsheets officials keep.
//!
//! Pass one validates the whole file (the sheet crate's row checks, plus
//! what only the database knows: household codes and citizen ids already
//! recorded, team codes); nothing is written unless it is clean. Pass two
//! reads the file again and writes it in ONE transaction, in batches of
//! multi-row inserts. Both passes stream, so memory grows with the number of
//! households (a code → id map), not with the file.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use danvan_sheet::{
    HamletIndex, ResidentRow, RowError, SheetError, SheetReader, ValidationReport,
    MAX_LISTED_ERRORS,
};
use serde::Serialize;

use crate::household::INSERT_RESIDENT;
use crate::stats::refresh_hamlet;
use crate::{audit, in_tx, on_db, Actor, Result, Scope, Store, StoreError};

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
/// Page cache of the SQLite connection that writes an import (256 MB).
const IMPORT_CACHE: &str = "PRAGMA cache_size = -262144";
/// Rows parsed ahead of the writer, per message.
const PREFETCH_ROWS: usize = 512;

/// A row with every derived column computed on the reader thread, so the
/// writer only binds (the writer and SQLite take turns on one core; the
/// reader has the other).
struct Prepared {
    row: ResidentRow,
    code: String,
    hamlet: std::result::Result<i64, String>,
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
    fn new(row: ResidentRow, index: &HamletIndex) -> Prepared {
        Prepared {
            code: row.household_code.trim().to_uppercase(),
            hamlet: index.resolve(row.commune.as_deref(), &row.hamlet),
            full_name: row.name.full(),
            fold: row.name.fold(),
            given_fold: row.name.given_first_fold(),
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


/// Parses the file on a blocking thread, a few batches ahead of its reader,
/// mapping each row there (so the async side never parses: a province file
/// would hold a runtime thread for seconds); dropping it stops the thread.
struct Prefetch<T> {
    rx: tokio::sync::mpsc::Receiver<Vec<T>>,
    batch: std::vec::IntoIter<T>,
}

impl<T: Send + 'static> Prefetch<T> {
    fn start<F>(reader: SheetReader, map: F) -> Prefetch<T>
    where
        F: Fn(std::result::Result<ResidentRow, Vec<RowError>>) -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<T>>(8);
        tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(PREFETCH_ROWS);
            for item in reader {
                batch.push(map(item));
                if batch.len() >= PREFETCH_ROWS {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(PREFETCH_ROWS));
                    if tx.blocking_send(full).is_err() {
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
        });
        Prefetch {
            rx,
            batch: Vec::new().into_iter(),
        }
    }

    async fn next(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            self.batch = self.rx.recv().await?.into_iter();
        }
    }
}

/// Rows per lookup of existing codes / citizen ids.
const LOOKUP_BATCH: usize = 500;

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

impl Store {
    /// Imports households from `file` into the subtree of `unit_id`.
    pub async fn import_households(
        &self,
        actor: &Actor,
        scope: &Scope,
        unit_id: i64,
        file: &Path,
        dry_run: bool,
    ) -> Result<ImportOutcome, ImportError> {
        let unit = self.unit(scope, unit_id).await?;
        if scope.team_id.is_some() {
            return Err(StoreError::NotFound.into());
        }
        // Durations only: an import's log never names a person.
        let started = std::time::Instant::now();
        let today = self.today();
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

        // Pass one: the file's own checks on a blocking thread, beside what
        // only the database knows on a task of its own (both mostly parsing,
        // one core each). Nothing is written unless both come back clean.
        let validation = {
            let reader = SheetReader::open(file, today)?;
            let index = Arc::clone(&index);
            tokio::task::spawn_blocking(move || danvan_sheet::validate(reader, &index))
        };
        let checks = {
            let store = self.clone();
            let file = file.to_path_buf();
            let teams = teams.clone();
            tokio::spawn(async move { store.check_against_database(&file, today, &teams).await })
        };
        let interrupted = |e: tokio::task::JoinError| {
            StoreError::Rejected(format!("kiểm tra tệp bị gián đoạn: {e}"))
        };
        let checked = async move {
            let mut report: ValidationReport = validation.await.map_err(interrupted)?;
            let mut extra = checks.await.map_err(interrupted)??;
            if !extra.is_empty() {
                report.error_count += extra.len();
                report.errors.append(&mut extra);
                report.errors.sort_by_key(|e| e.row);
                report.errors.truncate(MAX_LISTED_ERRORS);
            }
            Ok::<ValidationReport, ImportError>(report)
        };
        let outcome_of = |report: ValidationReport| ImportOutcome {
            dry_run,
            committed: false,
            rows: report.rows,
            households: report.households,
            error_count: report.error_count,
            errors: report.errors,
        };
        // Measured: running the checks beside the writing only moves the
        // time (both cores are busy either way), so they come first.
        let report = checked.await?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            rows = report.rows,
            "import: file checked"
        );
        if dry_run || report.error_count > 0 {
            return Ok(outcome_of(report));
        }

        // Pass two: write everything in one transaction.
        let now = self.now();
        let writer_index = Arc::clone(&index);
        let mut rows = Prefetch::start(SheetReader::open(file, today)?, move |item| {
            item.map(|row| Prepared::new(row, &writer_index))
        });
        let sqlite = matches!(self.db, crate::Db::Sqlite(_));
        let written: Result<(usize, usize), ImportError> = in_tx!(&self.db, |tx| {
            let written = async {
            let mut ids: HashMap<String, i64> = HashMap::new();
            let mut pending: Vec<PendingHousehold> = Vec::new();
            let mut pending_index: HashMap<String, usize> = HashMap::new();
            let mut late: Vec<(i64, Prepared)> = Vec::new();
            let mut touched: HashSet<i64> = HashSet::new();
            let mut late_households: HashSet<i64> = HashSet::new();
            let mut residents = 0usize;
            // A larger page cache for this connection while it writes the
            // indexes of a big file; set back before the commit.
            let cache: Option<(i64,)> = if sqlite {
                let old = sqlx::query_as("PRAGMA cache_size")
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(IMPORT_CACHE).execute(&mut *tx).await?;
                // Statement journals (one per multi-row INSERT) in memory, not
                // in temporary files.
                sqlx::query("PRAGMA temp_store = MEMORY").execute(&mut *tx).await?;
                Some(old)
            } else {
                None
            };
            loop {
                let row = rows.next().await;
                let flush = row.is_none() || pending.len() >= BATCH;
                if flush && !pending.is_empty() {
                    // Households first (codes are unique, so ids come back by code)…
                    for part in pending.chunks(HOUSEHOLD_CHUNK) {
                        let sql = format!(
                            "INSERT INTO households (code, hamlet_id, path, team_id, address, reach, phone, head_name, head_sort_key, resident_count, created_at, updated_at) VALUES {} RETURNING id, code",
                            placeholders(sqlite, part.len(), 12)
                        );
                        let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
                        for h in part {
                            // The head's name and the count, from the rows at hand;
                            // a household whose rows come later is fixed at the end.
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
                    let mut batch: Vec<(i64, &Prepared)> = Vec::new();
                    for h in &pending {
                        let id = ids
                            .get(&h.code)
                            .copied()
                            .ok_or(StoreError::Rejected("mất mã hộ khi ghi".into()))?;
                        batch.extend(h.residents.iter().map(|r| (id, r)));
                    }
                    for chunk in batch.chunks(RESIDENT_CHUNK) {
                        insert_residents!(&mut *tx, sqlite, chunk, now);
                    }
                    residents += batch.len();
                    pending.clear();
                    pending_index.clear();
                }
                if !late.is_empty() && (row.is_none() || late.len() >= 100) {
                    let all: Vec<(i64, &Prepared)> =
                        late.iter().map(|(id, r)| (*id, r)).collect();
                    for chunk in all.chunks(RESIDENT_CHUNK) {
                        insert_residents!(&mut *tx, sqlite, chunk, now);
                    }
                    residents += all.len();
                    late.clear();
                }
                let Some(row) = row else { break };
                let p = row
                    .map_err(|_| StoreError::Rejected("tệp đã thay đổi giữa hai lần đọc".into()))?;
                let hamlet_id = p.hamlet.clone().map_err(StoreError::Rejected)?;
                if let Some(&id) = ids.get(&p.code) {
                    // A household whose rows are not contiguous in the file.
                    late_households.insert(id);
                    late.push((id, p));
                    continue;
                }
                if let Some(&i) = pending_index.get(&p.code) {
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
                    continue;
                }
                touched.insert(hamlet_id);
                pending_index.insert(p.code.clone(), pending.len());
                pending.push(PendingHousehold {
                    code: p.code.clone(),
                    hamlet_id,
                    path: paths.get(&hamlet_id).cloned().unwrap_or_default(),
                    team_id: p
                        .row
                        .team_code
                        .as_ref()
                        .and_then(|c| teams.get(&c.to_uppercase()).map(|(id, _)| *id)),
                    address: p.row.address.clone(),
                    reach: p.row.reach.map_or("no_phone", |r| r.as_str()).to_string(),
                    phone: p.phone.clone(),
                    residents: vec![p],
                });
            }
            tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "import: rows written");
            // Households whose rows were spread over the file: their head and
            // count from what was written.
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
                sqlx::query("ANALYZE households, residents")
                    .execute(&mut *tx)
                    .await?;
            }
            for h in &touched {
                refresh_hamlet!(&mut *tx, *h);
            }
            if let Some((old,)) = cache {
                sqlx::query(&format!("PRAGMA cache_size = {old}"))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("PRAGMA temp_store = DEFAULT").execute(&mut *tx).await?;
            }
            let detail = serde_json::json!({"households": ids.len(), "residents": residents, "unit_id": unit_id});
            audit!(
                &mut *tx,
                self,
                actor,
                "import",
                "households",
                unit_id,
                unit.path,
                detail
            );
            Ok::<(usize, usize), ImportError>((ids.len(), residents))
            }
            .await;
            written
        });
        let (households, rows) = written?;
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

    /// Checks a file's household codes, citizen ids and team codes against
    /// what is already recorded; one error per offending row.
    async fn check_against_database(
        &self,
        file: &Path,
        today: chrono::NaiveDate,
        teams: &HashMap<String, (i64, i64)>,
    ) -> Result<Vec<RowError>, ImportError> {
        let mut errors = Vec::new();
        let mut codes: Vec<(usize, String)> = Vec::new();
        let mut cids: Vec<(usize, String)> = Vec::new();
        let mut seen_codes: HashSet<String> = HashSet::new();
        // Only what the database must confirm, taken from each clean row.
        let mut rows = Prefetch::start(SheetReader::open(file, today)?, |item| {
            item.ok().map(|row| {
                let cid = row.citizen_id.as_ref().map(|c| c.as_str().to_string());
                (
                    row.row,
                    row.household_code.trim().to_uppercase(),
                    cid,
                    row.team_code,
                )
            })
        });
        while let Some(item) = rows.next().await {
            let Some((row, code, cid, team_code)) = item else {
                continue;
            };
            if seen_codes.insert(code.clone()) {
                codes.push((row, code));
            }
            if let Some(c) = cid {
                cids.push((row, c));
            }
            if let Some(t) = &team_code {
                if !teams.contains_key(&t.to_uppercase()) {
                    errors.push(row_error(
                        row,
                        "Tổ dân vận",
                        t,
                        format!("Không có tổ dân vận mã «{t}» trong đơn vị đã chọn"),
                        format!("No team with code «{t}» in the chosen unit"),
                    ));
                }
            }
            if codes.len() >= LOOKUP_BATCH {
                self.existing("households", "code", &mut codes, &mut errors)
                    .await?;
            }
            if cids.len() >= LOOKUP_BATCH {
                self.existing("residents", "citizen_id", &mut cids, &mut errors)
                    .await?;
            }
        }
        self.existing("households", "code", &mut codes, &mut errors)
            .await?;
        self.existing("residents", "citizen_id", &mut cids, &mut errors)
            .await?;
        Ok(errors)
    }

    async fn existing(
        &self,
        table: &str,
        column: &str,
        batch: &mut Vec<(usize, String)>,
        errors: &mut Vec<RowError>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // `?` on SQLite: see `placeholders`.
        let sqlite = matches!(self.db, crate::Db::Sqlite(_));
        let list = placeholders(sqlite, 1, batch.len());
        let sql = format!("SELECT {column} FROM {table} WHERE {column} IN {list}");
        let found: Vec<(String,)> = on_db!(&self.db, |p| {
            let mut q = sqlx::query_as(&sql);
            for (_, v) in batch.iter() {
                q = q.bind(v);
            }
            q.fetch_all(p).await?
        });
        let found: HashSet<String> = found.into_iter().map(|(v,)| v).collect();
        for (row, v) in batch.iter().filter(|(_, v)| found.contains(v)) {
            errors.push(if column == "code" {
                row_error(
                    *row,
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
                    *row,
                    "Số CCCD",
                    &masked,
                    "Số CCCD này đã có trong hệ thống".into(),
                    "This citizen id is already recorded".into(),
                )
            });
        }
        batch.clear();
        Ok(())
    }
}
