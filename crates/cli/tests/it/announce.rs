//! Announcements through the JSON API: who may write and approve, the
//! delivery plan per household in the demo's Mai Hoàng, the reach figures,
//! and bad input that changes nothing.

use danvan_domain::announcement::OutboxState;
use danvan_store::{Actor, Scope, Store};
use serde_json::{json, Value};

use crate::common::{api_send, api_token as token, unit_id, Backend, PilotScene, Server, TestDb};

async fn post(server: &Server, token: &str, path: &str, body: Value) -> (u16, Value) {
    api_send(server, reqwest::Method::POST, token, path, Some(body)).await
}

async fn get(server: &Server, token: &str, path: &str) -> (u16, Value) {
    api_send(server, reqwest::Method::GET, token, path, None).await
}

/// Households of a unit by what they can receive: (feed, sms, visit).
pub async fn expected_channels(store: &Store, hamlet: i64) -> (i64, i64, i64) {
    let path = store.unit(&Scope::all(), hamlet).await.expect("unit").path;
    let rows: Vec<(String, bool)> = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT reach, phone IS NOT NULL FROM households WHERE path >= $1 AND path < $2"
    )
    .bind(&path)
    .bind(format!("{path}\u{FFFF}"))
    .fetch_all(p)
    .await
    .expect("households"));
    let feed = rows.iter().filter(|(r, _)| r == "smartphone").count() as i64;
    let sms = rows
        .iter()
        .filter(|(r, phone)| r == "basic_phone" && *phone)
        .count() as i64;
    (feed, sms, rows.len() as i64 - feed - sms)
}

fn count(reach: &Value, channel: &str) -> i64 {
    reach["by_channel"]
        .as_array()
        .expect("by_channel")
        .iter()
        .filter(|r| r["channel"] == channel)
        .map(|r| r["count"].as_i64().unwrap_or(0))
        .sum()
}

async fn announcement_rows(store: &Store) -> i64 {
    let (n,): (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT COUNT(*) FROM announcements"
    )
    .fetch_one(p)
    .await
    .expect("count"));
    n
}

async fn plan_and_reach(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    store
        .set_leads_unit(&Actor::cli(), "xa.phucson", true)
        .await
        .expect("leader");
    let server = Server::start(store).await;
    let mai_hoang = unit_id(store, "mai hoang").await;
    let (feed, sms, visit) = expected_channels(store, mai_hoang).await;
    assert!(
        feed > 0 && sms > 0 && visit > 0,
        "the demo hamlet has every kind of household: {feed} {sms} {visit}"
    );
    let phuc_son = store
        .unit(&Scope::all(), mai_hoang)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let supervisor = token(store, "giamsat.phucson").await;
    let leader = token(store, "xa.phucson").await;
    let body = json!({
        "unit_id": phuc_son.to_string(),
        "title": "Họp thôn",
        "body": "Mời các hộ dự họp thôn lúc 19 giờ tối thứ Bảy tại nhà văn hóa thôn Mai Hoàng.",
        "urgency": "normal",
        "audience": {"units": [mai_hoang.to_string()]},
    });

    // A supervisor writes; it waits for the leader's approval.
    let (status, a) = post(&server, &supervisor, "/api/v1/announcements", body.clone()).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["state"], "pending");
    assert_eq!(a["households"], 0);
    assert_eq!(a["sms"]["coding"], "ucs2");
    assert!(a["sms"]["parts"].as_i64().unwrap() >= 2, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let (status, _) = post(
        &server,
        &supervisor,
        &format!("/api/v1/announcements/{id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "only the unit's leader approves");

    // The leader approves: the plan is written at once (send time: now).
    let (status, a) = post(
        &server,
        &leader,
        &format!("/api/v1/announcements/{id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["state"], "planned");
    assert_eq!(a["households"], feed + sms + visit);
    let (status, again) = post(
        &server,
        &leader,
        &format!("/api/v1/announcements/{id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "approved once only: {again}");

    // Each household by the channel it can receive.
    let (status, reach) = get(
        &server,
        &leader,
        &format!("/api/v1/announcements/{id}/reach"),
    )
    .await;
    assert_eq!(status, 200, "{reach}");
    assert_eq!(count(&reach, "feed"), feed);
    assert_eq!(count(&reach, "sms"), sms);
    assert_eq!(count(&reach, "visit"), visit);
    assert_eq!(reach["households"], feed + sms + visit);
    assert_eq!(reach["reached"], 0);
    let listed = reach["not_reached"].as_array().unwrap();
    // Nobody reached yet: smartphone households too until they open it.
    assert_eq!(
        listed.len() as i64,
        (feed + sms + visit).min(100),
        "the list: households not reached yet"
    );
    // One SMS queued per basic-phone household, keyed by announcement and household.
    let queued: Vec<(String, String)> = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT idempotency_key, state FROM outbox WHERE announcement_id = $1"
    )
    .bind(id.parse::<i64>().unwrap())
    .fetch_all(p)
    .await
    .unwrap());
    assert_eq!(queued.len() as i64, sms);
    assert!(queued
        .iter()
        .all(|(k, s)| k.starts_with(&format!("ann:{id}:")) && s == "queued"));
    // Planning again changes nothing.
    assert_eq!(
        store.plan_announcement(id.parse().unwrap()).await.unwrap(),
        None
    );

    // A visit ticked by the household's team member counts it reached.
    let visit_household = listed
        .iter()
        .find(|h| h["channel"] == "visit" && h["team_id"].is_string())
        .expect("a visit with a team");
    let hh: i64 = visit_household["household_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let team: i64 = visit_household["team_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let member = danvan_store::feedback::Viewer {
        actor: Actor::cli(),
        scope: Scope {
            path: store.unit(&Scope::all(), mai_hoang).await.unwrap().path,
            team_id: Some(team),
        },
        role: danvan_domain::Role::TeamMember,
        leads_unit: false,
    };
    store
        .tick_visit(&member, id.parse().unwrap(), hh)
        .await
        .expect("tick");
    let (_, reach) = get(
        &server,
        &leader,
        &format!("/api/v1/announcements/{id}/reach"),
    )
    .await;
    assert_eq!(reach["reached"], 1);
    assert!(!reach["not_reached"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["household_id"].as_str() == Some(hh.to_string().as_str())));
    // Not a household of the audience: refused, nothing written.
    let elsewhere = unit_id(store, "yen the").await;
    let outside: Option<(i64,)> = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT id FROM households WHERE path >= $1 AND path < $2 LIMIT 1"
    )
    .bind(store.unit(&Scope::all(), elsewhere).await.unwrap().path)
    .bind(format!(
        "{}\u{FFFF}",
        store.unit(&Scope::all(), elsewhere).await.unwrap().path
    ))
    .fetch_optional(p)
    .await
    .unwrap());
    if let Some((other,)) = outside {
        assert!(store
            .tick_visit(
                &danvan_store::feedback::Viewer::system(),
                id.parse().unwrap(),
                other
            )
            .await
            .is_err());
    }

    // The audit log holds the writing, the approval and the plan.
    let actions: Vec<(String,)> = danvan_store::on_db!(&store.db, |p| {
        sqlx::query_as(
        "SELECT action FROM audit_log WHERE entity = 'announcement' AND entity_id = $1 ORDER BY id"
    )
    .bind(&id)
    .fetch_all(p)
    .await
    .unwrap()
    });
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(actions, ["create", "approve", "plan"]);

    // Smartphone households get their own feed link once, by SMS; opening
    // it acknowledges; a forged one is the 404 page; once Kannel has the
    // link's text, only the token's hash is kept.
    let aid: i64 = id.parse().unwrap();
    let sent = store.send_feed_links(aid, &server.base).await.unwrap();
    let with_phone: (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT COUNT(*) FROM deliveries d JOIN households h ON h.id = d.household_id \
         WHERE d.announcement_id = $1 AND d.channel = 'feed' AND h.phone IS NOT NULL"
    )
    .bind(aid)
    .fetch_one(p)
    .await
    .unwrap());
    assert!(with_phone.0 > 0);
    assert_eq!(sent as i64, with_phone.0);
    assert_eq!(
        store.send_feed_links(aid, &server.base).await.unwrap(),
        0,
        "once"
    );
    let (link_id, link_text, key): (i64, String, String) = danvan_store::on_db!(&store.db, |p| {
        sqlx::query_as(
        "SELECT id, body, idempotency_key FROM outbox WHERE idempotency_key LIKE 'feed:%' ORDER BY id LIMIT 1"
    )
    .fetch_one(p)
    .await
    .unwrap()
    });
    let url = link_text.split_whitespace().last().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/feed/", server.base)),
        "{link_text}"
    );
    let household: i64 = key.trim_start_matches("feed:").parse().unwrap();
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Họp thôn"));
    let state: (String,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT state FROM deliveries WHERE announcement_id = $1 AND household_id = $2"
    )
    .bind(aid)
    .bind(household)
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(state.0, "acknowledged", "the link was opened");
    let token = url.rsplit('/').next().unwrap();
    let forged = format!(
        "{}{}",
        &token[..31],
        if token.ends_with('0') { '1' } else { '0' }
    );
    let r = reqwest::get(server.url(&format!("/feed/{forged}")))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    store.sms_accepted_many(&[link_id]).await.unwrap();
    let kept: (String,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT body FROM outbox WHERE id = $1"
    )
    .bind(link_id)
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(kept.0, "", "the token leaves the outbox once Kannel has it");
    // The hamlet's public page shows it, without a login.
    let public = reqwest::get(server.url(&format!("/hamlets/{mai_hoang}/announcements")))
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert!(public.text().await.unwrap().contains("Họp thôn"));

    // The leader's own announcement needs no approval; an emergency by a
    // supervisor waits for it like any other (trust item 7).
    let (status, a) = post(&server, &leader, "/api/v1/announcements", body.clone()).await;
    assert_eq!((status, a["state"].as_str()), (201, Some("planned")), "{a}");
    let mut emergency = body.clone();
    emergency["urgency"] = json!("emergency");
    let (status, a) = post(&server, &supervisor, "/api/v1/announcements", emergency).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["state"], "pending");
    assert_eq!(a["approval_skipped"], false);

    server.stop();
    db.finish().await;
}
both!(plan_and_reach);

async fn bad_announcements_change_nothing(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    let server = Server::start(store).await;
    let mai_hoang = unit_id(store, "mai hoang").await;
    let phuc_son = store
        .unit(&Scope::all(), mai_hoang)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let officer = token(store, "xa.phucson").await;
    let good = json!({
        "unit_id": phuc_son.to_string(),
        "title": "Phun thuốc diệt muỗi",
        "body": "Sáng mai phun thuốc diệt muỗi toàn thôn.",
        "audience": {"units": [mai_hoang.to_string()]},
    });
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(&str, Value, u16)> = vec![
        ("empty text", with("body", json!("   ")), 422),
        (
            "20,000 characters",
            with("body", json!("a".repeat(20_000))),
            422,
        ),
        ("no title", with("title", json!("")), 422),
        (
            "a send time in the past",
            with("send_at", json!("2020-01-01T07:00:00+07:00")),
            422,
        ),
        (
            "a send time that is not one",
            with("send_at", json!("tomorrow")),
            422,
        ),
        (
            "expiry before sending",
            with("expires_at", json!("2020-01-01T07:00:00+07:00")),
            422,
        ),
        ("unknown urgency", with("urgency", json!("soon")), 422),
        ("no audience", with("audience", json!({})), 422),
        (
            "an unknown kind of household",
            with(
                "audience",
                json!({"units": [mai_hoang.to_string()], "reach": ["pager"]}),
            ),
            422,
        ),
        (
            "a unit out of reach",
            with(
                "audience",
                json!({"units": [unit_id(store, "yen the").await.to_string()]}),
            ),
            404,
        ),
        ("an unknown field", with("colour", json!("red")), 400),
    ];
    // A new hamlet nobody lives in yet: an audience that matches nobody.
    let empty = store
        .create_unit(
            &Actor::cli(),
            &danvan_store::registry::unit::NewUnit {
                parent_id: Some(phuc_son),
                level: danvan_domain::UnitLevel::Hamlet,
                name: "Thôn Mới Lập".into(),
                code: None,
                valid_from: None,
                valid_to: None,
            },
        )
        .await
        .expect("new hamlet");
    let cases = cases.into_iter().chain([(
        "an audience that matches nobody",
        with("audience", json!({"units": [empty.to_string()]})),
        422,
    )]);
    for (what, body, want) in cases {
        let (status, answer) = post(&server, &officer, "/api/v1/announcements", body).await;
        assert_eq!(status, want, "{what}: {answer}");
        assert!(
            answer["error"]["message"].is_string(),
            "{what}: a clear error: {answer}"
        );
    }
    // Malformed JSON.
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/announcements"))
        .bearer_auth(&officer)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        announcement_rows(store).await,
        0,
        "bad input writes nothing"
    );

    // Team roles: a leader for their own team only; a member not at all.
    let team_leader = token(store, "totruong.maihoang1").await;
    let own_team = store
        .principal_by_username("totruong.maihoang1")
        .await
        .unwrap()
        .scope
        .team_id
        .expect("a team leader's team");
    let at_hamlet = with("unit_id", json!(mai_hoang.to_string()));
    let (status, answer) = post(
        &server,
        &team_leader,
        "/api/v1/announcements",
        at_hamlet.clone(),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (403, Some("forbidden.own_team_only")),
        "a team leader writes only for their team: {answer}"
    );
    let (status, answer) = post(&server, &team_leader, "/api/v1/announcements", good.clone()).await;
    assert_eq!(status, 404, "nor at the commune: {answer}");
    let mut for_team = at_hamlet.clone();
    for_team["audience"] = json!({"teams": [own_team.to_string()]});
    let (status, answer) = post(&server, &team_leader, "/api/v1/announcements", for_team).await;
    assert_eq!(status, 201, "but for their own team: {answer}");
    assert_eq!(
        answer["state"], "pending",
        "which the unit's leader approves"
    );
    let member = token(store, "thanhvien.maihoang2").await;
    let (status, _) = post(&server, &member, "/api/v1/announcements", good.clone()).await;
    assert_eq!(status, 403, "a member writes none");
    // Without a token: 401.
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/announcements"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop();
    db.finish().await;
}
both!(bad_announcements_change_nothing);

/// Who approves is set per province: "above" makes a commune leader's own
/// announcement wait for a leader above; "none" sends a supervisor's at
/// once. Only the administrator or a province leader sets it, audited.
async fn approval_is_configured_per_province(backend: Backend) {
    use crate::common::api_token;
    use reqwest::Method;
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    for leader in ["xa.phucson", "tinh.bacninh"] {
        store
            .set_leads_unit(&Actor::cli(), leader, true)
            .await
            .expect("leader");
    }
    let server = Server::start(store).await;
    let mai_hoang = unit_id(store, "mai hoang").await;
    let phuc_son = store
        .unit(&Scope::all(), mai_hoang)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    // The province of the hamlet (its path's first unit).
    let path = store.unit(&Scope::all(), phuc_son).await.unwrap().path;
    let province_id: i64 = path
        .trim_matches('/')
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body = |title: &str| {
        json!({
            "unit_id": phuc_son.to_string(),
            "title": title,
            "body": "Lịch tiêm chủng mở rộng tháng này tại trạm y tế xã.",
            "audience": {"units": [mai_hoang.to_string()]},
        })
    };
    let commune_leader = api_token(store, "xa.phucson").await;
    let province_leader = api_token(store, "tinh.bacninh").await;
    let admin = api_token(store, "admin").await;
    let supervisor = api_token(store, "giamsat.phucson").await;
    let settings = format!("/api/v1/units/{province_id}/announcement-settings");

    // The default: the leader's own is approved as written.
    // A commune reads its province's rule through its own unit.
    let (s, v) = api_send(
        &server,
        Method::GET,
        &commune_leader,
        &format!("/api/v1/units/{phuc_son}/announcement-settings"),
        None,
    )
    .await;
    assert_eq!((s, v["approval"].as_str()), (200, Some("leader")), "{v}");
    assert_eq!(v["unit_id"], province_id.to_string());
    let (s, a) = api_send(
        &server,
        Method::POST,
        &commune_leader,
        "/api/v1/announcements",
        Some(body("Một")),
    )
    .await;
    assert_eq!((s, a["state"].as_str()), (201, Some("planned")), "{a}");

    // Not a commune officer (their role never sets the rule), not a
    // rule that does not exist, not a commune.
    for (token, path, rule, status) in [
        (&commune_leader, settings.clone(), "above", 403),
        (&admin, settings.clone(), "sometimes", 422),
        (
            &admin,
            format!("/api/v1/units/{phuc_son}/announcement-settings"),
            "above",
            422,
        ),
    ] {
        let (s, v) = api_send(
            &server,
            Method::PUT,
            token,
            &path,
            Some(json!({"approval": rule})),
        )
        .await;
        assert_eq!(s, status, "{v}");
    }
    let (s, v) = api_send(
        &server,
        Method::PUT,
        &province_leader,
        &settings,
        Some(json!({"approval": "above"})),
    )
    .await;
    assert_eq!((s, v["approval"].as_str()), (200, Some("above")), "{v}");

    // "above": the commune leader's own waits, and they cannot approve it.
    let (s, a) = api_send(
        &server,
        Method::POST,
        &commune_leader,
        "/api/v1/announcements",
        Some(body("Hai")),
    )
    .await;
    assert_eq!((s, a["state"].as_str()), (201, Some("pending")), "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let approve = format!("/api/v1/announcements/{id}/approve");
    let (s, v) = api_send(&server, Method::POST, &commune_leader, &approve, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden.leader_above")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("cấp trên"),
        "{v}"
    );
    let (s, v) = api_send(&server, Method::POST, &province_leader, &approve, None).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("planned")), "{v}");
    // A supervisor's emergency waits (trust item 7); the commune leader's
    // own goes out at once even under "above", and says so.
    let mut e = body("Ba");
    e["urgency"] = json!("emergency");
    let (s, a) = api_send(
        &server,
        Method::POST,
        &supervisor,
        "/api/v1/announcements",
        Some(e.clone()),
    )
    .await;
    assert_eq!((s, a["state"].as_str()), (201, Some("pending")), "{a}");
    let (s, a) = api_send(
        &server,
        Method::POST,
        &commune_leader,
        "/api/v1/announcements",
        Some(e),
    )
    .await;
    assert_eq!((s, a["state"].as_str()), (201, Some("planned")), "{a}");
    assert_eq!(a["approval_skipped"], true, "{a}");

    // "none": a supervisor's goes out as written.
    let (s, _) = api_send(
        &server,
        Method::PUT,
        &admin,
        &settings,
        Some(json!({"approval": "none"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, a) = api_send(
        &server,
        Method::POST,
        &supervisor,
        "/api/v1/announcements",
        Some(body("Bốn")),
    )
    .await;
    assert_eq!((s, a["state"].as_str()), (201, Some("planned")), "{a}");

    let changes = store
        .audit_entries(&danvan_store::Viewer::cli(), None, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entity == "announcement_settings")
        .count();
    assert_eq!(changes, 2);
    server.stop();
    db.finish().await;
}
both!(approval_is_configured_per_province);

/// The page form takes chosen teams instead of the unit, a topic and an
/// expiry; a wrong expiry is refused in the form and writes nothing.
async fn the_form_takes_teams_topic_and_expiry(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    store
        .set_leads_unit(&Actor::cli(), "xa.phucson", true)
        .await
        .expect("leader");
    let server = Server::start(store).await;
    let mai_hoang = unit_id(store, "mai hoang").await;
    let teams = store
        .teams_of_hamlet(&Scope::all(), mai_hoang)
        .await
        .unwrap();
    let team = teams[0].id;
    let phuc_son = store
        .unit(&Scope::all(), mai_hoang)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let (c, csrf) = crate::common::login(&server, "xa.phucson", crate::common::PW).await;
    let page = c
        .get(server.url("/announcements/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("id=\"an-team-{team}\"")),
        "teams listed"
    );
    let form = |expires: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("unit", phuc_son.to_string()),
            ("title", "Ra quân vệ sinh môi trường".to_string()),
            (
                "body",
                "Sáng Chủ nhật các hộ ra quân dọn vệ sinh đường làng.".to_string(),
            ),
            ("urgency", "normal".to_string()),
            ("topic", "environment".to_string()),
            ("team", team.to_string()),
            ("expires_at", expires.to_string()),
            ("action", "send".to_string()),
        ]
    };
    let r = c
        .post(server.url("/announcements/new"))
        .form(&form("2020-01-01T07:00"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("hết hạn phải sau"), "{html}");
    assert_eq!(announcement_rows(store).await, 0);
    let r = c
        .post(server.url("/announcements/new"))
        .form(&form("2099-12-31T18:00"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (audience, topic, expires): (String, Option<i64>, i64) = danvan_store::on_db!(
        &store.db,
        |p| sqlx::query_as("SELECT audience, topic_id, expires_at FROM announcements")
            .fetch_one(p)
            .await
            .unwrap()
    );
    let audience: Value = serde_json::from_str(&audience).unwrap();
    assert_eq!(audience["teams"], json!([team]));
    assert_eq!(audience["units"], json!([]));
    assert_eq!(
        topic,
        Some(store.topic_by_code("environment").await.unwrap().id)
    );
    assert_eq!(
        expires,
        danvan_domain::calendar::from_local(
            chrono::NaiveDate::from_ymd_opt(2099, 12, 31)
                .unwrap()
                .and_hms_opt(18, 0, 0)
                .unwrap()
        )
    );
    // Planned for that team's households only.
    let (n,): (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT COUNT(*) FROM deliveries WHERE team_id <> $1 OR team_id IS NULL"
    )
    .bind(team)
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(n, 0);
    server.stop();
    db.finish().await;
}
both!(the_form_takes_teams_topic_and_expiry);

/// Withdrawing an announcement that went out: who may, with a reason; its
/// queued SMS stop, it leaves the hamlet's public page and the visit list,
/// and it cannot be withdrawn twice.
async fn withdrawing_stops_what_has_not_left(backend: Backend) {
    use reqwest::Method;
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let (_, sms, _) = expected_channels(store, mai_hoang).await;
    let leader = token(store, "xa.phucson").await;
    let (s, a) = post(
        server,
        &leader,
        "/api/v1/announcements",
        json!({
            "unit_id": phuc_son.to_string(),
            "title": "Cắt điện toàn thôn",
            "body": "Thứ Ba cắt điện từ 7 giờ đến 17 giờ để sửa đường dây.",
            // An emergency: a sender may claim it whatever the hour.
            "urgency": "emergency",
            "audience": {"units": [mai_hoang.to_string()]},
        }),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let public = |server: &Server| {
        let url = server.url(&format!("/hamlets/{mai_hoang}/announcements"));
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    assert!(public(server).await.contains("Cắt điện toàn thôn"));
    let queued = store.outbox_states().await.unwrap();
    assert_eq!(queued, vec![(OutboxState::Queued, sms)]);

    let path = format!("/api/v1/announcements/{id}/withdraw");
    // Not the team, not another commune, not an officer who neither wrote
    // nor leads, not without a reason, not an unknown field.
    for (who, body, status) in [
        ("thanhvien.maihoang2", json!({"reason": "x"}), 403),
        ("xa.yenthe", json!({"reason": "x"}), 404),
        ("giamsat.phucson", json!({"reason": "x"}), 403),
        ("xa.phucson", json!({"reason": "   "}), 422),
        ("xa.phucson", json!({"reason": "x", "also": 1}), 422),
    ] {
        let t = token(store, who).await;
        let (s, v) = crate::common::api_send(server, Method::POST, &t, &path, Some(body)).await;
        assert_eq!(s, status, "{who}: {v}");
    }
    assert_eq!(
        store.outbox_states().await.unwrap(),
        queued,
        "nothing changed"
    );
    // A sender holds one message when it is withdrawn.
    let held = store.claim_sms("test-sender", 1, 60).await.unwrap();
    assert_eq!(held.len(), 1);

    // A smartphone household's feed shows it until it is withdrawn.
    let aid: i64 = id.parse().unwrap();
    assert!(store.send_feed_links(aid, &server.base).await.unwrap() > 0);
    let (link,): (String,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT body FROM outbox WHERE idempotency_key LIKE 'feed:%' ORDER BY id LIMIT 1"
    )
    .fetch_one(p)
    .await
    .unwrap());
    let link = link.split_whitespace().last().unwrap().to_string();
    let feed = |url: String| async move { reqwest::get(url).await.unwrap().text().await.unwrap() };
    assert!(feed(link.clone()).await.contains("Cắt điện toàn thôn"));

    let (s, w) = post(
        server,
        &leader,
        &path,
        json!({"reason": "Điện lực hoãn lịch cắt điện"}),
    )
    .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["state"], "cancelled");
    assert_eq!(w["cancel_reason"], "Điện lực hoãn lịch cắt điện");
    let states: Vec<(String, i64)> = danvan_store::on_db!(&store.db, |p| {
        sqlx::query_as(
        "SELECT state, COUNT(*) FROM outbox WHERE announcement_id = $1 GROUP BY state ORDER BY state"
    )
    .bind(aid)
    .fetch_all(p)
    .await
    .unwrap()
    });
    assert_eq!(
        states,
        vec![
            ("cancelled".to_string(), sms - 1),
            ("sending".to_string(), 1)
        ],
        "no SMS leaves after the withdrawal but the one a sender held"
    );
    // The held message's send fails: it is not queued again.
    store
        .sms_not_sent(held[0].id, "timeout", false)
        .await
        .unwrap();
    let after: Vec<(String, i64)> = danvan_store::on_db!(&store.db, |p| {
        sqlx::query_as(
        "SELECT state, COUNT(*) FROM outbox WHERE announcement_id = $1 GROUP BY state ORDER BY state"
    )
    .bind(aid)
    .fetch_all(p)
    .await
    .unwrap()
    });
    assert_eq!(after, vec![("cancelled".to_string(), sms)], "not re-queued");
    // Its unacknowledged SMS never fall back to visits.
    danvan_store::on_db!(&store.db, |p| sqlx::query(
        "UPDATE deliveries SET updated_at = 0 WHERE announcement_id = $1"
    )
    .bind(aid)
    .execute(p)
    .await
    .map(|_| ())
    .unwrap());
    assert_eq!(
        store.sms_fallback().await.unwrap(),
        0,
        "no visit for a withdrawn announcement"
    );
    assert!(
        !feed(link).await.contains("Cắt điện toàn thôn"),
        "gone from the feed"
    );
    assert!(!public(server).await.contains("Cắt điện toàn thôn"));
    let (s, _) = post(server, &leader, &path, json!({"reason": "lần hai"})).await;
    assert_eq!(s, 409);
    // No visit is ticked for it any more.
    let member = store
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap();
    let household: (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT household_id FROM deliveries WHERE channel = 'visit' AND team_id = $1 LIMIT 1"
    )
    .bind(member.scope.team_id)
    .fetch_one(p)
    .await
    .unwrap());
    let ticked = store
        .tick_visit(
            &danvan_store::feedback::Viewer::of(&member),
            id.parse().unwrap(),
            household.0,
        )
        .await;
    match ticked {
        Err(danvan_store::StoreError::Rejected(m)) => assert_eq!(
            m,
            danvan_domain::problem::Problem::WithdrawnNoVisit,
            "{m:?}"
        ),
        other => panic!("a visit ticked for a withdrawn announcement: {other:?}"),
    }
    let (_, r) = get(server, &leader, &format!("/api/v1/announcements/{id}")).await;
    assert_eq!(r["state"], "cancelled");
    let withdrawn = store
        .audit_entries(&danvan_store::Viewer::cli(), None, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "withdraw")
        .count();
    assert_eq!(withdrawn, 1);
    scene.finish().await;
}
both!(withdrawing_stops_what_has_not_left);
