//! Speech for the hamlet loudspeaker: espeak-ng reads the text, and the
//! broadcast file is chime, pause, speech, pause, chime in one WAV; Opus
//! (in Ogg) through opusenc for a file a phone downloads quickly.
//!
//! Both programs run directly (no shell), with the text on standard input
//! only, so no text can become an option; each under a time limit, killed
//! if it overruns.

use std::io::Cursor;
use std::process::Stdio;
use std::time::Duration;

use danvan_domain::loudspeaker::{chime, silence, Voice};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::Semaphore;

/// How the files are made; kept audio made by another recipe is made again.
pub const RECIPE: &str = "chime3-pause0.6-espeak-s150-opus32";
/// The synthesizer (Debian: `espeak-ng`).
pub const ESPEAK: &str = "espeak-ng";
/// The Opus encoder (Debian: `opus-tools`).
pub const OPUSENC: &str = "opusenc";
/// Words a minute: a little slower than espeak's 175, for loudspeakers
/// heard across a village.
const WORDS_PER_MINUTE: &str = "150";
/// Longest a program may run on one file (a 4,000-character body takes a
/// few seconds).
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// Silence between a chime and the speech.
const PAUSE_S: f64 = 0.6;
/// Opus bit rate (kbit/s): speech through a horn loudspeaker needs no more.
const OPUS_KBPS: &str = "32";

/// At most two syntheses at once: each takes a core, and a server on a
/// small machine has other work.
static TOOLS: Semaphore = Semaphore::const_new(2);

#[derive(Debug)]
pub enum SpeechError {
    /// The program is not installed; its name.
    Missing(&'static str),
    TimedOut(&'static str),
    Failed(String),
}

impl SpeechError {
    /// A message for officials, in Vietnamese.
    pub fn message_vi(&self) -> String {
        match self {
            SpeechError::Missing(program) => format!(
                "Máy chủ chưa cài {program} nên chưa làm được tệp âm thanh; quản trị viên hãy chạy scripts/setup (gói Debian {})",
                if *program == ESPEAK { "espeak-ng" } else { "opus-tools" }
            ),
            SpeechError::TimedOut(program) => {
                format!("{program} chạy quá lâu, chưa làm được tệp âm thanh; hãy thử lại sau")
            }
            SpeechError::Failed(why) => format!("Không làm được tệp âm thanh: {why}"),
        }
    }
}

impl std::fmt::Display for SpeechError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message_vi())
    }
}

/// Runs `program` with `args`, `input` on its standard input; returns its
/// standard output.
async fn run(program: &'static str, args: &[&str], input: Vec<u8>) -> Result<Vec<u8>, SpeechError> {
    let _permit = TOOLS
        .acquire()
        .await
        .map_err(|_| SpeechError::Failed("closed".into()))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SpeechError::Missing(program),
            _ => SpeechError::Failed(format!("{program}: {e}")),
        })?;
    let Some(mut stdin) = child.stdin.take() else {
        return Err(SpeechError::Failed(format!("{program}: no standard input")));
    };
    // Written beside the reading: a large input would fill the pipe while
    // the program waits for its output to be read.
    let writer = tokio::spawn(async move {
        let r = stdin.write_all(&input).await;
        drop(stdin);
        r
    });
    let out = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| SpeechError::TimedOut(program))?
        .map_err(|e| SpeechError::Failed(format!("{program}: {e}")))?;
    let _ = writer.await;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(SpeechError::Failed(format!(
            "{program}: {} {}",
            out.status,
            err.trim().chars().take(300).collect::<String>()
        )));
    }
    Ok(out.stdout)
}

/// Mono 16-bit samples at a rate.
pub struct Samples {
    pub rate: u32,
    pub samples: Vec<i16>,
}

/// `text` spoken in `voice` by espeak-ng.
pub async fn speak(text: &str, voice: Voice) -> Result<Samples, SpeechError> {
    // -b 1: the input is UTF-8; --stdin: the whole text from standard
    // input (never an argument); --stdout: a WAV on standard output.
    let wav = run(
        ESPEAK,
        &[
            "-v",
            voice.espeak_name(),
            "-s",
            WORDS_PER_MINUTE,
            "-b",
            "1",
            "--stdin",
            "--stdout",
        ],
        text.as_bytes().to_vec(),
    )
    .await?;
    read_wav(&wav)
}

/// Reads a mono 16-bit WAV, as espeak-ng writes it. Written to a pipe,
/// its header cannot know the length and says "as long as can be": the
/// samples end where the bytes do.
pub fn read_wav(bytes: &[u8]) -> Result<Samples, SpeechError> {
    let bad = |why: String| SpeechError::Failed(format!("espeak-ng: {why}"));
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(bad(format!("unexpected format {spec:?}")));
    }
    // The reader stops at the start of the data chunk's samples.
    let declared = reader.len() as usize * 2;
    let start = reader.into_inner().position() as usize;
    let end = start + declared.min(bytes.len() - start);
    let samples = bytes[start..end]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(Samples {
        rate: spec.sample_rate,
        samples,
    })
}

/// What is read out: the title, then the body; urgent ones say so first.
pub fn script(title: &str, body: &str, urgent: bool) -> String {
    let lead = if urgent { "Thông báo khẩn.\n" } else { "" };
    let title = title.trim().trim_end_matches(['.', '!', '?', ':']);
    format!("{lead}{title}.\n{}", body.trim())
}

/// The broadcast: opening chime, pause, `text` spoken, pause, closing
/// chime, as one mono 16-bit WAV at espeak-ng's rate.
pub async fn broadcast_wav(text: &str, voice: Voice) -> Result<Vec<u8>, SpeechError> {
    let speech = speak(text, voice).await?;
    let rate = speech.rate;
    let parts = [
        chime(rate, true),
        silence(rate, PAUSE_S),
        speech.samples,
        silence(rate, PAUSE_S),
        chime(rate, false),
    ];
    write_wav(rate, parts.iter().flatten().copied())
}

fn write_wav(rate: u32, samples: impl Iterator<Item = i16>) -> Result<Vec<u8>, SpeechError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let fail = |e: hound::Error| SpeechError::Failed(e.to_string());
    let mut w = hound::WavWriter::new(&mut out, spec).map_err(fail)?;
    for s in samples {
        w.write_sample(s).map_err(fail)?;
    }
    w.finalize().map_err(fail)?;
    Ok(out.into_inner())
}

/// The same broadcast as Ogg/Opus, from its WAV.
pub async fn to_opus(wav: &[u8]) -> Result<Vec<u8>, SpeechError> {
    run(
        OPUSENC,
        &["--quiet", "--bitrate", OPUS_KBPS, "--", "-", "-"],
        wav.to_vec(),
    )
    .await
}

/// opus-tools' decoder, for recorded voices uploaded as Ogg Opus.
pub const OPUSDEC: &str = "opusdec";
/// Longest recorded voice kept.
pub const MAX_RECORDING_SECONDS: f64 = 600.0;
/// Largest recorded voice file taken.
pub const MAX_RECORDING_BYTES: usize = 20 * 1024 * 1024;

/// Why a recorded voice was refused; each has a short code the reach
/// page's redirect carries.
#[derive(Debug)]
pub enum RecordingRefused {
    /// Neither WAV nor Ogg Opus (an MP3, a picture, a renamed file).
    NotAudio,
    /// A WAV the reader cannot take (compressed, 8 channels, …).
    Unsupported,
    TooLong,
    TooShort,
    TooLarge,
    /// The decoder is missing or failed.
    Speech(SpeechError),
}

impl RecordingRefused {
    pub fn code(&self) -> &'static str {
        match self {
            RecordingRefused::NotAudio => "rec-not-audio",
            RecordingRefused::Unsupported => "rec-unsupported",
            RecordingRefused::TooLong => "rec-too-long",
            RecordingRefused::TooShort => "rec-too-short",
            RecordingRefused::TooLarge => "rec-too-large",
            RecordingRefused::Speech(_) => "rec-failed",
        }
    }

    pub fn message_vi(&self) -> String {
        match self {
            RecordingRefused::Speech(e) => e.message_vi(),
            other => recording_message(other.code())
                .unwrap_or_default()
                .to_string(),
        }
    }
}

/// The Vietnamese message of a refusal's code.
pub fn recording_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "rec-not-audio" => "Tệp giọng đọc phải là WAV hoặc Ogg Opus",
        "rec-unsupported" => {
            "Tệp WAV này không đọc được (hãy xuất lại dạng PCM 16-bit, một hoặc hai kênh)"
        }
        "rec-too-long" => "Giọng đọc dài quá 10 phút",
        "rec-too-short" => "Giọng đọc ngắn quá (dưới nửa giây) hoặc trống",
        "rec-too-large" => "Tệp giọng đọc lớn quá 20 MB",
        "rec-failed" => "Không đọc được tệp giọng đọc, hãy thử lại hoặc dùng tệp WAV",
        _ => return None,
    })
}

/// A recorded voice as kept: 16-bit mono WAV at its own rate (an Ogg Opus
/// upload is decoded by opusdec, at the rate it was made from), with its
/// length in seconds.
pub async fn recording_to_wav(bytes: &[u8]) -> Result<(Vec<u8>, f64), RecordingRefused> {
    if bytes.len() > MAX_RECORDING_BYTES {
        return Err(RecordingRefused::TooLarge);
    }
    let wav;
    let source = if bytes.starts_with(b"OggS") {
        wav = run(
            OPUSDEC,
            &["--quiet", "--force-wav", "-", "-"],
            bytes.to_vec(),
        )
        .await
        .map_err(|e| match e {
            SpeechError::Failed(_) => RecordingRefused::NotAudio,
            e => RecordingRefused::Speech(e),
        })?;
        &wav[..]
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WAVE" {
        bytes
    } else {
        return Err(RecordingRefused::NotAudio);
    };
    let (rate, samples) = mono_samples(source)?;
    let seconds = samples.len() as f64 / rate as f64;
    if seconds > MAX_RECORDING_SECONDS {
        return Err(RecordingRefused::TooLong);
    }
    if seconds < 0.5 || samples.iter().all(|s| *s == 0) {
        return Err(RecordingRefused::TooShort);
    }
    let wav = write_wav(rate, samples.into_iter()).map_err(RecordingRefused::Speech)?;
    Ok((wav, seconds))
}

/// Any PCM WAV hound reads (8 to 32-bit integers, 32-bit float; one or two
/// channels; 8 to 48 kHz) as 16-bit mono samples.
fn mono_samples(bytes: &[u8]) -> Result<(u32, Vec<i16>), RecordingRefused> {
    let bytes = with_true_sizes(bytes);
    let mut reader = hound::WavReader::new(Cursor::new(&bytes[..]))
        .map_err(|_| RecordingRefused::Unsupported)?;
    let spec = reader.spec();
    if !(1..=2).contains(&spec.channels) || !(8000..=48000).contains(&spec.sample_rate) {
        return Err(RecordingRefused::Unsupported);
    }
    // Ten minutes at the highest rate, with room: a header claiming more is refused.
    let limit =
        (MAX_RECORDING_SECONDS as usize + 1) * spec.sample_rate as usize * spec.channels as usize;
    let as_f32: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .take(limit + 1)
            .collect::<Result<_, _>>()
            .map_err(|_| RecordingRefused::Unsupported)?,
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample.clamp(8, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .take(limit + 1)
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<Result<_, _>>()
                .map_err(|_| RecordingRefused::Unsupported)?
        }
    };
    if as_f32.len() > limit {
        return Err(RecordingRefused::TooLong);
    }
    let mono = as_f32
        .chunks(spec.channels as usize)
        .map(|frame| {
            let v = frame.iter().sum::<f32>() / frame.len() as f32;
            (v.clamp(-1.0, 1.0) * i16::MAX as f32) as i16
        })
        .collect();
    Ok((spec.sample_rate, mono))
}

/// A WAV written to a pipe (opusdec, espeak-ng) says "as long as can be"
/// in its RIFF and data sizes; this copy says what the bytes hold, so a
/// reader stops where they end. Other files are returned as they are.
fn with_true_sizes(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let le = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = le(bytes, at + 4);
        if &bytes[at..at + 4] == b"data" {
            let room = bytes.len() - at - 8;
            if len <= room && le(bytes, 4) == bytes.len() - 8 {
                return std::borrow::Cow::Borrowed(bytes);
            }
            let mut fixed = bytes.to_vec();
            let data = len.min(room) & !1;
            fixed.truncate(at + 8 + data);
            fixed[at + 4..at + 8].copy_from_slice(&(data as u32).to_le_bytes());
            let riff = (fixed.len() - 8) as u32;
            fixed[4..8].copy_from_slice(&riff.to_le_bytes());
            return std::borrow::Cow::Owned(fixed);
        }
        at = at.saturating_add(8).saturating_add(len + (len & 1));
    }
    std::borrow::Cow::Borrowed(bytes)
}

/// The broadcast file of a recorded voice: the same chimes and pauses as
/// a synthesized one.
pub fn broadcast_from_recording(wav: &[u8]) -> Result<Vec<u8>, SpeechError> {
    let voice = read_wav(wav)?;
    let rate = voice.rate;
    let parts = [
        chime(rate, true),
        silence(rate, PAUSE_S),
        voice.samples,
        silence(rate, PAUSE_S),
        chime(rate, false),
    ];
    write_wav(rate, parts.iter().flatten().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let e = run("danvan-no-such-program", &[], Vec::new())
            .await
            .expect_err("fails");
        assert!(matches!(e, SpeechError::Missing("danvan-no-such-program")));
        assert!(e.message_vi().contains("chưa cài"));
    }

    #[test]
    fn a_streamed_header_ends_where_the_bytes_do() {
        let mut wav = write_wav(22050, [1i16, -2, 3].into_iter()).unwrap();
        // As espeak-ng writes to a pipe: lengths it cannot know.
        wav[4..8].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        wav[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        let s = read_wav(&wav).unwrap();
        assert_eq!((s.rate, s.samples), (22050, vec![1, -2, 3]));
    }

    #[test]
    fn the_script_reads_the_title_then_the_body() {
        assert_eq!(
            script("Họp thôn.", " Tối nay. ", false),
            "Họp thôn.\nTối nay."
        );
        assert!(script("Lũ", "Sơ tán", true).starts_with("Thông báo khẩn."));
    }

    #[tokio::test]
    async fn a_stereo_recording_becomes_mono_with_chimes() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for i in 0..8000 {
            w.write_sample(((i % 50) * 100) as i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let (wav, seconds) = recording_to_wav(&out.into_inner()).await.unwrap();
        assert!((seconds - 1.0).abs() < 1e-9, "{seconds}");
        let kept = read_wav(&wav).unwrap();
        assert_eq!((kept.rate, kept.samples.len()), (8000, 8000));
        // Left and right averaged.
        assert_eq!(
            kept.samples[10],
            ((1000.0f32 / 32768.0 / 2.0) * 32767.0) as i16
        );
        let broadcast = read_wav(&broadcast_from_recording(&wav).unwrap()).unwrap();
        assert!(broadcast.samples.len() > 8000 + 2 * 4800);
    }

    #[tokio::test]
    async fn strangers_and_silence_are_refused() {
        assert!(matches!(
            recording_to_wav(b"ID3\x03 an mp3").await,
            Err(RecordingRefused::NotAudio)
        ));
        let silent = write_wav(16000, std::iter::repeat_n(0i16, 16000)).unwrap();
        assert!(matches!(
            recording_to_wav(&silent).await,
            Err(RecordingRefused::TooShort)
        ));
        let e = recording_to_wav(b"RIFF\0\0\0\0WAVEjunk").await.unwrap_err();
        assert!(matches!(e, RecordingRefused::Unsupported));
        assert!(e.message_vi().contains("WAV"));
    }
}
