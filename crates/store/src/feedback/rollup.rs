//! Rollups of feedback for the officials' dashboard: counts per unit ×
//! topic × state and histograms of how long items took, kept for the hamlet
//! AND every unit above it in the transaction of each change. A dashboard
//! then reads the rows of one unit (and of its children), so a province of a
//! million reports reads as fast as a hamlet.
//!
//! A unit's ancestors are the ids in its path ("/12/345/678/" → 12, 345,
//! 678), so keeping a rollup needs no extra query beyond the hamlet's path.

use std::collections::HashMap;

use futures::TryStreamExt;

use danvan_domain::feedback::FeedbackState;

use crate::conn::Conn;
use crate::feedback::write;
use crate::{in_tx, on_conn, on_db, Result, Store, StoreError};

/// The ids of a path, from the top down ("/12/345/" → [12, 345]).
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// The histogram bucket of a duration, in minutes: to 5 minutes under two
/// hours, to the hour under two days, else to the day. Medians read from it
/// are exact to that resolution, which is what a dashboard shows.
pub fn bucket_minutes(seconds: i64) -> i64 {
    let m = seconds.max(0) / 60;
    if m < 120 {
        m / 5 * 5
    } else if m < 2880 {
        m / 60 * 60
    } else {
        m / 1440 * 1440
    }
}

/// The width of the bucket that starts at `bucket` minutes.
pub fn bucket_width(bucket: i64) -> i64 {
    if bucket < 120 {
        5
    } else if bucket < 2880 {
        60
    } else {
        1440
    }
}

/// Moves the rollup of (`hamlet`, `topic`, `state`) by `delta`, for the
/// hamlet and every unit above it.
pub async fn rollup<'c>(
    conn: impl Into<Conn<'c>>,
    hamlet: i64,
    topic: i64,
    state: &str,
    delta: i64,
) -> Result<()> {
    let mut conn = conn.into();
    let path: String = on_conn!(conn.reborrow(), |c| {
        sqlx::query_scalar("SELECT path FROM units WHERE id = $1")
            .bind(hamlet)
            .fetch_one(c)
            .await?
    });
    let rows: Vec<Rollup> = path_ids(&path)
        .into_iter()
        .map(|unit| (unit, topic, state.to_string(), delta))
        .collect();
    add_rollups(conn, &rows).await
}

/// A rollup's key and how much to add: (unit, topic, state, n).
pub type Rollup = (i64, i64, String, i64);

/// Rows per statement of [`add_rollups`].
const ROLLUP_CHUNK: usize = 500;

/// The writer of `feedback_rollup`'s counts: adds each row's `n` to its
/// (unit, topic, state), creating the row at `n`.
pub async fn add_rollups<'c>(conn: impl Into<Conn<'c>>, rows: &[Rollup]) -> Result<()> {
    let mut conn = conn.into();
    for chunk in rows.chunks(ROLLUP_CHUNK) {
        let sql = format!(
            "INSERT INTO feedback_rollup (unit_id, topic_id, state, n) VALUES {} \
             ON CONFLICT (unit_id, topic_id, state) DO UPDATE SET n = feedback_rollup.n + excluded.n",
            conn.values("(?, ?, ?, ?)", chunk.len())
        );
        on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query(&sql);
            for (unit, topic, state, n) in chunk {
                q = q.bind(unit).bind(topic).bind(state).bind(n);
            }
            q.execute(c).await?;
        });
    }
    Ok(())
}

/// Whether an item in `state` with these deadlines is late at `now`, and
/// if not (and open) when it becomes late: its `(late, late_at)` columns.
/// Late: open, and past the resolve deadline, or still unacknowledged past
/// the acknowledge one.
pub fn lateness(
    state: danvan_domain::feedback::FeedbackState,
    ack_due: i64,
    resolve_due: i64,
    now: i64,
) -> (bool, Option<i64>) {
    use danvan_domain::feedback::FeedbackState;
    if !state.is_open() {
        return (false, None);
    }
    let at = if state == FeedbackState::Received {
        ack_due.min(resolve_due)
    } else {
        resolve_due
    };
    if at < now {
        (true, None)
    } else {
        (false, Some(at))
    }
}

/// After a change of state or deadlines, in the change's transaction (the
/// row already locked by its guarded UPDATE): sets the item's `late` and
/// `late_at` anew and moves the 'late' rollup when `late` flipped. The old
/// value is read here, not before the transaction, so a sweep that counted
/// the item late in between is not counted twice.
#[allow(clippy::too_many_arguments)]
pub async fn set_lateness<'c>(
    conn: impl Into<Conn<'c>>,
    id: i64,
    hamlet: i64,
    topic: i64,
    state: FeedbackState,
    ack_due: i64,
    resolve_due: i64,
    now: i64,
) -> Result<()> {
    let mut conn = conn.into();
    let (late, late_at) = lateness(state, ack_due, resolve_due, now);
    let flipped = write::set_late(conn.reborrow(), id, late, late_at).await?;
    if flipped {
        rollup(conn, hamlet, topic, "late", if late { 1 } else { -1 }).await?;
    }
    Ok(())
}

/// Records how long an item took (`kind` "ack" or "resolve") for its
/// hamlet (`path`) and every unit above it.
pub async fn record_duration<'c>(
    conn: impl Into<Conn<'c>>,
    path: &str,
    confidential: bool,
    kind: &str,
    seconds: i64,
    late: bool,
) -> Result<()> {
    let mut conn = conn.into();
    for unit in path_ids(path) {
        on_conn!(conn.reborrow(), |c| {
            sqlx::query(
                "INSERT INTO feedback_durations (unit_id, confidential, kind, bucket, late, n) VALUES ($1, $2, $3, $4, $5, 1) \
                 ON CONFLICT (unit_id, confidential, kind, bucket, late) DO UPDATE SET n = feedback_durations.n + 1",
            )
            .bind(unit)
            .bind(confidential)
            .bind(kind)
            .bind(bucket_minutes(seconds))
            .bind(late)
            .execute(c)
            .await?;
        });
    }
    Ok(())
}

/// When unit `moved` moves from under `old_parent_path` to under
/// `new_parent_path`, its own rows (which total its subtree) leave the old
/// ancestors and join the new ones.
pub async fn shift_rollups<'c>(
    conn: impl Into<Conn<'c>>,
    moved: i64,
    old_parent_path: &str,
    new_parent_path: &str,
) -> Result<()> {
    let mut conn = conn.into();
    for (units, sign) in [
        (path_ids(old_parent_path), -1i64),
        (path_ids(new_parent_path), 1i64),
    ] {
        for unit in units {
            on_conn!(conn.reborrow(), |c| {
                sqlx::query(
                    "INSERT INTO feedback_rollup (unit_id, topic_id, state, n) \
                     SELECT $1, topic_id, state, n * $3 FROM feedback_rollup WHERE unit_id = $2 \
                     ON CONFLICT (unit_id, topic_id, state) DO UPDATE SET n = feedback_rollup.n + excluded.n",
                )
                .bind(unit)
                .bind(moved)
                .bind(sign)
                .execute(&mut *c)
                .await?;
                sqlx::query(
                    "INSERT INTO feedback_durations (unit_id, confidential, kind, bucket, late, n) \
                     SELECT $1, confidential, kind, bucket, late, n * $3 FROM feedback_durations WHERE unit_id = $2 \
                     ON CONFLICT (unit_id, confidential, kind, bucket, late) DO UPDATE SET n = feedback_durations.n + excluded.n",
                )
                .bind(unit)
                .bind(moved)
                .bind(sign)
                .execute(c)
                .await?;
            });
        }
    }
    Ok(())
}

/// Rows written per statement by `rebuild_feedback_rollups`.
const REBUILD_CHUNK: usize = 500;

type DurationKey = (i64, bool, &'static str, i64, bool);

impl Store {
    /// Recomputes both rollups from the per-hamlet counts and the items
    /// themselves: after an upgrade that added them, after a bulk load, or
    /// to repair. Reads the items as a stream; holds one entry per unit ×
    /// topic × state and per unit × bucket.
    pub async fn rebuild_feedback_rollups(&self) -> Result<()> {
        self.recompute_lateness().await?;
        let hamlets: Vec<(String, i64, String, i64)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT h.path, k.topic_id, k.state, k.n FROM feedback_counts k JOIN units h ON h.id = k.hamlet_id WHERE k.n <> 0"
        )
        .fetch_all(p)
        .await?
        });
        let mut counts: HashMap<(i64, i64, String), i64> = HashMap::new();
        for (path, topic, state, n) in hamlets {
            for unit in path_ids(&path) {
                *counts.entry((unit, topic, state.clone())).or_default() += n;
            }
        }
        let late: Vec<(String, i64, i64)> = on_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT path, topic_id, COUNT(*) FROM feedback WHERE late = TRUE GROUP BY path, topic_id",
            )
            .fetch_all(p)
            .await?
        });
        for (path, topic, n) in late {
            for unit in path_ids(&path) {
                *counts.entry((unit, topic, "late".to_string())).or_default() += n;
            }
        }
        // Per hamlet path first (few), then spread to the ancestors.
        let mut by_path: HashMap<(String, bool, &'static str, i64, bool), i64> = HashMap::new();
        on_db!(&self.db, |p| {
            let mut rows = sqlx::query_as::<_, (String, bool, i64, Option<i64>, i64, Option<i64>, i64)>(
                "SELECT path, confidential, received_at, acknowledged_at, ack_due, answered_at, resolve_due FROM feedback \
                 WHERE acknowledged_at IS NOT NULL OR answered_at IS NOT NULL",
            )
            .fetch(p);
            while let Some((path, conf, received, acked, ack_due, answered, resolve_due)) =
                rows.try_next().await?
            {
                if let Some(a) = acked {
                    let key = (
                        path.clone(),
                        conf,
                        "ack",
                        bucket_minutes(a - received),
                        a > ack_due,
                    );
                    *by_path.entry(key).or_default() += 1;
                }
                if let Some(a) = answered {
                    let key = (
                        path,
                        conf,
                        "resolve",
                        bucket_minutes(a - received),
                        a > resolve_due,
                    );
                    *by_path.entry(key).or_default() += 1;
                }
            }
        });
        let mut durations: HashMap<DurationKey, i64> = HashMap::new();
        for ((path, conf, kind, bucket, late), n) in by_path {
            for unit in path_ids(&path) {
                *durations
                    .entry((unit, conf, kind, bucket, late))
                    .or_default() += n;
            }
        }
        let counts: Vec<_> = counts.into_iter().filter(|(_, n)| *n != 0).collect();
        let durations: Vec<_> = durations.into_iter().collect();
        in_tx!(&self.db, |tx| {
            sqlx::query("DELETE FROM feedback_rollup")
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM feedback_durations")
                .execute(&mut *tx)
                .await?;
            let rows: Vec<Rollup> = counts
                .iter()
                .map(|((unit, topic, state), n)| (*unit, *topic, state.clone(), *n))
                .collect();
            add_rollups(&mut *tx, &rows).await?;
            for chunk in durations.chunks(REBUILD_CHUNK) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO feedback_durations (unit_id, confidential, kind, bucket, late, n) ",
                );
                q.push_values(chunk, |mut b, ((unit, conf, kind, bucket, late), n)| {
                    b.push_bind(*unit)
                        .push_bind(*conf)
                        .push_bind(*kind)
                        .push_bind(*bucket)
                        .push_bind(*late)
                        .push_bind(*n);
                });
                q.build().execute(&mut *tx).await?;
            }
            Ok::<(), StoreError>(())
        })
    }

    /// Sets every item's `late` and `late_at` from its state and deadlines
    /// as of now (see [`lateness`]), writing only the rows that change.
    async fn recompute_lateness(&self) -> Result<()> {
        let now = self.now();
        on_db!(&self.db, |p| {
            let mut c = p.acquire().await?;
            write::recompute_lateness(&mut *c, now).await?;
        });
        Ok(())
    }

    /// After an upgrade that added the rollups to a database with feedback
    /// in it: builds them once.
    pub(crate) async fn fill_feedback_rollups_if_missing(&self) -> Result<()> {
        let (items, rolled): (bool, bool) = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM feedback_counts), EXISTS (SELECT 1 FROM feedback_rollup)"
        )
        .fetch_one(p)
        .await?
        });
        if items && !rolled {
            self.rebuild_feedback_rollups().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_give_their_units_from_the_top() {
        assert_eq!(path_ids("/12/345/678/"), vec![12, 345, 678]);
        assert!(path_ids("/").is_empty());
    }

    #[test]
    fn buckets_keep_short_times_fine_and_long_ones_coarse() {
        assert_eq!(bucket_minutes(0), 0);
        assert_eq!(bucket_minutes(-5), 0);
        assert_eq!(bucket_minutes(14 * 60 + 59), 10);
        assert_eq!(bucket_minutes(119 * 60), 115);
        assert_eq!(bucket_minutes(3 * 3600 + 59 * 60), 180);
        assert_eq!(bucket_minutes(3 * 86400 + 3600), 3 * 1440);
        for b in [0, 115, 120, 2820, 2880, 4320] {
            assert_eq!(bucket_minutes((b + bucket_width(b) - 1) * 60), b, "{b}");
        }
    }
}
