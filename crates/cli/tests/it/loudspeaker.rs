//! The hamlet loudspeaker: an announcement to Mai Hoàng as a broadcast
//! WAV (chimes and espeak-ng's speech, in each regional voice), kept once
//! made, its Opus twin, who may fetch it, and the hamlet head's schedule
//! page, in plain HTTP and in headless Chromium.
//! Needs espeak-ng and opusenc (`scripts/setup`).

use danvan_store::Store;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::common::{api_token as token, login, Backend, PilotScene, Server, PW};

/// Writes an announcement at Phúc Sơn for Mai Hoàng as the commune's
/// leader (approved and planned at once); its id.
async fn announce(
    server: &Server,
    leader: &str,
    commune: i64,
    hamlet: i64,
    title: &str,
    body: &str,
) -> i64 {
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/announcements"))
        .bearer_auth(leader)
        .json(&json!({
            "unit_id": commune.to_string(),
            "title": title,
            "body": body,
            "urgency": "normal",
            "audience": {"units": [hamlet.to_string()]},
        }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.expect("json");
    assert_eq!(a["state"], "planned", "{a}");
    a["id"].as_str().unwrap().parse().unwrap()
}

async fn fetch(
    client: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
) -> (u16, String, Vec<u8>) {
    let mut req = client.get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("get");
    let status = r.status().as_u16();
    let mime = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, mime, r.bytes().await.expect("body").to_vec())
}

/// A WAV file read by hand (independently of the writer): RIFF/WAVE,
/// PCM, mono, 16-bit; its rate and samples.
struct Wav {
    rate: u32,
    samples: Vec<i16>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn parse_wav(b: &[u8]) -> Wav {
    assert!(b.len() > 44, "too short: {}", b.len());
    assert_eq!(&b[0..4], b"RIFF");
    assert_eq!(u32_at(b, 4) as usize, b.len() - 8, "RIFF length");
    assert_eq!(&b[8..12], b"WAVE");
    let (mut at, mut rate, mut data) = (12, None, None);
    while at + 8 <= b.len() {
        let (id, len) = (&b[at..at + 4], u32_at(b, at + 4) as usize);
        let body = &b[at + 8..at + 8 + len];
        match id {
            b"fmt " => {
                assert_eq!(u16_at(body, 0), 1, "PCM");
                assert_eq!(u16_at(body, 2), 1, "mono");
                assert_eq!(u16_at(body, 14), 16, "16-bit");
                rate = Some(u32_at(body, 4));
                assert_eq!(u32_at(body, 8), rate.unwrap() * 2, "byte rate");
            }
            b"data" => data = Some(body),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let rate = rate.expect("fmt chunk");
    assert!((8000..=48000).contains(&rate), "rate {rate}");
    let data = data.expect("data chunk");
    Wav {
        rate,
        samples: data
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect(),
    }
}

impl Wav {
    fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.rate as f64
    }

    /// Root mean square between two times (seconds from the start).
    fn rms(&self, from: f64, to: f64) -> f64 {
        let (a, b) = (
            (from * self.rate as f64) as usize,
            (to * self.rate as f64) as usize,
        );
        let s = &self.samples[a..b.min(self.samples.len())];
        (s.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }
}

/// Chime (about 1.5 s) and pause (0.6 s) at each end.
const ENDS_S: f64 = 2.1;

const SHORT: &str = "Mời các hộ dự họp thôn lúc 19 giờ tối thứ Bảy tại nhà văn hóa thôn Mai Hoàng.";

async fn audio_rows(store: &Store) -> i64 {
    let (n,): (i64,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT COUNT(*) FROM announcement_audio"
    )
    .fetch_one(p)
    .await
    .expect("count"));
    n
}

async fn broadcast_files(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let leader = token(store, "xa.phucson").await;
    let http = reqwest::Client::new();
    let url = |id: i64, rest: &str| server.url(&format!("/api/v1/announcements/{id}/{rest}"));

    let short = announce(server, &leader, phuc_son, mai_hoang, "Họp thôn", SHORT).await;
    let long_body = format!("{SHORT} {}", [
        "Nội dung cuộc họp gồm kế hoạch làm đường bê tông liên xóm, thu gom rác thải sinh hoạt,",
        "phòng chống sốt xuất huyết trong mùa mưa và bình xét hộ nghèo cuối năm.",
        "Đề nghị mỗi hộ cử một người đại diện đến đúng giờ và mang theo sổ hộ khẩu.",
    ].join(" "));
    let long = announce(server, &leader, phuc_son, mai_hoang, "Họp thôn", &long_body).await;

    // The WAV: chimes and speech, mono 16-bit at espeak-ng's rate.
    let (status, mime, north) = fetch(&http, url(short, "audio.wav"), Some(&leader)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&north));
    assert_eq!(mime, "audio/wav");
    let wav = parse_wav(&north);
    let secs = wav.seconds();
    assert!(secs > 2.0 * ENDS_S + 2.0 && secs < 30.0, "duration {secs}");
    // Speech in the middle, not silence; the opening chime is soft.
    let speech_rms = wav.rms(ENDS_S, secs - ENDS_S);
    assert!(speech_rms > 500.0, "speech RMS {speech_rms}");
    let chime_rms = wav.rms(0.0, 1.4);
    assert!(
        chime_rms > 300.0 && chime_rms < 12000.0,
        "chime RMS {chime_rms}"
    );
    assert!(wav.rms(1.55, 2.05) < 50.0, "a pause after the chime");
    // A longer text, a longer broadcast.
    let (status, _, long_wav) = fetch(&http, url(long, "audio.wav"), Some(&leader)).await;
    assert_eq!(status, 200);
    let long_secs = parse_wav(&long_wav).seconds();
    assert!(long_secs > secs + 5.0, "{long_secs} vs {secs}");

    // Kept: the second download is the same file, nothing made again.
    let kept = audio_rows(store).await;
    assert_eq!(kept, 2);
    let (_, _, again) = fetch(&http, url(short, "audio.wav?voice=north"), Some(&leader)).await;
    assert_eq!(again, north);
    assert_eq!(audio_rows(store).await, kept);

    // Three regional voices, three different recordings.
    let mut seen = vec![north.clone()];
    for voice in ["central", "south"] {
        let (status, _, b) = fetch(
            &http,
            url(short, &format!("audio.wav?voice={voice}")),
            Some(&leader),
        )
        .await;
        assert_eq!(status, 200, "{voice}");
        let w = parse_wav(&b);
        assert!(
            w.rms(ENDS_S, w.seconds() - ENDS_S) > 500.0,
            "{voice} speaks"
        );
        assert!(!seen.contains(&b), "{voice} differs from the others");
        seen.push(b);
    }
    let (status, _, _) = fetch(&http, url(short, "audio.wav?voice=klingon"), Some(&leader)).await;
    assert_eq!(status, 422);

    // Opus in Ogg, much smaller.
    let (status, mime, ogg) = fetch(&http, url(short, "audio.ogg"), Some(&leader)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&ogg));
    assert_eq!(mime, "audio/ogg");
    assert!(ogg.starts_with(b"OggS") && ogg.windows(8).any(|w| w == b"OpusHead"));
    assert!(
        ogg.len() * 4 < north.len(),
        "{} vs {}",
        ogg.len(),
        north.len()
    );

    // Hostile text is read, never taken as options of espeak-ng.
    let marker = std::env::temp_dir().join(format!("danvan-hostile-{}.wav", std::process::id()));
    let hostile = announce(
        server,
        &leader,
        phuc_son,
        mai_hoang,
        &format!("-w {}", marker.display()),
        &format!(
            "--stdout -v en \"trích dẫn\" 'nháy đơn'\n--help\n-w {} ; $(rm -rf /) `id`\nHết.",
            marker.display()
        ),
    )
    .await;
    let (status, _, b) = fetch(&http, url(hostile, "audio.wav"), Some(&leader)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
    let w = parse_wav(&b);
    assert!(
        w.seconds() > 2.0 * ENDS_S + 2.0,
        "the text was spoken: {}",
        w.seconds()
    );
    assert!(w.rms(ENDS_S, w.seconds() - ENDS_S) > 500.0);
    assert!(!marker.exists(), "no file written by an option in the text");

    // Scope: another commune's officer is told it does not exist.
    let yen_the = token(store, "xa.yenthe").await;
    for rest in ["audio.wav", "audio.ogg"] {
        let (status, _, _) = fetch(&http, url(short, rest), Some(&yen_the)).await;
        assert_eq!(status, 404, "{rest}");
    }
    let (status, _, _) = fetch(&http, url(short, "audio.wav"), None).await;
    assert_eq!(status, 401);
    let (status, _, _) = fetch(
        &http,
        server.url("/api/v1/announcements/999999/audio.wav"),
        Some(&leader),
    )
    .await;
    assert_eq!(status, 404);

    scene.finish().await;
}
both!(broadcast_files);

async fn hamlet_heads_schedule(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let leader = token(store, "xa.phucson").await;
    let id = announce(
        server,
        &leader,
        phuc_son,
        mai_hoang,
        "Phun thuốc diệt muỗi",
        SHORT,
    )
    .await;
    let page_path = format!("/hamlets/{mai_hoang}/loudspeaker");

    // The hamlet head's page lists it with its broadcast times and files.
    let (head, _) = login(server, "truongthon.maihoang", PW).await;
    let html = head
        .get(server.url(&page_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("id=\"loudspeaker-{id}\"")), "{html}");
    assert!(html.contains("Phun thuốc diệt muỗi"));
    assert!(html.contains(&format!(
        "/api/v1/announcements/{id}/audio.wav?voice=central"
    )));
    assert!(html.contains(":00 "), "broadcast times: {html}");
    let csv = head
        .get(server.url(&format!("{page_path}.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].contains("Giờ phát"), "{csv}");
    assert!(
        lines.len() >= 2
            && lines[1..]
                .iter()
                .all(|l| l.contains("Phun thuốc diệt muỗi")),
        "{csv}"
    );

    // A team member has no loudspeaker page; nor another commune's officer.
    // (The team member's role never has it: 403; the other commune's
    // officer may, but not there: 404, as if it did not exist.)
    for (user, status) in [("thanhvien.maihoang2", 403), ("xa.yenthe", 404)] {
        let (c, _) = login(server, user, PW).await;
        let r = c.get(server.url(&page_path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{user}");
        let r = c
            .get(server.url(&format!("{page_path}.csv")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{user}");
    }

    // In the browser: from the announcements list to the schedule; the
    // download link is the WAV the hamlet head can fetch.
    let b = Browser::start().await;
    b.log_in(server, "truongthon.maihoang").await;
    b.goto(&server.url("/announcements")).await;
    let link = b.find("#loudspeaker-link").await;
    b.click(&link).await;
    b.wait_for(&format!("#loudspeaker-{id} h2"), |t| {
        t.contains("Phun thuốc diệt muỗi")
    })
    .await;
    b.wait_for(&format!("#loudspeaker-{id} .broadcast-times"), |t| {
        t.contains(":00")
    })
    .await;
    let download = b
        .wait_for(&format!("#audio-{id}-1"), |t| t == "Giọng Bắc")
        .await;
    let href = b.attribute(&download, "href").await.expect("href");
    assert_eq!(
        href,
        format!("/api/v1/announcements/{id}/audio.wav?voice=north")
    );
    drop(b);
    let (status, mime, bytes) = fetch(&head, server.url(&href), None).await;
    assert_eq!((status, mime.as_str()), (200, "audio/wav"));
    assert!(parse_wav(&bytes).seconds() > 2.0 * ENDS_S);

    scene.finish().await;
}
both!(hamlet_heads_schedule);

/// 16-bit mono WAV of a tone: `seconds` at `rate`, amplitude `amp`.
pub(crate) fn tone_wav(rate: u32, seconds: f64, amp: f64) -> Vec<u8> {
    let n = (rate as f64 * seconds) as usize;
    let mut data = Vec::with_capacity(n * 2);
    for i in 0..n {
        let v = (amp * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / rate as f64).sin()) as i16;
        data.extend_from_slice(&v.to_le_bytes());
    }
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    b
}

async fn put_recording(server: &Server, token: &str, id: i64, bytes: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .put(server.url(&format!("/api/v1/announcements/{id}/recording")))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .expect("put");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A recorded voice (WAV, or Ogg Opus) is played between the chimes in
/// place of the synthesized one, for every voice asked; removing it brings
/// the synthesis back. Bad files change nothing.
async fn a_recorded_voice_replaces_the_synthesis(backend: Backend) {
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let leader = token(store, "xa.phucson").await;
    let http = reqwest::Client::new();
    let id = announce(server, &leader, phuc_son, mai_hoang, "Họp thôn", SHORT).await;
    let audio = |q: &str| server.url(&format!("/api/v1/announcements/{id}/audio.wav{q}"));

    // Synthesized first.
    let (_, _, synth) = fetch(&http, audio(""), Some(&leader)).await;
    let synth_rate = parse_wav(&synth).rate;

    // Three seconds of a tone, recorded at 16 kHz.
    let (s, v) = put_recording(server, &leader, id, tone_wav(16000, 3.0, 8000.0)).await;
    assert_eq!(s, 200, "{v}");
    assert!((v["seconds"].as_f64().unwrap() - 3.0).abs() < 1e-6, "{v}");
    let (s, _, rec) = fetch(&http, audio(""), Some(&leader)).await;
    assert_eq!(s, 200);
    let w = parse_wav(&rec);
    assert_eq!(w.rate, 16000);
    assert!(
        (w.seconds() - (3.0 + 2.0 * ENDS_S)).abs() < 0.3,
        "chime, pause, 3 s, pause, chime: {}",
        w.seconds()
    );
    let rms = w.rms(ENDS_S + 0.2, ENDS_S + 2.8);
    assert!(
        (rms - 8000.0 / 2f64.sqrt()).abs() < 300.0,
        "the recording plays: {rms}"
    );
    // Whatever voice is asked, the recording plays.
    let (_, _, south) = fetch(&http, audio("?voice=south"), Some(&leader)).await;
    assert_eq!(parse_wav(&south).samples, w.samples);
    // Ogg Opus too (made here by opusenc), decoded to 48 kHz.
    let ogg = {
        let dir = tempfile::tempdir().unwrap();
        let (wav, out) = (dir.path().join("t.wav"), dir.path().join("t.ogg"));
        std::fs::write(&wav, tone_wav(16000, 2.0, 8000.0)).unwrap();
        let st = std::process::Command::new("opusenc")
            .args(["--quiet"])
            .arg(&wav)
            .arg(&out)
            .status()
            .expect("opusenc");
        assert!(st.success());
        std::fs::read(&out).unwrap()
    };
    let (s, v) = put_recording(server, &leader, id, ogg).await;
    assert_eq!(s, 200, "{v}");
    assert!((v["seconds"].as_f64().unwrap() - 2.0).abs() < 0.1, "{v}");
    let (_, _, rec) = fetch(&http, audio(""), Some(&leader)).await;
    let w = parse_wav(&rec);
    // opusdec gives back the rate it was made from (or Opus' own 48 kHz).
    assert!(w.rate == 16000 || w.rate == 48000, "{}", w.rate);
    assert!(
        (w.seconds() - (2.0 + 2.0 * ENDS_S)).abs() < 0.3,
        "{}",
        w.seconds()
    );
    let kept: (String,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT sha256 FROM announcement_recordings"
    )
    .fetch_one(p)
    .await
    .unwrap());

    // Bad files: a clear refusal, the kept recording stays.
    let silence = tone_wav(16000, 2.0, 0.0);
    for (bytes, says) in [
        (b"ID3\x04\x00 an mp3 file".to_vec(), "WAV hoặc Ogg"),
        (Vec::new(), "WAV hoặc Ogg"),
        (silence, "ngắn quá"),
        (tone_wav(16000, 0.2, 8000.0), "ngắn quá"),
        (
            b"RIFF\x10\x00\x00\x00WAVEfmt \x00\x00".to_vec(),
            "không đọc được",
        ),
    ] {
        let (s, v) = put_recording(server, &leader, id, bytes).await;
        assert_eq!(s, 422, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{v} / {says}"
        );
    }
    let again: (String,) = danvan_store::on_db!(&store.db, |p| sqlx::query_as(
        "SELECT sha256 FROM announcement_recordings"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(again, kept);
    // Not the team, not another commune.
    let member = token(store, "thanhvien.maihoang2").await;
    let (s, _) = put_recording(server, &member, id, tone_wav(16000, 1.0, 8000.0)).await;
    assert_eq!(s, 403);
    let other = token(store, "xa.yenthe").await;
    let (s, _) = put_recording(server, &other, id, tone_wav(16000, 1.0, 8000.0)).await;
    assert_eq!(s, 404);

    // Through the reach page's form: a bad file comes back in Vietnamese.
    let (c, csrf) = login(server, "xa.phucson", PW).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"not audio".to_vec()).file_name("giong.mp3"),
        );
    let r = c
        .post(server.url(&format!("/announcements/{id}/recording")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(back, format!("/announcements/{id}?error=rec-not-audio"));
    let r = c.get(server.url(&back)).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Tệp giọng đọc phải là WAV hoặc Ogg Opus"));
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(tone_wav(22050, 4.0, 6000.0)).file_name("giong.wav"),
        );
    let r = c
        .post(server.url(&format!("/announcements/{id}/recording")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = c
        .get(server.url(&format!("/announcements/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("đã thu âm, 4 giây"), "{page}");

    // Removed: synthesized again.
    let r = c
        .post(server.url(&format!("/announcements/{id}/recording/delete")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, _, back) = fetch(&http, audio(""), Some(&leader)).await;
    let back = parse_wav(&back);
    assert_eq!(back.rate, synth_rate);
    assert_eq!(
        back.samples.len(),
        parse_wav(&synth).samples.len(),
        "the synthesis again"
    );
    let r = reqwest::Client::new()
        .delete(server.url(&format!("/api/v1/announcements/{id}/recording")))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "nothing left to remove");

    let actions: Vec<String> = store
        .audit_entries(&danvan_store::Viewer::cli(), None, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entity == "announcement")
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "record").count(),
        3,
        "{actions:?}"
    );
    assert_eq!(actions.iter().filter(|a| *a == "unrecord").count(), 1);
    scene.finish().await;
}
both!(a_recorded_voice_replaces_the_synthesis);

/// The times through the API: set by the hamlet head, refused when wrong,
/// not by a team member; the CSV follows them.
async fn hamlet_times_through_the_api(backend: Backend) {
    use crate::common::api_send;
    use reqwest::Method;
    let scene = PilotScene::start(backend).await;
    let (store, server) = (scene.store(), &scene.server);
    let (mai_hoang, phuc_son) = (scene.mai_hoang, scene.phuc_son);
    let leader = token(store, "xa.phucson").await;
    announce(server, &leader, phuc_son, mai_hoang, "Họp thôn", SHORT).await;
    let head = token(store, "truongthon.maihoang").await;
    let member = token(store, "thanhvien.maihoang2").await;
    let path = format!("/api/v1/units/{mai_hoang}/loudspeaker-slots");
    let (s, v) = api_send(server, Method::GET, &head, &path, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["slots"], json!(["06:00", "17:00"]));
    for bad in ["", "24:00", "7 giờ", "1:00 2:00 3:00 4:00 5:00 6:00 7:00"] {
        let (s, v) = api_send(
            server,
            Method::PUT,
            &head,
            &path,
            Some(json!({"slots": bad})),
        )
        .await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    let (s, _) = api_send(
        server,
        Method::PUT,
        &member,
        &path,
        Some(json!({"slots": "07:00"})),
    )
    .await;
    assert_eq!(s, 403, "a team member sets no broadcast times");
    let (s, _) = api_send(
        server,
        Method::PUT,
        &head,
        &format!("/api/v1/units/{phuc_son}/loudspeaker-slots"),
        Some(json!({"slots": "07:00"})),
    )
    .await;
    assert_eq!(s, 404, "a commune is not the hamlet head's");
    let (s, v) = api_send(
        server,
        Method::PUT,
        &head,
        &path,
        Some(json!({"slots": "19:15, 5:45"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["slots"], json!(["05:45", "19:15"]));
    let (c, _) = login(server, "truongthon.maihoang", PW).await;
    let csv = c
        .get(server.url(&format!("/hamlets/{mai_hoang}/loudspeaker.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let times: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(!times.is_empty());
    assert!(
        times
            .iter()
            .all(|t| t.ends_with("05:45") || t.ends_with("19:15")),
        "{times:?}"
    );
    scene.finish().await;
}
both!(hamlet_times_through_the_api);
