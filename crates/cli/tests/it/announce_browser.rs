//! The reach page in headless Chromium, as a commune officer and a team
//! member would use it after an announcement to Mai Hoàng went out through
//! the real Kannel.

use std::time::Duration;

use danvan_domain::announcement::OutboxState;

use crate::announce::expected_channels;
use crate::announce_sms::{announce, kannel_config, rig};
use crate::browser::Browser;
use crate::common::{unit_id, Backend};

async fn the_reach_page_shows_every_channel(backend: Backend) {
    let rig = rig(backend).await;
    let store = rig.store.clone();
    let mai_hoang = unit_id(&store, "mai hoang").await;
    let (feed, sms, visit) = expected_channels(&store, mai_hoang).await;
    let id = announce(&rig, "Thu gom rác thải cồng kềnh vào sáng Chủ nhật.").await;
    let sender = danvan_sms::spawn_sms_sender(store.clone(), kannel_config(&rig));
    rig.kannel
        .wait_for(sms as usize, Duration::from_secs(60))
        .await;
    // Delivery reports arrive just after the messages.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let states = store.outbox_states().await.unwrap();
        if states == vec![(OutboxState::Delivered, sms)] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "reports: {states:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The commune officer follows it from the list to its reach page.
    let b = Browser::start().await;
    b.log_in(&rig.server, "xa.phucson").await;
    b.goto(&rig.server.url("/announcements")).await;
    let link = b
        .wait_for(&format!("#announcement-{id}"), |t| t == "Họp thôn")
        .await;
    b.click(&link).await;
    b.wait_for("#reach-households", |t| {
        t == (feed + sms + visit).to_string()
    })
    .await;
    b.wait_for("#reach-reached", |t| t == sms.to_string()).await;
    for (channel, state, n) in [
        ("Trang tin (điện thoại thông minh)", "Đã gửi", feed),
        ("Tin nhắn SMS", "Đã tới máy", sms),
        ("Tổ dân vận đến báo", "Chờ gửi", visit),
    ] {
        b.wait_for("#reach-by-channel tbody tr", |t| {
            t.contains(channel) && t.contains(state) && t.ends_with(&n.to_string())
        })
        .await;
    }
    b.wait_for("#reach-by-hamlet tbody tr", |t| {
        t.starts_with("Mai Hoàng") || t.contains("Mai Hoàng")
    })
    .await;
    // An officer sees the households to visit but does not tick them.
    assert!(b.all(None, "button[id^=inform-]").await.unwrap().is_empty());
    drop(b);

    // A team member sees their own team's households and ticks one informed.
    let b = Browser::start().await;
    b.log_in(&rig.server, "thanhvien.maihoang2").await;
    b.goto(&rig.server.url("/announcements")).await;
    let link = b.wait_for(&format!("#announcement-{id}"), |_| true).await;
    b.click(&link).await;
    let button = b.find("button[id^=inform-]").await;
    let before = b.text(&b.find("#reach-reached").await).await.unwrap();
    let household = b.all(None, "button[id^=inform-]").await.unwrap().len();
    assert!(household > 0);
    b.click(&button).await;
    let after: i64 = before.parse::<i64>().unwrap() + 1;
    b.wait_for("#reach-reached", |t| t == after.to_string())
        .await;
    let left = b.all(None, "button[id^=inform-]").await.unwrap().len();
    assert_eq!(left, household - 1, "the ticked household leaves the list");
    // The team member's page counts only their team's households.
    let shown: i64 = b
        .text(&b.find("#reach-households").await)
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        shown < feed + sms + visit,
        "only the team's households: {shown}"
    );
    drop(b);

    sender.abort();
    rig.server.stop();
    drop(rig.kannel);
    rig.db.finish().await;
}
both!(the_reach_page_shows_every_channel);

async fn an_officer_writes_one_in_the_form(backend: Backend) {
    let db = crate::common::TestDb::demo(backend).await;
    let store = db.store.clone();
    store
        .set_leads_unit(&danvan_store::Actor::cli(), "xa.phucson", true)
        .await
        .unwrap();
    let server = crate::common::Server::start(&store).await;
    let mai_hoang = unit_id(&store, "mai hoang").await;
    let (feed, sms, visit) = expected_channels(&store, mai_hoang).await;
    let b = Browser::start().await;
    b.log_in(&server, "xa.phucson").await;
    b.goto(&server.url("/announcements")).await;
    let write = b.find("#new-announcement").await;
    b.click(&write).await;
    let option = b
        .wait_for("#an-unit option", |t| t.contains("Mai Hoàng"))
        .await;
    b.click(&option).await;
    b.type_into("#an-title", "Tiêm phòng dại cho chó mèo").await;
    // Only spaces: refused by the server, in Vietnamese, nothing written.
    b.type_into("#an-body", "   ").await;
    let send = b.find("#an-send").await;
    b.click(&send).await;
    b.wait_for("#form-error", |t| t.contains("Hãy ghi nội dung"))
        .await;
    let (n,): (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT COUNT(*) FROM announcements"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(n, 0);
    // Preview: how many households, and what each SMS costs.
    let option = b
        .wait_for("#an-unit option", |t| t.contains("Mai Hoàng"))
        .await;
    b.click(&option).await;
    b.type_into(
        "#an-body",
        "Sáng Chủ nhật tiêm phòng dại miễn phí tại nhà văn hóa thôn, từ 7 giờ.",
    )
    .await;
    let preview = b.find("#an-preview").await;
    b.click(&preview).await;
    b.wait_for("#preview-households", |t| {
        t == (feed + sms + visit).to_string()
    })
    .await;
    b.wait_for("#preview-parts", |t| t == "2").await;
    // Nothing is written by a preview; sending writes and plans it.
    let send = b.find("#an-send").await;
    b.click(&send).await;
    b.wait_for("h1", |t| t == "Tiêm phòng dại cho chó mèo")
        .await;
    b.wait_for("#reach-households", |t| {
        t == (feed + sms + visit).to_string()
    })
    .await;
    drop(b);
    server.stop();
    db.finish().await;
}
both!(an_officer_writes_one_in_the_form);
