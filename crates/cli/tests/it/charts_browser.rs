//! The charts in headless Chromium at a phone's width (375 px) and a wide
//! screen's (1280 px): the feedback dashboard's (received and resolved per
//! week by topic, on time per unit below) and an announcement's reach by
//! channel over the hours after sending. Each is a drawn, non-empty SVG
//! with a mark per number, and the table beside it holds the same figures
//! as the dashboard, its XLSX and the reach API. Numbers read the
//! Vietnamese way (1.786) on the counts.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::TimeZone;
use danvan_domain::feedback::Severity;
use danvan_store::feedback::{Action, NewFeedback, Viewer};
use danvan_store::{Actor, FixedClock, Scope, Store};
use serde_json::json;

use crate::browser::Browser;
use crate::common::{api_send, api_token, login, unit_id, Backend, Server, TestDb, PW};

/// The cells of each body row of a table (row header first).
async fn table(b: &Browser, css: &str) -> Vec<Vec<String>> {
    b.find(css).await;
    let mut rows = Vec::new();
    for tr in b.all(None, &format!("{css} tbody tr")).await.unwrap() {
        let mut cells = Vec::new();
        for c in b.all(Some(&tr), "th, td").await.unwrap() {
            cells.push(b.text(&c).await.unwrap().trim().to_string());
        }
        rows.push(cells);
    }
    rows
}

/// A count as the page writes it in Vietnamese ("1.786").
fn count(s: &str) -> i64 {
    s.replace('.', "")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a count: {s:?}"))
}

/// The marks of a chart and their values.
async fn marks(b: &Browser, chart: &str) -> Vec<String> {
    let mut out = Vec::new();
    for m in b.all(None, &format!("#{chart} .mark")).await.unwrap() {
        out.push(b.attribute(&m, "data-value").await.unwrap_or_default());
    }
    out
}

/// The chart is an accessible SVG, fits the page's width, and is drawn:
/// its screenshot has coloured pixels (not just white and grey).
async fn drawn(b: &Browser, chart: &str, width: u32, shot: &str) {
    let svg = b.find(&format!("svg#{chart}")).await;
    assert_eq!(b.attribute(&svg, "role").await.as_deref(), Some("img"));
    let title = b.all(Some(&svg), "title").await.unwrap();
    assert!(!title.is_empty(), "{chart} has a title");
    let (_, _, w, h) = b.rect(&svg).await;
    assert!(
        w > 200.0 && w <= f64::from(width) && h > 50.0,
        "{chart} at {width} px is {w}×{h}"
    );
    let png = b.element_screenshot(&svg).await.expect("a screenshot");
    // Kept for a person to look at: in the build's target directory.
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let _ = std::fs::write(dir.join(format!("chart-{shot}-{width}.png")), &png);
    let img = image::load_from_memory(&png).expect("a PNG").to_rgb8();
    let coloured = img
        .pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            r.max(g).max(b) - r.min(g).min(b) > 60
        })
        .count();
    assert!(
        coloured > 200,
        "{chart} at {width} px has {coloured} coloured pixels"
    );
}

/// Monday 1 June 2026, 08:00 in Vietnam.
fn monday_morning() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2026, 6, 1, 1, 0, 0)
        .single()
        .unwrap()
}

fn report(hamlet: i64, topic: &str) -> NewFeedback {
    NewFeedback {
        severity: Severity::Normal,
        ..crate::feedback::web_report(hamlet, topic, "Đường làng bị ngập sau mưa")
    }
}

async fn charts_read_on_a_phone_and_a_wide_screen(backend: Backend) {
    let b = Browser::start().await;
    let db = TestDb::demo(backend).await;
    let clock = Arc::new(FixedClock::new(monday_morning()));
    let s = Store::connect_with_clock(&db.url, clock.clone())
        .await
        .unwrap();
    s.set_leads_unit(&Actor::cli(), "xa.phucson", true)
        .await
        .unwrap();
    let officer = Viewer::of(&s.principal_by_username("xa.phucson").await.unwrap());
    let commune = unit_id(&s, "xa phuc son").await;
    let mai_hoang = unit_id(&s, "mai hoang").await;
    let other = s
        .children(&Scope::all(), commune, true)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.id != mai_hoang)
        .unwrap()
        .id;
    let submit = |hamlet, topic| {
        let s = &s;
        async move {
            s.submit_feedback(&Actor::system(), &Scope::all(), &report(hamlet, topic))
                .await
                .unwrap()
                .id
        }
    };
    let answer = |id| {
        let (s, officer) = (&s, &officer);
        async move {
            s.act_on_feedback(officer, id, Action::Acknowledge)
                .await
                .unwrap();
            s.act_on_feedback(
                officer,
                id,
                Action::DraftAnswer {
                    text: "Xã đã cho khơi thông cống".into(),
                },
            )
            .await
            .unwrap();
            s.act_on_feedback(officer, id, Action::ApproveAnswer)
                .await
                .unwrap();
        }
    };
    // Week of 1 June: three reports, one answered within the hour.
    let a = submit(mai_hoang, "environment").await;
    let late = submit(other, "security").await;
    submit(other, "environment").await;
    clock.advance(chrono::Duration::hours(1));
    answer(a).await;
    // Week of 8 June: four, one answered.
    clock.advance(chrono::Duration::days(7));
    let d = submit(mai_hoang, "environment").await;
    submit(mai_hoang, "epidemic").await;
    submit(other, "security").await;
    submit(mai_hoang, "environment").await;
    answer(d).await;
    // Week of 15 June: two, and the report of 1 June answered late.
    clock.advance(chrono::Duration::days(7));
    submit(other, "epidemic").await;
    submit(mai_hoang, "environment").await;
    answer(late).await;

    // An announcement to Mai Hoàng: SMS reported delivered after 40
    // minutes (half) and 2 h 40 (the rest), a visit ticked after 3 h 10.
    let server = Server::start(&s).await;
    let token = api_token(&s, "xa.phucson").await;
    let (status, made) = api_send(
        &server,
        reqwest::Method::POST,
        &token,
        "/api/v1/announcements",
        Some(json!({
            "unit_id": commune.to_string(),
            "title": "Họp thôn",
            "body": "Mời các hộ dự họp thôn lúc 19 giờ tối thứ Bảy tại nhà văn hóa.",
            "urgency": "normal",
            "audience": {"units": [mai_hoang.to_string()]},
        })),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id: i64 = made["id"].as_str().unwrap().parse().unwrap();
    if made["state"] == "pending" {
        s.approve_announcement(&officer, id).await.unwrap();
    }
    let claimed = s.claim_sms("charts", 1000, 600).await.unwrap();
    let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
    s.sms_accepted_many(&ids).await.unwrap();
    // The announcement's own (feed links go out by SMS too).
    let sms: Vec<_> = claimed
        .into_iter()
        .filter(|m| m.key.starts_with(&format!("ann:{id}:")))
        .collect();
    assert!(sms.len() > 2, "the hamlet has basic phones");
    let half = sms.len() / 2;
    clock.advance(chrono::Duration::minutes(40));
    for m in &sms[..half] {
        s.sms_report(&m.key, 1, "").await.unwrap();
    }
    clock.advance(chrono::Duration::hours(2));
    for m in &sms[half..] {
        s.sms_report(&m.key, 1, "").await.unwrap();
    }
    clock.advance(chrono::Duration::minutes(30));
    let reach = s.announcement_reach(&officer, id, 0).await.unwrap();
    let visit = reach
        .not_reached
        .iter()
        .find(|h| {
            h.channel == danvan_domain::announcement::DeliveryChannel::Visit && h.team_id.is_some()
        })
        .expect("a visit to make");
    let member = Viewer {
        actor: Actor::cli(),
        scope: Scope {
            path: s.unit(&Scope::all(), mai_hoang).await.unwrap().path,
            team_id: visit.team_id,
        },
        role: danvan_domain::Role::TeamMember,
        leads_unit: false,
    };
    s.tick_visit(&member, id, visit.household_id).await.unwrap();
    clock.advance(chrono::Duration::minutes(20));

    // The dashboard's own figures, its workbook, and the reach API.
    let d = s.feedback_dashboard(&officer, commune, None).await.unwrap();
    assert_eq!(d.totals.total(), 9);
    let (c, _) = login(&server, "xa.phucson", PW).await;
    let bytes = c
        .get(server.url(&format!("/feedback/dashboard.xlsx?unit={commune}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    use calamine::Reader;
    let mut sheet = |name: &str| -> Vec<Vec<String>> {
        book.worksheet_range(name)
            .unwrap_or_else(|e| panic!("sheet {name}: {e}"))
            .rows()
            .skip(3)
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    let xlsx_received = sheet("Nhận theo tuần");
    let xlsx_resolved = sheet("Giải quyết theo tuần");
    let xlsx_on_time = sheet("Đúng hạn theo đơn vị");
    let (_, api) = api_send(
        &server,
        reqwest::Method::GET,
        &token,
        &format!("/api/v1/announcements/{id}/reach"),
        None,
    )
    .await;

    b.log_in(&server, "xa.phucson").await;
    for width in [375, 1280] {
        b.set_window(width, 900).await;
        b.goto(&server.url(&format!("/feedback/dashboard?unit={commune}")))
            .await;
        for (chart, xlsx) in [
            ("chart-received", &xlsx_received),
            ("chart-resolved", &xlsx_resolved),
        ] {
            drawn(&b, chart, width, "dashboard").await;
            let rows = table(&b, &format!("#{chart}-table")).await;
            assert_eq!(rows.len(), 12, "twelve weeks");
            assert_eq!(rows[11][0], "15/06", "the current week last");
            // A mark per non-zero count, in the table's order (week by
            // week, topic by topic).
            let cells: Vec<String> = rows
                .iter()
                .flat_map(|r| r[1..r.len() - 1].to_vec())
                .filter(|n| n != "0")
                .collect();
            assert_eq!(marks(&b, chart).await, cells, "{chart}");
            // The workbook holds the same numbers.
            for (row, x) in rows.iter().zip(xlsx) {
                let x: Vec<String> = x.iter().skip(1).cloned().collect();
                assert_eq!(&row[1..], &x[..], "{chart}: the XLSX");
            }
        }
        // Received over the weeks is every report; resolved, those
        // answered, closed or refused — as the dashboard counts them.
        let sum =
            |rows: &[Vec<String>]| -> i64 { rows.iter().map(|r| count(r.last().unwrap())).sum() };
        let received = table(&b, "#chart-received-table").await;
        let resolved = table(&b, "#chart-resolved-table").await;
        assert_eq!(sum(&received), d.totals.total());
        let total = b.find("#dash-total").await;
        assert_eq!(
            count(&b.text(&total).await.unwrap()),
            sum(&received),
            "the page's total"
        );
        assert_eq!(sum(&resolved), d.totals.total() - d.totals.open());
        assert_eq!(sum(&resolved), 3);

        // On time per unit below: Mai Hoàng 2 of 2, the other 0 of 1.
        drawn(&b, "chart-on-time", width, "dashboard").await;
        let on_time = table(&b, "#chart-on-time-table").await;
        assert_eq!(on_time.len(), d.on_time_by_child.len());
        assert_eq!(marks(&b, "chart-on-time").await.len(), on_time.len());
        let (answered, in_time): (i64, i64) = on_time
            .iter()
            .map(|r| (count(&r[1]), count(&r[2])))
            .fold((0, 0), |(a, t), (x, y)| (a + x, t + y));
        assert_eq!((answered, in_time), (d.answered, d.answered_on_time));
        assert_eq!((answered, in_time), (3, 2));
        let figure = b.find("#dash-on-time").await;
        assert!(b
            .text(&figure)
            .await
            .unwrap()
            .contains(&format!("{in_time}/{answered}")));
        assert!(on_time.iter().any(|r| r[3] == "100 %"), "{on_time:?}");
        assert!(on_time.iter().any(|r| r[3] == "0 %"), "{on_time:?}");
        for (row, x) in on_time.iter().zip(&xlsx_on_time) {
            assert_eq!((&row[0], &row[1], &row[2]), (&x[0], &x[1], &x[2]));
        }

        // The reach page: four hours, a point per channel and hour.
        b.goto(&server.url(&format!("/announcements/{id}"))).await;
        drawn(&b, "chart-reach", width, "reach").await;
        let rows = table(&b, "#chart-reach-table").await;
        let labels: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(labels, ["1 h", "2 h", "3 h", "4 h"]);
        let head = b.all(None, "#chart-reach-table thead th").await.unwrap();
        let mut channels = Vec::new();
        for th in &head[1..head.len() - 1] {
            channels.push(b.text(th).await.unwrap());
        }
        let points: Vec<String> = (0..channels.len())
            .flat_map(|k| rows.iter().map(move |r| r[k + 1].clone()))
            .collect();
        assert_eq!(marks(&b, "chart-reach").await, points);
        let sms_col = 1 + channels.iter().position(|c| c == "Tin nhắn SMS").unwrap();
        let visit_col = 1 + channels
            .iter()
            .position(|c| c == "Tổ dân vận đến báo")
            .unwrap();
        let column = |k: usize| -> Vec<i64> { rows.iter().map(|r| count(&r[k])).collect() };
        let (h, all) = (half as i64, sms.len() as i64);
        assert_eq!(column(sms_col), [h, h, all, all]);
        assert_eq!(column(visit_col), [0, 0, 0, 1]);
        // The last point is what the page's and the API's by-channel
        // figures count reached.
        let by_channel = table(&b, "#reach-by-channel").await;
        for (k, channel) in channels.iter().enumerate() {
            let reached_here: i64 = by_channel
                .iter()
                .filter(|r| &r[0] == channel && (r[1] == "Đã tới máy" || r[1] == "Đã xác nhận"))
                .map(|r| count(&r[2]))
                .sum();
            assert_eq!(count(&rows[3][k + 1]), reached_here, "{channel}");
        }
        let api_reached: i64 = api["by_channel"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"] == "delivered" || r["state"] == "acknowledged")
            .map(|r| r["count"].as_i64().unwrap())
            .sum();
        assert_eq!(count(&rows[3][rows[3].len() - 1]), api_reached);
        let reached = b.find("#reach-reached").await;
        assert_eq!(count(&b.text(&reached).await.unwrap()), api_reached);
    }

    // Counts of a thousand and more are grouped the Vietnamese way.
    let path = s.unit(&Scope::all(), commune).await.unwrap().path;
    let counts = s.counts(&path).await.unwrap();
    assert!(counts.residents >= 1000, "{counts:?}");
    b.goto(&server.url(&format!("/units/{commune}"))).await;
    let grouped = {
        let digits = counts.residents.to_string();
        let (head, tail) = digits.split_at(digits.len() - 3);
        format!("{head}.{tail}")
    };
    b.wait_for("#count-residents", |t| t == grouped).await;

    drop(b);
    server.stop();
    s.close().await;
    db.finish().await;
}
both!(charts_read_on_a_phone_and_a_wide_screen);
