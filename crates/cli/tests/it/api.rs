//! The JSON API: bearer tokens, string ids, scoping, the OpenAPI document.

use danvan_store::{Actor, Scope};
use serde_json::Value;

use crate::common::{unit_id, Backend, Server, TestDb};

async fn api_answers_in_scope(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let token = s
        .create_api_token(&Actor::cli(), "xa.phucson", "test")
        .await
        .unwrap();
    let c = reqwest::Client::new();
    let get = |path: &str| c.get(server.url(path)).bearer_auth(&token).send();

    assert_eq!(
        c.get(server.url("/api/v1/units"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(server.url("/api/v1/units"))
            .bearer_auth("dv_nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let units: Value = get("/api/v1/units?q=mai%20hoang")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mh = &units[0];
    assert_eq!(mh["name"], "Thôn Mai Hoàng");
    assert!(mh["id"].is_string() && mh["parent_id"].is_string());
    let id = mh["id"].as_str().unwrap();
    let unit: Value = get(&format!("/api/v1/units/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unit["counts"]["households"], 245);
    assert_eq!(unit["counts"]["teams"], 6);
    let parent = mh["parent_id"].as_str().unwrap();
    let kids: Value = get(&format!("/api/v1/units/{parent}/children"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(kids.as_array().unwrap().iter().any(|k| k["id"] == mh["id"]));

    let found: Value = get("/api/v1/search?q=NGUYEN%20VAN%20AN")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = &found["residents"][0];
    assert!(r["id"].is_string() && r["household_id"].is_string() && r["full_name"].is_string());
    let hh: Value = get(&format!(
        "/api/v1/households/{}",
        r["household_id"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(!hh["residents"].as_array().unwrap().is_empty());
    for res in hh["residents"].as_array().unwrap() {
        if let Some(cid) = res["citizen_id_masked"].as_str() {
            assert!(cid.starts_with("********"));
        }
    }
    let team_id = hh["team_id"].as_str().unwrap();
    let team: Value = get(&format!("/api/v1/teams/{team_id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(team["members"].as_array().unwrap().len(), 5);

    // Out of scope looks exactly like missing.
    let yen_the = unit_id(s, "hong lac").await;
    let res = get(&format!("/api/v1/units/{yen_the}")).await.unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        get("/api/v1/units/not-a-number").await.unwrap().status(),
        404
    );
    let dong_tam_hist: Value = {
        let admin = s
            .create_api_token(&Actor::cli(), "admin", "t")
            .await
            .unwrap();
        let dt = s
            .search_units(&Scope::all(), "xa dong tam", 1)
            .await
            .unwrap()[0]
            .id;
        c.get(server.url(&format!("/api/v1/units/{dt}/history")))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    assert!(dong_tam_hist
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "merge" && e["effective_date"] == "2025-07-01"));

    let doc: Value = c
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for p in [
        "/units",
        "/units/{id}",
        "/units/{id}/children",
        "/units/{id}/history",
        "/teams/{id}",
        "/households/{id}",
        "/search",
        "/feedback/{id}",
        "/units/{id}/feedback-summary",
        "/announcements/{id}",
        "/announcements/{id}/reach",
        "/announcements/{id}/cap.xml",
        "/announcements/{id}/poster.pdf",
        "/announcements/{id}/leaflet.pdf",
        "/announcements/{id}/audio.wav",
        "/announcements/{id}/audio.ogg",
    ] {
        assert!(doc["paths"][p]["get"].is_object(), "{p} documented");
    }
    for p in ["/announcements", "/announcements/{id}/approve"] {
        assert!(doc["paths"][p]["post"].is_object(), "POST {p} documented");
    }
    assert!(
        doc["paths"]["/feedback"]["post"].is_object(),
        "POST /feedback documented"
    );
    // Every schema the paths refer to exists.
    let text = doc.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name}"
        );
    }
    server.stop();
    db.finish().await;
}
both!(api_answers_in_scope);
