//! What a new user found broken or confusing (issue 14, item 7), as a
//! person clicks it in headless Chromium.

use danvan_store::registry::household::Resident;
use danvan_store::{Scope, Store, Viewer};
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

/// A household of `username`'s team and one of its residents with a phone.
async fn team_resident(store: &Store, username: &str) -> (i64, Resident) {
    let member = store.principal_by_username(username).await.unwrap();
    for h in store
        .team_households(&Scope::all(), member.team_id.unwrap())
        .await
        .unwrap()
    {
        let r = store.residents(&Scope::all(), h.id).await.unwrap();
        if let Some(r) = r.into_iter().find(|r| r.phone.is_some() && !r.is_head) {
            return (h.id, r);
        }
    }
    panic!("no resident with a phone in {username}'s team");
}

/// Records, as the signed-in member, a report for `resident` of
/// `household` through the relay form; the new item's id.
async fn record(
    b: &Browser,
    server: &Server,
    household: i64,
    resident: &Resident,
    consent: bool,
) -> i64 {
    b.goto(&server.url(&format!("/households/{household}/feedback")))
        .await;
    let who = b
        .find(&format!("#relay-resident option[value='{}']", resident.id))
        .await;
    b.click(&who).await;
    let topic = b.find("#relay-topic option[value='environment']").await;
    b.click(&topic).await;
    let method = b.find("input[name=method]").await;
    b.click(&method).await;
    b.type_into(
        "#relay-description",
        "Cống trước nhà bị tắc, nước tràn ra đường.",
    )
    .await;
    if consent {
        let tick = b.find("#relay-consent").await;
        b.click(&tick).await;
    }
    let send = b.find("#relay-send").await;
    b.click(&send).await;
    b.wait_for("#fact-reporter", |t| t.contains(&resident.full_name()))
        .await;
    let url = b.url().await;
    url.split("/feedback/")
        .nth(1)
        .and_then(|s| s.split('?').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an item's page: {url}"))
}

/// A resident who agreed to be named is shown by name and phone to the
/// member who recorded it and to the commune officer; one who did not is
/// hidden from the officer, not from the member who recorded it.
async fn a_named_resident_can_be_called_back(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    let server = Server::start(store).await;
    let (household, resident) = team_resident(store, "thanhvien.maihoang2").await;
    let name = resident.full_name();
    let phone = resident.phone.clone().unwrap();
    let b = Browser::start().await;
    b.log_in(&server, "thanhvien.maihoang2").await;
    let named = record(&b, &server, household, &resident, true).await;
    let unnamed = record(&b, &server, household, &resident, false).await;
    drop(b);
    let b = Browser::start().await;
    b.log_in(&server, "xa.phucson").await;
    b.goto(&server.url(&format!("/feedback/{named}"))).await;
    b.wait_for("#fact-reporter", |t| {
        t.contains(&name) && t.contains(&phone)
    })
    .await;
    b.goto(&server.url(&format!("/feedback/{unnamed}"))).await;
    b.wait_for("#fact-reporter", |t| t.starts_with("Không hiển thị"))
        .await;
    drop(b);
    server.stop();
    db.finish().await;
}
both!(a_named_resident_can_be_called_back);

/// The number at the start of the inbox's count line.
async fn inbox_count(b: &Browser) -> i64 {
    let line = b.text(&b.find("#inbox-count").await).await.unwrap();
    line.split_whitespace()
        .next()
        .and_then(|n| n.replace('.', "").parse().ok())
        .unwrap_or_else(|| panic!("a count: {line}"))
}

/// The hamlet head's and the team's feedback lists hold their hamlet's
/// and their households' items, as many as their home counts (one rule);
/// a member finds the report they recorded under "what I recorded".
async fn hamlet_and_team_lists_agree_with_their_counts(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    let server = Server::start(store).await;
    let mai_hoang = crate::common::unit_id(store, "mai hoang").await;
    let (household, resident) = team_resident(store, "thanhvien.maihoang2").await;
    let b = Browser::start().await;
    b.log_in(&server, "thanhvien.maihoang2").await;
    let id = record(&b, &server, household, &resident, true).await;
    let code = store
        .feedback(
            &Viewer::of(&store.principal_by_username("xa.phucson").await.unwrap()),
            id,
        )
        .await
        .unwrap()
        .code;
    let shown = danvan_domain::feedback::TrackingCode::parse(&code)
        .unwrap()
        .display();
    for who in ["thanhvien.maihoang2", "truongthon.maihoang"] {
        let b = Browser::start().await;
        b.log_in(&server, who).await;
        b.goto(&server.url("/feedback")).await;
        let viewer = Viewer::of(&store.principal_by_username(who).await.unwrap());
        let (open, _) = store
            .feedback_at_a_glance(&viewer, mai_hoang)
            .await
            .unwrap();
        assert!(open > 0, "{who}: something open");
        assert_eq!(inbox_count(&b).await, open, "{who}: list and count agree");
        assert!(!b.all(None, "#inbox tbody tr").await.unwrap().is_empty());
    }
    // What I recorded, one click from the list.
    b.goto(&server.url("/feedback")).await;
    let mine = b.find("#to-mine").await;
    b.click(&mine).await;
    b.wait_for("#inbox-count", |t| t.starts_with("1 ")).await;
    let row = b.find("#inbox tbody tr").await;
    assert_eq!(
        b.attribute(&row, "data-code").await.as_deref(),
        Some(shown.as_str())
    );
    drop(b);
    server.stop();
    db.finish().await;
}
both!(hamlet_and_team_lists_agree_with_their_counts);
