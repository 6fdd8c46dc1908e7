//! Keys open only their own door (API tokens the JSON API and Open311,
//! gateway tokens /sms/inbound), and SMS reports are limited per phone.

use danvan_sms::SMS_LIMITED;
use danvan_store::feedback::Viewer;
use danvan_store::registry::account::TokenKind;
use danvan_store::{Actor, Store};
use danvan_web::rate_limit::{Limit, RateLimits};

use crate::common::{unit_id, Backend, Server, TestDb};

async fn feedback_rows(s: &Store) -> i64 {
    danvan_store::on_db!(&s.db, |p| {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM feedback")
            .fetch_one(p)
            .await
            .unwrap()
            .0
    })
}

/// Phones of residents of the demo, each of a different household of the
/// team of `thanhvien.maihoang2`.
async fn resident_phones(s: &Store, n: usize) -> Vec<String> {
    let member = s
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap();
    let mut phones = Vec::new();
    for h in s
        .team_households(&danvan_store::Scope::all(), member.team_id.unwrap())
        .await
        .unwrap()
    {
        if let Some(phone) = s
            .residents(&danvan_store::Scope::all(), h.id)
            .await
            .unwrap()
            .into_iter()
            .find_map(|r| r.phone)
        {
            phones.push(phone);
        }
        if phones.len() == n {
            return phones;
        }
    }
    panic!("fewer than {n} residents with a phone");
}

async fn sms(
    c: &reqwest::Client,
    server: &Server,
    key: &str,
    from: &str,
    text: &str,
) -> (u16, String) {
    let r = c
        .get(server.url("/sms/inbound"))
        .query(&[("key", key), ("from", from), ("text", text)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn tokens_open_only_their_door(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let c = reqwest::Client::new();
    let api = s
        .create_token(&Actor::cli(), "xa.phucson", "app", TokenKind::Api)
        .await
        .unwrap();
    let gateway = s
        .create_token(&Actor::cli(), "xa.phucson", "kannel", TokenKind::Gateway)
        .await
        .unwrap();
    let phone = resident_phones(s, 1).await.remove(0);
    let before = feedback_rows(s).await;

    // An API token is no gateway key: refused, nothing written.
    let (status, _) = sms(&c, &server, &api, &phone, "PA moi truong rac o bo muong").await;
    assert_eq!(status, 403);
    assert_eq!(feedback_rows(s).await, before);
    // The gateway's key works there.
    let (status, reply) = sms(
        &c,
        &server,
        &gateway,
        &phone,
        "PA moi truong rac o bo muong",
    )
    .await;
    assert_eq!(status, 200);
    assert!(reply.starts_with("Da nhan phan anh, ma "), "{reply}");
    assert_eq!(feedback_rows(s).await, before + 1);

    // And nowhere else: not the JSON API, not Open311.
    let r = c
        .get(server.url("/api/v1/units?q=mai"))
        .bearer_auth(&gateway)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(server.url("/api/v1/units?q=mai"))
        .bearer_auth(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mai_hoang = unit_id(s, "mai hoang").await.to_string();
    let post = |key: &str| {
        c.post(server.url("/open311/v2/requests.json"))
            .form(&[
                ("api_key", key),
                ("service_code", "environment"),
                ("address_id", mai_hoang.as_str()),
                ("description", "Rác đổ trộm cạnh cầu"),
            ])
            .send()
    };
    assert_eq!(post(&gateway).await.unwrap().status(), 403);
    assert_eq!(feedback_rows(s).await, before + 1);
    assert_eq!(post(&api).await.unwrap().status(), 201);
    assert_eq!(feedback_rows(s).await, before + 2);

    server.stop();
    db.finish().await;
}
both!(tokens_open_only_their_door);

/// At most `max` new SMS reports per phone in the window; over it, a
/// polite reply and nothing written. Replies to a report are not limited,
/// and another phone has its own window.
async fn sms_reports_are_limited_per_phone(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let limits = RateLimits {
        sms_reports_per_phone: Limit {
            max: 2,
            window: std::time::Duration::from_secs(3600),
        },
        ..RateLimits::default()
    };
    let server = Server::start_with_limits(s, limits).await;
    let c = reqwest::Client::new();
    let key = s
        .create_token(&Actor::cli(), "admin", "kannel", TokenKind::Gateway)
        .await
        .unwrap();
    let phones = resident_phones(s, 2).await;
    let (one, two) = (&phones[0], &phones[1]);
    let before = feedback_rows(s).await;

    // Help for a report without text takes no place.
    let (_, help) = sms(&c, &server, &key, one, "PA").await;
    assert_ne!(help, SMS_LIMITED);
    let mut codes = Vec::new();
    for text in [
        "PA moi truong cong tac o ngo 5",
        "PA an ninh nguoi la hoi tham",
    ] {
        let (status, reply) = sms(&c, &server, &key, one, text).await;
        assert_eq!(status, 200);
        assert!(reply.starts_with("Da nhan phan anh, ma "), "{reply}");
        codes.push(
            reply
                .split_whitespace()
                .nth(5)
                .unwrap()
                .trim_end_matches('.')
                .to_string(),
        );
    }
    assert_eq!(feedback_rows(s).await, before + 2);

    let (status, reply) = sms(&c, &server, &key, one, "PA moi truong den duong hong").await;
    assert_eq!(status, 200, "a gateway must not send it again");
    assert_eq!(reply, SMS_LIMITED);
    assert!(reply.len() <= 160);
    assert_eq!(feedback_rows(s).await, before + 2, "nothing written");
    // The same number written another way is the same phone.
    let local = one.replacen("+84", "0", 1);
    let (_, reply) = sms(&c, &server, &key, &local, "PA moi truong den duong hong").await;
    assert_eq!(reply, SMS_LIMITED);

    // A reply to a report is still taken.
    let (_, reply) = sms(
        &c,
        &server,
        &key,
        one,
        &format!("TL {} van chua sua", codes[0]),
    )
    .await;
    assert!(reply.starts_with("Da nhan tin nhan"), "{reply}");
    let f = s
        .feedback_by_code(&Viewer::system(), &codes[0])
        .await
        .unwrap();
    let events = s
        .feedback_events(Some(&Viewer::system()), f.id)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.kind == "message_in"));
    // Another phone has its own window.
    let (_, reply) = sms(&c, &server, &key, two, "PA moi truong den duong hong").await;
    assert!(reply.starts_with("Da nhan phan anh, ma "), "{reply}");
    assert_eq!(feedback_rows(s).await, before + 3);

    server.stop();
    db.finish().await;
}
both!(sms_reports_are_limited_per_phone);
