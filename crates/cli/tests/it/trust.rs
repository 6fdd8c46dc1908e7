//! Issue 13 (trust): each test names the item of the security review it
//! closes. Item 1's page flow is in `officials::reporters_rate_and_write_
//! back_on_the_status_page`; here are the limits around it.

use danvan_domain::Phone;
use danvan_store::feedback::proof::{MAX_CODES_PER_HOUR, MAX_TRIES};
use danvan_store::{Actor, Scope, Store};
use danvan_web::rate_limit::{Limit, RateLimits};

use crate::common::{client, input_value, outbox_for, unit_id, Backend, Server, TestDb};

/// A web report in Mai Hoàng from `phone`, topic `topic`; its id and code.
pub(crate) async fn reported(s: &Store, topic: &str, phone: &str) -> (i64, String) {
    let hamlet = unit_id(s, "mai hoang").await;
    let new = danvan_store::feedback::NewFeedback {
        reporter_phone: Some(phone.into()),
        ..crate::feedback::web_report(hamlet, topic, "Đèn đường ngõ 5 hỏng đã một tuần")
    };
    let r = s
        .submit_feedback(&Actor::system(), &Scope::all(), &new)
        .await
        .unwrap();
    (r.id, r.code)
}

/// The codes sent for an item, newest last.
async fn codes_sent(s: &Store, id: i64) -> Vec<String> {
    outbox_for(s, id)
        .await
        .into_iter()
        .filter(|(_, b)| b.starts_with("Ma xac nhan"))
        .filter_map(|(_, b)| {
            b.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_string)
        })
        .collect()
}

/// Item 1: a code is spent after a few wrong tries, an item gets few codes
/// an hour, and a phone that is not the reporter's gets none — all counted
/// in the database, where every server process sees them.
async fn item1_reporter_codes_are_few_and_short_lived(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let (id, code) = reported(s, "environment", "0912 345 678").await;
    let owner = Phone::parse("0912345678").unwrap();
    let stranger = Phone::parse("0987654321").unwrap();
    s.send_reporter_code(&code, &stranger).await.unwrap();
    assert!(codes_sent(s, id).await.is_empty());
    // An unknown code answers the same, and sends nothing.
    s.send_reporter_code("ZZZZZZZZ", &owner).await.unwrap();

    s.send_reporter_code(&code, &owner).await.unwrap();
    let otp = codes_sent(s, id).await.pop().expect("a code");
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    assert_eq!(s.prove_reporter(&code, wrong).await.unwrap(), None);
    assert_eq!(
        s.prove_reporter(&code, &otp).await.unwrap(),
        Some(owner.clone()),
        "the right code works after a wrong try"
    );
    for _ in 1..MAX_TRIES {
        assert_eq!(s.prove_reporter(&code, wrong).await.unwrap(), None);
    }
    assert_eq!(
        s.prove_reporter(&code, &otp).await.unwrap(),
        None,
        "spent after {MAX_TRIES} wrong tries"
    );
    for _ in 1..MAX_CODES_PER_HOUR + 2 {
        s.send_reporter_code(&code, &owner).await.unwrap();
    }
    assert_eq!(codes_sent(s, id).await.len() as i64, MAX_CODES_PER_HOUR);
    db.finish().await;
}
both!(item1_reporter_codes_are_few_and_short_lived);

/// Item 1: the reporter's forms are limited per tracking code and per
/// client address, right or wrong; another code is not held back by one
/// code's limit.
async fn item1_reporter_forms_are_limited(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let (_, code) = reported(s, "environment", "0912 345 678").await;
    let (_, other) = reported(s, "environment", "0912 345 679").await;
    let limits = RateLimits {
        reporter_per_code: Limit {
            max: 3,
            window: std::time::Duration::from_secs(600),
        },
        // The fourth try of one code takes an address place too.
        reporter_per_ip: Limit {
            max: 6,
            window: std::time::Duration::from_secs(600),
        },
        ..RateLimits::default()
    };
    let server = Server::start_with_limits(s, limits).await;
    let c = client();
    let page = c
        .get(server.url(&format!("/r/{code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&page, "csrf").expect("a token");
    let rate = |code: String| {
        let (c, csrf, url) = (&c, csrf.clone(), server.url(&format!("/r/{code}/rate")));
        async move {
            let res = c
                .post(url)
                .form(&[("csrf", csrf.as_str()), ("otp", "123456"), ("stars", "5")])
                .send()
                .await
                .unwrap();
            res.headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string())
                .unwrap_or_default()
        }
    };
    for _ in 0..3 {
        assert!(rate(code.clone()).await.contains("msg=badcode"));
    }
    assert!(rate(code.clone()).await.contains("msg=slow"));
    // Another code has its own window, until the address's is full.
    assert!(rate(other.clone()).await.contains("msg=badcode"));
    assert!(rate(other.clone()).await.contains("msg=badcode"));
    assert!(rate(other.clone()).await.contains("msg=slow"));
    server.stop();
    db.finish().await;
}
both!(item1_reporter_forms_are_limited);
