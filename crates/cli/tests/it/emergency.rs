//! Trust item 7: an emergency goes out unapproved (households, SMS, the
//! public CAP alert) only from a unit's leader, the administrator or a
//! role the province names. Anyone else's waits for a leader, and the
//! leaders who may approve it are told at once by SMS through the outbox.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{api_send, api_token as token, login, Backend, PilotScene, Server, PW};
use danvan_store::{Actor, Store, Viewer};

/// Gives an account a phone (the demo's have none).
async fn give_phone(store: &Store, username: &str, phone: &str) {
    danvan_store::on_db!(&store.db, |p| sqlx::query(
        "UPDATE accounts SET phone = $2 WHERE username = $1"
    )
    .bind(username)
    .bind(phone)
    .execute(p)
    .await
    .map(|_| ())
    .expect("phone"));
}

async fn account_id(store: &Store, username: &str) -> i64 {
    store
        .principal_by_username(username)
        .await
        .expect("account")
        .account_id
}

/// The SMS asking leaders to approve announcement `id`: (recipient, text,
/// key, urgency), by key.
async fn approval_sms(store: &Store, id: i64) -> Vec<(String, String, String, String)> {
    danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT recipient, body, idempotency_key, urgency FROM outbox \
         WHERE idempotency_key LIKE $1 ORDER BY idempotency_key"
    )
    .bind(format!("ann-approve:{id}:%"))
    .fetch_all(p)
    .await
    .expect("outbox"))
}

/// Messages of announcement `id` to households.
async fn household_sms(store: &Store, id: i64) -> i64 {
    let (n,): (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE announcement_id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await
    .expect("outbox"));
    n
}

/// Whether announcement `id` is a public CAP alert: listed in the Atom
/// feed, and its document served to anyone.
async fn published(server: &Server, id: i64) -> bool {
    let feed = reqwest::get(server.url("/cap/v1/alerts.atom"))
        .await
        .expect("feed");
    assert_eq!(feed.status(), 200);
    let listed = feed
        .text()
        .await
        .expect("feed")
        .contains(&format!("/cap/v1/alerts/{id}.xml"));
    let doc = reqwest::get(server.url(&format!("/cap/v1/alerts/{id}.xml")))
        .await
        .expect("alert")
        .status()
        .as_u16();
    assert_eq!(listed, doc == 200, "the feed and the document agree");
    listed
}

fn emergency(unit: i64, title: &str, audience: Value) -> Value {
    json!({
        "unit_id": unit.to_string(),
        "title": title,
        "body": "Nước sông Thương lên nhanh. Các hộ ven đê di dời ngay lên nhà văn hóa thôn.",
        "urgency": "emergency",
        "audience": audience,
    })
}

async fn write(server: &Server, token: &str, body: Value) -> Value {
    let (s, a) = api_send(
        server,
        Method::POST,
        token,
        "/api/v1/announcements",
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    a
}

fn id_of(a: &Value) -> i64 {
    a["id"].as_str().unwrap().parse().unwrap()
}

/// A supervisor's and a team leader's emergency wait, publish no alert and
/// reach no household; the leaders who may approve them (the commune's
/// and the province's, not another commune's, not a supervisor marked as
/// leader) get an SMS at once; the writer's page says it waits; the
/// leader's list shows it; once approved it goes out with its alert.
async fn someone_elses_emergency_waits_and_the_leaders_are_told(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    for (who, phone) in [
        ("xa.phucson", "+84912000001"),
        ("tinh.bacninh", "+84912000002"),
        ("xa.yenthe", "+84912000003"),
        ("giamsat.phucson", "+84912000004"),
    ] {
        give_phone(store, who, phone).await;
        store
            .set_leads_unit(&Actor::cli(), who, true)
            .await
            .expect("leader");
    }
    let supervisor = token(store, "giamsat.phucson").await;
    let title = "Lũ quét & sạt lở đất: sơ tán ngay các hộ ven đê sông Thương thôn Mai Hoàng";
    let a = write(
        server,
        &supervisor,
        emergency(phuc_son, title, json!({"units": [mai_hoang.to_string()]})),
    )
    .await;
    assert_eq!(a["state"], "pending", "{a}");
    assert_eq!(a["approval_skipped"], false, "{a}");
    let id = id_of(&a);
    assert!(!published(server, id).await, "no CAP alert before approval");
    assert_eq!(household_sms(store, id).await, 0, "no household hears it");

    let commune = account_id(store, "xa.phucson").await;
    let province = account_id(store, "tinh.bacninh").await;
    let told = approval_sms(store, id).await;
    let mut expected = vec![
        (
            "+84912000001".to_string(),
            format!("ann-approve:{id}:{commune}"),
        ),
        (
            "+84912000002".to_string(),
            format!("ann-approve:{id}:{province}"),
        ),
    ];
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        told.iter()
            .map(|(to, _, key, _)| (to.clone(), key.clone()))
            .collect::<Vec<_>>(),
        expected,
        "the commune's and the province's leaders, nobody else"
    );
    for (_, text, _, urgency) in &told {
        assert!(
            text.starts_with("Thong bao KHAN cho duyet: Lu quet & sat lo dat"),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("Duyet tai /announcements/{id}")),
            "{text}"
        );
        assert!(text.is_ascii() && text.len() <= 160, "{text}");
        assert_eq!(urgency, "emergency", "the quiet hours do not hold it");
    }
    let requests: Vec<_> = store
        .audit_entries(&Viewer::cli(), None, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "request_approval" && e.entity_id == id.to_string())
        .collect();
    assert_eq!(requests.len(), 1, "the audit log records it");
    assert!(requests[0].detail.contains(&commune.to_string()));

    // A team leader's emergency for their team waits too.
    let team_leader = token(store, "totruong.maihoang1").await;
    let team = store
        .principal_by_username("totruong.maihoang1")
        .await
        .unwrap()
        .scope
        .team_id
        .expect("a team leader's team");
    let t = write(
        server,
        &team_leader,
        emergency(mai_hoang, "Sơ tán", json!({"teams": [team.to_string()]})),
    )
    .await;
    assert_eq!(t["state"], "pending", "{t}");
    let tid = id_of(&t);
    assert_eq!(household_sms(store, tid).await, 0);
    assert!(
        approval_sms(store, tid)
            .await
            .iter()
            .any(|(_, _, key, _)| key == &format!("ann-approve:{tid}:{commune}")),
        "the commune's leader is told"
    );

    // The writer's page says it waits; the leader's list shows it.
    let (writer, _) = login(server, "giamsat.phucson", PW).await;
    let page = writer
        .get(server.url(&format!("/announcements/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"an-emergency-waits\""), "{page}");
    assert!(page.contains("Chờ duyệt"), "{page}");
    assert!(
        !page.contains("id=\"an-approve\""),
        "the writer cannot approve"
    );
    let (leader, _) = login(server, "xa.phucson", PW).await;
    let list = leader
        .get(server.url("/announcements"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(&format!("id=\"awaiting-{id}\"")), "{list}");

    // Approved by the commune's leader: it goes out, with its alert.
    let commune_leader = token(store, "xa.phucson").await;
    let (s, v) = api_send(
        server,
        Method::POST,
        &commune_leader,
        &format!("/api/v1/announcements/{id}/approve"),
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("planned")), "{v}");
    assert!(v["households"].as_i64().unwrap() > 0, "{v}");
    assert!(published(server, id).await, "the alert once approved");
    scene.finish().await;
}
both!(someone_elses_emergency_waits_and_the_leaders_are_told);

/// The commune's leader sends an emergency at once, with its CAP alert,
/// and asks nobody.
async fn a_leaders_emergency_goes_out_at_once(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    give_phone(store, "xa.phucson", "+84912000001").await;
    let leader = token(store, "xa.phucson").await;
    let a = write(
        server,
        &leader,
        emergency(
            phuc_son,
            "Lũ quét",
            json!({"units": [mai_hoang.to_string()]}),
        ),
    )
    .await;
    assert_eq!(a["state"], "planned", "{a}");
    let id = id_of(&a);
    assert!(published(server, id).await);
    assert!(approval_sms(store, id).await.is_empty());
    scene.finish().await;
}
both!(a_leaders_emergency_goes_out_at_once);

/// A province names the supervisor: its emergencies go out at once (and
/// say approval was skipped); the team leader's still wait. Names are
/// checked; leaving the field out keeps them; the settings form sets them.
async fn a_role_the_province_names_sends_emergencies_at_once(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let path = store
        .unit(&danvan_store::Scope::all(), phuc_son)
        .await
        .unwrap()
        .path;
    let province: i64 = path
        .trim_matches('/')
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let settings = format!("/api/v1/units/{province}/announcement-settings");
    let admin = token(store, "admin").await;
    let supervisor = token(store, "giamsat.phucson").await;
    let to_hamlet = json!({"units": [mai_hoang.to_string()]});

    // Not a role, nor one that writes no announcement.
    for roles in [json!(["boss"]), json!(["hamlet_head"]), json!(["admin"])] {
        let (s, v) = api_send(
            server,
            Method::PUT,
            &admin,
            &settings,
            Some(json!({"approval": "leader", "emergency_roles": roles})),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("announcement.emergency_role_invalid")),
            "{roles}: {v}"
        );
    }
    let (s, v) = api_send(
        server,
        Method::PUT,
        &admin,
        &settings,
        Some(json!({"approval": "leader", "emergency_roles": ["supervisor"]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["emergency_roles"], json!(["supervisor"]), "{v}");
    // The rule alone: the roles are kept.
    let (s, v) = api_send(
        server,
        Method::PUT,
        &admin,
        &settings,
        Some(json!({"approval": "leader"})),
    )
    .await;
    assert_eq!(
        (s, &v["emergency_roles"]),
        (200, &json!(["supervisor"])),
        "{v}"
    );

    let a = write(
        server,
        &supervisor,
        emergency(phuc_son, "Lũ quét", to_hamlet.clone()),
    )
    .await;
    assert_eq!(a["state"], "planned", "{a}");
    assert_eq!(a["approval_skipped"], true, "{a}");
    assert!(published(server, id_of(&a)).await);
    // Not named: the team leader's still waits.
    let team = store
        .principal_by_username("totruong.maihoang1")
        .await
        .unwrap()
        .scope
        .team_id
        .unwrap();
    let team_leader = token(store, "totruong.maihoang1").await;
    let t = write(
        server,
        &team_leader,
        emergency(mai_hoang, "Sơ tán", json!({"teams": [team.to_string()]})),
    )
    .await;
    assert_eq!(t["state"], "pending", "{t}");

    // The settings form (the administrator's page): the team leader
    // instead of the supervisor.
    let (admin_page, csrf) = login(server, "admin", PW).await;
    let list = admin_page
        .get(server.url("/announcements"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("id=\"emergency-role-supervisor\" checked"),
        "{list}"
    );
    let r = admin_page
        .post(server.url("/announcements/settings"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("province", &province.to_string()),
            ("approval", "leader"),
            ("emergency_form", "1"),
            ("emergency_role", "team_leader"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, v) = api_send(server, Method::GET, &admin, &settings, None).await;
    assert_eq!(v["emergency_roles"], json!(["team_leader"]), "{v}");
    let a = write(
        server,
        &supervisor,
        emergency(phuc_son, "Lũ quét 2", to_hamlet),
    )
    .await;
    assert_eq!(a["state"], "pending", "no longer named: {a}");
    scene.finish().await;
}
both!(a_role_the_province_names_sends_emergencies_at_once);
