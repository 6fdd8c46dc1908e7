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
    let mut stdin = child.stdin.take().expect("piped stdin");
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
}
