//! The public report form, the status page and photos: over HTTP as a
//! phone's browser would send them, and once in a real headless Chromium.

use std::io::Cursor;

use danvan_domain::feedback::FeedbackState;
use danvan_store::feedback::photo::PhotoError;
use danvan_store::feedback::Viewer;
use danvan_store::Store;
use image::ImageDecoder;
use reqwest::multipart::{Form, Part};

use crate::browser::Browser;
use crate::common::{client, input_value, unit_id, Backend, Server, TestDb};

/// Written into the test photo's EXIF; must never come out again.
const MARKER: &str = "DANVAN-GPS-MARKER-21N18-106E11";

/// Rows of the two tables a report writes.
async fn rows(s: &Store) -> (i64, i64) {
    danvan_store::on_db!(&s.db, |p| {
        let (f,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM feedback")
            .fetch_one(p)
            .await
            .unwrap();
        let (ph,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM feedback_photos")
            .fetch_one(p)
            .await
            .unwrap();
        (f, ph)
    })
}

/// A small JPEG (16×8, a gradient) as an encoder writes it.
fn plain_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 15) as u8, (y * 30) as u8, 128])
    });
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut out, 90,
    ))
    .unwrap();
    out
}

/// A TIFF-structured EXIF block (little endian): IFD0 with an
/// ImageDescription holding [`MARKER`], Orientation 6 (turn 90° clockwise)
/// and a GPS IFD with latitude 21° 18′ 3″ N.
fn exif_block() -> Vec<u8> {
    let entry = |out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    };
    let ifd0 = 8u32;
    let gps = ifd0 + 2 + 3 * 12 + 4;
    let desc = gps + 2 + 2 * 12 + 4;
    let desc_len = MARKER.len() as u32 + 1;
    let lat = desc + desc_len + (desc_len % 2);
    let mut t = b"II\x2a\x00".to_vec();
    t.extend_from_slice(&ifd0.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut t, 0x010E, 2, desc_len, desc); // ImageDescription
    entry(&mut t, 0x0112, 3, 1, 6); // Orientation: rotate 90° CW
    entry(&mut t, 0x8825, 4, 1, gps); // GPS IFD
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() as u32, gps);
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")); // GPSLatitudeRef
    entry(&mut t, 0x0002, 5, 3, lat); // GPSLatitude
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() as u32, desc);
    t.extend_from_slice(MARKER.as_bytes());
    t.push(0);
    if desc_len % 2 == 1 {
        t.push(0);
    }
    for (num, den) in [(21u32, 1u32), (18, 1), (3, 1)] {
        t.extend_from_slice(&num.to_le_bytes());
        t.extend_from_slice(&den.to_le_bytes());
    }
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + t.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&t);
    app1
}

/// A phone photo: a 16×8 JPEG with an EXIF segment (GPS, orientation,
/// [`MARKER`]) spliced in right after its start-of-image marker.
fn phone_jpeg() -> Vec<u8> {
    let plain = plain_jpeg(16, 8);
    assert_eq!(&plain[..2], &[0xFF, 0xD8]);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&exif_block());
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A PNG of noise, which does not compress: `side`² × 3 bytes and more.
fn big_png(side: u32) -> Vec<u8> {
    let mut x = 0x2545_F491_u32;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        let mut px = [0u8; 3];
        for c in &mut px {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *c = x as u8;
        }
        image::Rgb(px)
    });
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
        .unwrap();
    out
}

/// A 1×1 PNG whose header claims `w` × `h` pixels (CRC made right, so
/// only the size is wrong): a few dozen bytes that would decode into
/// gigabytes.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::new(1, 1)
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut png))
        .unwrap();
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let mut crc = 0xFFFF_FFFFu32;
    for &b in &png[12..29] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    png[29..33].copy_from_slice(&(!crc).to_be_bytes());
    png
}

/// The fields of a report as the form sends them (photos after the text,
/// as the browser does: the file input is last).
#[derive(Clone)]
struct Report<'a> {
    csrf: &'a str,
    key: &'a str,
    topic: &'a str,
    hamlet_id: i64,
    description: &'a str,
    name: &'a str,
    phone: &'a str,
    anonymous: bool,
    photos: Vec<(&'a str, Vec<u8>)>,
}

impl Report<'_> {
    fn form(&self) -> Form {
        let mut f = Form::new()
            .text("csrf", self.csrf.to_string())
            .text("submission_key", self.key.to_string())
            .text("topic", self.topic.to_string())
            .text("hamlet_q", "")
            .text("hamlet_id", self.hamlet_id.to_string())
            .text("description", self.description.to_string())
            .text("lat", "")
            .text("lon", "")
            .text("reporter_name", self.name.to_string())
            .text("reporter_phone", self.phone.to_string());
        if self.anonymous {
            f = f.text("anonymous", "1");
        }
        for (name, bytes) in &self.photos {
            let mime = if name.ends_with(".png") {
                "image/png"
            } else {
                "image/jpeg"
            };
            f = f.part(
                "photos",
                Part::bytes(bytes.clone())
                    .file_name(name.to_string())
                    .mime_str(mime)
                    .unwrap(),
            );
        }
        f.text("do", "send")
    }
}

/// GETs the form; returns its CSRF token and submission key.
async fn open_form(c: &reqwest::Client, server: &Server) -> (String, String, String) {
    let res = c.get(server.url("/report")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    let csrf = input_value(&page, "csrf").expect("csrf field");
    let key = input_value(&page, "submission_key").expect("submission_key field");
    (csrf, key, page)
}

async fn a_resident_reports_with_a_photo(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let c = client();
    let mai_hoang = unit_id(s, "mai hoang").await;

    // The form: light, Vietnamese, no script needed, topics marked.
    let (csrf, key, page) = open_form(&c, &server).await;
    assert!(page.contains("<html lang=\"vi\">") && page.contains("Gửi phản ánh"));
    assert!(page.contains("enctype=\"multipart/form-data\""));
    assert!(page.contains("accept=\"image/jpeg,image/png,image/webp\""));
    assert!(page.contains("value=\"environment\""));
    assert!(
        page.contains("Bảo vệ môi trường (được gửi ẩn danh)")
            && page.contains("Báo ca bệnh truyền nhiễm (bảo mật, không công khai)<"),
        "topics say which may be anonymous"
    );
    assert!(page.len() < 30 * 1024, "form is {} bytes", page.len());
    assert_eq!(key.len(), 32);
    let (_, key2, _) = open_form(&c, &server).await;
    assert_ne!(key, key2, "every form gets its own key");

    // Finding the hamlet without diacritics keeps what was typed.
    let find = Form::new()
        .text("csrf", csrf.clone())
        .text("submission_key", key.clone())
        .text("topic", "environment")
        .text("hamlet_q", "mai hoang")
        .text("description", "Rác đổ trộm ở bờ mương")
        .text("do", "find");
    let res = c
        .post(server.url("/report"))
        .multipart(find)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains(&format!("name=\"hamlet_id\" value=\"{mai_hoang}\"")));
    assert!(
        page.contains("Thôn Mai Hoàng — Xã Phúc Sơn"),
        "commune named"
    );
    assert!(page.contains("Rác đổ trộm ở bờ mương"), "text kept");
    assert!(page.contains("<option value=\"environment\" selected>"));
    assert_eq!(input_value(&page, "submission_key").unwrap(), key);
    // From a hamlet's page.
    let page = c
        .get(server.url(&format!("/report?hamlet_id={mai_hoang}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!(
        "name=\"hamlet_id\" value=\"{mai_hoang}\" required checked"
    )));

    // The photo really carries what must go: EXIF, GPS, the marker, and an
    // orientation the decoder reads.
    let photo = phone_jpeg();
    assert!(contains(&photo, MARKER.as_bytes()) && contains(&photo, b"Exif\0\0"));
    let mut dec = image::ImageReader::with_format(Cursor::new(&photo), image::ImageFormat::Jpeg)
        .into_decoder()
        .unwrap();
    assert_eq!(
        dec.orientation().unwrap(),
        image::metadata::Orientation::Rotate90
    );

    let before = rows(s).await;
    let text = "Rác đổ trộm ở bờ mương cạnh nhà văn hoá, bốc mùi đã một tuần";
    let report = Report {
        csrf: &csrf,
        key: &key,
        topic: "environment",
        hamlet_id: mai_hoang,
        description: text,
        name: "Lê Thị Hoa",
        phone: "0912 345 678",
        anonymous: false,
        photos: vec![("IMG_2041.jpg", photo.clone())],
    };
    let res = c
        .post(server.url("/report"))
        .multipart(report.form())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let code = location
        .strip_prefix("/r/")
        .unwrap_or_else(|| panic!("redirect to the status page, got {location}"))
        .to_string();
    assert_eq!(code.len(), 9);
    assert_eq!(&code[4..5], "-", "shown dashed");
    assert_eq!(rows(s).await, (before.0 + 1, before.1 + 1));
    // Stored with the reporter…
    let stored = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
    assert_eq!(stored.reporter_name.as_deref(), Some("Lê Thị Hoa"));
    assert_eq!(stored.channel.as_str(), "web");
    assert_eq!(stored.description, text);

    // …whom the public page never shows.
    let res = c.get(server.url(&location)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains(&code), "tracking code");
    assert!(page.contains("Hạn xử lý"));
    assert!(page.contains(FeedbackState::Received.label_vi()));
    assert!(page.contains(text));
    assert!(page.contains("Thôn Mai Hoàng"));
    assert!(page.contains("Bảo vệ môi trường"));
    assert!(!page.contains("Ngày xử lý"), "not answered yet");
    for private in ["Lê Thị Hoa", "0912", "912345678", "345 678"] {
        assert!(!page.contains(private), "{private} on the public page");
    }
    assert!(page.contains(&format!("/r/{code}/photos/1")));

    // The photo: still a picture, turned upright, without its metadata.
    let res = c
        .get(server.url(&format!("/r/{code}/photos/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let served = res.bytes().await.unwrap().to_vec();
    assert!(!contains(&served, MARKER.as_bytes()), "marker gone");
    assert!(!contains(&served, b"Exif"), "no EXIF segment");
    assert!(!contains(&served, b"21N18"), "no trace of the GPS");
    let img = image::load_from_memory_with_format(&served, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (8, 16), "orientation applied");
    for missing in [
        "/r/{code}/photos/2",
        "/r/{code}/photos/0",
        "/r/{code}/photos/x",
    ] {
        let url = server.url(&missing.replace("{code}", &code));
        assert_eq!(c.get(url).send().await.unwrap().status(), 404);
    }

    // Reload or double click: the same key is one report.
    let again = c
        .post(server.url("/report"))
        .multipart(report.form())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 303);
    assert_eq!(again.headers()["location"], location.as_str());
    assert_eq!(rows(s).await, (before.0 + 1, before.1 + 1));
    // Two at once.
    let (_, key3, _) = open_form(&c, &server).await;
    let twice = Report {
        key: &key3,
        photos: vec![("a.jpg", plain_jpeg(20, 20))],
        ..report.clone()
    };
    let (r1, r2) = tokio::join!(
        c.post(server.url("/report")).multipart(twice.form()).send(),
        c.post(server.url("/report")).multipart(twice.form()).send()
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (303, 303));
    assert_eq!(r1.headers()["location"], r2.headers()["location"]);
    assert_ne!(r1.headers()["location"], location.as_str());
    assert_eq!(rows(s).await, (before.0 + 2, before.1 + 2));

    // English on request.
    c.get(server.url("/lang?set=en&next=/"))
        .send()
        .await
        .unwrap();
    let page = c
        .get(server.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Due by") && page.contains(FeedbackState::Received.label_en()));

    server.stop();
    db.finish().await;
}
both!(a_resident_reports_with_a_photo);

async fn bad_reports_write_nothing(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let c = client();
    let mai_hoang = unit_id(s, "mai hoang").await;
    let (csrf, _, _) = open_form(&c, &server).await;
    let before = rows(s).await;

    let mut exe = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    exe.extend(std::iter::repeat_n(0x90u8, 4096));
    let big = big_png(1700);
    assert!(big.len() > 8 * 1024 * 1024, "{} bytes", big.len());
    assert!(big.starts_with(b"\x89PNG"));
    let mut corrupt = plain_jpeg(64, 64);
    let n = corrupt.len();
    for (i, b) in corrupt[20..n - 2].iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    let six: Vec<(&str, Vec<u8>)> = (0..6).map(|_| ("p.jpg", plain_jpeg(8, 8))).collect();
    let long = "Nước thải chảy ra đường. ".repeat(170);
    assert!(long.chars().count() > 4000);

    let base = Report {
        csrf: &csrf,
        key: "",
        topic: "environment",
        hamlet_id: mai_hoang,
        description: "Đèn đường ở ngõ 3 bị hỏng đã hai tuần",
        name: "",
        phone: "",
        anonymous: false,
        photos: vec![("ok.jpg", plain_jpeg(8, 8))],
    };
    let cases: Vec<(&str, Report, String)> = vec![
        (
            "an executable named x.jpg",
            Report {
                photos: vec![("ok.jpg", plain_jpeg(8, 8)), ("x.jpg", exe)],
                ..base.clone()
            },
            "Ảnh thứ 2 (x.jpg): tệp này không phải ảnh JPEG, PNG hay WebP".into(),
        ),
        (
            "a PNG over 8 MB",
            Report {
                photos: vec![("to.png", big)],
                ..base.clone()
            },
            "Ảnh thứ 1 (to.png): ảnh lớn hơn 8 MB".into(),
        ),
        (
            "a 6th photo",
            Report {
                photos: six,
                ..base.clone()
            },
            "Ảnh thứ 6 (p.jpg): chỉ gửi được tối đa 5 ảnh".into(),
        ),
        (
            "a PNG declaring 20000 × 20000 pixels",
            Report {
                photos: vec![("bom.png", bomb_png(20_000, 20_000))],
                ..base.clone()
            },
            "Ảnh thứ 1 (bom.png): ảnh có kích thước quá lớn (tối đa 50 megapixel".into(),
        ),
        (
            "a PNG declaring 8000 × 8000 pixels (64 megapixels)",
            Report {
                photos: vec![("bom2.png", bomb_png(8_000, 8_000))],
                ..base.clone()
            },
            "Ảnh thứ 1 (bom2.png): ảnh có kích thước quá lớn".into(),
        ),
        (
            "a corrupt JPEG",
            Report {
                photos: vec![("hong.jpg", corrupt)],
                ..base.clone()
            },
            "Ảnh thứ 1 (hong.jpg): ảnh bị hỏng, không mở được".into(),
        ),
        (
            "a description over 4000 characters",
            Report {
                description: &long,
                ..base.clone()
            },
            "Nội dung dài quá 4000 ký tự".into(),
        ),
        (
            "anonymous on a topic that needs a name",
            Report {
                topic: "disease_case",
                anonymous: true,
                ..base.clone()
            },
            "Chủ đề «Báo ca bệnh truyền nhiễm» không nhận phản ánh ẩn danh".into(),
        ),
        (
            "no hamlet",
            Report {
                hamlet_id: 0,
                ..base.clone()
            },
            "Hãy tìm và chọn thôn nơi xảy ra việc".into(),
        ),
        (
            "no topic",
            Report {
                topic: "",
                ..base.clone()
            },
            "Hãy chọn chủ đề".into(),
        ),
        (
            "a bad phone number",
            Report {
                phone: "12345",
                ..base.clone()
            },
            danvan_domain::FieldError::InvalidPhone.message_vi(),
        ),
    ];
    for (i, (what, report, message)) in cases.into_iter().enumerate() {
        let key = format!("bad-{i}");
        let report = Report {
            key: &key,
            ..report
        };
        let res = c
            .post(server.url("/report"))
            .multipart(report.form())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{what}");
        let page = res.text().await.unwrap();
        assert!(
            page.contains(&message),
            "{what}: «{message}» not in the page"
        );
        assert!(page.contains("Phản ánh chưa được gửi"), "{what}");
        assert!(
            page.contains(report.description),
            "{what}: the text is kept"
        );
        assert!(
            page.contains("id=\"photos-again\""),
            "{what}: photos to choose again"
        );
        assert_eq!(rows(s).await, before, "{what}: nothing written");
    }
    assert!(PhotoError::NotAnImage
        .message_vi()
        .ends_with("không phải ảnh JPEG, PNG hay WebP"));

    // Without the form's token, or from elsewhere: refused.
    let good = Report {
        key: "csrf-1",
        ..base.clone()
    };
    let no_token = Report {
        csrf: "",
        ..good.clone()
    };
    let res = c
        .post(server.url("/report"))
        .multipart(no_token.form())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let wrong = "0".repeat(64);
    let res = c
        .post(server.url("/report"))
        .multipart(
            Report {
                csrf: &wrong,
                ..good.clone()
            }
            .form(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let stranger = client();
    let res = stranger
        .post(server.url("/report"))
        .multipart(good.form())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "token without its cookie");
    assert_eq!(rows(s).await, before);

    // A confidential topic: received, but its status page and photos are
    // not public.
    let tip = Report {
        key: "tip-1",
        topic: "crime_tip",
        description: "Có nhóm thanh niên tụ tập sử dụng ma túy ở nhà hoang",
        anonymous: true,
        ..good.clone()
    };
    let res = c
        .post(server.url("/report"))
        .multipart(tip.form())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let code = location
        .strip_prefix("/report/sent/")
        .unwrap_or_else(|| panic!("receipt page, got {location}"))
        .to_string();
    assert_eq!(rows(s).await, (before.0 + 1, before.1 + 1));
    let stored = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
    assert!(stored.confidential && stored.anonymous && stored.reporter_name.is_none());
    let receipt = c.get(server.url(&location)).send().await.unwrap();
    assert_eq!(receipt.status(), 200);
    assert!(receipt.text().await.unwrap().contains(&code));
    for url in [
        format!("/r/{code}"),
        format!("/r/{code}/photos/1"),
        "/r/ZZZZ-ZZZZ".into(),
        "/r/not-a-code".into(),
    ] {
        let res = c.get(server.url(&url)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{url}");
        let page = res.text().await.unwrap();
        assert!(!page.contains("ma túy"), "{url}");
    }

    server.stop();
    db.finish().await;
}
both!(bad_reports_write_nothing);

async fn a_resident_reports_in_the_browser(b: Backend) {
    let browser = Browser::start().await;
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;
    let before = rows(s).await;

    browser.goto(&server.url("/report")).await;
    browser.wait_for("h1", |t| t.contains("Gửi phản ánh")).await;
    // The hamlet, typed without diacritics.
    browser.type_into("#hamlet_q", "mai hoang").await;
    let find = browser.find("#find-hamlet").await;
    browser.click(&find).await;
    let hamlet = browser
        .wait_for("#hamlet-results label", |t| t.contains("Thôn Mai Hoàng"))
        .await;
    browser.click(&hamlet).await;
    let topic = browser.find("#topic option[value=environment]").await;
    browser.click(&topic).await;
    let text = "Cống thoát nước ở xóm Đình bị tắc, nước tràn ra đường";
    browser.type_into("#description", text).await;
    let send = browser.find("#send").await;
    browser.click(&send).await;

    let code = browser
        .wait_for("#tracking-code", |t| {
            t.len() == 9 && t.as_bytes()[4] == b'-'
        })
        .await;
    let code = browser.text(&code).await.unwrap();
    assert!(browser.url().await.ends_with(&format!("/r/{code}")));
    browser
        .wait_for("#description", |t| t.contains("Cống thoát nước"))
        .await;
    browser.wait_for("dt", |t| t == "Hạn xử lý").await;
    browser
        .wait_for("#state", |t| t.contains(FeedbackState::Received.label_vi()))
        .await;
    browser.wait_for("#hamlet", |t| t == "Thôn Mai Hoàng").await;
    let f = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
    assert_eq!(f.description, text);
    assert_eq!(f.topic_code, "environment");
    assert_eq!(rows(s).await, (before.0 + 1, before.1));

    drop(browser);
    server.stop();
    db.finish().await;
}
both!(a_resident_reports_in_the_browser);

/// At most `max` reports per client address in the window: corrections of
/// a refused form do not count, the one over the limit gets 429 with its
/// text kept and writes nothing, another address is not held back.
async fn the_form_is_rate_limited_per_address(b: Backend) {
    use danvan_web::rate_limit::{Limit, RateLimits};
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let limits = RateLimits {
        report_per_ip: Limit {
            max: 2,
            window: std::time::Duration::from_secs(600),
        },
        ..RateLimits::default()
    };
    let server = Server::start_with_limits(s, limits).await;
    let c = client();
    let mai_hoang = unit_id(s, "mai hoang").await;
    let (csrf, _, _) = open_form(&c, &server).await;
    let report = |key: &'static str, description: &'static str| Report {
        csrf: "",
        key,
        topic: "environment",
        hamlet_id: mai_hoang,
        description,
        name: "",
        phone: "",
        anonymous: false,
        photos: vec![("ok.jpg", plain_jpeg(8, 8))],
    };
    let send =
        |c: &reqwest::Client, r: Report| c.post(server.url("/report")).multipart(r.form()).send();

    let before = rows(s).await;
    // A refused form takes no place.
    let bad = Report {
        csrf: &csrf,
        topic: "",
        ..report("r-0", "Thiếu chủ đề")
    };
    assert_eq!(send(&c, bad).await.unwrap().status(), 400);
    for (key, text) in [("r-1", "Cống tắc ở ngõ 5"), ("r-2", "Rác ở bờ mương")] {
        let r = Report {
            csrf: &csrf,
            ..report(key, text)
        };
        assert_eq!(send(&c, r).await.unwrap().status(), 303, "{key}");
    }
    assert_eq!(rows(s).await, (before.0 + 2, before.1 + 2));

    let third = Report {
        csrf: &csrf,
        ..report("r-3", "Đèn đường hỏng ở ngõ 7")
    };
    let res = send(&c, third).await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "600");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Từ địa chỉ mạng này đã có nhiều phản ánh được gửi trong ít phút"),
        "{page}"
    );
    assert!(page.contains("Đèn đường hỏng ở ngõ 7"), "the text is kept");
    assert_eq!(
        rows(s).await,
        (before.0 + 2, before.1 + 2),
        "nothing written"
    );
    // Finding a hamlet is no report and still works.
    let find = Form::new()
        .text("csrf", csrf.clone())
        .text("hamlet_q", "mai hoang")
        .text("do", "find");
    let res = c
        .post(server.url("/report"))
        .multipart(find)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Another address (loopback has them all) has its own window.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let (csrf2, _, _) = open_form(&other, &server).await;
    let r = Report {
        csrf: &csrf2,
        ..report("o-1", "Đèn đường hỏng ở ngõ 7")
    };
    assert_eq!(send(&other, r).await.unwrap().status(), 303);
    assert_eq!(rows(s).await, (before.0 + 3, before.1 + 3));

    server.stop();
    db.finish().await;
}
both!(the_form_is_rate_limited_per_address);
