//! Answers leave gzip-compressed when the client accepts it (issue 14 item
//! 7: every page was 3–7 times larger than needed on 3G): pages, CSS and
//! JSON, read back whole; a client that does not ask gets them plain.

use std::io::Read;

use crate::common::{login, Backend, Server, TestDb, PW};

/// The body as sent, and its Content-Encoding.
async fn fetch(c: &reqwest::Client, url: &str, gzip: bool) -> (Vec<u8>, Option<String>, String) {
    let mut req = c.get(url);
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let encoding = header("content-encoding");
    let vary = header("vary").unwrap_or_default();
    (res.bytes().await.unwrap().to_vec(), encoding, vary)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip stream");
    out
}

async fn pages_css_and_json_leave_gzipped(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Server::start(s).await;
    let (c, _) = login(&srv, "xa.phucson", PW).await;
    let (team,): (i64,) = danvan_store::on_db!(&s.db, |p| {
        sqlx::query_as("SELECT id FROM teams WHERE code = 'PS-MH-T1'")
            .fetch_one(p)
            .await
            .unwrap()
    });

    // A team's page: 41 households, as a phone on 3G would fetch it.
    let page = srv.url(&format!("/teams/{team}"));
    let (plain, encoding, _) = fetch(&c, &page, false).await;
    assert_eq!(encoding, None, "not asked, not compressed");
    let (zipped, encoding, vary) = fetch(&c, &page, true).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(vary.to_lowercase().contains("accept-encoding"), "{vary}");
    let page_text = String::from_utf8(gunzip(&zipped)).unwrap();
    assert_eq!(page_text.as_bytes(), plain.as_slice(), "the same page");
    assert!(page_text.contains("Tổ dân vận số 1"), "{page_text}");
    assert!(
        zipped.len() * 3 <= plain.len(),
        "{} bytes gzip-encoded against {} plain: less than 3 times smaller",
        zipped.len(),
        plain.len()
    );

    // The style sheet and the API's JSON too.
    for url in [srv.url("/static/app.css"), srv.url("/api/v1/openapi.json")] {
        let (plain, _, _) = fetch(&c, &url, false).await;
        let (zipped, encoding, _) = fetch(&c, &url, true).await;
        assert_eq!(encoding.as_deref(), Some("gzip"), "{url}");
        assert_eq!(gunzip(&zipped), plain, "{url}");
        assert!(zipped.len() < plain.len(), "{url}");
    }
    // A tiny answer is not worth it.
    let (ok, encoding, _) = fetch(&c, &srv.url("/healthz"), true).await;
    assert_eq!((ok.as_slice(), encoding), (&b"ok"[..], None));

    srv.stop();
    db.finish().await;
}
both!(pages_css_and_json_leave_gzipped);
