//! Issue 13 (trust): each test names the item of the security review it
//! closes. Item 1's page flow is in `officials::reporters_rate_and_write_
//! back_on_the_status_page`; here are the limits around it.

use std::sync::Arc;

use chrono::TimeZone;
use danvan_domain::feedback::{Channel, Publicity, RelayMethod, Severity};
use danvan_domain::{Phone, Role};
use danvan_store::feedback::proof::{MAX_CODES_PER_HOUR, MAX_TRIES};
use danvan_store::feedback::{Action, NewFeedback, Viewer};
use danvan_store::registry::account::{
    wait_after, AuthError, NewAccount, TokenKind, MAX_WAIT_SECONDS,
};
use danvan_store::{Actor, FixedClock, Scope, Store, StoreError};
use danvan_web::rate_limit::{Limit, RateLimits};

use crate::common::{
    client, input_value, login, reporter_codes, unit_id, Backend, Server, TestDb, PW,
};

/// A web report in Mai Hoàng from `phone`, topic `topic`; its id and code.
pub(crate) async fn reported(s: &Store, topic: &str, phone: &str) -> (i64, String) {
    let hamlet = unit_id(s, "mai hoang").await;
    let new = NewFeedback {
        reporter_phone: Some(phone.into()),
        ..crate::feedback::web_report(hamlet, topic, "Đèn đường ngõ 5 hỏng đã một tuần")
    };
    let r = s
        .submit_feedback(&Actor::system(), &Scope::all(), &new)
        .await
        .unwrap();
    (r.id, r.code)
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
    assert!(reporter_codes(s, id).await.is_empty());
    // An unknown code answers the same, and sends nothing.
    s.send_reporter_code("ZZZZZZZZ", &owner).await.unwrap();

    s.send_reporter_code(&code, &owner).await.unwrap();
    let otp = reporter_codes(s, id).await.pop().expect("a code");
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
    assert_eq!(reporter_codes(s, id).await.len() as i64, MAX_CODES_PER_HOUR);
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

async fn viewer_of(s: &Store, username: &str) -> Viewer {
    Viewer::of(&s.principal_by_username(username).await.unwrap())
}

/// Item 2: once a confidential tip-off is escalated to the province, the
/// commune it passed through keeps only that it exists and its state (no
/// text, no reporter, no photos, no notes), and cannot act on it; the
/// supervisor neither reads nor acts; the province handles it in full.
async fn item2_an_escalated_confidential_item_leaves_the_commune(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = frozen(&db).await;
    let hamlet = unit_id(&s, "mai hoang").await;
    let tip = NewFeedback {
        severity: Severity::Urgent,
        reporter_phone: Some("0912 345 678".into()),
        ..crate::feedback::web_report(
            hamlet,
            "crime_tip",
            "Có người bán ma túy ở quán nước đầu ngõ 5 vào buổi tối",
        )
    };
    let id = s
        .submit_feedback(&Actor::system(), &Scope::all(), &tip)
        .await
        .unwrap()
        .id;
    let commune = viewer_of(&s, "xa.phucson").await;
    let supervisor = viewer_of(&s, "giamsat.phucson").await;
    let province = viewer_of(&s, "tinh.bacninh").await;
    // Before: the commune handles it, in full.
    let f = s.feedback(&commune, id).await.unwrap();
    assert!(!f.sealed && f.reporter_phone.is_some() && !f.description.is_empty());
    s.act_on_feedback(
        &commune,
        id,
        Action::Note {
            text: "Đã báo công an xã".into(),
            public: false,
        },
    )
    .await
    .unwrap();
    // The supervisor is oversight: no confidential item, no acting.
    assert!(matches!(
        s.feedback(&supervisor, id).await,
        Err(StoreError::NotFound)
    ));

    clock.advance(chrono::Duration::days(3));
    let (escalated, _) = s.sweep_feedback().await.unwrap();
    assert!(escalated >= 1);
    let f = s.feedback(&Viewer::system(), id).await.unwrap();
    assert_eq!(f.escalation_level, 1);

    let seen = s.feedback(&commune, id).await.unwrap();
    assert!(seen.sealed, "the commune keeps only that it exists");
    assert_eq!(seen.state, f.state);
    assert_eq!(seen.reporter_phone, None);
    assert!(seen.description.is_empty());
    let events = s.feedback_events(Some(&commune), id).await.unwrap();
    assert!(!events.is_empty() && events.iter().all(|e| e.body.is_empty()));
    assert!(s.feedback_photo(&commune, id, 1).await.is_err());
    for action in [
        Action::Acknowledge,
        Action::Note {
            text: "x".into(),
            public: false,
        },
    ] {
        assert!(s.act_on_feedback(&commune, id, action).await.is_err());
    }
    assert!(s
        .act_on_feedback(&supervisor, id, Action::Acknowledge)
        .await
        .is_err());
    let full = s.feedback(&province, id).await.unwrap();
    assert!(!full.sealed);
    assert_eq!(full.reporter_phone.as_deref(), Some("+84912345678"));
    let notes = s.feedback_events(Some(&province), id).await.unwrap();
    assert!(notes.iter().any(|e| e.body == "Đã báo công an xã"));
    s.act_on_feedback(&province, id, Action::Acknowledge)
        .await
        .unwrap();

    // The commune officer's page says why the text is missing and shows
    // no phone and no button.
    let server = Server::start(&s).await;
    let (c, _) = login(&server, "xa.phucson", PW).await;
    let page = c
        .get(server.url(&format!("/feedback/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("chỉ đơn vị đang xử lý"), "{page}");
    assert!(!page.contains("quán nước đầu ngõ 5") && !page.contains("912 345 678"));
    assert!(!page.contains("Đã báo công an xã"));
    server.stop();
    db.finish().await;
}
both!(item2_an_escalated_confidential_item_leaves_the_commune);

/// Item 3: security and epidemic reports are not published with their
/// text by default; a relayed report without the resident's consent never
/// is; a province may set a topic's publicity; internal notes and draft
/// answers are the officers' only.
async fn item3_what_is_published(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let hamlet = unit_id(s, "mai hoang").await;
    let submit = |new: NewFeedback| async move {
        s.submit_feedback(&Actor::system(), &Scope::all(), &new)
            .await
            .unwrap()
    };
    let watcher = "Người lạ đi xe máy dò xét các nhà ngõ 5";
    let security = submit(crate::feedback::web_report(hamlet, "security", watcher)).await;
    let lamp = "Đèn đường ngõ 3 hỏng hai tuần";
    let environment = submit(crate::feedback::web_report(hamlet, "environment", lamp)).await;
    let member = s
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap();
    let household = s
        .team_households(&Scope::all(), member.team_id.unwrap())
        .await
        .unwrap()[0]
        .id;
    let relayed_text = "Nhà bên cạnh đốt rác thải nhựa mỗi tối";
    // The member relays it as themselves.
    let relayed = s
        .submit_feedback(
            &member.actor(),
            &member.scope,
            &NewFeedback {
                channel: Channel::Member,
                household_id: Some(household),
                relay_method: Some(RelayMethod::HomeVisit),
                identity_consent: false,
                ..crate::feedback::web_report(hamlet, "environment", relayed_text)
            },
        )
        .await
        .unwrap();

    let server = Server::start(s).await;
    let c = client();
    let page = |code: String| {
        let (c, url) = (&c, server.url(&format!("/r/{code}")));
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let p = page(environment.code.clone()).await;
    assert!(p.contains(lamp), "a public topic is published");
    let p = page(security.code.clone()).await;
    assert!(
        !p.contains(watcher) && p.contains("description-withheld"),
        "{p}"
    );
    let p = page(relayed.code.clone()).await;
    assert!(!p.contains(relayed_text) && p.contains("description-withheld"));
    // Open311's list leaves the private topic out, and shows the relayed
    // report without its text.
    let list = c
        .get(server.url("/open311/v2/requests.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains(&environment.code) || list.contains(lamp),
        "{list}"
    );
    assert!(
        !list.contains(watcher) && !list.contains(relayed_text),
        "{list}"
    );

    // The province makes security public without text, then public.
    let province = viewer_of(s, "tinh.bacninh").await;
    let commune_id = s
        .unit(&Scope::all(), hamlet)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let province_id = s
        .unit(&Scope::all(), commune_id)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let commune = viewer_of(s, "xa.phucson").await;
    assert!(s
        .set_topic_publicity(&commune, province_id, "security", Publicity::Public)
        .await
        .is_err());
    s.set_topic_publicity(
        &Viewer::system(),
        province_id,
        "security",
        Publicity::Public,
    )
    .await
    .unwrap();
    let p = page(security.code.clone()).await;
    assert!(p.contains(watcher));
    let _ = province;

    // Internal notes and drafts: officers only.
    s.act_on_feedback(
        &commune,
        environment.id,
        Action::Note {
            text: "Ghi chú nội bộ: nhà thầu chậm".into(),
            public: false,
        },
    )
    .await
    .unwrap();
    s.act_on_feedback(
        &commune,
        environment.id,
        Action::DraftAnswer {
            text: "Dự thảo: sẽ thay đèn tuần sau".into(),
        },
    )
    .await
    .unwrap();
    for who in ["truongthon.maihoang", "totruong.maihoang1"] {
        let v = viewer_of(s, who).await;
        let f = s.feedback(&v, environment.id).await.unwrap();
        assert_eq!(f.answer_draft, None, "{who}");
        let events = s.feedback_events(Some(&v), environment.id).await.unwrap();
        assert!(
            !events
                .iter()
                .any(|e| e.body.contains("nội bộ") || e.body.contains("Dự thảo")),
            "{who}: {events:?}"
        );
    }
    let f = s.feedback(&commune, environment.id).await.unwrap();
    assert!(f.answer_draft.is_some());
    server.stop();
    db.finish().await;
}
both!(item3_what_is_published);

/// A store on `db` whose clock stands still at a Monday morning until told.
async fn frozen(db: &TestDb) -> (Store, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 6, 1, 1, 0, 0)
            .single()
            .unwrap(),
    ));
    let s = Store::connect_with_clock(&db.url, clock.clone())
        .await
        .unwrap();
    (s, clock)
}

/// A store whose clock stands still until told, and an account with a
/// phone that logs in by it: `lan.nguyen`, phone 0912 345 678.
async fn frozen_with_phone_account(db: &TestDb) -> (Store, Arc<FixedClock>) {
    let (s, clock) = frozen(db).await;
    let commune = unit_id(&s, "xa phuc son").await;
    s.create_account(
        &Actor::cli(),
        &NewAccount {
            username: "lan.nguyen".into(),
            display_name: "Nguyễn Thị Lan".into(),
            phone: Some(Phone::parse("0912 345 678").unwrap()),
            password: "trâu vàng ăn cỏ non".into(),
            role: Role::CommuneOfficer,
            unit_id: Some(commune),
            team_id: None,
        },
    )
    .await
    .unwrap();
    (s, clock)
}

const LAN_PW: &str = "trâu vàng ăn cỏ non";

/// Item 4: failures count per account whatever spelling of the phone was
/// typed, slow it down by doubling waits rather than lock it, and a
/// browser the owner logged in from before is never held back; each
/// login and failure is audited (item 6).
async fn item4_failures_slow_the_account_not_its_owner(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = frozen_with_phone_account(&db).await;
    // The owner logs in once on their phone: it becomes a known browser.
    let first = s
        .authenticate("lan.nguyen", LAN_PW, "198.51.100.1", None)
        .await
        .unwrap()
        .expect("the right password");
    let device = first.device.expect("a new known browser");
    // An attacker tries every spelling of the phone number.
    for login in ["0912 345 678", "+84912345678", "0912345678"] {
        assert_eq!(
            s.authenticate(login, "doan-mat-khau", "203.0.113.9", None)
                .await
                .unwrap()
                .unwrap_err(),
            AuthError::BadCredentials
        );
    }
    // Three failures in a row: the account waits 2 s, whatever the spelling,
    // even with the right password, from an unknown browser.
    match s
        .authenticate("84912345678", LAN_PW, "203.0.113.9", None)
        .await
        .unwrap()
    {
        Err(AuthError::TooManyAttempts(wait)) => assert_eq!(wait, 2),
        other => panic!("{other:?}"),
    }
    clock.advance(chrono::Duration::seconds(3));
    assert!(s
        .authenticate("0912-345-678", "sai", "203.0.113.9", None)
        .await
        .unwrap()
        .is_err());
    // The wait doubles, and never grows past the cap.
    match s
        .authenticate("lan.nguyen", LAN_PW, "203.0.113.9", None)
        .await
        .unwrap()
    {
        Err(AuthError::TooManyAttempts(wait)) => assert_eq!(wait, 4),
        other => panic!("{other:?}"),
    }
    assert_eq!(wait_after(40), MAX_WAIT_SECONDS);
    // The owner's phone is not held back at all.
    let again = s
        .authenticate("lan.nguyen", LAN_PW, "198.51.100.1", Some(&device))
        .await
        .unwrap()
        .expect("a known browser skips the back-off");
    assert!(again.device.is_none(), "the same browser, kept");
    // A good login resets the count: a stranger's browser is free again.
    assert!(s
        .authenticate("0912345678", LAN_PW, "203.0.113.9", None)
        .await
        .unwrap()
        .is_ok());
    // An unknown login slows down exactly like an account.
    for _ in 0..3 {
        let _ = s
            .authenticate("khong.co.ai", "x", "203.0.113.10", None)
            .await
            .unwrap();
    }
    assert!(matches!(
        s.authenticate("khong.co.ai", "x", "203.0.113.10", None)
            .await
            .unwrap(),
        Err(AuthError::TooManyAttempts(2))
    ));
    // Audited: logins and failures, with no typed login kept.
    let audit = s.audit_entries(&Viewer::system(), None, 100).await.unwrap();
    let count = |action: &str| audit.iter().filter(|e| e.action == action).count();
    assert!(count("login") >= 3, "{audit:?}");
    assert!(count("login_failed") >= 7, "{audit:?}");
    assert!(!audit
        .iter()
        .any(|e| e.detail.contains("khong.co.ai") || e.detail.contains("912345678")));
    db.finish().await;
}
both!(item4_failures_slow_the_account_not_its_owner);

/// Item 4: behind a trusted reverse proxy, the per-address limit counts
/// the clients it forwards for, not the proxy; from anyone else the header
/// is ignored.
async fn item4_a_trusted_proxy_names_the_client(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let limits = RateLimits {
        reporter_per_ip: Limit {
            max: 1,
            window: std::time::Duration::from_secs(600),
        },
        ..RateLimits::default()
    };
    let (_, code) = reported(s, "environment", "0912 345 678").await;
    // A reporter's form (any answer but "slow" means it was let through).
    let try_rate = |server: &Server, forwarded_for: &'static str| {
        let (c, page_url, url) = (
            client(),
            server.url(&format!("/r/{code}")),
            server.url(&format!("/r/{code}/rate")),
        );
        async move {
            let page = c.get(&page_url).send().await.unwrap().text().await.unwrap();
            let csrf = input_value(&page, "csrf").unwrap();
            let res = c
                .post(&url)
                .header("x-forwarded-for", forwarded_for)
                .form(&[("csrf", csrf.as_str()), ("otp", "123456"), ("stars", "5")])
                .send()
                .await
                .unwrap();
            let to = res.headers()["location"].to_str().unwrap().to_string();
            !to.contains("msg=slow")
        }
    };
    let trusted = danvan_web::client::TrustedProxies::parse(&["127.0.0.1".into()]).unwrap();
    let server = Server::start_behind(s, limits, trusted).await;
    assert!(try_rate(&server, "198.51.100.1").await);
    // Another client behind the same proxy has its own window.
    assert!(try_rate(&server, "198.51.100.2").await);
    assert!(!try_rate(&server, "198.51.100.1").await);
    server.stop();
    // Not trusted: every request is the peer's, whatever it claims.
    let server = Server::start_with_limits(s, limits).await;
    assert!(try_rate(&server, "198.51.100.3").await);
    assert!(!try_rate(&server, "198.51.100.4").await);
    server.stop();
    db.finish().await;
}
both!(item4_a_trusted_proxy_names_the_client);

/// Item 5: API keys expire, are listed and revoked, die with a password
/// change, and a disabled account's keys and sessions end.
async fn item5_keys_expire_are_revoked_and_die_with_the_password(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = frozen_with_phone_account(&db).await;
    let short = s
        .create_token_for(&Actor::cli(), "lan.nguyen", "app", TokenKind::Api, Some(1))
        .await
        .unwrap();
    let long = s
        .create_token_for(&Actor::cli(), "lan.nguyen", "bot", TokenKind::Api, None)
        .await
        .unwrap();
    let gateway = s
        .create_token(&Actor::cli(), "lan.nguyen", "kannel", TokenKind::Gateway)
        .await
        .unwrap();
    assert!(s.principal_for_api_token(&short).await.unwrap().is_some());
    clock.advance(chrono::Duration::days(2));
    // Past the token cache's two seconds (real time), too.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(s.principal_for_api_token(&short).await.unwrap().is_none());
    assert!(s.principal_for_api_token(&long).await.unwrap().is_some());
    let keys = s
        .api_tokens(&Viewer::system(), Some("lan.nguyen"))
        .await
        .unwrap();
    assert_eq!(keys.len(), 3);
    let now = s.now();
    assert_eq!(keys.iter().filter(|k| k.live(now)).count(), 2);
    // Keys are listed by those who keep accounts (issue 14: officers, for
    // their part of the tree), never by a team's member.
    let member = viewer_of(&s, "thanhvien.maihoang2").await;
    assert!(s.api_tokens(&member, None).await.is_err());

    // A password change revokes the API keys (the gateway's stays).
    let lan = s.principal_by_username("lan.nguyen").await.unwrap();
    s.change_password(&lan, LAN_PW, "hoa sen bảy cánh", "no-session")
        .await
        .unwrap();
    assert!(s.principal_for_api_token(&long).await.unwrap().is_none());
    assert!(s
        .principal_for_gateway_token(&gateway)
        .await
        .unwrap()
        .is_some());
    // Revoke one by id; then disable the account: nothing opens.
    let key = s
        .create_api_token(&Actor::cli(), "lan.nguyen", "app2")
        .await
        .unwrap();
    let id = s
        .api_tokens(&Viewer::system(), Some("lan.nguyen"))
        .await
        .unwrap()[0]
        .id;
    s.revoke_api_token(&Viewer::system(), id).await.unwrap();
    assert!(s.principal_for_api_token(&key).await.unwrap().is_none());
    let (session, _) = s.create_session(lan.account_id).await.unwrap();
    s.disable_account(&Viewer::system(), "lan.nguyen")
        .await
        .unwrap();
    assert!(s
        .principal_for_gateway_token(&gateway)
        .await
        .unwrap()
        .is_none());
    assert!(s.session(&session).await.unwrap().is_none());
    assert!(s
        .authenticate("lan.nguyen", "hoa sen bảy cánh", "198.51.100.1", None)
        .await
        .unwrap()
        .is_err());
    let audit = s.audit_entries(&Viewer::system(), None, 100).await.unwrap();
    for action in ["revoke", "disable", "change_password"] {
        assert!(audit.iter().any(|e| e.action == action), "{action}");
    }
    db.finish().await;
}
both!(item5_keys_expire_are_revoked_and_die_with_the_password);

/// Item 5: the administrator's page lists keys, revokes one and disables
/// an account; another commune's officer sees and revokes none of its keys.
async fn item5_the_administrator_keeps_keys_on_a_page(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let key = s
        .create_api_token(&Actor::cli(), "xa.yenthe", "ung-dung")
        .await
        .unwrap();
    let server = Server::start(s).await;
    let (c, csrf) = login(&server, "xa.phucson", PW).await;
    // Another commune's officer keeps their own commune's accounts: the
    // page opens, without Yên Thế's key.
    let res = c.get(server.url("/admin/keys")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.unwrap().contains("ung-dung"));
    let (c_other, csrf_other) = (c, csrf);
    let (c, csrf_admin) = login(&server, "admin", PW).await;
    let page = c
        .get(server.url("/admin/keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("ung-dung") && !page.contains(&key[3..]),
        "{page}"
    );
    let id = s
        .api_tokens(&Viewer::system(), Some("xa.yenthe"))
        .await
        .unwrap()[0]
        .id;
    // Nor may they revoke it (not theirs to see: 404), and a forged
    // token changes nothing.
    let res = c_other
        .post(server.url("/admin/keys/revoke"))
        .form(&[("csrf", csrf_other.as_str()), ("id", &id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = c
        .post(server.url("/admin/keys/revoke"))
        .form(&[("csrf", csrf_other.as_str()), ("id", &id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(s.principal_for_api_token(&key).await.unwrap().is_some());
    let res = c
        .post(server.url("/admin/keys/revoke"))
        .form(&[("csrf", csrf_admin.as_str()), ("id", &id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    assert!(s.principal_for_api_token(&key).await.unwrap().is_none());
    let res = c
        .post(server.url("/admin/accounts/disable"))
        .form(&[("csrf", csrf_admin.as_str()), ("username", "xa.yenthe")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Đã khoá tài khoản xa.yenthe"));
    assert!(s.principal_by_username("xa.yenthe").await.is_err());
    server.stop();
    db.finish().await;
}
both!(item5_the_administrator_keeps_keys_on_a_page);

/// Item 6: weak passwords are refused; the current-password check of a
/// change is limited like a login; logouts are audited.
async fn item6_passwords(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = frozen_with_phone_account(&db).await;
    let lan = s.principal_by_username("lan.nguyen").await.unwrap();
    for weak in ["12345678", "aaaaaaaaaa", "matkhau123", "lan.nguyen-2026"] {
        assert!(
            matches!(
                s.change_password(&lan, LAN_PW, weak, "x").await,
                Err(StoreError::Rejected(_))
            ),
            "{weak}"
        );
    }
    for _ in 0..3 {
        assert!(s
            .change_password(&lan, "sai", "hoa sen bảy cánh", "x")
            .await
            .is_err());
    }
    // Now even the right current password waits.
    match s
        .change_password(&lan, LAN_PW, "hoa sen bảy cánh", "x")
        .await
    {
        Err(StoreError::Rejected(danvan_domain::problem::Problem::PasswordWait { seconds })) => {
            assert_eq!(seconds, 2)
        }
        other => panic!("{other:?}"),
    }
    clock.advance(chrono::Duration::seconds(3));
    s.change_password(&lan, LAN_PW, "hoa sen bảy cánh", "x")
        .await
        .unwrap();

    let server = Server::start(&s).await;
    let (c, csrf) = login(&server, "totruong.maihoang1", PW).await;
    let res = c
        .post(server.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let audit = s.audit_entries(&Viewer::system(), None, 100).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "logout"));
    server.stop();
    db.finish().await;
}
both!(item6_passwords);

/// A resident of `username`'s team with a citizen id on file: (resident
/// id, household id, the full id).
async fn team_resident_with_id(s: &Store, username: &str) -> (i64, i64, String) {
    let member = s.principal_by_username(username).await.unwrap();
    for h in s
        .team_households(&Scope::all(), member.team_id.unwrap())
        .await
        .unwrap()
    {
        let sys = Viewer::system();
        for r in s.residents(&Scope::all(), h.id).await.unwrap() {
            if r.citizen_id.is_some() {
                let (_, full, _) = s.resident_for_edit(&sys, r.id).await.unwrap();
                return (r.id, h.id, full.citizen_id.unwrap());
            }
        }
    }
    panic!("no resident with a citizen id in {username}'s team");
}

/// Item 9: the full citizen id is shown only to those who keep the
/// registry, each view audited; a volunteer's form shows it masked and,
/// left empty, keeps it.
async fn item9_full_citizen_ids_for_keepers_only(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let (resident, household, full) = team_resident_with_id(s, "thanhvien.maihoang2").await;
    let server = Server::start(s).await;
    let form = |c: reqwest::Client| {
        let url = server.url(&format!("/residents/{resident}/edit"));
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let (member, csrf) = login(&server, "thanhvien.maihoang2", PW).await;
    let page = form(member.clone()).await;
    assert!(!page.contains(&full), "a volunteer sees no full id");
    assert!(page.contains("citizen-id-kept") && page.contains(&full[full.len() - 4..]));
    // Saved with the field left empty: the id is kept.
    let field = |name: &str| input_value(&page, name).unwrap_or_default();
    let (name, relation, phone, birth, gender) = (
        field("full_name"),
        field("relation"),
        field("phone"),
        field("birth"),
        field("gender"),
    );
    let res = member
        .post(server.url(&format!("/residents/{resident}/edit")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", name.as_str()),
            ("relation", relation.as_str()),
            ("phone", phone.as_str()),
            ("birth", birth.as_str()),
            ("gender", gender.as_str()),
            ("citizen_id", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, kept, _) = s
        .resident_for_edit(&Viewer::system(), resident)
        .await
        .unwrap();
    assert_eq!(kept.citizen_id.as_deref(), Some(full.as_str()));
    let audit = s.audit_entries(&Viewer::system(), None, 50).await.unwrap();
    let views = |a: &[danvan_store::audit::AuditEntry]| {
        a.iter().filter(|e| e.action == "view_citizen_id").count()
    };
    let before = views(&audit);
    // The hamlet head keeps the registry: the full id, audited.
    let (head, _) = login(&server, "truongthon.maihoang", PW).await;
    assert!(form(head).await.contains(&full));
    let audit = s.audit_entries(&Viewer::system(), None, 50).await.unwrap();
    assert_eq!(views(&audit), before + 1);
    // The household page shows every id masked, to everyone.
    let (officer, _) = login(&server, "xa.phucson", PW).await;
    let page = officer
        .get(server.url(&format!("/households/{household}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&full));
    server.stop();
    db.finish().await;
}
both!(item9_full_citizen_ids_for_keepers_only);

/// Item 9: one account reading many households by the API is audited,
/// then refused; its own team, read again and again, is not.
async fn item9_bulk_reads_are_audited_and_limited(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let commune = unit_id(s, "xa phuc son").await;
    let path = s.unit(&Scope::all(), commune).await.unwrap().path;
    let ids: Vec<i64> = danvan_store::on_db!(&s.db, |p| {
        sqlx::query_as::<_, (i64,)>(
            "SELECT id FROM households WHERE path LIKE $1 ORDER BY id LIMIT 320",
        )
        .bind(format!("{path}%"))
        .fetch_all(p)
        .await
        .unwrap()
    })
    .into_iter()
    .map(|(i,)| i)
    .collect();
    assert!(
        ids.len() > danvan_store::registry::reads::LIMIT,
        "{}",
        ids.len()
    );
    let key = crate::common::api_token(s, "xa.phucson").await;
    let c = reqwest::Client::new();
    let mut refused = None;
    for (n, id) in ids.iter().enumerate() {
        let r = c
            .get(server.url(&format!("/api/v1/households/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "account.too_many_reads");
            refused = Some(n);
            break;
        }
        assert_eq!(r.status(), 200);
    }
    assert_eq!(refused, Some(danvan_store::registry::reads::LIMIT));
    let audit = s.audit_entries(&Viewer::system(), None, 100).await.unwrap();
    let bulk = audit.iter().filter(|e| e.action == "read_bulk").count();
    assert_eq!(
        bulk,
        danvan_store::registry::reads::LIMIT / danvan_store::registry::reads::AUDIT_EVERY
    );
    // A household read before is read again freely.
    let r = c
        .get(server.url(&format!("/api/v1/households/{}", ids[0])))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop();
    db.finish().await;
}
both!(item9_bulk_reads_are_audited_and_limited);

/// Item 14: a file with more rows than its unit's level allows is refused
/// with a clear error, and nothing is written.
async fn item14_a_hamlet_does_not_take_a_provinces_file(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let hamlet = unit_id(s, "mai hoang").await;
    let path = s.unit(&Scope::all(), hamlet).await.unwrap().path;
    let before = s.counts(&path).await.unwrap();
    let max = danvan_store::registry::import::max_rows(danvan_domain::UnitLevel::Hamlet).unwrap();
    // Three rows a household: one household past the cap.
    let f = crate::import::file(max / 3 + 1, &[]);
    let out = s
        .import_households(&Viewer::cli(), hamlet, f.path(), false)
        .await
        .unwrap();
    assert!(!out.committed);
    assert!(
        out.errors[0]
            .message_vi
            .contains(&format!("hơn {max} dòng")),
        "{:?}",
        out.errors[0]
    );
    assert_eq!(s.counts(&path).await.unwrap(), before, "nothing written");
    db.finish().await;
}
both!(item14_a_hamlet_does_not_take_a_provinces_file);

/// Tries SQLite's write lock on `url` without waiting: true when it was free.
async fn write_lock_free(url: &str) -> bool {
    use sqlx::{ConnectOptions, Connection};
    let opts = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
        .unwrap()
        .busy_timeout(std::time::Duration::ZERO);
    let mut c = opts.connect().await.unwrap();
    let free = sqlx::query("BEGIN IMMEDIATE").execute(&mut c).await.is_ok();
    if free {
        sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
    }
    let _ = c.close().await;
    free
}

/// Item 14 (SQLite, whose write lock is the whole database's): an import
/// lets go of the lock at its first bad row while it goes on checking the
/// rest; and a resident's report made while another writer holds the lock
/// past the busy timeout waits and is written — never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item14_an_import_does_not_block_a_residents_report() {
    let db = TestDb::demo(Backend::Sqlite).await;
    let s = db.store.clone();
    let commune = unit_id(&s, "xa phuc son").await;
    // 45,000 rows; row 9,001 of the data is bad.
    let bad = [(
        9_000,
        "NK03000,Lương Văn Sai,1970,Nam,Chủ hộ,12345,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Điện thoại thường,"
            .to_string(),
    )];
    let f = crate::import::file(15_000, &bad);
    let path = f.path().to_path_buf();
    let importer = s.clone();
    let import = tokio::spawn(async move {
        importer
            .import_households(&Viewer::cli(), commune, &path, false)
            .await
            .unwrap()
    });
    // The import takes the lock while it writes the good rows…
    let mut held = false;
    while !import.is_finished() {
        if !write_lock_free(&db.url).await {
            held = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert!(held, "the import wrote before its bad row");
    // …and lets go of it at the bad row, long before it ends.
    while !write_lock_free(&db.url).await {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert!(!import.is_finished(), "the lock was held to the end");
    let out = import.await.unwrap();
    assert!(!out.committed && out.error_count == 1, "{:?}", out.errors);

    // Another writer holds the lock past the 10 s busy timeout.
    use sqlx::{ConnectOptions, Connection};
    let opts =
        <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&db.url).unwrap();
    let mut holder = opts.connect().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let hamlet = unit_id(&s, "mai hoang").await;
    let reporter = s.clone();
    let report = tokio::spawn(async move {
        reporter
            .submit_feedback(
                &Actor::system(),
                &Scope::all(),
                &crate::feedback::web_report(hamlet, "environment", "Cống ngõ 4 bị tắc"),
            )
            .await
    });
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    assert!(!report.is_finished(), "it waits, it is not refused");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let _ = holder.close().await;
    let r = report
        .await
        .unwrap()
        .expect("written once the lock is free");
    assert!(started.elapsed() >= std::time::Duration::from_secs(11));
    let f = s.feedback(&Viewer::system(), r.id).await.unwrap();
    assert_eq!(f.code, r.code);
    db.finish().await;
}

/// Item 12: the language switch and the login send a person only to a
/// path of this site, whatever `next` says.
async fn item12_no_redirect_off_the_site(b: Backend) {
    let db = TestDb::demo(b).await;
    let server = Server::start(&db.store).await;
    let c = client();
    for next in [
        "//evil.example",
        "/\t/evil.example",
        "/\\evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        " /x",
        "/\n/evil.example",
    ] {
        let res = c
            .get(server.url("/lang"))
            .query(&[("set", "en"), ("next", next)])
            .send()
            .await
            .unwrap();
        let to = res.headers()["location"].to_str().unwrap().to_string();
        assert!(
            to.starts_with('/') && !to.starts_with("//") && !to.contains("evil"),
            "{next:?} → {to}"
        );
    }
    // The review's own URL: `%09` decodes to a tab, which a browser drops.
    let res = c
        .get(server.url("/lang?set=en&next=/%09/evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/");
    // A path of the site is kept.
    let res = c
        .get(server.url("/lang"))
        .query(&[("set", "vi"), ("next", "/feedback?state=open")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/feedback?state=open");
    // The login's hidden `next` is cleaned the same way.
    let page = c
        .get(server.url("/login"))
        .query(&[("next", "/\t/evil.example")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(input_value(&page, "next").as_deref(), Some("/"));
    server.stop();
    db.finish().await;
}
both!(item12_no_redirect_off_the_site);

/// Item 11: pages and API answers with personal data are not cached, and
/// the pre-login CSRF cookie is `Secure` under `--secure-cookies`.
async fn item11_no_store_and_secure_cookies(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let (c, _) = login(&server, "xa.phucson", PW).await;
    let household = s
        .team_households(
            &Scope::all(),
            s.principal_by_username("totruong.maihoang1")
                .await
                .unwrap()
                .team_id
                .unwrap(),
        )
        .await
        .unwrap()[0]
        .id;
    let res = c
        .get(server.url(&format!("/households/{household}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let key = crate::common::api_token(s, "xa.phucson").await;
    let res = reqwest::Client::new()
        .get(server.url(&format!("/api/v1/households/{household}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    // The stylesheet keeps its own caching.
    let res = c.get(server.url("/static/app.css")).send().await.unwrap();
    assert_ne!(res.headers()["cache-control"], "no-store");
    server.stop();

    let secure = Server::start_secure(s).await;
    let res = client().get(secure.url("/login")).send().await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("dv_csrf=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    secure.stop();
    db.finish().await;
}
both!(item11_no_store_and_secure_cookies);
