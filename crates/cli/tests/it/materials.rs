//! The library of materials from agencies through the JSON API and the
//! pages: an officer uploads a leaflet by topic and hands it out to the
//! teams of Mai Hoàng with printed copies, a team acknowledges it and
//! reports the copies it handed out; who sees what; bad files that change
//! nothing.

use danvan_store::{Scope, Store};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{api_send, api_token, count_rows, login, unit_id, Backend, Server, TestDb, PW};

/// A small PDF: enough for the library, which looks at the bytes.
pub fn leaflet_pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

async fn upload(
    server: &Server,
    token: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, Vec<u8>)>,
) -> (u16, Value) {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some((name, bytes)) = file {
        form = form.part("file", Part::bytes(bytes).file_name(name.to_string()));
    }
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/materials"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Form fields, the file, and what the refusal says.
type BadUpload<'a> = (Vec<(&'a str, &'a str)>, Option<(&'a str, Vec<u8>)>, &'a str);

async fn audit_actions(store: &Store, entity: &str) -> Vec<String> {
    store
        .audit_entries(&danvan_store::Viewer::cli(), None, 200)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.entity == entity)
        .map(|e| e.action)
        .collect()
}

async fn library_through_the_api(backend: Backend) {
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
    let officer = api_token(store, "xa.phucson").await;
    let fields = [
        ("unit_id", phuc_son.to_string()),
        ("title", "Tờ rơi phòng chống ma túy".to_string()),
        ("agency", "Công an xã Phúc Sơn".to_string()),
        ("topic", "security".to_string()),
        ("note", "Phát cho mọi hộ trước ngày 15.".to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Bad files and fields: a clear Vietnamese refusal, nothing written.
    let bad: Vec<BadUpload> = vec![
        (
            fields.clone(),
            Some(("chuong-trinh.exe", b"MZ\x90\x00\x03".to_vec())),
            "Chỉ nhận tệp PDF",
        ),
        (
            fields.clone(),
            Some(("to-roi.pdf", b"<html><script>".to_vec())),
            "không khớp",
        ),
        (
            fields.clone(),
            Some(("to-roi.pdf", Vec::new())),
            "Tệp trống",
        ),
        (fields.clone(), None, "Hãy chọn tệp"),
        (
            fields
                .iter()
                .map(|&(k, v)| if k == "title" { (k, "   ") } else { (k, v) })
                .collect(),
            Some(("to-roi.pdf", leaflet_pdf())),
            "Hãy ghi tên tài liệu",
        ),
        (
            fields
                .iter()
                .map(|&(k, v)| {
                    if k == "topic" {
                        (k, "crime_tip")
                    } else {
                        (k, v)
                    }
                })
                .collect(),
            Some(("to-roi.pdf", leaflet_pdf())),
            "Chủ đề này",
        ),
    ];
    for (f, file, says) in bad {
        let (s, body) = upload(&server, &officer, &f, file).await;
        assert_eq!(s, 422, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(says),
            "{body} should say {says}"
        );
    }
    // Larger than the 20 MB cap: 413, or the connection closed on the
    // sender while it still writes (the server stops reading at the cap).
    let mut huge = leaflet_pdf();
    huge.resize(21 * 1024 * 1024, b' ');
    let mut form = Form::new();
    for (k, v) in &fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let sent = reqwest::Client::new()
        .post(server.url("/api/v1/materials"))
        .bearer_auth(&officer)
        .multipart(form.part("file", Part::bytes(huge).file_name("lon.pdf")))
        .send()
        .await;
    match sent {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    // A team member does not upload.
    let member = api_token(store, "thanhvien.maihoang2").await;
    let (s, _) = upload(
        &server,
        &member,
        &fields,
        Some(("to-roi.pdf", leaflet_pdf())),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(count_rows(store, "materials").await, 0);
    assert_eq!(count_rows(store, "material_files").await, 0);

    // The officer uploads it.
    let (s, m) = upload(
        &server,
        &officer,
        &fields,
        Some(("C:\\tài liệu\\To roi \"ma tuy\".PDF", leaflet_pdf())),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["kind"], "pdf");
    assert_eq!(m["topic"], "security");
    assert_eq!(m["file_name"], "To roi ma tuy.pdf");
    assert_eq!(m["teams"], 0);
    let id = m["id"].as_str().unwrap().to_string();

    // Its file comes back as it went up, as a PDF to save.
    let r = reqwest::Client::new()
        .get(server.url(&format!("/api/v1/materials/{id}/file")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), leaflet_pdf());

    // By topic.
    let (_, l) = api_send(
        &server,
        Method::GET,
        &officer,
        "/api/v1/materials?topic=security",
        None,
    )
    .await;
    assert_eq!(l["materials"].as_array().unwrap().len(), 1);
    let (_, l) = api_send(
        &server,
        Method::GET,
        &officer,
        "/api/v1/materials?topic=environment",
        None,
    )
    .await;
    assert!(l["materials"].as_array().unwrap().is_empty());

    // Who sees it: the province above, not another commune, not a team
    // it was not handed out to.
    let province = api_token(store, "tinh.bacninh").await;
    let (s, _) = api_send(
        &server,
        Method::GET,
        &province,
        &format!("/api/v1/materials/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let other = api_token(store, "xa.yenthe").await;
    let (s, _) = api_send(
        &server,
        Method::GET,
        &other,
        &format!("/api/v1/materials/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (_, l) = api_send(&server, Method::GET, &other, "/api/v1/materials", None).await;
    assert!(l["materials"].as_array().unwrap().is_empty());
    let (s, _) = api_send(
        &server,
        Method::GET,
        &member,
        &format!("/api/v1/materials/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    // Another commune cannot hand out to its own teams a material it does not see.
    let (s, _) = api_send(
        &server,
        Method::POST,
        &other,
        &format!("/api/v1/materials/{id}/handouts"),
        Some(json!({"units": [phuc_son.to_string()], "copies": 1})),
    )
    .await;
    assert_eq!(s, 404);

    // Handed out to every team of Mai Hoàng, 40 printed copies each.
    let teams = store
        .teams_of_hamlet(&Scope::all(), mai_hoang)
        .await
        .unwrap();
    assert!(teams.len() >= 2);
    for (body, says) in [
        (
            json!({"units": [mai_hoang.to_string()], "copies": -1}),
            "Số bản in",
        ),
        (
            json!({"units": [mai_hoang.to_string()], "copies": 100001}),
            "Số bản in",
        ),
        (json!({"copies": 5}), "Hãy chọn tổ"),
    ] {
        let (s, e) = api_send(
            &server,
            Method::POST,
            &officer,
            &format!("/api/v1/materials/{id}/handouts"),
            Some(body),
        )
        .await;
        assert_eq!(s, 422, "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{e}"
        );
    }
    let (s, e) = api_send(
        &server,
        Method::POST,
        &officer,
        &format!("/api/v1/materials/{id}/handouts"),
        Some(json!({"units": ["abc"]})),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(count_rows(store, "material_handouts").await, 0);
    let (s, h) = api_send(
        &server,
        Method::POST,
        &officer,
        &format!("/api/v1/materials/{id}/handouts"),
        Some(json!({"units": [mai_hoang.to_string()], "copies": 40})),
    )
    .await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["handed_out_to"], teams.len());
    assert_eq!(h["teams"], teams.len());
    assert_eq!(h["copies"], 40 * teams.len() as i64);
    assert_eq!(h["received"], 0);
    // A second batch of prints for the first team adds up.
    let first = teams[0].id;
    let (s, h) = api_send(
        &server,
        Method::POST,
        &officer,
        &format!("/api/v1/materials/{id}/handouts"),
        Some(json!({"teams": [first.to_string()], "copies": 10})),
    )
    .await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["copies"], 40 * teams.len() as i64 + 10);

    // The team member now sees it, acknowledges it, reports copies.
    let (_, l) = api_send(&server, Method::GET, &member, "/api/v1/materials", None).await;
    assert_eq!(l["materials"].as_array().unwrap().len(), 1, "{l}");
    let (s, r) = api_send(
        &server,
        Method::POST,
        &member,
        &format!("/api/v1/materials/{id}/receipt"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["received"], 1);
    assert_eq!(r["teams"], 1, "a team sees its own handout only");
    let (s, _) = api_send(
        &server,
        Method::POST,
        &member,
        &format!("/api/v1/materials/{id}/receipt"),
        Some(json!({"copies_given": -3})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, r) = api_send(
        &server,
        Method::POST,
        &member,
        &format!("/api/v1/materials/{id}/receipt"),
        Some(json!({"copies_given": 31})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["copies_given"], 31);
    // An officer does not acknowledge for a team.
    let (s, _) = api_send(
        &server,
        Method::POST,
        &officer,
        &format!("/api/v1/materials/{id}/receipt"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 403);

    // The officer's figures: every team, one acknowledged, 31 given.
    let (_, m) = api_send(
        &server,
        Method::GET,
        &officer,
        &format!("/api/v1/materials/{id}"),
        None,
    )
    .await;
    assert_eq!(m["received"], 1);
    assert_eq!(m["copies_given"], 31);
    assert_eq!(m["handouts"].as_array().unwrap().len(), teams.len());

    // Every change is in the audit log.
    let actions = audit_actions(store, "material").await;
    for a in ["create", "hand_out", "receive", "copies_given"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    assert_eq!(count_rows(store, "materials").await, 1);

    // Taken out of the library: not by the team, not by the province's
    // neighbour; by the commune, and then nobody sees it.
    let path = format!("/api/v1/materials/{id}");
    let (s, _) = api_send(&server, Method::DELETE, &member, &path, None).await;
    assert_eq!(s, 403);
    let (s, _) = api_send(&server, Method::DELETE, &other, &path, None).await;
    assert_eq!(s, 404);
    let (s, _) = api_send(&server, Method::DELETE, &officer, &path, None).await;
    assert_eq!(s, 204);
    for t in [&officer, &province, &member] {
        let (s, _) = api_send(&server, Method::GET, t, &path, None).await;
        assert_eq!(s, 404);
        let (_, l) = api_send(&server, Method::GET, t, "/api/v1/materials", None).await;
        assert!(l["materials"].as_array().unwrap().is_empty(), "{l}");
    }
    let (s, _) = api_send(
        &server,
        Method::GET,
        &officer,
        &format!("{path}/file"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert!(audit_actions(store, "material")
        .await
        .iter()
        .any(|a| a == "remove"));
    assert_eq!(
        count_rows(store, "materials").await,
        1,
        "kept for the record"
    );
    server.stop();
    db.finish().await;
}
both!(library_through_the_api);

/// The pages without a browser: a refused upload comes back in the form
/// in Vietnamese; the team's buttons need the CSRF token.
async fn library_pages_refuse_bad_input(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = &db.store;
    let server = Server::start(store).await;
    let (c, csrf) = login(&server, "xa.phucson", PW).await;
    let post = |form: Form| c.post(server.url("/materials/new")).multipart(form).send();
    let form = Form::new()
        .text("csrf", csrf.clone())
        .text("title", "Hướng dẫn phân loại rác")
        .text("agency", "Phòng Tài nguyên và Môi trường")
        .text("topic", "environment")
        .part(
            "file",
            Part::bytes(b"GIF89a....".to_vec()).file_name("anh.gif"),
        );
    let r = post(form).await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Chỉ nhận tệp PDF"), "{html}");
    assert!(
        html.contains("Hướng dẫn phân loại rác"),
        "the form keeps what was typed"
    );
    // Without the CSRF token: refused, nothing written.
    let form = Form::new()
        .text("csrf", "forged")
        .text("title", "Hướng dẫn phân loại rác")
        .text("agency", "Phòng TN-MT")
        .part("file", Part::bytes(leaflet_pdf()).file_name("a.pdf"));
    let r = post(form).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(count_rows(store, "materials").await, 0);
    // A team member has no upload form.
    let (m, _) = login(&server, "thanhvien.maihoang2", PW).await;
    let r = m.get(server.url("/materials/new")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    server.stop();
    db.finish().await;
}
both!(library_pages_refuse_bad_input);
