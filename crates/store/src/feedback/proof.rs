//! A reporter proves they own a report without telling anyone the phone:
//! the tracking code is public (status page, Open311), so whoever asks on
//! the status page gets a one-time code sent by SMS to the phone the report
//! came with — and the same answer whether the phone they typed was that
//! one or not. The writer of `reporter_codes`.
//!
//! Only the code's SHA-256 (salted with the item) is kept; a code lives
//! [`CODE_SECONDS`], is spent after [`MAX_TRIES`] wrong tries, and an item
//! gets at most [`MAX_CODES_PER_HOUR`] codes, so guessing a 6-digit code is
//! hopeless and the reporter's phone cannot be flooded. These limits live
//! in the database, so every server process sees the same counts.

use danvan_domain::feedback::TrackingCode;
use danvan_domain::Phone;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::announce::outbox::{self, NewSms};
use crate::conn::Conn;
use crate::{in_tx, on_conn, on_db, Result, Store, StoreError};

pub const CODE_SECONDS: i64 = 30 * 60;
pub const MAX_TRIES: i32 = 5;
pub const MAX_CODES_PER_HOUR: i64 = 3;

fn code_hash(feedback_id: i64, otp: &str) -> String {
    hex::encode(Sha256::digest(format!("{feedback_id}:{otp}").as_bytes()))
}

/// The 6 digits a person typed, spaces and dashes dropped.
fn digits(otp: &str) -> Option<String> {
    let d: String = otp
        .chars()
        .take(20)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (d.len() == 6 && d.chars().all(|c| c.is_ascii_digit())).then_some(d)
}

async fn insert<'c>(
    conn: impl Into<Conn<'c>>,
    feedback_id: i64,
    hash: &str,
    now: i64,
) -> Result<i64> {
    let mut conn = conn.into();
    let (id,): (i64,) = on_conn!(&mut conn, |c| {
        sqlx::query_as(
        "INSERT INTO reporter_codes (feedback_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id"
    )
    .bind(feedback_id)
    .bind(hash)
    .bind(now)
    .bind(now + CODE_SECONDS)
    .fetch_one(&mut **c)
    .await?
    });
    Ok(id)
}

impl Store {
    /// Sends a one-time code to the phone of the report `code` when `phone`
    /// is that phone. Answers `Ok` whatever happened — unknown code, another
    /// phone, too many codes this hour — so the answer tells nothing.
    pub async fn send_reporter_code(&self, code: &str, phone: &Phone) -> Result<()> {
        let f = match self.reporter_item(code, Some(phone)).await {
            Ok(f) => f,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        };
        let now = self.now();
        let (recent,): (i64,) = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM reporter_codes WHERE feedback_id = $1 AND created_at > $2"
        )
        .bind(f.id)
        .bind(now - 3600)
        .fetch_one(p)
        .await?);
        if recent >= MAX_CODES_PER_HOUR {
            return Ok(());
        }
        let otp = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let hash = code_hash(f.id, &otp);
        let display = TrackingCode::parse(&f.code).map_or_else(|| f.code.clone(), |c| c.display());
        // Without diacritics: one GSM 7-bit part.
        let body = format!(
            "Ma xac nhan cho phan anh {display}: {otp}. Het han sau {} phut. Khong dua ma nay cho ai.",
            CODE_SECONDS / 60
        );
        in_tx!(&self.db, |tx| {
            let row = insert(&mut *tx, f.id, &hash, now).await?;
            outbox::queue(
                &mut *tx,
                &[NewSms {
                    recipient: phone.as_str(),
                    body: body.clone(),
                    key: format!("proof:{row}"),
                    feedback_id: Some(f.id),
                    at: now,
                }],
            )
            .await?;
            Ok::<(), StoreError>(())
        })
    }

    /// The phone of the report `code` when `otp` is a live one-time code
    /// sent for it; `None` otherwise (a wrong code counts a try against the
    /// newest live code).
    pub async fn prove_reporter(&self, code: &str, otp: &str) -> Result<Option<Phone>> {
        let Ok(id) = self.feedback_id(code).await else {
            return Ok(None);
        };
        let now = self.now();
        let live: Option<(i64, String)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, code_hash FROM reporter_codes WHERE feedback_id = $1 AND expires_at > $2 AND tries < $3 \
             ORDER BY id DESC LIMIT 1"
        )
        .bind(id)
        .bind(now)
        .bind(MAX_TRIES)
        .fetch_optional(p)
        .await?
        });
        let Some((row, hash)) = live else {
            return Ok(None);
        };
        if digits(otp).is_some_and(|d| code_hash(id, &d) == hash) {
            let phone: Option<(Option<String>,)> = on_db!(&self.db, |p| sqlx::query_as(
                "SELECT reporter_phone FROM feedback WHERE id = $1"
            )
            .bind(id)
            .fetch_optional(p)
            .await?);
            return Ok(phone.and_then(|(p,)| p).and_then(|p| Phone::parse(&p).ok()));
        }
        on_db!(&self.db, |p| sqlx::query(
            "UPDATE reporter_codes SET tries = tries + 1 WHERE id = $1"
        )
        .bind(row)
        .execute(p)
        .await
        .map(|_| ())?);
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_six_digits_as_typed() {
        assert_eq!(digits("123 456").as_deref(), Some("123456"));
        assert_eq!(digits("123-456").as_deref(), Some("123456"));
        assert_eq!(digits("12345"), None);
        assert_eq!(digits("12345a"), None);
        assert_ne!(code_hash(1, "123456"), code_hash(2, "123456"));
    }
}
