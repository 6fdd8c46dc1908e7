//! Open311 GeoReport v2 over real HTTP, in JSON and in XML (read back with
//! a strict XML parser): discovery, services, creating with an API token,
//! reading back, filters, the standard's error shape, confidentiality and
//! escaping.

use std::sync::Arc;

use chrono::{Duration, Utc};
use danvan_domain::calendar::iso_local;
use danvan_domain::feedback::{Channel, Severity};
use danvan_store::feedback::{Action, NewFeedback, Viewer};
use danvan_store::{Actor, FixedClock, Store};
use serde_json::Value;

use crate::common::{unit_id, Backend, TestDb};

const JSON: &str = "application/json; charset=utf-8";
const XML: &str = "text/xml; charset=utf-8";

/// A form body, in order.
type Fields = Vec<(String, String)>;

/// The Open311 router on a loopback port. It is served on its own until
/// the main router mounts it at /open311/v2; then `Server::start` serves
/// the same URLs.
struct Srv {
    base: String,
    handle: tokio::task::JoinHandle<()>,
    client: reqwest::Client,
    _uploads: tempfile::TempDir,
}

struct Res {
    status: u16,
    content_type: String,
    body: String,
}

impl Res {
    fn json(&self) -> Value {
        assert_eq!(self.content_type, JSON, "{}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn xml(&self) -> roxmltree::Document<'_> {
        assert_eq!(self.content_type, XML, "{}", self.body);
        assert!(
            self.body
                .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
            "{}",
            self.body
        );
        roxmltree::Document::parse(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Srv {
    async fn start(store: &Store) -> Srv {
        let uploads = tempfile::tempdir().unwrap();
        let state = danvan_web::AppState {
            store: store.clone(),
            secure_cookies: false,
            upload_dir: uploads.path().to_path_buf(),
            public_url: None,
            trusted_proxies: Default::default(),
        };
        // The whole router, as `danvan serve` mounts it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let _ = danvan_web::serve_on(state, listener).await;
        });
        Srv {
            base,
            handle,
            client: reqwest::Client::new(),
            _uploads: uploads,
        }
    }

    fn url(&self, file: &str) -> String {
        format!("{}/open311/v2/{file}", self.base)
    }

    async fn read(res: reqwest::Response) -> Res {
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Res {
            status,
            content_type,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&self, file: &str) -> Res {
        Self::read(self.client.get(self.url(file)).send().await.unwrap()).await
    }

    async fn get_q(&self, file: &str, query: &[(&str, &str)]) -> Res {
        let res = self
            .client
            .get(self.url(file))
            .query(query)
            .send()
            .await
            .unwrap();
        Self::read(res).await
    }

    async fn post(&self, file: &str, form: &[(String, String)]) -> Res {
        let res = self
            .client
            .post(self.url(file))
            .form(form)
            .send()
            .await
            .unwrap();
        Self::read(res).await
    }

    fn stop(self) {
        self.handle.abort();
    }
}

/// The first child element called `name`.
fn kid<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .unwrap_or_else(|| panic!("<{name}> under <{}>", n.tag_name().name()))
}

fn kids<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children()
        .filter(|c| c.is_element() && c.tag_name().name() == name)
        .collect()
}

fn kid_text(n: roxmltree::Node, name: &str) -> String {
    kid(n, name).text().unwrap_or("").to_string()
}

/// The standard's error shape with `code`, in the format asked for.
fn assert_error(r: &Res, xml: bool, code: u16) {
    assert_eq!(r.status, code, "{}", r.body);
    if xml {
        let doc = r.xml();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "errors");
        let errors = kids(root, "error");
        assert_eq!(errors.len(), 1);
        assert_eq!(kid_text(errors[0], "code"), code.to_string());
        assert!(!kid_text(errors[0], "description").is_empty());
    } else {
        let v = r.json();
        let errors = v.as_array().expect("an array of errors");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["code"], code);
        assert!(!errors[0]["description"].as_str().unwrap().is_empty());
    }
}

/// Feedback rows in the database, confidential or not.
async fn stored(s: &Store) -> i64 {
    danvan_store::on_db!(&s.db, |p| {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM feedback")
            .fetch_one(p)
            .await
            .unwrap()
            .0
    })
}

fn form(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A complete report; tests add or replace fields.
fn report(key: &str, hamlet: i64, service: &str, description: &str) -> Fields {
    form(&[
        ("api_key", key),
        ("service_code", service),
        ("attribute[hamlet_id]", &hamlet.to_string()),
        ("lat", "21.4123"),
        ("long", "106.1456"),
        ("description", description),
        ("first_name", "Thị Hoa"),
        ("last_name", "Lê"),
        ("phone", "0912 345 678"),
    ])
}

fn with(mut f: Fields, key: &str, value: &str) -> Fields {
    f.retain(|(k, _)| k != key);
    f.push((key.to_string(), value.to_string()));
    f
}

fn without(mut f: Fields, key: &str) -> Fields {
    f.retain(|(k, _)| k != key);
    f
}

/// Creates a request through the API; its tracking code.
async fn create(srv: &Srv, f: &[(String, String)]) -> String {
    let r = srv.post("requests.json", f).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Tracking codes of a JSON listing.
fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array of requests")
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_string())
        .collect()
}

async fn token(s: &Store) -> String {
    s.create_api_token(&Actor::cli(), "xa.phucson", "open311 test")
        .await
        .unwrap()
}

async fn discovery_and_services(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Srv::start(s).await;

    let d = srv.get("discovery.json").await.json();
    let ep = &d["endpoints"][0];
    assert_eq!(ep["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(ep["url"], format!("{}/open311/v2", srv.base));
    assert_eq!(ep["type"], "production");
    assert_eq!(
        ep["formats"],
        serde_json::json!(["application/json", "text/xml"])
    );
    assert!(d["changeset"].as_str().unwrap().ends_with("+07:00"));
    assert!(d["key_service"].is_string() && d["contact"].is_string());

    let r = srv.get("discovery.xml").await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "discovery");
    let ep = kid(kid(root, "endpoints"), "endpoint");
    assert_eq!(kid_text(ep, "url"), format!("{}/open311/v2", srv.base));
    assert_eq!(
        kid_text(ep, "specification"),
        "http://wiki.open311.org/GeoReport_v2"
    );
    let formats: Vec<_> = kids(kid(ep, "formats"), "format")
        .iter()
        .map(|f| f.text().unwrap().to_string())
        .collect();
    assert_eq!(formats, ["application/json", "text/xml"]);

    // Every active topic is a service, the confidential ones included.
    let services = srv.get("services.json").await.json();
    let codes: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["service_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "epidemic",
            "security",
            "environment",
            "crime_tip",
            "disease_case"
        ]
    );
    let env = &services[2];
    assert_eq!(env["service_name"], "Bảo vệ môi trường");
    assert_eq!(env["metadata"], true);
    assert_eq!(env["type"], "realtime");
    assert_eq!(env["group"], "Công khai");
    assert!(env["keywords"].as_str().unwrap().contains("rac thai"));
    assert_eq!(services[3]["group"], "Bảo mật");

    let r = srv.get("services.xml").await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "services");
    let xs = kids(root, "service");
    assert_eq!(xs.len(), 5);
    assert_eq!(kid_text(xs[3], "service_code"), "crime_tip");
    assert_eq!(kid_text(xs[3], "service_name"), "Tố giác tội phạm, ma túy");
    assert_eq!(kid_text(xs[2], "metadata"), "true");
    assert_eq!(kid_text(xs[2], "type"), "realtime");

    let def = srv.get("services/environment.json").await.json();
    assert_eq!(def["service_code"], "environment");
    let hamlet = &def["attributes"][0];
    assert_eq!(hamlet["code"], "hamlet_id");
    // Not required: a point or an address places the request instead.
    assert_eq!(hamlet["required"], false);
    assert_eq!(hamlet["datatype"], "string");
    assert!(hamlet["description"]
        .as_str()
        .unwrap()
        .contains("/api/v1/units?q="));
    let severity = &def["attributes"][1];
    assert_eq!(severity["code"], "severity");
    assert_eq!(severity["required"], false);
    assert_eq!(severity["datatype"], "singlevaluelist");
    let keys: Vec<&str> = severity["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["normal", "urgent", "complex"]);

    let r = srv.get("services/crime_tip.xml").await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_definition");
    assert_eq!(kid_text(root, "service_code"), "crime_tip");
    let attrs = kids(kid(root, "attributes"), "attribute");
    assert_eq!(kid_text(attrs[0], "code"), "hamlet_id");
    assert_eq!(kid_text(attrs[0], "required"), "false");
    let values = kids(kid(attrs[1], "values"), "value");
    assert_eq!(kid_text(values[1], "key"), "urgent");
    assert_eq!(kid_text(values[1], "name"), "Khẩn cấp");

    // Unknown services, formats and paths: 404 in the standard's shape.
    assert_error(&srv.get("services/nope.json").await, false, 404);
    assert_error(&srv.get("services/nope.xml").await, true, 404);
    assert_error(&srv.get("discovery.html").await, false, 404);
    assert_error(&srv.get("services").await, false, 404);
    assert_error(&srv.get("nothing/here.xml").await, true, 404);
    assert_error(&srv.get("requests/ZZZZ-ZZZZ.xml").await, true, 404);
    assert_error(&srv.get("tokens/not-a-code.json").await, false, 404);

    srv.stop();
    db.finish().await;
}
both!(discovery_and_services);

async fn create_and_read_back(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Srv::start(s).await;
    let key = token(s).await;
    let mai_hoang = unit_id(s, "mai hoang").await;
    let before = stored(s).await;

    let text = "Rác thải đổ trộm ven đường liên thôn, bốc mùi";
    let r = srv
        .post(
            "requests.json",
            &report(&key, mai_hoang, "environment", text),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    assert_eq!(created.as_array().unwrap().len(), 1);
    let code = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(code.len(), 8);
    assert_eq!(created[0]["account_id"], Value::Null);
    let shown = format!("{}-{}", &code[..4], &code[4..]);
    assert!(created[0]["service_notice"]
        .as_str()
        .unwrap()
        .contains(&shown));
    assert_eq!(stored(s).await, before + 1);

    // Stored as an Open311 item of the key's account, the name in
    // Vietnamese order (family name first).
    let item = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
    assert_eq!(item.channel.as_str(), "open311");
    assert_eq!(item.reporter_name.as_deref(), Some("Lê Thị Hoa"));
    assert_eq!(item.reporter_phone.as_deref(), Some("+84912345678"));
    assert_eq!(item.hamlet_id, mai_hoang);

    let v = srv.get(&format!("requests/{code}.json")).await.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let one = &v[0];
    assert_eq!(one["service_request_id"], code.as_str());
    assert_eq!(one["status"], "open");
    assert_eq!(one["status_notes"], Value::Null);
    assert_eq!(one["service_code"], "environment");
    assert_eq!(one["service_name"], "Bảo vệ môi trường");
    assert_eq!(one["description"], text);
    assert_eq!(one["agency_responsible"], "Xã Phúc Sơn");
    assert_eq!(one["address"], "Thôn Mai Hoàng");
    assert_eq!(one["address_id"], mai_hoang.to_string());
    assert_eq!(one["lat"].as_f64(), Some(21.4123));
    assert_eq!(one["long"].as_f64(), Some(106.1456));
    assert_eq!(one["requested_datetime"], iso_local(item.received_at));
    assert_eq!(one["expected_datetime"], iso_local(item.resolve_due));
    for k in [
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
    ] {
        assert!(one[k].as_str().unwrap().ends_with("+07:00"), "{k}");
    }

    // By id in XML, typed in lower case with the dash.
    let r = srv
        .get(&format!("requests/{}.xml", shown.to_lowercase()))
        .await;
    let doc = r.xml();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_requests");
    let req = kid(root, "request");
    assert_eq!(kid_text(req, "service_request_id"), code);
    assert_eq!(kid_text(req, "status"), "open");
    assert_eq!(kid_text(req, "description"), text);
    assert_eq!(kid_text(req, "address_id"), mai_hoang.to_string());
    assert_eq!(kid_text(req, "lat").parse::<f64>().unwrap(), 21.4123);
    assert_eq!(
        kid_text(req, "expected_datetime"),
        iso_local(item.resolve_due)
    );
    assert!(kid_text(req, "expected_datetime").ends_with("+07:00"));

    // In the listing of its service, not in another's.
    let listed = srv
        .get_q("requests.json", &[("service_code", "environment")])
        .await
        .json();
    assert!(ids(&listed).contains(&code));
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["service_code"] == "environment"));
    let other = srv
        .get_q("requests.json", &[("service_code", "security")])
        .await
        .json();
    assert!(!ids(&other).contains(&code));
    let r = srv
        .get_q("requests.xml", &[("service_code", "environment")])
        .await;
    let doc = r.xml();
    assert!(kids(doc.root_element(), "request")
        .iter()
        .any(|x| kid_text(*x, "service_request_id") == code));

    // A token is the tracking code.
    let t = srv.get(&format!("tokens/{code}.json")).await.json();
    assert_eq!(t[0]["service_request_id"], code.as_str());
    assert_eq!(t[0]["token"], code.as_str());

    // A submission key makes a retried POST return the first request.
    let keyed = with(
        report(
            &key,
            mai_hoang,
            "security",
            "Nhóm thanh niên tụ tập gây ồn ào đêm khuya",
        ),
        "attribute[submission_key]",
        "app-42-0001",
    );
    let keyed = with(keyed, "attribute[severity]", "urgent");
    let first = srv.post("requests.xml", &keyed).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let doc = first.xml();
    let req = kid(doc.root_element(), "request");
    let first_code = kid_text(req, "service_request_id");
    assert!(kid(req, "account_id").text().is_none());
    let count = stored(s).await;
    assert_eq!(create(&srv, &keyed).await, first_code);
    assert_eq!(stored(s).await, count);
    let item = s
        .feedback_by_code(&Viewer::system(), &first_code)
        .await
        .unwrap();
    assert_eq!(item.severity.as_str(), "urgent");

    // The hamlet may come as address_id; no name and no phone: anonymous.
    let by_address = form(&[
        ("api_key", &key),
        ("service_code", "epidemic"),
        ("address_id", &mai_hoang.to_string()),
        ("description", "Nhiều muỗi ở khu ao tù"),
    ]);
    let c = create(&srv, &by_address).await;
    let item = s.feedback_by_code(&Viewer::system(), &c).await.unwrap();
    assert_eq!(item.hamlet_id, mai_hoang);
    assert!(item.anonymous);
    let v = srv.get(&format!("requests/{c}.json")).await.json();
    assert!(v[0].get("lat").is_none() && v[0].get("long").is_none());
    let r = srv.get(&format!("requests/{c}.xml")).await;
    let doc = r.xml();
    assert_eq!(kid_text(kid(doc.root_element(), "request"), "lat"), "");

    srv.stop();
    db.finish().await;
}
both!(create_and_read_back);

async fn confidential_never_published(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Srv::start(s).await;
    let key = token(s).await;
    let mai_hoang = unit_id(s, "mai hoang").await;

    let public = create(
        &srv,
        &report(
            &key,
            mai_hoang,
            "environment",
            "Đường làng ngập nước sau mưa",
        ),
    )
    .await;
    let tip = without(
        without(
            report(
                &key,
                mai_hoang,
                "crime_tip",
                "Có người bán ma túy gần trường học",
            ),
            "first_name",
        ),
        "last_name",
    );
    let tip = without(tip, "phone");
    let r = srv.post("requests.json", &tip).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    let secret = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(created[0]["service_notice"]
        .as_str()
        .unwrap()
        .contains("bảo mật"));
    // It is there, for those who handle it.
    let item = s
        .feedback_by_code(&Viewer::system(), &secret)
        .await
        .unwrap();
    assert!(item.confidential);

    let all = ids(&srv.get("requests.json").await.json());
    assert!(all.contains(&public));
    assert!(!all.contains(&secret));
    let by_service = srv
        .get_q("requests.json", &[("service_code", "crime_tip")])
        .await
        .json();
    assert_eq!(by_service, serde_json::json!([]));
    let by_ids = srv
        .get_q(
            "requests.json",
            &[("service_request_id", &format!("{public},{secret}"))],
        )
        .await
        .json();
    assert_eq!(ids(&by_ids), std::slice::from_ref(&public));
    for status in ["open", "closed"] {
        let r = srv.get_q("requests.json", &[("status", status)]).await;
        assert!(!r.body.contains(&secret));
    }
    let xml = srv.get("requests.xml").await;
    assert!(xml.body.contains(&public));
    assert!(!xml.body.contains(&secret));

    assert_error(
        &srv.get(&format!("requests/{secret}.json")).await,
        false,
        404,
    );
    assert_error(&srv.get(&format!("requests/{secret}.xml")).await, true, 404);
    assert_error(&srv.get(&format!("tokens/{secret}.json")).await, false, 404);

    srv.stop();
    db.finish().await;
}
both!(confidential_never_published);

async fn errors_have_the_standard_shape(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Srv::start(s).await;
    let key = token(s).await;
    let mai_hoang = unit_id(s, "mai hoang").await;
    let hong_lac = unit_id(s, "hong lac").await;
    let good = report(&key, mai_hoang, "environment", "Cống thoát nước bị tắc");
    let before = stored(s).await;

    let bad: Vec<(&str, Fields, u16)> = vec![
        ("no api_key", without(good.clone(), "api_key"), 403),
        (
            "unknown api_key",
            with(good.clone(), "api_key", "dv_nope"),
            403,
        ),
        ("not a token", with(good.clone(), "api_key", "secret"), 403),
        (
            "unknown service",
            with(good.clone(), "service_code", "potholes"),
            400,
        ),
        ("no service", without(good.clone(), "service_code"), 400),
        ("lat without long", without(good.clone(), "long"), 400),
        ("long without lat", without(good.clone(), "lat"), 400),
        (
            "outside Vietnam",
            with(with(good.clone(), "lat", "48.8566"), "long", "2.3522"),
            400,
        ),
        ("lat not a number", with(good.clone(), "lat", "north"), 400),
        (
            "description too long",
            with(good.clone(), "description", &"a".repeat(4001)),
            400,
        ),
        ("no description", without(good.clone(), "description"), 400),
        (
            "no hamlet, point or address",
            without(
                without(without(good.clone(), "attribute[hamlet_id]"), "lat"),
                "long",
            ),
            400,
        ),
        (
            "hamlet not a number",
            with(good.clone(), "attribute[hamlet_id]", "Mai Hoàng"),
            400,
        ),
        (
            "hamlet outside the key's commune",
            with(good.clone(), "attribute[hamlet_id]", &hong_lac.to_string()),
            400,
        ),
        (
            "a commune is not a hamlet",
            with(
                good.clone(),
                "attribute[hamlet_id]",
                &unit_id(s, "xa phuc son").await.to_string(),
            ),
            400,
        ),
        (
            "unknown severity",
            with(good.clone(), "attribute[severity]", "whenever"),
            400,
        ),
        ("bad phone", with(good.clone(), "phone", "12"), 400),
        (
            "anonymous where a name is required",
            without(
                without(
                    without(with(good.clone(), "service_code", "disease_case"), "phone"),
                    "first_name",
                ),
                "last_name",
            ),
            400,
        ),
    ];
    for (what, f, code) in &bad {
        for (file, xml) in [("requests.json", false), ("requests.xml", true)] {
            let r = srv.post(file, f).await;
            assert_eq!(r.status, *code, "{what} ({file}): {}", r.body);
            assert_error(&r, xml, *code);
        }
    }
    // A body that is not a form.
    let r = Srv::read(
        srv.client
            .post(srv.url("requests.xml"))
            .header("content-type", "application/json")
            .body(r#"{"api_key": "x"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, true, 415);
    let r = Srv::read(
        srv.client
            .delete(srv.url("requests.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, false, 405);
    assert_error(&srv.post("services.json", &good).await, false, 405);
    // Nothing was written by any of them.
    assert_eq!(stored(s).await, before);

    // The limits are where they say: 4000 characters pass.
    create(&srv, &with(good.clone(), "description", &"a".repeat(4000))).await;
    assert_eq!(stored(s).await, before + 1);

    srv.stop();
    db.finish().await;
}
both!(errors_have_the_standard_shape);

async fn hostile_text_is_escaped(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Srv::start(s).await;
    let key = token(s).await;
    let mai_hoang = unit_id(s, "mai hoang").await;
    let hostile = r#"<script>alert("x")</script> & 'q' ]]> <![CDATA[ đường "hỏng" </description>"#;

    let r = srv
        .post(
            "requests.xml",
            &report(&key, mai_hoang, "environment", hostile),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc = r.xml();
    let code = kid_text(kid(doc.root_element(), "request"), "service_request_id");

    let r = srv.get(&format!("requests/{code}.xml")).await;
    assert!(!r.body.contains("<script>"), "{}", r.body);
    assert!(r.body.contains("&lt;script&gt;"), "{}", r.body);
    let doc = r.xml();
    assert_eq!(
        kid_text(kid(doc.root_element(), "request"), "description"),
        hostile
    );
    let listing = srv.get("requests.xml").await;
    let doc = listing.xml();
    assert!(kids(doc.root_element(), "request")
        .iter()
        .any(|x| kid_text(*x, "description") == hostile));
    let v = srv.get(&format!("requests/{code}.json")).await.json();
    assert_eq!(v[0]["description"], hostile);

    srv.stop();
    db.finish().await;
}
both!(hostile_text_is_escaped);

async fn listing_filters(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Srv::start(s).await;
    let key = token(s).await;
    let mai_hoang = unit_id(s, "mai hoang").await;

    let open = create(
        &srv,
        &report(&key, mai_hoang, "environment", "Đèn đường hỏng ở ngã ba"),
    )
    .await;
    let refused = create(
        &srv,
        // Environment: security reports are not listed (issue 13).
        &report(&key, mai_hoang, "environment", "Tranh chấp đất giữa hai hộ"),
    )
    .await;
    let officer = s.principal_by_username("xa.phucson").await.unwrap();
    let id = s
        .feedback_by_code(&Viewer::system(), &refused)
        .await
        .unwrap()
        .id;
    s.act_on_feedback(
        &Viewer::of(&officer),
        id,
        Action::Refuse {
            reason: "Không thuộc thẩm quyền giải quyết của xã".into(),
            refer_to: "Tòa án nhân dân khu vực".into(),
        },
    )
    .await
    .unwrap();

    // Received 120 days ago: outside the default window of 90 days.
    let clock = Arc::new(FixedClock::new(Utc::now() - Duration::days(120)));
    let past = Store::connect_with_clock(&db.url, clock).await.unwrap();
    let old = past
        .submit_feedback(
            &officer.actor(),
            &officer.scope,
            &NewFeedback {
                topic: "environment".into(),
                severity: Severity::Normal,
                channel: Channel::Open311,
                description: "Bãi rác tự phát cạnh cánh đồng".into(),
                hamlet_id: mai_hoang,
                lat: None,
                lon: None,
                reporter_name: None,
                reporter_phone: None,
                anonymous: true,
                household_id: None,
                resident_id: None,
                relay_method: None,
                identity_consent: false,
                submission_key: None,
                photos: Vec::new(),
            },
        )
        .await
        .unwrap()
        .code;
    past.close().await;

    let list = |q: Vec<(&'static str, String)>| {
        let srv = &srv;
        async move {
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ids(&srv.get_q("requests.json", &q).await.json())
        }
    };
    let all = list(vec![]).await;
    assert!(all.contains(&open) && all.contains(&refused));
    assert!(!all.contains(&old), "older than 90 days");
    // Newest first.
    assert_eq!(all[0], refused);

    let v = list(vec![("status", "open".into())]).await;
    assert!(v.contains(&open) && !v.contains(&refused));
    let v = list(vec![("status", "closed".into())]).await;
    assert!(!v.contains(&open) && v.contains(&refused));
    let v = list(vec![("status", "open,closed".into())]).await;
    assert!(v.contains(&open) && v.contains(&refused));

    // The refusal is the status note.
    let r = srv.get(&format!("requests/{refused}.json")).await.json();
    assert_eq!(r[0]["status"], "closed");
    assert_eq!(
        r[0]["status_notes"],
        "Không thuộc thẩm quyền giải quyết của xã — Tòa án nhân dân khu vực"
    );

    let now = Utc::now().timestamp();
    let (yesterday, tomorrow) = (iso_local(now - 86_400), iso_local(now + 86_400));
    let v = list(vec![("start_date", tomorrow.clone())]).await;
    assert!(v.is_empty(), "{v:?}");
    let v = list(vec![("end_date", yesterday.clone())]).await;
    assert!(!v.contains(&open) && !v.contains(&refused));
    let v = list(vec![
        ("start_date", yesterday.clone()),
        ("end_date", tomorrow.clone()),
    ])
    .await;
    assert!(v.contains(&open) && v.contains(&refused) && !v.contains(&old));
    // From 130 days ago: the 90 days after it, where the old one is.
    let v = list(vec![("start_date", iso_local(now - 130 * 86_400))]).await;
    assert_eq!(v, std::slice::from_ref(&old));
    // An unencoded "+" of the offset arrives as a space and still works.
    let r = Srv::read(
        srv.client
            .get(format!(
                "{}?start_date={yesterday}",
                srv.url("requests.json")
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(ids(&r.json()).contains(&open));

    // Ids override every other filter (dates, status, service).
    let v = list(vec![
        ("service_request_id", format!("{open}, {old}")),
        ("status", "closed".into()),
        ("service_code", "security".into()),
    ])
    .await;
    assert_eq!(v.len(), 2);
    assert!(v.contains(&open) && v.contains(&old));
    // The old one is open past its deadline, and says so.
    let both = srv
        .get_q(
            "requests.json",
            &[("service_request_id", &format!("{open},{old}"))],
        )
        .await
        .json();
    for r in both.as_array().unwrap() {
        let overdue = r["service_request_id"] == old.as_str();
        assert_eq!(r["service_notice"].is_string(), overdue, "{r}");
    }

    // Bad filters: 400 in the standard's shape.
    for (file, xml) in [("requests.json", false), ("requests.xml", true)] {
        for q in [
            vec![("start_date", "yesterday")],
            vec![("start_date", "24/04/2026")],
            vec![("end_date", "2026-04-24T16:30:00")],
            vec![("status", "pending")],
            vec![("service_code", "potholes")],
            vec![
                ("start_date", "2026-01-01T00:00:00+07:00"),
                ("end_date", "2026-06-01T00:00:00+07:00"),
            ],
            vec![
                ("start_date", "2026-06-01T00:00:00+07:00"),
                ("end_date", "2026-05-01T00:00:00+07:00"),
            ],
        ] {
            let r = srv.get_q(file, &q).await;
            assert_error(&r, xml, 400);
        }
    }

    srv.stop();
    db.finish().await;
}
both!(listing_filters);

/// The one error's description, in JSON or XML.
fn description(r: &Res, xml: bool) -> String {
    if xml {
        let doc = r.xml();
        kid_text(kids(doc.root_element(), "error")[0], "description")
    } else {
        r.json()[0]["description"].as_str().unwrap().to_string()
    }
}

/// Issue 14 item 4: a request without `attribute[hamlet_id]` is placed by
/// its point (the nearest hamlet of the commune it lies in) or by its
/// `address_string` (the hamlet it names); when it cannot be, the error
/// names the hamlets it could be; a hamlet id, when given, always wins.
async fn placed_by_point_or_address(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Srv::start(s).await;
    let key = token(s).await;
    let mai_hoang = unit_id(s, "mai hoang").await;
    let tan_lap = unit_id(s, "thon tan lap").await;
    let centre = s.unit_unscoped(mai_hoang).await.unwrap();
    let (lat, lon) = (centre.lat.unwrap(), centre.lon.unwrap());
    let bare = |f: Fields| without(without(without(f, "attribute[hamlet_id]"), "lat"), "long");
    let good = bare(report(&key, mai_hoang, "environment", "Đèn đường hỏng"));
    let point = |f: Fields, la: f64, lo: f64| {
        with(with(f, "lat", &la.to_string()), "long", &lo.to_string())
    };
    let landed = |code: String| async move {
        let item = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
        (item.hamlet_id, item.lat, item.lon)
    };

    // A point alone, a few metres from Mai Hoàng's centre; kept on the item.
    let code = create(&srv, &point(good.clone(), lat + 0.0002, lon - 0.0002)).await;
    let (hamlet, item_lat, _) = landed(code.clone()).await;
    assert_eq!(hamlet, mai_hoang);
    assert_eq!(item_lat, Some(lat + 0.0002));
    let v = srv.get(&format!("requests/{code}.json")).await.json();
    assert_eq!(v[0]["address"], "Thôn Mai Hoàng");
    assert_eq!(v[0]["address_id"], mai_hoang.to_string());

    // An address alone, as people write it, in JSON and in XML.
    let addressed = with(good.clone(), "address_string", "thon mai hoang, phuc son");
    let code = create(&srv, &addressed).await;
    assert_eq!(landed(code).await.0, mai_hoang);
    let r = srv
        .post(
            "requests.xml",
            &with(
                good.clone(),
                "address_string",
                "Số 7, Thôn Tân Lập, xã Phúc Sơn",
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc = r.xml();
    let code = kid_text(kid(doc.root_element(), "request"), "service_request_id");
    assert_eq!(landed(code).await.0, tan_lap);

    // The hamlet id wins over a point and an address elsewhere.
    let all_three = with(
        point(good.clone(), lat, lon),
        "address_string",
        "thôn Bãi Ban",
    );
    let code = create(
        &srv,
        &with(all_three, "attribute[hamlet_id]", &tan_lap.to_string()),
    )
    .await;
    assert_eq!(landed(code).await.0, tan_lap);
    // A point far from the commune with a good address: the address places it.
    let code = create(&srv, &point(addressed.clone(), lat - 0.2, lon)).await;
    assert_eq!(landed(code).await.0, mai_hoang);

    let before = stored(s).await;
    for (file, xml) in [("requests.json", false), ("requests.xml", true)] {
        // A point some 20 km south of Phúc Sơn: refused, the nearest named.
        let r = srv.post(file, &point(good.clone(), lat - 0.2, lon)).await;
        assert_error(&r, xml, 400);
        let d = description(&r, xml);
        assert!(d.starts_with("lat/long: Toạ độ nằm ngoài các xã"), "{d}");
        assert!(d.contains("Xã Phúc Sơn, mã ") && d.contains(" km)"), "{d}");

        // An address naming no hamlet: the key's hamlets are offered.
        let r = srv
            .post(
                file,
                &with(good.clone(), "address_string", "ngõ 5, đường lớn"),
            )
            .await;
        assert_error(&r, xml, 400);
        let d = description(&r, xml);
        assert!(
            d.starts_with("address_string: Địa chỉ không nêu tên thôn"),
            "{d}"
        );
        for (name, id) in [("Thôn Mai Hoàng", mai_hoang), ("Thôn Tân Lập", tan_lap)] {
            assert!(d.contains(&format!("{name} (Xã Phúc Sơn, mã {id})")), "{d}");
        }
        // Two hamlets named: both offered.
        let r = srv
            .post(
                file,
                &with(
                    good.clone(),
                    "address_string",
                    "giữa thôn Mai Hoàng và thôn Tân Lập",
                ),
            )
            .await;
        assert_error(&r, xml, 400);
        let d = description(&r, xml);
        assert!(d.contains("khớp với nhiều thôn"), "{d}");
        assert!(
            d.contains(&format!("mã {mai_hoang})")) && d.contains(&format!("mã {tan_lap})")),
            "{d}"
        );
        // Nothing to place it by.
        let r = srv.post(file, &good).await;
        assert_error(&r, xml, 400);
        assert!(description(&r, xml).contains("mã thôn, toạ độ hoặc địa chỉ"));
    }
    assert_eq!(stored(s).await, before, "no refused request was stored");

    // Equal names in two communes: the commune in the address decides; a
    // key over both without it gets both named.
    let yen_the = unit_id(s, "xa yen the").await;
    let other = s
        .create_unit(
            &Actor::cli(),
            &danvan_store::registry::unit::NewUnit {
                parent_id: Some(yen_the),
                level: danvan_domain::UnitLevel::Hamlet,
                name: "Thôn Mai Hoàng".into(),
                code: None,
                valid_from: None,
                valid_to: None,
            },
        )
        .await
        .unwrap();
    let province_key = s
        .create_api_token(&Actor::cli(), "tinh.bacninh", "open311 province")
        .await
        .unwrap();
    let province = with(good.clone(), "api_key", &province_key);
    let r = srv
        .post(
            "requests.json",
            &with(province.clone(), "address_string", "thôn Mai Hoàng"),
        )
        .await;
    assert_error(&r, false, 400);
    let d = description(&r, false);
    assert!(
        d.contains(&format!("Thôn Mai Hoàng (Xã Phúc Sơn, mã {mai_hoang})"))
            && d.contains(&format!("Thôn Mai Hoàng (Xã Yên Thế, mã {other})")),
        "{d}"
    );
    let code = create(
        &srv,
        &with(
            province.clone(),
            "address_string",
            "thon mai hoang, phuc son",
        ),
    )
    .await;
    assert_eq!(landed(code).await.0, mai_hoang);
    let code = create(
        &srv,
        &with(province, "address_string", "thôn Mai Hoàng, xã Yên Thế"),
    )
    .await;
    assert_eq!(landed(code).await.0, other);
    // The commune's key never sees the other commune's hamlet.
    let code = create(&srv, &with(good, "address_string", "thôn Mai Hoàng")).await;
    assert_eq!(landed(code).await.0, mai_hoang);

    srv.stop();
    db.finish().await;
}
both!(placed_by_point_or_address);
