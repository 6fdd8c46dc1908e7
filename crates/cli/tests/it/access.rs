//! Scoping, sessions, CSRF, the login limiter and the audit log.

use danvan_store::{Scope, Store};

use crate::common::{client, input_value, login, unit_id, Backend, Server, TestDb, PW};

/// A household of Mai Hoàng's team 1 and one of team 3, and one of Yên Thế.
async fn households(s: &Store) -> (i64, i64, i64) {
    let p = s.principal_by_username("totruong.maihoang1").await.unwrap();
    let own = s
        .team_households(&danvan_store::Scope::all(), p.team_id.unwrap())
        .await
        .unwrap()[0]
        .id;
    let mai_hoang = unit_id(s, "mai hoang").await;
    let teams = s.teams_of_hamlet(&Scope::all(), mai_hoang).await.unwrap();
    let member_team = s
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap()
        .team_id;
    let other_team = teams
        .iter()
        .find(|t| Some(t.id) != p.team_id && Some(t.id) != member_team)
        .unwrap();
    let other = s
        .team_households(&danvan_store::Scope::all(), other_team.id)
        .await
        .unwrap()[0]
        .id;
    let yen_the = s.search_units(&Scope::all(), "hong lac", 1).await.unwrap()[0]
        .path
        .clone();
    let far = s
        .search(&Scope::unit(&yen_the), "tran", 5)
        .await
        .unwrap()
        .residents[0]
        .household_id;
    (own, other, far)
}

async fn another_teams_household_is_404(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let (own, other, far) = households(s).await;

    // In the store…
    let leader = s.principal_by_username("totruong.maihoang1").await.unwrap();
    assert!(s.household(&leader.scope, own).await.is_ok());
    assert!(matches!(
        s.household(&leader.scope, other).await,
        Err(danvan_store::StoreError::NotFound)
    ));
    let officer = s.principal_by_username("xa.phucson").await.unwrap();
    assert!(s.household(&officer.scope, other).await.is_ok());
    assert!(
        s.household(&officer.scope, far).await.is_err(),
        "Phúc Sơn's officer cannot read Yên Thế"
    );
    // Search is scoped too.
    let hits = s.search(&leader.scope, "nguyen", 200).await.unwrap();
    assert!(!hits.residents.is_empty());
    for h in &hits.residents {
        assert!(
            s.household(&leader.scope, h.household_id).await.is_ok(),
            "a search hit outside the team"
        );
    }

    // …and over HTTP, pages and API alike, exactly like a missing id.
    let server = Server::start(s).await;
    let (c, _) = login(&server, "totruong.maihoang1", PW).await;
    assert_eq!(
        c.get(server.url(&format!("/households/{own}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = c
        .get(server.url(&format!("/households/{other}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Không tìm thấy"));
    assert_eq!(
        c.get(server.url("/households/999999999"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(server.url(&format!("/api/v1/households/{other}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(server.url(&format!("/api/v1/households/{own}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (c2, _) = login(&server, "xa.phucson", PW).await;
    assert_eq!(
        c2.get(server.url(&format!("/households/{far}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c2.get(server.url(&format!("/households/{other}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Not logged in: to the login page.
    let res = client()
        .get(server.url(&format!("/households/{own}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?next="));
    server.stop();
    db.finish().await;
}
both!(another_teams_household_is_404);

async fn forms_need_their_csrf_token(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let (own, _, _) = households(s).await;
    let resident = s.residents(&danvan_store::Scope::all(), own).await.unwrap()[0].clone();
    let server = Server::start(s).await;

    // Login without the token (or with another one) is refused.
    let c = client();
    let res = c
        .post(server.url("/login"))
        .form(&[("login", "admin"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = c
        .post(server.url("/login"))
        .form(&[
            ("csrf", "0".repeat(64).as_str()),
            ("login", "admin"),
            ("password", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let (c, csrf) = login(&server, "totruong.maihoang1", PW).await;
    let url = server.url(&format!("/residents/{}/edit", resident.id));
    let form = |token: &str| {
        vec![
            ("csrf", token.to_string()),
            ("full_name", "Tên Đã Đổi".to_string()),
            ("relation", "Chủ hộ".to_string()),
        ]
    };
    let res = c.post(&url).form(&form("")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Biểu mẫu đã hết hạn"));
    let res = c
        .post(&url)
        .form(&form(&"f".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        s.residents(&danvan_store::Scope::all(), own).await.unwrap()[0].full_name(),
        resident.full_name(),
        "nothing changed"
    );
    // Another session's token does not do either.
    let (_, other_csrf) = login(&server, "totruong.maihoang1", PW).await;
    assert_eq!(
        c.post(&url)
            .form(&form(&other_csrf))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // With its own token it saves.
    let res = c.post(&url).form(&form(&csrf)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        s.residents(&danvan_store::Scope::all(), own).await.unwrap()[0].full_name(),
        "Tên Đã Đổi"
    );
    // Logout is a form too.
    assert_eq!(
        c.post(server.url("/logout"))
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    server.stop();
    db.finish().await;
}
both!(forms_need_their_csrf_token);

async fn sessions_logins_and_passwords(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    // Wrong password: a clear message, no session.
    let c = client();
    let page = c
        .get(server.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&page, "csrf").unwrap();
    let res = c
        .post(server.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "xa.phucson"),
            ("password", "sai-mat-khau"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Tên đăng nhập hoặc mật khẩu không đúng"));
    // Failures slow the account down: see trust::item4_*.

    // A session survives a restart of the server (it lives in the database).
    let (c, csrf) = login(&server, "truongthon.maihoang", PW).await;
    server.stop();
    let reopened = Store::connect(&db.url).await.unwrap();
    let server = Server::start(&reopened).await;
    assert_eq!(c.get(server.url("/")).send().await.unwrap().status(), 200);

    // Password change: wrong current password refused; then the new one works.
    let res = c
        .post(server.url("/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", "sai"),
            ("new", "mat-khau-moi-123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = c
        .post(server.url("/account/password"))
        .form(&[("csrf", csrf.as_str()), ("current", PW), ("new", "ngan")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "too short");
    let res = c
        .post(server.url("/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", PW),
            ("new", "mat-khau-moi-123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, _) = login(&server, "truongthon.maihoang", "mat-khau-moi-123").await;
    // Logout ends the session.
    c.post(server.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(c.get(server.url("/")).send().await.unwrap().status(), 303);
    server.stop();
    reopened.close().await;
    db.finish().await;
}
both!(sessions_logins_and_passwords);

async fn audit_log_records_changes_and_exports(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let (own, _, _) = households(s).await;
    let server = Server::start(s).await;
    let resident = s.residents(&danvan_store::Scope::all(), own).await.unwrap()[0].clone();
    let (c, csrf) = login(&server, "xa.phucson", PW).await;
    let res = c
        .post(server.url(&format!("/residents/{}/edit", resident.id)))
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", "Nguyễn Văn Sửa"),
            ("relation", "Chủ hộ"),
            ("citizen_id", "024085009876"),
            ("phone", "0912 000 111"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let phuc_son = unit_id(s, "xa phuc son").await;
    // A link (GET) starts no export; a form without its token neither
    // (issue 13, item 11): a cross-site page cannot export in one's name.
    let res = c
        .get(server.url(&format!("/export?unit={phuc_son}&format=csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let unit = phuc_son.to_string();
    let res = c
        .post(server.url("/export"))
        .form(&[
            ("csrf", "forged"),
            ("unit", unit.as_str()),
            ("format", "csv"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A bad unit: a page in Vietnamese, nothing exported.
    let res = c
        .post(server.url("/export"))
        .form(&[("csrf", csrf.as_str()), ("unit", "abc"), ("format", "csv")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Hãy chọn đơn vị cần xuất"));
    let exports = |entries: &[danvan_store::audit::AuditEntry]| {
        entries.iter().filter(|e| e.action == "export").count()
    };
    let before = s
        .audit_entries(&danvan_store::Viewer::cli(), None, 1000)
        .await
        .unwrap();
    assert_eq!(exports(&before), 0, "nothing exported yet");
    let res = c
        .post(server.url("/export"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("unit", unit.as_str()),
            ("format", "csv"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = res.text().await.unwrap();
    assert!(body.contains("Mã hộ"));
    assert!(!body.contains("024085009876"), "citizen ids leave masked");
    assert!(body.contains("********9876"));

    let entries = s
        .audit_entries(&danvan_store::Viewer::cli(), None, 1000)
        .await
        .unwrap();
    let update = entries
        .iter()
        .find(|e| e.action == "update" && e.entity == "resident")
        .expect("the edit is audited");
    assert_eq!(update.entity_id, resident.id.to_string());
    assert_eq!(update.actor, "xa.phucson");
    let export = entries
        .iter()
        .find(|e| e.action == "export")
        .expect("the export is audited");
    assert_eq!(export.entity_id, phuc_son.to_string());
    for e in &entries {
        assert!(
            !e.detail.contains("024085009876")
                && !e.detail.contains("Sửa")
                && !e.detail.contains("912000111"),
            "no personal data in the audit log"
        );
    }
    // The officer sees it on the audit page; a team leader may not open it.
    let page = c
        .get(server.url("/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("export") && page.contains("xa.phucson"));
    let (leader, _) = login(&server, "totruong.maihoang1", PW).await;
    assert_eq!(
        leader
            .get(server.url("/audit"))
            .send()
            .await
            .unwrap()
            .status(),
        403,
        "the policy refuses the role the audit log"
    );
    server.stop();
    db.finish().await;
}
both!(audit_log_records_changes_and_exports);

async fn expired_sessions_end(b: Backend) {
    let db = TestDb::demo(b).await;
    let start = chrono::Utc::now();
    let clock = std::sync::Arc::new(danvan_store::FixedClock::new(start));
    let s = Store::connect_with_clock(&db.url, clock.clone())
        .await
        .unwrap();
    let p = s.principal_by_username("xa.phucson").await.unwrap();
    let (token, _) = s.create_session(p.account_id).await.unwrap();
    assert!(s.session(&token).await.unwrap().is_some());
    clock.advance(chrono::Duration::days(13));
    assert!(
        s.session(&token).await.unwrap().is_some(),
        "still valid within two weeks"
    );
    clock.advance(chrono::Duration::days(2));
    assert!(
        s.session(&token).await.unwrap().is_none(),
        "expired after two weeks"
    );
    // An expired session on a page sends the person to log in again.
    let server = Server::start(&s).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = c
        .get(server.url("/"))
        .header("cookie", format!("dv_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    server.stop();
    s.close().await;
    db.finish().await;
}
both!(expired_sessions_end);

async fn officials_close_coverage_gaps(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let phuc_son = s
        .unit(&Scope::all(), unit_id(s, "xa phuc son").await)
        .await
        .unwrap();
    let gap = s
        .unassigned_households(&Scope::all(), &phuc_son.path, 0, 10)
        .await
        .unwrap();
    assert!(!gap.is_empty());
    let h = &gap[0];
    let teams = s.teams_of_hamlet(&Scope::all(), h.hamlet_id).await.unwrap();
    let mai_hoang_team = s
        .principal_by_username("totruong.maihoang1")
        .await
        .unwrap()
        .team_id
        .unwrap();
    let before = s
        .counts(&phuc_son.path)
        .await
        .unwrap()
        .unassigned_households;
    let server = Server::start(s).await;
    let (c, csrf) = login(&server, "xa.phucson", PW).await;
    let url = server.url(&format!("/households/{}/team", h.id));
    let page = c
        .get(server.url(&format!("/households/{}", h.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("name=\"team\""),
        "the officer sees the team form"
    );
    let head = page.split("</title>").next().unwrap();
    assert!(
        !head.contains("<form"),
        "the form is in the page, not in its title"
    );
    assert_eq!(
        page.matches("action=\"/households/").count(),
        1,
        "one team form"
    );
    // Without the token, or with a team of another hamlet: refused, nothing changes.
    assert_eq!(
        c.post(&url)
            .form(&[("team", teams[0].id.to_string())])
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let res = c
        .post(&url)
        .form(&[("csrf", csrf.clone()), ("team", mai_hoang_team.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        s.counts(&phuc_son.path)
            .await
            .unwrap()
            .unassigned_households,
        before
    );
    // With a team of its own hamlet: done, counted, audited.
    let res = c
        .post(&url)
        .form(&[("csrf", csrf.clone()), ("team", teams[0].id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        s.household(&Scope::all(), h.id).await.unwrap().team_id,
        Some(teams[0].id)
    );
    assert_eq!(
        s.counts(&phuc_son.path)
            .await
            .unwrap()
            .unassigned_households,
        before - 1
    );
    assert!(s
        .audit_entries(&danvan_store::Viewer::cli(), None, 100)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "assign_team" && e.entity_id == h.id.to_string()));
    // A team leader may not reassign.
    let (leader, lcsrf) = login(&server, "totruong.maihoang1", PW).await;
    let own = s
        .team_households(&danvan_store::Scope::all(), mai_hoang_team)
        .await
        .unwrap()[0]
        .id;
    let res = leader
        .post(server.url(&format!("/households/{own}/team")))
        .form(&[("csrf", lcsrf), ("team", String::new())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        s.household(&Scope::all(), own).await.unwrap().team_id,
        Some(mai_hoang_team)
    );
    server.stop();
    db.finish().await;
}
both!(officials_close_coverage_gaps);
