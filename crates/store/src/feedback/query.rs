//! Public listings of feedback (Open311 `GET requests`): what anyone may
//! read, never a confidential item, always bounded in time and size so a
//! province-wide table is read through an index range, not scanned.

use danvan_domain::feedback::{FeedbackState, Publicity, TrackingCode};
use danvan_domain::problem::Problem;

use crate::feedback::PublicFeedback;
use crate::{on_db, Result, Store, StoreError};

/// Most items one listing returns.
pub const MAX_PUBLIC_RESULTS: i64 = 1000;
/// Widest window of `received_at` one listing covers (Open311: 90 days).
pub const MAX_WINDOW_SECONDS: i64 = 90 * 24 * 3600;
/// Most tracking codes asked for at once (each is one bound parameter).
pub const MAX_PUBLIC_CODES: usize = 100;

/// What a public listing asks for. Empty or `None` means "any".
#[derive(Debug, Clone)]
pub struct PublicFilter {
    /// Tracking codes as typed (any case, dash optional). When any is given,
    /// every other filter is ignored, as Open311 says of `service_request_id`.
    pub codes: Vec<String>,
    /// Topic codes (Open311 `service_code`); unknown ones match nothing.
    pub topics: Vec<String>,
    /// Bounds on `received_at`, Unix seconds, inclusive. Without either,
    /// the last 90 days; with one, the 90 days after or before it.
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// `Some(true)`: open items only; `Some(false)`: answered, closed or
    /// refused only (Open311's "open" / "closed").
    pub open: Option<bool>,
    /// At most this many, newest first (clamped to 1..=1000).
    pub limit: i64,
}

impl Default for PublicFilter {
    fn default() -> Self {
        PublicFilter {
            codes: Vec::new(),
            topics: Vec::new(),
            start: None,
            end: None,
            open: None,
            limit: MAX_PUBLIC_RESULTS,
        }
    }
}

impl PublicFilter {
    /// The inclusive `received_at` window at `now`; refuses an inverted or
    /// over-wide range rather than silently cutting it.
    fn window(&self, now: i64) -> Result<(i64, i64)> {
        match (self.start, self.end) {
            (None, None) => Ok((now.saturating_sub(MAX_WINDOW_SECONDS), i64::MAX)),
            (Some(s), None) => Ok((s, s.saturating_add(MAX_WINDOW_SECONDS))),
            (None, Some(e)) => Ok((e.saturating_sub(MAX_WINDOW_SECONDS), e)),
            (Some(s), Some(e)) if e < s => Err(StoreError::Rejected(Problem::PeriodReversed)),
            (Some(s), Some(e)) if e - s > MAX_WINDOW_SECONDS => {
                Err(StoreError::Rejected(Problem::PeriodTooLong { days: 90 }))
            }
            (Some(s), Some(e)) => Ok((s, e)),
        }
    }
}

/// The publicity of item `f` of topic `t`: its province's setting for the
/// topic (a handful of rows, by primary key), else the topic's default.
/// Paths hold only digits and slashes, so LIKE matches a prefix.
macro_rules! topic_publicity {
    () => {
        "COALESCE((SELECT tp.publicity FROM topic_publicity tp WHERE tp.topic_id = f.topic_id \
         AND f.path LIKE tp.province_path || '%'), t.publicity)"
    };
}

/// Whether the text, photos and place of item `f` (with topic `t`) are
/// public: not confidential, its topic public here, and not relayed for a
/// resident who did not consent to be named.
pub(crate) const TEXT_IS_PUBLIC: &str = concat!(
    "(f.confidential = FALSE AND ",
    topic_publicity!(),
    " = 'public' AND NOT (f.relayed_by IS NOT NULL AND f.identity_consent = FALSE))"
);

/// Only what a public listing shows (20 columns, not the 44 of an
/// officer's view): decoding columns is most of a listing's cost.
const PUBLIC_SELECT: &str = concat!(
    "SELECT f.code, t.code AS topic_code, t.name_vi AS topic_name_vi, t.name_en AS topic_name_en, \
     f.state, f.description, f.hamlet_id, u.name AS hamlet_name, f.responsible_label, f.lat, f.lon, f.received_at, \
     f.resolve_due, f.answered_at, f.updated_at, f.answer, f.refusal_reason, f.refer_to, ",
    topic_publicity!(),
    " AS publicity, (f.relayed_by IS NOT NULL AND f.identity_consent = FALSE) AS unconsented \
     FROM feedback f JOIN topics t ON t.id = f.topic_id JOIN units u ON u.id = f.hamlet_id"
);

/// Listed publicly: not a private topic here (confidential is asked apart).
const LISTED: &str = concat!(" AND ", topic_publicity!(), " <> 'private'");

#[derive(sqlx::FromRow)]
struct PublicRow {
    code: String,
    topic_code: String,
    topic_name_vi: String,
    topic_name_en: String,
    #[sqlx(try_from = "String")]
    state: FeedbackState,
    description: String,
    hamlet_id: i64,
    hamlet_name: String,
    responsible_label: String,
    lat: Option<f64>,
    lon: Option<f64>,
    received_at: i64,
    resolve_due: i64,
    answered_at: Option<i64>,
    updated_at: i64,
    answer: Option<String>,
    refusal_reason: Option<String>,
    refer_to: Option<String>,
    #[sqlx(try_from = "String")]
    publicity: Publicity,
    unconsented: bool,
}

impl From<PublicRow> for PublicFeedback {
    fn from(r: PublicRow) -> Self {
        let publicity = Publicity::of_item(r.publicity, r.unconsented);
        let text = publicity.shows_text();
        PublicFeedback {
            publicity,
            code: r.code,
            topic_code: r.topic_code,
            topic_name_vi: r.topic_name_vi,
            topic_name_en: r.topic_name_en,
            state: r.state,
            description: if text { r.description } else { String::new() },
            hamlet_id: r.hamlet_id,
            hamlet_name: r.hamlet_name,
            responsible_label: r.responsible_label,
            lat: r.lat.filter(|_| text),
            lon: r.lon.filter(|_| text),
            received_at: r.received_at,
            resolve_due: r.resolve_due,
            answered_at: r.answered_at,
            updated_at: r.updated_at,
            answer: r.answer.filter(|_| text),
            refusal_reason: r.refusal_reason.filter(|_| text),
            refer_to: r.refer_to.filter(|_| text),
        }
    }
}

/// `$from, $from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `'a', 'b'` of the states that Open311 calls open (or closed). Built from
/// the domain's list so a new state cannot fall out of both.
fn states(open: bool) -> String {
    FeedbackState::ALL
        .iter()
        .filter(|s| s.is_open() == open)
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Public items matching `filter`, newest first; confidential items
    /// are never returned. By codes: the unique index on `code`; otherwise
    /// a range of the `feedback_received` index, read backwards.
    pub async fn public_feedback_list(&self, filter: &PublicFilter) -> Result<Vec<PublicFeedback>> {
        if !filter.codes.is_empty() {
            return self.public_feedback_by_codes(&filter.codes).await;
        }
        let (from, to) = filter.window(self.now())?;
        let limit = filter.limit.clamp(1, MAX_PUBLIC_RESULTS);
        let mut sql = format!(
            "{PUBLIC_SELECT} WHERE f.received_at >= $1 AND f.received_at <= $2 AND f.confidential = FALSE{LISTED}"
        );
        let mut topic_ids = Vec::new();
        if !filter.topics.is_empty() {
            // Topics are a handful of rows: resolve codes here so the
            // predicate stays on the feedback table.
            let all = self.topics_cached().await?;
            for code in &filter.topics {
                let code = code.trim().to_lowercase();
                if let Some(t) = all.iter().find(|t| t.code == code) {
                    if !topic_ids.contains(&t.id) {
                        topic_ids.push(t.id);
                    }
                }
            }
            if topic_ids.is_empty() {
                return Ok(Vec::new());
            }
            sql += &format!(" AND f.topic_id IN ({})", placeholders(4, topic_ids.len()));
        }
        if let Some(open) = filter.open {
            sql += &format!(" AND f.state IN ({})", states(open));
        }
        sql += " ORDER BY f.received_at DESC, f.id DESC LIMIT $3";
        let rows: Vec<PublicRow> = on_db!(&self.db, |p| {
            let mut q = sqlx::query_as(&sql).bind(from).bind(to).bind(limit);
            for id in &topic_ids {
                q = q.bind(id);
            }
            q.fetch_all(p).await?
        });
        Ok(rows.into_iter().map(PublicFeedback::from).collect())
    }

    /// Public items by tracking code; codes that do not parse, are unknown
    /// or confidential are simply absent. Whoever holds a code sees a
    /// private topic's item too, with its state only: the code is the
    /// reporter's, never listed.
    pub(crate) async fn public_feedback_by_codes(
        &self,
        typed: &[String],
    ) -> Result<Vec<PublicFeedback>> {
        if typed.len() > MAX_PUBLIC_CODES {
            return Err(StoreError::Rejected(Problem::TooManyCodes {
                max: MAX_PUBLIC_CODES,
            }));
        }
        let mut codes: Vec<String> = Vec::new();
        for t in typed {
            if let Some(c) = TrackingCode::parse(t) {
                if !codes.iter().any(|x| x == c.as_str()) {
                    codes.push(c.as_str().to_string());
                }
            }
        }
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{PUBLIC_SELECT} WHERE f.code IN ({}) AND f.confidential = FALSE \
             ORDER BY f.received_at DESC, f.id DESC",
            placeholders(1, codes.len())
        );
        let rows: Vec<PublicRow> = on_db!(&self.db, |p| {
            let mut q = sqlx::query_as(&sql);
            for c in &codes {
                q = q.bind(c);
            }
            q.fetch_all(p).await?
        });
        Ok(rows.into_iter().map(PublicFeedback::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_defaults_and_limits() {
        let now = 1_000_000_000;
        let f = |start, end| PublicFilter {
            start,
            end,
            ..PublicFilter::default()
        };
        assert_eq!(
            f(None, None).window(now).unwrap(),
            (now - MAX_WINDOW_SECONDS, i64::MAX)
        );
        assert_eq!(
            f(Some(10), None).window(now).unwrap(),
            (10, 10 + MAX_WINDOW_SECONDS)
        );
        assert_eq!(
            f(None, Some(now)).window(now).unwrap(),
            (now - MAX_WINDOW_SECONDS, now)
        );
        assert_eq!(
            f(Some(10), Some(10 + MAX_WINDOW_SECONDS))
                .window(now)
                .unwrap(),
            (10, 10 + MAX_WINDOW_SECONDS)
        );
        assert!(f(Some(10), Some(11 + MAX_WINDOW_SECONDS))
            .window(now)
            .is_err());
        assert!(f(Some(10), Some(9)).window(now).is_err());
    }

    #[test]
    fn open_and_closed_states_partition_all() {
        let (open, closed) = (states(true), states(false));
        for s in FeedbackState::ALL {
            let quoted = format!("'{}'", s.as_str());
            assert!(open.contains(&quoted) != closed.contains(&quoted));
        }
        assert_eq!(placeholders(4, 3), "$4, $5, $6");
    }
}
