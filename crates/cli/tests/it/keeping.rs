//! Issue 14: a commune runs its registry from the browser. In headless
//! Chromium a commune officer creates a team in a hamlet, adds its five
//! members, moves 40 households into it on the roster, creates an account
//! for its leader; the leader sets a password with the one-time code,
//! logs in and sees their 40 households. Then the forms' refusals: a role
//! that may not keep teams is refused by the store, and a unit change
//! lands in the unit's history with its legal basis.

use chrono::NaiveDate;
use danvan_domain::problem::Problem;
use danvan_domain::Role;
use danvan_store::registry::account::NewAccountFor;
use danvan_store::registry::team::NewTeam;
use danvan_store::registry::unit::{NewEvent, UnitChange};
use danvan_store::{Scope, StoreError, Viewer};

use crate::browser::Browser;
use crate::common::{count_rows, Backend, PilotScene};

const TEAM_NAME: &str = "Tổ dân vận số 9 Mai Hoàng";
const NEW_PASSWORD: &str = "Hoa-sen-no-2026!";

async fn a_commune_sets_up_a_team_from_the_browser(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let mai_hoang = scene.mai_hoang;

    let b = Browser::start().await;
    b.log_in(server, "xa.phucson").await;

    // A team in the hamlet.
    b.goto(&server.url(&format!("/units/{mai_hoang}"))).await;
    let open = b.find("#team-add summary").await;
    b.click(&open).await;
    b.type_into("#team-name", TEAM_NAME).await;
    b.type_into("#team-code", "MH-T9").await;
    let save = b.find("#team-add-save").await;
    b.click(&save).await;
    b.wait_for("h1", |t| t == TEAM_NAME).await;
    let team = store.team_by_code("MH-T9").await.expect("the team");
    assert_eq!(team.hamlet_id, mai_hoang);

    // Its five members, the first its leader.
    let people = [
        ("Nguyễn Văn Bình", "leader", "0912000101"),
        ("Trần Thị Lan", "member", "0912000102"),
        ("Lê Văn Hùng", "member", "0912000103"),
        ("Phạm Thị Mai", "member", ""),
        ("Hoàng Văn Nam", "member", "0912000105"),
    ];
    for (n, (name, role, phone)) in people.iter().enumerate() {
        b.type_into("#member-name", name).await;
        let option = b.find(&format!("#member-role option[value={role}]")).await;
        b.click(&option).await;
        if !phone.is_empty() {
            b.type_into("#member-phone", phone).await;
        }
        let save = b.find("#member-add-save").await;
        b.click(&save).await;
        let want = n + 1;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.members(&Scope::all(), team.id).await.unwrap().len() < want {
            assert!(
                std::time::Instant::now() < deadline,
                "member {name} not added"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        b.wait_for("#members tbody", |t| t.contains(name)).await;
    }
    let members = store.members(&Scope::all(), team.id).await.unwrap();
    assert_eq!(members.len(), 5);
    assert_eq!(
        members[0].full_name(),
        "Nguyễn Văn Bình",
        "the leader first"
    );

    // Forty households moved into it on the roster, in one submission.
    b.goto(&server.url(&format!("/units/{mai_hoang}/roster")))
        .await;
    b.find("#roster").await;
    let boxes = b.all(None, "#roster input[name=household]").await.unwrap();
    assert!(
        boxes.len() >= 40,
        "Mai Hoàng has {} households",
        boxes.len()
    );
    for el in boxes.iter().take(40) {
        b.click(el).await;
    }
    let option = b
        .find(&format!("#roster-team option[value='{}']", team.id))
        .await;
    b.click(&option).await;
    let moved_before = count_rows(store, "audit_log").await;
    let go = b.find("#roster-move").await;
    b.click(&go).await;
    b.wait_for("h1", |t| !t.is_empty()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = store
            .team_households(&Scope::all(), team.id)
            .await
            .unwrap()
            .len();
        if n == 40 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{n} households moved");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        count_rows(store, "audit_log").await >= moved_before + 40,
        "each move is audited"
    );

    // An account for its leader: the page shows a one-time code, never a
    // password.
    b.goto(&server.url("/accounts")).await;
    let open = b.find("#account-create summary").await;
    b.click(&open).await;
    b.type_into("#account-username", "totruong.mh9").await;
    b.type_into("#account-name", "Nguyễn Văn Bình").await;
    let role = b.find("#account-role option[value=team_leader]").await;
    b.click(&role).await;
    let place = b
        .find(&format!("#account-place option[value='t{}']", team.id))
        .await;
    b.click(&place).await;
    let save = b.find("#account-save").await;
    b.click(&save).await;
    let code_el = b.wait_for("#issued-code", |t| t.len() == 19).await;
    let code = b.text(&code_el).await.unwrap();
    drop(b);

    // The leader sets a password with the code, logs in and sees the team.
    let b = Browser::start().await;
    b.goto(&server.url(&format!("/password/setup?code={code}")))
        .await;
    b.type_into("#setup-password", NEW_PASSWORD).await;
    b.type_into("#setup-again", NEW_PASSWORD).await;
    let save = b.find("#setup-save").await;
    b.click(&save).await;
    b.find("#login").await;
    b.type_into("#login", "totruong.mh9").await;
    b.type_into("#password", NEW_PASSWORD).await;
    let submit = b.find("main form button[type=submit]").await;
    b.click(&submit).await;
    b.wait_for("h1", |t| t.contains("Xin chào")).await;
    let link = b.find(&format!("a[href='/teams/{}']", team.id)).await;
    b.click(&link).await;
    b.wait_for("#team-household-count", |t| t == "40").await;
    assert_eq!(b.all(None, "#households li").await.unwrap().len(), 40);
    // The code is spent.
    assert!(matches!(
        store
            .set_password_with_code(&code, "Another-pass-2026!")
            .await,
        Err(StoreError::Rejected(Problem::PasswordSetupInvalid))
    ));
    drop(b);
    scene.finish().await;
}
both!(a_commune_sets_up_a_team_from_the_browser);

async fn the_store_keeps_the_rules_of_keeping(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let store = scene.store();
    let mai_hoang = scene.mai_hoang;
    let as_user =
        |u: &'static str| async move { Viewer::of(&store.principal_by_username(u).await.unwrap()) };
    let leader = as_user("totruong.maihoang1").await;
    let commune = as_user("xa.phucson").await;
    let head = as_user("truongthon.maihoang").await;
    let province = as_user("tinh.bacninh").await;
    let new_team = |code: &str| NewTeam {
        hamlet_id: mai_hoang,
        kind: danvan_domain::TeamKind::Team,
        parent_team_id: None,
        code: code.into(),
        name: format!("Tổ {code}"),
        target_size: None,
    };
    // A team leader keeps no teams; a hamlet head does, for their hamlet.
    assert!(matches!(
        store.add_team(&leader, &new_team("X1")).await,
        Err(StoreError::Denied(_))
    ));
    let t = store.add_team(&head, &new_team("X2")).await.unwrap();
    // A commune officer makes no commune officers, only roles below.
    let account = |role: Role, username: &str| NewAccountFor {
        username: username.into(),
        display_name: "Người thử".into(),
        phone: None,
        role,
        unit_id: (role != Role::TeamLeader).then_some(scene.phuc_son),
        team_id: (role == Role::TeamLeader).then_some(t),
    };
    let err = store
        .create_account_for(&commune, &account(Role::CommuneOfficer, "xa.khac"))
        .await;
    assert!(
        matches!(err, Err(StoreError::Denied(d)) if d.code() == "forbidden.role_above"),
        "{err:?}"
    );
    let (id, code) = store
        .create_account_for(&commune, &account(Role::TeamLeader, "to.x2"))
        .await
        .unwrap();
    assert_eq!(code.len(), 19);
    // A weak password is refused and the code stays good.
    assert!(matches!(
        store.set_password_with_code(&code, "12345678").await,
        Err(StoreError::Rejected(_))
    ));
    assert_eq!(
        store
            .set_password_with_code(&code, NEW_PASSWORD)
            .await
            .unwrap(),
        "to.x2"
    );
    // A reset issues a new code; the hamlet head may not reset a commune
    // officer's password.
    let officer = store.principal_by_username("xa.phucson").await.unwrap();
    assert!(matches!(
        store.reset_password(&head, officer.account_id).await,
        Err(StoreError::Denied(_)) | Err(StoreError::NotFound)
    ));
    assert!(store.reset_password(&commune, id).await.is_ok());
    // Closing a team ends its members' terms and frees its households.
    let h = store
        .team_households(&Scope::all(), leader.scope.team_id.unwrap())
        .await
        .unwrap();
    store
        .assign_households(&head, mai_hoang, &[h[0].id, h[1].id], Some(t))
        .await
        .unwrap();
    let day = store.today();
    store.close_team(&head, t, day).await.unwrap();
    assert!(store
        .team_households(&Scope::all(), t)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store
            .assign_households(&head, mai_hoang, &[h[0].id], Some(t))
            .await,
        Err(StoreError::Rejected(Problem::TeamClosed))
    ));
    // The tree: a province officer renames a hamlet with its legal basis;
    // a commune officer may not; the province itself is not its own to
    // change.
    let rename = |name: &str| NewEvent {
        change: UnitChange::Rename {
            unit_id: mai_hoang,
            new_name: name.into(),
        },
        date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        legal_basis: "Nghị quyết 99/NQ-HĐND".into(),
        note: String::new(),
    };
    assert!(matches!(
        store.change_units(&commune, &rename("Mai Hoàng Mới")).await,
        Err(StoreError::Denied(_))
    ));
    store
        .change_units(&province, &rename("Mai Hoàng Mới"))
        .await
        .unwrap();
    let history = store.unit_history(&Scope::all(), mai_hoang).await.unwrap();
    assert!(history
        .iter()
        .any(|e| e.legal_basis == "Nghị quyết 99/NQ-HĐND"));
    let province_id: i64 = province.scope.path.trim_matches('/').parse().unwrap();
    let own = NewEvent {
        change: UnitChange::Rename {
            unit_id: province_id,
            new_name: "Tỉnh khác".into(),
        },
        ..rename("x")
    };
    assert!(matches!(
        store.change_units(&province, &own).await,
        Err(StoreError::Denied(d)) if d.code() == "forbidden.own_unit"
    ));
    scene.finish().await;
}
both!(the_store_keeps_the_rules_of_keeping);
