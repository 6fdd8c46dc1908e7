//! SMS out through Kannel, the open-source gateway operators deploy: the
//! sender task that drains the outbox into Kannel's HTTP `sendsms`
//! interface, the outbox's minute sweep, and the SMS texts the server
//! answers with. No HTTP server here: Kannel's delivery reports
//! (`/sms/report`) and incoming messages (`/sms/inbound`) are the web
//! crate's routes, and go to the store.
//!
//! Vietnamese goes as UCS-2 (`coding=2`, Kannel converts from UTF-8);
//! text the sender chose to send without diacritics as GSM 7-bit
//! (`coding=0`). Kannel splits long texts into concatenated parts itself.
//! Every message asks for reports 1 (delivered), 2 (failed), 8 (handed to
//! the SMSC) and 16 (rejected by the SMSC); the report carries the
//! message's idempotency key back, which is also how a message left in
//! doubt by a crash is settled (see `danvan_store::announce::outbox`).

pub mod local_kannel;

use std::time::{Duration, Instant};

use danvan_domain::announcement::Coding;
use danvan_store::announce::outbox::{OutgoingSms, IN_DOUBT_GRACE_SECS, LEASE_SECS};
use danvan_store::{Store, StoreError};
use futures::StreamExt;

/// The answer to a report over the sender's limit (plain ASCII like every
/// SMS reply, one message long).
pub const SMS_LIMITED: &str = "Ban da gui nhieu phan anh trong mot gio qua. Xin gui lai sau, hoac bao truc tiep to dan van cua thon. Cam on ban.";

/// Delivery reports asked for: delivered, failed, submitted, rejected.
const DLR_MASK: u32 = 1 | 2 | 8 | 16;

/// Where and how to reach Kannel.
#[derive(Debug, Clone)]
pub struct KannelConfig {
    /// `http://host:13013/cgi-bin/sendsms`.
    pub sendsms_url: String,
    pub username: String,
    pub password: String,
    /// The sender shown on phones (a short code or name).
    pub from: String,
    /// This server's address as Kannel reaches it, for delivery reports.
    pub public_url: String,
    /// A gateway token (`danvan token create --gateway`) Kannel presents
    /// with its reports.
    pub gateway_key: String,
    /// Messages handed to Kannel per second at most (the operator's limit).
    pub rate_per_second: u32,
    /// Messages in flight to Kannel at once.
    pub concurrency: usize,
    /// How long a claim holds its messages: longer than a batch takes.
    pub lease_secs: i64,
    /// After a lease ends, how long a message in doubt (its sender died
    /// mid-send) waits for the gateway's report before it is sent again.
    pub in_doubt_secs: i64,
}

impl KannelConfig {
    pub fn new(sendsms_url: &str, username: &str, password: &str) -> KannelConfig {
        KannelConfig {
            sendsms_url: sendsms_url.to_string(),
            username: username.to_string(),
            password: password.to_string(),
            from: "DanVan".into(),
            public_url: "http://127.0.0.1:8080".into(),
            gateway_key: String::new(),
            rate_per_second: 100,
            concurrency: 16,
            lease_secs: LEASE_SECS,
            in_doubt_secs: IN_DOUBT_GRACE_SECS,
        }
    }
}

/// What Kannel said to one message.
enum Outcome {
    Accepted,
    /// Kannel refused the message itself (a malformed number): no retry.
    Refused(String),
    /// Kannel is down or failing: try again later.
    Unavailable(String),
}

/// The query of one `sendsms` call.
fn sendsms_query(cfg: &KannelConfig, m: &OutgoingSms) -> Vec<(&'static str, String)> {
    let report = format!(
        "{}/sms/report?key={}&id={}&type=%d&reply=%A",
        cfg.public_url.trim_end_matches('/'),
        urlencode(&cfg.gateway_key),
        urlencode(&m.key)
    );
    vec![
        ("username", cfg.username.clone()),
        ("password", cfg.password.clone()),
        ("from", cfg.from.clone()),
        ("to", m.recipient.clone()),
        ("text", m.text.clone()),
        ("charset", "UTF-8".into()),
        (
            "coding",
            match m.coding {
                Coding::Gsm7 => "0",
                Coding::Ucs2 => "2",
            }
            .into(),
        ),
        ("dlr-mask", DLR_MASK.to_string()),
        ("dlr-url", report),
    ]
}

/// Percent-encoding of a query value (RFC 3986 unreserved kept).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn send_one(client: &reqwest::Client, cfg: &KannelConfig, m: &OutgoingSms) -> Outcome {
    let r = client
        .get(&cfg.sendsms_url)
        .query(&sendsms_query(cfg, m))
        .send()
        .await;
    match r {
        // Without the URL: its query holds Kannel's password, the phone
        // and the text, and this error is kept and shown on the reach page.
        Err(e) => Outcome::Unavailable(format!("gateway unreachable: {}", e.without_url())),
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            let body = body.trim().to_string();
            if status.is_success() {
                Outcome::Accepted
            } else if status == reqwest::StatusCode::BAD_REQUEST {
                Outcome::Refused(format!("gateway refused: {body}"))
            } else {
                Outcome::Unavailable(format!("gateway answered {status}: {body}"))
            }
        }
    }
}

/// Drains the outbox into Kannel for as long as the process lives: claim a
/// batch, send it with a few requests in flight, record each answer, keep
/// to the rate. Messages in doubt after a crash are queued again by the
/// sweep once their grace is over.
pub fn spawn_sms_sender(store: Store, cfg: KannelConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "SMS sender cannot start");
                return;
            }
        };
        let name = format!(
            "sender-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let batch = (cfg.rate_per_second.max(1) as i64).min(500);
        let mut last_release = Instant::now() - Duration::from_secs(3600);
        loop {
            // Messages a dead sender left in doubt, past their grace.
            if last_release.elapsed() >= Duration::from_secs(1) {
                last_release = Instant::now();
                match store.release_stale_claims(cfg.in_doubt_secs).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::warn!(n, "messages left in doubt by a stopped sender queued again")
                    }
                    Err(e) => tracing::error!(error = %e, "outbox release failed"),
                }
            }
            let started = Instant::now();
            let claimed = match store.claim_sms(&name, batch, cfg.lease_secs).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "outbox claim failed");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let n = claimed.len();
            let mut down = false;
            let results: Vec<(i64, Outcome)> = futures::stream::iter(claimed)
                .map(|m| {
                    let client = &client;
                    let cfg = &cfg;
                    async move { (m.id, send_one(client, cfg, &m).await) }
                })
                .buffer_unordered(cfg.concurrency.max(1))
                .collect()
                .await;
            let mut accepted = Vec::with_capacity(results.len());
            for (id, outcome) in results {
                let r = match outcome {
                    Outcome::Accepted => {
                        accepted.push(id);
                        Ok(())
                    }
                    Outcome::Refused(e) => store.sms_not_sent(id, &e, true).await,
                    Outcome::Unavailable(e) => {
                        down = true;
                        store.sms_not_sent(id, &e, false).await
                    }
                };
                if let Err(e) = r {
                    tracing::error!(error = %e, "outbox update failed");
                }
            }
            if let Err(e) = store.sms_accepted_many(&accepted).await {
                // Left `sending`: their reports settle them, or the
                // in-doubt grace sends them again.
                tracing::error!(error = %e, "outbox update failed");
            }
            if down {
                tracing::warn!("SMS gateway unavailable; messages wait for their next attempt");
            }
            // Keep to the gateway's rate: n messages take n / rate seconds.
            let floor = Duration::from_secs_f64(n as f64 / cfg.rate_per_second.max(1) as f64);
            if let Some(rest) = floor.checked_sub(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
    })
}

/// The outbox's housekeeping, run by the minute's sweep: announcements due
/// are planned; unacknowledged SMS fall back to visits. (Messages in doubt
/// are the sender's: only a process that sends may send them again.)
pub async fn sweep_outbox(
    store: &Store,
    public_url: Option<&str>,
) -> Result<(usize, u64), StoreError> {
    let planned = store.plan_due_announcements(public_url).await?;
    let fell_back = store.sms_fallback().await?;
    Ok((planned, fell_back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_url_carries_the_key_encoded_once_more() {
        let mut cfg = KannelConfig::new("http://k/cgi-bin/sendsms", "u", "p");
        cfg.public_url = "http://dv:8080/".into();
        cfg.gateway_key = "g k".into();
        let m = OutgoingSms {
            id: 1,
            recipient: "+84912345678".into(),
            text: "Họp".into(),
            coding: Coding::Ucs2,
            key: "ann:5:12".into(),
            attempts: 1,
        };
        let q = sendsms_query(&cfg, &m);
        let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("dlr-url").unwrap(),
            "http://dv:8080/sms/report?key=g%20k&id=ann%3A5%3A12&type=%d&reply=%A"
        );
        assert_eq!(get("coding").unwrap(), "2");
        assert_eq!(get("dlr-mask").unwrap(), "27");
        assert_eq!(get("to").unwrap(), "+84912345678");
    }
}
