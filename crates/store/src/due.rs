//! What is due for a person today: the lists of their home page. Each list
//! is the first [`DUE_LIMIT`] items and the count of all (`COUNT(*) OVER
//! ()`, one query), read within the person's part of the tree, never
//! written. Which lists a home shows follows from where the person serves
//! (a team or a hamlet: the field's lists; a commune: the officer's; above:
//! the communes side by side) and from what the policy lets them do.

use danvan_domain::policy::{Action, Target};
use danvan_domain::UnitLevel;
use serde::Serialize;

use crate::registry::stats::Counts;
use crate::registry::unit::Unit;
use crate::{on_db, prefix_end, Result, Store, Viewer};

/// Items shown per list; the count says how many there are in all.
pub const DUE_LIMIT: i64 = 20;
/// "Nearly late": late within this many seconds.
pub const NEARLY_LATE_SECONDS: i64 = 24 * 3600;
/// Teams with fewer members than this are short of people.
pub const MIN_MEMBERS: i64 = 5;

/// One item of a list: what to link to and what to say.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DueItem {
    /// The record the link opens (a feedback item, an announcement, a
    /// household, a resident, a team).
    pub id: i64,
    /// A second record when the link needs one (the household of a visit).
    pub other_id: Option<i64>,
    pub label: String,
    pub detail: Option<String>,
    /// A time, for deadlines (Unix seconds).
    pub at: Option<i64>,
    pub total: i64,
}

/// A list and how many there are in all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DueList {
    pub total: i64,
    pub items: Vec<DueItem>,
}

impl DueList {
    fn of(items: Vec<DueItem>) -> DueList {
        DueList {
            total: items.first().map_or(0, |i| i.total),
            items,
        }
    }
}

/// The field's lists: a team's households, or a hamlet's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FieldDue {
    /// Households to visit for an announcement (no phone, or the SMS
    /// fell back to a visit).
    pub visits: DueList,
    /// Open reports of the households (or the hamlet).
    pub complaints: DueList,
    /// Households a current announcement has not reached by any channel.
    pub unreached: DueList,
    /// Residents with no phone or no birth year.
    pub incomplete: DueList,
}

/// The officer's lists, for a commune (or any unit they handle).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OfficeDue {
    pub late: Option<DueList>,
    pub nearly_late: Option<DueList>,
    /// Draft answers waiting for the leader's approval (leaders only).
    pub answers_waiting: Option<DueList>,
    /// Announcements waiting for approval (those who approve only).
    pub announcements_waiting: Option<DueList>,
    /// Teams without a leader or with fewer than [`MIN_MEMBERS`].
    pub weak_teams: Option<DueList>,
    /// Households that no team looks after.
    pub without_team: Option<DueList>,
}

/// A commune's figures, side by side with the others' on a province home.
#[derive(Debug, Clone, Serialize)]
pub struct CommuneFigures {
    pub unit: Unit,
    pub counts: Counts,
    pub open: i64,
    pub late: i64,
}

/// Where a person serves, as their home sees it.
pub enum Ground<'a> {
    /// A team: its households.
    Team { path: &'a str, team_id: i64 },
    /// A hamlet: all of its households.
    Hamlet { path: &'a str },
}

impl Ground<'_> {
    fn binds(&self) -> (String, String, Option<i64>) {
        match self {
            Ground::Team { path, team_id } => (path.to_string(), prefix_end(path), Some(*team_id)),
            Ground::Hamlet { path } => (path.to_string(), prefix_end(path), None),
        }
    }
}

const OPEN_STATES: &str = "('received', 'acknowledged', 'in_progress', 'reopened')";

impl Store {
    /// The field's lists for a team or a hamlet.
    pub async fn field_due(&self, viewer: &Viewer, ground: &Ground<'_>) -> Result<FieldDue> {
        let (path, end, team) = ground.binds();
        if !viewer.scope.contains_path(&path) {
            return Ok(FieldDue::default());
        }
        let now = self.now();
        let visits_sql = format!(
            "SELECT d.announcement_id AS id, d.household_id AS other_id, a.title AS label, \
             h.head_name || COALESCE(' · ' || d.reason, '') AS detail, a.send_at AS at, COUNT(*) OVER () AS total \
             FROM announcements a JOIN deliveries d ON d.announcement_id = a.id JOIN households h ON h.id = d.household_id \
             WHERE a.state = 'planned' AND a.expires_at > $4 AND d.channel = 'visit' AND d.state = 'planned' \
             AND d.path >= $1 AND d.path < $2 AND ($3 IS NULL OR d.team_id = $3) \
             ORDER BY CASE a.urgency WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END, a.send_at, h.head_sort_key LIMIT {DUE_LIMIT}"
        );
        let complaints_sql = format!(
            "SELECT f.id, f.household_id AS other_id, f.code || ' · ' || tp.name_vi AS label, h.head_name AS detail, \
             f.resolve_due AS at, COUNT(*) OVER () AS total \
             FROM feedback f JOIN topics tp ON tp.id = f.topic_id LEFT JOIN households h ON h.id = f.household_id \
             WHERE f.state IN {OPEN_STATES} AND f.duplicate_of IS NULL AND f.path >= $1 AND f.path < $2 \
             AND ($3 IS NULL OR f.team_id = $3 OR h.team_id = $3) AND (f.confidential = FALSE OR $4 = TRUE) \
             ORDER BY f.resolve_due, f.id LIMIT {DUE_LIMIT}"
        );
        let unreached_sql = format!(
            "SELECT h.id, CAST(NULL AS BIGINT) AS other_id, h.head_name AS label, h.code AS detail, CAST(NULL AS BIGINT) AS at, \
             COUNT(*) OVER () AS total FROM households h \
             WHERE h.path >= $1 AND h.path < $2 AND ($3 IS NULL OR h.team_id = $3) \
             AND EXISTS (SELECT 1 FROM announcements a JOIN deliveries d ON d.announcement_id = a.id AND d.household_id = h.id \
                 WHERE a.state = 'planned' AND a.expires_at > $4 \
                 AND NOT EXISTS (SELECT 1 FROM deliveries d2 WHERE d2.announcement_id = a.id AND d2.household_id = h.id \
                     AND d2.state IN ('delivered', 'acknowledged'))) \
             ORDER BY h.head_sort_key, h.id LIMIT {DUE_LIMIT}"
        );
        let incomplete_sql = format!(
            "SELECT r.id, r.household_id AS other_id, r.family || ' ' || r.middle || ' ' || r.given AS label, \
             CASE WHEN r.phone IS NULL AND r.birth_year IS NULL THEN 'phone,birth' WHEN r.phone IS NULL THEN 'phone' ELSE 'birth' END AS detail, \
             CAST(NULL AS BIGINT) AS at, COUNT(*) OVER () AS total \
             FROM residents r JOIN households h ON h.id = r.household_id \
             WHERE h.path >= $1 AND h.path < $2 AND ($3 IS NULL OR h.team_id = $3) AND (r.phone IS NULL OR r.birth_year IS NULL) \
             ORDER BY h.head_sort_key, r.sort_key, r.id LIMIT {DUE_LIMIT}"
        );
        let sees = viewer.sees_confidential();
        let run = |sql: String, fourth: Fourth| {
            let (path, end) = (path.clone(), end.clone());
            async move {
                let rows: Vec<DueItem> = on_db!(&self.db, |p| {
                    let q = sqlx::query_as(&sql).bind(&path).bind(&end).bind(team);
                    let q = match fourth {
                        Fourth::Now => q.bind(now),
                        Fourth::Sees => q.bind(sees),
                        Fourth::None => q,
                    };
                    q.fetch_all(p).await?
                });
                Ok::<DueList, crate::StoreError>(DueList::of(rows))
            }
        };
        Ok(FieldDue {
            visits: run(visits_sql, Fourth::Now).await?,
            complaints: run(complaints_sql, Fourth::Sees).await?,
            unreached: run(unreached_sql, Fourth::Now).await?,
            incomplete: run(incomplete_sql, Fourth::None).await?,
        })
    }

    /// The officer's lists for `unit`, each only when the policy lets the
    /// viewer act on it there.
    pub async fn office_due(&self, viewer: &Viewer, unit: &Unit) -> Result<OfficeDue> {
        if !viewer.scope.contains_path(&unit.path) {
            return Ok(OfficeDue::default());
        }
        let (path, end) = (unit.path.clone(), prefix_end(&unit.path));
        let now = self.now();
        let sees = viewer.sees_confidential();
        let here = Target::at(&unit.path).handled_at(&unit.path);
        let feedback = |cond: &str| {
            format!(
                "SELECT f.id, CAST(NULL AS BIGINT) AS other_id, f.code || ' · ' || tp.name_vi AS label, \
                 f.responsible_label AS detail, COALESCE(f.late_at, f.resolve_due) AS at, COUNT(*) OVER () AS total \
                 FROM feedback f JOIN topics tp ON tp.id = f.topic_id \
                 WHERE f.state IN {OPEN_STATES} AND f.duplicate_of IS NULL \
                 AND ((f.path >= $1 AND f.path < $2) OR (f.responsible_path >= $1 AND f.responsible_path < $2)) \
                 AND (f.confidential = FALSE OR $3 = TRUE) AND {cond} \
                 ORDER BY COALESCE(f.late_at, f.resolve_due), f.id LIMIT {DUE_LIMIT}"
            )
        };
        let list = |sql: String, a: i64, b: i64| {
            let (path, end) = (path.clone(), end.clone());
            async move {
                let rows: Vec<DueItem> = on_db!(&self.db, |p| sqlx::query_as(&sql)
                    .bind(&path)
                    .bind(&end)
                    .bind(sees)
                    .bind(a)
                    .bind(b)
                    .fetch_all(p)
                    .await?);
                Ok::<DueList, crate::StoreError>(DueList::of(rows))
            }
        };
        let mut due = OfficeDue::default();
        if viewer.may(Action::HandleFeedback, &here) {
            due.late = Some(
                list(
                    feedback("(f.late = TRUE OR f.late_at < $4) AND $5 = $5"),
                    now,
                    0,
                )
                .await?,
            );
            due.nearly_late = Some(
                list(
                    feedback("f.late = FALSE AND f.late_at >= $4 AND f.late_at < $5"),
                    now,
                    now + NEARLY_LATE_SECONDS,
                )
                .await?,
            );
        }
        if viewer.may(Action::ApproveFeedbackAnswer, &here) {
            due.answers_waiting = Some(
                list(
                    feedback("f.answer_draft IS NOT NULL AND f.responsible_path >= $1 AND $4 = $4 AND $5 = $5"),
                    0,
                    0,
                )
                .await?,
            );
        }
        let approval = self.announcement_approval(&unit.path).await?;
        if viewer.may(
            Action::ApproveAnnouncement,
            &Target::at(&unit.path).approval(approval),
        ) {
            let sql = format!(
                "SELECT a.id, CAST(NULL AS BIGINT) AS other_id, a.title AS label, u.name AS detail, a.send_at AS at, \
                 COUNT(*) OVER () AS total FROM announcements a JOIN units u ON u.id = a.unit_id \
                 WHERE a.state = 'pending' AND a.path >= $1 AND a.path < $2 AND $3 = $3 AND $4 = $4 AND $5 = $5 \
                 ORDER BY CASE a.urgency WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END, a.send_at LIMIT {DUE_LIMIT}"
            );
            due.announcements_waiting = Some(list(sql, 0, 0).await?);
        }
        if viewer.may(Action::ManageTeams, &Target::at(&unit.path)) {
            let today = self.today().format("%Y-%m-%d").to_string();
            let sql = format!(
                "SELECT id, other_id, label, detail, at, COUNT(*) OVER () AS total FROM ( \
                   SELECT t.id, CAST(NULL AS BIGINT) AS other_id, t.name AS label, u.name AS detail, \
                   (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id AND (m.term_to IS NULL OR m.term_to >= $4)) AS at, \
                   (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id AND m.role = 'leader' AND (m.term_to IS NULL OR m.term_to >= $4)) AS leaders, \
                   u.sort_key AS hamlet_key, t.sort_key AS team_key \
                   FROM teams t JOIN units u ON u.id = t.hamlet_id \
                   WHERE t.path >= $1 AND t.path < $2 AND t.kind = 'team' AND t.closed_on IS NULL AND $3 = $3 AND $5 = $5) x \
                 WHERE x.leaders = 0 OR x.at < {MIN_MEMBERS} ORDER BY hamlet_key, team_key, id LIMIT {DUE_LIMIT}"
            );
            let rows: Vec<DueItem> = on_db!(&self.db, |p| sqlx::query_as(&sql)
                .bind(&path)
                .bind(&end)
                .bind(sees)
                .bind(&today)
                .bind(0i64)
                .fetch_all(p)
                .await?);
            due.weak_teams = Some(DueList::of(rows));
        }
        if viewer.may(Action::AssignHousehold, &Target::at(&unit.path)) {
            let sql = format!(
                "SELECT h.id, h.hamlet_id AS other_id, h.head_name AS label, u.name AS detail, CAST(NULL AS BIGINT) AS at, \
                 COUNT(*) OVER () AS total FROM households h JOIN units u ON u.id = h.hamlet_id \
                 WHERE h.path >= $1 AND h.path < $2 AND h.team_id IS NULL AND $3 = $3 AND $4 = $4 AND $5 = $5 \
                 ORDER BY u.sort_key, h.head_sort_key, h.id LIMIT {DUE_LIMIT}"
            );
            due.without_team = Some(list(sql, 0, 0).await?);
        }
        Ok(due)
    }

    /// The communes under `unit` with their figures, side by side (a
    /// province's or a district's home).
    pub async fn communes_side_by_side(
        &self,
        viewer: &Viewer,
        unit: &Unit,
    ) -> Result<Vec<CommuneFigures>> {
        if !viewer.scope.contains_path(&unit.path) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM units WHERE path >= $1 AND path < $2 AND level = $3 AND valid_to IS NULL ORDER BY sort_key, id LIMIT 500",
            crate::registry::unit::UNIT_COLUMNS
        );
        let communes: Vec<Unit> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&unit.path)
            .bind(prefix_end(&unit.path))
            .bind(UnitLevel::Commune.as_str())
            .fetch_all(p)
            .await?);
        let mut out = Vec::with_capacity(communes.len());
        for c in communes {
            let counts = self.counts(&c.path).await?;
            let (open, late) = self.feedback_at_a_glance(viewer, c.id).await?;
            out.push(CommuneFigures {
                unit: c,
                counts,
                open,
                late,
            });
        }
        Ok(out)
    }
}

/// The fourth parameter of a field list.
#[derive(Clone, Copy)]
enum Fourth {
    Now,
    Sees,
    None,
}
