//! What the server runs beside its HTTP routes for as long as it lives:
//! the minute's sweeper (the feedback sweep, then the outbox's: announcements
//! due are planned, unacknowledged SMS fall back to visits). The SMS sender
//! is `danvan_sms::spawn_sms_sender`.

use danvan_store::Store;

/// How often late feedback is escalated and answered items closed.
pub const SWEEP_SECONDS: u64 = 60;

/// Runs the feedback sweep every minute for as long as the process lives.
/// A failed sweep is logged and tried again next time: each batch is its
/// own transaction, so nothing is left half done.
pub fn spawn_sweeper(store: Store, public_url: Option<String>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(SWEEP_SECONDS));
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
