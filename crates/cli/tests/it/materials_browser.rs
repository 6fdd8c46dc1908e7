//! In headless Chromium, as people would click it: a commune officer
//! uploads a leaflet to the library and hands it out to Mai Hoàng's teams
//! with printed copies; the team leader acknowledges it and reports the
//! copies handed out; the officer sees the figures. Then a supervisor's
//! announcement approved by the leader from its page, and the hamlet
//! head's loudspeaker times.

use danvan_store::Scope;

use crate::browser::Browser;
use crate::common::{count_rows, unit_id, Backend, PilotScene, Server, TestDb};
use crate::materials::leaflet_pdf;

async fn a_leaflet_goes_from_the_commune_to_a_team(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = db.store.clone();
    let server = Server::start(&store).await;
    let mai_hoang = unit_id(&store, "mai hoang").await;
    let teams = store
        .teams_of_hamlet(&Scope::all(), mai_hoang)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("to-roi-phong-chong-ma-tuy.pdf");
    std::fs::write(&pdf, leaflet_pdf()).unwrap();
    let exe = dir.path().join("virus.pdf");
    std::fs::write(&exe, b"MZ\x90\x00 not a pdf").unwrap();

    let b = Browser::start().await;
    b.log_in(&server, "xa.phucson").await;
    b.goto(&server.url("/")).await;
    let nav = b.find("#nav-materials").await;
    b.click(&nav).await;
    b.wait_for("#materials-empty", |t| t.contains("Chưa có tài liệu"))
        .await;
    let upload = b.find("#new-material").await;
    b.click(&upload).await;
    b.type_into("#mat-title", "Tờ rơi phòng chống ma túy").await;
    b.type_into("#mat-agency", "Công an xã Phúc Sơn").await;
    let topic = b
        .wait_for("#mat-topic option", |t| t == "An ninh trật tự")
        .await;
    b.click(&topic).await;
    // A file that is not what its name says: refused in Vietnamese.
    b.type_into("#mat-file", &exe.display().to_string()).await;
    let send = b.find("#mat-upload").await;
    b.click(&send).await;
    b.wait_for("#form-error", |t| t.contains("không khớp"))
        .await;
    assert_eq!(count_rows(&store, "materials").await, 0);
    // The form kept the title; the real leaflet goes up.
    let kept = b.find("#mat-title").await;
    assert_eq!(
        b.attribute(&kept, "value").await.as_deref(),
        Some("Tờ rơi phòng chống ma túy")
    );
    b.type_into("#mat-file", &pdf.display().to_string()).await;
    let send = b.find("#mat-upload").await;
    b.click(&send).await;
    b.wait_for("h1", |t| t == "Tờ rơi phòng chống ma túy").await;
    b.wait_for("#material-topic", |t| t == "An ninh trật tự")
        .await;
    b.wait_for("#material-teams", |t| t == "0").await;

    // Handed out to every team of Mai Hoàng, 40 copies each.
    let option = b
        .wait_for("#handout-unit option", |t| t.contains("Mai Hoàng"))
        .await;
    b.click(&option).await;
    b.replace_text("#handout-copies", "40").await;
    let send = b.find("#handout-send").await;
    b.click(&send).await;
    b.wait_for("#material-msg", |t| {
        t.contains(&format!("{} tổ", teams.len()))
    })
    .await;
    b.wait_for("#material-teams", |t| t == teams.len().to_string())
        .await;
    b.wait_for("#material-copies", |t| t == (40 * teams.len()).to_string())
        .await;
    b.wait_for("#material-received", |t| t == "0").await;
    drop(b);

    // The team leader finds it in the library and acknowledges it.
    let b = Browser::start().await;
    b.log_in(&server, "totruong.maihoang1").await;
    b.goto(&server.url("/materials")).await;
    let link = b
        .wait_for("#materials a[id^=material-]", |t| {
            t == "Tờ rơi phòng chống ma túy"
        })
        .await;
    b.click(&link).await;
    let receipt = b.find("#material-receipt").await;
    b.click(&receipt).await;
    b.wait_for("#own-received", |t| t.contains("đã nhận")).await;
    // A number that is not one: refused, nothing changed.
    b.replace_text("#material-copies-given", "mười").await;
    let save = b.find("#material-given-save").await;
    b.click(&save).await;
    b.wait_for("#form-error", |t| t.contains("phải là một số"))
        .await;
    b.replace_text("#material-copies-given", "35").await;
    let save = b.find("#material-given-save").await;
    b.click(&save).await;
    b.wait_for("#material-given", |t| t == "35").await;
    drop(b);

    // The officer sees one team acknowledged and 35 copies handed out.
    let b = Browser::start().await;
    b.log_in(&server, "xa.phucson").await;
    b.goto(&server.url("/materials")).await;
    b.wait_for("#materials tbody tr", |t| {
        t.contains(&format!("{} / 1", teams.len())) && t.contains("/ 35")
    })
    .await;
    // Out of date: the officer takes it out of the library.
    let link = b
        .wait_for("#materials a[id^=material-]", |t| {
            t == "Tờ rơi phòng chống ma túy"
        })
        .await;
    b.click(&link).await;
    let open = b.find("#material-remove summary").await;
    b.click(&open).await;
    let remove = b.find("#material-remove-send").await;
    b.click(&remove).await;
    b.wait_for("#materials-empty", |t| t.contains("Chưa có tài liệu"))
        .await;
    drop(b);
    server.stop();
    db.finish().await;
}
both!(a_leaflet_goes_from_the_commune_to_a_team);

async fn the_leader_approves_from_the_page(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let supervisor = crate::common::api_token(store, "giamsat.phucson").await;
    let (s, a) = crate::common::api_send(
        server,
        reqwest::Method::POST,
        &supervisor,
        "/api/v1/announcements",
        Some(serde_json::json!({
            "unit_id": phuc_son.to_string(),
            "title": "Phun thuốc diệt muỗi",
            "body": "Sáng thứ Năm phun thuốc diệt muỗi toàn thôn, các hộ mở cửa.",
            "audience": {"units": [mai_hoang.to_string()]},
        })),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["state"], "pending");
    let id = a["id"].as_str().unwrap().to_string();

    // The supervisor sees no approve button; the leader does, and clicks it.
    let b = Browser::start().await;
    b.log_in(server, "giamsat.phucson").await;
    b.goto(&server.url(&format!("/announcements/{id}"))).await;
    b.wait_for("#an-state", |t| t == "Chờ duyệt").await;
    assert!(b.all(None, "#an-approve").await.unwrap().is_empty());
    drop(b);
    let b = Browser::start().await;
    b.log_in(server, "xa.phucson").await;
    b.goto(&server.url(&format!("/announcements/{id}"))).await;
    let approve = b.find("#an-approve").await;
    b.click(&approve).await;
    b.wait_for("#an-state", |t| t == "Đã gửi").await;
    b.wait_for("#reach-households", |t| t != "0").await;
    assert!(b.all(None, "#an-approve").await.unwrap().is_empty());
    drop(b);

    // The hamlet head sets the loudspeaker's times; a wrong one is refused.
    let b = Browser::start().await;
    b.log_in(server, "truongthon.maihoang").await;
    b.goto(&server.url(&format!("/hamlets/{mai_hoang}/loudspeaker")))
        .await;
    b.wait_for("#loudspeaker-slots", |t| t == "06:00, 17:00")
        .await;
    b.replace_text("#slots-input", "5:30, 25:00").await;
    let save = b.find("#slots-save").await;
    b.click(&save).await;
    b.wait_for("#form-error", |t| t.contains("không có thật"))
        .await;
    b.wait_for("#loudspeaker-slots", |t| t == "06:00, 17:00")
        .await;
    b.replace_text("#slots-input", "18:30, 5:30").await;
    let save = b.find("#slots-save").await;
    b.click(&save).await;
    b.wait_for("#slots-saved", |_| true).await;
    b.wait_for("#loudspeaker-slots", |t| t == "05:30, 18:30")
        .await;
    // The announcement's broadcasts are at the hamlet's times.
    b.wait_for(".broadcast-times", |t| {
        t.contains("05:30") || t.contains("18:30")
    })
    .await;
    let times = b.text(&b.find(".broadcast-times").await).await.unwrap();
    assert!(
        !times.contains("06:00") && !times.contains("17:00"),
        "{times}"
    );
    drop(b);

    // The leader uploads a recorded voice on the announcement's page.
    let dir = tempfile::tempdir().unwrap();
    let voice = dir.path().join("giong-doc.wav");
    std::fs::write(&voice, crate::loudspeaker::tone_wav(16000, 2.0, 6000.0)).unwrap();
    let b = Browser::start().await;
    b.log_in(server, "xa.phucson").await;
    b.goto(&server.url(&format!("/announcements/{id}"))).await;
    let open = b.find("#an-recording summary").await;
    b.click(&open).await;
    b.type_into("#recording-file", &voice.display().to_string())
        .await;
    let upload = b.find("#recording-upload").await;
    b.click(&upload).await;
    b.wait_for("#recording-seconds", |t| t.contains("2 giây"))
        .await;
    drop(b);

    // The leader withdraws it from its page, with a reason; then it is
    // marked withdrawn and leaves the hamlet's loudspeaker.
    let b = Browser::start().await;
    b.log_in(server, "xa.phucson").await;
    b.goto(&server.url(&format!("/announcements/{id}"))).await;
    let open = b.find("#an-withdraw summary").await;
    b.click(&open).await;
    b.type_into("#withdraw-reason", "Trạm y tế đổi lịch phun thuốc")
        .await;
    let send = b.find("#withdraw-send").await;
    b.click(&send).await;
    b.wait_for("#an-state", |t| t == "Đã thu hồi").await;
    b.wait_for("#an-withdrawn", |t| {
        t.contains("Trạm y tế đổi lịch phun thuốc")
    })
    .await;
    assert!(b.all(None, "#withdraw-send").await.unwrap().is_empty());
    drop(b);
    let b = Browser::start().await;
    b.log_in(server, "truongthon.maihoang").await;
    b.goto(&server.url(&format!("/hamlets/{mai_hoang}/loudspeaker")))
        .await;
    b.wait_for("#loudspeaker-empty", |_| true).await;
    drop(b);

    // The administrator sets the province's approval rule in its form.
    let b = Browser::start().await;
    b.log_in(server, "admin").await;
    b.goto(&server.url("/announcements")).await;
    let none = b
        .wait_for("#approval-rule option", |t| t == "Không cần duyệt")
        .await;
    b.click(&none).await;
    let save = b.find("#approval-save").await;
    b.click(&save).await;
    b.wait_for("#settings-msg", |t| t.contains("Đã lưu")).await;
    drop(b);
    let path = store.unit(&Scope::all(), phuc_son).await.unwrap().path;
    assert_eq!(
        store.announcement_approval(&path).await.unwrap(),
        danvan_domain::announcement::Approval::None
    );
    scene.finish().await;
}
both!(the_leader_approves_from_the_page);
