//! `danvan bench --suite announcements`: the speed targets of issue 4 on
//! the province the registry suite imports (500,000 households):
//!
//! - planning an announcement to the whole province (one delivery row per
//!   household and an outbox message per basic phone), with the process's
//!   peak memory around it (the plan is `INSERT … SELECT`: nothing is
//!   loaded);
//! - the outbox handing messages to the real Kannel (bearerbox and smsbox
//!   on loopback, configured here; the phone side of its fake SMSC is a
//!   socket that counts what arrives), timed from the first message to the
//!   last of a fixed number.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use danvan_domain::announcement::{OutboxState, Urgency};
use danvan_store::announce::announcement::{Audience, NewAnnouncement};
use danvan_store::feedback::Viewer;
use danvan_store::Store;
use tokio::io::AsyncBufReadExt;

use crate::{proc_status_kb, row, Row};

const PLAN_TARGET_S: f64 = 10.0;
const SEND_TARGET_PER_S: f64 = 1000.0;
/// Messages timed through Kannel.
const SENT_MEASURED: usize = 20_000;

/// Plans an announcement to the province, then times the sender.
pub(crate) async fn run(
    store: &Store,
    province_id: i64,
    args: &crate::BenchArgs,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let admin = Viewer::system();
    // Twice: right after the import (the database still writing out its
    // WAL), then once more on the settled database.
    let mut plan_s = Vec::new();
    let total = |v: Vec<(OutboxState, i64)>| v.iter().map(|(_, n)| n).sum::<i64>();
    let before = total(store.outbox_states().await?);
    let (mut planned, mut hwm, mut rss_before, mut reset) = (0, 0, 0, false);
    for round in 0..2 {
        // An emergency: due at once whatever the hour (quiet hours hold the rest).
        let a = store
            .create_announcement(
                &admin,
                &NewAnnouncement {
                    unit_id: province_id,
                    title: format!("Canh bao bao {}", round + 1),
                    body: "Bao so 5 sap do bo. Cac ho chang chong nha cua, khong ra song.".into(),
                    topic: None,
                    urgency: Urgency::Emergency,
                    audience: Audience {
                        units: vec![province_id],
                        ..Audience::default()
                    },
                    plain_sms: true,
                    send_at: None,
                    expires_at: None,
                },
            )
            .await
            .map_err(|e| anyhow!("announcement: {e}"))?;
        reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        rss_before = proc_status_kb("VmRSS:").unwrap_or(0);
        let t = Instant::now();
        planned = store
            .plan_announcement(a.id)
            .await
            .map_err(|e| anyhow!("plan: {e}"))?
            .ok_or_else(|| anyhow!("the announcement was not planned"))?;
        plan_s.push(t.elapsed().as_secs_f64());
        hwm = hwm.max(proc_status_kb("VmHWM:").unwrap_or(0));
        if round == 0 {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    }
    let queued = (total(store.outbox_states().await?) - before) / 2;
    eprintln!(
        "bench: planned {planned} households ({queued} SMS) in {:.1} s, then {:.1} s",
        plan_s[0], plan_s[1]
    );
    rows.push(row(
        format!("Plan an announcement to the province ({})", store.backend()),
        format!(
            "{planned} households, {queued} SMS queued: {:.2} s right after the import, {:.2} s ten seconds later",
            plan_s[0], plan_s[1]
        ),
        "≤ 10 s",
        Some(plan_s[1] <= PLAN_TARGET_S),
    ));
    rows.push(row(
        "Peak memory while planning (VmHWM of the whole process)",
        format!(
            "{:.0} MB{} (RSS before {:.0} MB)",
            hwm as f64 / 1024.0,
            if reset { ", reset just before" } else { "" },
            rss_before as f64 / 1024.0
        ),
        "bounded (streamed)",
        None,
    ));

    if args.skip_send {
        return Ok(());
    }
    match send_through_kannel(store, &args.work_dir, SENT_MEASURED.min(queued as usize)).await {
        Ok((n, secs)) => {
            let rate = n as f64 / secs;
            eprintln!("bench: {n} SMS through Kannel in {secs:.1} s ({rate:.0}/s)");
            rows.push(row(
                "Outbox → Kannel sendsms → fake SMSC (rate limit 5,000/s)",
                format!("{n} messages in {secs:.1} s: {rate:.0}/s"),
                "≥ 1,000/s",
                Some(rate >= SEND_TARGET_PER_S),
            ));
        }
        Err(e) => {
            eprintln!("bench: sending not measured: {e:#}");
            rows.push(row(
                "Outbox → Kannel",
                format!("not measured: {e}"),
                "≥ 1,000/s",
                None,
            ));
        }
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn binary(name: &str) -> Result<String> {
    ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).is_file())
        .ok_or_else(|| anyhow!("{name} not found (Debian package kannel: run scripts/setup)"))
}

/// Starts Kannel, lets the outbox sender drain `n` messages into it, and
/// returns (messages, seconds from the first to the n-th at the phone side).
async fn send_through_kannel(
    store: &Store,
    work_dir: &std::path::Path,
    n: usize,
) -> Result<(usize, f64)> {
    if n == 0 {
        bail!("nothing queued");
    }
    // Kannel's configuration and logs stay in the work dir for a look.
    let dir = work_dir.join("kannel");
    std::fs::create_dir_all(&dir)?;
    let (admin, smsbox, smsc, sendsms) = (free_port()?, free_port()?, free_port()?, free_port()?);
    let d = dir.display();
    let conf = format!(
        "group = core\nadmin-port = {admin}\nadmin-interface = 127.0.0.1\nadmin-password = bench\n\
         smsbox-port = {smsbox}\nsmsbox-interface = 127.0.0.1\nbox-allow-ip = 127.0.0.1\nlog-level = 2\n\
         log-file = \"{d}/bearerbox.log\"\ndlr-storage = internal\n\n\
         group = smsc\nsmsc = fake\nsmsc-id = fake\nport = {smsc}\nour-host = 127.0.0.1\nconnect-allow-ip = 127.0.0.1\n\n\
         group = smsbox\nbearerbox-host = 127.0.0.1\nsendsms-port = {sendsms}\nsendsms-interface = 127.0.0.1\n\
         log-level = 2\nlog-file = \"{d}/smsbox.log\"\n\n\
         group = sendsms-user\nusername = bench\npassword = bench\nmax-messages = 10\nconcatenation = true\n\n\
         group = sms-service\nkeyword = default\ntext = \"\"\nomit-empty = true\n"
    );
    let path = dir.join("kannel.conf");
    std::fs::write(&path, conf)?;
    let mut bearerbox = tokio::process::Command::new(binary("bearerbox")?)
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("bearerbox")?;
    // The phone side of the fake SMSC: count the lines bearerbox writes.
    let arrived = Arc::new(AtomicUsize::new(0));
    let first_at: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let phones = {
        let (arrived, first_at) = (arrived.clone(), first_at.clone());
        tokio::spawn(async move {
            loop {
                if let Ok(s) = tokio::net::TcpStream::connect(("127.0.0.1", smsc)).await {
                    let mut lines = tokio::io::BufReader::new(s).lines();
                    while let Ok(Some(_)) = lines.next_line().await {
                        // A poisoned lock still holds the instant.
                        first_at
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert_with(Instant::now);
                        arrived.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut smsbox_proc = tokio::process::Command::new(binary("smsbox")?)
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("smsbox")?;
    let url = format!("http://127.0.0.1:{sendsms}/cgi-bin/sendsms");
    let client = reqwest::Client::new();
    let ready = Instant::now() + Duration::from_secs(20);
    while client.get(&url).send().await.is_err() {
        if Instant::now() > ready {
            bail!("Kannel did not start (logs in {d})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut cfg = danvan_sms::KannelConfig::new(&url, "bench", "bench");
    cfg.rate_per_second = 5000;
    cfg.concurrency = 32;
    let sender = danvan_sms::spawn_sms_sender(store.clone(), cfg);
    let deadline = Instant::now() + Duration::from_secs(300);
    while arrived.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done = Instant::now();
    sender.abort();
    let got = arrived.load(Ordering::Relaxed).min(n);
    let secs = first_at
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .map(|t| done.duration_since(t).as_secs_f64())
        .unwrap_or(f64::INFINITY);
    phones.abort();
    let _ = smsbox_proc.start_kill();
    let _ = bearerbox.start_kill();
    let _ = smsbox_proc.wait().await;
    let _ = bearerbox.wait().await;
    if got < n {
        bail!("only {got} of {n} messages arrived within 300 s");
    }
    Ok((got, secs))
}
