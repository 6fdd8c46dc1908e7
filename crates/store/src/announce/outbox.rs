//! The outbox: a durable queue of SMS that one or several sender
//! processes share.
//!
//! A message is `queued` → `sending` (claimed by one sender for a lease)
//! → `sent` (the gateway accepted it) → `delivered` or `failed` (the
//! gateway's delivery report). A claim is one statement; on PostgreSQL
//! it skips rows another sender holds (`FOR UPDATE SKIP LOCKED`), so two
//! `danvan serve` processes never take the same message.
//!
//! **Nothing twice.** A sender that dies after handing a message to the
//! gateway and before recording it leaves the message `sending`. Such a
//! message is in doubt: the gateway may have it. It is not sent again at
//! once: the gateway reports every message it hands on (delivery-report
//! mask 8, "submitted to the SMSC", keyed by the message's idempotency
//! key), and that report marks it sent. Only a message still unreported
//! [`IN_DOUBT_GRACE_SECS`] after its lease ended goes back to the queue.

use std::collections::HashMap;

use danvan_domain::announcement::{
    after_quiet_hours, in_quiet_hours, sms_plan, Coding, OutboxState, Urgency,
};

use crate::announce::delivery;
use crate::conn::Conn;
use crate::typed::stored;
use crate::{on_conn, on_db, Result, Store, StoreError};

/// How long a claim holds its messages before another sender may look.
pub const LEASE_SECS: i64 = 60;
/// After its lease, how long a message in doubt waits for the gateway's
/// report before it is queued again.
pub const IN_DOUBT_GRACE_SECS: i64 = 60;
/// Attempts before a message that keeps failing is given up.
pub const MAX_ATTEMPTS: i32 = 8;

/// A message claimed for sending.
#[derive(Debug, Clone)]
pub struct OutgoingSms {
    pub id: i64,
    pub recipient: String,
    /// The text as it will be sent (without diacritics when GSM 7-bit).
    pub text: String,
    pub coding: Coding,
    /// Unique per message; the gateway's delivery reports carry it back.
    pub key: String,
    pub attempts: i32,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    recipient: String,
    body: String,
    announcement_id: Option<i64>,
    gsm7: bool,
    idempotency_key: String,
    attempts: i32,
}

/// A message to queue: a reporter's notice, a feed link.
#[derive(Debug, Clone)]
pub struct NewSms<'a> {
    pub recipient: &'a str,
    pub body: String,
    /// Unique: queueing the same key again is a no-op, so a retried
    /// transaction or a second sweep never sends twice.
    pub key: String,
    pub feedback_id: Option<i64>,
    /// When it was queued.
    pub at: i64,
}

/// Rows per statement: 7 parameters each, far under SQLite's limit.
const QUEUE_CHUNK: usize = 1000;

/// The writer of the outbox's messages: every path that queues an SMS
/// comes here (or to [`queue_announcement`], its set-based twin for a
/// plan), inside the transaction of the change it tells about.
pub async fn queue<'c>(conn: impl Into<Conn<'c>>, messages: &[NewSms<'_>]) -> Result<()> {
    queue_as(conn, messages, Urgency::Normal).await
}

/// Messages about an emergency (a leader asked to approve one): as
/// [`queue`], but the quiet hours do not hold them.
pub async fn queue_emergency<'c>(conn: impl Into<Conn<'c>>, messages: &[NewSms<'_>]) -> Result<()> {
    queue_as(conn, messages, Urgency::Emergency).await
}

async fn queue_as<'c>(
    conn: impl Into<Conn<'c>>,
    messages: &[NewSms<'_>],
    urgency: Urgency,
) -> Result<()> {
    let mut conn = conn.into();
    for chunk in messages.chunks(QUEUE_CHUNK) {
        let sql = format!(
            "INSERT INTO outbox (channel, recipient, body, feedback_id, idempotency_key, created_at, updated_at, urgency) \
             VALUES {} ON CONFLICT (idempotency_key) DO NOTHING",
            conn.values("('sms', ?, ?, ?, ?, ?, ?, ?)", chunk.len())
        );
        on_conn!(&mut conn, |c| {
            let mut q = sqlx::query(&sql);
            for m in chunk {
                q = q
                    .bind(m.recipient)
                    .bind(&m.body)
                    .bind(m.feedback_id)
                    .bind(&m.key)
                    .bind(m.at)
                    .bind(m.at)
                    .bind(urgency.as_str());
            }
            q.execute(&mut **c).await?;
        });
    }
    Ok(())
}

/// An announcement's SMS, one per household the plan gave the `sms`
/// channel, in one statement (half a million rows for a province). The
/// text stays in the announcement (`body` is empty); the key is the
/// announcement and household.
pub async fn queue_announcement<'c>(
    conn: impl Into<Conn<'c>>,
    announcement_id: i64,
    at: i64,
    urgency: Urgency,
    gsm7: bool,
    send_at: i64,
) -> Result<u64> {
    const SQL: &str =
        "INSERT INTO outbox (channel, recipient, body, idempotency_key, created_at, announcement_id, delivery_id, \
         urgency, gsm7, next_attempt_at, updated_at) \
         SELECT 'sms', h.phone, '', 'ann:' || CAST($1 AS TEXT) || ':' || CAST(d.household_id AS TEXT), $2, $1, d.id, $3, $4, $5, $2 \
         FROM deliveries d JOIN households h ON h.id = d.household_id \
         WHERE d.announcement_id = $1 AND d.channel = 'sms'";
    Ok(on_conn!(conn.into(), |c| sqlx::query(SQL)
        .bind(announcement_id)
        .bind(at)
        .bind(urgency.as_str())
        .bind(gsm7)
        .bind(send_at)
        .execute(c)
        .await?
        .rows_affected()))
}

/// A withdrawn announcement's messages not yet sent are cancelled; how
/// many.
pub async fn cancel_announcement<'c>(
    conn: impl Into<Conn<'c>>,
    announcement_id: i64,
    at: i64,
) -> Result<u64> {
    Ok(on_conn!(conn.into(), |c| sqlx::query(
        "UPDATE outbox SET state = 'cancelled', error = 'thu hồi', updated_at = $2 \
         WHERE announcement_id = $1 AND state = 'queued'",
    )
    .bind(announcement_id)
    .bind(at)
    .execute(c)
    .await?
    .rows_affected()))
}

/// Seconds before attempt `n + 1`: 30 s, 1 min, 2 min … up to an hour.
pub fn backoff_secs(attempts: i32) -> i64 {
    (30i64 << attempts.clamp(0, 7).max(0)).min(3600)
}

impl Store {
    /// Claims up to `limit` messages due now for `sender` (a name unique
    /// to the process). In the quiet hours only emergencies are due.
    pub async fn claim_sms(
        &self,
        sender: &str,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<OutgoingSms>> {
        let now = self.now();
        let quiet = in_quiet_hours(now);
        let lock = if matches!(self.db, crate::Db::Postgres(_)) {
            "FOR UPDATE SKIP LOCKED"
        } else {
            // SQLite: the statement holds the only write lock there is.
            ""
        };
        let sql = format!(
            "UPDATE outbox SET state = 'sending', claimed_by = $1, claimed_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= $3 \
             AND ($4 = FALSE OR urgency = 'emergency') ORDER BY next_attempt_at, id LIMIT $5 {lock}) \
             RETURNING id, recipient, body, announcement_id, gsm7, idempotency_key, attempts"
        );
        let rows: Vec<Claimed> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(sender)
            .bind(now + lease_secs)
            .bind(now)
            .bind(quiet)
            .bind(limit)
            .fetch_all(p)
            .await?);
        // Announcement messages keep their text once, in the announcement.
        let mut texts: HashMap<i64, (String, bool)> = HashMap::new();
        for r in &rows {
            if let Some(a) = r.announcement_id {
                if let std::collections::hash_map::Entry::Vacant(e) = texts.entry(a) {
                    let row: Option<(String, String, bool)> = on_db!(&self.db, |p| sqlx::query_as(
                        "SELECT title, body, gsm7 FROM announcements WHERE id = $1"
                    )
                    .bind(a)
                    .fetch_optional(p)
                    .await?);
                    if let Some((title, body, gsm7)) = row {
                        e.insert((format!("{title}: {body}"), gsm7));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (text, plain) = match r.announcement_id.and_then(|a| texts.get(&a)) {
                Some((t, g)) => (t.clone(), *g),
                None => (r.body, r.gsm7),
            };
            let plan = sms_plan(&text, plain);
            out.push(OutgoingSms {
                id: r.id,
                recipient: r.recipient,
                text: plan.text,
                coding: plan.coding,
                key: r.idempotency_key,
                attempts: r.attempts,
            });
        }
        Ok(out)
    }

    /// The gateway accepted these messages: one transaction for a batch,
    /// not a commit (and on SQLite an fsync) per message.
    pub async fn sms_accepted_many(&self, ids: &[i64]) -> Result<()> {
        let now = self.now();
        for chunk in ids.chunks(500) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let outbox = format!(
                "UPDATE outbox SET state = 'sent', sent_at = $1, updated_at = $1, claimed_until = NULL, error = NULL \
                 WHERE id IN ({list}) AND state = 'sending'"
            );
            // A feed link's text holds the household's token: once Kannel
            // has it, only the token's hash stays (`household_feeds`).
            let forget = format!(
                "UPDATE outbox SET body = '' WHERE id IN ({list}) AND idempotency_key LIKE 'feed:%' AND $1 = $1"
            );

            crate::in_tx!(&self.db, |tx| {
                for sql in [&outbox, &forget] {
                    let mut q = sqlx::query(sql).bind(now);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    q.execute(&mut *tx).await?;
                }
                delivery::sms_sent(&mut *tx, chunk, now).await?;
                Ok::<(), StoreError>(())
            })?;
        }
        Ok(())
    }

    /// The gateway accepted the message.
    pub async fn sms_accepted(&self, id: i64) -> Result<()> {
        self.sms_accepted_many(&[id]).await
    }

    /// The gateway refused the message or could not be reached. A
    /// `permanent` refusal (a bad number) or the last attempt fails the
    /// message and its delivery (whose household the fallback then hands
    /// to a visit); otherwise it waits for its next attempt.
    pub async fn sms_not_sent(&self, id: i64, error: &str, permanent: bool) -> Result<()> {
        let now = self.now();
        let error: String = error.chars().take(300).collect();
        let row: Option<(i32, String)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT attempts, urgency FROM outbox WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await?);
        let Some((attempts, urgency)) = row else {
            return Err(StoreError::NotFound);
        };
        if permanent || attempts >= MAX_ATTEMPTS {
            on_db!(&self.db, |p| {
                sqlx::query(
                    "UPDATE outbox SET state = 'failed', error = $2, updated_at = $3, claimed_until = NULL \
                     WHERE id = $1 AND state = 'sending'",
                )
                .bind(id)
                .bind(&error)
                .bind(now)
                .execute(p)
                .await?;
                let mut c = p.acquire().await?;
                delivery::sms_outcome(&mut *c, id, delivery::SmsOutcome::Failed, &error, now)
                    .await?;
            });
        } else {
            let mut next = now + backoff_secs(attempts - 1);
            if Urgency::parse(&urgency) != Some(Urgency::Emergency) {
                next = after_quiet_hours(next);
            }
            on_db!(&self.db, |p| {
                sqlx::query(
                "UPDATE outbox SET state = CASE WHEN EXISTS (SELECT 1 FROM announcements a WHERE a.id = outbox.announcement_id AND a.state = 'cancelled') \
                 THEN 'cancelled' ELSE 'queued' END, error = $2, updated_at = $3, next_attempt_at = $4, claimed_until = NULL \
                 WHERE id = $1 AND state = 'sending'"
            )
            .bind(id)
            .bind(&error)
            .bind(now)
            .bind(next)
            .execute(p)
            .await
            .map(|_| ())?
            });
        }
        Ok(())
    }

    /// A delivery report from the gateway for the message with `key`
    /// (Kannel's types: 1 delivered, 2 failed, 4 buffered, 8 submitted to
    /// the SMSC, 16 rejected by the SMSC). `NotFound` for a key nobody
    /// sent: the caller records it and answers, nothing changes.
    pub async fn sms_report(&self, key: &str, kind: i32, detail: &str) -> Result<()> {
        let now = self.now();
        let row: Option<(i64,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT id FROM outbox WHERE idempotency_key = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await?);
        let Some((id,)) = row else {
            return Err(StoreError::NotFound);
        };
        let detail: String = detail.chars().take(300).collect();
        let (outbox_sql, outcome) = match kind {
            1 => (
                "UPDATE outbox SET state = 'delivered', updated_at = $2, claimed_until = NULL, sent_at = COALESCE(sent_at, $2) \
                 WHERE id = $1 AND state IN ('sending', 'sent')",
                delivery::SmsOutcome::Delivered,
            ),
            2 | 16 => (
                "UPDATE outbox SET state = 'failed', updated_at = $2, claimed_until = NULL, error = $3 \
                 WHERE id = $1 AND state IN ('sending', 'sent')",
                delivery::SmsOutcome::Undelivered,
            ),
            // Submitted or buffered: the gateway has it. A message in
            // doubt after a crash is settled here.
            _ => (
                "UPDATE outbox SET state = 'sent', updated_at = $2, claimed_until = NULL, sent_at = COALESCE(sent_at, $2) \
                 WHERE id = $1 AND state = 'sending'",
                delivery::SmsOutcome::Submitted,
            ),
        };
        let reason = format!("Tổng đài báo không gửi được ({detail})");
        on_db!(&self.db, |p| {
            sqlx::query(outbox_sql)
                .bind(id)
                .bind(now)
                .bind(&reason)
                .execute(p)
                .await?;
            let mut c = p.acquire().await?;
            delivery::sms_outcome(&mut *c, id, outcome, &reason, now).await?;
        });
        Ok(())
    }

    /// Queues again the messages whose sender's lease ended more than
    /// `grace` seconds ago without any report from the gateway (see the
    /// module's "Nothing twice"). Returns how many.
    pub async fn release_stale_claims(&self, grace: i64) -> Result<u64> {
        let now = self.now();
        let done = on_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE outbox SET state = CASE WHEN EXISTS (SELECT 1 FROM announcements a WHERE a.id = outbox.announcement_id AND a.state = 'cancelled') \
             THEN 'cancelled' ELSE 'queued' END, claimed_by = NULL, claimed_until = NULL, updated_at = $1, \
             error = 'sender stopped before the gateway answered' \
             WHERE state = 'sending' AND claimed_until < $2"
        )
        .bind(now)
        .bind(now - grace)
        .execute(p)
        .await?
        .rows_affected()
        });
        Ok(done)
    }

    /// Hands to a visit every household whose SMS failed or has not been
    /// acknowledged in the announcement's fallback time (24 h, 2 h when
    /// urgent). Returns how many visits were added.
    pub async fn sms_fallback(&self) -> Result<u64> {
        let now = self.now();
        let normal = now - Urgency::Normal.fallback_hours() * 3600;
        let urgent = now - Urgency::Urgent.fallback_hours() * 3600;
        let added = crate::in_tx!(&self.db, |tx| {
            delivery::fall_back(&mut *tx, now, normal, urgent).await
        })?;
        Ok(added)
    }

    /// Messages of the outbox by state (for the sender's status and tests).
    pub async fn outbox_states(&self) -> Result<Vec<(OutboxState, i64)>> {
        let rows: Vec<(String, i64)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state"
        )
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(s, n)| Ok((stored("state", s)?, n)))
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_secs(0), 30);
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(3), 240);
        assert_eq!(backoff_secs(7), 3600);
        assert_eq!(backoff_secs(50), 3600);
        assert_eq!(backoff_secs(-1), 30);
    }
}
