//! The real Kannel (Debian's `kannel` package: bearerbox and smsbox) run as
//! children of this process on loopback — free ports, a config dir of its
//! own — for the demo, the benchmark and the tests. One place starts,
//! watches and stops the boxes; what plays the operator's side (the SMSC)
//! is the caller's:
//!
//! - [`Smsc::Fake`]: bearerbox's fake SMSC, a line protocol on a TCP port
//!   the caller connects to (`fakesmsc`'s). It reports every message
//!   delivered the moment it is written; nothing can fail.
//! - [`Smsc::Http`]: `smsc = http`, `system-type = kannel` — bearerbox
//!   hands each message (each part of a long one) to the caller's
//!   `send_url` as another Kannel's `sendsms` call would (`username`,
//!   `password`, `to`, `from`, `text` in `charset`, `coding`, `udh`,
//!   `dlr-mask`, `dlr-url`); answering `Sent.` accepts it, anything else
//!   refuses it (Kannel then reports 16, rejected). The peer reports
//!   delivery by calling the `dlr-url` it was given with `%d` replaced
//!   by the type (1 delivered, 2 failed), and phones' messages come in as
//!   a GET of [`LocalKannel::smsc_url`] with `username`, `password`,
//!   `from`, `to`, `text`. Both go through bearerbox and smsbox to the
//!   application's URLs, as from an operator.
//!
//! Each box leads a process group of its own (smsbox forks itself again
//! when bearerbox vanishes; the fork stays in the group), so stopping
//! signals the group; and each dies with this process, even killed
//! outright (`PR_SET_PDEATHSIG`).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long a box may take to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Why Kannel could not be run.
#[derive(Debug, thiserror::Error)]
pub enum KannelError {
    /// `bearerbox` or `smsbox` is not installed.
    #[error("{0} not found (Debian package kannel: bash scripts/setup)")]
    Missing(&'static str),
    #[error("Kannel: {0}")]
    Io(#[from] std::io::Error),
    /// A box exited or did not become ready; the tail of its logs.
    #[error("Kannel: {what}\n{logs}")]
    NotReady { what: String, logs: String },
}

/// The operator's side of bearerbox (see the module's documentation).
#[derive(Debug, Clone)]
pub enum Smsc {
    Fake,
    Http { send_url: String },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Setup {
    pub smsc: Smsc,
    /// The `get-url` smsbox calls for a phone's message (`%p` sender, `%P`
    /// receiver, `%a` text, `%I` id); its answer goes back to the phone.
    /// None: phones' messages are taken and answered with nothing.
    pub inbound_url: Option<String>,
    /// Where the config and the logs go (kept); None: a temp dir removed
    /// with the value.
    pub dir: Option<PathBuf>,
    /// Kannel's log level (0 debug … 4 panic).
    pub log_level: u8,
}

impl Setup {
    pub fn new(smsc: Smsc) -> Setup {
        Setup {
            smsc,
            inbound_url: None,
            dir: None,
            log_level: 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Ports {
    admin: u16,
    smsbox: u16,
    smsc: u16,
    sendsms: u16,
}

struct Proc {
    child: Child,
    pgid: i32,
}

/// bearerbox and smsbox, configured; running between `boot` and `stop`.
/// Dropping it kills both.
pub struct LocalKannel {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    ports: Ports,
    smsc: Smsc,
    /// The operator-side account of an HTTP SMSC (random per run).
    smsc_password: String,
    bearerbox: Option<Proc>,
    smsbox: Option<Proc>,
}

/// The `sendsms-user` the application uses.
pub const SENDSMS_USER: &str = "danvan";
const SENDSMS_PASSWORD: &str = "secret";
const ADMIN_PASSWORD: &str = "adm";
/// The account the HTTP SMSC's peer presents (and is presented).
pub const SMSC_USER: &str = "operator";

/// Where bearerbox and smsbox are: `$DANVAN_KANNEL_DIR` when set (the
/// tests point it at an empty dir to play "not installed"), else
/// /usr/sbin (Debian's place, often not on PATH), /usr/local/sbin, PATH.
pub fn find_box(name: &'static str) -> Result<PathBuf, KannelError> {
    let dirs: Vec<PathBuf> = match std::env::var_os("DANVAN_KANNEL_DIR") {
        Some(d) => vec![PathBuf::from(d)],
        None => ["/usr/sbin", "/usr/local/sbin"]
            .into_iter()
            .map(PathBuf::from)
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            ))
            .collect(),
    };
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(KannelError::Missing(name))
}

/// Both boxes, or the first one missing.
pub fn installed() -> Result<(), KannelError> {
    find_box("bearerbox")?;
    find_box("smsbox")?;
    Ok(())
}

impl LocalKannel {
    /// Picks free ports and writes the config; nothing runs yet (a fake
    /// SMSC's caller connects to `smsc_port` before `boot` waits for it).
    pub fn prepare(setup: Setup) -> Result<LocalKannel, KannelError> {
        installed()?;
        let (dir, temp) = match &setup.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (d.clone(), None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("danvan-kannel-")
                    .tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let ports = free_ports()?;
        let kannel = LocalKannel {
            dir,
            _temp: temp,
            ports,
            smsc: setup.smsc.clone(),
            smsc_password: format!("{:016x}", rand::random::<u64>()),
            bearerbox: None,
            smsbox: None,
        };
        std::fs::write(kannel.dir.join("kannel.conf"), kannel.config(&setup))?;
        // An empty store spares bearerbox's log three ERRORs about a missing one.
        std::fs::write(kannel.dir.join("store"), "")?;
        Ok(kannel)
    }

    /// `prepare` and `boot`.
    pub async fn start(setup: Setup) -> Result<LocalKannel, KannelError> {
        let mut k = LocalKannel::prepare(setup)?;
        k.boot().await?;
        Ok(k)
    }

    /// `http://127.0.0.1:PORT/cgi-bin/sendsms`
    pub fn sendsms_url(&self) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.ports.sendsms)
    }

    /// The `sendsms-user` (at most 10 parts a message, concatenation on).
    pub fn username(&self) -> &str {
        SENDSMS_USER
    }

    pub fn password(&self) -> &str {
        SENDSMS_PASSWORD
    }

    /// bearerbox's SMSC port: the fake SMSC's, or where an HTTP SMSC takes
    /// phones' messages and delivery reports.
    pub fn smsc_port(&self) -> u16 {
        self.ports.smsc
    }

    /// An HTTP SMSC's inbound address, with its account in the query.
    pub fn smsc_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/?username={SMSC_USER}&password={}",
            self.ports.smsc, self.smsc_password
        )
    }

    /// The password bearerbox sends to (and expects from) an HTTP SMSC.
    pub fn smsc_password(&self) -> &str {
        &self.smsc_password
    }

    /// The ports, for the operator: admin, smsbox, SMSC, sendsms.
    pub fn ports(&self) -> [u16; 4] {
        let p = self.ports;
        [p.admin, p.smsbox, p.smsc, p.sendsms]
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts bearerbox, then smsbox (which gives up at once without
    /// bearerbox), and waits until `sendsms` answers and the SMSC is
    /// online.
    pub async fn boot(&mut self) -> Result<(), KannelError> {
        self.bearerbox = Some(self.spawn(find_box("bearerbox")?)?);
        self.wait_until("bearerbox", |s| s.contains("Status: running"))
            .await?;
        self.smsbox = Some(self.spawn(find_box("smsbox")?)?);
        let online = match self.smsc {
            Smsc::Fake => format!("FAKE:{} (online", self.ports.smsc),
            Smsc::Http { .. } => format!("HTTP:kannel:{} (online", self.ports.smsc),
        };
        self.wait_until("smsbox and the SMSC", |s| {
            s.contains("smsbox:") && s.contains(&online)
        })
        .await
    }

    /// Kannel down: bearerbox shuts down (which stops smsbox too), so
    /// `sendsms` refuses connections. What it still held is kept in its
    /// store file for `boot`.
    pub async fn stop(&mut self) {
        if let Some(bearerbox) = &self.bearerbox {
            signal(bearerbox.pgid, libc::SIGTERM);
        }
        for mut p in [self.smsbox.take(), self.bearerbox.take()]
            .into_iter()
            .flatten()
        {
            // An orderly shutdown takes a second or two; anything left after
            // 10 s (or forked by smsbox) is killed.
            let _ = tokio::time::timeout(Duration::from_secs(10), p.child.wait()).await;
            signal(p.pgid, libc::SIGKILL);
            let _ = p.child.wait().await;
        }
    }

    /// Kills both boxes now and reaps them (also what `Drop` does).
    pub fn kill(&mut self) {
        for p in [&mut self.smsbox, &mut self.bearerbox]
            .into_iter()
            .flatten()
        {
            signal(p.pgid, libc::SIGKILL);
            // Reap it here: once the runtime is gone nobody else would, and
            // the container's init may not either.
            let deadline = Instant::now() + Duration::from_secs(2);
            while matches!(p.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.smsbox = None;
        self.bearerbox = None;
    }

    fn spawn(&self, program: PathBuf) -> Result<Proc, KannelError> {
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Console output only says more than the log files when the
        // configuration is broken (before the log file is open).
        let console = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.console")))?;
        let mut cmd = Command::new(&program);
        cmd.args(["-v", "3", "kannel.conf"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console)
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: prctl(2) only, between fork and exec: async-signal-safe,
        // touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pgid = child.id().map_or(0, |id| id as i32);
        Ok(Proc { child, pgid })
    }

    /// Waits until bearerbox's status page passes `ready` and, once smsbox
    /// runs, its HTTP server answers; fails if a box exits meanwhile.
    async fn wait_until(
        &mut self,
        what: &str,
        ready: impl Fn(&str) -> bool,
    ) -> Result<(), KannelError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| KannelError::Io(std::io::Error::other(e)))?;
        let status_url = format!(
            "http://127.0.0.1:{}/status.txt?password={ADMIN_PASSWORD}",
            self.ports.admin
        );
        let deadline = Instant::now() + START_TIMEOUT;
        let mut status = String::new();
        loop {
            let exited = [&mut self.bearerbox, &mut self.smsbox]
                .into_iter()
                .flatten()
                .find_map(|p| p.child.try_wait().ok().flatten());
            if let Some(exit) = exited {
                return Err(KannelError::NotReady {
                    what: format!("a box exited while starting {what} ({exit})"),
                    logs: self.logs(),
                });
            }
            if let Ok(r) = http.get(&status_url).send().await {
                status = r.text().await.unwrap_or_default();
            }
            if ready(&status)
                && (self.smsbox.is_none() || http.get(self.sendsms_url()).send().await.is_ok())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(KannelError::NotReady {
                    what: format!(
                        "{what} not ready within {START_TIMEOUT:?}; bearerbox status:\n{status}"
                    ),
                    logs: self.logs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last 20 lines of each of Kannel's logs.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let read = |name: &str| std::fs::read(self.dir.join(name)).unwrap_or_default();
        for name in [
            "bearerbox.log",
            "access.log",
            "smsbox.log",
            "bearerbox.console",
            "smsbox.console",
        ] {
            // The console repeats the log's errors, and only says more when
            // the log could not be opened.
            if let Some(box_name) = name.strip_suffix(".console") {
                if !read(&format!("{box_name}.log")).is_empty() {
                    continue;
                }
            }
            let text = read(name);
            let text = String::from_utf8_lossy(&text);
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let tail = &lines[lines.len().saturating_sub(20)..];
                out += &format!(
                    "--- {name} (last {} lines)\n{}\n",
                    tail.len(),
                    tail.join("\n")
                );
            }
        }
        out
    }

    fn config(&self, setup: &Setup) -> String {
        let d = self.dir.display();
        let Ports {
            admin,
            smsbox,
            smsc,
            sendsms,
        } = self.ports;
        let level = setup.log_level.min(4);
        // Without an inbound URL, phones' messages are still taken (and
        // answered with nothing), so smsbox has its one required service.
        let service = match &setup.inbound_url {
            Some(url) => format!("get-url = \"{}\"", url.replace('"', "%22")),
            None => "text = \"\"".to_string(),
        };
        let smsc_group = match &setup.smsc {
            Smsc::Fake => format!(
                "smsc = fake\nsmsc-id = fake\nport = {smsc}\nour-host = 127.0.0.1\n\
                 connect-allow-ip = 127.0.0.1"
            ),
            // `dlr-url`: the peer reports to bearerbox's own SMSC port,
            // which finds the message by `dlr-mid` and passes the report
            // on to smsbox and the application's `dlr-url`.
            Smsc::Http { send_url } => format!(
                "smsc = http\nsmsc-id = operator\nsystem-type = kannel\n\
                 send-url = \"{}\"\nport = {smsc}\nconnect-allow-ip = 127.0.0.1\n\
                 smsc-username = {SMSC_USER}\nsmsc-password = {pw}\n\
                 dlr-url = \"http://127.0.0.1:{smsc}/?username={SMSC_USER}&password={pw}\"",
                send_url.replace('"', "%22"),
                pw = self.smsc_password,
            ),
        };
        // The store file keeps queued messages over a stop and a boot.
        format!(
            r#"group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = {ADMIN_PASSWORD}
smsbox-port = {smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-level = {level}
log-file = "{d}/bearerbox.log"
access-log = "{d}/access.log"
dlr-storage = internal
store-type = file
store-location = "{d}/store"

group = smsc
{smsc_group}

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-level = {level}
log-file = "{d}/smsbox.log"
mo-recode = true
# Calls to Dân Vận (delivery reports, phones' messages) that fail are tried
# again every second for half a minute: a restarted server still hears of
# what it sent before it stopped.
http-request-retry = 30
http-queue-delay = 1

group = sendsms-user
username = {SENDSMS_USER}
password = {SENDSMS_PASSWORD}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
{service}
omit-empty = true
max-messages = 10
concatenation = true
"#
        )
    }
}

impl Drop for LocalKannel {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pgid: i32, sig: i32) {
    if pgid <= 0 {
        return;
    }
    // SAFETY: kill(2) on a process group this process created; no memory
    // involved.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Four distinct free loopback ports: all are bound at once so they
/// differ, then released for Kannel (a small race with other processes,
/// as usual).
fn free_ports() -> std::io::Result<Ports> {
    let listeners = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(Ports {
        admin: ports[0],
        smsbox: ports[1],
        smsc: ports[2],
        sendsms: ports[3],
    })
}

/// Kannel's URL decoding: `+` is a space, `%XX` a byte (UCS-2 text and
/// UDH come as raw bytes, URL-encoded).
pub fn url_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// URL encoding of bytes: letters and digits as they are, the rest `%XX`.
pub fn url_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The concatenation element of a UDH: (reference, total, number), with
/// an 8-bit or 16-bit reference.
pub fn concatenation(udh: &[u8]) -> Option<(u16, u8, u8)> {
    let len = usize::from(*udh.first()?);
    let mut ies = udh.get(1..1 + len)?;
    while let [iei, l, rest @ ..] = ies {
        let value = rest.get(..usize::from(*l))?;
        match (iei, value) {
            (0x00, &[r, total, n]) => return Some((r.into(), total, n)),
            (0x08, &[r1, r2, total, n]) => return Some((u16::from_be_bytes([r1, r2]), total, n)),
            _ => ies = rest.get(usize::from(*l)..)?,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_helpers() {
        // 8-bit reference 2, 2 parts, part 1; a 16-bit one.
        assert_eq!(concatenation(&[5, 0, 3, 2, 2, 1]), Some((2, 2, 1)));
        assert_eq!(concatenation(&[6, 8, 4, 1, 2, 3, 3]), Some((258, 3, 3)));
        assert_eq!(concatenation(&[2, 0]), None);
        assert_eq!(
            url_decode("%00H%1E%CD+%zz"),
            vec![0, b'H', 0x1e, 0xcd, b' ', b'%', b'z', b'z']
        );
        assert_eq!(url_encode(b"+84 a"), "%2B84%20a");
    }
}
