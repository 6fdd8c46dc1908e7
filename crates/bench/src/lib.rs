//! `danvan bench`: the province-sized benchmark.
//!
//! Builds a synthetic province (units through the store, households through a
//! generated CSV and the real import), then measures what the issue names:
//! the import (wall time, the process's peak memory, the ratio to the
//! `sqlite3` shell's `.import` of the same file), search medians scoped to a
//! commune and province-wide, and the team page (over loopback through the
//! real router, and the store calls it makes). Prints one markdown table.
//! Everything it writes goes to the database given and to `--work-dir`.
//!
//! A library so the `danvan` binary stays a thin shell; it must run inside
//! that binary all the same: the feedback suite starts `danvan serve` from
//! the current executable (`std::env::current_exe`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use danvan_demo::{province_units, write_province_csv, ProvinceSpec};
use danvan_domain::{text, MemberRole, PersonName, Represents, Role, TeamKind, UnitLevel};
use danvan_store::registry::account::NewAccount;
use danvan_store::registry::team::{NewMember, NewTeam};
use danvan_store::registry::unit::NewUnit;
use danvan_store::{Actor, Scope, Store};

pub mod announce;
pub mod audio;
pub mod feedback;

/// Options of `danvan bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// A fresh (empty) database: sqlite://PATH or postgres://USER@HOST/DB
    /// (the audio suite needs none).
    #[arg(long, default_value = "")]
    pub database_url: String,
    /// Households in the province, spread evenly over the hamlets.
    #[arg(long, default_value_t = 500_000)]
    pub households: usize,
    /// Communes in the province.
    #[arg(long, default_value_t = 100)]
    pub communes: usize,
    /// Hamlets per commune.
    #[arg(long, default_value_t = 10)]
    pub hamlets: usize,
    /// Folder for the generated CSV and the sqlite3 comparison database.
    #[arg(long, default_value = "./danvan-bench")]
    pub work_dir: PathBuf,
    /// Timed searches per scope, and timed team-page requests.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Teams to create (about 40 households each) for the team page.
    #[arg(long, default_value_t = 5)]
    pub teams: usize,
    /// What to measure: `registry` (import, search, team page) or
    /// `feedback` (Open311 POST and GET, dashboard, sweep; issue 3) or
    /// `audio` (a one-minute announcement to loudspeaker audio; issue 4).
    #[arg(long, value_enum, default_value_t = Suite::Registry)]
    pub suite: Suite,
    /// Feedback suite: reports stored before the measurements.
    #[arg(long, default_value_t = 1_000_000)]
    pub reports: usize,
    /// Feedback suite: concurrent HTTP clients (keep-alive connections).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Feedback suite: timed seconds of the POST load (GET shapes: half).
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// Feedback suite: which measurements to run, of `post`, `get`,
    /// `dashboard`, `sweep` (comma-separated; all by default). The sweep
    /// opens every report, so it runs last.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "post,get,dashboard,sweep"
    )]
    pub phases: Vec<String>,
    /// Feedback and announcements suites: run on a database an earlier
    /// run of the suite filled (for trying one change after another),
    /// instead of refusing a database that holds units. The announcements
    /// suite then skips building and importing the province.
    #[arg(long)]
    pub reuse: bool,
    /// Announcements suite: time the plan only, not the sending through
    /// Kannel.
    #[arg(long)]
    pub skip_send: bool,
}

/// The benchmark suites.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    Registry,
    Feedback,
    /// Issue 4: plan an announcement to the imported province, send through Kannel.
    Announcements,
    /// Issue 4: a one-minute announcement synthesized to audio.
    Audio,
}

/// Targets of the issue.
const IMPORT_TARGET_S: f64 = 60.0;
const MEMORY_TARGET_MB: f64 = 500.0;
const SEARCH_COMMUNE_TARGET_MS: f64 = 20.0;
const SEARCH_PROVINCE_TARGET_MS: f64 = 100.0;
const TEAM_PAGE_TARGET_MS: f64 = 5.0;
const HOUSEHOLDS_PER_TEAM: i64 = 40;
const PASSWORD: &str = "bench-password-2025";

pub(crate) struct Row {
    measure: String,
    result: String,
    target: String,
    met: &'static str,
}

pub(crate) fn row(
    measure: impl Into<String>,
    result: impl Into<String>,
    target: &str,
    met: Option<bool>,
) -> Row {
    Row {
        measure: measure.into(),
        result: result.into(),
        target: target.to_string(),
        met: match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        },
    }
}

/// Median and 95th percentile, in milliseconds.
fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = v.len();
    let median = if n % 2 == 1 {
        ms(v[n / 2])
    } else {
        (ms(v[n / 2 - 1]) + ms(v[n / 2])) / 2.0
    };
    let p95 = ms(v[(n * 95).div_ceil(100).clamp(1, n) - 1]);
    (median, p95)
}

fn ms_pair((median, p95): (f64, f64)) -> String {
    format!("median {median:.2} ms, p95 {p95:.2} ms")
}

/// A /proc/self/status field in kB (Linux).
pub(crate) fn proc_status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Search times of one scope: all, and by kind of query.
type ScopeTimes = (
    &'static str,
    Vec<Duration>,
    HashMap<&'static str, Vec<Duration>>,
);

/// One query of the search benchmark.
struct Query {
    kind: &'static str,
    text: String,
    commune: String,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    match args.suite {
        Suite::Audio => return crate::audio::run().await,
        _ if args.database_url.is_empty() => bail!("--database-url is required"),
        Suite::Feedback => return crate::feedback::run(args).await,
        Suite::Registry | Suite::Announcements => {}
    }
    let spec = province_spec(&args);
    if spec.communes == 0 || spec.hamlets_per_commune == 0 || spec.households == 0 {
        bail!("--communes, --hamlets and --households must be positive");
    }
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot create {}", args.work_dir.display()))?;
    let store = Store::connect(&args.database_url)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    let top = store.top_units(&Scope::all()).await?;
    if args.suite == Suite::Announcements && args.reuse {
        let Some(province) = top.first() else {
            bail!("--reuse needs a database an earlier run of this suite filled");
        };
        let mut rows: Vec<Row> = Vec::new();
        crate::announce::run(&store, province.id, &args, &mut rows).await?;
        store.close().await;
        print_rows(rows);
        return Ok(());
    }
    if !top.is_empty() || !store.search_units(&Scope::all(), "", 1).await?.is_empty() {
        bail!("the benchmark needs an empty database (it already holds units)");
    }
    let actor = Actor::cli();
    let mut rows: Vec<Row> = Vec::new();
    rows.push(row(
        "Data set",
        format!(
            "{} communes × {} hamlets, {} households",
            spec.communes, spec.hamlets_per_commune, spec.households
        ),
        "",
        None,
    ));

    // The unit tree.
    let t = Instant::now();
    let units = province_units(&spec);
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
    eprintln!("bench: {} units in {:.1?}", units.len(), t.elapsed());
    let province_id = ids["p"];
    let mut commune_paths: HashMap<String, String> = HashMap::new();
    let mut hamlet_keys: Vec<&str> = Vec::new();
    for u in &units {
        match u.level {
            UnitLevel::Commune => {
                let path = store.unit_unscoped(ids[&u.key]).await?.path;
                commune_paths.insert(u.name.clone(), path);
            }
            UnitLevel::Hamlet => hamlet_keys.push(&u.key),
            _ => {}
        }
    }

    // The CSV.
    let csv = args
        .work_dir
        .join(format!("province-{}.csv", spec.households));
    let t = Instant::now();
    let file =
        std::fs::File::create(&csv).with_context(|| format!("cannot write {}", csv.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let written = write_province_csv(&spec, &mut out)?;
    out.flush()?;
    drop(out);
    let csv_bytes = std::fs::metadata(&csv)?.len();
    let generate = t.elapsed();
    eprintln!(
        "bench: wrote {} ({} households, {} residents, {:.0} MB) in {generate:.1?}",
        csv.display(),
        written.households,
        written.residents,
        csv_bytes as f64 / 1e6
    );
    rows.push(row(
        "CSV generated",
        format!(
            "{} households, {} residents, {:.0} MB, in {:.1} s",
            written.households,
            written.residents,
            csv_bytes as f64 / 1e6,
            generate.as_secs_f64()
        ),
        "",
        None,
    ));

    // The import; the high-water mark is reset first where Linux allows it.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = proc_status_kb("VmRSS:").unwrap_or(0);
    let t = Instant::now();
    let outcome = store
        .import_households(&danvan_store::Viewer::cli(), province_id, &csv, false)
        .await
        .map_err(|e| anyhow!("import: {e}"))?;
    let import = t.elapsed();
    let hwm = proc_status_kb("VmHWM:").unwrap_or(0);
    if !outcome.committed {
        let first = outcome
            .errors
            .first()
            .map(|e| format!("row {} {}: {}", e.row, e.column, e.message_en))
            .unwrap_or_default();
        bail!(
            "the import was refused ({} errors; first: {first})",
            outcome.error_count
        );
    }
    let import_s = import.as_secs_f64();
    eprintln!(
        "bench: imported {} households, {} residents in {import_s:.1} s; VmHWM {} MB",
        outcome.households,
        outcome.rows,
        hwm / 1024
    );
    let sqlite = store.backend() == "sqlite";
    rows.push(row(
        format!("Import ({})", store.backend()),
        format!(
            "{import_s:.1} s ({:.0} residents/s)",
            outcome.rows as f64 / import_s
        ),
        if sqlite {
            "≤ 60 s on SQLite"
        } else {
            "— (target is for SQLite)"
        },
        sqlite.then_some(import_s <= IMPORT_TARGET_S),
    ));
    let hwm_mb = hwm as f64 / 1024.0;
    rows.push(row(
        "Peak memory (VmHWM of the whole process)",
        format!(
            "{hwm_mb:.0} MB{} (RSS before the import {:.0} MB)",
            if reset {
                ", reset just before the import"
            } else {
                ", since process start"
            },
            rss_before as f64 / 1024.0
        ),
        "≤ 500 MB",
        Some(hwm_mb <= MEMORY_TARGET_MB),
    ));
    if args.suite == Suite::Announcements {
        crate::announce::run(&store, province_id, &args, &mut rows).await?;
        store.close().await;
        print_rows(rows);
        return Ok(());
    }

    // The sqlite3 shell's .import of the same file.
    match sqlite3_import(&csv, &args.work_dir) {
        Ok(d) => {
            let s = d.as_secs_f64();
            rows.push(row(
                "sqlite3 `.import` of the same file (no indexes, no checks)",
                format!("{s:.1} s; danvan import is {:.1}× that", import_s / s),
                "ratio reported",
                None,
            ));
        }
        Err(e) => {
            eprintln!("bench: sqlite3 comparison skipped: {e:#}");
            rows.push(row(
                "sqlite3 `.import` of the same file",
                format!("not measured ({e})"),
                "ratio reported",
                None,
            ));
        }
    }

    // Teams of about 40 households in hamlets spread over the province.
    let t = Instant::now();
    let mut teams: Vec<(i64, String)> = Vec::new();
    let step = (hamlet_keys.len() / args.teams.max(1)).max(1);
    for (n, key) in hamlet_keys
        .iter()
        .step_by(step)
        .take(args.teams)
        .enumerate()
    {
        let hamlet_id = ids[*key];
        let hamlet = store.unit_unscoped(hamlet_id).await?;
        let name = format!("Tổ dân vận số 1 {}", hamlet.name.to_lowercase());
        let team_id = store
            .create_team(
                &actor,
                &NewTeam {
                    hamlet_id,
                    kind: TeamKind::Team,
                    parent_team_id: None,
                    code: format!("BENCH-T{}", n + 1),
                    name: name.clone(),
                    target_size: None,
                },
            )
            .await?;
        let people = [
            (
                "Nguyễn Văn Hùng",
                MemberRole::Leader,
                Represents::HamletLeadership,
            ),
            ("Trần Thị Mai", MemberRole::Deputy, Represents::WomensUnion),
            ("Lê Văn Nam", MemberRole::Member, Represents::FarmersUnion),
            ("Phạm Văn Dũng", MemberRole::Member, Represents::Veterans),
            ("Hoàng Thị Lan", MemberRole::Member, Represents::YouthUnion),
        ];
        for (full, role, represents) in people {
            store
                .add_member(
                    &actor,
                    team_id,
                    &NewMember {
                        name: PersonName::parse(full).map_err(|e| anyhow!("{e:?}"))?,
                        gender: None,
                        role,
                        represents,
                        phone: None,
                        term_from: store.today(),
                        term_to: None,
                    },
                )
                .await?;
        }
        let households = store
            .unassigned_households(&Scope::all(), &hamlet.path, 0, HOUSEHOLDS_PER_TEAM)
            .await?;
        for h in households {
            store
                .assign_team(&danvan_store::Viewer::cli(), h.id, Some(team_id))
                .await?;
        }
        teams.push((team_id, name));
    }
    if teams.is_empty() {
        bail!("no team could be created");
    }
    eprintln!("bench: {} teams in {:.1?}", teams.len(), t.elapsed());

    // Search.
    let queries = sample_queries(&csv, written.residents, args.queries.max(1))?;
    let all = Scope::all();
    for q in queries.iter().take(20) {
        store.search(&all, &q.text, 50).await?;
    }
    let mut by_scope: Vec<ScopeTimes> = Vec::new();
    for commune in [true, false] {
        let mut times = Vec::with_capacity(queries.len());
        let mut kinds: HashMap<&str, Vec<Duration>> = HashMap::new();
        for q in &queries {
            let scope = if commune {
                Scope::unit(
                    commune_paths
                        .get(&q.commune)
                        .ok_or_else(|| anyhow!("unknown commune {}", q.commune))?,
                )
            } else {
                all.clone()
            };
            let t = Instant::now();
            let found = store.search(&scope, &q.text, 50).await?;
            let d = t.elapsed();
            if found.residents.is_empty() {
                eprintln!("bench: no hit for «{}» ({})", q.text, q.kind);
            }
            times.push(d);
            kinds.entry(q.kind).or_default().push(d);
        }
        by_scope.push((if commune { "commune" } else { "province" }, times, kinds));
    }
    for (scope, times, kinds) in by_scope {
        let (target, limit) = if scope == "commune" {
            ("median ≤ 20 ms", SEARCH_COMMUNE_TARGET_MS)
        } else {
            ("median ≤ 100 ms", SEARCH_PROVINCE_TARGET_MS)
        };
        let n = times.len();
        let s = stats(times);
        rows.push(row(
            format!("Search, {scope} scope ({n} queries, limit 50)"),
            ms_pair(s),
            target,
            Some(s.0 <= limit),
        ));
        let mut kinds: Vec<_> = kinds.into_iter().collect();
        kinds.sort_by_key(|(k, _)| *k);
        for (kind, times) in kinds {
            let n = times.len();
            rows.push(row(
                format!("  … {scope}, {kind} ({n})"),
                ms_pair(stats(times)),
                "",
                None,
            ));
        }
    }

    // The team page: the store calls, then the real router over loopback.
    let mut store_times = Vec::new();
    for i in 0..args.queries + 10 {
        let (id, _) = &teams[i % teams.len()];
        let t = Instant::now();
        store.team(&all, *id).await?;
        store.members(&Scope::all(), *id).await?;
        store.team_households(&Scope::all(), *id).await?;
        if i >= 10 {
            store_times.push(t.elapsed());
        }
    }
    let page_times = team_page_times(&store, &args, &teams).await?;
    rows.push(row(
        format!(
            "Team page, GET /teams/{{id}} over loopback, in process ({} requests)",
            page_times.len()
        ),
        ms_pair(stats(page_times.clone())),
        "median ≤ 5 ms (server time)",
        Some(stats(page_times).0 <= TEAM_PAGE_TARGET_MS),
    ));
    rows.push(row(
        format!(
            "Team page, its store calls only (team + members + team_households, {})",
            store_times.len()
        ),
        ms_pair(stats(store_times)),
        "",
        None,
    ));
    store.close().await;
    print_rows(rows);
    Ok(())
}

fn print_rows(rows: Vec<Row>) {
    println!("| Measure | Result | Target | Met |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.measure, r.result, r.target, r.met
        );
    }
}

/// The province of the arguments, with the first seed from 2025 whose names
/// stay unique once folded: the import matches communes and hamlets without
/// diacritics, and «Đông»/«Đồng» fold alike.
fn province_spec(args: &BenchArgs) -> ProvinceSpec {
    let mut spec = ProvinceSpec {
        communes: args.communes,
        hamlets_per_commune: args.hamlets,
        households: args.households,
        seed: 2025,
    };
    for seed in 2025..2125 {
        spec.seed = seed;
        let mut seen = std::collections::HashSet::new();
        let mut commune = String::new();
        let unique = province_units(&spec).iter().all(|u| match u.level {
            UnitLevel::Commune => {
                commune = text::fold(&u.name);
                seen.insert(commune.clone())
            }
            UnitLevel::Hamlet => seen.insert(format!("{commune}/{}", text::fold(&u.name))),
            _ => true,
        });
        if unique {
            break;
        }
    }
    spec
}

/// Times the `sqlite3` shell importing `csv` into a new table of a new database.
fn sqlite3_import(csv: &Path, work_dir: &Path) -> Result<Duration> {
    let db = work_dir.join("sqlite3-import.db");
    let _ = std::fs::remove_file(&db);
    let t = Instant::now();
    let mut child = std::process::Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot run sqlite3 (apt-get install sqlite3)")?;
    {
        let stdin = child.stdin.as_mut().ok_or_else(|| anyhow!("no stdin"))?;
        writeln!(stdin, ".mode csv")?;
        writeln!(stdin, ".import '{}' residents_raw", csv.display())?;
    }
    let status = child.wait()?;
    let d = t.elapsed();
    let _ = std::fs::remove_file(&db);
    if !status.success() {
        bail!("sqlite3 exited with {status}");
    }
    Ok(d)
}

/// Queries drawn at even intervals from the file: a family and middle name
/// ("nguyen van"), a given name, a phone prefix, a full name — typed without
/// diacritics, as people do.
fn sample_queries(csv: &Path, residents: u64, n: usize) -> Result<Vec<Query>> {
    let kinds = ["family+middle", "given name", "phone prefix", "full name"];
    let step = (residents / n as u64).max(1);
    let mut out = Vec::with_capacity(n);
    let mut want_phone = false;
    let reader = BufReader::new(std::fs::File::open(csv)?);
    for (i, line) in reader.lines().skip(1).enumerate() {
        let line = line?;
        if out.len() >= n {
            break;
        }
        if !(i as u64).is_multiple_of(step) && !want_phone {
            continue;
        }
        // Name and phone come before the only quoted column (the address).
        let f: Vec<&str> = line.splitn(10, ',').collect();
        let (name, phone, commune) = (f[1], f[5], f[8]);
        let kind = if want_phone {
            2
        } else {
            out.len() % kinds.len()
        };
        let words: Vec<&str> = name.split_whitespace().collect();
        let text = match kind {
            0 => words.iter().take(2).copied().collect::<Vec<_>>().join(" "),
            1 => words.last().copied().unwrap_or_default().to_string(),
            2 if phone.len() >= 7 => phone[..7].to_string(),
            2 => {
                // Try the next rows until one has a phone.
                want_phone = true;
                continue;
            }
            _ => name.to_string(),
        };
        want_phone = false;
        out.push(Query {
            kind: kinds[kind],
            text: if kind == 2 { text } else { text::fold(&text) },
            commune: commune.to_string(),
        });
    }
    Ok(out)
}

/// Logs in through the form and times GET /teams/{id} on the real router.
async fn team_page_times(
    store: &Store,
    args: &BenchArgs,
    teams: &[(i64, String)],
) -> Result<Vec<Duration>> {
    let username = "bench.admin";
    store
        .create_account(
            &Actor::cli(),
            &NewAccount {
                username: username.into(),
                display_name: "Benchmark".into(),
                phone: None,
                password: PASSWORD.into(),
                role: Role::Admin,
                unit_id: None,
                team_id: None,
            },
        )
        .await?;
    let upload_dir = args.work_dir.join("uploads");
    std::fs::create_dir_all(&upload_dir)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = danvan_web::AppState {
        store: store.clone(),
        secure_cookies: false,
        upload_dir,
        public_url: None,
        trusted_proxies: Default::default(),
    };
    let server = tokio::spawn(danvan_web::serve_on(state, listener));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = input_value(&page, "csrf").ok_or_else(|| anyhow!("no csrf on /login"))?;
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", username),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await?;
    if res.status() != 303 {
        bail!("login answered {}", res.status());
    }
    let mut times = Vec::with_capacity(args.queries);
    for i in 0..args.queries + 10 {
        let (id, name) = &teams[i % teams.len()];
        let t = Instant::now();
        let res = client.get(format!("{base}/teams/{id}")).send().await?;
        let status = res.status();
        let body = res.text().await?;
        let d = t.elapsed();
        if status != 200 || !body.contains(name.as_str()) {
            bail!("GET /teams/{id} answered {status} without the team's name");
        }
        if i >= 10 {
            times.push(d);
        }
    }
    server.abort();
    Ok(times)
}

/// The value of `<input … name="NAME" … value="…">` in a page.
fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let at = html.find(&needle)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + 7;
    let end = tag[v..].find('"')? + v;
    Some(tag[v..end].to_string())
}
