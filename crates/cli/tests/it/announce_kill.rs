//! Kill `danvan serve` with SIGKILL while it sends an announcement to
//! 10,000 households through the real Kannel, start it again: every
//! household gets exactly one SMS. On PostgreSQL two `serve` processes
//! share the queue (row locks, `SKIP LOCKED`) and one of them is killed.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use danvan_domain::announcement::OutboxState;
use danvan_store::announce::announcement::{Audience, NewAnnouncement};
use danvan_store::feedback::Viewer;
use danvan_store::registry::account::TokenKind;
use danvan_store::{Actor, Scope, Store};
use tokio::process::{Child, Command};

use crate::common::{unit_id, Backend, TestDb};
use crate::kannel::Kannel;

const HOUSEHOLDS: usize = 10_000;

/// 10,000 basic-phone households in a new hamlet of Phúc Sơn; returns it.
async fn big_hamlet(store: &Store) -> i64 {
    let phuc_son = store
        .unit(&Scope::all(), unit_id(store, "mai hoang").await)
        .await
        .unwrap()
        .parent_id
        .unwrap();
    let hamlet = store
        .create_unit(
            &Actor::cli(),
            &danvan_store::registry::unit::NewUnit {
                parent_id: Some(phuc_son),
                level: danvan_domain::UnitLevel::Hamlet,
                name: "Thôn Đông Đúc".into(),
                code: None,
                valid_from: None,
                valid_to: None,
            },
        )
        .await
        .unwrap();
    let path = store.unit(&Scope::all(), hamlet).await.unwrap().path;
    let now = store.now();
    for chunk in (0..HOUSEHOLDS).collect::<Vec<_>>().chunks(1000) {
        danvan_store::on_db!(&store.db, |p| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO households (code, hamlet_id, path, address, reach, phone, head_name, head_sort_key, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, i| {
                b.push_bind(format!("DD-{i:05}"))
                    .push_bind(hamlet)
                    .push_bind(&path)
                    .push_bind(format!("Số {i}, thôn Đông Đúc"))
                    .push_bind("basic_phone")
                    .push_bind(format!("+849{:08}", 10_000_000 + i))
                    .push_bind(format!("Hộ số {i}"))
                    .push_bind(format!("ho so {i:05}"))
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute(p).await.unwrap();
        });
    }
    hamlet
}

/// `danvan serve` of this build, sending through `kannel`.
fn serve(url: &str, port: u16, kannel: &Kannel, key: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_danvan"))
        .args(["serve", "--database-url", url, "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--kannel-url", &kannel.sendsms_url()])
        .args(["--kannel-user", kannel.username()])
        .args(["--kannel-password", kannel.password()])
        .args(["--gateway-key", key])
        .arg("--public-url")
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--sms-rate", "1000"])
        .args(["--sms-lease-secs", "10"])
        .args(["--sms-in-doubt-secs", "5"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("danvan serve")
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn killed_while_sending(backend: Backend) {
    let db = TestDb::demo(backend).await;
    let store = db.store.clone();
    let hamlet = big_hamlet(&store).await;
    store
        .set_leads_unit(&Actor::cli(), "xa.phucson", true)
        .await
        .unwrap();
    let principal = store.principal_by_username("xa.phucson").await.unwrap();
    let commune = principal.unit_id.expect("a commune officer's unit");
    let leader = Viewer::of(&principal);
    // An emergency: sent whatever the hour (the server's clock is real).
    let a = store
        .create_announcement(
            &leader,
            &NewAnnouncement {
                unit_id: commune,
                title: "Bao lu".into(),
                body: "Nuoc song dang len, cac ho chuan bi di doi.".into(),
                topic: None,
                urgency: danvan_domain::announcement::Urgency::Emergency,
                audience: Audience {
                    units: vec![hamlet],
                    ..Audience::default()
                },
                plain_sms: false,
                send_at: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.plan_announcement(a.id).await.unwrap(),
        Some(HOUSEHOLDS as i64)
    );
    let key = store
        .create_token(&Actor::cli(), "admin", "kannel", TokenKind::Gateway)
        .await
        .unwrap();
    // Kannel calls back whichever server listens on the first port.
    let ports = [free_port(), free_port()];
    let kannel = Kannel::start(Some(&format!(
        "http://127.0.0.1:{}/sms/inbound?key={key}&from=%p&text=%a&id=%I",
        ports[0]
    )))
    .await;
    let processes = match backend {
        Backend::Postgres => 2,
        Backend::Sqlite => 1,
    };
    let mut children: Vec<Child> = (0..processes)
        .map(|i| serve(&db.url, ports[i], &kannel, &key))
        .collect();

    // Kill the first server a third of the way through.
    let deadline = Instant::now() + Duration::from_secs(120);
    while kannel.received().len() < HOUSEHOLDS / 3 {
        assert!(
            Instant::now() < deadline,
            "sending stalled at {}",
            kannel.received().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    children[0].start_kill().expect("SIGKILL");
    children[0].wait().await.unwrap();
    let at_kill = kannel.received().len();
    assert!(at_kill < HOUSEHOLDS, "killed in the middle: {at_kill}");
    children[0] = serve(&db.url, ports[0], &kannel, &key);

    // Everything goes out, and nothing more comes after.
    let got = kannel.wait_for(HOUSEHOLDS, Duration::from_secs(180)).await;
    let settle = Instant::now() + Duration::from_secs(60);
    loop {
        let states = store.outbox_states().await.unwrap();
        let open = states
            .iter()
            .filter(|(s, _)| matches!(s, OutboxState::Queued | OutboxState::Sending))
            .map(|(_, n)| n)
            .sum::<i64>();
        if open == 0 {
            break;
        }
        assert!(Instant::now() < settle, "outbox never settled: {states:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Past every lease and grace a message in doubt could wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = kannel.received();
    let mut per_phone: HashMap<String, usize> = HashMap::new();
    for m in &all {
        *per_phone.entry(m.to.clone()).or_default() += 1;
    }
    let twice: Vec<_> = per_phone.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "sent twice: {} phones, e.g. {:?}",
        twice.len(),
        twice.first()
    );
    assert_eq!(per_phone.len(), HOUSEHOLDS, "every household once");
    assert_eq!(all.len(), got.len().max(HOUSEHOLDS));
    for c in &mut children {
        let _ = c.start_kill();
        let _ = c.wait().await;
    }
    drop(kannel);
    db.finish().await;
}
both!(killed_while_sending);
