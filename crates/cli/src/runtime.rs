//! What the server runs beside its HTTP routes for as long as it lives:
//! the minute's sweeper (the feedback sweep, then the outbox's: announcements
//! due are planned, unacknowledged SMS fall back to visits). The SMS sender
//! is `danvan_sms::spawn_sms_sender`. Before it starts, a SQLite database
//! is claimed: made private and locked to this process.

use danvan_store::sqlite_file::{self, ServeLock};
use danvan_store::Store;

/// How often late feedback is escalated and answered items closed.
pub const SWEEP_SECONDS: u64 = 60;

/// The demo's sweep when its simulated phones run: a failed SMS is handed
/// to a visit while the newcomer still looks at the reach page.
pub const DEMO_SWEEP_SECONDS: u64 = 10;

/// Runs the feedback sweep every `every` seconds (`SWEEP_SECONDS`) for as
/// long as the process lives. A failed sweep is logged and tried again next
/// time: each batch is its own transaction, so nothing is left half done.
pub fn spawn_sweeper(store: Store, public_url: Option<String>, every: u64) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(every.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.sweep_feedback().await {
                Ok((0, 0)) => {}
                Ok((escalated, closed)) => {
                    tracing::info!(escalated, closed, "feedback sweep")
                }
                Err(e) => tracing::error!(error = %e, "feedback sweep failed"),
            }
            match danvan_sms::sweep_outbox(&store, public_url.as_deref()).await {
                Ok((0, 0)) => {}
                Ok((planned, fell_back)) => tracing::info!(planned, fell_back, "outbox sweep"),
                Err(e) => tracing::error!(error = %e, "outbox sweep failed"),
            }
        }
    });
}

/// Claims a SQLite database for this server before it is opened: refuses
/// it when another `serve` or `demo` holds it, and takes group and world
/// access away from its files (`sqlite_file::tighten` says why tightened,
/// not refused). The lock lasts as long as the value. PostgreSQL needs
/// neither: None.
pub fn claim_database(url: &str) -> anyhow::Result<Option<ServeLock>> {
    let Some(db) = sqlite_file::path_of(url) else {
        return Ok(None);
    };
    let lock = sqlite_file::lock(&db)?;
    let done = sqlite_file::tighten(&db)?;
    for path in &done.changed {
        tracing::warn!(path = %path.display(), "others could read the database: made private to its owner");
    }
    if let Some(dir) = &done.shared_dir {
        tracing::warn!(
            dir = %dir.display(),
            "the database's folder holds other files and others may list it; its files are private, a folder of its own is better"
        );
    }
    Ok(Some(lock))
}
