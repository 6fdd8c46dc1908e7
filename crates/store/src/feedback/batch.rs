//! Group commit of new reports, and the small caches `submit_feedback`
//! reads before it writes.
//!
//! With `synchronous = FULL` every SQLite commit waits for the disk, so one
//! transaction per report caps submissions at the disk's flush rate. On
//! SQLite, `submit_feedback` therefore prepares the whole report first
//! (validation, routing, deadlines) and hands it to one writer task. The
//! writer takes whatever is queued (up to [`MAX_BATCH`]), writes each report
//! inside its own SAVEPOINT of one `BEGIN IMMEDIATE` transaction, commits
//! once, and only then answers each submitter. A report the database refuses
//! (a colliding tracking code or submission key) rolls back its savepoint
//! alone and is answered with its own error, so the caller's retry and
//! replay logic is unchanged; if the commit itself fails, every report of
//! the batch is answered with an error and none is acknowledged.
//!
//! PostgreSQL bypasses the writer: its connections commit in parallel and
//! the server already groups concurrent WAL flushes, so a single writer
//! would only serialize what the server does concurrently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use danvan_domain::calendar::{self, WorkCalendar};
use danvan_domain::feedback::{RelayMethod, TrackingCode};
use sqlx::{ConnectOptions, Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::announce::outbox::{self, NewSms};
use crate::feedback::rollup::{add_rollups, Rollup};
use crate::feedback::{write, Deadlines, Topic};
use crate::{audit, Actor, Db, Result, Store, StoreError};

/// Most reports one group commit writes.
pub const MAX_BATCH: usize = 256;
/// How long reports wait for a database another writer holds (on top of
/// each attempt's busy timeout) before their submitters hear an error.
const BUSY_PATIENCE: Duration = Duration::from_secs(120);

/// SQLite's "database is locked" (SQLITE_BUSY, 5) or "table is locked" (6).
fn is_busy(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(d)) => {
            matches!(
                d.code().as_deref(),
                Some("5") | Some("6") | Some("517") | Some("261")
            )
        }
        _ => false,
    }
}
/// Cached calendars, routes and topics are read again after this long even
/// without a change made through this process (another process, e.g. the
/// command line, may have changed them).
const CACHE_TTL: Duration = Duration::from_secs(10);
/// What other code changes without telling this cache (a hamlet closed, a
/// team made, an API token revoked) is read again after this long.
const SHORT_TTL: Duration = Duration::from_secs(2);

/// Who answers a report: the unit, its officer, the label shown, its path.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub unit_id: i64,
    pub account_id: Option<i64>,
    pub label: String,
    pub path: String,
}

/// Everything a new report's transaction writes, computed before it.
pub(crate) struct Draft {
    pub now: i64,
    pub actor: Actor,
    pub topic_id: i64,
    pub topic_code: String,
    pub confidential: bool,
    pub severity: &'static str,
    pub channel: &'static str,
    pub description: String,
    pub fold: String,
    pub hamlet_id: i64,
    pub path: String,
    pub household_id: Option<i64>,
    pub resident_id: Option<i64>,
    pub identity_consent: bool,
    pub relayed_by: Option<i64>,
    pub relay_method: Option<RelayMethod>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub anonymous: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub route: Route,
    pub team_id: Option<i64>,
    pub ack_due: i64,
    pub resolve_due: i64,
    pub key: Option<String>,
    pub photos: Vec<crate::feedback::photo::CleanPhoto>,
}

impl Draft {
    /// For `audit!`, which reads the time from what it is given.
    fn now(&self) -> i64 {
        self.now
    }
}

/// The SMS that tells a reporter their report was received.
fn received_sms(code: &TrackingCode, resolve_due: i64) -> String {
    format!(
        "Da tiep nhan phan anh {}. Han xu ly: {}. Tra loi: TL {} <noi dung>",
        code.display(),
        calendar::to_local(resolve_due).format("%H:%M %d/%m/%Y"),
        code.display()
    )
}

/// Writes one report on `$tx` (a transaction or a savepoint of either
/// backend); evaluates to its id. Errors stay inside: the caller decides
/// whether they spoil only a savepoint or the whole transaction.
macro_rules! write_report {
    ($tx:ident, $d:expr, $code:expr) => {
        async {
            let d: &Draft = $d;
            let code: &TrackingCode = $code;
            let id = write::insert_report(&mut *$tx, d, code).await?;
            let how = d.relay_method.map_or(String::new(), |m| m.label_vi().to_string());
            write::event(
                &mut *$tx,
                write::NewEvent {
                    feedback_id: id,
                    at: d.now,
                    kind: "received",
                    from: None,
                    to: Some("received"),
                    actor: &d.actor,
                    body: how,
                    public: true,
                },
            )
            .await?;
            write::count(&mut *$tx, d.hamlet_id, d.topic_id, "received", 1).await?;
            $crate::insert_photos!(&mut *$tx, id, d.photos, d.now);
            write::notify(
                &mut *$tx,
                &[write::NewNotice {
                    unit_id: d.route.unit_id,
                    feedback_id: id,
                    kind: "new",
                    body: format!("Phản ánh mới {}", code.display()),
                    at: d.now,
                }],
            )
            .await?;
            if let Some(phone) = &d.reporter_phone {
                let body = received_sms(code, d.resolve_due);
                let sms = $crate::announce::outbox::NewSms {
                    recipient: phone,
                    body,
                    key: format!("feedback:{id}:received"),
                    feedback_id: Some(id),
                    at: d.now,
                };
                $crate::announce::outbox::queue(&mut *$tx, &[sms]).await?;
            }
            audit!(
                &mut *$tx,
                d,
                d.actor,
                "create",
                "feedback",
                id,
                d.path,
                serde_json::json!({"channel": d.channel, "topic": d.topic_code})
            );
            Ok::<i64, StoreError>(id)
        }
        .await
    };
}

/// One report waiting for the writer.
struct Job {
    draft: Arc<Draft>,
    code: TrackingCode,
    reply: oneshot::Sender<Result<Option<i64>>>,
}

struct Cached<T> {
    generation: u64,
    at: Instant,
    value: T,
}

impl<T: Clone> Cached<T> {
    fn fresh(&self, generation: u64) -> Option<T> {
        (self.generation == generation && self.at.elapsed() < CACHE_TTL).then(|| self.value.clone())
    }

    fn fresh_short(&self) -> Option<T> {
        (self.at.elapsed() < SHORT_TTL).then(|| self.value.clone())
    }

    fn now(value: T) -> Self {
        Cached {
            generation: 0,
            at: Instant::now(),
            value,
        }
    }
}

/// A province's calendar and deadlines.
pub(crate) type CalendarOf = Arc<(WorkCalendar, Deadlines)>;

/// Shared by every clone of a [`Store`]: the writer's queue and the caches.
#[derive(Default)]
pub struct FeedbackShared {
    writer: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    /// Bumped by every change this process makes to calendars, holidays or
    /// routing rules; a cached value of an older generation is stale.
    generation: AtomicU64,
    calendars: Mutex<HashMap<i64, Cached<CalendarOf>>>,
    /// By (commune, hamlet, topic).
    routes: Mutex<HashMap<(i64, i64, i64), Cached<Route>>>,
    topics: Mutex<Option<Cached<Arc<Vec<Topic>>>>>,
    /// Hamlets by id, for the scope and validity checks of a submission.
    units: Mutex<HashMap<i64, Cached<crate::registry::unit::Unit>>>,
    /// The first team of a hamlet, by hamlet id.
    teams: Mutex<HashMap<i64, Cached<Option<i64>>>>,
    /// API tokens by their hash: an Open311 client sends its key with
    /// every report.
    api_tokens: Mutex<HashMap<String, Cached<Option<crate::registry::account::Principal>>>>,
}

impl std::fmt::Debug for FeedbackShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackShared").finish_non_exhaustive()
    }
}

impl FeedbackShared {
    /// Forgets every cached calendar, route and topic list.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Queues a job, starting the writer if there is none (or the runtime
    /// that ran the previous one has ended).
    fn enqueue(&self, pool: &SqlitePool, job: Job) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let job = match writer.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run_writer(pool.clone(), rx));
        // The receiver was just made and is alive.
        let _ = tx.send(job);
        *writer = Some(tx);
    }
}

/// The writer: one group commit per turn, over whatever is queued.
///
/// It keeps a connection of its own rather than taking one from the pool
/// for each batch: SQLite drops a connection's page cache whenever another
/// connection has written, so a writer that hopped between pool
/// connections found its cache emptied at every turn and read the leaf
/// pages of its indexes back from the operating system.
async fn run_writer(pool: SqlitePool, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut conn: Option<SqliteConnection> = None;
    // Dropped when the writer ends, which ends the checkpointer too.
    let (_alive, gone) = oneshot::channel::<()>();
    let catch_up = Arc::new(AtomicBool::new(false));
    tokio::spawn(run_checkpointer(pool.clone(), gone, catch_up.clone()));
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // The database busy past its timeout (a long import holds the write
        // lock): the reports wait and are written after it, acknowledged
        // only then — never refused because someone else was writing.
        let patience = Instant::now();
        let written = loop {
            let written = match conn.as_mut() {
                Some(c) => write_batch(c, &jobs).await,
                None => match writer_connection(&pool).await {
                    Ok(c) => write_batch(conn.insert(c), &jobs).await,
                    Err(e) => Err(e),
                },
            };
            match written {
                Err(e) if is_busy(&e) && patience.elapsed() < BUSY_PATIENCE => {
                    tracing::info!(n = jobs.len(), "feedback waits for the database");
                    conn = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                w => break w,
            }
        };
        if catch_up.swap(false, Ordering::SeqCst) {
            if let Some(c) = conn.as_mut() {
                // Between two transactions, nothing is appended while it
                // copies, so it reaches the end of the WAL and the next
                // transaction writes the WAL from its start again.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut *c)
                    .await
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        }
        match written {
            Ok(results) => {
                for (job, r) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                // Nothing of the batch is committed: every submitter hears
                // so. The next batch starts on a new connection.
                tracing::warn!(error = %e, n = jobs.len(), "feedback group commit failed");
                conn = None;
                let msg = e.to_string();
                for job in jobs.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(StoreError::Db(sqlx::Error::Protocol(msg.clone()))));
                }
            }
        }
    }
}

/// The writer's own connection. It does not copy the WAL back into the
/// database inside a commit, as SQLite does every 1000 pages (every
/// submitter of that batch would wait for the copy): the checkpointer
/// copies beside it.
async fn writer_connection(pool: &SqlitePool) -> Result<SqliteConnection> {
    let mut conn = pool.connect_options().connect().await?;
    sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut conn)
        .await?;
    // A report's insert reads the leaf pages of its random indexes
    // (tracking code, submission key): with SQLite's 2 MB default each
    // came back from the operating system, a copy each. Allocated only as
    // pages are used.
    sqlx::query("PRAGMA cache_size = -65536")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// How often the checkpointer copies committed pages from the WAL into
/// the database. A page written by many commits in between is copied once.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// WAL frames left behind by a passive checkpoint above which the writer
/// is asked to finish the copy itself (1024 pages: 4 MB).
const WAL_CATCH_UP_FRAMES: i64 = 8192;

/// Copies the WAL into the database every [`CHECKPOINT_EVERY`] on a
/// connection of its own, until the writer ends.
///
/// `PASSIVE` never blocks the writer or a reader. But under a steady load
/// the writer commits while it copies, so the copy never reaches the end
/// of the WAL at the moment a transaction begins, and the WAL would never
/// start over and grow without end. When much is left behind, the
/// checkpointer sets `catch_up`: the writer then copies the rest between
/// two of its transactions (little, as this pass copied the bulk), and the
/// next transaction starts the WAL from its beginning.
async fn run_checkpointer(
    pool: SqlitePool,
    mut gone: oneshot::Receiver<()>,
    catch_up: Arc<AtomicBool>,
) {
    let mut conn: Option<SqliteConnection> = None;
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut gone => return,
            _ = tick.tick() => {}
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match pool.connect_options().connect().await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "checkpointer cannot connect");
                    continue;
                }
            },
        };
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut *c)
            .await
        {
            Ok((_busy, log, _copied)) => {
                if log > WAL_CATCH_UP_FRAMES {
                    catch_up.store(true, Ordering::SeqCst);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
    }
}

/// One transaction, one commit. Returns each report's id, `None` when its
/// tracking code or submission key was taken; `Err` when the transaction
/// itself failed.
///
/// First try: a handful of multi-row statements for the whole batch (sqlx
/// hands every SQLite statement to the connection's thread and back, and
/// those switches, not SQLite, were most of the cost), where a taken code
/// or key skips its row (`ON CONFLICT DO NOTHING`). Should that fail for
/// any other reason, the batch is written again one SAVEPOINT per report,
/// so a bad report spoils nothing but itself.
async fn write_batch(
    conn: &mut SqliteConnection,
    jobs: &[Job],
) -> Result<Vec<Result<Option<i64>>>> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    match write_together(&mut tx, jobs).await {
        Ok(ids) => {
            tx.commit().await?;
            return Ok(ids.into_iter().map(Ok).collect());
        }
        Err(e) => {
            tracing::warn!(error = %e, n = jobs.len(), "feedback batch written one by one");
            tx.rollback().await?;
        }
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut sp = sqlx::Connection::begin(&mut *tx).await?;
        match write_report!(sp, &job.draft, &job.code) {
            Ok(id) => {
                sp.commit().await?;
                out.push(Ok(Some(id)));
            }
            Err(e) => {
                sp.rollback().await?;
                out.push(if e.is_unique_violation() {
                    Ok(None)
                } else {
                    Err(e)
                });
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// The whole batch in one statement per table (see `write_batch`).
async fn write_together(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    jobs: &[Job],
) -> Result<Vec<Option<i64>>> {
    let drafts: Vec<(&Draft, &TrackingCode)> = jobs.iter().map(|j| (&*j.draft, &j.code)).collect();
    let mut by_code: HashMap<String, i64> = write::insert_reports(&mut **tx, &drafts)
        .await?
        .into_iter()
        .map(|(id, code)| (code, id))
        .collect();
    // `remove`: should two reports of the batch have drawn one code, the
    // second is told its code was taken, not given the first one's id.
    let ids: Vec<Option<i64>> = jobs
        .iter()
        .map(|j| by_code.remove(j.code.as_str()))
        .collect();
    let written: Vec<(&Job, i64)> = jobs
        .iter()
        .zip(&ids)
        .filter_map(|(j, id)| id.map(|id| (j, id)))
        .collect();
    if written.is_empty() {
        return Ok(ids);
    }

    let events: Vec<write::NewEvent> = written
        .iter()
        .map(|(job, id)| {
            let d = &job.draft;
            write::NewEvent {
                feedback_id: *id,
                at: d.now,
                kind: "received",
                from: None,
                to: Some("received"),
                actor: &d.actor,
                body: d
                    .relay_method
                    .map_or(String::new(), |m| m.label_vi().to_string()),
                public: true,
            }
        })
        .collect();
    write::events(&mut **tx, &events).await?;

    let mut counts: HashMap<(i64, i64), i64> = HashMap::new();
    // The dashboard's rollups: the hamlet and every unit above it, whose
    // ids its path holds.
    let mut rollups: HashMap<(i64, i64), i64> = HashMap::new();
    for (job, _) in &written {
        let d = &job.draft;
        *counts.entry((d.hamlet_id, d.topic_id)).or_default() += 1;
        for unit in crate::feedback::rollup::path_ids(&d.path) {
            *rollups.entry((unit, d.topic_id)).or_default() += 1;
        }
    }
    let received = |m: HashMap<(i64, i64), i64>| -> Vec<Rollup> {
        m.into_iter()
            .map(|((at, topic), n)| (at, topic, "received".to_string(), n))
            .collect()
    };
    write::add_counts(&mut **tx, &received(counts)).await?;
    add_rollups(&mut **tx, &received(rollups)).await?;

    for (job, id) in &written {
        let d = &job.draft;
        crate::insert_photos!(&mut **tx, *id, d.photos, d.now);
    }

    let notices: Vec<write::NewNotice> = written
        .iter()
        .map(|(job, id)| write::NewNotice {
            unit_id: job.draft.route.unit_id,
            feedback_id: *id,
            kind: "new",
            body: format!("Phản ánh mới {}", job.code.display()),
            at: job.draft.now,
        })
        .collect();
    write::notify(&mut **tx, &notices).await?;

    let sms: Vec<NewSms> = written
        .iter()
        .filter_map(|(job, id)| {
            let d = &job.draft;
            Some(NewSms {
                recipient: d.reporter_phone.as_deref()?,
                body: received_sms(&job.code, d.resolve_due),
                key: format!("feedback:{id}:received"),
                feedback_id: Some(*id),
                at: d.now,
            })
        })
        .collect();
    outbox::queue(&mut **tx, &sms).await?;

    let entries: Vec<crate::audit::NewAudit> = written
        .iter()
        .map(|(job, id)| {
            let d = &job.draft;
            crate::audit::NewAudit {
                at: d.now,
                actor: &d.actor,
                action: "create",
                entity: "feedback",
                entity_id: id.to_string(),
                scope_path: &d.path,
                detail: serde_json::json!({"channel": d.channel, "topic": d.topic_code}),
            }
        })
        .collect();
    crate::audit::record_many(&mut **tx, &entries).await?;
    Ok(ids)
}

impl Store {
    /// Writes a prepared report with `code`; on SQLite through the group
    /// commit, on PostgreSQL in a transaction of its own. Returns its id
    /// once committed, `None` when the code or the submission key was
    /// taken (nothing written).
    pub(crate) async fn write_report(
        &self,
        draft: &Arc<Draft>,
        code: TrackingCode,
    ) -> Result<Option<i64>> {
        match &self.db {
            Db::Sqlite(pool) => {
                let (reply, answer) = oneshot::channel();
                self.feedback.enqueue(
                    pool,
                    Job {
                        draft: draft.clone(),
                        code,
                        reply,
                    },
                );
                answer.await.unwrap_or_else(|_| {
                    Err(StoreError::Db(sqlx::Error::Protocol(
                        "the feedback writer stopped before answering".into(),
                    )))
                })
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                match write_report!(tx, draft.as_ref(), &code) {
                    Ok(id) => {
                        tx.commit().await?;
                        Ok(Some(id))
                    }
                    Err(e) if e.is_unique_violation() => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// `calendar_for`, cached per province.
    pub(crate) async fn calendar_cached(
        &self,
        path: &str,
    ) -> Result<Arc<(WorkCalendar, Deadlines)>> {
        let province = crate::feedback::province_of(path).unwrap_or(0);
        let generation = self.feedback.generation();
        if let Some(c) = lock(&self.feedback.calendars)
            .get(&province)
            .and_then(|c| c.fresh(generation))
        {
            return Ok(c);
        }
        let value = Arc::new(self.calendar_for(path).await?);
        lock(&self.feedback.calendars).insert(
            province,
            Cached {
                generation,
                at: Instant::now(),
                value: value.clone(),
            },
        );
        Ok(value)
    }

    /// Active topics, cached (they change only with a migration).
    pub async fn topics_cached(&self) -> Result<Arc<Vec<Topic>>> {
        let generation = self.feedback.generation();
        if let Some(t) = lock(&self.feedback.topics)
            .as_ref()
            .and_then(|c| c.fresh(generation))
        {
            return Ok(t);
        }
        let value = Arc::new(self.topics().await?);
        *lock(&self.feedback.topics) = Some(Cached {
            generation,
            at: Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }

    /// Who answers `topic_id` from `hamlet_id` of `commune_id`: the most
    /// specific routing rule, else the commune. Read before the report's
    /// transaction and cached; `add_routing_rule` invalidates.
    pub(crate) async fn route_for(
        &self,
        commune_id: i64,
        hamlet_id: i64,
        topic_id: i64,
    ) -> Result<Route> {
        let key = (commune_id, hamlet_id, topic_id);
        let generation = self.feedback.generation();
        if let Some(r) = lock(&self.feedback.routes)
            .get(&key)
            .and_then(|c| c.fresh(generation))
        {
            return Ok(r);
        }
        let rule: Option<(i64, Option<i64>, String, String)> = crate::on_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT r.responsible_unit_id, r.responsible_account_id, r.label, u.path FROM routing_rules r \
                 JOIN units u ON u.id = r.responsible_unit_id \
                 WHERE r.commune_id = $1 AND (r.topic_id = $2 OR r.topic_id IS NULL) AND (r.hamlet_id = $3 OR r.hamlet_id IS NULL) \
                 ORDER BY (r.topic_id IS NULL), (r.hamlet_id IS NULL), r.id LIMIT 1",
            )
            .bind(commune_id)
            .bind(topic_id)
            .bind(hamlet_id)
            .fetch_optional(p)
            .await?
        });
        let route = match rule {
            Some((unit_id, account_id, label, path)) => Route {
                unit_id,
                account_id,
                label,
                path,
            },
            None => {
                let (label, path): (String, String) = crate::on_db!(&self.db, |p| {
                    sqlx::query_as("SELECT name, path FROM units WHERE id = $1")
                        .bind(commune_id)
                        .fetch_one(p)
                        .await?
                });
                Route {
                    unit_id: commune_id,
                    account_id: None,
                    label,
                    path,
                }
            }
        };
        // Only a hamlet's own cache entries grow the map; a province has
        // a few thousand hamlets × a handful of topics.
        lock(&self.feedback.routes).insert(
            key,
            Cached {
                generation,
                at: Instant::now(),
                value: route.clone(),
            },
        );
        Ok(route)
    }
}

impl Store {
    /// `unit(scope, id)` read through a cache of [`SHORT_TTL`].
    pub(crate) async fn unit_cached(
        &self,
        scope: &crate::Scope,
        id: i64,
    ) -> Result<crate::registry::unit::Unit> {
        let hit = lock(&self.feedback.units)
            .get(&id)
            .and_then(Cached::fresh_short);
        let unit = match hit {
            Some(u) => u,
            None => {
                let u = self.unit_unscoped(id).await?;
                let mut units = lock(&self.feedback.units);
                if units.len() > 100_000 {
                    units.clear();
                }
                units.insert(id, Cached::now(u.clone()));
                u
            }
        };
        if scope.contains_path(&unit.path) {
            Ok(unit)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// The first team of a hamlet (reports without a household go to it),
    /// through a cache of [`SHORT_TTL`].
    pub(crate) async fn first_team_cached(&self, hamlet_id: i64) -> Result<Option<i64>> {
        if let Some(t) = lock(&self.feedback.teams)
            .get(&hamlet_id)
            .and_then(Cached::fresh_short)
        {
            return Ok(t);
        }
        let team = crate::on_db!(&self.db, |p| sqlx::query_as::<_, (i64,)>(
            "SELECT id FROM teams WHERE hamlet_id = $1 AND kind = 'team' AND closed_on IS NULL ORDER BY id LIMIT 1",
        )
        .bind(hamlet_id)
        .fetch_optional(p)
        .await?)
        .map(|(t,)| t);
        let mut teams = lock(&self.feedback.teams);
        if teams.len() > 100_000 {
            teams.clear();
        }
        teams.insert(hamlet_id, Cached::now(team));
        Ok(team)
    }

    /// A verified API token's principal, kept for [`SHORT_TTL`]: a revoked
    /// token stops working within that time.
    pub(crate) fn api_token_cached(
        &self,
        hash: &str,
    ) -> Option<Option<crate::registry::account::Principal>> {
        lock(&self.feedback.api_tokens)
            .get(hash)
            .and_then(Cached::fresh_short)
    }

    pub(crate) fn remember_api_token(
        &self,
        hash: String,
        p: Option<crate::registry::account::Principal>,
    ) {
        let mut tokens = lock(&self.feedback.api_tokens);
        if tokens.len() > 10_000 {
            tokens.clear();
        }
        tokens.insert(hash, Cached::now(p));
    }

    /// Drops every cached key: a revocation takes effect at once in this
    /// process (others see it within the cache's two seconds).
    pub(crate) fn forget_api_tokens(&self) {
        lock(&self.feedback.api_tokens).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
