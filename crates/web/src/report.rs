//! The public way in: the report form (`/report`), an item's public status
//! page (`/r/{code}`) and its photos. No account is needed; the form is
//! guarded like the login form, by the double-submit cookie `dv_csrf`.
//!
//! The form works without JavaScript on a cheap phone: the hamlet is found
//! by a "Tìm" button that sends the form back to be shown again with the
//! matching hamlets as radio buttons (what was typed is kept). A small
//! optional script only offers to fill the position from the phone.
//!
//! A hidden `submission_key`, drawn when the form is shown, makes a reload or
//! a double click one report. Photos are checked and re-encoded
//! (`danvan_store::feedback::photo`) before anything is written, and written in the
//! report's own transaction: bad input of any kind writes nothing.
//!
//! Reports are limited per client address ([`crate::rate_limit`]): over the
//! limit the form comes back with 429 and what was typed, and nothing is
//! decoded or written. Only reports made count, not corrections.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use danvan_domain::calendar;
use danvan_domain::feedback::{Channel, FeedbackState, Severity, TrackingCode};
use danvan_domain::{text, Phone, UnitLevel};
use danvan_store::feedback::photo::{clean_photos, PhotoError, MAX_PHOTOS, MAX_PHOTO_BYTES};
use danvan_store::feedback::{NewFeedback, Topic, MAX_DESCRIPTION};
use danvan_store::registry::unit::Unit;
use danvan_store::{Actor, Scope, StoreError};
use serde::Deserialize;

use crate::auth::{cookie, same_token, set_cookie, PRE_CSRF_COOKIE};
use crate::error::{urlencode, WebError};
use crate::i18n::{pick, Lang, Tr};
use crate::pages::Chrome;
use crate::rate_limit::{ClientKey, Limiters};
use crate::AppState;

/// A report's body: five photos at their largest, plus the text fields and
/// the multipart framing.
pub const MAX_REPORT_BYTES: usize = MAX_PHOTOS * MAX_PHOTO_BYTES + 1024 * 1024;
/// Longest text field read (bytes): a full description in any script fits.
const MAX_TEXT_FIELD: usize = 24 * 1024;
/// Hamlets looked up by one search.
const HAMLET_HITS: i64 = 20;

type Page = Result<Response, WebError>;

fn chrome(lang: Lang, here: &str) -> Chrome {
    Chrome {
        t: lang.t(),
        lang: lang.code(),
        user: None,
        csrf: String::new(),
        here: urlencode(here),
    }
}

/// "24/04/2026 07:30", Vietnam time (as the other pages show instants).
fn when(unix: i64) -> String {
    calendar::to_local(unix)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

fn capped(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

// ---------------------------------------------------------------- the form

/// What the person typed, kept when the form is shown again.
#[derive(Default)]
struct Input {
    submission_key: String,
    topic: String,
    description: String,
    hamlet_q: String,
    hamlet_id: Option<i64>,
    lat: String,
    lon: String,
    name: String,
    phone: String,
    anonymous: bool,
}

/// Messages shown beside the fields they are about.
#[derive(Default)]
struct Problems {
    general: Option<String>,
    topic: Option<String>,
    description: Option<String>,
    hamlet: Option<String>,
    place: Option<String>,
    contact: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    anonymous: Option<String>,
    photos: Vec<String>,
}

impl Problems {
    fn any(&self) -> bool {
        self.general.is_some()
            || self.topic.is_some()
            || self.description.is_some()
            || self.hamlet.is_some()
            || self.place.is_some()
            || self.contact.is_some()
            || self.name.is_some()
            || self.phone.is_some()
            || self.anonymous.is_some()
            || !self.photos.is_empty()
    }
}

struct TopicOption {
    code: String,
    label: String,
    selected: bool,
}

struct HamletOption {
    id: i64,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    c: Chrome,
    csrf: String,
    f: Input,
    topics: Vec<TopicOption>,
    hamlets: Vec<HamletOption>,
    /// A search ran (so "nothing found" can be said).
    searched: bool,
    p: Problems,
    /// Photos had been chosen, but a form shown again cannot keep them.
    photos_again: bool,
    max_description: usize,
}

fn topic_options(lang: Lang, topics: &[Topic], selected: &str) -> Vec<TopicOption> {
    let t = lang.t();
    topics
        .iter()
        .map(|topic| {
            let mut notes = Vec::new();
            if topic.confidential {
                notes.push(t.report_topic_confidential);
            }
            if topic.anonymous_allowed {
                notes.push(t.report_topic_anonymous);
            }
            let name = pick(lang, &topic.name_vi, &topic.name_en);
            TopicOption {
                code: topic.code.clone(),
                label: if notes.is_empty() {
                    name.to_string()
                } else {
                    format!("{name} ({})", notes.join("; "))
                },
                selected: topic.code == selected,
            }
        })
        .collect()
}

/// A hamlet people may report about: a hamlet, in force.
fn reportable(u: &Unit) -> bool {
    u.level == UnitLevel::Hamlet && u.valid_to.is_none()
}

/// The hamlet chosen by id, if it is one people may report about.
async fn chosen_hamlet(st: &AppState, id: Option<i64>) -> Result<Option<Unit>, WebError> {
    let Some(id) = id else { return Ok(None) };
    match st.store.unit(&Scope::all(), id).await {
        Ok(u) if reportable(&u) => Ok(Some(u)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The radio buttons: the chosen hamlet first, then what the search found
/// (a single hit is chosen for the person). Labels name the commune too,
/// since hamlet names repeat across communes.
async fn hamlet_options(
    st: &AppState,
    q: &str,
    chosen: Option<&Unit>,
) -> Result<(Vec<HamletOption>, bool), WebError> {
    let q = q.trim();
    let searched = !q.is_empty();
    let mut units: Vec<Unit> = chosen.into_iter().cloned().collect();
    if searched {
        let hits = st.store.search_units(&Scope::all(), q, HAMLET_HITS).await?;
        units.extend(
            hits.into_iter()
                .filter(|u| reportable(u) && chosen.is_none_or(|c| c.id != u.id)),
        );
    }
    let mut communes: HashMap<i64, String> = HashMap::new();
    let mut out = Vec::with_capacity(units.len());
    let only_one = units.len() == 1;
    for u in units {
        let commune = match u.parent_id {
            Some(pid) => match communes.get(&pid) {
                Some(n) => n.clone(),
                None => {
                    let name = match st.store.unit(&Scope::all(), pid).await {
                        Ok(p) => p.name,
                        Err(StoreError::NotFound) => String::new(),
                        Err(e) => return Err(e.into()),
                    };
                    communes.insert(pid, name.clone());
                    name
                }
            },
            None => String::new(),
        };
        let checked = chosen.is_some_and(|c| c.id == u.id) || (chosen.is_none() && only_one);
        out.push(HamletOption {
            id: u.id,
            label: if commune.is_empty() {
                u.name
            } else {
                format!("{} — {commune}", u.name)
            },
            checked,
        });
    }
    Ok((out, searched))
}

/// The token of the double-submit cookie, and whether it must be set.
fn pre_csrf(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, PRE_CSRF_COOKIE) {
        Some(t) if t.len() == 64 => (t.to_string(), false),
        _ => (danvan_store::registry::account::new_token().0, true),
    }
}

fn new_submission_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Renders the form; never cached, so going back to it draws a new key.
#[allow(clippy::too_many_arguments)]
async fn render_form(
    st: &AppState,
    lang: Lang,
    status: StatusCode,
    csrf: String,
    set_csrf: bool,
    f: Input,
    p: Problems,
    photos_again: bool,
) -> Page {
    let topics = st.store.topics().await?;
    let chosen = chosen_hamlet(st, f.hamlet_id).await?;
    let (hamlets, searched) = hamlet_options(st, &f.hamlet_q, chosen.as_ref()).await?;
    let page = ReportPage {
        c: chrome(lang, "/report"),
        csrf: csrf.clone(),
        topics: topic_options(lang, &topics, &f.topic),
        f,
        hamlets,
        searched,
        p,
        photos_again,
        max_description: MAX_DESCRIPTION,
    };
    let mut res = (status, Html(page.render()?)).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if set_csrf {
        if let Ok(v) = set_cookie(PRE_CSRF_COOKIE, &csrf, 86400, st.secure_cookies).parse() {
            headers.append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct FormQuery {
    hamlet_id: Option<String>,
    hamlet_q: Option<String>,
    topic: Option<String>,
}

/// `GET /report` (`?hamlet_id=` from a hamlet's page, `?hamlet_q=` to search).
pub async fn form(
    State(st): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<FormQuery>,
) -> Page {
    let (csrf, fresh) = pre_csrf(&headers);
    let f = Input {
        submission_key: new_submission_key(),
        topic: capped(q.topic.as_deref().unwrap_or(""), 50),
        hamlet_q: capped(q.hamlet_q.as_deref().unwrap_or(""), 100),
        hamlet_id: q.hamlet_id.and_then(|h| h.trim().parse().ok()),
        ..Input::default()
    };
    render_form(
        &st,
        lang,
        StatusCode::OK,
        csrf,
        fresh,
        f,
        Problems::default(),
        false,
    )
    .await
}

/// Why a multipart body stopped.
enum ReadStop {
    /// Over the route's body limit.
    TooLarge,
    Broken,
}

/// Reads a field up to `cap` bytes; the rest is read and dropped, and the
/// flag says it was too long.
async fn read_capped(
    field: &mut axum::extract::multipart::Field<'_>,
    cap: usize,
) -> Result<(Vec<u8>, bool), ReadStop> {
    let mut out = Vec::new();
    let mut over = false;
    loop {
        match field.chunk().await {
            Ok(Some(bytes)) => {
                if over || out.len() + bytes.len() > cap {
                    over = true;
                    let room = cap.saturating_sub(out.len());
                    out.extend_from_slice(&bytes[..room.min(bytes.len())]);
                } else {
                    out.extend_from_slice(&bytes);
                }
            }
            Ok(None) => return Ok((out, over)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ReadStop::TooLarge)
            }
            Err(_) => return Err(ReadStop::Broken),
        }
    }
}

/// Text of a field; a cut at the cap may split a character.
fn field_text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// "Ảnh thứ 2 (x.jpg): tệp này không phải ảnh …".
fn photo_problem(t: &Tr, lang: Lang, n: usize, file: &str, why: PhotoError) -> String {
    let why = pick(lang, why.message_vi(), why.message_en());
    let mut chars = why.chars();
    let why = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    let file = if file.trim().is_empty() {
        "—".to_string()
    } else {
        capped(file, 60)
    };
    t.err_photo
        .replace("{n}", &n.to_string())
        .replace("{file}", &file)
        .replace("{why}", &why)
}

fn field_error(lang: Lang, e: &danvan_domain::FieldError) -> String {
    match lang {
        Lang::Vi => e.message_vi(),
        Lang::En => e.message_en(),
    }
}

/// "21,3175" or "21.3175" → 21.3175.
fn coordinate(s: &str) -> Option<Result<f64, ()>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Some(
        s.replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(()),
    )
}

/// `POST /report`: checks everything, then writes the report and its photos
/// in one transaction, then sends the person to the status page.
pub async fn submit(
    State(st): State<AppState>,
    Extension(limits): Extension<Limiters>,
    ClientKey(client): ClientKey,
    lang: Lang,
    headers: HeaderMap,
    mut mp: Multipart,
) -> Page {
    let t = lang.t();
    let mut f = Input::default();
    let mut p = Problems::default();
    let mut csrf = String::new();
    let mut find = false;
    let mut description_cut = false;
    let mut total_too_large = false;
    // (file name, bytes) of each photo small enough to look at.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut photo_count = 0usize;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                total_too_large = true;
                break;
            }
            Err(_) => {
                return Err(WebError::BadRequest(
                    pick(
                        lang,
                        "Dữ liệu gửi lên không đọc được",
                        "The form data could not be read",
                    )
                    .into(),
                ))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        let is_photo = name == "photos";
        let file_name = field.file_name().unwrap_or("").to_string();
        let cap = if is_photo {
            MAX_PHOTO_BYTES
        } else {
            MAX_TEXT_FIELD
        };
        let (bytes, over) = match read_capped(&mut field, cap).await {
            Ok(r) => r,
            Err(ReadStop::TooLarge) => {
                total_too_large = true;
                break;
            }
            Err(ReadStop::Broken) => {
                return Err(WebError::BadRequest(
                    pick(
                        lang,
                        "Dữ liệu gửi lên bị gián đoạn",
                        "The upload was interrupted",
                    )
                    .into(),
                ))
            }
        };
        if is_photo {
            // A file input left empty still sends an empty part.
            if file_name.is_empty() && bytes.is_empty() {
                continue;
            }
            photo_count += 1;
            if photo_count > MAX_PHOTOS {
                p.photos.push(photo_problem(
                    t,
                    lang,
                    photo_count,
                    &file_name,
                    PhotoError::TooMany,
                ));
            } else if over {
                p.photos.push(photo_problem(
                    t,
                    lang,
                    photo_count,
                    &file_name,
                    PhotoError::TooLarge,
                ));
            } else {
                files.push((file_name, bytes));
            }
            continue;
        }
        let v = field_text(bytes);
        match name.as_str() {
            "csrf" => csrf = capped(&v, 100),
            "submission_key" => f.submission_key = capped(v.trim(), 100),
            "do" => find = v == "find",
            "topic" => f.topic = capped(v.trim(), 50),
            "description" => {
                f.description = v;
                description_cut = over;
            }
            "hamlet_q" => f.hamlet_q = capped(&v, 100),
            "hamlet_id" => f.hamlet_id = v.trim().parse().ok(),
            "lat" => f.lat = capped(&v, 30),
            "lon" => f.lon = capped(&v, 30),
            "reporter_name" => f.name = capped(&v, 200),
            "reporter_phone" => f.phone = capped(&v, 30),
            "anonymous" => f.anonymous = !v.is_empty(),
            _ => {}
        }
    }
    let expected = cookie(&headers, PRE_CSRF_COOKIE).unwrap_or("");
    if !same_token(expected, &csrf) {
        return Err(WebError::Csrf);
    }
    let csrf = expected.to_string();
    if f.submission_key.is_empty() {
        f.submission_key = new_submission_key();
    }
    let photos_sent = photo_count > 0 || total_too_large;
    if find {
        return render_form(
            &st,
            lang,
            StatusCode::OK,
            csrf,
            false,
            f,
            Problems::default(),
            photos_sent,
        )
        .await;
    }

    // A place in the client's window, given back on any way out but a
    // report made; taken before the photos are decoded.
    let Some(slot) = limits.report.acquire(&client) else {
        p.general = Some(
            pick(
                lang,
                "Từ địa chỉ mạng này đã có nhiều phản ánh được gửi trong ít phút. Xin đợi khoảng 10 phút rồi gửi lại, hoặc báo trực tiếp cho tổ dân vận của thôn.",
                "Many reports were sent from this network address in the last few minutes. Please wait about 10 minutes and send again, or tell your hamlet's mobilization team directly.",
            )
            .into(),
        );
        let mut res = render_form(
            &st,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            csrf,
            false,
            f,
            p,
            photos_sent,
        )
        .await?;
        let wait = limits.report.limit().window.as_secs().to_string();
        if let Ok(v) = HeaderValue::from_str(&wait) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(res);
    };

    // Every field is checked, so one round trip shows every problem.
    let topics = st.store.topics().await?;
    let topic = topics.iter().find(|x| x.code == f.topic).cloned();
    if topic.is_none() {
        p.topic = Some(t.err_topic.into());
    }
    let description = match text::clean_text(&f.description, usize::MAX) {
        Ok(d) => d,
        Err(e) => {
            p.description = Some(field_error(lang, &e));
            String::new()
        }
    };
    let chars = description.chars().count();
    if p.description.is_none() {
        if description.trim().is_empty() {
            p.description = Some(t.err_description_empty.into());
        } else if chars > MAX_DESCRIPTION || description_cut {
            p.description = Some(t.err_description_long.replace("{n}", &chars.to_string()));
        }
    }
    let hamlet = chosen_hamlet(&st, f.hamlet_id).await?;
    if hamlet.is_none() {
        p.hamlet = Some(t.err_hamlet.into());
    }
    let (lat, lon) = match (coordinate(&f.lat), coordinate(&f.lon)) {
        (None, None) => (None, None),
        (Some(Ok(la)), Some(Ok(lo))) => {
            if (8.0..=23.5).contains(&la) && (102.0..=110.0).contains(&lo) {
                (Some(la), Some(lo))
            } else {
                p.place = Some(t.err_place_outside.into());
                (None, None)
            }
        }
        (Some(Err(())), _) | (_, Some(Err(()))) => {
            p.place = Some(t.err_place_number.into());
            (None, None)
        }
        _ => {
            p.place = Some(t.err_place_both.into());
            (None, None)
        }
    };
    let mut name = None;
    let mut phone = None;
    if !f.anonymous {
        if !f.name.trim().is_empty() {
            match text::clean_line(&f.name, 200) {
                Ok(n) => name = Some(n),
                Err(e) => p.name = Some(field_error(lang, &e)),
            }
        }
        if !f.phone.trim().is_empty() {
            match Phone::parse(f.phone.trim()) {
                Ok(ph) => phone = Some(ph.as_str().to_string()),
                Err(e) => p.phone = Some(field_error(lang, &e)),
            }
        }
    }
    if let Some(topic) = &topic {
        let topic_name = pick(lang, &topic.name_vi, &topic.name_en);
        if !topic.anonymous_allowed {
            if f.anonymous {
                p.anonymous = Some(t.err_anonymous.replace("{topic}", topic_name));
            } else if f.name.trim().is_empty() || f.phone.trim().is_empty() {
                p.contact = Some(t.err_contact_required.replace("{topic}", topic_name));
            }
        }
    }
    if total_too_large {
        p.photos.push(t.err_photos_total.into());
    }
    let mut photos = Vec::new();
    if !total_too_large && photo_count <= MAX_PHOTOS {
        let (names, bytes): (Vec<String>, Vec<Vec<u8>>) = files.into_iter().unzip();
        for (i, outcome) in clean_photos(bytes).await.into_iter().enumerate() {
            match outcome {
                Ok(photo) => photos.push(photo),
                Err(why) => p.photos.push(photo_problem(t, lang, i + 1, &names[i], why)),
            }
        }
    }
    let status = if total_too_large {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    let (Some(topic), Some(hamlet), false) = (topic, hamlet, p.any()) else {
        return render_form(&st, lang, status, csrf, false, f, p, photos_sent).await;
    };

    let new = NewFeedback {
        topic: topic.code.clone(),
        severity: Severity::Normal,
        channel: Channel::Web,
        description,
        hamlet_id: hamlet.id,
        lat,
        lon,
        reporter_name: name,
        reporter_phone: phone,
        anonymous: f.anonymous,
        household_id: None,
        resident_id: None,
        relay_method: None,
        identity_consent: false,
        submission_key: Some(f.submission_key.clone()),
        photos,
    };
    let actor = Actor {
        account_id: None,
        name: "web".into(),
    };
    match st.store.submit_feedback(&actor, &Scope::all(), &new).await {
        Ok(r) => {
            slot.keep();
            let code = TrackingCode::parse(&r.code)
                .map(|c| c.display())
                .unwrap_or(r.code);
            let to = if topic.confidential {
                format!("/report/sent/{code}")
            } else {
                format!("/r/{code}")
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => {
            match e {
                StoreError::Invalid { field, error } => {
                    let m = field_error(lang, &error);
                    match field {
                        "description" => p.description = Some(m),
                        "name" => p.name = Some(m),
                        "phone" => p.phone = Some(m),
                        _ => p.general = Some(m),
                    }
                }
                StoreError::NotFound => p.hamlet = Some(t.err_hamlet.into()),
                StoreError::Rejected(problem) | StoreError::Conflict(problem) => {
                    p.general = Some(crate::problem_text::problem(lang, &problem))
                }
                other => return Err(other.into()),
            }
            render_form(
                &st,
                lang,
                StatusCode::BAD_REQUEST,
                csrf,
                false,
                f,
                p,
                photos_sent,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------- after sending

#[derive(Template)]
#[template(path = "report_sent.html")]
struct SentPage {
    c: Chrome,
    code: String,
}

/// `GET /report/sent/{code}`: the receipt of a confidential report, whose
/// status page is not public. Reads nothing from the database.
pub async fn sent(lang: Lang, Path(code): Path<String>) -> Page {
    let code = TrackingCode::parse(&code).ok_or(WebError::NotFound)?;
    let page = SentPage {
        c: chrome(lang, &format!("/report/sent/{}", code.display())),
        code: code.display(),
    };
    Ok(Html(page.render()?).into_response())
}

// ---------------------------------------------------------------- status page

struct EventView {
    when: String,
    label: String,
    body: String,
}

#[derive(Template)]
#[template(path = "report_status.html")]
struct StatusPage {
    c: Chrome,
    code: String,
    topic: String,
    hamlet: String,
    state: &'static str,
    received_at: String,
    due: String,
    late: bool,
    answered_at: Option<String>,
    responsible: String,
    place: Option<String>,
    description: String,
    /// The topic's publicity shows the text (else a note says why not).
    text_public: bool,
    answer: Option<String>,
    refusal: Option<String>,
    refer_to: Option<String>,
    photos: Vec<i64>,
    events: Vec<EventView>,
    /// The reporter's forms (rate, write back) and what the last one did.
    csrf: String,
    can_rate: bool,
    can_reply: bool,
    notice: Option<(bool, &'static str)>,
}

#[derive(Deserialize, Default)]
pub struct StatusQuery {
    msg: Option<String>,
}

/// The message a reporter's form left (`reporter.rs`), and whether it is
/// good news.
fn notice(lang: Lang, msg: Option<&str>) -> Option<(bool, &'static str)> {
    let fb = lang.t().fb;
    Some(match msg? {
        "rated" => (true, fb.msg_rated),
        "replied" => (true, fb.msg_replied),
        "reopened" => (true, fb.msg_reopened),
        "sent" => (true, fb.msg_sent),
        "badcode" => (false, fb.msg_badcode),
        "slow" => (false, fb.msg_slow),
        "phone" => (false, fb.msg_phone),
        "stars" => (false, fb.stars),
        "not_answered" => (false, fb.msg_not_answered),
        "invalid" => (false, fb.msg_invalid),
        _ => return None,
    })
}

fn state_label(lang: Lang, s: FeedbackState) -> &'static str {
    pick(lang, s.label_vi(), s.label_en())
}

/// `GET /r/{code}`: what anyone may know of an item. Confidential and
/// unknown codes are the same 404; the reporter is never shown.
pub async fn status(
    State(st): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Page {
    let t = lang.t();
    let f = st.store.feedback_public(&code).await?;
    let id = st.store.public_feedback_id(&code).await?;
    let (csrf, fresh) = pre_csrf(&headers);
    let events = st.store.feedback_events(None, id).await?;
    let photos = st.store.public_photos(&code).await?;
    let display = TrackingCode::parse(&f.code)
        .map(|c| c.display())
        .unwrap_or_else(|| f.code.clone());
    let state = f.state;
    let events = events
        .into_iter()
        .map(|e| {
            let label = match e.kind.as_str() {
                "received" => t.ev_received.to_string(),
                "note" => t.ev_note.to_string(),
                "answer_approved" => t.ev_answer.to_string(),
                "refused" => t.ev_refused.to_string(),
                "rated" => t.ev_rated.to_string(),
                "escalated" => t.ev_escalated.to_string(),
                _ => match e.to_state {
                    Some(s) => state_label(lang, s).to_string(),
                    None => t.ev_other.to_string(),
                },
            };
            EventView {
                when: when(e.at),
                label,
                body: e.body,
            }
        })
        .collect();
    let page = StatusPage {
        c: chrome(lang, &format!("/r/{display}")),
        topic: pick(lang, &f.topic_name_vi, &f.topic_name_en).to_string(),
        hamlet: f.hamlet_name.clone(),
        state: state_label(lang, f.state),
        received_at: when(f.received_at),
        due: when(f.resolve_due),
        late: state.is_open() && st.store.now() > f.resolve_due,
        answered_at: f.answered_at.map(when),
        responsible: f.responsible_label.clone(),
        place: match (f.lat, f.lon) {
            (Some(la), Some(lo)) => Some(format!("{la:.5}, {lo:.5}")),
            _ => None,
        },
        description: f.description,
        text_public: f.publicity.shows_text(),
        answer: f.answer,
        refusal: f.refusal_reason,
        refer_to: f.refer_to.filter(|r| !r.trim().is_empty()),
        photos: photos.iter().map(|ph| ph.n).collect(),
        events,
        code: display,
        csrf: csrf.clone(),
        can_rate: state == FeedbackState::Answered || state == FeedbackState::Closed,
        can_reply: state != FeedbackState::Refused,
        notice: notice(lang, q.msg.as_deref()),
    };
    let mut res = Html(page.render()?).into_response();
    if fresh {
        if let Ok(v) = set_cookie(PRE_CSRF_COOKIE, &csrf, 86400, st.secure_cookies).parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

/// `GET /r/{code}/photos/{n}`: a photo of a public item, as stored (already
/// stripped of metadata). Stored photos never change, so caches may keep it.
pub async fn photo(State(st): State<AppState>, Path((code, n)): Path<(String, String)>) -> Page {
    let n: i64 = n.parse().map_err(|_| WebError::NotFound)?;
    let (mime, bytes) = st.store.public_photo(&code, n).await?;
    photo_response(&mime, bytes, "public, max-age=86400")
}

/// A stored photo as a response, for the public status page and the
/// officials' item page alike; `cache` says who may keep it and how long.
/// Stored photos are re-encoded JPEG or PNG, anything else is not ours.
pub(crate) fn photo_response(mime: &str, bytes: Vec<u8>, cache: &'static str) -> Page {
    let mime = match mime {
        "image/jpeg" => "image/jpeg",
        "image/png" => "image/png",
        _ => return Err(WebError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, cache),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response())
}
