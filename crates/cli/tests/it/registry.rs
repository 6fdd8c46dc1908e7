//! The unit tree, teams, households and the pilot's demo data.

use chrono::NaiveDate;
use danvan_domain::{Gender, MemberRole, PersonName, Reach, Represents, TeamKind, UnitLevel};
use danvan_store::registry::household::{NewHousehold, NewResident};
use danvan_store::registry::team::{NewMember, NewTeam};
use danvan_store::registry::unit::{NewEvent, NewUnit, UnitChange};
use danvan_store::{Actor, Scope, StoreError};

use crate::common::{unit_id, Backend, TestDb};

async fn demo_shows_the_pilot(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let all = Scope::all();

    let mai_hoang = s.unit(&all, unit_id(s, "mai hoang").await).await.unwrap();
    assert_eq!(mai_hoang.level, UnitLevel::Hamlet);
    let counts = s.counts(&mai_hoang.path).await.unwrap();
    assert_eq!(counts.households, 245);
    assert_eq!(counts.teams, 6);
    assert_eq!(counts.unassigned_households, 0);
    let teams = s.teams_of_hamlet(&all, mai_hoang.id).await.unwrap();
    assert_eq!(teams.len(), 6);
    for t in &teams {
        assert_eq!(
            s.members(&danvan_store::Scope::all(), t.id)
                .await
                .unwrap()
                .len(),
            5,
            "team {} has 5 members",
            t.name
        );
        assert!(
            s.team_households(&danvan_store::Scope::all(), t.id)
                .await
                .unwrap()
                .len()
                >= 40,
            "team {} looks after 40 or more",
            t.name
        );
    }

    let phuc_son = s.unit(&all, unit_id(s, "xa phuc son").await).await.unwrap();
    let ps = s.counts(&phuc_son.path).await.unwrap();
    assert_eq!(ps.teams, 37);
    assert!(
        ps.unassigned_households > 0,
        "the demo leaves a coverage gap to show"
    );
    assert!(ps.residents > ps.households);

    // Đồng Tâm's hamlets now belong to Yên Thế, with their 6 teams and 22 groups.
    let yen_the = s.search_units(&all, "xa yen the", 10).await.unwrap();
    let yen_the = yen_the
        .iter()
        .find(|u| u.level == UnitLevel::Commune)
        .expect("Xã Yên Thế");
    assert_eq!(yen_the.code.as_deref(), Some("07288"));
    let yt = s.counts(&yen_the.path).await.unwrap();
    assert_eq!((yt.teams, yt.groups), (6, 22));
    let hong_lac = s.unit(&all, unit_id(s, "hong lac").await).await.unwrap();
    assert_eq!(hong_lac.parent_id, Some(yen_the.id));

    // Codes are attributes, not keys: 07288 named Phồn Xương before the merge.
    let phon_xuong = s.search_units(&all, "phon xuong", 5).await.unwrap();
    assert_eq!(phon_xuong[0].code.as_deref(), Some("07288"));
    assert_eq!(phon_xuong[0].valid_to.as_deref(), Some("2025-06-30"));

    // The merge is on the history of both the old and the new commune.
    let dong_tam = s.search_units(&all, "xa dong tam", 5).await.unwrap();
    let dong_tam = &dong_tam[0];
    assert_eq!(dong_tam.code.as_deref(), Some("07260"));
    assert_eq!(dong_tam.valid_to.as_deref(), Some("2025-06-30"));
    let h = s.unit_history(&all, dong_tam.id).await.unwrap();
    let merge = h
        .iter()
        .find(|e| e.kind.as_str() == "merge")
        .expect("merge event");
    assert_eq!(merge.effective_date, "2025-07-01");
    assert!(merge
        .parts
        .iter()
        .any(|p| p.part == "target" && p.unit_id == yen_the.id));
    assert_eq!(merge.parts.iter().filter(|p| p.part == "source").count(), 5);
    let h = s.unit_history(&all, yen_the.id).await.unwrap();
    assert!(h.iter().any(|e| e.kind.as_str() == "merge"));
    assert!(
        h.iter().any(|e| e.kind.as_str() == "move"),
        "hamlets moved into Yên Thế"
    );
    db.finish().await;
}
both!(demo_shows_the_pilot);

/// A small tree of our own: province → commune → two hamlets.
pub async fn small_tree(s: &danvan_store::Store) -> (i64, i64, i64, i64) {
    let a = Actor::cli();
    let unit = |parent, level, name: &str, code: Option<&str>| NewUnit {
        parent_id: parent,
        level,
        name: name.into(),
        code: code.map(Into::into),
        valid_from: None,
        valid_to: None,
    };
    let p = s
        .create_unit(&a, &unit(None, UnitLevel::Province, "Tỉnh Thử", Some("99")))
        .await
        .unwrap();
    let c = s
        .create_unit(
            &a,
            &unit(Some(p), UnitLevel::Commune, "Xã Phúc Sơn", Some("09999")),
        )
        .await
        .unwrap();
    let h1 = s
        .create_unit(&a, &unit(Some(c), UnitLevel::Hamlet, "Thôn Đông", None))
        .await
        .unwrap();
    let h2 = s
        .create_unit(&a, &unit(Some(c), UnitLevel::Hamlet, "Thôn Đoài", None))
        .await
        .unwrap();
    (p, c, h1, h2)
}

pub fn resident(name: &str, head: bool) -> NewResident {
    NewResident {
        name: PersonName::parse(name).unwrap(),
        birth: None,
        gender: Some(Gender::Male),
        relation: if head {
            "Chủ hộ".into()
        } else {
            "Con".into()
        },
        is_head: head,
        phone: None,
        citizen_id: None,
    }
}

pub fn household(hamlet: i64, team: Option<i64>, head: &str) -> NewHousehold {
    NewHousehold {
        code: None,
        hamlet_id: hamlet,
        team_id: team,
        address: "Xóm Giữa".into(),
        lat: None,
        lon: None,
        reach: Reach::BasicPhone,
        phone: None,
        residents: vec![resident(head, true)],
    }
}

async fn tree_history_never_rewrites_the_past(b: Backend) {
    let db = TestDb::new(b).await;
    let s = &db.store;
    let a = Actor::cli();
    let (p, c, h1, h2) = small_tree(s).await;
    // Hamlets get a code of our own.
    assert!(s
        .unit_unscoped(h1)
        .await
        .unwrap()
        .code
        .unwrap()
        .starts_with("TH"));
    // A hamlet cannot sit above a commune.
    let bad = NewUnit {
        parent_id: Some(h1),
        level: UnitLevel::Commune,
        name: "Xã Sai".into(),
        code: None,
        valid_from: None,
        valid_to: None,
    };
    assert!(matches!(
        s.create_unit(&a, &bad).await,
        Err(StoreError::Rejected(_))
    ));

    let hh1 = s
        .create_household(&a, &household(h1, None, "Nguyễn Văn Một"))
        .await
        .unwrap();
    let hh2 = s
        .create_household(&a, &household(h1, None, "Trần Thị Hai"))
        .await
        .unwrap();
    let date = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    let ev = |change| NewEvent {
        change,
        date,
        legal_basis: "Nghị quyết thử".into(),
        note: String::new(),
    };

    // Rename keeps the old name in the event.
    s.record_event(
        &a,
        &ev(UnitChange::Rename {
            unit_id: h2,
            new_name: "Thôn Tây".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(s.unit_unscoped(h2).await.unwrap().name, "Thôn Tây");
    let hist = s.unit_history(&Scope::all(), h2).await.unwrap();
    assert_eq!(hist[0].parts[0].old_name.as_deref(), Some("Thôn Đoài"));

    // Split: households are reassigned one by one, and all of them must be.
    let n1 = s
        .create_unit(
            &a,
            &NewUnit {
                parent_id: Some(c),
                level: UnitLevel::Hamlet,
                name: "Thôn Đông Một".into(),
                code: None,
                valid_from: Some(date),
                valid_to: None,
            },
        )
        .await
        .unwrap();
    let n2 = s
        .create_unit(
            &a,
            &NewUnit {
                parent_id: Some(c),
                level: UnitLevel::Hamlet,
                name: "Thôn Đông Hai".into(),
                code: None,
                valid_from: Some(date),
                valid_to: None,
            },
        )
        .await
        .unwrap();
    let partial = ev(UnitChange::Split {
        source: h1,
        targets: vec![n1, n2],
        households: vec![(hh1, n1)],
    });
    assert!(
        s.record_event(&a, &partial).await.is_err(),
        "a split that leaves households behind is refused"
    );
    assert_eq!(
        s.household(&Scope::all(), hh1).await.unwrap().hamlet_id,
        h1,
        "and changes nothing"
    );
    let split = ev(UnitChange::Split {
        source: h1,
        targets: vec![n1, n2],
        households: vec![(hh1, n1), (hh2, n2)],
    });
    s.record_event(&a, &split).await.unwrap();
    assert_eq!(s.household(&Scope::all(), hh1).await.unwrap().hamlet_id, n1);
    assert_eq!(s.household(&Scope::all(), hh2).await.unwrap().hamlet_id, n2);
    assert_eq!(
        s.unit_unscoped(h1).await.unwrap().valid_to.as_deref(),
        Some("2025-06-30")
    );
    assert_eq!(
        s.counts(&s.unit_unscoped(n1).await.unwrap().path)
            .await
            .unwrap()
            .households,
        1
    );
    let hist = s.unit_history(&Scope::all(), h1).await.unwrap();
    assert_eq!(hist.last().unwrap().households_moved, 2);

    // Move: a commune under a new province takes its subtree (and households) along.
    let p2 = s
        .create_unit(
            &a,
            &NewUnit {
                parent_id: None,
                level: UnitLevel::Province,
                name: "Tỉnh Mới".into(),
                code: Some("98".into()),
                valid_from: Some(date),
                valid_to: None,
            },
        )
        .await
        .unwrap();
    // A report from a hamlet of the commune goes along with it.
    let report_hamlet = s.household(&Scope::all(), hh1).await.unwrap().hamlet_id;
    let report = s
        .submit_feedback(
            &a,
            &Scope::all(),
            &danvan_store::feedback::NewFeedback {
                topic: "environment".into(),
                severity: danvan_domain::feedback::Severity::Normal,
                channel: danvan_domain::feedback::Channel::Web,
                description: "Rác ở đầu ngõ".into(),
                hamlet_id: report_hamlet,
                lat: None,
                lon: None,
                reporter_name: None,
                reporter_phone: None,
                anonymous: false,
                household_id: None,
                resident_id: None,
                relay_method: None,
                identity_consent: false,
                submission_key: None,
                photos: Vec::new(),
            },
        )
        .await
        .unwrap();
    s.record_event(
        &a,
        &ev(UnitChange::Move {
            unit_id: c,
            new_parent_id: p2,
        }),
    )
    .await
    .unwrap();
    let p2_path = s.unit_unscoped(p2).await.unwrap().path;
    let officer_of = |path: &str| danvan_store::feedback::Viewer {
        actor: a.clone(),
        scope: Scope::unit(path),
        role: danvan_domain::Role::ProvinceOfficer,
        leads_unit: false,
    };
    let moved = s.feedback(&officer_of(&p2_path), report.id).await.unwrap();
    // The dashboards' rollups moved with the commune.
    let sys = danvan_store::feedback::Viewer::system();
    let total = |d: danvan_store::feedback::dashboard::Dashboard| d.totals.total();
    assert_eq!(
        total(s.feedback_dashboard(&sys, p2, None).await.unwrap()),
        1
    );
    assert_eq!(total(s.feedback_dashboard(&sys, p, None).await.unwrap()), 0);
    assert_eq!(total(s.feedback_dashboard(&sys, c, None).await.unwrap()), 1);
    assert!(moved.path.starts_with(&p2_path) && moved.responsible_path.starts_with(&p2_path));
    let old_province = s.unit_unscoped(p).await.unwrap().path;
    assert!(s
        .feedback(&officer_of(&old_province), report.id)
        .await
        .is_err());
    assert_eq!(s.counts(&p2_path).await.unwrap().households, 2);
    assert_eq!(
        s.counts(&s.unit_unscoped(p).await.unwrap().path)
            .await
            .unwrap()
            .households,
        0
    );
    assert!(s
        .household(&Scope::all(), hh1)
        .await
        .unwrap()
        .path
        .starts_with(&p2_path));
    // A unit cannot move inside itself.
    assert!(s
        .record_event(
            &a,
            &ev(UnitChange::Move {
                unit_id: c,
                new_parent_id: n1
            })
        )
        .await
        .is_err());
    db.finish().await;
}
both!(tree_history_never_rewrites_the_past);

async fn people_sort_in_vietnamese_order(b: Backend) {
    let db = TestDb::new(b).await;
    let s = &db.store;
    let a = Actor::cli();
    let (_, _, h1, _) = small_tree(s).await;
    let team = s
        .create_team(
            &a,
            &NewTeam {
                hamlet_id: h1,
                kind: TeamKind::Team,
                parent_team_id: None,
                code: "T-SORT".into(),
                name: "Tổ dân vận số 1".into(),
                target_size: None,
            },
        )
        .await
        .unwrap();
    let names = [
        "Hoàng Văn Đức",
        "Trần Văn Ân",
        "Vũ Văn Dũng",
        "Lê Thị Ánh",
        "Nguyễn Văn An",
        "Đỗ Thị Bình",
        "Phạm Đức Anh",
        "Bùi Thị Ấn",
    ];
    for n in names {
        s.create_household(&a, &household(h1, Some(team), n))
            .await
            .unwrap();
    }
    let order: Vec<String> = s
        .team_households(&danvan_store::Scope::all(), team)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.head_name)
        .collect();
    // Given name first, whole (a < ă < â; tones ngang < huyền < hỏi < ngã < sắc < nặng; d < đ), then family name.
    assert_eq!(
        order,
        [
            "Nguyễn Văn An",
            "Phạm Đức Anh",
            "Lê Thị Ánh",
            "Trần Văn Ân",
            "Bùi Thị Ấn",
            "Đỗ Thị Bình",
            "Vũ Văn Dũng",
            "Hoàng Văn Đức"
        ]
    );
    // Members too: leader first, then by name.
    for (n, role) in [
        ("Trần Văn Bảo", MemberRole::Member),
        ("Lê Văn An", MemberRole::Member),
        ("Vũ Thị Yến", MemberRole::Leader),
    ] {
        let m = NewMember {
            name: PersonName::parse(n).unwrap(),
            gender: None,
            role,
            represents: Represents::None,
            phone: None,
            term_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            term_to: None,
        };
        s.add_member(&a, team, &m).await.unwrap();
    }
    let members: Vec<String> = s
        .members(&danvan_store::Scope::all(), team)
        .await
        .unwrap()
        .iter()
        .map(|m| m.full_name())
        .collect();
    assert_eq!(members, ["Vũ Thị Yến", "Lê Văn An", "Trần Văn Bảo"]);
    db.finish().await;
}
both!(people_sort_in_vietnamese_order);

async fn bad_records_change_nothing(b: Backend) {
    let db = TestDb::new(b).await;
    let s = &db.store;
    let a = Actor::cli();
    let (_, c, h1, _) = small_tree(s).await;
    // Two heads, a point outside Vietnam, lat without long, a household in a commune.
    let mut two_heads = household(h1, None, "Nguyễn Văn Một");
    two_heads.residents.push(resident("Nguyễn Văn Hai", true));
    assert!(s.create_household(&a, &two_heads).await.is_err());
    let mut paris = household(h1, None, "Nguyễn Văn Một");
    paris.lat = Some(48.85);
    paris.lon = Some(2.35);
    assert!(s.create_household(&a, &paris).await.is_err());
    let mut half = household(h1, None, "Nguyễn Văn Một");
    half.lat = Some(21.4);
    assert!(s.create_household(&a, &half).await.is_err());
    assert!(s
        .create_household(&a, &household(c, None, "Nguyễn Văn Một"))
        .await
        .is_err());
    // A duplicate citizen id is refused whole: the second household is not half-written.
    let cid = danvan_domain::CitizenId::parse("024085001234").unwrap();
    let mut first = household(h1, None, "Nguyễn Văn Một");
    first.residents[0].citizen_id = Some(cid.clone());
    s.create_household(&a, &first).await.unwrap();
    let mut second = household(h1, None, "Trần Văn Hai");
    second.residents.push(NewResident {
        citizen_id: Some(cid),
        ..resident("Trần Văn Ba", false)
    });
    assert!(matches!(
        s.create_household(&a, &second).await,
        Err(StoreError::Conflict(_))
    ));
    let path = s.unit_unscoped(h1).await.unwrap().path;
    let n = s.counts(&path).await.unwrap();
    assert_eq!((n.households, n.residents), (1, 1));
    db.finish().await;
}
both!(bad_records_change_nothing);
