//! `danvan bench --suite feedback`: the speed targets of issue 3.
//!
//! On a fresh database: the province's unit tree (`danvan_demo::province_units`
//! through `Store::create_unit`), an Open311 API token, `--reports` synthetic
//! reports through the bench-only `Store::feedback_bulk`; then a separate
//! `danvan serve` process on loopback, loaded by `--clients` keep-alive
//! connections from this process: Open311 POSTs (throughput, latency, and
//! afterwards the row count against the 201s), then Open311 GET listings of
//! several shapes; the province dashboard (`Store::feedback_dashboard`); last, every report is made open
//! with 1 % of them due, and one escalation sweep is timed. Prints one
//! markdown table.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use danvan_demo::{province_units, ProvinceSpec};
use danvan_domain::{Role, UnitLevel};
use danvan_store::feedback::bulk::{BulkSpec, DESCRIPTIONS};
use danvan_store::registry::account::NewAccount;
use danvan_store::registry::unit::NewUnit;
use danvan_store::{Actor, Scope, Store};

use crate::BenchArgs;

const POST_RATE_TARGET: f64 = 5000.0;
const POST_P99_TARGET_MS: f64 = 50.0;
const GET_RATE_TARGET: f64 = 2000.0;
const DASHBOARD_TARGET_MS: f64 = 50.0;
const SWEEP_TARGET_S: f64 = 1.0;

/// Latency percentile `q` (0..1) in milliseconds of sorted durations.
fn pct(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

struct Line(String, String, String, &'static str);

fn line(
    measure: impl Into<String>,
    result: impl Into<String>,
    target: &str,
    met: Option<bool>,
) -> Line {
    Line(
        measure.into(),
        result.into(),
        target.into(),
        match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        },
    )
}

/// The server under test: `danvan serve` in a child process.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only the child this benchmark started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(url: &str) -> Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let bind = format!("127.0.0.1:{port}");
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--database-url", url, "--bind", &bind])
        .env("DANVAN_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start danvan serve")?;
    let server = Server {
        child,
        base: format!("http://{bind}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("{}/open311/v2/services.json", server.base))
            .send()
            .await
        {
            if r.status().is_success() {
                return Ok(server);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("danvan serve did not answer within 20 s")
}

/// What one load phase saw.
struct Load {
    ok: u64,
    failed: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    rows: u64,
    first_error: Option<String>,
}

impl Load {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    fn summary(&mut self) -> String {
        self.latencies.sort();
        format!(
            "{:.0}/s ({} in {:.1} s), p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms{}",
            self.rate(),
            self.ok,
            self.elapsed.as_secs_f64(),
            pct(&self.latencies, 0.50),
            pct(&self.latencies, 0.95),
            pct(&self.latencies, 0.99),
            if self.failed > 0 {
                format!(", {} failed", self.failed)
            } else {
                String::new()
            }
        )
    }
}

/// Runs `clients` tasks, each sending requests made by `make(n)` (n counts
/// across tasks) for `seconds` after `warmup` untimed seconds; a response is
/// good when its status is `expect`.
async fn load<F>(clients: usize, warmup: f64, seconds: f64, expect: u16, make: F) -> Result<Load>
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .tcp_nodelay(true)
        .build()?;
    let make = Arc::new(make);
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let timed_from = start + Duration::from_secs_f64(warmup);
    let until = timed_from + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, make, counter) = (client.clone(), make.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Load {
                ok: 0,
                failed: 0,
                elapsed: Duration::ZERO,
                latencies: Vec::new(),
                rows: 0,
                first_error: None,
            };
            loop {
                let sent = Instant::now();
                if sent >= until {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let result = make(&client, n).send().await;
                let (good, rows, err) = match result {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match r.text().await {
                            Ok(body) => (
                                status == expect,
                                body.matches("\"service_request_id\"").count() as u64,
                                (status != expect).then(|| format!("{status}: {body}")),
                            ),
                            Err(e) => (false, 0, Some(e.to_string())),
                        }
                    }
                    Err(e) => (false, 0, Some(e.to_string())),
                };
                let took = sent.elapsed();
                // Every acknowledged POST counts for the row check, warm-up included.
                if sent >= timed_from {
                    out.latencies.push(took);
                    if good {
                        out.ok += 1;
                        out.rows += rows;
                    } else {
                        out.failed += 1;
                    }
                } else if good {
                    WARM_OK.fetch_add(1, Ordering::Relaxed);
                }
                if let (Some(e), None) = (err, &out.first_error) {
                    out.first_error = Some(e.chars().take(300).collect());
                }
            }
            out
        }));
    }
    let mut all = Load {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        rows: 0,
        first_error: None,
    };
    for t in tasks {
        let l = t.await?;
        all.ok += l.ok;
        all.failed += l.failed;
        all.rows += l.rows;
        all.latencies.extend(l.latencies);
        if all.first_error.is_none() {
            all.first_error = l.first_error;
        }
    }
    // Requests in flight at `until` finish after it: the span ends with the last.
    all.elapsed = timed_from.elapsed();
    Ok(all)
}

/// Successful requests of warm-up periods (POSTs that made rows).
static WARM_OK: AtomicU64 = AtomicU64::new(0);

async fn count_feedback(store: &Store) -> Result<i64> {
    Ok(store.feedback_row_count().await?)
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let spec = ProvinceSpec {
        communes: args.communes,
        hamlets_per_commune: args.hamlets,
        households: args.households,
        seed: 2025,
    };
    let store = Store::connect(&args.database_url)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    let actor = Actor::cli();
    let mut lines: Vec<Line> = Vec::new();
    let backend = store.backend();
    let phase = |p: &str| args.phases.iter().any(|x| x == p);
    let existing = store.top_units(&Scope::all()).await?;
    let (province_id, _province, hamlets, api_key) = match existing.first() {
        Some(top) if args.reuse => {
            let hamlets: Vec<i64> = store
                .hamlets_under(&top.path)
                .await?
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            let api_key = store
                .create_api_token(&actor, "bench.open311", "benchmark (reuse)")
                .await?;
            eprintln!("bench: reusing {} hamlets and their reports", hamlets.len());
            (top.id, top.clone(), hamlets, api_key)
        }
        Some(_) => bail!("the benchmark needs an empty database (it already holds units; --reuse runs on one an earlier run filled)"),
        None => setup(&store, &args, &spec, &mut lines).await?,
    };
    let topics: Vec<String> = store
        .topics()
        .await?
        .into_iter()
        .filter(|t| !t.confidential)
        .map(|t| t.code)
        .collect();

    // As the server's minute sweep does, before it starts: what fell late
    // is counted in the rollups (a database an older version filled has
    // all of it still to count, which would stall the first measurement).
    let counted = store.count_newly_late(store.now()).await?;
    eprintln!("bench: {counted} items newly counted late");
    let server = if phase("post") || phase("get") {
        Some(start_server(&args.database_url).await?)
    } else {
        None
    };
    if let (Some(server), true) = (&server, phase("post")) {
        let before = count_feedback(&store).await?;

        // Open311 POST.
        let post_url = format!("{}/open311/v2/requests.json", server.base);
        let (key, hs, ts) = (api_key.clone(), hamlets.clone(), topics.clone());
        // Keys of this run never replay an earlier run's reports.
        let run_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        WARM_OK.store(0, Ordering::Relaxed);
        let mut post = load(args.clients, 2.0, args.seconds, 201, move |c, n| {
            let desc = format!(
                "{} (phản ánh số {n} của người dân)",
                DESCRIPTIONS[n as usize % DESCRIPTIONS.len()]
            );
            // Distinct points inside Vietnam.
            let lat = 10.0 + (n % 100_000) as f64 * 0.0001;
            let lon = 105.0 + (n / 100_000) as f64 * 0.001 + (n % 7) as f64 * 0.00001;
            let mut form: Vec<(&str, String)> = vec![
                ("api_key", key.clone()),
                ("service_code", ts[n as usize % ts.len()].clone()),
                (
                    "attribute[hamlet_id]",
                    hs[(n as usize * 7919) % hs.len()].to_string(),
                ),
                ("lat", format!("{lat:.6}")),
                ("long", format!("{lon:.6}")),
                ("description", desc),
                ("attribute[submission_key]", format!("bench-{run_id}-{n}")),
            ];
            if n % 3 != 0 {
                form.push(("last_name", "Nguyễn".into()));
                form.push(("first_name", "Văn An".into()));
                form.push(("phone", format!("09{:08}", n % 100_000_000)));
            }
            c.post(post_url.as_str()).form(&form)
        })
        .await?;
        let created = post.ok + WARM_OK.load(Ordering::Relaxed);
        let after = count_feedback(&store).await?;
        let post_summary = post.summary();
        eprintln!("bench: POST {post_summary}");
        if let Some(e) = &post.first_error {
            eprintln!("bench: first POST error: {e}");
        }
        let rate = post.rate();
        let p99 = pct(&post.latencies, 0.99);
        lines.push(line(
            format!(
                "Open311 POST, {} clients, keep-alive, separate server process",
                args.clients
            ),
            post_summary,
            if backend == "sqlite" {
                "≥ 5,000/s, p99 ≤ 50 ms (SQLite)"
            } else {
                "— (target is for SQLite)"
            },
            (backend == "sqlite").then_some(rate >= POST_RATE_TARGET && p99 <= POST_P99_TARGET_MS),
        ));
        let stored = (after - before) as u64;
        lines.push(line(
            "Rows added to `feedback` vs 201 responses (warm-up included)",
            format!("{stored} rows, {created} responses 201"),
            "equal",
            Some(stored == created),
        ));
    }
    if let (Some(server), true) = (&server, phase("get")) {
        // Open311 GET: listings of several shapes, from small to full.
        let now = store.now();
        let iso = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .with_timezone(&danvan_domain::calendar::vn_offset())
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        };
        let codes = store.feedback_sample_codes(2000).await?;
        type Shape = (&'static str, Arc<dyn Fn(u64) -> String + Send + Sync>);
        let shapes: Vec<Shape> = vec![
            ("10 tracking codes (service_request_id)", {
                let codes = codes.clone();
                Arc::new(move |n| {
                    let k = (n as usize * 10) % codes.len().max(1);
                    let list: Vec<&str> = codes
                        .iter()
                        .cycle()
                        .skip(k)
                        .take(10)
                        .map(String::as_str)
                        .collect();
                    format!("service_request_id={}", list.join(","))
                })
            }),
            ("one service, one hour (start_date, end_date)", {
                let ts = topics.clone();
                Arc::new(move |n| {
                    let end = now - (n % 2000) as i64 * 3600;
                    format!(
                        "service_code={}&start_date={}&end_date={}",
                        ts[n as usize % ts.len()],
                        urlencode(&iso(end - 3600)),
                        urlencode(&iso(end))
                    )
                })
            }),
            ("open items of one service, one day", {
                let ts = topics.clone();
                Arc::new(move |n| {
                    let end = now - (n % 20) as i64 * 86400;
                    format!(
                        "service_code={}&status=open&start_date={}&end_date={}",
                        ts[n as usize % ts.len()],
                        urlencode(&iso(end - 86400)),
                        urlencode(&iso(end))
                    )
                })
            }),
            ("one service, any status, 90 days (full: 1,000 results)", {
                let ts = topics.clone();
                Arc::new(move |n| format!("service_code={}", ts[n as usize % ts.len()]))
            }),
        ];
        let get_seconds = (args.seconds / 2.0).max(3.0);
        for (name, q) in shapes {
            let base = format!("{}/open311/v2/requests.json", server.base);
            let mut l = load(args.clients, 1.0, get_seconds, 200, move |c, n| {
                c.get(format!("{base}?{}", q(n)))
            })
            .await?;
            let mean_rows = l.rows as f64 / l.ok.max(1) as f64;
            let s = l.summary();
            eprintln!("bench: GET {name}: {s}, {mean_rows:.0} results each");
            if let Some(e) = &l.first_error {
                eprintln!("bench: first GET error: {e}");
            }
            lines.push(line(
                format!("Open311 GET, {name}, {} clients", args.clients),
                format!("{s}; {mean_rows:.0} results per response"),
                "≥ 2,000/s",
                Some(l.rate() >= GET_RATE_TARGET),
            ));
        }
    }
    drop(server);

    if phase("dashboard") {
        // The province dashboard (`Store::feedback_dashboard`, from the
        // rollups), as a province officer sees it, and the older summary.
        let viewer = danvan_store::feedback::Viewer::system();
        for (name, dashboard) in [
            ("dashboard (`feedback_dashboard`)", true),
            ("summary (`feedback_summary`)", false),
        ] {
            let mut times = Vec::new();
            for i in 0..105 {
                let t = Instant::now();
                if dashboard {
                    store.feedback_dashboard(&viewer, province_id, None).await?;
                } else {
                    store.feedback_summary(&viewer, province_id).await?;
                }
                if i >= 5 {
                    times.push(t.elapsed());
                }
            }
            times.sort();
            let median = pct(&times, 0.5);
            eprintln!("bench: province {name}: median {median:.1} ms");
            lines.push(line(
                format!("Province {name}, 100 calls after 5"),
                format!("median {median:.1} ms, p95 {:.1} ms", pct(&times, 0.95)),
                if dashboard { "median ≤ 50 ms" } else { "—" },
                dashboard.then_some(median <= DASHBOARD_TARGET_MS),
            ));
        }
    }
    if phase("sweep") {
        // The sweep: every report open, 1 % fallen due since the last
        // minute; first as neighbours (10 runs of consecutive reports, as
        // deadlines counted from the same minutes of receipt fall due
        // together), then spread one to a page (the worst case).
        let rows = store.feedback_row_count().await?;
        for (layout, stride, run) in [
            (
                "10 runs of neighbours",
                (rows / 10).max(1),
                (rows / 1000).max(1),
            ),
            ("spread, one a page", 100, 1),
        ] {
            let t = Instant::now();
            let (open, due) = store
                .feedback_bulk_open_all(stride, run)
                .await
                .map_err(|e| anyhow!("open_all: {e}"))?;
            eprintln!(
                "bench: {open} open, {due} due ({layout}), prepared in {:.1?}",
                t.elapsed()
            );
            let t = Instant::now();
            let (escalated, closed) = store.sweep_feedback().await?;
            let sweep = t.elapsed().as_secs_f64();
            eprintln!("bench: sweep {escalated} escalated, {closed} closed in {sweep:.2} s");
            lines.push(line(
                format!("Escalation sweep, {open} open reports of which {due} due ({layout})"),
                format!("{sweep:.2} s ({escalated} escalated)"),
                "≤ 1 s",
                Some(sweep <= SWEEP_TARGET_S),
            ));
        }
    }

    println!("\n### Feedback ({backend})\n");
    println!("| Measure | Result | Target | Met |\n| --- | --- | --- | --- |");
    for Line(m, r, t, met) in &lines {
        println!("| {m} | {r} | {t} | {met} |");
    }
    store.close().await;
    Ok(())
}

/// A fresh database's province, API key and reports: (province id, the
/// province, its hamlets, the key).
async fn setup(
    store: &Store,
    args: &BenchArgs,
    spec: &ProvinceSpec,
    lines: &mut Vec<Line>,
) -> Result<(i64, danvan_store::registry::unit::Unit, Vec<i64>, String)> {
    let actor = Actor::cli();

    // The unit tree.
    let t = Instant::now();
    let units = province_units(spec);
    let mut ids: HashMap<String, i64> = HashMap::new();
    for u in &units {
        let parent_id = u.parent.as_ref().and_then(|p| ids.get(p).copied());
        let id = store
            .create_unit(
                &actor,
                &NewUnit {
                    parent_id,
                    level: u.level,
                    name: u.name.clone(),
                    code: u.code.clone(),
                    valid_from: u.valid_from,
                    valid_to: u.valid_to,
                },
            )
            .await
            .with_context(|| format!("unit {}", u.key))?;
        ids.insert(u.key.clone(), id);
    }
    let province_id = ids["p"];
    let province = store.unit_unscoped(province_id).await?;
    let hamlets: Vec<i64> = units
        .iter()
        .filter(|u| u.level == UnitLevel::Hamlet)
        .map(|u| ids[&u.key])
        .collect();
    eprintln!("bench: {} units in {:.1?}", units.len(), t.elapsed());
    lines.push(line(
        "Data set",
        format!(
            "{} communes × {} hamlets ({} hamlets)",
            spec.communes,
            spec.hamlets_per_commune,
            hamlets.len()
        ),
        "",
        None,
    ));

    // The Open311 client's account and key: a province officer.
    store
        .create_account(
            &actor,
            &NewAccount {
                username: "bench.open311".into(),
                display_name: "Open311 benchmark client".into(),
                phone: None,
                password: "bench-password-2025".into(),
                role: Role::ProvinceOfficer,
                unit_id: Some(province_id),
                team_id: None,
            },
        )
        .await?;
    let api_key = store
        .create_api_token(&actor, "bench.open311", "benchmark")
        .await?;

    // The reports.
    let t = Instant::now();
    let bulk = store
        .feedback_bulk(
            &province.path,
            &BulkSpec {
                reports: args.reports,
                days: 365,
                seed: 2025,
            },
        )
        .await
        .map_err(|e| anyhow!("feedback_bulk: {e}"))?;
    let bulk_s = t.elapsed().as_secs_f64();
    eprintln!("bench: {} reports in {bulk_s:.1} s", bulk.reports);
    lines.push(line(
        "Reports stored (bench-only bulk insert, one year)",
        format!(
            "{} ({} open), inserted in {bulk_s:.1} s ({:.0}/s)",
            bulk.reports,
            bulk.open,
            bulk.reports as f64 / bulk_s
        ),
        "",
        None,
    ));
    Ok((province_id, province, hamlets, api_key))
}

/// Percent-encodes a query value (dates carry `+` and `:`).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
