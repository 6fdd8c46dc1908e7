//! Reads of personal data in bulk: one account reading many households'
//! residents, phones and ids in a short time (a copy of the registry
//! leaving by the API, or a stolen session) is written to the audit log
//! and then slowed down, while a volunteer's day — their team's forty
//! households, read again and again — never is. Counted per account over
//! distinct households in a sliding window, in memory (a restart forgets;
//! the audit entries stay). The pages and the API call [`Store::meter_reads`]
//! for every household whose people they show.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use danvan_domain::problem::Problem;

use crate::{audit, on_db, Result, Store, StoreError, Viewer};

/// The window the households are counted in.
pub const WINDOW_SECONDS: i64 = 10 * 60;
/// Every this many distinct households in the window, an audit entry.
pub const AUDIT_EVERY: usize = 50;
/// More distinct households than this in the window are refused.
pub const LIMIT: usize = 300;

/// The households each account read lately: (when, household), oldest first.
#[derive(Default)]
pub struct ReadMeter {
    reads: Mutex<HashMap<i64, VecDeque<(i64, i64)>>>,
}

/// What one metering found.
enum Verdict {
    Fine,
    /// Crossed a multiple of [`AUDIT_EVERY`]: this many in the window.
    Audit(usize),
    Refuse,
}

impl ReadMeter {
    fn count(&self, account: i64, households: &[i64], now: i64) -> Verdict {
        let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        if reads.len() > 10_000 {
            reads.retain(|_, q| q.back().is_some_and(|(t, _)| now - t < WINDOW_SECONDS));
        }
        let q = reads.entry(account).or_default();
        while q.front().is_some_and(|(t, _)| now - t >= WINDOW_SECONDS) {
            q.pop_front();
        }
        // Each household is in the window once, so its length is the count.
        let before = q.len();
        let new: Vec<i64> = households
            .iter()
            .copied()
            .filter(|h| !q.iter().any(|(_, seen)| seen == h))
            .collect();
        if new.is_empty() {
            return Verdict::Fine;
        }
        if before + new.len() > LIMIT {
            return Verdict::Refuse;
        }
        for h in &new {
            q.push_back((now, *h));
        }
        let after = before + new.len();
        if after / AUDIT_EVERY > before / AUDIT_EVERY {
            Verdict::Audit(after)
        } else {
            Verdict::Fine
        }
    }
}

impl Store {
    /// Counts that `viewer` was shown the people of `households`; audits a
    /// bulk read, refuses past the limit (`Problem::TooManyReads`). The
    /// server's own work (no account) is not counted.
    pub async fn meter_reads(&self, viewer: &Viewer, households: &[i64]) -> Result<()> {
        let Some(account) = viewer.actor.account_id else {
            return Ok(());
        };
        match self.reads.count(account, households, self.now()) {
            Verdict::Fine => Ok(()),
            Verdict::Refuse => Err(StoreError::Rejected(Problem::TooManyReads {
                minutes: WINDOW_SECONDS / 60,
            })),
            Verdict::Audit(n) => {
                on_db!(&self.db, |p| {
                    audit!(
                        p,
                        self,
                        viewer.actor,
                        "read_bulk",
                        "household",
                        "",
                        viewer.scope.path,
                        serde_json::json!({"households": n, "window_seconds": WINDOW_SECONDS})
                    );
                });
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_households_are_counted_audited_and_limited() {
        let m = ReadMeter::default();
        let team: Vec<i64> = (1..=40).collect();
        // A volunteer's team, read again and again: fine.
        for t in 0..20 {
            assert!(matches!(m.count(7, &team, t * 10), Verdict::Fine));
        }
        let more: Vec<i64> = (41..=60).collect();
        assert!(matches!(m.count(7, &more, 300), Verdict::Audit(60)));
        let many: Vec<i64> = (61..=300).collect();
        assert!(matches!(m.count(7, &many, 301), Verdict::Audit(300)));
        assert!(matches!(m.count(7, &[301], 302), Verdict::Refuse));
        // Another account has its own count; the window slides.
        assert!(matches!(m.count(8, &[301], 302), Verdict::Fine));
        assert!(matches!(
            m.count(7, &[301], 302 + WINDOW_SECONDS),
            Verdict::Fine
        ));
    }
}
