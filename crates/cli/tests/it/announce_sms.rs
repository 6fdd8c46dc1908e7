//! An announcement to the demo's Mai Hoàng through the real Kannel: one SMS
//! per basic-phone household, delivery reports and "OK" replies updating
//! the tracking, the fallback handing unacknowledged households to visits,
//! and bad reports changing nothing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use danvan_domain::announcement::OutboxState;
use danvan_store::registry::account::TokenKind;
use danvan_store::{Actor, FixedClock, Scope, Store};
use serde_json::{json, Value};

use crate::announce::expected_channels;
use crate::common::{unit_id, Backend, Server, TestDb};
use crate::kannel::Kannel;

/// A Tuesday, 09:00 in Vietnam: outside the quiet hours.
pub fn tuesday_morning() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00+07:00")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Digits of a phone as the gateway may write it (+84…, 84…, 0…).
fn national(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    digits
        .strip_prefix("84")
        .map(|d| format!("0{d}"))
        .unwrap_or(digits)
}

async fn sms_phones(store: &Store, announcement: i64) -> BTreeSet<String> {
    let rows: Vec<(String,)> = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT recipient FROM outbox WHERE announcement_id = $1"
    )
    .bind(announcement)
    .fetch_all(p)
    .await
    .unwrap());
    rows.into_iter().map(|(r,)| national(&r)).collect()
}

async fn delivery_states(store: &Store, announcement: i64, channel: &str) -> Vec<(i64, String)> {
    danvan_store::on_db!(&store.db, |p| {
        sqlx::query_as(
        "SELECT household_id, state FROM deliveries WHERE announcement_id = $1 AND channel = $2 ORDER BY household_id"
    )
    .bind(announcement)
    .bind(channel)
    .fetch_all(p)
    .await
    .unwrap()
    })
}

/// Polls `check` until it holds or `timeout` passes.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let until = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(()) => return,
            Err(e) if Instant::now() > until => panic!("{what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The demo at a weekday morning, its server, a gateway key and Kannel
/// calling the server back.
pub struct Rig {
    pub db: TestDb,
    pub store: Store,
    pub clock: Arc<FixedClock>,
    pub server: Server,
    pub kannel: Kannel,
    pub key: String,
}

pub async fn rig(backend: Backend) -> Rig {
    let db = TestDb::demo(backend).await;
    let clock = Arc::new(FixedClock::new(tuesday_morning()));
    let store = Store::connect_with_clock(&db.url, clock.clone())
        .await
        .unwrap();
    store
        .set_leads_unit(&Actor::cli(), "xa.phucson", true)
        .await
        .unwrap();
    let key = store
        .create_token(&Actor::cli(), "admin", "kannel", TokenKind::Gateway)
        .await
        .unwrap();
    let server = Server::start(&store).await;
    let inbound = format!(
        "{}/sms/inbound?key={key}&from=%p&text=%a&id=%I",
        server.base
    );
    let kannel = Kannel::start(Some(&inbound)).await;
    Rig {
        db,
        store,
        clock,
        server,
        kannel,
        key,
    }
}

pub fn kannel_config(rig: &Rig) -> danvan_sms::KannelConfig {
    let mut cfg = danvan_sms::KannelConfig::new(
        &rig.kannel.sendsms_url(),
        rig.kannel.username(),
        rig.kannel.password(),
    );
    cfg.public_url = rig.server.base.clone();
    cfg.gateway_key = rig.key.clone();
    cfg.rate_per_second = 200;
    cfg
}

/// Writes and approves (the leader writes) an announcement to Mai Hoàng.
pub async fn announce(rig: &Rig, body: &str) -> i64 {
    let mai_hoang = unit_id(&rig.store, "mai hoang").await;
    let phuc_son = rig
        .store
        .unit(&Scope::all(), mai_hoang)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let token = rig
        .store
        .create_api_token(&Actor::cli(), "xa.phucson", "t")
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(rig.server.url("/api/v1/announcements"))
        .bearer_auth(token)
        .json(&json!({
            "unit_id": phuc_son.to_string(),
            "title": "Họp thôn",
            "body": body,
            "audience": {"units": [mai_hoang.to_string()]},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["state"], "planned", "{a}");
    a["id"].as_str().unwrap().parse().unwrap()
}

async fn announcement_through_kannel(backend: Backend) {
    let rig = rig(backend).await;
    let store = &rig.store;
    let mai_hoang = unit_id(store, "mai hoang").await;
    let (feed, sms, visit) = expected_channels(store, mai_hoang).await;
    let body = "Mời đại diện các hộ dự họp thôn lúc 19 giờ thứ Bảy tại nhà văn hóa. Trả lời OK khi đã nhận.";
    let id = announce(&rig, body).await;
    let sender = danvan_sms::spawn_sms_sender(store.clone(), kannel_config(&rig));

    // One SMS per basic-phone household, in Vietnamese (UCS-2, in parts).
    let got = rig
        .kannel
        .wait_for(sms as usize, Duration::from_secs(60))
        .await;
    assert_eq!(got.len() as i64, sms, "one SMS per household, no more");
    let expected_text = format!("Họp thôn: {body}");
    for m in &got {
        assert_eq!(m.text, expected_text);
        assert!(m.unicode, "Vietnamese goes as UCS-2");
        assert_eq!(
            m.parts,
            2,
            "{} characters: two UCS-2 parts",
            expected_text.chars().count()
        );
        assert_eq!(m.from, "DanVan");
    }
    let to: BTreeSet<String> = got.iter().map(|m| national(&m.to)).collect();
    assert_eq!(to.len() as i64, sms, "each household once");
    assert_eq!(to, sms_phones(store, id).await);

    // The fake SMSC reports each message delivered: tracking follows.
    eventually("delivery reports", Duration::from_secs(30), || async {
        let states = delivery_states(store, id, "sms").await;
        let delivered = states.iter().filter(|(_, s)| s == "delivered").count();
        if delivered as i64 == sms {
            Ok(())
        } else {
            Err(format!("{delivered} of {sms} delivered: {states:?}"))
        }
    })
    .await;
    let outbox = store.outbox_states().await.unwrap();
    assert_eq!(outbox, vec![(OutboxState::Delivered, sms)], "{outbox:?}");

    // A household answers "OK" from its phone: acknowledged.
    let phone = got[0].to.clone();
    rig.kannel.send_from_phone(&phone, "DanVan", "ok").await;
    eventually("the OK reply", Duration::from_secs(30), || async {
        let n = delivery_states(store, id, "sms")
            .await
            .iter()
            .filter(|(_, s)| s == "acknowledged")
            .count();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("{n} acknowledged"))
        }
    })
    .await;
    let replies = rig
        .kannel
        .wait_for(sms as usize + 1, Duration::from_secs(30))
        .await;
    let reply = replies.last().unwrap();
    assert_eq!(national(&reply.to), national(&phone));
    assert!(reply.text.contains("da ghi nhan"), "{reply:?}");

    // A day later the others have not answered: each becomes a visit task
    // for its team; the one that answered does not.
    rig.clock.advance(chrono::Duration::hours(25));
    let added = store.sms_fallback().await.unwrap();
    assert_eq!(added as i64, sms - 1);
    assert_eq!(store.sms_fallback().await.unwrap(), 0, "once only");
    let visits = delivery_states(store, id, "visit").await;
    assert_eq!(visits.len() as i64, visit + sms - 1);

    // Smartphone households: on their feed; the reach page counts all.
    let leader = danvan_store::feedback::Viewer::of(
        &store.principal_by_username("xa.phucson").await.unwrap(),
    );
    let reach = store.announcement_reach(&leader, id, 0).await.unwrap();
    assert_eq!(reach.households, feed + sms + visit);
    let count = |c: &str, s: &str| {
        reach
            .by_channel
            .iter()
            .filter(|(ch, st, _)| ch.as_str() == c && st.as_str() == s)
            .map(|(_, _, n)| *n)
            .sum::<i64>()
    };
    assert_eq!(count("feed", "sent"), feed);
    assert_eq!(count("sms", "delivered"), sms - 1);
    assert_eq!(count("sms", "acknowledged"), 1);
    assert_eq!(reach.reached, sms, "delivered or acknowledged");

    // Bad reports: a forged key, an unknown message, a malformed type.
    let c = reqwest::Client::new();
    let report = |q: String| c.get(rig.server.url(&format!("/sms/report?{q}"))).send();
    assert_eq!(
        report(format!("key=forged&id=ann:{id}:1&type=1"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        report(format!("key={}&id=ann:0:0&type=1", rig.key))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        report(format!("key={}&id=ann:{id}:1&type=x", rig.key))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        store.outbox_states().await.unwrap(),
        vec![(OutboxState::Delivered, sms)],
        "nothing changed"
    );

    sender.abort();
    rig.server.stop();
    drop(rig.kannel);
    rig.db.finish().await;
}
both!(announcement_through_kannel);

async fn kannel_down_then_back(backend: Backend) {
    let rig = rig(backend).await;
    let store = rig.store.clone();
    let mai_hoang = unit_id(&store, "mai hoang").await;
    let (_, sms, _) = expected_channels(&store, mai_hoang).await;
    let id = announce(&rig, "Lịch tiêm chủng tháng 12.").await;
    // Kannel answering errors (a wrong password), then not there at all:
    // every message waits for a later attempt, none is lost or failed.
    let mut refused = kannel_config(&rig);
    refused.password = "wrong".into();
    let mut gone = kannel_config(&rig);
    gone.sendsms_url = {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}/cgi-bin/sendsms")
    };
    for (attempt, cfg) in [(1, refused), (2, gone)] {
        let sender = danvan_sms::spawn_sms_sender(store.clone(), cfg);
        eventually("attempts while down", Duration::from_secs(30), || async {
            let rows: Vec<(String, i32, Option<String>)> =
                danvan_store::on_db!(&store.db, |p| sqlx::query_as(
                    "SELECT state, attempts, error FROM outbox WHERE announcement_id = $1"
                )
                .bind(id)
                .fetch_all(p)
                .await
                .unwrap());
            let waiting = rows
                .iter()
                .filter(|(s, a, e)| s == "queued" && *a == attempt && e.is_some())
                .count();
            if waiting as i64 == sms {
                Ok(())
            } else {
                Err(format!("{rows:?}"))
            }
        })
        .await;
        sender.abort();
        assert!(rig.kannel.received().is_empty(), "nothing reached a phone");
        // The kept error never carries the request (Kannel's password, the phone).
        let errors: Vec<(String,)> = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
            "SELECT error FROM outbox WHERE announcement_id = $1"
        )
        .bind(id)
        .fetch_all(p)
        .await
        .unwrap());
        for (e,) in &errors {
            assert!(!e.contains("password") && !e.contains("+84"), "{e}");
        }
        // The next attempt's time comes.
        rig.clock.advance(chrono::Duration::minutes(5));
    }
    // Kannel answers again: each household gets one SMS, once.
    let sender = danvan_sms::spawn_sms_sender(store.clone(), kannel_config(&rig));
    let got = rig
        .kannel
        .wait_for(sms as usize, Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rig.kannel.received().len(), got.len(), "nothing twice");
    let to: BTreeSet<String> = got.iter().map(|m| national(&m.to)).collect();
    assert_eq!(to.len(), got.len());
    assert_eq!(to, sms_phones(&store, id).await);
    sender.abort();
    rig.server.stop();
    drop(rig.kannel);
    rig.db.finish().await;
}
both!(kannel_down_then_back);
