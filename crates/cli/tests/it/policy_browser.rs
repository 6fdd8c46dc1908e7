//! In headless Chromium: the buttons a page draws are the policy's answer
//! for that resource. Under the province's `above` rule a commune leader,
//! who approves their own unit's announcements by default, is shown no
//! approve button (and the store refuses them); a leader above is shown it
//! and approves from the page. The page once drew the button by a rule of
//! its own that ignored the province's setting.

use danvan_domain::announcement::Approval;
use danvan_store::{Actor, Scope, Viewer};

use crate::browser::Browser;
use crate::common::{api_send, api_token, Backend, PilotScene};

async fn the_approve_button_follows_the_province_rule(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    store
        .set_leads_unit(&Actor::cli(), "tinh.bacninh", true)
        .await
        .expect("province leader");
    let path = store.unit(&Scope::all(), phuc_son).await.unwrap().path;
    let province: i64 = path
        .trim_matches('/')
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the province's id");
    store
        .set_announcement_approval(&Viewer::cli(), province, Approval::Above)
        .await
        .expect("the rule");

    // The commune's leader writes: under `above` it waits for approval.
    let commune_leader = api_token(store, "xa.phucson").await;
    let (s, a) = api_send(
        server,
        reqwest::Method::POST,
        &commune_leader,
        "/api/v1/announcements",
        Some(serde_json::json!({
            "unit_id": phuc_son.to_string(),
            "title": "Tổng vệ sinh môi trường",
            "body": "Sáng Chủ nhật các hộ dọn vệ sinh đường làng, ngõ xóm.",
            "audience": {"units": [mai_hoang.to_string()]},
        })),
    )
    .await;
    assert_eq!((s, a["state"].as_str()), (201, Some("pending")), "{a}");
    let id = a["id"].as_str().unwrap().to_string();

    // Their page offers no approval, and the store refuses it with a code.
    let b = Browser::start().await;
    b.log_in(server, "xa.phucson").await;
    b.goto(&server.url(&format!("/announcements/{id}"))).await;
    b.wait_for("#an-state", |t| t == "Chờ duyệt").await;
    assert!(
        b.all(None, "#an-approve").await.unwrap().is_empty(),
        "no approve button for a leader the province's rule excludes"
    );
    drop(b);
    let (s, v) = api_send(
        server,
        reqwest::Method::POST,
        &commune_leader,
        &format!("/api/v1/announcements/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden.leader_above")),
        "{v}"
    );

    // The province's leader is shown the button and approves.
    let b = Browser::start().await;
    b.log_in(server, "tinh.bacninh").await;
    b.goto(&server.url(&format!("/announcements/{id}"))).await;
    let approve = b.find("#an-approve").await;
    b.click(&approve).await;
    b.wait_for("#an-state", |t| t == "Đã gửi").await;
    assert!(b.all(None, "#an-approve").await.unwrap().is_empty());
    drop(b);
    scene.finish().await;
}
both!(the_approve_button_follows_the_province_rule);
