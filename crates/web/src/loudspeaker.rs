//! The hamlet loudspeaker (*loa phát thanh*): an announcement's broadcast
//! file (`/api/v1/announcements/{id}/audio.wav|.ogg?voice=`), made once per
//! voice and format and kept in the database, and the hamlet head's
//! broadcast schedule (`/hamlets/{id}/loudspeaker`, and `.csv`).

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use danvan_domain::announcement::Urgency;
use danvan_domain::calendar;
use danvan_domain::loudspeaker::{broadcast_times, slots_text, Voice};
use danvan_domain::policy::{Action, Target};
use danvan_domain::problem::Problem;
use danvan_domain::UnitLevel;
use danvan_media::speech::{self, SpeechError};
use danvan_store::announce::announcement::Announcement;
use danvan_store::feedback::Viewer;
use danvan_store::Scope;
use serde::Deserialize;

use crate::api::{parse_id, ApiError, ApiUser};
use crate::auth::User;
use crate::error::WebError;
use crate::i18n::{pick, Lang};
use crate::pages::{chrome, Chrome};
use crate::AppState;

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

/// How an announcement's file is made: its recorded voice when one was
/// uploaded (named by its hash, so a new upload makes it anew), else
/// synthesis; and the recording itself.
async fn recipe_of(
    st: &AppState,
    a: &Announcement,
) -> Result<
    (
        String,
        Option<danvan_store::announce::loudspeaker::Recording>,
    ),
    ApiError,
> {
    Ok(match st.store.announcement_recording(a.id).await? {
        Some(r) => (
            format!("recorded-{}-{}", &r.sha256[..16], speech::RECIPE),
            Some(r),
        ),
        None => (speech::RECIPE.to_string(), None),
    })
}

/// The broadcast WAV of an announcement in `voice`: kept, or made and kept.
/// A recorded voice, when there is one, is played whatever the voice.
async fn wav_of(st: &AppState, a: &Announcement, voice: Voice) -> Result<Vec<u8>, ApiError> {
    let v = voice.as_str();
    let (recipe, recording) = recipe_of(st, a).await?;
    let recipe = recipe.as_str();
    if let Some(b) = st.store.announcement_audio(a.id, v, "wav", recipe).await? {
        return Ok(b);
    }
    let wav = match recording {
        Some(r) => speech::broadcast_from_recording(&r.wav)?,
        None => {
            let text = speech::script(&a.title, &a.body, a.urgency != Urgency::Normal);
            speech::broadcast_wav(&text, voice).await?
        }
    };
    st.store
        .save_announcement_audio(a.id, v, "wav", recipe, &wav)
        .await?;
    Ok(wav)
}

async fn audio(
    st: AppState,
    p: danvan_store::registry::account::Principal,
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
            let v = voice.as_str();
            let (recipe, _) = recipe_of(&st, &a).await?;
            let recipe = recipe.as_str();
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
    intro: "Lịch phát các thông báo đang có hiệu lực của thôn: vào các giờ phát thường lệ của thôn mỗi ngày cho tới khi hết hạn; thông báo khẩn phát ngay.",
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
    intro: "When the hamlet's current announcements are broadcast: at the hamlet's usual times each day until they expire; urgent ones at once.",
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
    /// The hamlet's times, and what the form shows (a refused entry stays).
    slots: String,
    slots_typed: String,
    error: Option<String>,
    saved: bool,
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    slots: Option<String>,
    #[serde(default)]
    saved: Option<String>,
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

fn times_of(a: &Announcement, slots: &[(u32, u32)]) -> Vec<i64> {
    broadcast_times(a.send_at, a.expires_at, a.urgency, slots)
}

/// The hamlet, if the user may see its loudspeaker schedule.
async fn hamlet_of(st: &AppState, user: &User, id: i64) -> Result<String, WebError> {
    user.require(Action::ListenBroadcast)?;
    let unit = st.store.unit(&user.p.scope, id).await?;
    if unit.level != UnitLevel::Hamlet {
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
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let q = PageQuery {
        error: None,
        slots: None,
        saved: q.saved,
    };
    render(&st, &user, id, q).await
}

/// The page, with a refused entry of the times form and its reason.
async fn render(st: &AppState, user: &User, id: i64, q: PageQuery) -> Result<Response, WebError> {
    let lang = user.lang;
    let name = hamlet_of(st, user, id).await?;
    let list = st.store.loudspeaker_announcements(id).await?;
    let slots = st.store.loudspeaker_slots(id).await?;
    let items = list
        .iter()
        .map(|a| Item {
            id: a.id,
            title: a.title.clone(),
            urgent: a.urgency != Urgency::Normal,
            sent: long(a.send_at),
            expires: long(a.expires_at),
            times: times_of(a, &slots).into_iter().map(short).collect(),
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
        c: chrome(user, &format!("/hamlets/{id}/loudspeaker")),
        ls,
        hamlet_id: id,
        slots: slots_text(&slots).replace(',', ", "),
        slots_typed: q
            .slots
            .clone()
            .unwrap_or_else(|| slots_text(&slots).replace(',', ", ")),
        error: q.error.clone(),
        saved: q.saved.is_some(),
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
    let slots = st.store.loudspeaker_slots(id).await?;
    let mut rows: Vec<(i64, &Announcement)> = list
        .iter()
        .flat_map(|a| times_of(a, &slots).into_iter().map(move |t| (t, a)))
        .collect();
    rows.sort_by_key(|(t, a)| (*t, a.id));
    let mut out = String::from("\u{feff}Giờ phát,Mã thông báo,Tiêu đề,Mức độ,Tệp âm thanh\r\n");
    for (t, a) in rows {
        let line = [
            long(t),
            a.id.to_string(),
            csv_field(&a.title),
            a.urgency.label_vi().to_string(),
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
    // Only a hamlet head serves a hamlet as a unit (team roles serve a team).
    if !user.may_at_all(Action::ListenBroadcast) {
        return None;
    }
    let unit = st.store.unit(&Scope::all(), user.p.unit_id?).await.ok()?;
    (unit.level == UnitLevel::Hamlet).then_some(unit.id)
}

/// The message of a recording refusal's code, for the reach page.
pub fn recording_error(code: &str) -> Option<&'static str> {
    speech::recording_message(code)
}

/// `POST /announcements/{id}/recording` (multipart `file`): an officer of
/// the writing unit uploads a recorded voice; a refusal comes back to the
/// reach page in Vietnamese and keeps nothing.
pub async fn recording_upload(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, WebError> {
    let up = match crate::upload::read(mp, "file", speech::MAX_RECORDING_BYTES).await {
        Ok(up) => up,
        Err(crate::upload::UploadError::TooLarge) => return Err(WebError::TooLarge),
        Err(_) => return Err(WebError::Problem(Problem::UploadUnreadable)),
    };
    user.check_csrf(up.field("csrf"))?;
    user.require(Action::RecordVoice)?;
    let back =
        |code: &str| Ok(Redirect::to(&format!("/announcements/{id}?error={code}")).into_response());
    if up.file_too_large {
        return back("rec-too-large");
    }
    let Some((_, bytes)) = up.file.as_ref() else {
        return back("rec-too-short");
    };
    let viewer = Viewer::of(&user.p);
    // Only who may keep it has it decoded.
    st.store.announcement(&viewer, id).await?;
    let (wav, seconds) = match speech::recording_to_wav(bytes).await {
        Ok(r) => r,
        Err(e) => return back(e.code()),
    };
    st.store
        .save_announcement_recording(&viewer, id, &wav, seconds)
        .await?;
    Ok(Redirect::to(&format!("/announcements/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /announcements/{id}/recording/delete`: back to the synthesized voice.
pub async fn recording_delete(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    st.store
        .delete_announcement_recording(&Viewer::of(&user.p), id)
        .await?;
    Ok(Redirect::to(&format!("/announcements/{id}")).into_response())
}

/// `PUT /api/v1/announcements/{id}/recording`: the body is the recorded
/// voice (WAV or Ogg Opus).
pub async fn api_recording_put(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    p.require(Action::RecordVoice, &Target::anywhere())?;
    let viewer = Viewer::of(&p);
    let id = parse_id(&id)?;
    st.store.announcement(&viewer, id).await?;
    let (wav, seconds) = speech::recording_to_wav(&body).await.map_err(|e| match e {
        speech::RecordingRefused::Speech(e) => ApiError::from(e),
        e => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &e.message_vi()),
    })?;
    let sha = st
        .store
        .save_announcement_recording(&viewer, id, &wav, seconds)
        .await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"seconds": seconds, "sha256": sha, "audio_url": format!("/api/v1/announcements/{id}/audio.wav")})),
    )
        .into_response())
}

/// `DELETE /api/v1/announcements/{id}/recording`.
pub async fn api_recording_delete(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.store
        .delete_announcement_recording(&Viewer::of(&p), parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct SlotsForm {
    csrf: String,
    #[serde(default)]
    slots: String,
}

/// `POST /hamlets/{id}/loudspeaker/slots`: the hamlet's usual broadcast
/// times; a refused entry comes back in the form with the reason.
pub async fn slots_save(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<SlotsForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    hamlet_of(&st, &user, id).await?;
    match st
        .store
        .set_loudspeaker_slots(&Viewer::of(&user.p), id, &f.slots)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/hamlets/{id}/loudspeaker?saved=1")).into_response()),
        Err(e @ danvan_store::StoreError::Rejected(_)) => {
            let q = PageQuery {
                error: Some(WebError::from(e).message(user.lang)),
                slots: Some(f.slots.chars().take(60).collect()),
                saved: None,
            };
            let mut r = render(&st, &user, id, q).await?;
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotsIn {
    /// "06:00,17:00".
    slots: String,
}

/// `GET /api/v1/units/{id}/loudspeaker-slots`: a hamlet's broadcast times.
pub async fn api_slots_get(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(Action::ListenBroadcast, &Target::anywhere())?;
    let unit = st.store.unit(&p.scope, parse_id(&id)?).await?;
    if unit.level != UnitLevel::Hamlet {
        return Err(danvan_store::StoreError::NotFound.into());
    }
    let slots = st.store.loudspeaker_slots(unit.id).await?;
    Ok(Json(
        serde_json::json!({"unit_id": unit.id.to_string(), "slots": slots_text(&slots).split(',').collect::<Vec<_>>()}),
    ))
}

/// `PUT /api/v1/units/{id}/loudspeaker-slots` `{"slots": "06:00,17:30"}`.
pub async fn api_slots_put(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    body: Result<Json<SlotsIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    p.require(Action::SetBroadcastTimes, &Target::anywhere())?;
    let Json(b) = body.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            &format!("Dữ liệu JSON không hợp lệ: {}", e.body_text()),
        )
    })?;
    let id = parse_id(&id)?;
    let slots = st
        .store
        .set_loudspeaker_slots(&Viewer::of(&p), id, &b.slots)
        .await?;
    Ok(Json(
        serde_json::json!({"unit_id": id.to_string(), "slots": slots_text(&slots).split(',').collect::<Vec<_>>()}),
    ))
}
