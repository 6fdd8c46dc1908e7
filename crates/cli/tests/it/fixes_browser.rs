//! What a new user found broken or confusing (issue 14, item 7), as a
//! person clicks it in headless Chromium.

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::common::{Backend, Server, TestDb};

/// A team leader writes an announcement for their team from the web form:
/// the form offers their hamlet (the list was empty for team roles) and
/// sending writes one for their own team.
async fn a_team_leader_announces_from_the_form(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    let server = Server::start(store).await;
    let own_team = store
        .principal_by_username("totruong.maihoang1")
        .await
        .unwrap()
        .scope
        .team_id
        .expect("a team leader's team");
    let b = Browser::start().await;
    b.log_in(&server, "totruong.maihoang1").await;
    b.goto(&server.url("/announcements/new")).await;
    b.wait_for("#an-unit option", |t| t == "Thôn Mai Hoàng")
        .await;
    b.type_into("#an-title", "Họp tổ tối thứ Sáu").await;
    b.type_into("#an-body", "Mời đại diện các hộ dự họp tổ lúc 19 giờ.")
        .await;
    let send = b.find("#an-send").await;
    b.click(&send).await;
    b.wait_for("h1", |t| t == "Họp tổ tối thứ Sáu").await;
    assert!(b.all(None, "#form-error").await.unwrap().is_empty());
    let (audience,): (String,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT audience FROM announcements"
    )
    .fetch_one(p)
    .await
    .unwrap());
    let audience: Value = serde_json::from_str(&audience).unwrap();
    assert_eq!(audience["teams"], json!([own_team]));
    drop(b);
    server.stop();
    db.finish().await;
}
both!(a_team_leader_announces_from_the_form);
