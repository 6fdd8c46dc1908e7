//! Pages: language, weight, bad input and hostile fields.

use danvan_store::Scope;

use crate::common::{client, login, unit_id, Backend, Server, TestDb, PW};

async fn pages_are_vietnamese_light_and_safe(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    // The first page: Vietnamese, security headers, and light (HTML + CSS).
    let c = client();
    let res = c.get(server.url("/login")).send().await.unwrap();
    let headers = res.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"vi\">") && html.contains("Đăng nhập"));
    let css = c
        .get(server.url("/static/app.css"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        html.len() + css.len() < 100 * 1024,
        "first load {} bytes",
        html.len() + css.len()
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no asset from elsewhere"
    );

    let (c, csrf) = login(&server, "xa.phucson", PW).await;
    let phuc_son = unit_id(s, "xa phuc son").await;
    let page = c
        .get(server.url(&format!("/units/{phuc_son}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Thôn Mai Hoàng") && page.contains("Hộ chưa có tổ phụ trách"));
    assert!(page.len() < 100 * 1024);
    // English on request, kept in a cookie.
    let res = c
        .get(server.url(&format!("/lang?set=en&next=/units/{phuc_son}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = c
        .get(server.url(&format!("/units/{phuc_son}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"en\">") && page.contains("Households without a team"));
    let res = c
        .get(server.url("/households/987654321"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("was not found"));
    c.get(server.url("/lang?set=vi&next=/"))
        .send()
        .await
        .unwrap();

    // The team page lists households with what each can receive.
    let mai_hoang = unit_id(s, "mai hoang").await;
    let team = s.teams_of_hamlet(&Scope::all(), mai_hoang).await.unwrap()[0].id;
    let page = c
        .get(server.url(&format!("/teams/{team}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("class=\"reach smart\"") && page.contains("class=\"reach basic\""));
    // The history page shows the 2025 merge.
    let yen_the = s
        .search_units(&Scope::all(), "xa yen the", 5)
        .await
        .unwrap()[0]
        .id;
    let officer_yt = login(&server, "xa.yenthe", PW).await.0;
    let page = officer_yt
        .get(server.url(&format!("/units/{yen_the}/history")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Sáp nhập") && page.contains("01/07/2025") && page.contains("Xã Đồng Tâm"),
        "{page}"
    );

    // Hostile fields: a 10,000-character name and HTML are refused or escaped, never stored raw.
    let hh = s
        .search(&Scope::all(), "nguyen van an", 1)
        .await
        .unwrap()
        .residents[0]
        .clone();
    let url = server.url(&format!("/residents/{}/edit", hh.id));
    let long = "A".repeat(10_000);
    let res = c
        .post(&url)
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", long.as_str()),
            ("relation", "Chủ hộ"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Dài quá"));
    let res = c
        .post(&url)
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", "Nguyễn Văn An"),
            ("relation", "Chủ hộ"),
            ("citizen_id", "12345"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = c
        .post(&url)
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", "Nguyễn Văn An"),
            ("relation", "Chủ hộ"),
            ("phone", "+1 202 555 0100"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        s.residents(&danvan_store::Scope::all(), hh.household_id)
            .await
            .unwrap()
            .iter()
            .find(|r| r.id == hh.id)
            .unwrap()
            .full_name(),
        "Nguyễn Văn An"
    );
    let res = c
        .post(&url)
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", "<script>alert(1)</script> An"),
            ("relation", "Chủ hộ"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = c
        .get(server.url(&format!("/households/{}", hh.household_id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert(1)</script>") && page.contains("&#60;script&#62;"));
    // The citizen id is masked on the household page, whole only on its edit form.
    let edit = c.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(edit.contains("name=\"citizen_id\""));
    server.stop();
    db.finish().await;
}
both!(pages_are_vietnamese_light_and_safe);

async fn uploads_with_bad_files_change_nothing(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let (c, csrf) = login(&server, "xa.phucson", PW).await;
    let phuc_son = unit_id(s, "xa phuc son").await;
    let path = s.unit(&Scope::all(), phuc_son).await.unwrap().path;
    let before = s.counts(&path).await.unwrap();
    let upload = |bytes: Vec<u8>, name: &str, token: &str| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", token.to_string())
            .text("unit", phuc_son.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
            );
        c.post(server.url("/import")).multipart(form).send()
    };
    // Not a spreadsheet, wrong encoding, empty.
    let res = upload(b"\x7fELF\x02\x01\x01\x00binary".to_vec(), "x.csv", &csrf)
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = upload(b"M\xe3 h\xf4,H\xf4\n".to_vec(), "x.csv", &csrf)
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("UTF-8"));
    let res = upload(Vec::new(), "x.csv", &csrf).await.unwrap();
    assert_eq!(res.status(), 400);
    // Without the CSRF token.
    let ok = std::fs::read(crate::import::file(2, &[]).path()).unwrap();
    assert_eq!(upload(ok.clone(), "x.csv", "").await.unwrap().status(), 403);
    // Over the size limit.
    let huge = vec![b'a'; danvan_web::MAX_UPLOAD_BYTES + 1024];
    let res = upload(huge, "x.csv", &csrf).await.unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(s.counts(&path).await.unwrap(), before, "nothing changed");
    // And a good one goes in.
    let res = upload(ok, "x.csv", &csrf).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Đã nhập xong"));
    assert_eq!(
        s.counts(&path).await.unwrap().households,
        before.households + 2
    );
    server.stop();
    db.finish().await;
}
both!(uploads_with_bad_files_change_nothing);

async fn every_role_has_a_home(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    for (username, role, place) in danvan::demo::account_list() {
        let (c, _) = login(&server, username, PW).await;
        let res = c.get(server.url("/")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{username}");
        let page = res.text().await.unwrap();
        let label = danvan_domain::Role::parse(role).unwrap().label_vi();
        assert!(page.contains(label), "{username}: role shown");
        assert!(
            page.contains(place) || role == "admin",
            "{username}: {place} shown"
        );
        assert_eq!(
            c.get(server.url("/units")).send().await.unwrap().status(),
            200,
            "{username}: unit tree"
        );
    }
    // Login by phone number, in any usual spelling.
    let hamlet = unit_id(s, "mai hoang").await;
    let account = danvan_store::registry::account::NewAccount {
        username: "truongthon.phone".into(),
        display_name: "Trưởng thôn".into(),
        phone: Some(danvan_domain::Phone::parse("0912 345 678").unwrap()),
        password: "mat-khau-dien-thoai".into(),
        role: danvan_domain::Role::HamletHead,
        unit_id: Some(hamlet),
        team_id: None,
    };
    s.create_account(&danvan_store::Actor::cli(), &account)
        .await
        .unwrap();
    login(&server, "+84912345678", "mat-khau-dien-thoai").await;
    login(&server, "0912.345.678", "mat-khau-dien-thoai").await;
    server.stop();
    db.finish().await;
}
both!(every_role_has_a_home);
