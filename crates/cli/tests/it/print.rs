//! Printed announcements, read back with poppler-utils as a stranger
//! would: `pdftotext` finds the unit, the date and every word of the text
//! with its diacritics, `pdfinfo` the paper size, `pdffonts` the font
//! embedded, and `pdftoppm` a page that is not blank. Out of scope: 404.
//! `scripts/test` skips these without poppler-utils (CI requires it).
//! `DANVAN_TEST_KEEP_PDF=DIR` keeps the PDFs there, to look at.

use std::path::Path;
use std::process::Command;

use danvan_store::{Actor, Scope};
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization;

use crate::common::{login, Backend, PilotScene, PW};

/// NFC, whitespace folded to single spaces.
fn folded(s: &str) -> String {
    s.nfc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e} (apt-get install poppler-utils)"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// "Page size: 595 x 842 pts (A4)" → (595, 842), and the number of pages.
fn page_size_and_count(info: &str) -> ((f64, f64), usize) {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .trim()
            .to_string()
    };
    let size = field("Page size:");
    let mut numbers = size
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok());
    let w = numbers.next().expect("width");
    let h = numbers.next().expect("height");
    ((w, h), field("Pages:").parse().expect("pages"))
}

/// Share of the pixels of a rendered page that are dark.
fn dark_share(png: &Path) -> f64 {
    let img = image::open(png).expect("png").to_luma8();
    let dark = img.pixels().filter(|p| p.0[0] < 128).count();
    dark as f64 / (img.width() * img.height()) as f64
}

const TITLE: &str = "Khẩn: phun thuốc diệt muỗi, dọn dẹp vệ sinh phòng sốt xuất huyết";

/// A body with every vowel mark Vietnamese has, long enough for a second
/// A5 page.
fn body() -> String {
    let paragraphs = [
        "Đề nghị các hộ gia đình ở thôn Mai Hoàng đặc biệt chú ý: sáng thứ Bảy tổ dân vận cùng trạm y tế xã phun thuốc diệt muỗi; hộ nào vắng nhà hãy nhờ hàng xóm mở cửa giúp.",
        "Trước ngày phun, hãy lật úp chum, vại, lốp xe cũ; thả cá bảy màu vào bể nước ăn; dọn chỗ nước đọng quanh nhà. Chẳng nên để trẻ nhỏ nằm ngủ gần nơi phun trong hai giờ đầu.",
        "Người nào sốt cao đột ngột, đau đầu, mỏi mệt, có chấm đỏ dưới da thì đến ngay trạm y tế, không tự ý truyền dịch; vẫn phải ăn uống đủ và nghỉ ngơi. Ưu tiên đưa người già, trẻ em đi khám sớm.",
        "Mọi thắc mắc xin hỏi tổ trưởng tổ dân vận hoặc trưởng thôn. Xin cảm ơn các gia đình đã luôn ủng hộ; những việc nhỏ hằng ngày giữ cho cả thôn khỏe mạnh, yên ổn và đẹp đẽ. Đ ắ ằ ẳ ẵ ặ ơ ư đ Ặ Ẵ Ẳ Ằ Ắ Ơ Ư ỡ ữ ự ừ ứ ử.",
    ];
    let mut out = Vec::new();
    for round in 1..=5 {
        for p in paragraphs {
            out.push(format!("{round}. {p}"));
        }
    }
    out.join("\n\n")
}

async fn posters_and_leaflets(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let unit_name = store.unit(&Scope::all(), phuc_son).await.unwrap().name;
    let leader = store
        .create_api_token(&Actor::cli(), "xa.phucson", "print test")
        .await
        .expect("token");
    let body = body();
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/announcements"))
        .bearer_auth(&leader)
        .json(&json!({
            "unit_id": phuc_son.to_string(),
            "title": TITLE,
            "body": body,
            "urgency": "emergency",
            "audience": {"units": [mai_hoang.to_string()]},
        }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.unwrap();
    let id = a["id"].as_str().unwrap().to_string();
    // "2026-11-29T21:35:00+07:00" → "29/11/2026": the day in Vietnam.
    let sent = a["send_at"].as_str().unwrap();
    let date = format!("{}/{}/{}", &sent[8..10], &sent[5..7], &sent[0..4]);

    let dir = tempfile::tempdir().unwrap();
    for (kind, size, min_pages) in [
        ("poster", (595.0, 842.0), 1),
        ("leaflet", (420.0, 595.0), 2),
    ] {
        let r = reqwest::Client::new()
            .get(server.url(&format!("/api/v1/announcements/{id}/{kind}.pdf")))
            .bearer_auth(&leader)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "{kind}");
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let disposition = r.headers()["content-disposition"].to_str().unwrap();
        assert!(
            disposition.contains(&format!("filename=\"thong-bao-{id}-")),
            "{disposition}"
        );
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.len() < 150_000, "{kind}: {} bytes", bytes.len());
        let file = dir.path().join(format!("{kind}.pdf"));
        std::fs::write(&file, &bytes).unwrap();
        let path = file.to_str().unwrap();
        if let Ok(keep) = std::env::var("DANVAN_TEST_KEEP_PDF") {
            std::fs::copy(
                &file,
                Path::new(&keep).join(format!("{kind}-{backend:?}.pdf")),
            )
            .unwrap();
        }

        let text = folded(&tool("pdftotext", &["-enc", "UTF-8", path, "-"]));
        for want in [unit_name.as_str(), &date, TITLE, "KHẨN CẤP"] {
            assert!(text.contains(want), "{kind}: «{want}» not in {text}");
        }
        assert!(
            text.contains(&folded(body.split("\n\n").next().unwrap())),
            "{kind}: the first paragraph whole"
        );
        // Every word of the body, in order (pages break the text with
        // their footers and headings).
        let mut words = text.split(' ');
        for word in body.split_whitespace() {
            assert!(
                words.any(|w| w == word),
                "{kind}: «{word}» missing or out of order"
            );
        }

        let ((w, h), pages) = page_size_and_count(&tool("pdfinfo", &[path]));
        assert!(
            (w - size.0).abs() < 1.0 && (h - size.1).abs() < 1.0,
            "{kind}: {w} x {h}"
        );
        assert!(pages >= min_pages, "{kind}: {pages} pages");

        // pdffonts: two heading lines, then one row per font, "emb" the
        // fourth field from the right (emb sub uni object ID).
        let fonts = tool("pdffonts", &[path]);
        let rows: Vec<&str> = fonts.lines().skip(2).collect();
        assert!(!rows.is_empty(), "{fonts}");
        for row in rows {
            let fields: Vec<&str> = row.split_whitespace().collect();
            assert!(row.contains("NotoSans"), "{fonts}");
            assert_eq!(fields[fields.len() - 5], "yes", "embedded: {fonts}");
        }

        // Page 1 at 50 dpi: ink, but no black page.
        let png = dir.path().join(kind);
        tool(
            "pdftoppm",
            &[
                "-r",
                "50",
                "-f",
                "1",
                "-l",
                "1",
                "-gray",
                "-png",
                "-singlefile",
                path,
                png.to_str().unwrap(),
            ],
        );
        let share = dark_share(&png.with_extension("png"));
        assert!(share > 0.02 && share < 0.4, "{kind}: {share:.3} dark");
    }

    // Another commune's officer: 404, like a missing one; nobody: 401.
    let other = store
        .create_api_token(&Actor::cli(), "xa.yenthe", "print test")
        .await
        .expect("token");
    for kind in ["poster", "leaflet"] {
        let url = server.url(&format!("/api/v1/announcements/{id}/{kind}.pdf"));
        let r = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{kind}");
        let r = reqwest::Client::new().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401, "{kind}");
    }
    let r = reqwest::Client::new()
        .get(server.url("/api/v1/announcements/999999/poster.pdf"))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The reach page links both, and the page's session opens them.
    let (browser, _) = login(server, "xa.phucson", PW).await;
    let page = browser
        .get(server.url(&format!("/announcements/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for kind in ["poster", "leaflet"] {
        let href = format!("/api/v1/announcements/{id}/{kind}.pdf");
        assert!(page.contains(&format!("href=\"{href}\"")), "{kind} link");
        let r = browser.get(server.url(&href)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{kind} with the page session");
        assert_eq!(r.headers()["content-type"], "application/pdf");
    }

    scene.finish().await;
}
both!(posters_and_leaflets);
