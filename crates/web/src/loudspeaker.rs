//! The hamlet loudspeaker (*loa phát thanh*): an announcement's broadcast
//! file (`/api/v1/announcements/{id}/audio.wav|.ogg?voice=`), made once per
//! voice and format and kept in the database, and the hamlet head's
//! broadcast schedule (`/hamlets/{id}/loudspeaker`, and `.csv`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use danvan_domain::announcement::Urgency;
use danvan_domain::calendar;
use danvan_domain::loudspeaker::{broadcast_times, Voice, DEFAULT_SLOTS};
use danvan_domain::Role;
use danvan_store::announcement::Announcement;
use danvan_store::feedback::Viewer;
use danvan_store::Scope;
use serde::Deserialize;

use crate::api::{parse_id, ApiError, ApiUser};
use crate::auth::User;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::pages::{chrome, Chrome};
use crate::speech::{self, SpeechError};
use crate::AppState;

/// The routes of this module, merged into the app's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/announcements/{id}/audio.wav", get(wav))
        .route("/api/v1/announcements/{id}/audio.ogg", get(ogg))
        .route("/hamlets/{id}/loudspeaker", get(page))
        .route("/hamlets/{id}/loudspeaker.csv", get(schedule_csv))
}

#[derive(Deserialize, Default)]
pub struct VoiceQuery {
    #[serde(default)]
    voice: Option<String>,
}

fn voice_of(q: &VoiceQuery) -> Result<Voice, ApiError> {
    match q.voice.as_deref().map(str::trim) {
        None | Some("") => Ok(Voice::North),
        Some(v) => Voice::parse(v).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "voice: north, central hoặc south",
            )
        }),
    }
}

impl From<SpeechError> for ApiError {
    fn from(e: SpeechError) -> Self {
        let status = match e {
            SpeechError::Missing(_) | SpeechError::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
            SpeechError::Failed(_) => {
                tracing::error!(error = %e, "speech failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, "audio", &e.message_vi())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Wav,
    Ogg,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Ogg => "ogg",
        }
    }
    fn mime(self) -> &'static str {
        match self {
            Format::Wav => "audio/wav",
            Format::Ogg => "audio/ogg",
        }
    }
}

/// The broadcast WAV of an announcement in `voice`: kept, or made and kept.
async fn wav_of(st: &AppState, a: &Announcement, voice: Voice) -> Result<Vec<u8>, ApiError> {
    let (v, recipe) = (voice.as_str(), speech::RECIPE);
    if let Some(b) = st.store.announcement_audio(a.id, v, "wav", recipe).await? {
        return Ok(b);
    }
    let text = speech::script(&a.title, &a.body, a.urgency() != Urgency::Normal);
    let wav = speech::broadcast_wav(&text, voice).await?;
    st.store
        .save_announcement_audio(a.id, v, "wav", recipe, &wav)
        .await?;
    Ok(wav)
}

async fn audio(
    st: AppState,
    p: danvan_store::account::Principal,
    id: &str,
    q: VoiceQuery,
    format: Format,
) -> Result<Response, ApiError> {
    let voice = voice_of(&q)?;
    let a = st
        .store
        .announcement(&Viewer::of(&p), parse_id(id)?)
        .await?;
    let bytes = match format {
        Format::Wav => wav_of(&st, &a, voice).await?,
        Format::Ogg => {
            let (v, recipe) = (voice.as_str(), speech::RECIPE);
            match st.store.announcement_audio(a.id, v, "ogg", recipe).await? {
                Some(b) => b,
                None => {
                    let ogg = speech::to_opus(&wav_of(&st, &a, voice).await?).await?;
                    st.store
                        .save_announcement_audio(a.id, v, "ogg", recipe, &ogg)
                        .await?;
                    ogg
                }
            }
        }
    };
    let filename = format!("thong-bao-{}-{}.{}", a.id, voice.as_str(), format.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, format.mime().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{filename}\""),
            ),
            // Personal to the viewer's scope: no shared cache keeps it.
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/announcements/{id}/audio.wav?voice=north|central|south`.
pub async fn wav(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<VoiceQuery>,
) -> Result<Response, ApiError> {
    audio(st, p, &id, q, Format::Wav).await
}

/// `GET /api/v1/announcements/{id}/audio.ogg?voice=…`: the same as Opus.
pub async fn ogg(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<VoiceQuery>,
) -> Result<Response, ApiError> {
    audio(st, p, &id, q, Format::Ogg).await
}

/// Who sees a hamlet's loudspeaker schedule: its head and the officers
/// above (team roles work from the reach pages).
fn may_broadcast(role: Role) -> bool {
    matches!(
        role,
        Role::Admin
            | Role::ProvinceOfficer
            | Role::Supervisor
            | Role::CommuneOfficer
            | Role::HamletHead
    )
}

fn pick(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// Strings of the loudspeaker page.
pub struct Ls {
    pub title: &'static str,
    pub intro: &'static str,
    pub none: &'static str,
    pub urgent: &'static str,
    pub sent: &'static str,
    pub until: &'static str,
    pub broadcasts: &'static str,
    pub download: &'static str,
    pub listen: &'static str,
    pub schedule: &'static str,
}

pub static LS_VI: Ls = Ls {
    title: "Loa phát thanh",
    intro: "Lịch phát các thông báo đang có hiệu lực của thôn: giờ phát thường lệ 06:00 và 17:00 mỗi ngày cho tới khi hết hạn; thông báo khẩn phát ngay.",
    none: "Hiện không có thông báo nào cần phát.",
    urgent: "Khẩn",
    sent: "Gửi lúc",
    until: "hết hạn",
    broadcasts: "Giờ phát",
    download: "Tải tệp âm thanh",
    listen: "Nghe",
    schedule: "Tải lịch phát (CSV)",
};

pub static LS_EN: Ls = Ls {
    title: "Loudspeaker",
    intro: "When the hamlet's current announcements are broadcast: at the usual times, 06:00 and 17:00 each day until they expire; urgent ones at once.",
    none: "Nothing to broadcast at the moment.",
    urgent: "Urgent",
    sent: "Sent",
    until: "expires",
    broadcasts: "Broadcast at",
    download: "Download the audio",
    listen: "Listen",
    schedule: "Download the schedule (CSV)",
};

struct AudioLink {
    label: &'static str,
    href: String,
}

struct Item {
    id: i64,
    title: String,
    urgent: bool,
    sent: String,
    expires: String,
    times: Vec<String>,
    listen: String,
    links: Vec<AudioLink>,
}

#[derive(Template)]
#[template(path = "loudspeaker.html")]
struct LoudspeakerPage {
    c: Chrome,
    ls: &'static Ls,
    hamlet_id: i64,
    heading: String,
    items: Vec<Item>,
}

fn short(unix: i64) -> String {
    calendar::to_local(unix).format("%H:%M %d/%m").to_string()
}

fn long(unix: i64) -> String {
    calendar::to_local(unix)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

fn audio_path(id: i64, voice: Voice, format: &str) -> String {
    format!(
        "/api/v1/announcements/{id}/audio.{format}?voice={}",
        voice.as_str()
    )
}

fn times_of(a: &Announcement) -> Vec<i64> {
    broadcast_times(a.send_at, a.expires_at, a.urgency(), &DEFAULT_SLOTS)
}

/// The hamlet, if the user may see its loudspeaker schedule.
async fn hamlet_of(st: &AppState, user: &User, id: i64) -> Result<String, WebError> {
    if !may_broadcast(user.p.role) {
        return Err(WebError::NotFound);
    }
    let unit = st.store.unit(&user.p.scope, id).await?;
    if unit.level != "hamlet" {
        return Err(WebError::NotFound);
    }
    Ok(unit.name)
}

/// `GET /hamlets/{id}/loudspeaker`: the hamlet head's schedule, with the
/// files to download. Plain HTML, nothing loaded until asked
/// (`preload="none"`): a cheap phone on a slow line opens it quickly.
pub async fn page(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let name = hamlet_of(&st, &user, id).await?;
    let list = st.store.loudspeaker_announcements(id).await?;
    let items = list
        .iter()
        .map(|a| Item {
            id: a.id,
            title: a.title.clone(),
            urgent: a.urgency() != Urgency::Normal,
            sent: long(a.send_at),
            expires: long(a.expires_at),
            times: times_of(a).into_iter().map(short).collect(),
            listen: audio_path(a.id, Voice::North, "ogg"),
            links: Voice::ALL
                .iter()
                .map(|v| AudioLink {
                    label: match lang {
                        Lang::Vi => v.label_vi(),
                        Lang::En => v.label_en(),
                    },
                    href: audio_path(a.id, *v, "wav"),
                })
                .chain(std::iter::once(AudioLink {
                    label: pick(lang, "Nén (Opus, nhẹ)", "Compressed (Opus, small)"),
                    href: audio_path(a.id, Voice::North, "ogg"),
                }))
                .collect(),
        })
        .collect();
    let ls = match lang {
        Lang::Vi => &LS_VI,
        Lang::En => &LS_EN,
    };
    let view = LoudspeakerPage {
        c: chrome(&user, &format!("/hamlets/{id}/loudspeaker")),
        ls,
        hamlet_id: id,
        heading: format!("{}: {name}", ls.title),
        items,
    };
    Ok(Html(view.render()?).into_response())
}

/// A CSV field, quoted when it must be; a leading `= + - @` is defused
/// so a spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `GET /hamlets/{id}/loudspeaker.csv`: every broadcast in time order,
/// with the file to play (UTF-8 with a byte-order mark, for Excel).
pub async fn schedule_csv(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    hamlet_of(&st, &user, id).await?;
    let list = st.store.loudspeaker_announcements(id).await?;
    let mut rows: Vec<(i64, &Announcement)> = list
        .iter()
        .flat_map(|a| times_of(a).into_iter().map(move |t| (t, a)))
        .collect();
    rows.sort_by_key(|(t, a)| (*t, a.id));
    let mut out = String::from("\u{feff}Giờ phát,Mã thông báo,Tiêu đề,Mức độ,Tệp âm thanh\r\n");
    for (t, a) in rows {
        let line = [
            long(t),
            a.id.to_string(),
            csv_field(&a.title),
            a.urgency().label_vi().to_string(),
            audio_path(a.id, Voice::North, "wav"),
        ];
        out += &line.join(",");
        out += "\r\n";
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"lich-phat-thanh-{id}.csv\""),
            ),
        ],
        out,
    )
        .into_response())
}

/// The hamlet whose loudspeaker schedule a user is shown a link to: a
/// hamlet head's own.
pub async fn own_hamlet(st: &AppState, user: &User) -> Option<i64> {
    if user.p.role != Role::HamletHead {
        return None;
    }
    let unit = st.store.unit(&Scope::all(), user.p.unit_id?).await.ok()?;
    (unit.level == "hamlet").then_some(unit.id)
}
