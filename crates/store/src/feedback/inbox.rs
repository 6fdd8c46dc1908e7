//! A unit's inbox: the items it must answer (those whose responsible unit is
//! it or below it), filtered and sorted by deadline, a page at a time; the
//! people an item can be given to; and the unit's answer templates.

use danvan_domain::feedback::{FeedbackState, Severity};
use danvan_domain::policy::{Action, Target};
use danvan_domain::problem::Problem;
use danvan_domain::text;
use serde::Serialize;

use crate::feedback::Viewer;
use crate::{audit, in_tx, on_db, Result, Store, StoreError};

/// Items per inbox page.
pub const INBOX_PAGE: i64 = 50;
/// Longest template title and body (characters).
const TEMPLATE_TITLE: usize = 120;
const TEMPLATE_BODY: usize = 4000;

/// Which states an inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Received, acknowledged, in progress, reopened.
    #[default]
    Open,
    All,
    Only(FeedbackState),
}

impl StateFilter {
    pub fn parse(s: &str) -> StateFilter {
        match s {
            "" | "open" => StateFilter::Open,
            "all" => StateFilter::All,
            other => FeedbackState::parse(other).map_or(StateFilter::Open, StateFilter::Only),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            StateFilter::Open => "open",
            StateFilter::All => "all",
            StateFilter::Only(s) => s.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxSort {
    /// The nearest deadline first (to answer; to acknowledge while received).
    #[default]
    Deadline,
    /// The newest first.
    Newest,
}

#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub state: StateFilter,
    pub topic_id: Option<i64>,
    pub severity: Option<Severity>,
    /// Only items past their deadline.
    pub late: bool,
    pub team_id: Option<i64>,
    pub hamlet_id: Option<i64>,
    /// Only the reports this account recorded for a resident.
    pub recorded_by: Option<i64>,
    pub sort: InboxSort,
    /// From 0.
    pub page: i64,
}

/// One line of the inbox (no reporter: that is on the item page).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct InboxRow {
    pub id: i64,
    pub code: String,
    pub topic_name_vi: String,
    pub topic_name_en: String,
    #[sqlx(try_from = "String")]
    pub severity: Severity,
    #[sqlx(try_from = "String")]
    pub state: FeedbackState,
    pub description: String,
    pub hamlet_name: String,
    pub team_id: Option<i64>,
    pub responsible_label: String,
    pub assignee: Option<String>,
    pub escalation_level: i32,
    pub confidential: bool,
    pub received_at: i64,
    pub ack_due: i64,
    pub resolve_due: i64,
}

impl InboxRow {
    /// The deadline that matters now: to acknowledge while received.
    pub fn due(&self) -> i64 {
        if self.state == FeedbackState::Received {
            self.ack_due.min(self.resolve_due)
        } else {
            self.resolve_due
        }
    }
    pub fn is_late(&self, now: i64) -> bool {
        crate::feedback::rollup::lateness(self.state, self.ack_due, self.resolve_due, now).0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Inbox {
    pub rows: Vec<InboxRow>,
    /// Items matching the filter, in all.
    pub total: i64,
    pub page: i64,
    pub at: i64,
}

impl Inbox {
    pub fn pages(&self) -> i64 {
        (self.total + INBOX_PAGE - 1) / INBOX_PAGE
    }
}

/// Someone an item can be given to.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Assignee {
    pub id: i64,
    pub display_name: String,
    pub role: String,
    pub unit_name: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AnswerTemplate {
    pub id: i64,
    pub unit_id: i64,
    pub title: String,
    pub body: String,
}

/// The inbox's filters, after the unit range ($1, $2, on the column
/// `{by}`: see [`Store::inbox_by_place`]) and the viewer ($3 team, $4
/// officer); binds $5..$12.
const INBOX_WHERE: &str = "FROM feedback f JOIN topics t ON t.id = f.topic_id JOIN units u ON u.id = f.hamlet_id \
     LEFT JOIN accounts a ON a.id = f.responsible_account_id \
     WHERE f.{by} >= $1 AND f.{by} < $2 \
     AND ($3 IS NULL OR f.team_id = $3) AND (f.confidential = FALSE OR $4 = TRUE) \
     AND ($5 = 'all' OR ($5 = 'open' AND f.state IN ('received', 'acknowledged', 'in_progress', 'reopened')) OR f.state = $5) \
     AND ($6 IS NULL OR f.topic_id = $6) AND ($7 IS NULL OR f.severity = $7) \
     AND ($8 = FALSE OR f.late = TRUE OR f.late_at < $9) \
     AND ($10 IS NULL OR f.team_id = $10) AND ($11 IS NULL OR f.hamlet_id = $11) \
     AND ($12 IS NULL OR f.relayed_by = $12)";

impl Store {
    /// The one rule for which items a unit's list (and its home counts)
    /// holds: for those who handle feedback there, the items it or a unit
    /// below it must answer; for the others (a hamlet head, a team), the
    /// items raised in its part of the tree (a team: its households) —
    /// those are handled by the commune, so by handling they saw none.
    pub fn inbox_by_place(viewer: &Viewer, unit_path: &str) -> bool {
        !viewer.may(Action::HandleFeedback, &Target::at(unit_path))
    }

    /// Open and late items of `unit_id`'s list, counted as the list counts
    /// them (for the home of those who list by place).
    pub async fn inbox_open_and_late(&self, viewer: &Viewer, unit_id: i64) -> Result<(i64, i64)> {
        let open = InboxFilter::default();
        let late = InboxFilter {
            late: true,
            ..InboxFilter::default()
        };
        let open = self.feedback_inbox(viewer, unit_id, &open).await?.total;
        let late = self.feedback_inbox(viewer, unit_id, &late).await?.total;
        Ok((open, late))
    }

    /// The inbox of `unit_id` (see [`Store::inbox_by_place`]).
    pub async fn feedback_inbox(
        &self,
        viewer: &Viewer,
        unit_id: i64,
        filter: &InboxFilter,
    ) -> Result<Inbox> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        let end = crate::prefix_end(&unit.path);
        let now = self.now();
        let severity = filter.severity.map(|s| s.as_str());
        let order = match filter.sort {
            InboxSort::Deadline => {
                "CASE WHEN f.state = 'received' AND f.ack_due < f.resolve_due THEN f.ack_due ELSE f.resolve_due END, f.id"
            }
            InboxSort::Newest => "f.received_at DESC, f.id DESC",
        };
        let page = filter.page.max(0);
        let by = if Self::inbox_by_place(viewer, &unit.path) {
            "path"
        } else {
            "responsible_path"
        };
        let inbox_where = INBOX_WHERE.replace("{by}", by);
        macro_rules! bound {
            ($q:expr) => {
                $q.bind(&unit.path)
                    .bind(&end)
                    .bind(viewer.scope.team_id)
                    .bind(viewer.sees_confidential())
                    .bind(filter.state.as_str())
                    .bind(filter.topic_id)
                    .bind(severity)
                    .bind(filter.late)
                    .bind(now)
                    .bind(filter.team_id)
                    .bind(filter.hamlet_id)
                    .bind(filter.recorded_by)
            };
        }
        let list = format!(
            "SELECT f.id, f.code, t.name_vi AS topic_name_vi, t.name_en AS topic_name_en, f.severity, f.state, f.description, \
             u.name AS hamlet_name, f.team_id, f.responsible_label, a.display_name AS assignee, f.escalation_level, f.confidential, \
             f.received_at, f.ack_due, f.resolve_due {inbox_where} ORDER BY {order} LIMIT $13 OFFSET $14"
        );
        let count = format!("SELECT COUNT(*) {inbox_where}");
        let rows: Vec<InboxRow> = on_db!(&self.db, |p| bound!(sqlx::query_as(&list))
            .bind(INBOX_PAGE)
            .bind(page * INBOX_PAGE)
            .fetch_all(p)
            .await?);
        let (total,): (i64,) = on_db!(&self.db, |p| bound!(sqlx::query_as(&count))
            .fetch_one(p)
            .await?);
        Ok(Inbox {
            rows,
            total,
            page,
            at: now,
        })
    }

    /// Who items of `unit_id`'s inbox can be given to: active officers and
    /// hamlet heads of the unit and the units below it.
    pub async fn feedback_assignees(&self, viewer: &Viewer, unit_id: i64) -> Result<Vec<Assignee>> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        let end = crate::prefix_end(&unit.path);
        Ok(on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT a.id, a.display_name, a.role, u.name AS unit_name FROM accounts a JOIN units u ON u.id = a.unit_id \
             WHERE a.active = TRUE AND u.path >= $1 AND u.path < $2 \
             AND a.role IN ('commune_officer', 'province_officer', 'hamlet_head') \
             ORDER BY u.path, a.display_name LIMIT 200"
        )
        .bind(&unit.path)
        .bind(&end)
        .fetch_all(p)
        .await?
        }))
    }

    /// The templates a unit's officers may use: its own and those of the
    /// units above it.
    pub async fn answer_templates(
        &self,
        viewer: &Viewer,
        unit_id: i64,
    ) -> Result<Vec<AnswerTemplate>> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        // The ids come from the path, parsed as numbers: safe to inline.
        let ids: Vec<String> = crate::feedback::rollup::path_ids(&unit.path)
            .iter()
            .map(i64::to_string)
            .collect();
        let sql = format!(
            "SELECT id, unit_id, title, body FROM answer_templates WHERE unit_id IN ({}) ORDER BY title, id",
            if ids.is_empty() { "NULL".to_string() } else { ids.join(", ") }
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .fetch_all(p)
            .await?))
    }

    /// Adds a template for `unit_id` (officers of the unit or above).
    pub async fn add_answer_template(
        &self,
        viewer: &Viewer,
        unit_id: i64,
        title: &str,
        body: &str,
    ) -> Result<i64> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        viewer.require(Action::ManageAnswerTemplates, &Target::at(&unit.path))?;
        let title = text::clean_required(title, TEMPLATE_TITLE)
            .map_err(|e| StoreError::invalid("title", e))?;
        let body =
            text::clean_text(body, TEMPLATE_BODY).map_err(|e| StoreError::invalid("body", e))?;
        if body.trim().is_empty() {
            return Err(StoreError::Rejected(Problem::TemplateTextMissing));
        }
        let now = self.now();
        let actor = &viewer.actor;
        in_tx!(&self.db, |tx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO answer_templates (unit_id, title, body, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(unit_id)
            .bind(&title)
            .bind(&body)
            .bind(actor.account_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "add_answer_template",
                "answer_template",
                id,
                unit.path,
                serde_json::json!({"title": title})
            );
            Ok::<i64, StoreError>(id)
        })
    }
}

/// What a unit's officers were told (a new item, an escalation, a
/// reporter's message), newest first.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Notice {
    pub id: i64,
    pub feedback_id: Option<i64>,
    pub kind: String,
    pub body: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

impl Store {
    /// The newest `limit` notices of `unit_id` and how many are unread;
    /// officers only (notices name items, confidential ones too).
    pub async fn unit_notices(
        &self,
        viewer: &Viewer,
        unit_id: i64,
        limit: i64,
    ) -> Result<(Vec<Notice>, i64)> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        if !viewer.may(Action::HandleFeedback, &Target::at(&unit.path)) {
            return Ok((Vec::new(), 0));
        }
        let rows: Vec<Notice> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, feedback_id, kind, body, created_at, read_at FROM notifications \
             WHERE unit_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        )
        .bind(unit_id)
        .bind(limit)
        .fetch_all(p)
        .await?);
        let (unread,): (i64,) = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM notifications WHERE unit_id = $1 AND read_at IS NULL"
        )
        .bind(unit_id)
        .fetch_one(p)
        .await?);
        Ok((rows, unread))
    }

    /// Marks every notice of `unit_id` read (officers of the unit or above).
    pub async fn mark_notices_read(&self, viewer: &Viewer, unit_id: i64) -> Result<u64> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        viewer.require(Action::HandleFeedback, &Target::at(&unit.path))?;
        let now = self.now();
        let done = on_db!(&self.db, |p| {
            let mut c = p.acquire().await?;
            crate::feedback::write::mark_read(&mut *c, unit_id, now).await?
        });
        Ok(done)
    }
}
