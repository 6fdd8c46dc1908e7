//! The writer of `deliveries`: one row per household and channel of an
//! announcement, planned with the announcement and moved by what happens
//! to it — the SMS accepted, reported delivered or failed, acknowledged by
//! an "OK"; the feed opened; a visit ticked; the fallback that hands a
//! household whose SMS did not arrive to a visit. Every path that moves a
//! delivery calls a function here, in the transaction of what moved it.

use crate::announce::announcement::{bind_all, Bind};
use crate::conn::Conn;
use crate::{on_conn, Result};

/// The plan: a delivery for every household of the audience (`pred`, a
/// predicate over `households h` whose parameters `binds` are numbered
/// from `$3`), by the household's reach — a smartphone's feed (sent at
/// once), a basic phone's SMS, a visit for the rest. One statement for a
/// province's half a million rows; returns how many.
pub(crate) async fn plan<'c>(
    conn: impl Into<Conn<'c>>,
    announcement_id: i64,
    at: i64,
    pred: &str,
    binds: &[Bind],
) -> Result<u64> {
    // No ON CONFLICT: the guarded state change that opens the transaction
    // makes it the only one that plans the announcement, and a plain
    // insert costs less per row than a speculative one.
    let sql = format!(
        "INSERT INTO deliveries (announcement_id, household_id, hamlet_id, path, team_id, channel, state, updated_at) \
         SELECT $1, h.id, h.hamlet_id, h.path, h.team_id, \
         CASE WHEN h.reach = 'smartphone' THEN 'feed' WHEN h.reach = 'basic_phone' AND h.phone IS NOT NULL THEN 'sms' ELSE 'visit' END, \
         CASE WHEN h.reach = 'smartphone' THEN 'sent' ELSE 'planned' END, $2 \
         FROM households h WHERE {pred}"
    );
    Ok(on_conn!(conn.into(), |c| {
        let q = sqlx::query(&sql).bind(announcement_id).bind(at);
        bind_all!(q, binds).execute(c).await?.rows_affected()
    }))
}

/// The household a visit reached.
#[derive(Debug, Clone, Copy)]
pub struct Visited<'a> {
    pub announcement_id: i64,
    pub household_id: i64,
    pub hamlet_id: i64,
    pub path: &'a str,
    pub team_id: Option<i64>,
    pub by: Option<i64>,
    pub at: i64,
}

/// A member ticked the household informed: its visit is acknowledged
/// (made if the plan had none, a visit being how any household can be
/// reached).
pub async fn visited<'c>(conn: impl Into<Conn<'c>>, v: Visited<'_>) -> Result<()> {
    on_conn!(conn.into(), |c| {
        sqlx::query(
            "INSERT INTO deliveries (announcement_id, household_id, hamlet_id, path, team_id, channel, state, updated_at, \
             acknowledged_at, acknowledged_by) VALUES ($1, $2, $3, $4, $5, 'visit', 'acknowledged', $6, $6, $7) \
             ON CONFLICT (announcement_id, household_id, channel) DO UPDATE SET state = 'acknowledged', \
             updated_at = excluded.updated_at, acknowledged_at = excluded.acknowledged_at, \
             acknowledged_by = excluded.acknowledged_by, reason = NULL",
        )
        .bind(v.announcement_id)
        .bind(v.household_id)
        .bind(v.hamlet_id)
        .bind(v.path)
        .bind(v.team_id)
        .bind(v.at)
        .bind(v.by)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// The household opened its feed while the announcement was in it.
pub async fn feed_opened<'c>(
    conn: impl Into<Conn<'c>>,
    household_id: i64,
    announcement_id: i64,
    at: i64,
) -> Result<()> {
    on_conn!(conn.into(), |c| {
        sqlx::query(
            "UPDATE deliveries SET state = 'acknowledged', acknowledged_at = $2, updated_at = $2 \
             WHERE announcement_id = $3 AND household_id = $1 AND channel = 'feed' AND state <> 'acknowledged'",
        )
        .bind(household_id)
        .bind(at)
        .bind(announcement_id)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// An "OK" reply acknowledged the SMS of this delivery.
pub async fn sms_acknowledged<'c>(
    conn: impl Into<Conn<'c>>,
    delivery_id: i64,
    at: i64,
) -> Result<()> {
    on_conn!(conn.into(), |c| {
        sqlx::query(
            "UPDATE deliveries SET state = 'acknowledged', acknowledged_at = $2, updated_at = $2, reason = NULL \
             WHERE id = $1 AND state <> 'acknowledged'",
        )
        .bind(delivery_id)
        .bind(at)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// The gateway accepted these outbox messages: their deliveries are sent.
pub async fn sms_sent<'c>(conn: impl Into<Conn<'c>>, outbox_ids: &[i64], at: i64) -> Result<()> {
    let list = (0..outbox_ids.len())
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE deliveries SET state = 'sent', updated_at = $1 WHERE state = 'planned' \
         AND id IN (SELECT delivery_id FROM outbox WHERE id IN ({list}))"
    );
    on_conn!(conn.into(), |c| {
        let mut q = sqlx::query(&sql).bind(at);
        for id in outbox_ids {
            q = q.bind(id);
        }
        q.execute(c).await?;
    });
    Ok(())
}

/// What the gateway said of an outbox message, for its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsOutcome {
    /// Refused for good, or out of attempts.
    Failed,
    /// The phone has it (delivery report 1).
    Delivered,
    /// The operator could not deliver it (reports 2 and 16).
    Undelivered,
    /// Submitted or buffered: the gateway has it.
    Submitted,
}

/// Moves the delivery of an outbox message by what the gateway said.
pub async fn sms_outcome<'c>(
    conn: impl Into<Conn<'c>>,
    outbox_id: i64,
    outcome: SmsOutcome,
    reason: &str,
    at: i64,
) -> Result<()> {
    let sql = match outcome {
        SmsOutcome::Failed | SmsOutcome::Undelivered => {
            "UPDATE deliveries SET state = 'failed', reason = $2, updated_at = $3 \
             WHERE id = (SELECT delivery_id FROM outbox WHERE id = $1) AND state IN ('planned', 'sent')"
        }
        SmsOutcome::Delivered => {
            "UPDATE deliveries SET state = 'delivered', updated_at = $3, reason = NULL \
             WHERE id = (SELECT delivery_id FROM outbox WHERE id = $1) AND state IN ('planned', 'sent', 'failed') AND $2 = $2"
        }
        SmsOutcome::Submitted => {
            "UPDATE deliveries SET state = 'sent', updated_at = $3 \
             WHERE id = (SELECT delivery_id FROM outbox WHERE id = $1) AND state = 'planned' AND $2 = $2"
        }
    };
    on_conn!(conn.into(), |c| {
        sqlx::query(sql)
            .bind(outbox_id)
            .bind(reason)
            .bind(at)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Hands to a visit every household whose SMS failed, or was not
/// acknowledged by `normal_before` (`urgent_before` for an urgent one),
/// and marks those SMS deliveries as fallen back. Returns how many visits
/// were added.
pub async fn fall_back<'c>(
    conn: impl Into<Conn<'c>>,
    at: i64,
    normal_before: i64,
    urgent_before: i64,
) -> Result<u64> {
    let pick = "FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE d.channel = 'sms' AND d.fell_back = FALSE AND d.state <> 'acknowledged' AND a.state = 'planned' \
         AND (d.state = 'failed' OR d.updated_at <= CASE WHEN a.urgency = 'normal' THEN $2 ELSE $3 END) \
         AND d.updated_at <= $1";
    let add = format!(
        "INSERT INTO deliveries (announcement_id, household_id, hamlet_id, path, team_id, channel, state, reason, updated_at) \
         SELECT d.announcement_id, d.household_id, d.hamlet_id, d.path, d.team_id, 'visit', 'planned', \
         CASE WHEN d.state = 'failed' THEN 'SMS không gửi được' ELSE 'SMS chưa được xác nhận' END, $1 \
         {pick} ON CONFLICT (announcement_id, household_id, channel) DO NOTHING"
    );
    let mark = format!("UPDATE deliveries SET fell_back = TRUE WHERE id IN (SELECT d.id {pick})");
    Ok(on_conn!(conn.into(), |c| {
        let added = sqlx::query(&add)
            .bind(at)
            .bind(normal_before)
            .bind(urgent_before)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query(&mark)
            .bind(at)
            .bind(normal_before)
            .bind(urgent_before)
            .execute(c)
            .await?;
        added
    }))
}
