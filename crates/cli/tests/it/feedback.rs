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

fn web_report(hamlet: i64, topic: &str, text: &str) -> NewFeedback {
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
    }
}

async fn member_report_counts_working_hours(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, _clock) = at_friday(&db).await;
    let member = s
        .principal_by_username("thanhvien.maihoang2")
        .await
        .unwrap();
    let household = s.team_households(member.team_id.unwrap()).await.unwrap()[0].clone();
    let resident = s.residents(household.id).await.unwrap()[0].id;
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
    assert_eq!(own.relay_method.as_deref(), Some("home_visit"));
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
        Err(StoreError::Conflict(_))
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
    assert_eq!(f.state, "answered");
    let public = s.feedback_public(&r.code).await.unwrap();
    assert_eq!(
        public.answer.as_deref(),
        Some("Xã đã cho thu gom và đặt biển cấm đổ rác")
    );
    assert!(public.answered_at.is_some());
    // The reporter was told by SMS, at receipt and at the answer.
    let sms: Vec<(String, String)> = match &s.db {
        danvan_store::Db::Sqlite(p) => {
            sqlx::query_as("SELECT recipient, body FROM outbox WHERE feedback_id = $1 ORDER BY id")
                .bind(r.id)
                .fetch_all(p)
                .await
                .unwrap()
        }
        danvan_store::Db::Postgres(p) => {
            sqlx::query_as("SELECT recipient, body FROM outbox WHERE feedback_id = $1 ORDER BY id")
                .bind(r.id)
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
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
    clock.advance(chrono::Duration::days(8));
    let (_, closed) = s.sweep_feedback().await.unwrap();
    assert_eq!(closed, 1);
    assert_eq!(s.feedback(&leader, r.id).await.unwrap().state, "closed");
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
    assert_eq!(
        s.feedback_summary(&admin, mai_hoang).await.unwrap().total,
        before + 1
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
        before + 1
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
