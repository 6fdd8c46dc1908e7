//! Test databases, a running server, and an HTTP client with cookies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use danvan_store::{Scope, Store, SystemClock};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async scenario on both backends.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    };
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn postgres_admin_url() -> String {
    std::env::var("DANVAN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, dropped by `finish`.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("t.db").display());
                let store = Store::connect_with_clock(&url, Arc::new(SystemClock))
                    .await
                    .expect("sqlite");
                store.migrate().await.expect("migrate");
                TestDb {
                    store,
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!("dv_test_{}_{}_{}", std::process::id(), n, rand_u32());
                let admin = postgres_admin_url();
                let admin_store = Store::connect(&admin)
                    .await
                    .expect("PostgreSQL at DANVAN_TEST_POSTGRES");
                if let danvan_store::Db::Postgres(p) = &admin_store.db {
                    sqlx::query(&format!("CREATE DATABASE {name}"))
                        .execute(p)
                        .await
                        .expect("create database");
                }
                admin_store.close().await;
                let url = replace_db(&admin, &name);
                let store = Store::connect(&url).await.expect("connect test db");
                store.migrate().await.expect("migrate");
                TestDb {
                    store,
                    url,
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// With the pilot's demo data loaded.
    pub async fn demo(backend: Backend) -> TestDb {
        let db = TestDb::new(backend).await;
        danvan::demo::load(&db.store, &danvan_demo::pilot())
            .await
            .expect("demo loads");
        db
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some(name) = self.pg_name {
            let admin = Store::connect(&postgres_admin_url()).await.expect("admin");
            if let danvan_store::Db::Postgres(p) = &admin.db {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(p)
                    .await;
            }
            admin.close().await;
        }
    }
}

fn replace_db(url: &str, name: &str) -> String {
    match url.rfind('/') {
        Some(i)
            if url[..i].contains("://")
                && url[..i].len() > url.find("://").map_or(0, |j| j + 2) =>
        {
            let (base, rest) = url.split_at(i);
            let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
            format!("{base}/{name}{query}")
        }
        _ => format!("{url}/{name}"),
    }
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    t ^ (std::process::id() << 8)
}

/// A server on a free loopback port, serving the test database.
pub struct Server {
    pub base: String,
    handle: tokio::task::JoinHandle<()>,
    _uploads: tempfile::TempDir,
}

impl Server {
    pub async fn start(store: &Store) -> Server {
        Server::start_with_limits(store, danvan_web::rate_limit::RateLimits::default()).await
    }

    /// With rate limits of its own (small ones, to reach them).
    pub async fn start_with_limits(
        store: &Store,
        limits: danvan_web::rate_limit::RateLimits,
    ) -> Server {
        Server::start_behind(store, limits, Default::default()).await
    }

    /// Behind reverse proxies: their `X-Forwarded-For` names the client.
    pub async fn start_behind(
        store: &Store,
        limits: danvan_web::rate_limit::RateLimits,
        trusted_proxies: danvan_web::client::TrustedProxies,
    ) -> Server {
        Server::start_full(store, limits, trusted_proxies, false).await
    }

    /// As behind HTTPS: cookies `Secure`.
    pub async fn start_secure(store: &Store) -> Server {
        Server::start_full(store, Default::default(), Default::default(), true).await
    }

    async fn start_full(
        store: &Store,
        limits: danvan_web::rate_limit::RateLimits,
        trusted_proxies: danvan_web::client::TrustedProxies,
        secure_cookies: bool,
    ) -> Server {
        let uploads = tempfile::tempdir().expect("uploads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = danvan_web::AppState {
            store: store.clone(),
            secure_cookies,
            upload_dir: uploads.path().to_path_buf(),
            public_url: None,
            trusted_proxies,
        };
        let handle = tokio::spawn(async move {
            let _ = danvan_web::serve_on_with_limits(state, listener, limits).await;
        });
        Server {
            base: format!("http://{addr}"),
            handle,
            _uploads: uploads,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn stop(self) {
        self.handle.abort();
    }
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of `<input … name="NAME" … value="…">` in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + 7;
    let end = tag[v..].find('"')? + v;
    Some(tag[v..end].to_string())
}

/// Logs in through the form; returns the client (with its session cookie)
/// and the CSRF token of the session.
pub async fn login(server: &Server, username: &str, password: &str) -> (reqwest::Client, String) {
    login_at(&server.base, username, password).await
}

/// `login` on a server at `base` (`http://host:port`), in this process or not.
pub async fn login_at(base: &str, username: &str, password: &str) -> (reqwest::Client, String) {
    let url = |path: &str| format!("{base}{path}");
    let c = client();
    let page = c
        .get(url("/login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    let csrf = input_value(&page, "csrf").expect("csrf on login form");
    let res = c
        .post(url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303, "login of {username} should redirect");
    let home = c
        .get(url("/account/password"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    let token = input_value(&home, "csrf").expect("session csrf");
    (c, token)
}

pub const PW: &str = danvan::demo::DEMO_PASSWORD;

/// The id of the first unit whose name matches `q` (without diacritics).
pub async fn unit_id(store: &Store, q: &str) -> i64 {
    store
        .search_units(&Scope::all(), q, 10)
        .await
        .expect("search units")
        .first()
        .unwrap_or_else(|| panic!("no unit {q}"))
        .id
}

/// The SMS queued for an item, oldest first: (recipient, body).
pub async fn outbox_for(store: &Store, feedback_id: i64) -> Vec<(String, String)> {
    const SQL: &str = "SELECT recipient, body FROM outbox WHERE feedback_id = $1 ORDER BY id";
    match &store.db {
        danvan_store::Db::Sqlite(p) => sqlx::query_as(SQL)
            .bind(feedback_id)
            .fetch_all(p)
            .await
            .unwrap(),
        danvan_store::Db::Postgres(p) => sqlx::query_as(SQL)
            .bind(feedback_id)
            .fetch_all(p)
            .await
            .unwrap(),
    }
}

/// The one-time codes sent to the reporter of `feedback_id`, oldest first,
/// read off the SMS as the reporter's phone would show them.
pub async fn reporter_codes(store: &Store, feedback_id: i64) -> Vec<String> {
    outbox_for(store, feedback_id)
        .await
        .into_iter()
        .filter(|(_, body)| body.starts_with("Ma xac nhan"))
        .filter_map(|(_, body)| {
            body.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_string)
        })
        .collect()
}

/// A phone number of a resident in `username`'s team, and the hamlet of
/// that resident's household (SMS reports are placed by the phone).
pub async fn team_resident_phone(store: &Store, username: &str) -> (String, i64) {
    let member = store.principal_by_username(username).await.expect("member");
    for h in store
        .team_households(
            &danvan_store::Scope::all(),
            member.team_id.expect("a team role"),
        )
        .await
        .expect("households")
    {
        let phone = store
            .residents(&danvan_store::Scope::all(), h.id)
            .await
            .expect("residents")
            .into_iter()
            .find_map(|r| r.phone);
        if let Some(p) = phone {
            return (p, h.hamlet_id);
        }
    }
    panic!("no resident with a phone in {username}'s team");
}

/// A bearer token for `username` (the JSON API's tests).
pub async fn api_token(store: &Store, username: &str) -> String {
    store
        .create_api_token(&danvan_store::Actor::cli(), username, "test")
        .await
        .expect("token")
}

/// A JSON request with a bearer token: (status, body, or null).
pub async fn api_send(
    server: &Server,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Rows of a table (the tests' look behind the API).
pub async fn count_rows(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let (n,): (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(&sql)
        .fetch_one(p)
        .await
        .expect("count"));
    n
}

/// The demo on a running server with the commune's officer `xa.phucson`
/// as its leader: the scene of the announcement tests (Mai Hoàng, a
/// hamlet of the commune Phúc Sơn).
pub struct PilotScene {
    pub db: TestDb,
    pub server: Server,
    pub mai_hoang: i64,
    pub phuc_son: i64,
}

impl PilotScene {
    pub async fn start(backend: Backend) -> PilotScene {
        let db = TestDb::demo(backend).await;
        db.store
            .set_leads_unit(&danvan_store::Actor::cli(), "xa.phucson", true)
            .await
            .expect("leader");
        let server = Server::start(&db.store).await;
        let mai_hoang = unit_id(&db.store, "mai hoang").await;
        let phuc_son = db
            .store
            .unit(&Scope::all(), mai_hoang)
            .await
            .expect("hamlet")
            .parent_id
            .expect("its commune");
        PilotScene {
            db,
            server,
            mai_hoang,
            phuc_son,
        }
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    pub async fn finish(self) {
        self.server.stop();
        self.db.finish().await;
    }
}
