//! A unit's feedback dashboard: counts by state × topic × child unit, the
//! share answered on time, the median times to acknowledge and to answer,
//! and the late list. Counts, times and the late count come from the
//! rollups of the unit and its children (`feedback_rollup`), so the cost
//! does not grow with the number of reports; only the late list reads
//! items (50 of them, from the partial indexes of late items), and both
//! late figures add the few items fallen late since the last sweep.

use std::collections::HashMap;

use danvan_domain::feedback::{FeedbackState, Severity};
use serde::Serialize;

use crate::feedback::rollup::bucket_width;
use crate::feedback::{Topic, Viewer};
use crate::registry::unit::Unit;
use crate::{on_db, prefix_end, Result, Store, StoreError};

/// The late items of a subtree as a viewer may see them ($1, $2: the
/// path range; $3: now; $4: officer; $5: a team role's team), in two
/// parts: those the sweep has counted late (`late`) and those fallen late
/// since (`late_at` passed, index `feedback_late_at`: at most a minute's
/// worth). `select` is what to select; `from` names the table, and on
/// SQLite may force the index of the first part (see `late_list_index`).
/// SQLite, without statistics, would read the second part through the
/// path range (a province's: every item) rather than the few entries of
/// `late_at` that have passed, so it is told which index to use.
fn late_parts(select: &str, from: &str, sqlite: bool) -> [String; 2] {
    let rest = "AND f.path >= $1 AND f.path < $2 AND (f.confidential = FALSE OR $4 = TRUE) \
                AND ($5 IS NULL OR f.team_id = $5)";
    let fresh = if sqlite {
        "feedback f INDEXED BY feedback_late_at"
    } else {
        "feedback f"
    };
    [
        format!("SELECT {select} FROM {from} WHERE f.late = TRUE {rest}"),
        format!("SELECT {select} FROM {fresh} WHERE f.late_at < $3 {rest}"),
    ]
}

/// Which index SQLite should read a late list from. Its planner cannot
/// tell a province's path range (nearly every late item) from a hamlet's,
/// and always takes the range of `feedback_late`, which for a province
/// means reading all its late items to sort out the 50 most overdue.
/// `feedback_late_due` walks all late items in deadline order instead and
/// stops at 50 of the unit's: about `50 × all / unit` rows against `unit`
/// rows by place. (PostgreSQL plans each range with its statistics.)
fn late_list_index(unit_late: i64, all_late: i64) -> &'static str {
    if unit_late > 0 && unit_late.saturating_mul(unit_late) > LATE_LIST.saturating_mul(all_late) {
        "feedback f INDEXED BY feedback_late_due"
    } else {
        "feedback f"
    }
}

/// Items shown in the late list (the count says how many there are).
pub const LATE_LIST: i64 = 50;

/// The states in the order a dashboard shows them.
pub const STATES: [FeedbackState; 7] = [
    FeedbackState::Received,
    FeedbackState::Acknowledged,
    FeedbackState::InProgress,
    FeedbackState::Reopened,
    FeedbackState::Answered,
    FeedbackState::Closed,
    FeedbackState::Refused,
];

/// One row of counts, by state in the order of `STATES`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateCounts {
    pub by_state: [i64; 7],
}

impl StateCounts {
    fn add(&mut self, state: &str, n: i64) {
        if let Some(i) = STATES.iter().position(|s| s.as_str() == state) {
            self.by_state[i] += n;
        }
    }
    pub fn total(&self) -> i64 {
        self.by_state.iter().sum()
    }
    /// Not yet answered, refused or closed.
    pub fn open(&self) -> i64 {
        STATES
            .iter()
            .zip(self.by_state)
            .filter(|(s, _)| s.is_open())
            .map(|(_, n)| n)
            .sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicRow {
    pub topic: Topic,
    pub counts: StateCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChildRow {
    pub unit_id: i64,
    pub name: String,
    pub counts: StateCounts,
}

/// Answers given under a child unit, and of them before the deadline
/// (from the child's `feedback_durations`, all topics the viewer sees).
#[derive(Debug, Clone, Serialize)]
pub struct OnTimeRow {
    pub unit_id: i64,
    pub name: String,
    pub answered: i64,
    pub on_time: i64,
}

impl OnTimeRow {
    /// Share answered on time, in percent.
    pub fn percent(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.on_time as f64 * 100.0 / self.answered as f64)
    }
}

/// Weeks a dashboard's weekly figures cover, the current one last.
pub const WEEKS: i64 = 12;

/// Monday 5 January 1970, 00:00 in Vietnam (+07:00): weeks start on a
/// Monday, Vietnam time.
const FIRST_MONDAY: i64 = 4 * 86_400 - 7 * 3_600;
const WEEK: i64 = 7 * 86_400;

/// The Monday (unix seconds, 00:00 Vietnam time) of the week holding `t`.
pub fn week_start(t: i64) -> i64 {
    FIRST_MONDAY + (t - FIRST_MONDAY).div_euclid(WEEK) * WEEK
}

/// Reports received per week and topic, and how many of those are
/// resolved now (answered, closed or refused): a row per topic with
/// any, `weeks` the Mondays in order.
#[derive(Debug, Clone, Serialize)]
pub struct Weekly {
    pub weeks: Vec<i64>,
    pub topics: Vec<WeeklyTopic>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeeklyTopic {
    pub topic: Topic,
    pub received: Vec<i64>,
    pub resolved: Vec<i64>,
}

/// A late item, as the list shows it (no reporter).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LateItem {
    pub id: i64,
    pub code: String,
    pub topic_name_vi: String,
    pub topic_name_en: String,
    #[sqlx(try_from = "String")]
    pub severity: Severity,
    #[sqlx(try_from = "String")]
    pub state: FeedbackState,
    pub hamlet_name: String,
    pub responsible_label: String,
    pub received_at: i64,
    pub ack_due: i64,
    pub resolve_due: i64,
    pub escalation_level: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub unit: Unit,
    /// The topic the child-unit table is narrowed to, if any.
    pub topic_filter: Option<i64>,
    pub totals: StateCounts,
    pub by_topic: Vec<TopicRow>,
    pub by_child: Vec<ChildRow>,
    /// The share answered on time under each child unit with answers.
    pub on_time_by_child: Vec<OnTimeRow>,
    /// Answered (first answer) in all, and of them before the deadline.
    pub answered: i64,
    pub answered_on_time: i64,
    /// Median minutes from receipt to first response and to the answer
    /// (the middle of the histogram bucket holding the median).
    pub median_ack_minutes: Option<i64>,
    pub median_resolve_minutes: Option<i64>,
    pub late_total: i64,
    pub late: Vec<LateItem>,
    /// When it was read (for "late" and the export's title).
    pub at: i64,
}

impl Dashboard {
    /// Share answered on time, in percent.
    pub fn on_time_percent(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.answered_on_time as f64 * 100.0 / self.answered as f64)
    }
}

/// The median of a histogram of (bucket start, count), as the middle of
/// its bucket.
fn median(mut hist: Vec<(i64, i64)>) -> Option<i64> {
    hist.sort_unstable();
    let total: i64 = hist.iter().map(|(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    let half = (total + 1) / 2;
    let mut seen = 0;
    for (bucket, n) in hist {
        seen += n;
        if seen >= half {
            return Some(bucket + bucket_width(bucket) / 2);
        }
    }
    None
}

impl Store {
    /// How many items under `unit` are late, as `viewer` may see them: the
    /// 'late' rollups of the unit, plus those fallen late since the last
    /// sweep. A team role sees only its team's items, which the rollups
    /// do not tell apart: those it counts (a hamlet's worth).
    pub(crate) async fn late_count(&self, viewer: &Viewer, unit: &Unit, now: i64) -> Result<i64> {
        let end = prefix_end(&unit.path);
        let sqlite = self.backend() == "sqlite";
        let [counted, fresh] = late_parts("COUNT(*)", "feedback f", sqlite);
        let sql = if viewer.scope.team_id.is_some() {
            format!("SELECT ({counted}) + ({fresh})")
        } else {
            format!(
                "SELECT (SELECT CAST(COALESCE(SUM(r.n), 0) AS BIGINT) FROM feedback_rollup r JOIN topics t ON t.id = r.topic_id \
                 WHERE r.unit_id = $6 AND r.state = 'late' AND (t.confidential = FALSE OR $4 = TRUE)) + ({fresh})"
            )
        };
        let team = viewer.scope.team_id;
        let (n,): (i64,) = on_db!(&self.db, |p| {
            let q = sqlx::query_as(&sql)
                .bind(&unit.path)
                .bind(&end)
                .bind(now)
                .bind(viewer.sees_confidential())
                .bind(team);
            let q = if team.is_none() { q.bind(unit.id) } else { q };
            q.fetch_one(p).await?
        });
        Ok(n)
    }

    /// Open and late items of a unit, for a home page: the rollup row and
    /// the late count, without the rest of the dashboard.
    pub async fn feedback_at_a_glance(&self, viewer: &Viewer, unit_id: i64) -> Result<(i64, i64)> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        // Those whose list is by place count what their list shows.
        if Self::inbox_by_place(viewer, &unit.path) {
            return self.inbox_open_and_late(viewer, unit_id).await;
        }
        let (open,): (i64,) = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(r.n), 0) AS BIGINT) FROM feedback_rollup r JOIN topics t ON t.id = r.topic_id \
             WHERE r.unit_id = $1 AND r.state IN ('received', 'acknowledged', 'in_progress', 'reopened') \
             AND (t.confidential = FALSE OR $2 = TRUE)"
        )
        .bind(unit_id)
        .bind(viewer.sees_confidential())
        .fetch_one(p)
        .await?
        });
        let late = self.late_count(viewer, &unit, self.now()).await?;
        Ok((open, late))
    }

    /// The dashboard of `unit_id` as `viewer` may see it: confidential
    /// topics only for officers. `topic` narrows the child-unit table.
    pub async fn feedback_dashboard(
        &self,
        viewer: &Viewer,
        unit_id: i64,
        topic: Option<i64>,
    ) -> Result<Dashboard> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        let officer = viewer.sees_confidential();
        let topics: HashMap<i64, Topic> = self
            .topics_cached()
            .await?
            .iter()
            .filter(|t| officer || !t.confidential)
            .map(|t| (t.id, t.clone()))
            .collect();
        let own: Vec<(i64, String, i64)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT topic_id, state, n FROM feedback_rollup WHERE unit_id = $1"
        )
        .bind(unit_id)
        .fetch_all(p)
        .await?);
        let mut totals = StateCounts::default();
        let mut by_topic: HashMap<i64, StateCounts> = HashMap::new();
        for (t, state, n) in own {
            if topics.contains_key(&t) {
                totals.add(&state, n);
                by_topic.entry(t).or_default().add(&state, n);
            }
        }
        let mut by_topic: Vec<TopicRow> = by_topic
            .into_iter()
            .filter(|(_, c)| c.total() != 0)
            .filter_map(|(t, counts)| {
                topics.get(&t).map(|topic| TopicRow {
                    topic: topic.clone(),
                    counts,
                })
            })
            .collect();
        by_topic.sort_by_key(|r| (std::cmp::Reverse(r.counts.total()), r.topic.id));

        // Summed over topics here: a province's children hold some 4,000
        // rows of unit × topic × state, their sums a tenth of that.
        let children: Vec<(i64, String, String, i64)> = on_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT c.id, c.name, r.state, CAST(SUM(r.n) AS BIGINT) FROM units c JOIN feedback_rollup r ON r.unit_id = c.id \
                 JOIN topics t ON t.id = r.topic_id \
                 WHERE c.parent_id = $1 AND ($2 IS NULL OR r.topic_id = $2) AND r.n <> 0 AND r.state <> 'late' \
                 AND t.active = TRUE AND (t.confidential = FALSE OR $3 = TRUE) \
                 GROUP BY c.id, c.name, r.state",
            )
            .bind(unit_id)
            .bind(topic)
            .bind(officer)
            .fetch_all(p)
            .await?
        });
        let mut by_child: Vec<ChildRow> = Vec::new();
        for (id, name, state, n) in children {
            match by_child.iter_mut().find(|c| c.unit_id == id) {
                Some(c) => c.counts.add(&state, n),
                None => {
                    let mut counts = StateCounts::default();
                    counts.add(&state, n);
                    by_child.push(ChildRow {
                        unit_id: id,
                        name,
                        counts,
                    });
                }
            }
        }
        by_child.retain(|c| c.counts.total() != 0);
        by_child.sort_by_cached_key(|c| danvan_domain::text::sort_key(&c.name));

        let hist: Vec<(String, i64, bool, i64)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT kind, bucket, late, n FROM feedback_durations WHERE unit_id = $1 AND (confidential = FALSE OR $2 = TRUE)"
        )
        .bind(unit_id)
        .bind(officer)
        .fetch_all(p)
        .await?
        });
        let (mut ack, mut resolve) = (Vec::new(), Vec::new());
        let (mut answered, mut answered_on_time) = (0, 0);
        for (kind, bucket, late, n) in hist {
            if kind == "ack" {
                ack.push((bucket, n));
            } else {
                resolve.push((bucket, n));
                answered += n;
                if !late {
                    answered_on_time += n;
                }
            }
        }

        let on_time: Vec<(i64, String, bool, i64)> = on_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT c.id, c.name, d.late, CAST(SUM(d.n) AS BIGINT) FROM units c JOIN feedback_durations d ON d.unit_id = c.id \
                 WHERE c.parent_id = $1 AND d.kind = 'resolve' AND (d.confidential = FALSE OR $2 = TRUE) \
                 GROUP BY c.id, c.name, d.late",
            )
            .bind(unit_id)
            .bind(officer)
            .fetch_all(p)
            .await?
        });
        let mut on_time_by_child: Vec<OnTimeRow> = Vec::new();
        for (id, name, late, n) in on_time {
            let row = match on_time_by_child.iter_mut().find(|r| r.unit_id == id) {
                Some(r) => r,
                None => {
                    on_time_by_child.push(OnTimeRow {
                        unit_id: id,
                        name,
                        answered: 0,
                        on_time: 0,
                    });
                    on_time_by_child.last_mut().ok_or(StoreError::NotFound)?
                }
            };
            row.answered += n;
            if !late {
                row.on_time += n;
            }
        }
        on_time_by_child.retain(|r| r.answered > 0);
        on_time_by_child.sort_by_cached_key(|r| danvan_domain::text::sort_key(&r.name));

        let now = self.now();
        let late_total = self.late_count(viewer, &unit, now).await?;
        let end = prefix_end(&unit.path);
        // The most overdue of each part, then of both.
        let from = if self.backend() == "sqlite" {
            let (all_late,): (i64,) = on_db!(&self.db, |p| {
                sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(r.n), 0) AS BIGINT) FROM feedback_rollup r JOIN units u ON u.id = r.unit_id \
                 WHERE u.parent_id IS NULL AND r.state = 'late'"
            )
            .fetch_one(p)
            .await?
            });
            late_list_index(late_total, all_late)
        } else {
            "feedback f"
        };
        let [counted, fresh] = late_parts("f.id, f.resolve_due", from, self.backend() == "sqlite");
        let late: Vec<LateItem> = on_db!(&self.db, |p| {
            sqlx::query_as(&format!(
            "SELECT f.id, f.code, t.name_vi AS topic_name_vi, t.name_en AS topic_name_en, f.severity, f.state, u.name AS hamlet_name, \
             f.responsible_label, f.received_at, f.ack_due, f.resolve_due, f.escalation_level \
             FROM feedback f JOIN topics t ON t.id = f.topic_id JOIN units u ON u.id = f.hamlet_id \
             WHERE f.id IN (SELECT a.id FROM ({counted} ORDER BY f.resolve_due, f.id LIMIT $6) a \
             UNION ALL SELECT b.id FROM ({fresh} ORDER BY f.resolve_due, f.id LIMIT $6) b) \
             ORDER BY f.resolve_due, f.id LIMIT $6"
        ))
        .bind(&unit.path)
        .bind(&end)
        .bind(now)
        .bind(officer)
        .bind(viewer.scope.team_id)
        .bind(LATE_LIST)
        .fetch_all(p)
        .await?
        });

        Ok(Dashboard {
            unit,
            topic_filter: topic,
            totals,
            by_topic,
            by_child,
            on_time_by_child,
            answered,
            answered_on_time,
            median_ack_minutes: median(ack),
            median_resolve_minutes: median(resolve),
            late_total,
            late,
            at: now,
        })
    }

    /// The last [`WEEKS`] weeks of `unit_id` as `viewer` may see them:
    /// reports received each week by topic, and how many of them are
    /// resolved now. Reads the items received since the first of those
    /// Mondays (index `feedback_path`), never older ones; the rollups have
    /// no time, so this is the one dashboard figure that reads items.
    pub async fn feedback_weekly(&self, viewer: &Viewer, unit_id: i64) -> Result<Weekly> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        let officer = viewer.sees_confidential();
        let now = self.now();
        let first = week_start(now) - (WEEKS - 1) * WEEK;
        let weeks: Vec<i64> = (0..WEEKS).map(|i| first + i * WEEK).collect();
        let resolved = STATES
            .iter()
            .filter(|s| !s.is_open())
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT CAST((f.received_at - $3) / {WEEK} AS BIGINT) AS week, f.topic_id, COUNT(*), \
             CAST(SUM(CASE WHEN f.state IN ({resolved}) THEN 1 ELSE 0 END) AS BIGINT) \
             FROM feedback f WHERE f.path >= $1 AND f.path < $2 AND f.received_at >= $3 AND f.received_at <= $4 \
             AND (f.confidential = FALSE OR $5 = TRUE) AND ($6 IS NULL OR f.team_id = $6) GROUP BY 1, 2"
        );
        let end = prefix_end(&unit.path);
        let rows: Vec<(i64, i64, i64, i64)> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&unit.path)
            .bind(&end)
            .bind(first)
            .bind(now)
            .bind(officer)
            .bind(viewer.scope.team_id)
            .fetch_all(p)
            .await?);
        let topics = self.topics_cached().await?;
        let mut out: Vec<WeeklyTopic> = Vec::new();
        for (week, topic, received, resolved) in rows {
            let Ok(i) = usize::try_from(week) else {
                continue;
            };
            if i >= weeks.len() {
                continue;
            }
            let row = match out.iter().position(|r| r.topic.id == topic) {
                Some(k) => &mut out[k],
                None => {
                    let Some(t) = topics
                        .iter()
                        .find(|t| t.id == topic && (officer || !t.confidential))
                    else {
                        continue;
                    };
                    out.push(WeeklyTopic {
                        topic: t.clone(),
                        received: vec![0; weeks.len()],
                        resolved: vec![0; weeks.len()],
                    });
                    let k = out.len() - 1;
                    &mut out[k]
                }
            };
            row.received[i] += received;
            row.resolved[i] += resolved;
        }
        // In the topics' own order.
        out.sort_by_key(|r| topics.iter().position(|t| t.id == r.topic.id));
        Ok(Weekly { weeks, topics: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_in_vietnam() {
        // Monday 1 June 2026 00:00 +07:00 = 31 May 17:00 UTC.
        let monday = 1_780_246_800;
        assert_eq!(week_start(monday), monday);
        assert_eq!(week_start(monday + WEEK - 1), monday);
        assert_eq!(week_start(monday - 1), monday - WEEK);
        assert_eq!(week_start(monday + 3 * 86_400 + 3_600), monday);
    }

    #[test]
    fn a_large_share_of_late_items_is_read_in_deadline_order() {
        // A province with all 51,000 late items; a commune with 500 of them.
        assert!(late_list_index(51_000, 51_000).contains("feedback_late_due"));
        assert_eq!(late_list_index(500, 51_000), "feedback f");
        assert_eq!(late_list_index(0, 0), "feedback f");
    }

    #[test]
    fn the_median_is_the_middle_of_its_bucket() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![(10, 1)]), Some(12));
        // 3 items: 0-5, 0-5, 3h → the second is the median.
        assert_eq!(median(vec![(180, 1), (0, 2)]), Some(2));
        // 4 items: 2 quick, 2 slow → the second (the lower middle).
        assert_eq!(median(vec![(0, 2), (2880, 2)]), Some(2));
        assert_eq!(median(vec![(0, 1), (2880, 2)]), Some(2880 + 720));
    }
}
