//! The officials' feedback pages: the dashboard's figures (from rollups
//! kept per unit, checked against a rebuild from the items), the inbox's
//! filters and templates, the XLSX export, bad form input — and an officer
//! and a leader working the inbox in headless Chromium.

use std::sync::Arc;

use chrono::TimeZone;
use danvan_domain::feedback::Severity;
use danvan_store::feedback::inbox::{InboxFilter, InboxSort, StateFilter};
use danvan_store::feedback::{Action, NewFeedback, Viewer};
use danvan_store::{FixedClock, Scope, Store, StoreError};

use crate::browser::Browser;
use crate::common::{login, unit_id, Backend, Server, TestDb, PW};

/// Monday 1 June 2026, 08:00 in Vietnam: a working morning.
fn monday_morning() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2026, 6, 1, 1, 0, 0)
        .single()
        .unwrap()
}

async fn at_monday(db: &TestDb) -> (Store, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(monday_morning()));
    let s = Store::connect_with_clock(&db.url, clock.clone())
        .await
        .unwrap();
    (s, clock)
}

async fn viewer(s: &Store, username: &str) -> Viewer {
    Viewer::of(&s.principal_by_username(username).await.unwrap())
}

fn report(hamlet: i64, topic: &str, severity: Severity, text: &str) -> NewFeedback {
    NewFeedback {
        severity,
        reporter_name: Some("Đỗ Văn Tâm".into()),
        reporter_phone: Some("0912 000 111".into()),
        ..crate::feedback::web_report(hamlet, topic, text)
    }
}

/// Phúc Sơn, its hamlet Mai Hoàng and another of its hamlets.
async fn places(s: &Store) -> (i64, i64, i64) {
    let commune = unit_id(s, "xa phuc son").await;
    let mai_hoang = unit_id(s, "mai hoang").await;
    let other = s
        .children(&Scope::all(), commune, true)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.id != mai_hoang)
        .unwrap()
        .id;
    (commune, mai_hoang, other)
}

/// Four reports: r1 (environment, Mai Hoàng) acknowledged after 30 minutes
/// and answered on time a day after receipt; r2 (security, urgent, Mai
/// Hoàng) and r4 (crime tip, confidential, Mai Hoàng) left alone; r3
/// (environment, the other hamlet) acknowledged after 3 hours. Then ten
/// days pass, so r2, r3 and r4 are late.
async fn four_reports(s: &Store, clock: &FixedClock) -> [i64; 4] {
    let (_, mai_hoang, other) = places(s).await;
    let submit = |new: NewFeedback| async move {
        s.submit_feedback(&danvan_store::Actor::system(), &Scope::all(), &new)
            .await
            .unwrap()
            .id
    };
    let r1 = submit(report(
        mai_hoang,
        "environment",
        Severity::Normal,
        "Rác đổ trộm cạnh cổng trường",
    ))
    .await;
    let r2 = submit(report(
        mai_hoang,
        "security",
        Severity::Urgent,
        "Nhóm thanh niên đua xe trên đê",
    ))
    .await;
    let r3 = submit(report(
        other,
        "environment",
        Severity::Normal,
        "Nước thải chăn nuôi chảy ra mương",
    ))
    .await;
    let r4 = submit(report(
        mai_hoang,
        "crime_tip",
        Severity::Normal,
        "Có người lạ bán hàng cấm ở bãi sông",
    ))
    .await;
    s.set_leads_unit(&danvan_store::Actor::cli(), "xa.phucson", true)
        .await
        .unwrap();
    let officer = viewer(s, "xa.phucson").await;
    clock.advance(chrono::Duration::minutes(30));
    s.act_on_feedback(&officer, r1, Action::Acknowledge)
        .await
        .unwrap();
    clock.advance(chrono::Duration::minutes(150));
    s.act_on_feedback(&officer, r3, Action::Start)
        .await
        .unwrap();
    clock.advance(chrono::Duration::hours(21));
    s.act_on_feedback(
        &officer,
        r1,
        Action::DraftAnswer {
            text: "Xã đã thu gom và đặt biển cấm đổ rác".into(),
        },
    )
    .await
    .unwrap();
    s.act_on_feedback(&officer, r1, Action::ApproveAnswer)
        .await
        .unwrap();
    clock.advance(chrono::Duration::days(10));
    [r1, r2, r3, r4]
}

async fn dashboard_counts_times_and_late_items(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = at_monday(&db).await;
    let (commune, mai_hoang, other) = places(&s).await;
    let [_r1, r2, r3, r4] = four_reports(&s, &clock).await;
    let officer = viewer(&s, "xa.phucson").await;

    let d = s.feedback_dashboard(&officer, commune, None).await.unwrap();
    // received, acknowledged, in progress, reopened, answered, closed, refused
    assert_eq!(d.totals.by_state, [2, 0, 1, 0, 1, 0, 0]);
    assert_eq!(d.totals.open(), 3);
    let child = |id: i64| {
        d.by_child
            .iter()
            .find(|c| c.unit_id == id)
            .map(|c| c.counts.total())
    };
    assert_eq!(child(mai_hoang), Some(3));
    assert_eq!(child(other), Some(1));
    let topics: Vec<(&str, i64)> = d
        .by_topic
        .iter()
        .map(|t| (t.topic.code.as_str(), t.counts.total()))
        .collect();
    assert_eq!(topics[0], ("environment", 2), "{topics:?}");
    assert!(topics.contains(&("crime_tip", 1)), "{topics:?}");
    assert_eq!((d.answered, d.answered_on_time), (1, 1));
    assert_eq!(d.on_time_percent(), Some(100.0));
    // First responses after 30 min and 3 h: the lower middle, 30–35 min.
    assert_eq!(d.median_ack_minutes, Some(32));
    // Answered 24 h after receipt: the 24–25 h bucket.
    assert_eq!(d.median_resolve_minutes, Some(24 * 60 + 30));
    assert_eq!(d.late_total, 3);
    let late: Vec<i64> = d.late.iter().map(|l| l.id).collect();
    assert_eq!(late[0], r2, "the urgent item was due first");
    assert!(late.contains(&r3) && late.contains(&r4));

    // Narrowed to a topic, the child units count only that topic.
    let env = s.topic_by_code("environment").await.unwrap().id;
    let d_env = s
        .feedback_dashboard(&officer, commune, Some(env))
        .await
        .unwrap();
    assert_eq!(
        d_env.by_child.iter().map(|c| c.counts.total()).sum::<i64>(),
        2
    );

    // The hamlet head sees the hamlet without the confidential tip-off.
    let head = viewer(&s, "truongthon.maihoang").await;
    let h = s.feedback_dashboard(&head, mai_hoang, None).await.unwrap();
    assert_eq!(h.totals.total(), 2);
    assert_eq!(h.late_total, 1);
    assert!(h.by_topic.iter().all(|t| !t.topic.confidential));
    // A team member's late list holds only their own team's items: none of
    // these (the hamlet's web reports go to its first team).
    let member = viewer(&s, "thanhvien.maihoang2").await;
    let m = s
        .feedback_dashboard(&member, mai_hoang, None)
        .await
        .unwrap();
    assert_eq!((m.late_total, m.late.len()), (0, 0));
    assert_eq!(
        s.feedback_at_a_glance(&member, mai_hoang).await.unwrap().1,
        0
    );
    assert_eq!(
        s.feedback_at_a_glance(&officer, commune).await.unwrap(),
        (3, 3)
    );
    assert!(matches!(
        s.feedback_dashboard(&head, commune, None).await,
        Err(StoreError::NotFound)
    ));
    // Another commune's officer cannot open this one.
    let stranger = viewer(&s, "xa.yenthe").await;
    assert!(matches!(
        s.feedback_dashboard(&stranger, commune, None).await,
        Err(StoreError::NotFound)
    ));
    // The province adds up its communes.
    let province = s
        .ancestors(&s.unit(&Scope::all(), commune).await.unwrap())
        .await
        .unwrap()[0]
        .id;
    let all = s
        .feedback_dashboard(&Viewer::system(), province, None)
        .await
        .unwrap();
    assert!(all.totals.total() >= 4);

    // Until the sweep counts them, late items are read from the items; the
    // sweep moves them into the 'late' rollups, once, and the figures stay.
    assert_eq!(s.count_newly_late(s.now()).await.unwrap(), 3);
    assert_eq!(
        s.count_newly_late(s.now()).await.unwrap(),
        0,
        "counted once"
    );
    let d = s.feedback_dashboard(&officer, commune, None).await.unwrap();
    assert_eq!(d.late_total, 3);
    assert_eq!(d.late.len(), 3);
    let h = s.feedback_dashboard(&head, mai_hoang, None).await.unwrap();
    assert_eq!(h.late_total, 1, "the confidential tip-off stays hidden");
    assert_eq!(s.feedback_summary(&officer, commune).await.unwrap().late, 3);
    // An answered item is late no more: the rollup follows the change.
    s.act_on_feedback(
        &officer,
        r3,
        Action::DraftAnswer {
            text: "Xã đã yêu cầu hộ chăn nuôi làm hầm biogas".into(),
        },
    )
    .await
    .unwrap();
    s.act_on_feedback(&officer, r3, Action::ApproveAnswer)
        .await
        .unwrap();
    let d = s.feedback_dashboard(&officer, commune, None).await.unwrap();
    assert_eq!(d.late_total, 2);
    assert!(d.late.iter().all(|l| l.id != r3));
    assert_eq!(
        s.feedback_at_a_glance(&officer, commune).await.unwrap(),
        (2, 2)
    );

    // What was kept change by change equals a rebuild from the items.
    let before = serde_json::to_value(&d).unwrap();
    s.rebuild_feedback_rollups().await.unwrap();
    let after =
        serde_json::to_value(s.feedback_dashboard(&officer, commune, None).await.unwrap()).unwrap();
    assert_eq!(before, after);
    db.finish().await;
}
both!(dashboard_counts_times_and_late_items);

async fn inbox_filters_sorts_and_templates(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = at_monday(&db).await;
    let (commune, mai_hoang, other) = places(&s).await;
    let [r1, r2, r3, r4] = four_reports(&s, &clock).await;
    let officer = viewer(&s, "xa.phucson").await;
    let ids = |inbox: danvan_store::feedback::inbox::Inbox| -> Vec<i64> {
        inbox.rows.iter().map(|r| r.id).collect()
    };
    let inbox = |f: InboxFilter| {
        let s = &s;
        let officer = &officer;
        async move { s.feedback_inbox(officer, commune, &f).await.unwrap() }
    };

    // Open items, nearest deadline first: the urgent one leads.
    let open = inbox(InboxFilter::default()).await;
    assert_eq!(open.total, 3);
    assert_eq!(ids(open)[0], r2);
    let all = inbox(InboxFilter {
        state: StateFilter::All,
        sort: InboxSort::Newest,
        ..Default::default()
    })
    .await;
    assert_eq!(ids(all), vec![r4, r3, r2, r1]);
    let env = s.topic_by_code("environment").await.unwrap().id;
    let by_topic = inbox(InboxFilter {
        state: StateFilter::All,
        topic_id: Some(env),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(by_topic).len(), 2);
    let urgent = inbox(InboxFilter {
        severity: Some(Severity::Urgent),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(urgent), vec![r2]);
    let in_other = inbox(InboxFilter {
        hamlet_id: Some(other),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(in_other), vec![r3]);
    let answered = inbox(InboxFilter {
        state: StateFilter::parse("answered"),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(answered), vec![r1]);
    // Late: three. Acknowledging the tip-off now does not make it on
    // time: its five working days to answer ended on 5 June.
    let late = inbox(InboxFilter {
        late: true,
        ..Default::default()
    })
    .await;
    assert_eq!(late.total, 3);
    s.act_on_feedback(&officer, r4, Action::Acknowledge)
        .await
        .unwrap();
    let late = inbox(InboxFilter {
        late: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        late.total, 3,
        "acknowledged late is still past its answer deadline"
    );

    // A hamlet head's inbox of the commune is not theirs; their hamlet's
    // inbox holds its items (by place) but never the tip-off.
    let head = viewer(&s, "truongthon.maihoang").await;
    assert!(s
        .feedback_inbox(&head, commune, &InboxFilter::default())
        .await
        .is_err());
    let mine = s
        .feedback_inbox(
            &head,
            mai_hoang,
            &InboxFilter {
                state: StateFilter::All,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(mine.rows.iter().all(|r| !r.confidential));

    // People to give items to: the commune's officers and hamlet heads.
    let people = s.feedback_assignees(&officer, commune).await.unwrap();
    assert!(people.iter().any(|p| p.role == "commune_officer"));
    assert!(people.iter().any(|p| p.role == "hamlet_head"));

    // Templates: the commune's are offered in its hamlets too; a hamlet
    // head cannot add one; an empty title is refused and nothing is written.
    let t = s
        .add_answer_template(
            &officer,
            commune,
            "Đã chuyển công an xã",
            "Xã đã chuyển phản ánh tới Công an xã để xác minh.",
        )
        .await
        .unwrap();
    assert!(s
        .add_answer_template(&head, mai_hoang, "Mẫu", "Nội dung")
        .await
        .is_err());
    assert!(matches!(
        s.add_answer_template(&officer, commune, "  ", "Nội dung")
            .await,
        Err(StoreError::Invalid { .. })
    ));
    let offered = s.answer_templates(&officer, mai_hoang).await.unwrap();
    assert_eq!(offered.iter().map(|x| x.id).collect::<Vec<_>>(), vec![t]);
    db.finish().await;
}
both!(inbox_filters_sorts_and_templates);

async fn pages_export_and_refuse_bad_input(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = at_monday(&db).await;
    let (commune, _, _) = places(&s).await;
    let [r1, r2, _, r4] = four_reports(&s, &clock).await;
    let server = Server::start(&s).await;
    let (c, csrf) = login(&server, "xa.phucson", PW).await;

    // The dashboard as a workbook, with the audit entry.
    let res = c
        .get(server.url(&format!("/feedback/dashboard.xlsx?unit={commune}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = res.bytes().await.unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    use calamine::Reader;
    let names = book.sheet_names();
    assert!(names.iter().any(|n| n == "Theo chủ đề"), "{names:?}");
    let topics = book.worksheet_range("Theo chủ đề").unwrap();
    let total_row = topics
        .rows()
        .find(|r| r.first().map(|c| c.to_string()) == Some("Tổng".into()))
        .expect("a total row");
    assert_eq!(total_row.last().unwrap().to_string(), "4");
    let late = book.worksheet_range("Phản ánh quá hạn").unwrap();
    assert_eq!(
        late.rows().count(),
        3 + 3,
        "title, blank, header, 3 late items"
    );
    let audit = s
        .audit_entries(&danvan_store::Viewer::cli(), None, 20)
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "export_feedback_dashboard"));

    // Pages render, in scope.
    for path in [
        format!("/feedback?unit={commune}"),
        format!("/feedback/{r1}"),
        format!("/feedback/dashboard?unit={commune}"),
    ] {
        let res = c.get(server.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    // The commune was told of each new item; reading the notices clears
    // the unread count. A hamlet head gets none.
    let inbox_page = |c: reqwest::Client| {
        let url = server.url(&format!("/feedback?unit={commune}"));
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let page = inbox_page(c.clone()).await;
    assert!(page.contains("id=\"notices-unread\""), "{page}");
    assert!(page.contains("Phản ánh mới"), "{page}");
    let res = c
        .post(server.url("/feedback/notices/read"))
        .form(&[("csrf", csrf.as_str()), ("unit", &commune.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = inbox_page(c.clone()).await;
    assert!(!page.contains("id=\"notices-unread\""));
    let head_viewer = viewer(&s, "truongthon.maihoang").await;
    let (_, mai_hoang_id, _) = places(&s).await;
    assert!(s
        .unit_notices(&head_viewer, mai_hoang_id, 10)
        .await
        .unwrap()
        .0
        .is_empty());
    // A hamlet head never gets the tip-off's page or sees it listed.
    let (head, _) = login(&server, "truongthon.maihoang", PW).await;
    let res = head
        .get(server.url(&format!("/feedback/{r4}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // A confidential tip-off with a photo: its officers see the photo, the
    // hamlet head and the public do not.
    let (_, mai_hoang, _) = places(&s).await;
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        40,
        30,
        image::Rgb([200, 40, 40]),
    ))
    .write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    let tip = s
        .submit_feedback(
            &danvan_store::Actor::system(),
            &Scope::all(),
            &NewFeedback {
                photos: vec![danvan_store::feedback::photo::CleanPhoto::clean(&jpeg).unwrap()],
                ..report(
                    mai_hoang,
                    "crime_tip",
                    Severity::Normal,
                    "Ảnh chụp xe chở hàng lạ",
                )
            },
        )
        .await
        .unwrap();
    let page = c
        .get(server.url(&format!("/feedback/{}", tip.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/feedback/{}/photos/1", tip.id)),
        "{page}"
    );
    let res = c
        .get(server.url(&format!("/feedback/{}/photos/1", tip.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert!(res.bytes().await.unwrap().starts_with(&[0xFF, 0xD8]));
    for (who, url) in [
        (&head, format!("/feedback/{}/photos/1", tip.id)),
        (&c, format!("/feedback/{}/photos/6", tip.id)),
        (
            &crate::common::client(),
            format!("/r/{}/photos/1", tip.code),
        ),
    ] {
        let res = who.get(server.url(&url)).send().await.unwrap();
        assert!(
            res.status() == 404 || res.status() == 303,
            "{url}: {}",
            res.status()
        );
    }

    // Without the form's token: refused, nothing changes.
    let res = c
        .post(server.url(&format!("/feedback/{r2}/act")))
        .form(&[("action", "ack"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let officer = viewer(&s, "xa.phucson").await;
    assert_eq!(
        s.feedback(&officer, r2).await.unwrap().state.as_str(),
        "received"
    );
    // An empty answer: the page again with a message in Vietnamese.
    let res = c
        .post(server.url(&format!("/feedback/{r2}/act")))
        .form(&[
            ("action", "draft"),
            ("csrf", csrf.as_str()),
            ("text", "   "),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Hãy ghi nội dung trả lời"), "{body}");
    assert_eq!(s.feedback(&officer, r2).await.unwrap().answer_draft, None);
    // An unknown action, a hostile account id: 400, nothing written.
    for form in [
        vec![("action", "explode"), ("csrf", csrf.as_str())],
        vec![
            ("action", "assign"),
            ("csrf", csrf.as_str()),
            ("account", "1 OR 1=1"),
        ],
    ] {
        let res = c
            .post(server.url(&format!("/feedback/{r2}/act")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
    }
    let events = s.feedback_events(Some(&officer), r2).await.unwrap();
    assert_eq!(events.len(), 1, "only its receipt: {events:?}");
    // Bulk assign with nothing selected says so.
    let res = c
        .post(server.url("/feedback/assign"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("back", "/feedback"),
            ("account", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("msg=none"));
    server.stop();
    db.finish().await;
}
both!(pages_export_and_refuse_bad_input);

async fn officials_work_the_inbox_in_the_browser(b: Backend) {
    let browser = Browser::start().await;
    let db = TestDb::demo(b).await;
    let (s, clock) = at_monday(&db).await;
    let (commune, _, _) = places(&s).await;
    let [_r1, r2, r3, _r4] = four_reports(&s, &clock).await;
    let server = Server::start(&s).await;

    browser.log_in(&server, "xa.phucson").await;

    // The home page counts what is open and late in the commune.
    browser
        .wait_for("#home-feedback", |t| t.contains("3 đang mở · 3 quá hạn"))
        .await;
    // From the menu to the commune's inbox: three open items.
    let nav = browser.find("#nav-feedback").await;
    browser.click(&nav).await;
    browser
        .wait_for("#inbox-count", |t| t.contains("3 phản ánh"))
        .await;
    // Narrow to the environment topic and apply.
    let env = s.topic_by_code("environment").await.unwrap().id;
    let option = browser
        .find(&format!("#f-topic option[value=\"{env}\"]"))
        .await;
    browser.click(&option).await;
    let apply = browser.find("#f-apply").await;
    browser.click(&apply).await;
    browser
        .wait_for("#inbox-count", |t| t.contains("1 phản ánh"))
        .await;
    assert!(browser.url().await.contains(&format!("topic={env}")));

    // Back to every open item; tick two and give them to the hamlet head.
    browser
        .goto(&server.url(&format!("/feedback?unit={commune}")))
        .await;
    browser
        .wait_for("#inbox-count", |t| t.contains("3 phản ánh"))
        .await;
    for id in [r2, r3] {
        let tick = browser
            .find(&format!("#inbox input[name=id][value=\"{id}\"]"))
            .await;
        browser.click(&tick).await;
    }
    let head = s
        .principal_by_username("truongthon.maihoang")
        .await
        .unwrap();
    let who = browser
        .find(&format!(
            "#bulk-account option[value=\"{}\"]",
            head.account_id
        ))
        .await;
    browser.click(&who).await;
    let assign = browser.find("#bulk-assign").await;
    browser.click(&assign).await;
    browser
        .wait_for("main p.ok", |t| t.contains("Đã giao 2 phản ánh"))
        .await;
    let cells = browser.all(None, "#inbox td.assignee").await.unwrap();
    let mut names = Vec::new();
    for c in &cells {
        names.push(browser.text(c).await.unwrap());
    }
    assert_eq!(
        names.iter().filter(|n| **n == head.display_name).count(),
        2,
        "{names:?}"
    );

    // A template for the commune.
    browser.type_into("#template-title", "Đã xác minh").await;
    browser
        .type_into("#template-body", "Công an xã đã xác minh và xử lý.")
        .await;
    let add = browser.find("#template-add").await;
    browser.click(&add).await;
    browser
        .wait_for("#templates", |t| t.contains("Đã xác minh"))
        .await;

    // The urgent item: acknowledge it, answer from the template.
    browser.goto(&server.url(&format!("/feedback/{r2}"))).await;
    let ack = browser.find("#act-ack").await;
    browser.click(&ack).await;
    browser
        .wait_for("#item-state", |t| t.contains("Đã xác nhận"))
        .await;
    let use_template = browser.find("a.template-link").await;
    browser.click(&use_template).await;
    browser
        .wait_for("#draft-text", |t| t.contains("Công an xã đã xác minh"))
        .await;
    let draft = browser.find("#act-draft").await;
    browser.click(&draft).await;
    browser
        .wait_for("#item-draft", |t| t.contains("Công an xã đã xác minh"))
        .await;
    // xa.phucson leads the commune: approve, and the answer is public.
    let approve = browser.find("#act-approve").await;
    browser.click(&approve).await;
    browser
        .wait_for("#item-state", |t| t.contains("Đã trả lời"))
        .await;
    browser
        .wait_for("#item-answer", |t| t.contains("Công an xã đã xác minh"))
        .await;
    let timeline = browser.find("#timeline").await;
    let history = browser.text(&timeline).await.unwrap();
    assert!(
        history.contains("Dự thảo trả lời") && history.contains("Đã trả lời"),
        "{history}"
    );

    // The dashboard: two answered now, late items listed, an export link.
    browser
        .goto(&server.url(&format!("/feedback/dashboard?unit={commune}")))
        .await;
    browser.wait_for("#dash-total", |t| t.trim() == "4").await;
    let on_time = browser.find("#dash-on-time").await;
    assert!(browser.text(&on_time).await.unwrap().contains("1/2"));
    let late_rows = browser.all(None, "#late-list tbody tr").await.unwrap();
    assert_eq!(late_rows.len(), 2);
    browser.find("#export-xlsx").await;

    drop(browser);
    server.stop();
    db.finish().await;
}
both!(officials_work_the_inbox_in_the_browser);

/// The reporter rates the answer by SMS ("DG <code> <1-5>"), from the
/// phone the report came with, and only once it is answered.
async fn reporters_rate_answers_by_sms(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = at_monday(&db).await;
    let (_, mai_hoang, _) = places(&s).await;
    // A resident of Mai Hoàng with a phone, so the hamlet is known.
    let (phone, _) = crate::common::team_resident_phone(&s, "thanhvien.maihoang2").await;
    let (reply, _) = s
        .sms_inbound(&phone, "PA moi truong cong ranh bi tac", Some("g1"))
        .await
        .unwrap();
    let code = reply
        .split_whitespace()
        .nth(5)
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    let f = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
    assert_eq!(f.hamlet_id, mai_hoang);
    // Not answered yet: nothing to rate.
    let (reply, _) = s
        .sms_inbound(&phone, &format!("DG {code} 5"), Some("g2"))
        .await
        .unwrap();
    assert!(reply.contains("chua co tra loi"), "{reply}");
    s.set_leads_unit(&danvan_store::Actor::cli(), "xa.phucson", true)
        .await
        .unwrap();
    let officer = viewer(&s, "xa.phucson").await;
    clock.advance(chrono::Duration::hours(3));
    s.act_on_feedback(&officer, f.id, Action::Acknowledge)
        .await
        .unwrap();
    s.act_on_feedback(
        &officer,
        f.id,
        Action::DraftAnswer {
            text: "Xã đã nạo vét cống".into(),
        },
    )
    .await
    .unwrap();
    s.act_on_feedback(&officer, f.id, Action::ApproveAnswer)
        .await
        .unwrap();
    // The answer's SMS says how to rate it.
    let told = crate::common::outbox_for(&s, f.id).await;
    assert!(told.iter().any(|(_, b)| b.contains("DG ")), "{told:?}");
    // A bad rating gets help; another phone is not the reporter.
    let (reply, _) = s
        .sms_inbound(&phone, &format!("DG {code} 9"), Some("g3"))
        .await
        .unwrap();
    assert!(reply.starts_with("Sai cu phap"), "{reply}");
    let (reply, _) = s
        .sms_inbound("0987 654 321", &format!("DG {code} 1"), Some("g4"))
        .await
        .unwrap();
    assert!(reply.starts_with("Khong tim thay"), "{reply}");
    let (reply, handled) = s
        .sms_inbound(&phone, &format!("danh gia {code} 4 sao"), Some("g5"))
        .await
        .unwrap();
    assert!(reply.starts_with("Cam on"), "{reply}");
    assert_eq!(handled.kind(), "rated");
    assert_eq!(s.feedback(&officer, f.id).await.unwrap().rating, Some(4));
    db.finish().await;
}
both!(reporters_rate_answers_by_sms);

/// On the public status page the reporter rates the answer and writes
/// back, proving who they are with a one-time code sent by SMS to the
/// phone the report came with (issue 13, item 1): a wrong phone and the
/// reporter's get the same answer, and only the reporter's phone gets a
/// code; a wrong code changes nothing.
async fn reporters_rate_and_write_back_on_the_status_page(b: Backend) {
    let db = TestDb::demo(b).await;
    let (s, clock) = at_monday(&db).await;
    let [r1, r2, _, _] = four_reports(&s, &clock).await;
    let server = Server::start(&s).await;
    let sys = Viewer::system();
    let code = s.feedback(&sys, r1).await.unwrap().code;
    let display = danvan_domain::feedback::TrackingCode::parse(&code)
        .unwrap()
        .display();
    // r1 was answered ten days ago: too late to reopen, still rateable.
    let c = crate::common::client();
    let page = c
        .get(server.url(&format!("/r/{display}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"rate-form\""), "{page}");
    assert!(page.contains("id=\"verify-form\""), "{page}");
    let csrf = crate::common::input_value(&page, "csrf").expect("a token");
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let c = &c;
        let url = server.url(&path);
        async move {
            let res = c.post(url).form(&form).send().await.unwrap();
            let status = res.status().as_u16();
            let to = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, to)
        }
    };
    let verify = format!("/r/{display}/verify");
    let rate = format!("/r/{display}/rate");
    let (status, _) = post(
        verify.clone(),
        vec![("csrf", "forged".into()), ("phone", "0912000111".into())],
    )
    .await;
    assert_eq!(status, 403);
    // A stranger's phone and the reporter's get the same answer; only the
    // reporter's phone receives a code.
    let sms_before = crate::common::outbox_for(&s, r1).await.len();
    let (s1, stranger) = post(
        verify.clone(),
        vec![("csrf", csrf.clone()), ("phone", "0987 654 321".into())],
    )
    .await;
    assert_eq!(crate::common::outbox_for(&s, r1).await.len(), sms_before);
    let (s2, owner) = post(
        verify.clone(),
        vec![("csrf", csrf.clone()), ("phone", "0912 000 111".into())],
    )
    .await;
    assert_eq!((s1, stranger.as_str()), (s2, owner.as_str()));
    assert!(owner.contains("msg=sent"), "{owner}");
    let sent = crate::common::outbox_for(&s, r1).await;
    assert_eq!(sent.len(), sms_before + 1);
    assert_eq!(sent.last().unwrap().0, "+84912000111");
    let otp = crate::common::reporter_codes(&s, r1)
        .await
        .pop()
        .expect("a code by SMS");
    let (_, to) = post(
        verify.clone(),
        vec![("csrf", csrf.clone()), ("phone", "12".into())],
    )
    .await;
    assert!(to.contains("msg=phone"), "{to}");

    // A wrong code (or none) changes nothing and says only that.
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    for bad in [wrong, "", "abc"] {
        let (_, to) = post(
            rate.clone(),
            vec![
                ("csrf", csrf.clone()),
                ("otp", bad.into()),
                ("stars", "1".into()),
            ],
        )
        .await;
        assert!(to.contains("msg=badcode"), "{to}");
    }
    assert_eq!(s.feedback(&sys, r1).await.unwrap().rating, None);
    let (status, to) = post(
        rate,
        vec![
            ("csrf", csrf.clone()),
            ("otp", otp.clone()),
            ("stars", "5".into()),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert!(to.contains("msg=rated"), "{to}");
    assert_eq!(s.feedback(&sys, r1).await.unwrap().rating, Some(5));
    let page = c
        .get(server.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Cảm ơn ông/bà đã đánh giá."));

    // r2 is still open: nothing to rate; a message is kept in its history.
    // r1's code does not open r2.
    let code2 = s.feedback(&sys, r2).await.unwrap().code;
    let (_, to) = post(
        format!("/r/{code2}/reply"),
        vec![
            ("csrf", csrf.clone()),
            ("otp", otp.clone()),
            ("text", "Không phải của tôi".into()),
        ],
    )
    .await;
    assert!(to.contains("msg=badcode"), "{to}");
    let (_, to) = post(
        format!("/r/{code2}/verify"),
        vec![("csrf", csrf.clone()), ("phone", "0912000111".into())],
    )
    .await;
    assert!(to.contains("msg=sent"), "{to}");
    let otp2 = crate::common::reporter_codes(&s, r2)
        .await
        .pop()
        .expect("a code for r2");
    let (_, to) = post(
        format!("/r/{code2}/rate"),
        vec![
            ("csrf", csrf.clone()),
            ("otp", otp2.clone()),
            ("stars", "4".into()),
        ],
    )
    .await;
    assert!(to.contains("msg=not_answered"), "{to}");
    let (_, to) = post(
        format!("/r/{code2}/reply"),
        vec![
            ("csrf", csrf.clone()),
            ("otp", otp2.clone()),
            ("text", "   ".into()),
        ],
    )
    .await;
    assert!(to.contains("msg=invalid"), "{to}");
    let (_, to) = post(
        format!("/r/{code2}/reply"),
        vec![
            ("csrf", csrf),
            ("otp", otp2),
            ("text", "Tối qua nhóm này lại đua xe".into()),
        ],
    )
    .await;
    assert!(to.contains("msg=replied"), "{to}");
    let events = s.feedback_events(Some(&sys), r2).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.body == "Tối qua nhóm này lại đua xe"));
    server.stop();
    db.finish().await;
}
both!(reporters_rate_and_write_back_on_the_status_page);

/// A team member records a resident's concern from their phone: who, how
/// it came, and whether the resident agrees to be named up the chain.
async fn a_member_records_a_concern_for_a_resident(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
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
    let (c, csrf) = login(&server, "thanhvien.maihoang2", PW).await;
    let page = c
        .get(server.url(&format!("/households/{}", household.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"relay-link\""));
    let form = c
        .get(server.url(&format!("/households/{}/feedback", household.id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = crate::common::input_value(&form, "submission_key").unwrap();
    let url = server.url(&format!("/households/{}/feedback", household.id));
    let fields = |description: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("submission_key", key.clone()),
            ("resident", resident.to_string()),
            ("topic", "environment".to_string()),
            ("severity", "normal".to_string()),
            ("method", "phone_call".to_string()),
            ("description", description.to_string()),
        ]
    };
    // Nothing said: the form again, in Vietnamese, nothing written.
    let res = c.post(&url).form(&fields("  ")).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"relay-error\""), "{body}");
    let sys = Viewer::system();
    let commune = unit_id(s, "xa phuc son").await;
    let count = || async {
        s.feedback_dashboard(&sys, commune, None)
            .await
            .unwrap()
            .totals
            .total()
    };
    assert_eq!(count().await, 0);
    // Recorded, and the page goes to the item; sent twice, one item.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = c
            .post(&url)
            .form(&fields("Bà báo đèn đường ở ngõ 3 hỏng đã một tuần"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let to = res.headers()["location"].to_str().unwrap().to_string();
        ids.push(to);
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(count().await, 1);
    let id: i64 = ids[0]
        .trim_start_matches("/feedback/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let own = s.feedback(&Viewer::of(&member), id).await.unwrap();
    assert_eq!(own.channel.as_str(), "member");
    assert_eq!(own.relayed_by, Some(member.account_id));
    assert_eq!(own.relay_method.map(|m| m.as_str()), Some("phone_call"));
    assert_eq!(own.resident_id, Some(resident));
    assert!(!own.identity_consent);
    // The member's own page of it shows who; the commune's does not.
    let page = c
        .get(server.url(&ids[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Gọi điện"), "{page}");
    let commune_view = s
        .feedback(&viewer(s, "xa.phucson").await, id)
        .await
        .unwrap();
    assert_eq!(commune_view.resident_id, None);
    // A household of another team is not theirs to report for.
    let other = s
        .team_households(
            &danvan_store::Scope::all(),
            s.principal_by_username("totruong.maihoang1")
                .await
                .unwrap()
                .team_id
                .unwrap(),
        )
        .await
        .unwrap()[0]
        .id;
    let res = c
        .get(server.url(&format!("/households/{other}/feedback")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    server.stop();
    db.finish().await;
}
both!(a_member_records_a_concern_for_a_resident);
