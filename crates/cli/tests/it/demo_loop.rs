//! `danvan demo` shows the whole loop (issue 14, item 5): with Kannel
//! installed it runs bearerbox and smsbox with a simulated population of
//! phones, so an announcement to Mai Hoàng reaches basic phones with
//! delivery reports, "OK" replies and failures handed to visits; it stops
//! them on Ctrl-C. Without Kannel it says what is missing and runs without
//! SMS; `serve` never starts Kannel. All through the real binary.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::announce_kill::free_port;
use crate::common::{input_value, login_at, PW};

/// A `danvan` process of this build, its output kept for the checks and
/// for panics.
struct Running {
    child: Child,
    base: String,
    out: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Running {
    /// `danvan ARGS… --bind 127.0.0.1:PORT` with `env`, in a temp dir
    /// (`{dir}` in an argument); waits until it serves its login page.
    async fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_danvan"));
        cmd.args(args.iter().map(|a| a.replace("{dir}", &d)))
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .env("DANVAN_LOG", "info,sqlx=warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("danvan");
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    let mut o = out.lock().unwrap();
                    o.push_str(&l);
                    o.push('\n');
                }
            });
        }
        let running = Running {
            child,
            base: format!("http://127.0.0.1:{port}"),
            out,
            _dir: dir,
        };
        // The demo loads the pilot first (seconds, more in a debug build).
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/login", running.base)).await {
                if r.status() == 200 {
                    return running;
                }
            }
            assert!(
                Instant::now() < deadline,
                "danvan {args:?} did not serve:\n{}",
                running.output()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Ctrl-C, as a person stops the demo; waits for the exit.
    async fn interrupt(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child; no memory involved.
        unsafe {
            libc::kill(self.pid() as i32, libc::SIGINT);
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the demo stops on Ctrl-C")
            .unwrap()
    }
}

/// The processes `pid` started (children of any of its threads), with
/// their names.
fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let list = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for c in list
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            let name = std::fs::read_to_string(format!("/proc/{c}/comm")).unwrap_or_default();
            out.push((c, name.trim().to_string()));
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The rows of the reach page's table by channel: (channel, state, count).
fn by_channel(html: &str) -> Vec<(String, String, i64)> {
    let Some(start) = html.find("id=\"reach-by-channel\"") else {
        return vec![];
    };
    let table = &html[start..start + html[start..].find("</table>").unwrap_or(0)];
    table
        .split("<tr>")
        .filter_map(|row| {
            let cells: Vec<&str> = row
                .split("<td>")
                .skip(1)
                .filter_map(|c| c.split("</td>").next())
                .collect();
            match cells.as_slice() {
                [ch, st, n] => Some((ch.to_string(), st.to_string(), n.trim().parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

async fn page(c: &reqwest::Client, url: &str) -> String {
    c.get(url).send().await.unwrap().text().await.unwrap()
}

/// The option of `<select name="unit">` whose label names `place`.
fn unit_option(html: &str, place: &str) -> Option<String> {
    let start = html.find("name=\"unit\"")?;
    let select = &html[start..start + html[start..].find("</select>")?];
    select.split("<option value=\"").skip(1).find_map(|o| {
        let (value, rest) = o.split_once('"')?;
        rest.split("</option>")
            .next()
            .filter(|label| label.contains(place))
            .map(|_| value.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_shows_an_announcement_reaching_simulated_phones() {
    if danvan_sms::local_kannel::installed().is_err() {
        panic!("Kannel is not installed: run ./scripts/setup as root");
    }
    // Answers in 1–3 s, reports in well under a second.
    let mut demo = Running::start(
        &["demo", "--data-dir", "{dir}/demo", "--phone-delay", "1-3"],
        &[],
    )
    .await;
    let said = demo.output();
    assert!(
        said.contains("SMS: Kannel chạy trên 127.0.0.1 — sendsms ")
            && said.contains("điện thoại MÔ PHỎNG")
            && said.contains("trả lời \"OK\" sau 1–3 giây"),
        "the demo says Kannel runs and the phones are simulated:\n{said}"
    );
    let boxes: Vec<(u32, String)> = children(demo.pid());
    let names: Vec<&str> = boxes.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        names.contains(&"bearerbox") && names.contains(&"smsbox"),
        "{boxes:?}"
    );
    let kannel_dir = said
        .split("cấu hình và nhật ký ở ")
        .nth(1)
        .and_then(|s| s.split(" (xoá khi dừng)").next())
        .expect("the demo names Kannel's dir")
        .to_string();
    assert!(std::path::Path::new(&kannel_dir)
        .join("kannel.conf")
        .is_file());

    // The commune officer (the unit's leader in the demo) sends an
    // emergency to Mai Hoàng from the page: an emergency goes out at any
    // hour, so the test does not wait for the quiet hours to end.
    let (c, csrf) = login_at(&demo.base, "xa.phucson", PW).await;
    let form = page(&c, &format!("{}/announcements/new", demo.base)).await;
    let mai_hoang = unit_option(&form, "Mai Hoàng").expect("Mai Hoàng on the form");
    let r = c
        .post(format!("{}/announcements/new", demo.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("unit", mai_hoang.as_str()),
            ("title", "Báo lũ"),
            (
                "body",
                "Nước sông đang lên, các hộ ven sông chuẩn bị di dời. Nhận được xin trả lời OK.",
            ),
            ("urgency", "emergency"),
            ("action", "send"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let reach = r.headers()["location"].to_str().unwrap().to_string();
    assert!(reach.starts_with("/announcements/"), "{reach}");

    // Within a minute the reach page shows delivery reports, "OK" replies,
    // failures, and those failures handed to the team as visits.
    const SMS: &str = "Tin nhắn SMS";
    let deadline = Instant::now() + Duration::from_secs(60);
    let (rows, fallbacks) = loop {
        let mut pages = String::new();
        for n in 0.. {
            let html = page(&c, &format!("{}{reach}?page={n}", demo.base)).await;
            let more = html.contains("id=\"next-page\"");
            pages += &html;
            if !more || n > 20 {
                break;
            }
        }
        let rows = by_channel(&pages);
        let count = |ch: &str, st: &str| {
            rows.iter()
                .filter(|(c, s, _)| c == ch && s == st)
                .map(|(_, _, n)| *n)
                .sum::<i64>()
        };
        let fallbacks = pages.matches("<td>SMS không gửi được</td>").count();
        if count(SMS, "Đã tới máy") > 0
            && count(SMS, "Đã xác nhận") > 0
            && count(SMS, "Không gửi được") > 0
            && fallbacks > 0
        {
            break (rows, fallbacks);
        }
        assert!(
            Instant::now() < deadline,
            "no whole loop within a minute: {rows:?}, {fallbacks} visits after a failed SMS\n{}",
            demo.output()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let count = |st: &str| {
        rows.iter()
            .filter(|(c, s, _)| c == SMS && s == st)
            .map(|(_, _, n)| *n)
            .sum::<i64>()
    };
    let sms: i64 = rows
        .iter()
        .filter(|(c, _, _)| c == SMS)
        .map(|(_, _, n)| n)
        .sum();
    eprintln!("reach by channel: {rows:?}; {fallbacks} visits after a failed SMS");
    // Most numbers are delivered, some fail: the simulation's shares.
    let reached = count("Đã tới máy") + count("Đã xác nhận");
    assert!(reached * 100 >= sms * 60, "{rows:?}");
    assert!(count("Không gửi được") * 100 <= sms * 30, "{rows:?}");
    assert!(fallbacks as i64 <= count("Không gửi được"), "{rows:?}");
    // The replies went through Kannel's sms-service to /sms/inbound.
    assert!(
        demo.output().contains("\"acknowledged\""),
        "{}",
        demo.output()
    );

    // Ctrl-C stops the demo, Kannel with it, and removes its dir.
    let status = demo.interrupt().await;
    assert!(status.success(), "{status:?}\n{}", demo.output());
    for (pid, name) in &boxes {
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(*pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!alive(*pid), "{name} ({pid}) outlived the demo");
    }
    assert!(
        !std::path::Path::new(&kannel_dir).exists(),
        "{kannel_dir} removed"
    );
}

/// Without Kannel the demo says what is missing and how to get it, and
/// runs without SMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_without_kannel_says_how_to_get_it() {
    let empty = tempfile::tempdir().unwrap();
    let mut demo = Running::start(
        &["demo", "--data-dir", "{dir}/demo"],
        &[("DANVAN_KANNEL_DIR", &empty.path().display().to_string())],
    )
    .await;
    let said = demo.output();
    assert!(
        said.contains("SMS: tắt — không tìm thấy bearerbox của Kannel")
            && said.contains("Cài bằng: bash scripts/setup"),
        "{said}"
    );
    assert!(!said.contains("MÔ PHỎNG"), "{said}");
    assert!(
        children(demo.pid()).is_empty(),
        "{:?}",
        children(demo.pid())
    );
    let (c, _) = login_at(&demo.base, "xa.phucson", PW).await;
    let page = c
        .get(format!("{}/announcements/new", demo.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(demo.interrupt().await.success());
}

/// A plain `serve` never starts Kannel, installed or not, nor says it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_never_starts_kannel() {
    assert!(
        danvan_sms::local_kannel::installed().is_ok(),
        "Kannel installed"
    );
    let serve = Running::start(&["serve", "--database-url", "sqlite://{dir}/serve.db"], &[]).await;
    // Past the sweeper's first round and the sender's start.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        children(serve.pid()).is_empty(),
        "{:?}",
        children(serve.pid())
    );
    let said = serve.output();
    assert!(
        !said.contains("MÔ PHỎNG") && !said.contains("SMS: Kannel"),
        "{said}"
    );
    let csrf_page = reqwest::get(format!("{}/login", serve.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(input_value(&csrf_page, "csrf").is_some());
}
