//! Storage of Dân Vận: one set of repository functions over SQLite and
//! PostgreSQL.
//!
//! Every query string is shared by both backends (`$1` placeholders work on
//! both); the [`on_db!`] and [`in_tx!`] macros expand the same body once per
//! backend, so the Rust code is written once and the compiler checks both
//! expansions. Each module is named after the domain word it stores.

pub mod announce;
pub mod audit;
pub mod clock;
pub mod conn;
pub mod due;
pub mod error;
pub mod feedback;
pub mod registry;
pub mod scope;
pub mod sqlite_file;
mod typed;
pub mod viewer;
mod writers;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::Actor;
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::StoreError;
pub use scope::Scope;
pub use viewer::Viewer;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The connection pool of one backend.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool.
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside one transaction of the backend, with `$tx` bound to it;
/// commits when the body returns `Ok`, rolls back (by drop) on `Err`.
///
/// On SQLite the transaction is `BEGIN IMMEDIATE`: it takes the write lock
/// at once, waiting up to the busy timeout, where a deferred one that reads
/// first fails with "database is locked" when another connection wrote in
/// between. `immediate = false` is for transactions that only read (an
/// import's dry run), which must not hold other writers back.
#[macro_export]
macro_rules! in_tx {
    ($db:expr, |$tx:ident| $body:expr) => {
        $crate::in_tx!($db, immediate = true, |$tx| $body)
    };
    ($db:expr, immediate = $immediate:expr, |$tx:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite(pool) => {
                let mut $tx = if $immediate {
                    pool.begin_with("BEGIN IMMEDIATE").await?
                } else {
                    pool.begin().await?
                };
                let out = $body;
                if out.is_ok() {
                    $tx.commit().await?;
                }
                out
            }
            $crate::Db::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                if out.is_ok() {
                    $tx.commit().await?;
                }
                out
            }
        }
    };
}

/// The store: a pool plus the clock every timestamp comes from.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// The group-commit writer of new reports and the feedback caches,
    /// shared by every clone (see `feedback_batch`).
    pub feedback: Arc<feedback::batch::FeedbackShared>,
    /// Who read how many households lately (see `registry::reads`).
    pub reads: Arc<registry::reads::ReadMeter>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// Opens `sqlite://PATH` (created if missing, readable by its owner
    /// only) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with_clock(url, Arc::new(SystemClock)).await
    }

    pub async fn connect_with_clock(url: &str, clock: Arc<dyn Clock>) -> Result<Store> {
        let db = if url.starts_with("sqlite:") {
            // Made here 0600 rather than by SQLite 0644 (see `sqlite_file`).
            if let Some(path) = sqlite_file::path_of(url) {
                sqlite_file::create_private(&path)?;
            }
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| {
                    StoreError::Config(format!("địa chỉ cơ sở dữ liệu không hợp lệ: {e}"))
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: what is acknowledged to a person survives a power cut.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // 8 MB of page cache per pooled connection (SQLite's own
                // default is 2 MB); the group-commit writer takes 64 MB on
                // its own connection (`feedback_batch`). Eight pooled
                // connections at 64 MB each filled up during an import and
                // took its peak memory past 500 MB.
                .pragma("cache_size", "-8192")
                // Statement journals (a multi-row upsert's undo) in memory,
                // not in temporary files.
                .pragma("temp_store", "memory")
                // A WAL that grew under a burst is cut back to 64 MB when
                // it starts over.
                .pragma("journal_size_limit", "67108864")
                // sqlx hands each row from the connection's thread to the
                // task through a channel of this many; at its default (50)
                // a listing of 1,000 rows stalls the thread twenty times.
                .row_buffer_size(1024);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| {
                    StoreError::Config(format!("địa chỉ cơ sở dữ liệu không hợp lệ: {e}"))
                })?
                // Scope is a path range (`path >= $1 AND path < $2`) whose
                // selectivity is all in the parameters: a province's range
                // holds every row, a hamlet's a thousandth. After five runs
                // PostgreSQL may switch a prepared statement to one generic
                // plan for all ranges (the province dashboard's late count:
                // 16 ms planned for its range, 205 ms generic), so every
                // execution is planned for its own parameters.
                .options([("plan_cache_mode", "force_custom_plan")]);
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Db::Postgres(pool)
        } else {
            return Err(StoreError::Config(
                "địa chỉ cơ sở dữ liệu phải bắt đầu bằng sqlite:// hoặc postgres://".into(),
            ));
        };
        Ok(Store {
            db,
            clock,
            feedback: Arc::default(),
            reads: Arc::default(),
        })
    }

    /// Applies pending migrations of the backend.
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        self.fill_place_keys_if_missing().await?;
        self.fill_feedback_rollups_if_missing().await
    }

    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Seconds since the Unix epoch, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    pub fn today(&self) -> chrono::NaiveDate {
        clock::vn_today(self.clock.as_ref())
    }

    pub async fn close(&self) {
        on_db!(&self.db, |p| p.close().await)
    }
}

/// The smallest string above every string that starts with `prefix`, for
/// index range scans (`col >= prefix AND col < prefix_end(prefix)`).
pub fn prefix_end(prefix: &str) -> String {
    // U+FFFF sorts after every character the folded keys contain.
    format!("{prefix}\u{FFFF}")
}
