//! A simulated population of basic phones: the operator's side of the
//! demo's Kannel, so a newcomer sees an announcement's SMS delivered,
//! failed, acknowledged by "OK" and handed to visits, with no real phone
//! and no operator. It is a real peer of bearerbox — its HTTP SMSC
//! (`danvan_sms::local_kannel::Smsc::Http`) — so everything else runs as
//! in production: the server's sender hands messages to `sendsms`,
//! bearerbox hands them here, the delivery reports go back through
//! bearerbox and smsbox to `/sms/report`, and the "OK" replies through
//! smsbox's `sms-service` to `/sms/inbound`.
//!
//! Each number behaves the same on every run, chosen from the number
//! itself ([`fate`]): about 85 % delivered (half of those answer "OK"
//! after a few seconds to an announcement — told by the delivery report
//! it asks for, which names an announcement's delivery, `ann:…` — never
//! to the status of a report or to the server's thanks), 10 % failed (3 % refused at once as not in
//! service, 7 % reported undelivered after a while, as a phone switched
//! off), 5 % never reported (the fallback hands them to a visit after the
//! announcement's hours).

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Router;
use danvan_sms::local_kannel::{concatenation, url_decode, url_encode, SMSC_USER};

/// What becomes of the messages to one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fate {
    /// Delivered; `answers`: the person replies "OK".
    Delivered { answers: bool },
    /// Switched off or out of coverage: reported failed after a while.
    Unreachable,
    /// No such subscriber: the operator refuses the message at once.
    NotInService,
    /// Off for days: no report ever comes.
    Silent,
}

/// The fate of a number (its digits decide, however it is written).
pub fn fate(number: &str) -> Fate {
    let h = seed(number, 0);
    match h % 100 {
        0..=2 => Fate::NotInService,
        3..=9 => Fate::Unreachable,
        10..=14 => Fate::Silent,
        _ => Fate::Delivered {
            answers: (h / 100).is_multiple_of(2),
        },
    }
}

/// How fast people answer; reports come faster (see `report_delay`).
#[derive(Debug, Clone)]
pub struct Pace {
    /// From a message's arrival to the person's "OK".
    pub answer: RangeInclusive<Duration>,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            answer: Duration::from_secs(5)..=Duration::from_secs(30),
        }
    }
}

impl Pace {
    /// `MIN-MAX` seconds of an answer, e.g. `5-30`.
    pub fn parse(s: &str) -> Option<Pace> {
        let (min, max) = s.split_once('-')?;
        let min: f64 = min.trim().parse().ok()?;
        let max: f64 = max.trim().parse().ok()?;
        if !(0.0..=3600.0).contains(&min) || !(min..=3600.0).contains(&max) {
            return None;
        }
        Some(Pace {
            answer: Duration::from_secs_f64(min)..=Duration::from_secs_f64(max),
        })
    }

    /// A delivery report: a fifth of the shortest answer to a sixth of the
    /// longest (1–5 s at the default pace).
    fn report(&self) -> RangeInclusive<Duration> {
        let (min, max) = (*self.answer.start() / 5, *self.answer.end() / 6);
        min..=max.max(min)
    }
}

/// What the phones have done so far.
#[derive(Debug, Default)]
pub struct Counts {
    /// Messages (whole, all parts in) that reached a phone.
    pub received: AtomicUsize,
    pub delivered: AtomicUsize,
    pub failed: AtomicUsize,
    pub refused: AtomicUsize,
    pub answered: AtomicUsize,
}

/// The running population: an HTTP server bearerbox sends to, and the
/// tasks that report and answer later. Stops when dropped.
pub struct Phones {
    pub counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

/// A long message's (number, reference, total); its parts so far and
/// whether one named an announcement.
type PartsKey = (String, u16, u8);

struct Inner {
    /// bearerbox's SMSC address, its account in the query.
    smsc_url: String,
    password: String,
    pace: Pace,
    http: reqwest::Client,
    /// Parts of long messages so far.
    parts: Mutex<HashMap<PartsKey, (u8, bool)>>,
    /// Numbers that answered and wait for the server's reply (which they
    /// do not answer: no loop of "OK" and "thank you").
    awaiting: Mutex<std::collections::HashSet<String>>,
    counts: Arc<Counts>,
}

impl Phones {
    /// Serves the phones on `listener` (bearerbox's `send-url` points
    /// there); `smsc_url` and `password` are bearerbox's side
    /// (`LocalKannel::smsc_url`, `smsc_password`).
    pub fn start(
        listener: tokio::net::TcpListener,
        smsc_url: String,
        password: String,
        pace: Pace,
    ) -> anyhow::Result<Phones> {
        let counts = Arc::new(Counts::default());
        let inner = Arc::new(Inner {
            smsc_url,
            password,
            pace,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            parts: Mutex::default(),
            awaiting: Mutex::default(),
            counts: counts.clone(),
        });
        let app = Router::new().fallback(receive).with_state(inner);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulated phones stopped");
            }
        });
        Ok(Phones { counts, task })
    }
}

impl Drop for Phones {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One message (or one part) from bearerbox, as another Kannel's
/// `sendsms` takes it. `Sent.` accepts it; anything else refuses it.
async fn receive(
    State(p): State<Arc<Inner>>,
    RawQuery(query): RawQuery,
) -> (StatusCode, &'static str) {
    let q = parse_query(query.as_deref().unwrap_or(""));
    let text = |k: &str| q.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
    if text("username").as_deref() != Some(SMSC_USER)
        || text("password").as_deref() != Some(p.password.as_str())
    {
        return (StatusCode::FORBIDDEN, "Authorization failed");
    }
    let (Some(to), Some(from)) = (text("to"), text("from")) else {
        return (StatusCode::BAD_REQUEST, "Insufficient args");
    };
    let fate = fate(&to);
    if fate == Fate::NotInService {
        p.counts.refused.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, "Unknown subscriber");
    }
    // Each part is reported on its own, as an SMSC does.
    let mask: u32 = text("dlr-mask").and_then(|m| m.parse().ok()).unwrap_or(0);
    let report = match fate {
        Fate::Delivered { .. } if mask & 1 != 0 => Some((1, p.pace.report())),
        Fate::Unreachable if mask & 2 != 0 => Some((2, p.pace.answer.clone())),
        _ => None,
    };
    if let (Some((kind, range)), Some(url)) = (report, text("dlr-url")) {
        let delay = pick(&to, 1, &range);
        let p = p.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // The far side replaces Kannel's escape for the type.
            let url = url.replace("%d", &kind.to_string());
            if call(&p.http, &url).await {
                let n = if kind == 1 {
                    &p.counts.delivered
                } else {
                    &p.counts.failed
                };
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // Only the first part of a long message carries the application's
    // report address.
    let part_of_announcement = text("dlr-url").is_some_and(|u| names_announcement(&u));
    let Some(announcement) = whole(
        &p,
        &to,
        q.get("udh").map(Vec::as_slice),
        part_of_announcement,
    ) else {
        return (StatusCode::OK, "Sent.");
    };
    p.counts.received.fetch_add(1, Ordering::Relaxed);
    let answered_before = p
        .awaiting
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&to);
    if fate == (Fate::Delivered { answers: true }) && announcement && !answered_before {
        let delay = pick(&to, 2, &p.pace.answer);
        let p = p.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            p.awaiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(to.clone());
            let url = format!(
                "{}&from={}&to={}&text=OK",
                p.smsc_url,
                url_encode(to.as_bytes()),
                url_encode(from.as_bytes())
            );
            if call(&p.http, &url).await {
                p.counts.answered.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    (StatusCode::OK, "Sent.")
}

/// When this part completes its message (a message of one part always
/// does): whether the message is an announcement's.
fn whole(p: &Inner, to: &str, udh: Option<&[u8]>, announcement: bool) -> Option<bool> {
    let Some((reference, total, _)) = udh.and_then(concatenation) else {
        return Some(announcement);
    };
    let mut parts = p.parts.lock().unwrap_or_else(PoisonError::into_inner);
    let key = (to.to_string(), reference, total);
    let (n, any) = parts.entry(key.clone()).or_insert((0, false));
    *n += 1;
    *any |= announcement;
    let any = *any;
    if *n >= total {
        parts.remove(&key);
        Some(any)
    } else {
        None
    }
}

/// Whether the report address bearerbox gave (its own, wrapping the
/// application's) names the delivery of an announcement: the outbox keys
/// an announcement's SMS `ann:<announcement>:<household>`.
fn names_announcement(dlr_url: &str) -> bool {
    String::from_utf8_lossy(&url_decode(dlr_url)).contains("id=ann:")
}

/// A GET to bearerbox; true when it took the call.
async fn call(http: &reqwest::Client, url: &str) -> bool {
    match http.get(url).send().await {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            tracing::warn!(status = %r.status(), "a simulated phone's call was refused");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e.without_url(), "a simulated phone could not reach Kannel");
            false
        }
    }
}

/// A query's fields as bytes: Kannel sends UCS-2 text and UDH as raw
/// bytes, URL-encoded.
fn parse_query(q: &str) -> HashMap<String, Vec<u8>> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&url_decode(k)).into_owned(),
                url_decode(v),
            )
        })
        .collect()
}

/// A number's digits hashed (FNV-1a), mixed with `salt` (splitmix64): the
/// same number decides the same on every run.
fn seed(number: &str, salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for d in number.bytes().filter(u8::is_ascii_digit) {
        h = (h ^ u64::from(d)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A delay in `range` for this number (a different one per `salt`).
fn pick(number: &str, salt: u64, range: &RangeInclusive<Duration>) -> Duration {
    let (min, max) = (range.start().as_millis(), range.end().as_millis());
    let span = max.saturating_sub(min) as u64 + 1;
    Duration::from_millis(min as u64 + seed(number, salt) % span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_are_shared_out_as_announced() {
        let mut n = HashMap::new();
        for i in 0..10_000 {
            *n.entry(fate(&format!("+8491{i:07}"))).or_insert(0) += 1;
        }
        let share = |f: Fate| f64::from(*n.get(&f).unwrap_or(&0)) / 100.0;
        let delivered =
            share(Fate::Delivered { answers: true }) + share(Fate::Delivered { answers: false });
        assert!((83.0..87.0).contains(&delivered), "{n:?}");
        let failed = share(Fate::Unreachable) + share(Fate::NotInService);
        assert!((8.5..11.5).contains(&failed), "{n:?}");
        assert!((4.0..6.0).contains(&share(Fate::Silent)), "{n:?}");
        assert!((40.0..45.0).contains(&share(Fate::Delivered { answers: true })));
        // However the number is written.
        assert_eq!(fate("+84912345678"), fate("84 912 345 678"));
    }

    #[test]
    fn pace_and_delays() {
        let p = Pace::parse("5-30").unwrap();
        assert_eq!(p.report(), Duration::from_secs(1)..=Duration::from_secs(5));
        assert!(Pace::parse("30-5").is_none());
        assert!(Pace::parse("x").is_none());
        let d = pick("+84912345678", 2, &p.answer);
        assert!(p.answer.contains(&d));
        assert_eq!(d, pick("+84912345678", 2, &p.answer), "the same each run");
    }

    #[test]
    fn announcements_and_queries() {
        // Bearerbox's report address wraps the application's, whose key is
        // encoded once more.
        assert!(names_announcement(
            "http://127.0.0.1:1/?username=operator&dlr-url=http://dv/sms/report?key=k&id=ann%3A5%3A12&type=%d&dlr-mask=%d"
        ));
        assert!(!names_announcement(
            "http://127.0.0.1:1/?dlr-url=http://dv/sms/report?key=k&id=fb%3A5%3Aack&type=%d"
        ));
        assert!(!names_announcement(
            "http://127.0.0.1:1/?dlr-url=http://dv/sms/report?id=ann-approve%3A5%3A1"
        ));
        let q = parse_query("text=%00H%1E%CD+&udh=%05%00%03%02%02%01&to=%2B84912");
        assert_eq!(q["text"], vec![0, b'H', 0x1e, 0xcd, b' ']);
        assert_eq!(q["to"], b"+84912".to_vec());
    }
}
