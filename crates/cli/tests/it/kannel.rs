//! The real Kannel SMS gateway (Debian's `kannel` package) on loopback, for
//! tests that send SMS through `sendsms` or receive them through `get-url`.
//!
//! bearerbox, smsbox and the fake SMSC connection run on free ports in a temp
//! dir of their own, so tests run in parallel. The phone side of the fake
//! SMSC is played by this harness itself: it connects to bearerbox's fake
//! SMSC port as `fakesmsc` would and speaks the same line protocol (one
//! message a line, `<from> <to> <kind> <payload>`). Doing it in-process rather
//! than running `fakesmsc` means no log scraping, and messages from phones
//! can go on the same connection: bearerbox serves one fake SMSC client at a
//! time, so a second short-lived `fakesmsc` would wait until the first quit.
//!
//! What bearerbox 1.4.5 writes to the fake SMSC (checked by hand and by the
//! tests below):
//! - GSM 7-bit, one part: `DanVan 0912345678 text Chào b?n` — raw text,
//!   UTF-8, already reduced to the GSM alphabet (`à` is in it, `ạ` is not). A line
//!   break in the text ends the line early; the rest arrives as a line of its
//!   own, which `received` joins back.
//! - UCS-2, one part: `DanVan 0912345678 ucs-2 %00C%00h%00%E0%00o` —
//!   UTF-16BE, URL-encoded (input to bearerbox spells it `ucs2`).
//! - 8-bit, one part: `… data <URL-encoded bytes>`.
//! - Any part of a long message: `… udh %05%00%03%02%02%01 data <URL-encoded>`
//!   (UDH: concatenation, 8-bit reference 2, 2 parts, this is part 1; 153
//!   GSM or 67 UCS-2 characters a part). The line does not say the coding:
//!   `received` takes a message as UCS-2 when its bytes hold a NUL or are not
//!   UTF-8 (7-bit parts are UTF-8 text, which has no NUL).
//!
//! Delivery reports: the fake SMSC reports every message as soon as it has
//! written it to the phone side. `dlr-mask` 8 gets one `dlr-url` call with
//! type 8 (SMSC accepted, `%A` = `ACK/`), 1 gets type 1 (delivered), 31 gets
//! both; a long message gets them once, not once per part. Nothing else can
//! be produced: the fake SMSC always reports success (never 2, failed, or
//! 16, rejected), and the fake protocol carries no DLRs from the phone side
//! (its `dlr-mask` kind only sets a mask on a phone's message). So there is
//! no `deliver_report`: type 1 comes by itself. A test that needs a failure
//! calls its own DLR endpoint as Kannel would. While the phone side is not
//! connected, bearerbox holds messages (`sendsms` answers `3: Queued for
//! later delivery`) and reports them when they go out.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use danvan_sms::local_kannel::{concatenation, url_decode, url_encode, LocalKannel, Setup, Smsc};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A message the fake SMSC received, its parts put back together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sms {
    pub from: String,
    pub to: String,
    pub text: String,
    /// How many SMS it took (1 unless Kannel split it).
    pub parts: usize,
    /// UCS-2 (coding 2) rather than GSM 7-bit.
    pub unicode: bool,
}

/// A running Kannel (`danvan_sms::local_kannel`) with the phone side of its
/// fake SMSC; everything it started dies with it.
pub struct Kannel {
    boxes: LocalKannel,
    phones: Arc<Phones>,
    phones_task: JoinHandle<()>,
}

/// The phone side of the fake SMSC: what bearerbox wrote, and the way back.
#[derive(Default)]
struct Phones {
    lines: Mutex<Vec<String>>,
    writer: tokio::sync::Mutex<Option<OwnedWriteHalf>>,
}

impl Kannel {
    /// Starts bearerbox, the fake SMSC and smsbox on free loopback ports in a
    /// temp dir. `inbound_url` is the `get-url` Kannel calls for messages
    /// phones send (a template with `%p` sender, `%P` receiver, `%a` text,
    /// `%I` id); its response body goes back to the phone as a reply (empty:
    /// none). Waits until `sendsms` answers and the fake SMSC is connected.
    pub async fn start(inbound_url: Option<&str>) -> Kannel {
        let mut setup = Setup::new(Smsc::Fake);
        setup.inbound_url = inbound_url.map(str::to_string);
        let mut boxes = LocalKannel::prepare(setup)
            .unwrap_or_else(|e| panic!("{e}: run ./scripts/setup as root"));
        let phones = Arc::new(Phones::default());
        let phones_task = tokio::spawn(phone_side(boxes.smsc_port(), phones.clone()));
        if let Err(e) = boxes.boot().await {
            panic!("{e}");
        }
        Kannel {
            boxes,
            phones,
            phones_task,
        }
    }

    /// `http://127.0.0.1:PORT/cgi-bin/sendsms`
    pub fn sendsms_url(&self) -> String {
        self.boxes.sendsms_url()
    }

    /// The `sendsms-user` (at most 10 parts a message, concatenation on).
    pub fn username(&self) -> &str {
        self.boxes.username()
    }

    pub fn password(&self) -> &str {
        self.boxes.password()
    }

    /// Messages the fake SMSC has received so far, in the order they were
    /// completed; a long message shows once all its parts are in.
    pub fn received(&self) -> Vec<Sms> {
        reassemble(&self.phones.lines.lock().unwrap())
    }

    /// Waits until at least `n` messages are received; panics after
    /// `timeout`, showing what came and Kannel's logs.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Sms> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "Kannel: expected {n} messages within {timeout:?}, got {}: {got:#?}\n{}",
                    got.len(),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A phone `from` sends `text` to the number `to`; Kannel then calls the
    /// inbound URL. Printable ASCII goes as GSM text, anything else as UCS-2,
    /// as a phone would; a long text goes as one message. Returns once it is
    /// written to bearerbox (waiting for the connection while Kannel
    /// restarts).
    pub async fn send_from_phone(&self, from: &str, to: &str, text: &str) {
        for number in [from, to] {
            assert!(
                !number.is_empty() && !number.contains(char::is_whitespace),
                "a phone number without spaces, not {number:?}"
            );
        }
        let line = if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            format!("{from} {to} text {text}\n")
        } else {
            let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            format!("{from} {to} ucs2 {}\n", url_encode(&utf16))
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(w) = self.phones.writer.lock().await.as_mut() {
                if w.write_all(line.as_bytes()).await.is_ok() {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("Kannel: the fake SMSC is not connected\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kannel down: bearerbox shuts down (which stops smsbox too), so
    /// `sendsms` refuses connections. What it still held is kept in its store
    /// file for `restart`.
    pub async fn stop(&mut self) {
        self.boxes.stop().await;
    }

    /// Starts bearerbox and smsbox again on the same ports and waits until
    /// they are ready, as `start` does.
    pub async fn restart(&mut self) {
        self.stop().await;
        if let Err(e) = self.boxes.boot().await {
            panic!("{e}");
        }
    }

    /// The tails of Kannel's logs and what the fake SMSC got, for panics.
    fn logs(&self) -> String {
        let mut out = self.boxes.logs();
        let lines = self.phones.lines.lock().unwrap();
        out += &format!(
            "--- fake SMSC got {} lines\n{}\n",
            lines.len(),
            lines.join("\n")
        );
        out
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        self.phones_task.abort();
        self.boxes.kill();
    }
}

/// Connects to bearerbox's fake SMSC port and keeps every line it writes;
/// reconnects whenever bearerbox goes away (`stop`, `restart`).
async fn phone_side(port: u16, phones: Arc<Phones>) {
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
            let (read, write) = stream.into_split();
            *phones.writer.lock().await = Some(write);
            let mut lines = BufReader::new(read).split(b'\n');
            while let Ok(Some(line)) = lines.next_segment().await {
                let line = String::from_utf8_lossy(&line).into_owned();
                phones.lines.lock().unwrap().push(line);
            }
            *phones.writer.lock().await = None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One line from bearerbox, decoded.
struct Part {
    from: String,
    to: String,
    /// Some for a part of a long message: (reference, total, number).
    concat: Option<(u16, u8, u8)>,
    data: Vec<u8>,
    /// Known for single messages; parts are judged once reassembled.
    unicode: Option<bool>,
}

fn parse_line(line: &str) -> Option<Part> {
    let mut f = line.splitn(4, ' ');
    let (from, to, kind, rest) = (f.next()?, f.next()?, f.next()?, f.next()?);
    let (concat, data, unicode) = match kind {
        "text" => (None, rest.as_bytes().to_vec(), Some(false)),
        "data" => (None, url_decode(rest), Some(false)),
        "ucs-2" => (None, url_decode(rest), Some(true)),
        "udh" => {
            let (udh, data) = rest.split_once(" data ")?;
            (concatenation(&url_decode(udh)), url_decode(data), None)
        }
        _ => return None,
    };
    Some(Part {
        from: from.into(),
        to: to.into(),
        concat,
        data,
        unicode,
    })
}

fn reassemble(lines: &[String]) -> Vec<Sms> {
    let mut parts: Vec<Part> = Vec::new();
    for line in lines {
        match parse_line(line) {
            Some(p) => parts.push(p),
            // A line break inside a 7-bit text: the rest of that text.
            None => {
                if let Some(last) = parts.last_mut().filter(|p| p.unicode == Some(false)) {
                    last.data.push(b'\n');
                    last.data.extend_from_slice(line.as_bytes());
                }
            }
        }
    }
    let mut out = Vec::new();
    // Parts so far by (from, to, reference, total), in part-number order.
    type Key = (String, String, u16, u8);
    let mut pending: HashMap<Key, BTreeMap<u8, Vec<u8>>> = HashMap::new();
    for p in parts {
        let Some((reference, total, n)) = p.concat else {
            out.push(sms(p.from, p.to, p.data, 1, p.unicode));
            continue;
        };
        let key = (p.from, p.to, reference, total);
        let got = pending.entry(key.clone()).or_default();
        got.insert(n, p.data);
        if got.len() == total as usize {
            let data = pending
                .remove(&key)
                .unwrap()
                .into_values()
                .flatten()
                .collect();
            out.push(sms(key.0, key.1, data, total.into(), None));
        }
    }
    out
}

fn sms(from: String, to: String, data: Vec<u8>, parts: usize, unicode: Option<bool>) -> Sms {
    let unicode =
        unicode.unwrap_or_else(|| data.contains(&0) || std::str::from_utf8(&data).is_err());
    let text = if unicode {
        let units: Vec<u16> = data
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(&data).into_owned()
    };
    Sms {
        from,
        to,
        text,
        parts,
        unicode,
    }
}

/// The harness checks itself (and the findings above) against the real Kannel.
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A tiny HTTP server for the tests: records the query of every request and
    /// answers each with `reply` as text/plain.
    struct Recorder {
        url: String,
        queries: Arc<Mutex<Vec<HashMap<String, String>>>>,
        task: JoinHandle<()>,
    }

    impl Recorder {
        async fn start(reply: &'static str) -> Recorder {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let queries = Arc::new(Mutex::new(Vec::new()));
            let q = queries.clone();
            let task = tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let q = q.clone();
                    tokio::spawn(async move {
                        // Kannel's GETs have no body: the head is all there is.
                        let mut head = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let head = String::from_utf8_lossy(&head);
                        let target = head.split(' ').nth(1).unwrap_or_default();
                        let query = target.split_once('?').map_or("", |(_, q)| q);
                        let fields = query
                            .split('&')
                            .filter_map(|kv| kv.split_once('='))
                            .map(|(k, v)| {
                                let v = String::from_utf8_lossy(&url_decode(v)).into_owned();
                                (k.to_string(), v)
                            })
                            .collect();
                        q.lock().unwrap().push(fields);
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                            reply.len()
                        );
                        let _ = stream.write_all(answer.as_bytes()).await;
                    });
                }
            });
            Recorder { url, queries, task }
        }

        async fn wait_for(&self, n: usize, kannel: &Kannel) -> Vec<HashMap<String, String>> {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let got = self.queries.lock().unwrap().clone();
                if got.len() >= n {
                    return got;
                }
                if Instant::now() > deadline {
                    panic!(
                        "expected {n} HTTP calls from Kannel, got {got:#?}\n{}",
                        kannel.logs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    impl Drop for Recorder {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Sends through `sendsms` as the application would; returns Kannel's answer.
    async fn sendsms(
        kannel: &Kannel,
        to: &str,
        text: &str,
        coding: &str,
        dlr: &[(&str, &str)],
    ) -> String {
        let mut query = vec![
            ("username", kannel.username()),
            ("password", kannel.password()),
            ("from", "DanVan"),
            ("to", to),
            ("text", text),
            ("charset", "UTF-8"),
            ("coding", coding),
        ];
        query.extend_from_slice(dlr);
        let r = reqwest::Client::new()
            .get(kannel.sendsms_url())
            .query(&query)
            .send()
            .await
            .expect("sendsms answers");
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 202, "sendsms: {body}\n{}", kannel.logs());
        body
    }

    const LONG_VI: &str = "Thông báo: tổ dân vận số 1 thôn Mai Hoàng họp lúc 19 giờ tối thứ Sáu tại nhà văn hóa; mời các hộ cử người đến dự.";
    const LONG_GSM: &str = "Thong bao: to dan van so 1 thon Mai Hoang hop luc 19 gio toi thu Sau tai nha van hoa thon. Moi cac ho cu nguoi den du dung gio; mang theo so ho khau va giay to lien quan.";

    fn find<'a>(got: &'a [Sms], to: &str) -> &'a Sms {
        got.iter()
            .find(|s| s.to == to)
            .unwrap_or_else(|| panic!("no message to {to} in {got:#?}"))
    }

    #[tokio::test]
    async fn sends_ucs2_and_gsm_messages() {
        assert!(
            (68..=134).contains(&LONG_VI.encode_utf16().count()),
            "two UCS-2 parts"
        );
        assert!((161..=306).contains(&LONG_GSM.len()), "two 7-bit parts");
        let kannel = Kannel::start(None).await;
        for (to, text, coding) in [
            ("0912345678", LONG_VI, "2"),
            ("0912345679", "Hop to luc 19h\ntai nha van hoa", "0"),
            ("0912345670", LONG_GSM, "0"),
            ("0912345671", "Chào bạn", "2"),
            ("0912345672", "Chào bạn", "0"),
        ] {
            let answer = sendsms(&kannel, to, text, coding, &[]).await;
            assert_eq!(answer, "0: Accepted for delivery");
        }
        let got = kannel.wait_for(5, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 5, "{got:#?}");
        let expect = |to: &str, text: &str, parts: usize, unicode: bool| Sms {
            from: "DanVan".into(),
            to: to.into(),
            text: text.into(),
            parts,
            unicode,
        };
        assert_eq!(
            find(&got, "0912345678"),
            &expect("0912345678", LONG_VI, 2, true)
        );
        assert_eq!(
            find(&got, "0912345679"),
            &expect("0912345679", "Hop to luc 19h\ntai nha van hoa", 1, false)
        );
        assert_eq!(
            find(&got, "0912345670"),
            &expect("0912345670", LONG_GSM, 2, false)
        );
        assert_eq!(
            find(&got, "0912345671"),
            &expect("0912345671", "Chào bạn", 1, true)
        );
        // Coding 0: what the GSM alphabet lacks becomes `?`.
        assert_eq!(
            find(&got, "0912345672"),
            &expect("0912345672", "Chào b?n", 1, false)
        );
    }

    #[tokio::test]
    async fn reports_delivery_by_dlr_mask() {
        let dlr = Recorder::start("").await;
        let kannel = Kannel::start(None).await;
        for (to, mask) in [
            ("0900000008", "8"),
            ("0900000001", "1"),
            ("0900000031", "31"),
        ] {
            let url = format!("{}/dlr?to={to}&type=%d", dlr.url);
            let dlr_query = [("dlr-mask", mask), ("dlr-url", url.as_str())];
            sendsms(&kannel, to, LONG_VI, "2", &dlr_query).await;
        }
        dlr.wait_for(4, &kannel).await;
        // Nothing more follows the immediate reports.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut got: Vec<(String, String)> = dlr
            .queries
            .lock()
            .unwrap()
            .iter()
            .map(|q| (q["to"].clone(), q["type"].clone()))
            .collect();
        got.sort();
        let pair = |to: &str, t: &str| (to.to_string(), t.to_string());
        assert_eq!(
            got,
            [
                pair("0900000001", "1"),
                pair("0900000008", "8"),
                pair("0900000031", "1"),
                pair("0900000031", "8"),
            ]
        );
    }

    #[tokio::test]
    async fn phone_messages_reach_get_url_and_replies_reach_the_phone() {
        let app = Recorder::start("Da nhan phan anh cua ban. Cam on.").await;
        let inbound = format!("{}/sms/inbound?key=k&from=%p&to=%P&text=%a&id=%I", app.url);
        let kannel = Kannel::start(Some(&inbound)).await;
        kannel
            .send_from_phone("0912000111", "8088", "PA Đường thôn Mai Hoàng ngập nước")
            .await;
        kannel
            .send_from_phone("0912000222", "8088", "PA 50% ok+")
            .await;
        let calls = app.wait_for(2, &kannel).await;
        let call = |from: &str| {
            calls
                .iter()
                .find(|q| q["from"] == from)
                .unwrap_or_else(|| panic!("no call from {from}: {calls:#?}"))
        };
        assert_eq!(
            call("0912000111")["text"],
            "PA Đường thôn Mai Hoàng ngập nước"
        );
        assert_eq!(call("0912000222")["text"], "PA 50% ok+");
        for q in &calls {
            assert_eq!((q["key"].as_str(), q["to"].as_str()), ("k", "8088"));
            assert!(!q["id"].is_empty(), "Kannel's message id: {q:?}");
        }
        // The response body goes back to the phone, from the number it wrote to.
        let replies = kannel.wait_for(2, Duration::from_secs(10)).await;
        for phone in ["0912000111", "0912000222"] {
            let reply = find(&replies, phone);
            assert_eq!(reply.from, "8088");
            assert_eq!(reply.text, "Da nhan phan anh cua ban. Cam on.");
        }
    }

    #[tokio::test]
    async fn stop_and_restart() {
        let mut kannel = Kannel::start(None).await;
        kannel.stop().await;
        let down = reqwest::get(kannel.sendsms_url()).await;
        assert!(down.is_err_and(|e| e.is_connect()), "sendsms is down");
        kannel.restart().await;
        let answer = sendsms(&kannel, "0912345678", "Hop luc 19h", "0", &[]).await;
        assert_eq!(answer, "0: Accepted for delivery");
        let got = kannel.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(got[0].text, "Hop luc 19h");
    }
}
