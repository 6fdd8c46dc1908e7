//! `danvan bench --suite announcements`: the speed targets of issue 4 on
//! the province the registry suite imports (500,000 households):
//!
//! - planning an announcement to the whole province (one delivery row per
//!   household and an outbox message per basic phone), with the process's
//!   peak memory around it (the plan is `INSERT … SELECT`: nothing is
//!   loaded);
//! - the outbox handing messages to the real Kannel (bearerbox and smsbox
//!   on loopback, run by `danvan_sms::local_kannel`; the phone side of its
//!   fake SMSC is a socket that counts what arrives), timed from the first
//!   message to the last of a fixed number.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use danvan_domain::announcement::{OutboxState, Urgency};
use danvan_sms::local_kannel::{LocalKannel, Setup, Smsc};
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
    let mut setup = Setup::new(Smsc::Fake);
    setup.dir = Some(work_dir.join("kannel"));
    setup.log_level = 2;
    let mut kannel = LocalKannel::prepare(setup)?;
    let smsc = kannel.smsc_port();
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
    if let Err(e) = kannel.boot().await {
        phones.abort();
        return Err(e.into());
    }
    let url = kannel.sendsms_url();
    let mut cfg = danvan_sms::KannelConfig::new(&url, kannel.username(), kannel.password());
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
    kannel.stop().await;
    if got < n {
        bail!("only {got} of {n} messages arrived within 300 s");
    }
    Ok((got, secs))
}
