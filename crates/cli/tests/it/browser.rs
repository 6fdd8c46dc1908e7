//! A person's path through the app in a real, headless Chromium: log in,
//! search without diacritics, open a household, upload a file with an error.
//!
//! Needs `chromedriver` and `chromium` (Debian: chromium-driver, chromium);
//! `CHROMEDRIVER` and `CHROMIUM` override their paths. A missing driver fails
//! the test: CI installs it, and a browser test that skips proves nothing.
//!
//! The WebDriver client below is a few W3C calls over reqwest, which the tests
//! already use. fantoccini would need a TLS stack or hyper connector plumbing
//! for a driver that only ever listens on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use danvan_domain::FieldError;
use danvan_store::Scope;
use serde_json::{json, Value};

use crate::common::{unit_id, Backend, Server, TestDb, PW};

/// How long to wait for an element or a page to appear.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// The key under which W3C WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver child process with one browser session. Dropping it (also
/// when an assertion fails) ends the session, which closes Chromium, and
/// kills the driver.
pub(crate) struct Browser {
    http: reqwest::Client,
    driver: String,
    session: String,
    child: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        let exe = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            PathBuf::from(&exe).is_file(),
            "chromedriver not found at {exe}: install chromium-driver or set CHROMEDRIVER"
        );
        assert!(
            PathBuf::from(&chromium).is_file(),
            "chromium not found at {chromium}: install chromium or set CHROMIUM"
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = profile.path().join("chromedriver.log");
        let mut child = Command::new(&exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("driver log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver at {exe}: {e}"));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let driver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let out = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("chromedriver exited ({status}): {out}");
            }
            let ready = match http.get(format!("{driver}/status")).send().await {
                Ok(res) => res.json::<Value>().await.ok(),
                Err(_) => None,
            };
            if ready.is_some_and(|v| v["value"]["ready"] == true) {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromedriver on port {port} did not become ready");
            }
            tokio::time::sleep(POLL).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().join("chrome").display()),
                ],
            },
        }}});
        let res = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await;
        let body: Value = match res {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(e) => Value::String(e.to_string()),
        };
        let Some(session) = body["value"]["sessionId"].as_str().map(str::to_string) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no browser session: {body}");
        };
        Browser {
            http,
            driver,
            session,
            child,
            _profile: profile,
        }
    }

    /// One WebDriver command on the session; `Err` is the driver's error.
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.driver, self.session);
        let mut req = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        let ok = res.status().is_success();
        let v: Value = res.json().await.map_err(|e| e.to_string())?;
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(format!("{} {}", v["value"]["error"], v["value"]["message"]))
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.cmd(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.cmd(reqwest::Method::GET, path, Value::Null).await
    }

    /// Logs in through the login form with the demo password and waits
    /// for the home page.
    pub(crate) async fn log_in(&self, server: &Server, username: &str) {
        self.goto(&server.url("/login")).await;
        self.type_into("#login", username).await;
        self.type_into("#password", PW).await;
        let submit = self.find("main form button[type=submit]").await;
        self.click(&submit).await;
        self.wait_for("h1", |t| t.contains("Xin chào")).await;
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }))
            .await
            .expect("navigate");
    }

    pub(crate) async fn url(&self) -> String {
        let v = self.get("/url").await.expect("current url");
        v.as_str().unwrap_or_default().to_string()
    }

    /// Elements matching `css` under `from` (an element) or the document.
    pub(crate) async fn all(&self, from: Option<&str>, css: &str) -> Result<Vec<String>, String> {
        let path = from.map_or("/elements".to_string(), |e| {
            format!("/element/{e}/elements")
        });
        let v = self
            .post(&path, json!({"using": "css selector", "value": css}))
            .await?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
            .collect())
    }

    pub(crate) async fn text(&self, el: &str) -> Result<String, String> {
        let v = self.get(&format!("/element/{el}/text")).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Waits for the first element matching `css` whose text satisfies `ok`.
    pub(crate) async fn wait_for(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            seen.clear();
            // Errors (a stale element while the page changes) just mean "not yet".
            for el in self.all(None, css).await.unwrap_or_default() {
                if let Ok(t) = self.text(&el).await {
                    if ok(&t) {
                        return el;
                    }
                    seen.push(t);
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "no `{css}` as expected on {} after {WAIT:?}; saw {seen:?}",
                    self.url().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        self.wait_for(css, |_| true).await
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/value"), json!({ "text": text }))
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Empties a text field, then types `text` into it.
    pub(crate) async fn replace_text(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/clear"), json!({}))
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        self.type_into(css, text).await;
    }

    pub(crate) async fn click(&self, el: &str) {
        self.post(&format!("/element/{el}/click"), json!({}))
            .await
            .unwrap_or_else(|e| panic!("click: {e}"));
    }

    /// An attribute of an element, as written in the page.
    pub(crate) async fn attribute(&self, el: &str, name: &str) -> Option<String> {
        let v = self
            .get(&format!("/element/{el}/attribute/{name}"))
            .await
            .ok()?;
        v.as_str().map(str::to_string)
    }

    /// Resizes the browser's window (the page's width follows it).
    pub(crate) async fn set_window(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await
            .unwrap_or_else(|e| panic!("resize to {width}×{height}: {e}"));
    }

    /// An element's box on the page: (x, y, width, height) in CSS pixels.
    pub(crate) async fn rect(&self, el: &str) -> (f64, f64, f64, f64) {
        let v = self
            .get(&format!("/element/{el}/rect"))
            .await
            .unwrap_or_else(|e| panic!("rect: {e}"));
        let n = |k: &str| v[k].as_f64().unwrap_or(0.0);
        (n("x"), n("y"), n("width"), n("height"))
    }

    /// A PNG of one element as drawn, scrolled to the top of the window
    /// first (Chromium cuts an element's screenshot at the window's edge).
    pub(crate) async fn element_screenshot(&self, el: &str) -> Option<Vec<u8>> {
        self.post(
            "/execute/sync",
            json!({"script": "arguments[0].scrollIntoView({block: 'start'})", "args": [{ELEMENT: el}]}),
        )
        .await
        .ok()?;
        let v = self.get(&format!("/element/{el}/screenshot")).await.ok()?;
        base64_decode(v.as_str()?)
    }

    pub(crate) async fn screenshot(&self) -> Option<Vec<u8>> {
        let v = self.get("/screenshot").await.ok()?;
        base64_decode(v.as_str()?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Synchronous, so it also runs while a failed assertion unwinds.
        let port = self.driver.rsplit(':').next().unwrap_or_default();
        if let Ok(mut s) = TcpStream::connect(format!("127.0.0.1:{port}")) {
            let _ = s.set_read_timeout(Some(WAIT));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

async fn a_person_logs_in_searches_and_imports(b: Backend) {
    // The browser first: without a driver, fail before making a database.
    let browser = Browser::start().await;
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let server = Server::start(s).await;

    // 1. Log in through the form.
    browser.log_in(&server, "xa.phucson").await;

    // 2. Search without diacritics from the home page, open the household.
    browser
        .type_into("main form[role=search] #q", "nguyen van an")
        .await;
    let submit = browser
        .find("main form[role=search] button[type=submit]")
        .await;
    browser.click(&submit).await;
    let link = browser
        .wait_for("#household-results a, #resident-results a", |t| {
            t == "Nguyễn Văn An"
        })
        .await;
    assert!(
        browser.url().await.contains("/search?"),
        "on the results page"
    );
    browser.click(&link).await;
    browser
        .wait_for("#household-head", |t| t == "Nguyễn Văn An")
        .await;
    assert!(browser.url().await.contains("/households/"));
    let code = browser.find("#household-code").await;
    assert!(
        !browser.text(&code).await.unwrap().trim().is_empty(),
        "household code"
    );
    let rows = browser.all(None, "#residents tbody tr").await.unwrap();
    assert!(!rows.is_empty(), "the household lists its residents");

    // 3. Upload a file whose sheet row 122 has a bad phone number.
    let phuc_son = unit_id(s, "xa phuc son").await;
    let path = s.unit(&Scope::all(), phuc_son).await.unwrap().path;
    let before = s.counts(&path).await.unwrap();
    let bad = "NK00040,Lương Văn Sai,1970,Nam,Chủ hộ,12345,,Thôn Mai Hoàng,Xã Phúc Sơn,Xóm,Điện thoại thường,";
    let file = crate::import::file(60, &[(120, bad.into())]);
    browser
        .goto(&server.url(&format!("/import?unit={phuc_son}")))
        .await;
    browser
        .type_into("#file", &file.path().display().to_string())
        .await;
    let submit = browser
        .find("main form[action=\"/import\"] button[type=submit]")
        .await;
    browser.click(&submit).await;
    browser.find("#import-errors").await;
    let mut found = Vec::new();
    for tr in browser.all(None, "#import-errors tbody tr").await.unwrap() {
        let mut cells = Vec::new();
        for td in browser.all(Some(&tr), "td").await.unwrap() {
            cells.push(browser.text(&td).await.unwrap());
        }
        found.push(cells);
    }
    let row = found
        .iter()
        .find(|c| c.len() == 4 && c[0] == "122" && c[1] == "Số điện thoại")
        .unwrap_or_else(|| panic!("row 122, Số điện thoại in {found:?}"));
    assert_eq!(row[2], "12345");
    assert_eq!(
        row[3],
        FieldError::InvalidPhone.message_vi(),
        "in Vietnamese"
    );
    if let Some(png) = browser.screenshot().await {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target");
        let tmp = dir.join(format!("browser-import-errors.{b:?}.png"));
        if std::fs::write(&tmp, png).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join("browser-import-errors.png"));
        }
    }
    assert_eq!(
        s.counts(&path).await.unwrap(),
        before,
        "nothing was imported"
    );

    drop(browser);
    server.stop();
    db.finish().await;
}
both!(a_person_logs_in_searches_and_imports);
