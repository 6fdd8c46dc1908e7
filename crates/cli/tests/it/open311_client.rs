//! Our Open311 server driven by clients we did not write: two published
//! GeoReport v2 clients from PyPI (georeport for reads in JSON and XML,
//! civicbot for posting with an api_key), through
//! `scripts/open311-client/drive.py`, which prints what they got as JSON
//! lines.
//!
//! Needs the venv that `scripts/setup` makes (`DANVAN_OPEN311_PYTHON`
//! overrides its Python). A missing client fails the test: CI installs it,
//! and `scripts/test` skips these tests outside CI, saying so.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use danvan_domain::calendar::iso_local;
use danvan_store::feedback::Viewer;
use danvan_store::{Actor, Store};
use serde_json::Value;

use crate::common::{unit_id, Backend, Server, TestDb};

const DEFAULT_PYTHON: &str = "/var/cache/danvan/open311-venv/bin/python";
const SERVICES: [&str; 5] = [
    "epidemic",
    "security",
    "environment",
    "crime_tip",
    "disease_case",
];

fn python() -> String {
    let exe = std::env::var("DANVAN_OPEN311_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.into());
    assert!(
        PathBuf::from(&exe).is_file(),
        "the outside Open311 clients are not installed ({exe} is missing): run scripts/setup as root, or set DANVAN_OPEN311_PYTHON"
    );
    exe
}

/// What the driver printed, by (step, client, format).
struct Run(HashMap<(String, String, String), Value>);

impl Run {
    fn get(&self, step: &str, client: &str, format: &str) -> &Value {
        self.0
            .get(&(step.into(), client.into(), format.into()))
            .unwrap_or_else(|| panic!("the driver printed no {step} by {client} in {format}"))
    }
}

/// Where the requests without a hamlet id are sent from.
struct Elsewhere {
    /// A point, for a request with a location alone.
    point: (f64, f64),
    /// For a request with an address alone.
    address: &'static str,
    /// An address naming no hamlet, refused.
    unplaced: &'static str,
}

async fn drive(
    srv: &Server,
    key: &str,
    service: &str,
    hamlet: i64,
    description: &str,
    elsewhere: &Elsewhere,
) -> Run {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/open311-client/drive.py");
    let child = tokio::process::Command::new(python())
        .arg(&script)
        .arg(srv.url("/open311/v2"))
        .args(["--api-key", key, "--service", service])
        .args(["--hamlet", &hamlet.to_string()])
        .args(["--description", description])
        .args(["--lat", "21.4123", "--long", "106.1456"])
        .args(["--point-lat", &elsewhere.point.0.to_string()])
        .args(["--point-long", &elsewhere.point.1.to_string()])
        .args(["--address", elsewhere.address])
        .args(["--unplaced", elsewhere.unplaced])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("the Open311 clients finish within two minutes")
        .expect("the driver starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the driver failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = HashMap::new();
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let key = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        lines.insert(
            (key("step"), key("client"), key("format")),
            v["data"].clone(),
        );
    }
    Run(lines)
}

/// The service codes of a list the client returned.
fn codes(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list of services")
        .iter()
        .map(|s| s["service_code"].as_str().expect("service_code"))
        .collect()
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list of requests")
        .iter()
        .map(|r| {
            r["service_request_id"]
                .as_str()
                .expect("service_request_id")
        })
        .collect()
}

async fn stored(s: &Store) -> i64 {
    danvan_store::on_db!(&s.db, |p| {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM feedback")
            .fetch_one(p)
            .await
            .unwrap()
            .0
    })
}

async fn outside_client_lists_posts_and_reads_back(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let srv = Server::start(s).await;
    let key = s
        .create_api_token(&Actor::cli(), "xa.phucson", "outside open311 client")
        .await
        .unwrap();
    let mai_hoang = unit_id(s, "mai hoang").await;
    let tan_lap = unit_id(s, "thon tan lap").await;
    let before = stored(s).await;
    // Markup and Vietnamese marks must survive both formats unchanged.
    let text = "Cống thoát nước <đường 3> bị tắc & ngập sau mưa";
    // A point a few metres from Tân Lập's centre (its households' middle).
    let centre = s.unit_unscoped(tan_lap).await.unwrap();
    let elsewhere = Elsewhere {
        point: (centre.lat.unwrap() + 0.0003, centre.lon.unwrap() - 0.0002),
        address: "thon mai hoang, phuc son",
        unplaced: "ngõ 5, đường lớn",
    };

    let run = drive(&srv, &key, "environment", mai_hoang, text, &elsewhere).await;

    // Services: every topic, in order, from both clients and both formats.
    for (client, format) in [
        ("georeport", "json"),
        ("georeport", "xml"),
        ("civicbot", "json"),
    ] {
        let list = run.get("services", client, format);
        assert_eq!(codes(list), SERVICES, "{client} {format}");
        assert_eq!(list[2]["service_name"], "Bảo vệ môi trường");
    }
    assert_eq!(
        run.get("services", "georeport", "json")[2]["metadata"],
        true
    );
    assert_eq!(
        run.get("services", "georeport", "xml")[2]["metadata"],
        "true"
    );
    for format in ["json", "xml"] {
        let def = run.get("definition", "georeport", format);
        assert_eq!(def["service_code"], "environment");
        let attrs = match format {
            "json" => &def["attributes"],
            _ => &def["attributes"]["attribute"],
        };
        assert_eq!(attrs[0]["code"], "hamlet_id", "{format}");
        // Not required: a location or an address places the request.
        let required = &attrs[0]["required"];
        assert!(
            required == false || required == "false",
            "{format}: {required}"
        );
    }

    // A wrong key is refused in the standard's error shape, and writes nothing.
    let wrong = run.get("post_wrong_key", "civicbot", "json");
    assert_eq!(wrong["status"], 403, "{wrong}");
    assert_eq!(wrong["body"][0]["code"], 403);

    // The post went through the client's own check against our service
    // definition, and came back with its tracking code.
    let created = run.get("post", "civicbot", "json");
    let code = created[0]["service_request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no service_request_id in {created}"))
        .to_string();
    assert_eq!(code.len(), 8);
    assert!(created[0]["service_notice"]
        .as_str()
        .unwrap()
        .contains(&code[..4]));
    let item = s.feedback_by_code(&Viewer::system(), &code).await.unwrap();
    assert_eq!(item.channel.as_str(), "open311");
    assert_eq!(item.description, text);
    assert_eq!(item.hamlet_id, mai_hoang);
    assert_eq!(item.reporter_name.as_deref(), Some("Lê Thị Hoa"));
    assert_eq!(
        run.get("token", "civicbot", "json")[0]["token"],
        code.as_str()
    );

    // Read back by each client and format: the same request, the same times.
    for (client, format) in [
        ("civicbot", "json"),
        ("georeport", "json"),
        ("georeport", "xml"),
    ] {
        let r = run.get("request", client, format);
        assert_eq!(r["service_request_id"], code.as_str(), "{client} {format}");
        assert_eq!(r["description"], text, "{client} {format}");
        assert_eq!(r["status"], "open");
        assert_eq!(r["service_code"], "environment");
        assert_eq!(r["address"], "Thôn Mai Hoàng");
        assert_eq!(r["address_id"], mai_hoang.to_string());
        assert_eq!(r["requested_datetime"], iso_local(item.received_at));
        assert_eq!(r["expected_datetime"], iso_local(item.resolve_due));
        for k in [
            "requested_datetime",
            "updated_datetime",
            "expected_datetime",
        ] {
            assert!(r[k].as_str().unwrap().ends_with("+07:00"), "{k}: {r}");
        }
        let lat = match &r["lat"] {
            Value::String(x) => x.parse::<f64>().unwrap(),
            x => x.as_f64().unwrap(),
        };
        assert_eq!(lat, 21.4123, "{client} {format}");
    }

    // Listings filtered by service and status, and by id, in both formats.
    for format in ["json", "xml"] {
        let listed = run.get("requests", "georeport", format);
        assert!(ids(listed).contains(&code.as_str()), "{format}");
        assert!(listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["service_code"] == "environment" && r["status"] == "open"));
        assert_eq!(
            ids(run.get("requests_by_id", "georeport", format)),
            [code.as_str()]
        );
    }

    // A location alone, and an address alone, each checked by civicbot
    // against our service definition, placed in the hamlet they name, and
    // read back so by georeport in both formats.
    for (step, hamlet, name) in [
        ("point", tan_lap, "Thôn Tân Lập"),
        ("address", mai_hoang, "Thôn Mai Hoàng"),
    ] {
        let posted = run.get(&format!("post_{step}"), "civicbot", "json");
        let code = posted[0]["service_request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no service_request_id in {posted}"));
        let item = s.feedback_by_code(&Viewer::system(), code).await.unwrap();
        assert_eq!(item.hamlet_id, hamlet, "{step}");
        assert_eq!(item.channel.as_str(), "open311");
        assert!(item.anonymous, "{step}");
        for format in ["json", "xml"] {
            let r = run.get(&format!("request_{step}"), "georeport", format);
            assert_eq!(r["service_request_id"], code, "{step} {format}");
            assert_eq!(r["address"], name, "{step} {format}");
            assert_eq!(r["address_id"], hamlet.to_string(), "{step} {format}");
        }
    }
    let point = run.get("post_point", "civicbot", "json")[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let item = s.feedback_by_code(&Viewer::system(), &point).await.unwrap();
    assert_eq!(item.lat, Some(elsewhere.point.0));
    assert_eq!(item.lon, Some(elsewhere.point.1));
    // An address naming no hamlet: refused in the standard's shape, the
    // key's hamlets named.
    let refused = run.get("post_unplaced", "civicbot", "json");
    assert_eq!(refused["status"], 400, "{refused}");
    assert_eq!(refused["body"][0]["code"], 400);
    let d = refused["body"][0]["description"].as_str().unwrap();
    assert!(
        d.contains(&format!("Thôn Tân Lập (Xã Phúc Sơn, mã {tan_lap})")),
        "{d}"
    );
    assert_eq!(stored(s).await, before + 3);

    srv.stop();
    db.finish().await;
}
both!(outside_client_lists_posts_and_reads_back);
