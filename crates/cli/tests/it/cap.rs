//! Urgent and emergency announcements as CAP 1.2 alerts: each document is
//! validated with xmllint against the official OASIS schema
//! (`tests/fixtures/CAP-v1.2.xsd`), and the Atom feed lists exactly the
//! active alerts.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{api_token as token, Backend, PilotScene, Server};

const CAP_NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/CAP-v1.2.xsd")
}

/// Validates `doc` against the CAP 1.2 schema; `Err` with xmllint's words.
fn validate(doc: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("alert.xml");
    std::fs::write(&file, doc).expect("write alert");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema())
        .arg(&file)
        .output()
        .expect("xmllint (Debian package libxml2-utils; run scripts/setup)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Writes an announcement as the commune's leader; returns its id.
async fn write(server: &Server, token: &str, body: Value) -> i64 {
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/announcements"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    let a: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["state"], "planned", "{a}");
    a["id"].as_str().unwrap().parse().unwrap()
}

/// GET with an optional bearer token: (status, content type, body).
async fn fetch(server: &Server, token: Option<&str>, path: &str) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("get");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().await.unwrap_or_default())
}

fn child_text<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|n| n.has_tag_name((CAP_NS, name)))
        .and_then(|n| n.text())
}

async fn alerts(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    // The demo's Phúc Sơn has no code; give it one to see its geocode.
    danvan_store::on_db!(&store.db, |p| sqlx::query(
        "UPDATE units SET code = '07222', code_kind = 'official' WHERE id = $1"
    )
    .bind(phuc_son)
    .execute(p)
    .await
    .map(|_| ())
    .expect("code"));
    let leader = token(store, "xa.phucson").await;
    let announce = |title: &str, urgency: &str, topic: &str, unit: i64| {
        json!({
            "unit_id": phuc_son.to_string(),
            "title": title,
            "body": "Nước sông Thương lên nhanh. Các hộ ven đê di chuyển người & tài sản lên chỗ cao; <không> chủ quan.",
            "urgency": urgency,
            "topic": topic,
            "audience": {"units": [unit.to_string()]},
        })
    };
    let emergency = write(
        server,
        &leader,
        announce(
            "Lũ quét & sạt lở đất",
            "emergency",
            "environment",
            mai_hoang,
        ),
    )
    .await;
    let urgent = write(
        server,
        &leader,
        announce("Phun thuốc diệt muỗi", "urgent", "epidemic", phuc_son),
    )
    .await;
    let normal = write(
        server,
        &leader,
        announce("Họp thôn", "normal", "", mai_hoang),
    )
    .await;
    let expired = write(
        server,
        &leader,
        announce("Cắt điện", "urgent", "", mai_hoang),
    )
    .await;
    danvan_store::on_db!(&store.db, |p| sqlx::query(
        "UPDATE announcements SET expires_at = $2 WHERE id = $1"
    )
    .bind(expired)
    .bind(store.now() - 1)
    .execute(p)
    .await
    .map(|_| ())
    .expect("expire"));

    // The emergency through the API: a valid CAP 1.2 alert.
    let (status, ct, doc) = fetch(
        server,
        Some(&leader),
        &format!("/api/v1/announcements/{emergency}/cap.xml"),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert!(ct.starts_with("application/cap+xml"), "{ct}");
    validate(&doc).unwrap_or_else(|e| panic!("invalid CAP: {e}\n{doc}"));
    let xml = roxmltree::Document::parse(&doc).expect("xml");
    let alert = xml.root_element();
    assert!(alert.has_tag_name((CAP_NS, "alert")));
    let identifier = child_text(alert, "identifier").unwrap();
    assert!(
        !identifier.contains([' ', ',', '<', '&']),
        "CAP forbids these in an identifier: {identifier}"
    );
    assert!(identifier.contains(&emergency.to_string()));
    let sent = child_text(alert, "sent").unwrap();
    assert!(
        sent.ends_with("+07:00") && !sent.contains('.') && sent.len() == 25,
        "{sent}"
    );
    assert_eq!(child_text(alert, "status"), Some("Actual"));
    let info = alert
        .children()
        .find(|n| n.has_tag_name((CAP_NS, "info")))
        .unwrap();
    assert_eq!(child_text(info, "language"), Some("vi-VN"));
    assert_eq!(child_text(info, "category"), Some("Env"));
    assert_eq!(child_text(info, "urgency"), Some("Immediate"));
    assert_eq!(child_text(info, "severity"), Some("Severe"));
    assert_eq!(child_text(info, "event"), Some("Lũ quét & sạt lở đất"));
    assert_eq!(child_text(info, "senderName"), Some("Xã Phúc Sơn"));
    assert!(child_text(info, "description")
        .unwrap()
        .contains("người & tài sản"));
    let areas: Vec<_> = info
        .children()
        .filter(|n| n.has_tag_name((CAP_NS, "area")))
        .collect();
    assert_eq!(areas.len(), 1);
    let desc = child_text(areas[0], "areaDesc").unwrap();
    assert!(desc.starts_with("Thôn Mai Hoàng, Xã Phúc Sơn"), "{desc}");
    // A hamlet without a code of its own: no geocode (the commune's would
    // widen the area to the whole commune).
    assert!(!areas[0]
        .children()
        .any(|n| n.has_tag_name((CAP_NS, "geocode"))));

    // The validator does reject a broken alert.
    let broken = doc.replace("<urgency>Immediate<", "<urgency>Now<");
    assert_ne!(broken, doc);
    assert!(validate(&broken).is_err(), "xmllint accepted a bad urgency");
    let broken = doc.replace(sent, &sent.replace("+07:00", ".5+07:00"));
    assert!(
        validate(&broken).is_err(),
        "xmllint accepted fractional seconds"
    );

    // The urgent one, for the whole commune: its code as a geocode.
    let (status, _, doc) = fetch(
        server,
        Some(&leader),
        &format!("/api/v1/announcements/{urgent}/cap.xml"),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    validate(&doc).unwrap_or_else(|e| panic!("invalid CAP: {e}\n{doc}"));
    let xml = roxmltree::Document::parse(&doc).expect("xml");
    let info = xml
        .root_element()
        .children()
        .find(|n| n.has_tag_name((CAP_NS, "info")))
        .unwrap();
    assert_eq!(child_text(info, "category"), Some("Health"));
    assert_eq!(child_text(info, "urgency"), Some("Expected"));
    assert_eq!(child_text(info, "severity"), Some("Moderate"));
    let area = info
        .children()
        .find(|n| n.has_tag_name((CAP_NS, "area")))
        .unwrap();
    assert!(child_text(area, "areaDesc")
        .unwrap()
        .starts_with("Xã Phúc Sơn"));
    let geocode = area
        .children()
        .find(|n| n.has_tag_name((CAP_NS, "geocode")))
        .expect("geocode");
    assert_eq!(child_text(geocode, "valueName"), Some("VN-DVHC"));
    assert_eq!(child_text(geocode, "value"), Some("07222"));

    // A normal announcement is no alert: the API's error, in Vietnamese.
    let (status, _, body) = fetch(
        server,
        Some(&leader),
        &format!("/api/v1/announcements/{normal}/cap.xml"),
    )
    .await;
    assert_eq!(status, 404);
    let err: Value = serde_json::from_str(&body).expect("json error");
    assert_eq!(err["error"]["code"], "not_an_alert");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("khẩn cấp"));
    // Without a token: no alert of any kind.
    let (status, _, _) = fetch(
        server,
        None,
        &format!("/api/v1/announcements/{emergency}/cap.xml"),
    )
    .await;
    assert_eq!(status, 401);
    // Out of the caller's part of the tree: missing.
    let other = token(store, "xa.yenthe").await;
    let (status, _, _) = fetch(
        server,
        Some(&other),
        &format!("/api/v1/announcements/{emergency}/cap.xml"),
    )
    .await;
    assert_eq!(status, 404);

    // The public feed: the two active alerts, newest first, linking to
    // their CAP documents; not the normal one, not the expired one.
    let (status, ct, feed) = fetch(server, None, "/cap/v1/alerts.atom").await;
    assert_eq!(status, 200, "{feed}");
    assert!(ct.starts_with("application/atom+xml"), "{ct}");
    let xml = roxmltree::Document::parse(&feed).expect("atom");
    let root = xml.root_element();
    assert!(root.has_tag_name((ATOM_NS, "feed")));
    for name in ["id", "title", "updated"] {
        assert!(
            root.children().any(|n| n.has_tag_name((ATOM_NS, name))),
            "feed without {name}"
        );
    }
    let entries: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name((ATOM_NS, "entry")))
        .collect();
    let mut links = Vec::new();
    for e in &entries {
        for name in ["id", "title", "updated"] {
            assert!(
                e.children().any(|n| n.has_tag_name((ATOM_NS, name))),
                "entry without {name}"
            );
        }
        let link = e
            .children()
            .find(|n| {
                n.has_tag_name((ATOM_NS, "link"))
                    && n.attribute("type") == Some("application/cap+xml")
            })
            .expect("a link to the CAP document");
        links.push(link.attribute("href").unwrap().to_string());
    }
    let ends = |id: i64| format!("/cap/v1/alerts/{id}.xml");
    assert_eq!(links.len(), 2, "{feed}");
    assert!(links[0].ends_with(&ends(urgent)), "newest first: {links:?}");
    assert!(links[1].ends_with(&ends(emergency)), "{links:?}");
    assert!(feed.contains("Lũ quét &amp; sạt lở đất"));

    // Each link answers with the same valid alert, to anyone.
    for href in &links {
        let path = &href[href.find("/cap/v1/").unwrap()..];
        let (status, ct, doc) = fetch(server, None, path).await;
        assert_eq!(status, 200, "{href}: {doc}");
        assert!(ct.starts_with("application/cap+xml"), "{ct}");
        validate(&doc).unwrap_or_else(|e| panic!("invalid CAP at {href}: {e}\n{doc}"));
    }
    // Not an active public alert: missing.
    for id in [normal, expired] {
        let (status, _, _) = fetch(server, None, &ends(id)).await;
        assert_eq!(status, 404, "alert {id}");
    }
    let (status, _, _) = fetch(server, None, "/cap/v1/alerts/abc.xml").await;
    assert_eq!(status, 404);

    // Withdrawn: the public alert becomes its cancellation, valid CAP that
    // references the alert, and the feed says so until it would expire.
    let (_, _, before) = fetch(server, None, &ends(urgent)).await;
    let before = roxmltree::Document::parse(&before).unwrap();
    let (orig_id, orig_sent, orig_sender) = {
        let root = before.root_element();
        (
            child_text(root, "identifier").unwrap().to_string(),
            child_text(root, "sent").unwrap().to_string(),
            child_text(root, "sender").unwrap().to_string(),
        )
    };
    let (status, w) = crate::common::api_send(
        server,
        reqwest::Method::POST,
        &leader,
        &format!("/api/v1/announcements/{urgent}/withdraw"),
        Some(json!({"reason": "Nhầm địa bàn & thời gian"})),
    )
    .await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["state"], "cancelled");
    let (status, ct, doc) = fetch(server, None, &ends(urgent)).await;
    assert_eq!(status, 200, "{doc}");
    assert!(ct.starts_with("application/cap+xml"));
    validate(&doc).unwrap_or_else(|e| panic!("invalid CAP Cancel: {e}\n{doc}"));
    let cancel = roxmltree::Document::parse(&doc).unwrap();
    let root = cancel.root_element();
    assert_eq!(child_text(root, "msgType"), Some("Cancel"));
    assert_eq!(child_text(root, "status"), Some("Actual"));
    assert_ne!(child_text(root, "identifier"), Some(orig_id.as_str()));
    assert_eq!(
        child_text(root, "references"),
        Some(format!("{orig_sender},{orig_id},{orig_sent}").as_str())
    );
    assert!(child_text(root, "note")
        .unwrap()
        .contains("Nhầm địa bàn & thời gian"));
    let (_, _, feed) = fetch(server, None, "/cap/v1/alerts.atom").await;
    assert!(feed.contains("Thu hồi: "), "{feed}");
    // The bearer's CAP is the same cancellation.
    let (status, _, doc) = fetch(
        server,
        Some(&leader),
        &format!("/api/v1/announcements/{urgent}/cap.xml"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(doc.contains("<msgType>Cancel</msgType>"));

    scene.finish().await;
}
both!(alerts);
