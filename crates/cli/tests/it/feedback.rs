//! Feedback up: ways in, deadlines in working hours, escalation, approval,
//! confidentiality, double submits. Time is a fixed clock on the test's
//! own store, so every deadline is checked to the second.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone};
use danvan_domain::calendar::{from_local, to_local};
use danvan_domain::feedback::{Channel, RelayMethod, Severity};
use danvan_store::feedback::{Action, NewFeedback, Viewer};
use danvan_store::{FixedClock, Scope, Store, StoreError};

use crate::common::{unit_id, Backend, TestDb};

/// Friday 24 April 2026, 16:30 in Vietnam; Monday 27 is the day off for
/// Giỗ Tổ Hùng Vương (which fell on Sunday), 30/4 and 1/5 are holidays.
fn friday_afternoon() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2026, 4, 24, 9, 30, 0)
        .single()
        .unwrap()
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    from_local(
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap(),
    )
}

/// The demo database, opened again with a clock that stands still.
async fn at_friday(db: &TestDb) -> (Store, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(friday_afternoon()));
    let s = Store::connect_with_clock(&db.url, clock.clone())
        .await
        .unwrap();
    (s, clock)
}

async fn viewer(s: &Store, username: &str) -> Viewer {
    Viewer::of(&s.principal_by_username(username).await.unwrap())
}

pub(crate) fn web_report(hamlet: i64, topic: &str, text: &str) -> NewFeedback {
    NewFeedback {
        topic: topic.into(),
        severity: Severity::Normal,
        channel: Channel::Web,
        description: text.into(),
        hamlet_id: hamlet,
        lat: None,
        lon: None,
        reporter_name: Some("Lê Thị Hoa".into()),
        reporter_phone: Some("0912 345 678".into()),
        anonymous: false,
        household_id: None,
        resident_id: None,
        relay_method: None,
        identity_consent: false,
        submission_key: None,
        photos: Vec::new(),
    }
}

async fn member_report_counts_working_hours(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, _clock) = at_friday(&db).await;
    let member = s
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap();
    let household = s
        .team_households(&danvan_store::Scope::all(), member.team_id.unwrap())
        .await
        .unwrap()[0]
        .clone();
    let resident = s
        .residents(&danvan_store::Scope::all(), household.id)
        .await
        .unwrap()[0]
        .id;
    let new = NewFeedback {
        channel: Channel::Member,
        household_id: Some(household.id),
        resident_id: Some(resident),
        relay_method: Some(RelayMethod::HomeVisit),
        identity_consent: false,
        reporter_name: None,
        reporter_phone: None,
        ..web_report(
            household.hamlet_id,
            "environment",
            "Cống thoát nước ở xóm Đình bị tắc",
        )
    };
    let r = s
        .submit_feedback(&member.actor(), &member.scope, &new)
        .await
        .unwrap();
    // 0.5 h on Friday, Monday off, 7.5 h on Tuesday: Tuesday 17:00.
    assert_eq!(to_local(r.ack_due), to_local(local(2026, 4, 28, 17, 0)));
    // Five working days (37.5 h): Fri 0.5, Tue, Wed, (Thu 30/4, Fri 1/5
    // off), Mon 4/5, Tue 5/5, then 7 h of Wednesday 6/5: 16:30.
    assert_eq!(to_local(r.resolve_due), to_local(local(2026, 5, 6, 16, 30)));

    // The member sees whom it is about; the commune does not (no consent).
    let own = s.feedback(&Viewer::of(&member), r.id).await.unwrap();
    assert_eq!(own.household_id, Some(household.id));
    assert_eq!(own.relayed_by, Some(member.account_id));
    assert_eq!(own.relay_method.map(|m| m.as_str()), Some("home_visit"));
    assert_eq!(own.team_id, Some(member.team_id.unwrap()));
    let commune = viewer(&s, "xa.phucson").await;
    let seen = s.feedback(&commune, r.id).await.unwrap();
    assert_eq!(seen.household_id, None);
    assert_eq!(seen.resident_id, None);
    assert_eq!(seen.responsible_label, "Xã Phúc Sơn");
    // Another commune's officer does not see it at all.
    let other = viewer(&s, "xa.yenthe").await;
    assert!(matches!(
        s.feedback(&other, r.id).await,
        Err(StoreError::NotFound)
    ));

    // With consent, the identity goes up.
    let agreed = NewFeedback {
        identity_consent: true,
        relay_method: Some(RelayMethod::PhoneCall),
        ..new.clone()
    };
    let r2 = s
        .submit_feedback(&member.actor(), &member.scope, &agreed)
        .await
        .unwrap();
    assert_eq!(
        s.feedback(&commune, r2.id).await.unwrap().resident_id,
        Some(resident)
    );
    // A household outside the member's team is refused as not found.
    let outside = s
        .search(&Scope::all(), "tran", 50)
        .await
        .unwrap()
        .residents
        .into_iter()
        .find(|h| h.household_id != household.id && h.hamlet_name != household.hamlet_name)
        .unwrap();
    let bad = NewFeedback {
        household_id: Some(outside.household_id),
        resident_id: None,
        ..new.clone()
    };
    assert!(s
        .submit_feedback(&member.actor(), &member.scope, &bad)
        .await
        .is_err());
    let events = s.feedback_events(Some(&commune), r.id).await.unwrap();
    assert_eq!(events[0].kind, "received");
    // The resident's phone is kept (masked above the team); only that phone
    // may write to the report.
    let with_phone = NewFeedback {
        reporter_phone: Some("0912 000 111".into()),
        ..new.clone()
    };
    let r3 = s
        .submit_feedback(&member.actor(), &member.scope, &with_phone)
        .await
        .unwrap();
    let stranger = danvan_domain::Phone::parse("0987 000 111").unwrap();
    assert!(matches!(
        s.reporter_reply(&r3.code, Some(&stranger), "Tôi cũng muốn nói")
            .await,
        Err(StoreError::NotFound)
    ));
    let owner = danvan_domain::Phone::parse("0912000111").unwrap();
    assert!(s
        .reporter_reply(&r3.code, Some(&owner), "Cảm ơn tổ")
        .await
        .is_ok());
    db.finish().await;
}
both!(member_report_counts_working_hours);

async fn late_items_escalate_and_both_levels_are_told(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = at_friday(&db).await;
    let mai_hoang = unit_id(&s, "mai hoang").await;
    let urgent = NewFeedback {
        severity: Severity::Urgent,
        ..web_report(
            mai_hoang,
            "security",
            "Có người lạ đi xe máy dò xét các nhà trong xóm",
        )
    };
    let r = s
        .submit_feedback(&danvan_store::Actor::system(), &Scope::all(), &urgent)
        .await
        .unwrap();
    // Urgent counts calendar hours: acknowledge by Saturday 00:30, resolve by 20:30.
    assert_eq!(r.ack_due, local(2026, 4, 25, 0, 30));
    assert_eq!(r.resolve_due, local(2026, 4, 24, 20, 30));
    let normal = s
        .submit_feedback(
            &danvan_store::Actor::system(),
            &Scope::all(),
            &web_report(
                mai_hoang,
                "environment",
                "Đèn đường ở ngõ 3 bị hỏng đã hai tuần",
            ),
        )
        .await
        .unwrap();

    assert_eq!(
        s.sweep_feedback().await.unwrap(),
        (0, 0),
        "nothing is late yet"
    );
    clock.advance(chrono::Duration::hours(5));
    assert_eq!(s.sweep_feedback().await.unwrap(), (1, 0));
    let admin = Viewer::system();
    let f = s.feedback(&admin, r.id).await.unwrap();
    assert_eq!(f.escalation_level, 1);
    let commune = s
        .unit(&Scope::all(), f.hamlet_id)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let province = s
        .unit(&Scope::all(), commune)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    assert_eq!(f.responsible_unit_id, province);
    assert!(f.is_late(s.now()));
    // The normal one is not late: Monday is a holiday.
    assert_eq!(
        s.feedback(&admin, normal.id)
            .await
            .unwrap()
            .escalation_level,
        0
    );
    // Both levels were told; the commune still follows the item.
    let told: Vec<(i64, String)> = match &s.db {
        danvan_store::Db::Sqlite(p) => sqlx::query_as(
            "SELECT unit_id, kind FROM notifications WHERE feedback_id = $1 ORDER BY id",
        )
        .bind(r.id)
        .fetch_all(p)
        .await
        .unwrap(),
        danvan_store::Db::Postgres(p) => sqlx::query_as(
            "SELECT unit_id, kind FROM notifications WHERE feedback_id = $1 ORDER BY id",
        )
        .bind(r.id)
        .fetch_all(p)
        .await
        .unwrap(),
    };
    assert!(told.contains(&(commune, "escalated".into())), "{told:?}");
    assert!(told.contains(&(province, "escalated".into())), "{told:?}");
    assert!(s
        .feedback(&viewer(&s, "xa.phucson").await, r.id)
        .await
        .is_ok());
    assert!(s
        .feedback(&viewer(&s, "tinh.bacninh").await, r.id)
        .await
        .is_ok());
    let history = s.feedback_events(None, r.id).await.unwrap();
    assert!(history.iter().any(|e| e.kind == "escalated"));
    // A second sweep right away does nothing more.
    assert_eq!(s.sweep_feedback().await.unwrap(), (0, 0));
    // Touching the escalated item (a note, an acknowledgement) does not send
    // it up again: the new unit keeps the period it was given.
    let province_officer = viewer(&s, "tinh.bacninh").await;
    s.act_on_feedback(
        &province_officer,
        r.id,
        Action::Note {
            text: "Đã giao công an xã".into(),
            public: false,
        },
    )
    .await
    .unwrap();
    s.act_on_feedback(&province_officer, r.id, Action::Acknowledge)
        .await
        .unwrap();
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(s.sweep_feedback().await.unwrap(), (0, 0));
    assert_eq!(s.feedback(&admin, r.id).await.unwrap().escalation_level, 1);
    let summary = s.feedback_summary(&admin, province).await.unwrap();
    assert!(summary.late >= 1);
    db.finish().await;
}
both!(late_items_escalate_and_both_levels_are_told);

async fn answers_are_approved_by_the_leader(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = at_friday(&db).await;
    let mai_hoang = unit_id(&s, "mai hoang").await;
    let r = s
        .submit_feedback(
            &danvan_store::Actor::system(),
            &Scope::all(),
            &web_report(
                mai_hoang,
                "environment",
                "Bãi rác tự phát cạnh trường mầm non",
            ),
        )
        .await
        .unwrap();
    let officer = viewer(&s, "xa.phucson").await;
    s.act_on_feedback(&officer, r.id, Action::Acknowledge)
        .await
        .unwrap();
    // Skipping a step is refused and changes nothing.
    assert!(matches!(
        s.act_on_feedback(&officer, r.id, Action::Close).await,
        Err(StoreError::Conflict(_))
    ));
    s.act_on_feedback(
        &officer,
        r.id,
        Action::DraftAnswer {
            text: "Xã đã cho thu gom và đặt biển cấm đổ rác".into(),
        },
    )
    .await
    .unwrap();
    // Not yet public, and an ordinary officer cannot approve.
    assert_eq!(s.feedback_public(&r.code).await.unwrap().answer, None);
    assert!(matches!(
        s.act_on_feedback(&officer, r.id, Action::ApproveAnswer)
            .await,
        Err(StoreError::Denied(danvan_domain::policy::Denial::NotLeader))
    ));
    // A team member cannot acknowledge or draft at all.
    let member = viewer(&s, "thanhvien.maihoang2").await;
    assert!(s
        .act_on_feedback(&member, r.id, Action::Start)
        .await
        .is_err());
    s.set_leads_unit(&danvan_store::Actor::cli(), "xa.phucson", true)
        .await
        .unwrap();
    let leader = viewer(&s, "xa.phucson").await;
    let f = s
        .act_on_feedback(&leader, r.id, Action::ApproveAnswer)
        .await
        .unwrap();
    assert_eq!(f.state.as_str(), "answered");
    let public = s.feedback_public(&r.code).await.unwrap();
    assert_eq!(
        public.answer.as_deref(),
        Some("Xã đã cho thu gom và đặt biển cấm đổ rác")
    );
    assert!(public.answered_at.is_some());
    // The reporter was told by SMS, at receipt and at the answer.
    let sms = crate::common::outbox_for(&s, r.id).await;
    assert!(sms.len() >= 3, "{sms:?}");
    assert!(sms.iter().all(|(to, _)| to == "+84912345678"));
    assert!(sms.last().unwrap().1.contains("tra loi"), "{sms:?}");

    // The reporter writes back within a week: the item reopens; a stranger's
    // phone cannot.
    let stranger = danvan_domain::Phone::parse("0987 000 111").unwrap();
    assert!(s
        .reporter_reply(&r.code, Some(&stranger), "Vẫn còn rác")
        .await
        .is_err());
    let reporter = danvan_domain::Phone::parse("0912345678").unwrap();
    clock.advance(chrono::Duration::days(2));
    let state = s
        .reporter_reply(
            &r.code.to_lowercase(),
            Some(&reporter),
            "Vẫn còn rác ở góc trường",
        )
        .await
        .unwrap();
    assert_eq!(state.as_str(), "reopened");
    // The reopened item gets a fresh period; once that has passed it counts
    // late (after the sweep, in the rollups), and answering it again takes
    // it off the count.
    let commune = s.feedback(&leader, r.id).await.unwrap().responsible_unit_id;
    clock.advance(chrono::Duration::days(3));
    assert!(s.count_newly_late(s.now()).await.unwrap() >= 1);
    let late_before = s
        .feedback_dashboard(&leader, commune, None)
        .await
        .unwrap()
        .late_total;
    // Answered again, then closed by the sweep a week later.
    s.act_on_feedback(
        &leader,
        r.id,
        Action::DraftAnswer {
            text: "Đã thu gom lần hai".into(),
        },
    )
    .await
    .unwrap();
    s.act_on_feedback(&leader, r.id, Action::ApproveAnswer)
        .await
        .unwrap();
    let late_after = s
        .feedback_dashboard(&leader, commune, None)
        .await
        .unwrap()
        .late_total;
    assert_eq!(late_before - late_after, 1);
    clock.advance(chrono::Duration::days(8));
    let (_, closed) = s.sweep_feedback().await.unwrap();
    assert_eq!(closed, 1);
    assert_eq!(
        s.feedback(&leader, r.id).await.unwrap().state.as_str(),
        "closed"
    );
    // Too late to reopen now: the message is kept, the state stays.
    let state = s
        .reporter_reply(&r.code, Some(&reporter), "Lại có rác")
        .await
        .unwrap();
    assert_eq!(state.as_str(), "closed");
    db.finish().await;
}
both!(answers_are_approved_by_the_leader);

async fn confidential_topics_stay_with_officers(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, _clock) = at_friday(&db).await;
    let mai_hoang = unit_id(&s, "mai hoang").await;
    let tip = NewFeedback {
        anonymous: true,
        ..web_report(
            mai_hoang,
            "crime_tip",
            "Có nhóm thanh niên tụ tập sử dụng ma túy ở nhà hoang",
        )
    };
    let r = s
        .submit_feedback(&danvan_store::Actor::system(), &Scope::all(), &tip)
        .await
        .unwrap();
    assert!(matches!(
        s.feedback_public(&r.code).await,
        Err(StoreError::NotFound)
    ));
    for who in [
        "truongthon.maihoang",
        "totruong.maihoang1",
        "thanhvien.maihoang2",
    ] {
        assert!(
            matches!(
                s.feedback(&viewer(&s, who).await, r.id).await,
                Err(StoreError::NotFound)
            ),
            "{who} must not see a confidential item"
        );
    }
    let officer = s
        .feedback(&viewer(&s, "xa.phucson").await, r.id)
        .await
        .unwrap();
    assert!(officer.confidential);
    // Counts do not give it away to the hamlet either.
    let head = viewer(&s, "truongthon.maihoang").await;
    let seen_by_head = s.feedback_summary(&head, mai_hoang).await.unwrap();
    assert!(
        !seen_by_head.by_topic.iter().any(|(t, _)| t == "crime_tip"),
        "{seen_by_head:?}"
    );
    let seen_by_officer = s
        .feedback_summary(&viewer(&s, "xa.phucson").await, mai_hoang)
        .await
        .unwrap();
    assert!(seen_by_officer
        .by_topic
        .iter()
        .any(|(t, _)| t == "crime_tip"));
    // A web report's name and phone are for the officers, not the neighbours.
    let open = s
        .submit_feedback(
            &danvan_store::Actor::system(),
            &Scope::all(),
            &web_report(mai_hoang, "environment", "Đường ngõ 4 ngập nước"),
        )
        .await
        .unwrap();
    assert_eq!(
        s.feedback(&head, open.id).await.unwrap().reporter_phone,
        None
    );
    assert_eq!(
        s.feedback(&viewer(&s, "xa.phucson").await, open.id)
            .await
            .unwrap()
            .reporter_phone
            .as_deref(),
        Some("+84912345678")
    );
    assert_eq!(officer.reporter_phone, None, "anonymous keeps no phone");
    // A disease case needs a name and a phone.
    let case = NewFeedback {
        anonymous: true,
        ..web_report(
            mai_hoang,
            "disease_case",
            "Nhà bên cạnh có hai người sốt xuất huyết",
        )
    };
    assert!(s
        .submit_feedback(&danvan_store::Actor::system(), &Scope::all(), &case)
        .await
        .is_err());
    db.finish().await;
}
both!(confidential_topics_stay_with_officers);

async fn double_submits_make_one_report_and_bad_input_changes_nothing(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, _clock) = at_friday(&db).await;
    let mai_hoang = unit_id(&s, "mai hoang").await;
    let admin = Viewer::system();
    let before = s.feedback_summary(&admin, mai_hoang).await.unwrap().total;
    let keyed = NewFeedback {
        submission_key: Some("form-7f3a9c".into()),
        ..web_report(mai_hoang, "environment", "Nước thải chảy ra đường làng")
    };
    // The same form posted eight times at once, then once more.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, keyed) = (s.clone(), keyed.clone());
        tasks.push(tokio::spawn(async move {
            s.submit_feedback(&danvan_store::Actor::system(), &Scope::all(), &keyed)
                .await
                .unwrap()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap().code);
    }
    let again = s
        .submit_feedback(&danvan_store::Actor::system(), &Scope::all(), &keyed)
        .await
        .unwrap();
    assert!(again.replayed);
    codes.push(again.code);
    codes.dedup();
    assert_eq!(codes.len(), 1, "one report: {codes:?}");
    // The same key from another client is another report, not the first one.
    let other_client = danvan_store::Actor {
        account_id: None,
        name: "partner".into(),
    };
    let theirs = s
        .submit_feedback(&other_client, &Scope::all(), &keyed)
        .await
        .unwrap();
    assert!(!theirs.replayed);
    assert_ne!(theirs.code, codes[0]);
    assert_eq!(
        s.feedback_summary(&admin, mai_hoang).await.unwrap().total,
        before + 2
    );

    let base = web_report(mai_hoang, "environment", "Ổ gà lớn trên đường liên thôn");
    let bad = [
        NewFeedback {
            description: "a".repeat(4001),
            ..base.clone()
        },
        NewFeedback {
            description: "   ".into(),
            ..base.clone()
        },
        NewFeedback {
            lat: Some(21.0),
            ..base.clone()
        },
        NewFeedback {
            lat: Some(48.85),
            lon: Some(2.35),
            ..base.clone()
        },
        NewFeedback {
            topic: "weather".into(),
            ..base.clone()
        },
        NewFeedback {
            reporter_phone: Some("12345".into()),
            ..base.clone()
        },
        NewFeedback {
            hamlet_id: s
                .unit(&Scope::all(), mai_hoang)
                .await
                .unwrap()
                .parent_id
                .unwrap(),
            ..base.clone()
        },
        NewFeedback {
            channel: Channel::Member,
            ..base.clone()
        },
    ];
    for (i, new) in bad.iter().enumerate() {
        assert!(
            s.submit_feedback(&danvan_store::Actor::system(), &Scope::all(), new)
                .await
                .is_err(),
            "bad report {i} was accepted"
        );
    }
    assert_eq!(
        s.feedback_summary(&admin, mai_hoang).await.unwrap().total,
        before + 2
    );
    // A code that does not exist, typed in any way, is simply not found.
    assert!(matches!(
        s.feedback_public("ZZZZ-ZZZZ").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.feedback_public("not a code").await,
        Err(StoreError::NotFound)
    ));
    db.finish().await;
}
both!(double_submits_make_one_report_and_bad_input_changes_nothing);

async fn similar_reports_are_offered_and_rules_route(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, _clock) = at_friday(&db).await;
    let mai_hoang = unit_id(&s, "mai hoang").await;
    let commune = s
        .unit(&Scope::all(), mai_hoang)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let sys = danvan_store::Actor::system();
    let first = s
        .submit_feedback(
            &sys,
            &Scope::all(),
            &web_report(
                mai_hoang,
                "environment",
                "Rác thải bị đổ trộm ở cống làng phía đông",
            ),
        )
        .await
        .unwrap();
    let second = s
        .submit_feedback(
            &sys,
            &Scope::all(),
            &web_report(
                mai_hoang,
                "environment",
                "rac thai do trom o cong lang phia dong",
            ),
        )
        .await
        .unwrap();
    assert_eq!(second.similar, vec![first.code.clone()]);
    let unrelated = s
        .submit_feedback(
            &sys,
            &Scope::all(),
            &web_report(mai_hoang, "environment", "Khói đốt rơm rạ buổi chiều"),
        )
        .await
        .unwrap();
    assert!(unrelated.similar.is_empty());
    let officer = viewer(&s, "xa.phucson").await;
    let linked = s
        .act_on_feedback(
            &officer,
            second.id,
            Action::LinkDuplicate {
                of_code: first.code.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(linked.duplicate_of, Some(first.id));

    // Security and order in this commune goes to the commune police.
    s.add_routing_rule(
        &sys,
        &danvan_store::feedback::RoutingRule {
            commune_id: commune,
            topic: Some("security".into()),
            hamlet_id: None,
            responsible_unit_id: commune,
            responsible_account_id: None,
            label: "Công an xã Phúc Sơn".into(),
        },
    )
    .await
    .unwrap();
    let r = s
        .submit_feedback(
            &sys,
            &Scope::all(),
            &web_report(mai_hoang, "security", "Trộm chó ban đêm"),
        )
        .await
        .unwrap();
    let f = s.feedback(&officer, r.id).await.unwrap();
    assert_eq!(f.responsible_label, "Công an xã Phúc Sơn");
    let env = s.feedback(&officer, unrelated.id).await.unwrap();
    assert_eq!(env.responsible_label, "Xã Phúc Sơn");
    db.finish().await;
}
both!(similar_reports_are_offered_and_rules_route);

async fn json_api_takes_reports_and_answers_in_scope(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = crate::common::Server::start(s).await;
    let member_token = s
        .create_api_token(&danvan_store::Actor::cli(), "thanhvien.maihoang2", "app")
        .await
        .unwrap();
    let far_token = s
        .create_api_token(&danvan_store::Actor::cli(), "xa.yenthe", "app")
        .await
        .unwrap();
    let member = s
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap();
    let household = s
        .team_households(&danvan_store::Scope::all(), member.team_id.unwrap())
        .await
        .unwrap()[0]
        .clone();
    let c = reqwest::Client::new();
    let post = |token: &str, body: serde_json::Value| {
        c.post(server.url("/api/v1/feedback"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let body = serde_json::json!({
        "topic": "environment",
        "description": "Rác tồn đọng ở đầu ngõ 2 ba ngày chưa thu gom",
        "hamlet_id": household.hamlet_id.to_string(),
        "household_id": household.id.to_string(),
        "relay_method": "group_chat",
        "identity_consent": true,
        "submission_key": "app-41c2",
    });
    let r = post(&member_token, body.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(created["resolve_due"].as_str().unwrap().ends_with("+07:00"));
    // The same submission again: the same report, 200.
    let r = post(&member_token, body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let again: serde_json::Value = r.json().await.unwrap();
    assert_eq!(again["id"], created["id"]);

    let got: serde_json::Value = c
        .get(server.url(&format!("/api/v1/feedback/{id}")))
        .bearer_auth(&member_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["channel"], "member");
    assert_eq!(got["relay_method"], "group_chat");
    assert_eq!(got["events"][0]["kind"], "received");
    // By tracking code too; another commune's officer gets 404.
    let code = created["code"].as_str().unwrap();
    let by_code = c
        .get(server.url(&format!("/api/v1/feedback/{}", code.to_lowercase())))
        .bearer_auth(&member_token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_code.status(), 200);
    let far = c
        .get(server.url(&format!("/api/v1/feedback/{id}")))
        .bearer_auth(&far_token)
        .send()
        .await
        .unwrap();
    assert_eq!(far.status(), 404);

    // Bad input: clear errors in the API's shape, nothing written.
    let commune = s
        .unit(&Scope::all(), household.hamlet_id)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let summary = |token: String| {
        let c = c.clone();
        let url = server.url(&format!("/api/v1/units/{commune}/feedback-summary"));
        async move {
            c.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let officer_token = s
        .create_api_token(&danvan_store::Actor::cli(), "xa.phucson", "app")
        .await
        .unwrap();
    let before = summary(officer_token.clone()).await;
    assert_eq!(before["by_topic"]["environment"], 1);
    let bad_json = c
        .post(server.url("/api/v1/feedback"))
        .bearer_auth(&member_token)
        .header("content-type", "application/json")
        .body("{\"topic\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let e: serde_json::Value = bad_json.json().await.unwrap();
    assert_eq!(e["error"]["code"], "bad_json");
    for bad in [
        serde_json::json!({"topic": "weather", "description": "x y", "hamlet_id": household.hamlet_id.to_string()}),
        serde_json::json!({"topic": "environment", "description": "x".repeat(4001), "hamlet_id": household.hamlet_id.to_string()}),
        serde_json::json!({"topic": "environment", "description": "Khói", "hamlet_id": household.hamlet_id.to_string(), "lat": 21.0}),
        serde_json::json!({"topic": "environment", "description": "Khói", "hamlet_id": "abc"}),
        serde_json::json!({"topic": "environment", "description": "Khói", "hamlet_id": household.hamlet_id.to_string(), "severity": "panic"}),
    ] {
        let r = post(&member_token, bad.clone()).await.unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert!(!e["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(summary(officer_token).await, before);
    server.stop();
    db.finish().await;
}
both!(json_api_takes_reports_and_answers_in_scope);

async fn sms_tells_new_reports_from_replies(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = crate::common::Server::start(s).await;
    let key = s
        .create_token(
            &danvan_store::Actor::cli(),
            "admin",
            "kannel",
            danvan_store::registry::account::TokenKind::Gateway,
        )
        .await
        .unwrap();
    // A resident of the demo with a phone number.
    let (phone, hamlet) = crate::common::team_resident_phone(s, "thanhvien.maihoang2").await;
    let c = reqwest::Client::new();
    let sms = |from: &str, text: &str, id: &str| {
        c.get(server.url("/sms/inbound"))
            .query(&[
                ("key", key.as_str()),
                ("from", from),
                ("text", text),
                ("id", id),
            ])
            .send()
    };
    // Typed without diacritics: a new report in the sender's hamlet.
    let r = sms(
        &phone,
        "PA moi truong rac thai do trom canh cong lang",
        "m1",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let reply = r.text().await.unwrap();
    assert!(reply.starts_with("Da nhan phan anh, ma "), "{reply}");
    let code = reply
        .split_whitespace()
        .nth(5)
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    let f = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
    assert_eq!(
        (f.channel.as_str(), f.topic_code.as_str(), f.hamlet_id),
        ("sms", "environment", hamlet)
    );
    assert_eq!(f.description, "rac thai do trom canh cong lang");
    // The gateway delivers the same message again: no second report.
    let again = sms(
        &phone,
        "PA moi truong rac thai do trom canh cong lang",
        "m1",
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(again.contains(&code), "{again}");
    // A reply to it is a reply, not a new report.
    let reply = sms(&phone, &format!("TL {code} rac van con o day"), "m2")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reply.starts_with("Da nhan tin nhan"), "{reply}");
    let events = s
        .feedback_events(Some(&Viewer::system()), f.id)
        .await
        .unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "message_in" && e.body == "rac van con o day"));
    // An anonymous report's public code takes no message from anyone.
    let mai_hoang_anon = s
        .submit_feedback(
            &danvan_store::Actor::system(),
            &Scope::all(),
            &NewFeedback {
                anonymous: true,
                ..web_report(hamlet, "security", "Có người lạ hỏi thăm nhà trống")
            },
        )
        .await
        .unwrap();
    let reply = sms(
        &phone,
        &format!("TL {} mo lai di", mai_hoang_anon.code),
        "m9",
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(reply.starts_with("Khong tim thay"), "{reply}");
    // From another phone, the code is not found.
    let reply = sms("0987654321", &format!("TL {code} xin chao"), "m3")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reply.starts_with("Khong tim thay"), "{reply}");
    // Anything else gets help, never silence: chatter, emoji, 1,000
    // characters, an unknown topic, an unknown sender.
    for (from, text) in [
        (phone.as_str(), "Xin chao uy ban"),
        (phone.as_str(), "😀😀😀"),
        (phone.as_str(), &"a".repeat(1000)),
        (phone.as_str(), "PA thoi tiet mua to qua"),
        ("0987654321", "PA an ninh co nguoi la"),
    ] {
        let r = sms(from, text, "").await.unwrap();
        assert_eq!(r.status(), 200);
        let help = r.text().await.unwrap();
        assert!(!help.is_empty() && help.len() <= 160, "{help}");
    }
    let admin = Viewer::system();
    let commune = s
        .unit(&Scope::all(), hamlet)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    assert_eq!(s.feedback_summary(&admin, commune).await.unwrap().total, 2);
    // A wrong key is refused.
    let r = c
        .get(server.url("/sms/inbound"))
        .query(&[
            ("key", "dv_wrong"),
            ("from", phone.as_str()),
            ("text", "PA an ninh x y"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    server.stop();
    db.finish().await;
}
both!(sms_tells_new_reports_from_replies);

/// Starts the real `danvan serve` on `url`, waiting until it answers.
async fn start_binary(url: &str) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_danvan"))
        .args(["serve", "--database-url", url, "--bind", &bind])
        .env("DANVAN_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://{bind}");
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
            if r.status() == 200 {
                return (child, base);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("danvan serve did not start");
}

/// Reports acknowledged with 201 survive the server being killed with
/// SIGKILL in the middle of a load.
async fn acknowledged_reports_survive_sigkill(b: Backend) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let token = s
        .create_api_token(&danvan_store::Actor::cli(), "xa.phucson", "load")
        .await
        .unwrap();
    let mai_hoang = unit_id(s, "mai hoang").await;
    let (mut child, base) = start_binary(&db.url).await;

    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for worker in 0..16 {
        let (acked, count, token, base) =
            (acked.clone(), count.clone(), token.clone(), base.clone());
        clients.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            for i in 0.. {
                let body = serde_json::json!({
                    "topic": "environment",
                    "description": format!("Báo cáo thử tải số {worker}-{i}: cống tắc"),
                    "hamlet_id": mai_hoang.to_string(),
                });
                match c
                    .post(format!("{base}/api/v1/feedback"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 201 => {
                        if let Ok(v) = r.json::<serde_json::Value>().await {
                            acked
                                .lock()
                                .unwrap()
                                .push(v["code"].as_str().unwrap().to_string());
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    // The server is gone: stop.
                    _ => break,
                }
            }
        }));
    }
    // Kill it while the clients are still sending.
    while count.load(Ordering::SeqCst) < 150 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150);

    // Restarted on the same database, every acknowledged report is there.
    let (mut child, base) = start_binary(&db.url).await;
    let after = Store::connect(&db.url).await.unwrap();
    for code in &acked {
        assert!(
            after
                .feedback_by_code(&Viewer::system(), code)
                .await
                .is_ok(),
            "acknowledged report {code} was lost"
        );
    }
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{base}/api/v1/feedback/{}", acked[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
    after.close().await;
    db.finish().await;
}
both!(acknowledged_reports_survive_sigkill);

/// The demo's year of feedback: every topic, every outcome, some late.
async fn demo_has_a_year_of_reports(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let n = danvan::demo::load_reports(s, danvan::demo::DEMO_REPORTS)
        .await
        .unwrap();
    assert_eq!(n, danvan::demo::DEMO_REPORTS);
    let admin = Viewer::system();
    let root = s.top_units(&Scope::all()).await.unwrap();
    let mut total = 0;
    let mut states = std::collections::HashMap::new();
    let mut topics = std::collections::HashSet::new();
    for u in root {
        let sum = s.feedback_summary(&admin, u.id).await.unwrap();
        total += sum.total;
        for (k, v) in sum.by_state {
            *states.entry(k).or_insert(0) += v;
        }
        topics.extend(sum.by_topic.into_iter().map(|(k, _)| k));
    }
    assert_eq!(total as usize, n);
    for st in ["closed", "refused", "received", "acknowledged"] {
        assert!(states.get(st).copied().unwrap_or(0) > 0, "{st}: {states:?}");
    }
    assert_eq!(topics.len(), 5, "{topics:?}");
    let escalated: i64 = match &s.db {
        danvan_store::Db::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM feedback WHERE escalation_level > 0")
                .fetch_one(p)
                .await
                .unwrap()
        }
        danvan_store::Db::Postgres(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM feedback WHERE escalation_level > 0")
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert!(escalated > 0, "some reports were late and went up");
    db.finish().await;
}
both!(demo_has_a_year_of_reports);
