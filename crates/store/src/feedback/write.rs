//! The writers of an item's tables: `feedback` itself, its history
//! (`feedback_events`), the per-hamlet counts (`feedback_counts`, which
//! also move the rollups) and the officers' `notifications`. Every path
//! that changes these tables — a new report, an officer's action, a
//! reporter's reply or rating, the sweep, the bulk loader — calls a
//! function of this module inside its own transaction; none writes its
//! own SQL, so a new column is one edit here. (The rollups' writer is
//! `feedback::rollup`, the outbox's `announce::outbox`.)

use std::collections::HashSet;

use danvan_domain::feedback::{FeedbackState, TrackingCode};

use crate::conn::Conn;
use crate::feedback::batch::Draft;
use crate::feedback::rollup::{self, Rollup};
use crate::{on_conn, Actor, Result};

/// Rows per multi-row statement: at most 9 parameters a row, far under
/// SQLite's limit of 32,766.
const CHUNK: usize = 500;

/// One entry of an item's history.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub feedback_id: i64,
    pub at: i64,
    pub kind: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub actor: &'a Actor,
    pub body: String,
    /// Shown on the public status page.
    pub public: bool,
}

/// Appends entries to items' histories.
pub async fn events<'c>(conn: impl Into<Conn<'c>>, events: &[NewEvent<'_>]) -> Result<()> {
    let mut conn = conn.into();
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO feedback_events (feedback_id, at, kind, from_state, to_state, account_id, actor, body, public) VALUES {}",
            conn.values("(?, ?, ?, ?, ?, ?, ?, ?, ?)", chunk.len())
        );
        on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.feedback_id)
                    .bind(e.at)
                    .bind(e.kind)
                    .bind(e.from)
                    .bind(e.to)
                    .bind(e.actor.account_id)
                    .bind(&e.actor.name)
                    .bind(&e.body)
                    .bind(e.public);
            }
            q.execute(c).await?;
        });
    }
    Ok(())
}

/// Appends one entry to an item's history.
pub async fn event<'c>(conn: impl Into<Conn<'c>>, event: NewEvent<'_>) -> Result<()> {
    events(conn, &[event]).await
}

/// A message to a unit's officers about an item.
#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    pub unit_id: i64,
    pub feedback_id: i64,
    pub kind: &'a str,
    pub body: String,
    pub at: i64,
}

/// Tells units' officers.
pub async fn notify<'c>(conn: impl Into<Conn<'c>>, notices: &[NewNotice<'_>]) -> Result<()> {
    let mut conn = conn.into();
    for chunk in notices.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO notifications (unit_id, feedback_id, kind, body, created_at) VALUES {}",
            conn.values("(?, ?, ?, ?, ?)", chunk.len())
        );
        on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query(&sql);
            for n in chunk {
                q = q
                    .bind(n.unit_id)
                    .bind(n.feedback_id)
                    .bind(n.kind)
                    .bind(&n.body)
                    .bind(n.at);
            }
            q.execute(c).await?;
        });
    }
    Ok(())
}

/// Adds to the per-hamlet counts: (hamlet, topic, state, n). The caller
/// moves the rollups (see [`count`]); a batch moves them in one go.
pub async fn add_counts<'c>(conn: impl Into<Conn<'c>>, rows: &[Rollup]) -> Result<()> {
    let mut conn = conn.into();
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO feedback_counts (hamlet_id, topic_id, state, n) VALUES {} \
             ON CONFLICT (hamlet_id, topic_id, state) DO UPDATE SET n = feedback_counts.n + excluded.n",
            conn.values("(?, ?, ?, ?)", chunk.len())
        );
        on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query(&sql);
            for (hamlet, topic, state, n) in chunk {
                q = q.bind(hamlet).bind(topic).bind(state).bind(n);
            }
            q.execute(c).await?;
        });
    }
    Ok(())
}

/// Moves the per-hamlet count of `state` by `delta`, and the rollups of
/// the hamlet and the units above it.
pub async fn count<'c>(
    conn: impl Into<Conn<'c>>,
    hamlet: i64,
    topic: i64,
    state: &str,
    delta: i64,
) -> Result<()> {
    let mut conn = conn.into();
    rollup::rollup(conn.reborrow(), hamlet, topic, state, delta).await?;
    add_counts(conn, &[(hamlet, topic, state.to_string(), delta)]).await
}

/// Moves one item's count from state `from` to state `to`.
pub async fn move_count<'c>(
    conn: impl Into<Conn<'c>>,
    hamlet: i64,
    topic: i64,
    from: FeedbackState,
    to: FeedbackState,
) -> Result<()> {
    let mut conn = conn.into();
    count(conn.reborrow(), hamlet, topic, from.as_str(), -1).await?;
    count(conn, hamlet, topic, to.as_str(), 1).await
}

/// Sets an item's `late_at`, and `late` when it differs; says whether
/// `late` flipped (the caller moves the 'late' rollup).
pub async fn set_late<'c>(
    conn: impl Into<Conn<'c>>,
    id: i64,
    late: bool,
    late_at: Option<i64>,
) -> Result<bool> {
    let mut conn = conn.into();
    on_conn!(conn.reborrow(), |c| {
        sqlx::query("UPDATE feedback SET late_at = $2 WHERE id = $1")
            .bind(id)
            .bind(late_at)
            .execute(c)
            .await?;
    });
    let flipped = on_conn!(conn, |c| sqlx::query(
        "UPDATE feedback SET late = $2 WHERE id = $1 AND late <> $2"
    )
    .bind(id)
    .bind(late)
    .execute(c)
    .await?
    .rows_affected());
    Ok(flipped == 1)
}

/// Marks late up to `limit` items whose `late_at` has passed; returns
/// their (path, topic) for the rollups.
pub async fn mark_newly_late<'c>(
    conn: impl Into<Conn<'c>>,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, i64)>> {
    Ok(on_conn!(conn.into(), |c| sqlx::query_as(
        "UPDATE feedback SET late = TRUE, late_at = NULL WHERE id IN \
         (SELECT id FROM feedback WHERE late_at < $1 ORDER BY late_at LIMIT $2) \
         AND late_at < $1 AND late = FALSE RETURNING path, topic_id",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await?))
}

/// Sets every item's `late` and `late_at` from its state and deadlines as
/// of `now` (the rule of `rollup::lateness`, in SQL), writing only the
/// rows that change.
pub async fn recompute_lateness<'c>(conn: impl Into<Conn<'c>>, now: i64) -> Result<()> {
    const LATE: &str = "(state IN ('received', 'acknowledged', 'in_progress', 'reopened') \
         AND (resolve_due < $1 OR (state = 'received' AND ack_due < $1)))";
    const LATE_AT: &str =
        "(CASE WHEN state NOT IN ('received', 'acknowledged', 'in_progress', 'reopened') \
         OR resolve_due < $1 OR (state = 'received' AND ack_due < $1) THEN NULL \
         WHEN state = 'received' AND ack_due < resolve_due THEN ack_due ELSE resolve_due END)";
    let sql = format!(
        "UPDATE feedback SET late = {LATE}, late_at = {LATE_AT} \
         WHERE late <> {LATE} OR late_at IS DISTINCT FROM {LATE_AT}"
    );
    on_conn!(conn.into(), |c| {
        sqlx::query(&sql).bind(now).execute(c).await?;
    });
    Ok(())
}

/// Closes an answered item a week after its answer, guarded by the moment
/// the sweep read: false when a reopen or a rating came first.
pub async fn close_answered<'c>(
    conn: impl Into<Conn<'c>>,
    id: i64,
    now: i64,
    read_due: i64,
) -> Result<bool> {
    let done = on_conn!(conn.into(), |c| {
        sqlx::query(
        "UPDATE feedback SET state = 'closed', closed_at = $2, updated_at = $2, next_escalation_at = NULL \
         WHERE id = $1 AND state = 'answered' AND next_escalation_at = $3",
    )
    .bind(id)
    .bind(now)
    .bind(read_due)
    .execute(c)
    .await?
    .rows_affected()
    });
    Ok(done == 1)
}

/// Items with nothing left for the sweep to look at (not open, or at the
/// top of the tree): (id, the due moment read), each guarded by it.
pub async fn settle<'c>(conn: impl Into<Conn<'c>>, items: &[(i64, i64)]) -> Result<()> {
    let mut conn = conn.into();
    for chunk in items.chunks(CHUNK) {
        let sql = format!(
            "UPDATE feedback SET next_escalation_at = NULL FROM (VALUES {}) AS v \
             WHERE feedback.id = v.column1 AND feedback.next_escalation_at = v.column2",
            conn.values("(?, ?)", chunk.len())
        );
        on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query(&sql);
            for (id, due) in chunk {
                q = q.bind(id).bind(due);
            }
            q.execute(c).await?;
        });
    }
    Ok(())
}

/// A late item moved up to the parent of the unit that handles it.
#[derive(Debug, Clone)]
pub struct Escalation<'a> {
    pub id: i64,
    pub unit_id: i64,
    pub unit_path: &'a str,
    pub unit_label: &'a str,
    pub level: i32,
    /// When the new unit's acknowledge period ends.
    pub next_due: i64,
    /// What the sweep read: only a row still in this state and with this
    /// due moment moves.
    pub state: FeedbackState,
    pub read_due: i64,
}

/// Moves late items up; returns the ids that moved (the others changed
/// since they were read).
pub async fn escalate<'c>(
    conn: impl Into<Conn<'c>>,
    now: i64,
    items: &[Escalation<'_>],
) -> Result<HashSet<i64>> {
    let mut conn = conn.into();
    let mut moved = HashSet::new();
    for chunk in items.chunks(CHUNK) {
        // `now` is the statement's first parameter, the rows follow.
        let now_ph = conn.param(1);
        let rows = conn.values_from("(?, ?, ?, ?, ?, ?, ?, ?)", chunk.len(), 2);
        let sql = format!(
            "UPDATE feedback SET responsible_unit_id = v.column2, responsible_path = v.column3, responsible_label = v.column4, \
             responsible_account_id = NULL, escalation_level = v.column5, next_escalation_at = v.column6, updated_at = {now_ph} \
             FROM (VALUES {rows}) AS v WHERE feedback.id = v.column1 AND feedback.state = v.column7 \
             AND feedback.next_escalation_at = v.column8 RETURNING feedback.id"
        );
        let done: Vec<(i64,)> = on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query_as(&sql).bind(now);
            for e in chunk {
                q = q
                    .bind(e.id)
                    .bind(e.unit_id)
                    .bind(e.unit_path)
                    .bind(e.unit_label)
                    .bind(e.level)
                    .bind(e.next_due)
                    .bind(e.state.as_str())
                    .bind(e.read_due);
            }
            q.fetch_all(c).await?
        });
        moved.extend(done.into_iter().map(|(id,)| id));
    }
    Ok(moved)
}

/// What an officer's action writes beside the state (see [`change`]).
#[derive(Debug, Clone)]
pub enum Also {
    Nothing,
    /// The officer who answers it now (none: the unit).
    Assign(Option<i64>),
    /// A draft answer, by whom.
    Draft {
        text: String,
        by: Option<i64>,
    },
    /// The leader approves the draft: it becomes the answer, provided the
    /// draft is still the one read.
    Answer(String),
    Refuse {
        reason: String,
        refer_to: String,
    },
    Close,
    Duplicate(i64),
}

/// One guarded change of an item by an officer.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub id: i64,
    /// The state read: a concurrent change makes the update miss.
    pub from: FeedbackState,
    pub to: FeedbackState,
    pub at: i64,
    pub next_due: Option<i64>,
    /// The first response: sets `acknowledged_at`.
    pub acknowledges: bool,
    pub also: Also,
}

/// Applies an officer's change; false when another change came first.
pub async fn change<'c>(conn: impl Into<Conn<'c>>, c: &StateChange) -> Result<bool> {
    // $1 id, $2 state, $3 at, $4 text, $5 account, $6 refer_to,
    // $7 duplicate, $8 next due, $9 state read, $10 approving.
    let (set, text, account, refer, duplicate) = match &c.also {
        Also::Nothing => ("", None, None, None, None),
        Also::Assign(a) => (", responsible_account_id = $5", None, *a, None, None),
        Also::Draft { text, by } => (
            ", answer_draft = $4, answer_drafted_by = $5",
            Some(text.as_str()),
            *by,
            None,
            None,
        ),
        Also::Answer(a) => (
            ", answer = $4, answered_at = $3",
            Some(a.as_str()),
            None,
            None,
            None,
        ),
        Also::Refuse { reason, refer_to } => (
            ", refusal_reason = $4, refer_to = $6, closed_at = $3",
            Some(reason.as_str()),
            None,
            Some(refer_to.as_str()),
            None,
        ),
        Also::Close => (", closed_at = $3", None, None, None, None),
        Also::Duplicate(d) => (", duplicate_of = $7", None, None, None, Some(*d)),
    };
    let ack = if c.acknowledges {
        ", acknowledged_at = $3"
    } else {
        ""
    };
    let approving = matches!(c.also, Also::Answer(_));
    let sql = format!(
        "UPDATE feedback SET state = $2, updated_at = $3, next_escalation_at = $8{set}{ack} WHERE id = $1 AND state = $9 \
         AND ($10 = FALSE OR answer_draft = $4)"
    );
    let done = on_conn!(conn.into(), |conn| sqlx::query(&sql)
        .bind(c.id)
        .bind(c.to.as_str())
        .bind(c.at)
        .bind(text)
        .bind(account)
        .bind(refer)
        .bind(duplicate)
        .bind(c.next_due)
        .bind(c.from.as_str())
        .bind(approving)
        .execute(conn)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// A reporter's message: moves the item to `to` (from `from`, as read);
/// a reopening gives the unit `next_due` as its new resolve deadline and
/// drops the old draft. False when another change came first.
pub async fn reporter_message<'c>(
    conn: impl Into<Conn<'c>>,
    id: i64,
    from: FeedbackState,
    to: FeedbackState,
    at: i64,
    next_due: Option<i64>,
    reopens: bool,
) -> Result<bool> {
    let done = on_conn!(conn.into(), |c| {
        sqlx::query(
        "UPDATE feedback SET state = $2, updated_at = $3, next_escalation_at = $4, \
         resolve_due = CASE WHEN $5 THEN $4 ELSE resolve_due END, closed_at = CASE WHEN $5 THEN NULL ELSE closed_at END, \
         answer_draft = CASE WHEN $5 THEN NULL ELSE answer_draft END \
         WHERE id = $1 AND state = $6",
    )
    .bind(id)
    .bind(to.as_str())
    .bind(at)
    .bind(next_due)
    .bind(reopens)
    .bind(from.as_str())
    .execute(c)
    .await?
    .rows_affected()
    });
    Ok(done == 1)
}

/// The reporter's rating, once; closing the item when it was answered.
/// False when another change (or rating) came first.
pub async fn rate<'c>(
    conn: impl Into<Conn<'c>>,
    id: i64,
    stars: i32,
    from: FeedbackState,
    to: FeedbackState,
    at: i64,
) -> Result<bool> {
    let closes = to == FeedbackState::Closed && from != to;
    let done = on_conn!(conn.into(), |c| sqlx::query(
        "UPDATE feedback SET rating = $2, state = $3, updated_at = $4, \
         closed_at = CASE WHEN $5 THEN $4 ELSE closed_at END, \
         next_escalation_at = CASE WHEN $5 THEN NULL ELSE next_escalation_at END \
         WHERE id = $1 AND state = $6 AND rating IS NULL",
    )
    .bind(id)
    .bind(stars)
    .bind(to.as_str())
    .bind(at)
    .bind(closes)
    .bind(from.as_str())
    .execute(c)
    .await?
    .rows_affected());
    Ok(done == 1)
}

/// The columns a new report fills (`state` is 'received').
const REPORT_COLUMNS: &str = "code, topic_id, severity, state, channel, description, description_fold, hamlet_id, path, \
     household_id, resident_id, identity_consent, relayed_by, relay_method, reporter_name, reporter_phone, anonymous, \
     lat, lon, confidential, responsible_unit_id, responsible_path, responsible_label, responsible_account_id, team_id, \
     received_at, ack_due, resolve_due, next_escalation_at, submission_key, updated_at, late_at";
const REPORT_ROW: &str =
    "(?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// Rows per statement of [`insert_reports`] (31 parameters each).
const REPORT_CHUNK: usize = 500;

/// Binds one report's columns, in the order of [`REPORT_COLUMNS`].
macro_rules! bind_report {
    ($q:expr, $d:expr, $code:expr) => {
        $q.bind($code.as_str())
            .bind($d.topic_id)
            .bind($d.severity)
            .bind($d.channel)
            .bind(&$d.description)
            .bind(&$d.fold)
            .bind($d.hamlet_id)
            .bind(&$d.path)
            .bind($d.household_id)
            .bind($d.resident_id)
            .bind($d.identity_consent)
            .bind($d.relayed_by)
            .bind($d.relay_method.map(|m| m.as_str()))
            .bind(&$d.reporter_name)
            .bind(&$d.reporter_phone)
            .bind($d.anonymous)
            .bind($d.lat)
            .bind($d.lon)
            .bind($d.confidential)
            .bind($d.route.unit_id)
            .bind(&$d.route.path)
            .bind(&$d.route.label)
            .bind($d.route.account_id)
            .bind($d.team_id)
            .bind($d.now)
            .bind($d.ack_due)
            .bind($d.resolve_due)
            .bind($d.ack_due.min($d.resolve_due))
            .bind(&$d.key)
            // updated_at, and late_at: a new report is late once its
            // first deadline passes.
            .bind($d.now)
            .bind($d.ack_due.min($d.resolve_due))
    };
}

/// Writes one new report; its id. A taken code or submission key is an
/// error (the caller's savepoint decides what it spoils).
pub(crate) async fn insert_report<'c>(
    conn: impl Into<Conn<'c>>,
    d: &Draft,
    code: &TrackingCode,
) -> Result<i64> {
    let conn = conn.into();
    let sql = format!(
        "INSERT INTO feedback ({REPORT_COLUMNS}) VALUES {} RETURNING id",
        conn.values(REPORT_ROW, 1)
    );
    Ok(on_conn!(conn, |c| {
        let q = sqlx::query_scalar(&sql);
        bind_report!(q, d, code).fetch_one(c).await?
    }))
}

/// Writes a batch of new reports in a few statements; (id, code) of those
/// written. A report whose code or submission key was taken is skipped.
pub(crate) async fn insert_reports<'c>(
    conn: impl Into<Conn<'c>>,
    reports: &[(&Draft, &TrackingCode)],
) -> Result<Vec<(i64, String)>> {
    let mut conn = conn.into();
    let mut written = Vec::with_capacity(reports.len());
    for chunk in reports.chunks(REPORT_CHUNK) {
        let sql = format!(
            "INSERT INTO feedback ({REPORT_COLUMNS}) VALUES {} ON CONFLICT DO NOTHING RETURNING id, code",
            conn.values(REPORT_ROW, chunk.len())
        );
        let rows: Vec<(i64, String)> = on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query_as(&sql);
            for (d, code) in chunk {
                q = bind_report!(q, d, code);
            }
            q.fetch_all(c).await?
        });
        written.extend(rows);
    }
    Ok(written)
}

/// Marks every unread notice of a unit read; how many.
pub async fn mark_read<'c>(conn: impl Into<Conn<'c>>, unit_id: i64, at: i64) -> Result<u64> {
    Ok(on_conn!(conn.into(), |c| sqlx::query(
        "UPDATE notifications SET read_at = $2 WHERE unit_id = $1 AND read_at IS NULL"
    )
    .bind(unit_id)
    .bind(at)
    .execute(c)
    .await?
    .rows_affected()))
}

/// A unit moved from path `old` (ending before `end`) to `new`: the items'
/// copies of both paths (their hamlet's and the answering unit's) follow.
pub async fn repath<'c>(conn: impl Into<Conn<'c>>, old: &str, end: &str, new: &str) -> Result<()> {
    let mut conn = conn.into();
    let cut = crate::registry::unit::path_cut(old);
    for sql in [
        "UPDATE feedback SET path = $1 || substr(path, $2) WHERE path >= $3 AND path < $4",
        "UPDATE feedback SET responsible_path = $1 || substr(responsible_path, $2) \
         WHERE responsible_path >= $3 AND responsible_path < $4",
    ] {
        on_conn!(conn.reborrow(), |c| {
            sqlx::query(sql)
                .bind(new)
                .bind(cut)
                .bind(old)
                .bind(end)
                .execute(c)
                .await?;
        });
    }
    Ok(())
}
