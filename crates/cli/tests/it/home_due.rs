//! Issue 14: each role's home lists what is due for it. The test makes one
//! item of each kind due — a visit and an unreached household (an
//! announcement sent to the hamlet), a complaint of a team's household, a
//! resident with no birth year, an announcement waiting for approval, a
//! team without members, a household without a team — and finds each on
//! the homes it belongs to and on no other role's.

use danvan_store::feedback::NewFeedback;
use danvan_store::registry::team::NewTeam;
use danvan_store::{Scope, Viewer};

use crate::common::{api_send, api_token, login, Backend, PilotScene, PW};

async fn home(server: &crate::common::Server, username: &str) -> String {
    let (c, _) = login(server, username, PW).await;
    let res = c.get(server.url("/")).send().await.expect("home");
    assert_eq!(res.status(), 200, "home of {username}");
    res.text().await.expect("body")
}

/// The text of the list `key` on a home page, or `None` when it has none.
fn list<'a>(html: &'a str, key: &str) -> Option<&'a str> {
    let start = html.find(&format!("id=\"due-{key}\""))?;
    let rest = &html[start..];
    Some(&rest[..rest.find("</section>").unwrap_or(rest.len())])
}

fn count(html: &str, key: &str) -> Option<i64> {
    let start = html.find(&format!("id=\"count-{key}\""))?;
    let rest = &html[start..];
    let s = rest.find("<strong>")? + "<strong>".len();
    let e = rest[s..].find("</strong>")?;
    rest[s..s + e].trim().replace('.', "").parse().ok()
}

const ROLES: [&str; 5] = [
    "thanhvien.maihoang2",
    "totruong.maihoang1",
    "truongthon.maihoang",
    "xa.phucson",
    "tinh.bacninh",
];

async fn each_role_finds_what_is_due_on_its_home(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let mai_hoang = scene.mai_hoang;
    let member = store
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap();
    let team_id = member.team_id.unwrap();
    let households = store.team_households(&Scope::all(), team_id).await.unwrap();

    // An announcement from the commune to the hamlet, sent: households
    // without a phone are to be visited, and none is reached yet.
    let commune = api_token(store, "xa.phucson").await;
    let (s, a) = api_send(
        server,
        reqwest::Method::POST,
        &commune,
        "/api/v1/announcements",
        Some(serde_json::json!({
            "unit_id": scene.phuc_son.to_string(),
            "title": "Lịch tiêm chủng mở rộng tháng 12",
            "body": "Trạm y tế xã tiêm chủng cho trẻ dưới 5 tuổi vào sáng thứ Bảy.",
            "audience": {"units": [mai_hoang.to_string()]},
        })),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let id: i64 = a["id"].as_str().unwrap().parse().unwrap();
    store.plan_announcement(id).await.unwrap();

    // A complaint relayed for a household of the member's team.
    let h = &households[0];
    let relayed = store
        .submit_feedback(
            &member.actor(),
            &member.scope,
            &NewFeedback {
                topic: "environment".into(),
                severity: danvan_domain::feedback::Severity::Normal,
                channel: danvan_domain::feedback::Channel::Member,
                description: "Đèn đường trước ngõ bị hỏng ba hôm nay".into(),
                hamlet_id: mai_hoang,
                lat: None,
                lon: None,
                reporter_name: None,
                reporter_phone: None,
                anonymous: false,
                household_id: Some(h.id),
                resident_id: None,
                relay_method: Some(danvan_domain::feedback::RelayMethod::HomeVisit),
                identity_consent: false,
                submission_key: None,
                photos: Vec::new(),
            },
        )
        .await
        .unwrap();

    // An announcement by the team leader waits for the commune's approval.
    let leaders_team = store
        .principal_by_username("totruong.maihoang1")
        .await
        .unwrap()
        .team_id
        .unwrap();
    let leader = api_token(store, "totruong.maihoang1").await;
    let (s, pending) = api_send(
        server,
        reqwest::Method::POST,
        &leader,
        "/api/v1/announcements",
        Some(serde_json::json!({
            "unit_id": mai_hoang.to_string(),
            "title": "Họp tổ dân vận chiều thứ Năm",
            "body": "Mời các thành viên họp tại nhà văn hóa thôn lúc 15 giờ.",
            "audience": {"teams": [leaders_team.to_string()]},
        })),
    )
    .await;
    assert_eq!(
        (s, pending["state"].as_str()),
        (201, Some("pending")),
        "{pending}"
    );

    // A team with no members, and a household with no team.
    let officer = Viewer::of(&store.principal_by_username("xa.phucson").await.unwrap());
    store
        .add_team(
            &officer,
            &NewTeam {
                hamlet_id: mai_hoang,
                kind: danvan_domain::TeamKind::Team,
                parent_team_id: None,
                code: "MH-EMPTY".into(),
                name: "Tổ mới chưa có người".into(),
                target_size: None,
            },
        )
        .await
        .unwrap();
    let loose = &households[1];
    store
        .assign_households(&officer, mai_hoang, &[loose.id], None)
        .await
        .unwrap();

    let mut homes = std::collections::HashMap::new();
    for u in ROLES {
        homes.insert(u, home(server, u).await);
    }
    let field = [
        "thanhvien.maihoang2",
        "totruong.maihoang1",
        "truongthon.maihoang",
    ];
    for u in ROLES {
        let html = &homes[u];
        let on_field = field.contains(&u);
        // The field's lists: on the team's and the hamlet's homes only.
        for key in ["visits", "complaints", "unreached", "incomplete"] {
            assert_eq!(count(html, key).is_some(), on_field, "{key} on {u}'s home");
        }
        if on_field {
            // The member's team and the hamlet see it; another team's
            // leader does not.
            assert_eq!(
                list(html, "complaints").is_some_and(|l| l.contains(&relayed.code)),
                u != "totruong.maihoang1" || leaders_team == team_id,
                "the relayed complaint on {u}'s home"
            );
            assert!(
                list(html, "unreached").is_some(),
                "households not reached on {u}'s home"
            );
            assert!(count(html, "unreached").unwrap() > 0);
            assert!(
                count(html, "incomplete").unwrap() > 0,
                "residents missing data on {u}'s home"
            );
        }
        // The loudspeaker's next broadcast: the hamlet head's.
        assert_eq!(
            html.contains("id=\"next-broadcast\""),
            u == "truongthon.maihoang",
            "next broadcast on {u}'s home"
        );
        // The commune officer's lists.
        let office = u == "xa.phucson";
        assert_eq!(
            list(html, "announcements_waiting")
                .is_some_and(|l| l.contains("Họp tổ dân vận chiều thứ Năm")),
            office,
            "the waiting announcement on {u}'s home"
        );
        assert_eq!(
            list(html, "weak_teams").is_some_and(|l| l.contains("Tổ mới chưa có người")),
            office,
            "the team without members on {u}'s home"
        );
        assert_eq!(count(html, "without_team").is_some_and(|n| n >= 1), office);
        assert_eq!(
            count(html, "late").is_some(),
            office,
            "late list on {u}'s home"
        );
        // The province's communes side by side.
        assert_eq!(
            html.contains("id=\"communes\""),
            u == "tinh.bacninh",
            "communes on {u}'s home"
        );
    }
    // Visits: households of the hamlet without a phone, on the hamlet
    // head's home (the team's when one of its households has no phone).
    let head = &homes["truongthon.maihoang"];
    assert!(
        list(head, "visits").is_some_and(|l| l.contains("Lịch tiêm chủng mở rộng tháng 12")),
        "a visit to make on the hamlet head's home"
    );
    // Ticking the visit takes it off the list.
    let before = count(head, "visits").unwrap();
    let visit_household: i64 = {
        let l = list(head, "visits").unwrap();
        let at = l.find(&format!("/announcements/{id}#h")).unwrap()
            + format!("/announcements/{id}#h").len();
        l[at..].split('"').next().unwrap().parse().unwrap()
    };
    let hh = store
        .household(&Scope::all(), visit_household)
        .await
        .unwrap();
    let ticker = store
        .team_households(&Scope::all(), hh.team_id.unwrap_or(team_id))
        .await
        .unwrap();
    assert!(!ticker.is_empty());
    let member_of = store
        .accounts(&Viewer::cli(), 5000)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.team_id == hh.team_id)
        .map(|a| a.username);
    if let Some(name) = member_of {
        let v = Viewer::of(&store.principal_by_username(&name).await.unwrap());
        store.tick_visit(&v, id, visit_household).await.unwrap();
        let after = count(&home(server, "truongthon.maihoang").await, "visits").unwrap();
        assert_eq!(after, before - 1, "a visit ticked leaves the list");
    }
    scene.finish().await;
}
both!(each_role_finds_what_is_due_on_its_home);
