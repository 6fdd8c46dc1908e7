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

use crate::typed::stored;
use crate::{on_db, Result, Store, StoreError};

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
            let deliveries = format!(
                "UPDATE deliveries SET state = 'sent', updated_at = $1 WHERE state = 'planned' \
                 AND id IN (SELECT delivery_id FROM outbox WHERE id IN ({list}))"
            );
            crate::in_tx!(&self.db, |tx| {
                for sql in [&outbox, &forget, &deliveries] {
                    let mut q = sqlx::query(sql).bind(now);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    q.execute(&mut *tx).await?;
                }
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
                sqlx::query(
                    "UPDATE deliveries SET state = 'failed', reason = $2, updated_at = $3 \
                     WHERE id = (SELECT delivery_id FROM outbox WHERE id = $1) AND state IN ('planned', 'sent')",
                )
                .bind(id)
                .bind(&error)
                .bind(now)
                .execute(p)
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
        let (outbox_sql, delivery_sql) = match kind {
            1 => (
                "UPDATE outbox SET state = 'delivered', updated_at = $2, claimed_until = NULL, sent_at = COALESCE(sent_at, $2) \
                 WHERE id = $1 AND state IN ('sending', 'sent')",
                "UPDATE deliveries SET state = 'delivered', updated_at = $2, reason = NULL \
                 WHERE id = (SELECT delivery_id FROM outbox WHERE id = $1) AND state IN ('planned', 'sent', 'failed')",
            ),
            2 | 16 => (
                "UPDATE outbox SET state = 'failed', updated_at = $2, claimed_until = NULL, error = $3 \
                 WHERE id = $1 AND state IN ('sending', 'sent')",
                "UPDATE deliveries SET state = 'failed', updated_at = $2, reason = $3 \
                 WHERE id = (SELECT delivery_id FROM outbox WHERE id = $1) AND state IN ('planned', 'sent')",
            ),
            // Submitted or buffered: the gateway has it. A message in
            // doubt after a crash is settled here.
            _ => (
                "UPDATE outbox SET state = 'sent', updated_at = $2, claimed_until = NULL, sent_at = COALESCE(sent_at, $2) \
                 WHERE id = $1 AND state = 'sending'",
                "UPDATE deliveries SET state = 'sent', updated_at = $2 \
                 WHERE id = (SELECT delivery_id FROM outbox WHERE id = $1) AND state = 'planned'",
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
            sqlx::query(delivery_sql)
                .bind(id)
                .bind(now)
                .bind(&reason)
                .execute(p)
                .await?;
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
        let pick = "FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             WHERE d.channel = 'sms' AND d.fell_back = FALSE AND d.state <> 'acknowledged' AND a.state = 'planned' \
             AND (d.state = 'failed' OR d.updated_at <= CASE WHEN a.urgency = 'normal' THEN $2 ELSE $3 END) \
             AND d.updated_at <= $1";
        let added = crate::in_tx!(&self.db, |tx| {
            let added = sqlx::query(&format!(
                "INSERT INTO deliveries (announcement_id, household_id, hamlet_id, path, team_id, channel, state, reason, updated_at) \
                 SELECT d.announcement_id, d.household_id, d.hamlet_id, d.path, d.team_id, 'visit', 'planned', \
                 CASE WHEN d.state = 'failed' THEN 'SMS không gửi được' ELSE 'SMS chưa được xác nhận' END, $1 \
                 {pick} ON CONFLICT (announcement_id, household_id, channel) DO NOTHING"
            ))
            .bind(now)
            .bind(normal)
            .bind(urgent)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(&format!(
                "UPDATE deliveries SET fell_back = TRUE WHERE id IN (SELECT d.id {pick})"
            ))
            .bind(now)
            .bind(normal)
            .bind(urgent)
            .execute(&mut *tx)
            .await?;
            Ok::<u64, StoreError>(added)
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
