//! Refusals speak the reader's language and carry a stable code: the JSON
//! API answers `error.code` (listed in the OpenAPI document) with the
//! message in Vietnamese, or in English when the client asks for it; a
//! page shows an English reader no Vietnamese error, and a Vietnamese
//! reader no English one.

use serde_json::json;

use crate::common::{api_token, login, Backend, PilotScene, PW};

async fn refusals_speak_the_readers_language(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let token = api_token(store, "xa.phucson").await;
    let untitled = json!({
        "unit_id": phuc_son.to_string(),
        "title": "   ",
        "body": "Lịch tiêm chủng mở rộng tháng này tại trạm y tế xã.",
        "audience": {"units": [mai_hoang.to_string()]},
    });
    let http = reqwest::Client::new();
    for (accept, message) in [
        (None, "Hãy ghi tiêu đề thông báo"),
        (Some("vi-VN,vi;q=0.9"), "Hãy ghi tiêu đề thông báo"),
        (Some("en-GB,en;q=0.8"), "Write the announcement's title"),
    ] {
        let mut req = http
            .post(server.url("/api/v1/announcements"))
            .bearer_auth(&token)
            .json(&untitled);
        if let Some(a) = accept {
            req = req.header("accept-language", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 422);
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], "announcement.title_missing", "{v}");
        assert_eq!(v["error"]["message"], message, "{accept:?}: {v}");
    }
    // A policy refusal has its code too, in both languages.
    let member = api_token(store, "thanhvien.maihoang2").await;
    let res = http
        .post(server.url("/api/v1/announcements"))
        .bearer_auth(&member)
        .header("accept-language", "en")
        .json(&untitled)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "forbidden.role", "{v}");

    // Pages: the same refusal in the form, in the reader's language.
    let (c, csrf) = login(server, "xa.phucson", PW).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("unit", &phuc_son.to_string()),
        ("title", " "),
        ("body", "Lịch tiêm chủng mở rộng tháng này."),
        ("urgency", "normal"),
        ("action", "send"),
    ];
    let vi = page_after_post(&c, &server.url("/announcements/new"), &form).await;
    assert!(vi.contains("Hãy ghi tiêu đề thông báo"), "{vi}");
    assert!(!vi.contains("Write the announcement"));
    c.get(server.url("/lang?set=en&next=/"))
        .send()
        .await
        .unwrap();
    let en = page_after_post(&c, &server.url("/announcements/new"), &form).await;
    assert!(en.contains("Write the announcement&#39;s title"), "{en}");
    assert!(
        !en.contains("Hãy ghi tiêu đề"),
        "no Vietnamese error on an English page"
    );
    // An error page: a team's role refused at the door, in English.
    let (m, _) = login(server, "thanhvien.maihoang2", PW).await;
    m.get(server.url("/lang?set=en&next=/"))
        .send()
        .await
        .unwrap();
    let res = m.get(server.url("/audit")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(page.contains("Your account may not do this"), "{page}");
    assert!(!page.contains("không có quyền"), "{page}");
    scene.finish().await;
}
both!(refusals_speak_the_readers_language);

/// The page a form's POST answers with.
async fn page_after_post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> String {
    let res = c.post(url).form(form).send().await.unwrap();
    res.text().await.unwrap()
}
