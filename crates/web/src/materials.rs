//! The library of materials from agencies (*thư viện tài liệu*): officers
//! upload leaflets, documents and audio spots by topic and hand them out
//! to teams with printed copies; a team acknowledges receipt and reports
//! the copies it handed to households. Pages under `/materials`, the JSON
//! API under `/api/v1/materials`.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use danvan_domain::calendar;
use danvan_domain::material::{FileKind, MAX_MATERIAL_BYTES};
use danvan_domain::policy::{library_view, Action, LibraryView, Target};
use danvan_domain::problem::Problem;
use danvan_store::announce::material::{Handout, Material, NewMaterial, MATERIALS_PAGE};
use danvan_store::feedback::Viewer;
use danvan_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::announce_api::ids;
use crate::api::{parse_id, ApiError, ApiUser};
use crate::auth::User;
use crate::error::WebError;
use crate::i18n::{pick, Lang};
use crate::pages::{chrome, Chrome};
use crate::upload::{self, UploadError};
use crate::AppState;

type Page = Result<Response, WebError>;

/// Teams listed as checkboxes on a material's page; above this the officer
/// hands out by unit.
const TEAM_CHECKBOXES: i64 = 300;

fn day(unix: i64) -> String {
    calendar::to_local(unix).format("%d/%m/%Y").to_string()
}

fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

/// Topics a material may have (the confidential ones are for reports).
async fn topic_choices(st: &AppState, lang: Lang) -> Result<Vec<(i64, String, String)>, WebError> {
    Ok(st
        .store
        .topics()
        .await?
        .into_iter()
        .filter(|t| !t.confidential)
        .map(|t| {
            let name = match lang {
                Lang::Vi => t.name_vi,
                Lang::En => t.name_en,
            };
            (t.id, t.code, name)
        })
        .collect())
}

struct TopicLink {
    code: String,
    name: String,
    current: bool,
}

struct Row {
    id: i64,
    title: String,
    agency: String,
    topic: String,
    unit: String,
    date: String,
    kind: &'static str,
    size: String,
    teams: i64,
    received: i64,
    copies: i64,
    copies_given: i64,
}

#[derive(Template)]
#[template(path = "materials.html")]
struct ListPage {
    c: Chrome,
    lang_vi: bool,
    can_upload: bool,
    handed_out: bool,
    topics: Vec<TopicLink>,
    all_topics: bool,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    before: Option<i64>,
}

fn row(m: &Material, topics: &[(i64, String, String)]) -> Row {
    Row {
        id: m.id,
        title: m.title.clone(),
        agency: m.agency.clone(),
        topic: topics
            .iter()
            .find(|(id, _, _)| Some(*id) == m.topic_id)
            .map(|(_, _, n)| n.clone())
            .unwrap_or_default(),
        unit: m.unit_name.clone(),
        date: day(m.created_at),
        kind: m.kind.label(),
        size: size_text(m.size_bytes),
        teams: m.teams,
        received: m.received,
        copies: m.copies,
        copies_given: m.copies_given,
    }
}

/// The topic a filter names, if any; an unknown one is a 404.
fn topic_of(topics: &[(i64, String, String)], code: Option<&str>) -> Result<Option<i64>, WebError> {
    match code.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) => topics
            .iter()
            .find(|(_, code, _)| code == c)
            .map(|(id, _, _)| Some(*id))
            .ok_or(WebError::NotFound),
    }
}

/// `GET /materials`: the library, newest first, by topic.
pub async fn list(State(st): State<AppState>, user: User, Query(q): Query<ListQuery>) -> Page {
    let lang = user.lang;
    let topics = topic_choices(&st, lang).await?;
    let topic = topic_of(&topics, q.topic.as_deref())?;
    let viewer = Viewer::of(&user.p);
    let list = st.store.materials(&viewer, topic, q.before).await?;
    let next = (list.len() as i64 == MATERIALS_PAGE).then(|| {
        let last = list.last().map(|m| m.id).unwrap_or(0);
        match q.topic.as_deref() {
            Some(t) if !t.trim().is_empty() => {
                format!("/materials?topic={}&before={last}", t.trim())
            }
            _ => format!("/materials?before={last}"),
        }
    });
    let page = ListPage {
        c: chrome(&user, "/materials"),
        lang_vi: lang == Lang::Vi,
        can_upload: user.may_at_all(Action::UploadMaterial),
        handed_out: library_view(user.p.role) == LibraryView::HandedOut,
        all_topics: topic.is_none(),
        topics: topics
            .iter()
            .map(|(id, code, name)| TopicLink {
                code: code.clone(),
                name: name.clone(),
                current: Some(*id) == topic,
            })
            .collect(),
        rows: list.iter().map(|m| row(m, &topics)).collect(),
        next,
    };
    Ok(Html(page.render()?).into_response())
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "material_new.html")]
struct NewPage {
    c: Chrome,
    lang_vi: bool,
    units: Vec<Choice>,
    topics: Vec<Choice>,
    title: String,
    agency: String,
    note: String,
    error: Option<String>,
    max_mb: usize,
}

async fn new_page(st: &AppState, user: &User, up: &upload::Upload, error: Option<String>) -> Page {
    let lang = user.lang;
    let mut units = Vec::new();
    if let Some(own) = user.p.unit_id {
        units.push(st.store.unit(&user.p.scope, own).await?);
        units.extend(st.store.children(&user.p.scope, own, true).await?);
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = NewPage {
        c: chrome(user, "/materials/new"),
        lang_vi: lang == Lang::Vi,
        units: units
            .into_iter()
            .map(|u| Choice {
                selected: up.field("unit") == u.id.to_string(),
                value: u.id.to_string(),
                label: u.name,
            })
            .collect(),
        topics: topic_choices(st, lang)
            .await?
            .into_iter()
            .map(|(_, code, name)| Choice {
                selected: up.field("topic") == code,
                value: code,
                label: name,
            })
            .collect(),
        title: up.field("title").to_string(),
        agency: up.field("agency").to_string(),
        note: up.field("note").to_string(),
        error,
        max_mb: MAX_MATERIAL_BYTES / (1024 * 1024),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /materials/new`: the upload form (officers).
pub async fn new_form(State(st): State<AppState>, user: User) -> Page {
    user.require(Action::UploadMaterial)?;
    new_page(&st, &user, &upload::Upload::default(), None).await
}

/// The material a form or an API call describes; a message when it
/// cannot be one.
fn new_material(up: &upload::Upload, default_unit: Option<i64>) -> Result<NewMaterial, String> {
    if up.file_too_large {
        return Err(format!(
            "Tệp lớn quá {} MB",
            MAX_MATERIAL_BYTES / (1024 * 1024)
        ));
    }
    let (file_name, bytes) = up
        .file
        .clone()
        .ok_or_else(|| "Hãy chọn tệp tài liệu".to_string())?;
    let unit_id = match up.field("unit").trim() {
        "" => default_unit.ok_or_else(|| "Hãy chọn đơn vị".to_string())?,
        u => u.parse().map_err(|_| "Đơn vị không hợp lệ".to_string())?,
    };
    Ok(NewMaterial {
        unit_id,
        title: up.field("title").to_string(),
        agency: up.field("agency").to_string(),
        topic: Some(up.field("topic").to_string()),
        note: up.field("note").to_string(),
        file_name,
        bytes,
    })
}

/// A refusal as a form shows it; anything else is the error page's.
fn message(lang: Lang, e: StoreError) -> Result<String, WebError> {
    match e {
        StoreError::Rejected(_)
        | StoreError::Conflict(_)
        | StoreError::Invalid { .. }
        | StoreError::Denied(_) => Ok(WebError::from(e).message(lang)),
        StoreError::NotFound => Ok(pick(
            lang,
            "Không tìm thấy đơn vị hoặc chủ đề đã chọn",
            "The unit or topic chosen was not found",
        )
        .into()),
        other => Err(other.into()),
    }
}

/// `POST /materials/new`: uploads a material; a bad file or field comes
/// back in the form, in Vietnamese, and nothing is written.
pub async fn new_submit(State(st): State<AppState>, user: User, mp: Multipart) -> Page {
    user.require(Action::UploadMaterial)?;
    let up = match upload::read(mp, "file", MAX_MATERIAL_BYTES).await {
        Ok(up) => up,
        Err(UploadError::TooLarge) => return Err(WebError::TooLarge),
        Err(_) => return Err(WebError::Problem(Problem::UploadUnreadable)),
    };
    user.check_csrf(up.field("csrf"))?;
    let new = match new_material(&up, user.p.unit_id) {
        Ok(n) => n,
        Err(e) => return new_page(&st, &user, &up, Some(e)).await,
    };
    match st.store.create_material(&Viewer::of(&user.p), &new).await {
        Ok(m) => Ok(Redirect::to(&format!("/materials/{}", m.id)).into_response()),
        Err(e) => {
            let m = message(user.lang, e)?;
            new_page(&st, &user, &up, Some(m)).await
        }
    }
}

struct HandoutRow {
    team: String,
    hamlet: String,
    copies: i64,
    received: String,
    copies_given: i64,
    given: String,
}

#[derive(Template)]
#[template(path = "material.html")]
struct DetailPage {
    c: Chrome,
    lang_vi: bool,
    m: Row,
    note: String,
    file_name: String,
    sha256: String,
    handouts: Vec<HandoutRow>,
    can_hand_out: bool,
    /// An officer of the unit it was uploaded at, or above.
    can_remove: bool,
    units: Vec<Choice>,
    teams: Vec<Choice>,
    /// A team role's own handout: received yet, copies given.
    own: Option<(bool, i64)>,
    msg: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    msg: Option<String>,
}

async fn detail_page(
    st: &AppState,
    user: &User,
    id: i64,
    msg: Option<String>,
    error: Option<String>,
) -> Page {
    let lang = user.lang;
    let viewer = Viewer::of(&user.p);
    let m = st.store.material(&viewer, id).await?;
    let handouts = st.store.material_handouts(&viewer, id).await?;
    let topics = topic_choices(st, lang).await?;
    let can_hand_out = user.may_at_all(Action::HandOutMaterial);
    let can_remove = user.may(Action::RemoveMaterial, &Target::at(&m.path));
    let (units, teams) = if can_hand_out {
        let mut units = Vec::new();
        if let Some(own) = user.p.unit_id {
            units.push(st.store.unit(&user.p.scope, own).await?);
            units.extend(st.store.children(&user.p.scope, own, true).await?);
        }
        let teams = st.store.handout_teams(&viewer, TEAM_CHECKBOXES + 1).await?;
        let teams = if teams.len() as i64 > TEAM_CHECKBOXES {
            Vec::new()
        } else {
            teams
        };
        (
            units
                .into_iter()
                .map(|u| Choice {
                    value: u.id.to_string(),
                    label: u.name,
                    selected: false,
                })
                .collect(),
            teams
                .into_iter()
                .map(|(id, label)| Choice {
                    value: id.to_string(),
                    label,
                    selected: handouts.iter().any(|h: &Handout| h.team_id == id),
                })
                .collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let acknowledges = user.may_at_all(Action::AcknowledgeMaterial);
    let own = match (acknowledges, user.p.scope.team_id) {
        (true, Some(t)) => handouts
            .iter()
            .find(|h| h.team_id == t)
            .map(|h| (h.received_at.is_some(), h.copies_given)),
        _ => None,
    };
    let page = DetailPage {
        c: chrome(user, &format!("/materials/{id}")),
        lang_vi: lang == Lang::Vi,
        note: m.note.clone(),
        file_name: m.file_name.clone(),
        sha256: m.sha256.clone(),
        m: row(&m, &topics),
        handouts: handouts
            .iter()
            .map(|h| HandoutRow {
                team: h.team_name.clone(),
                hamlet: h.hamlet_name.clone(),
                copies: h.copies,
                received: h.received_at.map(day).unwrap_or_default(),
                copies_given: h.copies_given,
                given: h.given_at.map(day).unwrap_or_default(),
            })
            .collect(),
        can_hand_out,
        can_remove,
        units,
        teams,
        own,
        msg: msg
            .map(|m| match m.as_str() {
                "received" => pick(
                    lang,
                    "Đã xác nhận tổ nhận tài liệu.",
                    "Receipt acknowledged.",
                )
                .into(),
                "given" => pick(
                    lang,
                    "Đã ghi số bản đã phát.",
                    "Copies handed out recorded.",
                )
                .into(),
                // Only a count: the query string is anybody's to write.
                m => match m
                    .strip_prefix("sent:")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => match lang {
                        Lang::Vi => format!("Đã phát tài liệu cho {n} tổ."),
                        Lang::En => format!("Handed out to {n} teams."),
                    },
                    None => String::new(),
                },
            })
            .filter(|m| !m.is_empty()),
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /materials/{id}`: a material, its file, its handouts; the
/// officer's handout form, or the team's receipt and copies.
pub async fn detail(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Page {
    detail_page(&st, &user, id, q.msg, None).await
}

fn file_response(name: &str, kind: FileKind, bytes: Vec<u8>) -> Response {
    // The name is cleaned on upload (no quotes or control characters); the
    // RFC 5987 form carries its Vietnamese letters.
    let ascii: String = danvan_domain::text::fold(name)
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, kind.mime().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /materials/{id}/file`: the file, as uploaded.
pub async fn file(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    let (name, kind, bytes) = st.store.material_file(&Viewer::of(&user.p), id).await?;
    Ok(file_response(&name, kind, bytes))
}

/// `POST /materials/{id}/handout`: to the checked teams and every team of
/// the chosen unit, with printed copies for each.
pub async fn handout(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    };
    user.check_csrf(get("csrf"))?;
    let teams: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "team")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .take(TEAM_CHECKBOXES as usize)
        .collect();
    let units: Vec<i64> = match get("unit") {
        "" => Vec::new(),
        u => match u.parse() {
            Ok(u) => vec![u],
            Err(_) => {
                return detail_page(&st, &user, id, None, Some("Đơn vị không hợp lệ".into())).await
            }
        },
    };
    let copies: i64 = match get("copies") {
        "" => 0,
        c => match c.parse() {
            Ok(c) => c,
            Err(_) => {
                return detail_page(
                    &st,
                    &user,
                    id,
                    None,
                    Some("Số bản in phải là một số".into()),
                )
                .await
            }
        },
    };
    match st
        .store
        .hand_out_material(&Viewer::of(&user.p), id, &teams, &units, copies)
        .await
    {
        Ok(n) => Ok(Redirect::to(&format!("/materials/{id}?msg=sent:{n}")).into_response()),
        Err(StoreError::NotFound) => Err(WebError::NotFound),
        Err(e) => {
            let m = message(user.lang, e)?;
            detail_page(&st, &user, id, None, Some(m)).await
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /materials/{id}/receipt`: the team has the material.
pub async fn receipt(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    st.store
        .acknowledge_material(&Viewer::of(&user.p), id)
        .await?;
    Ok(Redirect::to(&format!("/materials/{id}?msg=received")).into_response())
}

/// `POST /materials/{id}/remove`: out of the library, back to the list.
pub async fn remove(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    match st.store.remove_material(&Viewer::of(&user.p), id).await {
        Ok(()) => Ok(Redirect::to("/materials").into_response()),
        Err(e @ StoreError::Rejected(_)) => {
            let m = WebError::from(e).message(user.lang);
            detail_page(&st, &user, id, None, Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct GivenForm {
    csrf: String,
    #[serde(default)]
    copies_given: String,
}

/// `POST /materials/{id}/given`: copies the team has handed to households.
pub async fn given(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<GivenForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    user.require(Action::AcknowledgeMaterial)?;
    let n: i64 = match f.copies_given.trim().parse() {
        Ok(n) => n,
        Err(_) => {
            return detail_page(
                &st,
                &user,
                id,
                None,
                Some("Số bản đã phát phải là một số".into()),
            )
            .await
        }
    };
    match st
        .store
        .record_copies_given(&Viewer::of(&user.p), id, n)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/materials/{id}?msg=given")).into_response()),
        Err(StoreError::NotFound) => Err(WebError::NotFound),
        Err(e) => {
            let m = message(user.lang, e)?;
            detail_page(&st, &user, id, None, Some(m)).await
        }
    }
}

// ---- JSON API ----

fn material_json(m: &Material, handouts: Option<&[Handout]>) -> Value {
    let mut v = json!({
        "id": m.id.to_string(),
        "unit_id": m.unit_id.to_string(),
        "unit_name": m.unit_name,
        "topic": m.topic_code,
        "agency": m.agency,
        "title": m.title,
        "note": m.note,
        "file_name": m.file_name,
        "kind": m.kind,
        "content_type": m.kind.mime(),
        "size_bytes": m.size_bytes,
        "sha256": m.sha256,
        "created_at": calendar::iso_local(m.created_at),
        "teams": m.teams,
        "received": m.received,
        "copies": m.copies,
        "copies_given": m.copies_given,
        "file_url": format!("/api/v1/materials/{}/file", m.id),
    });
    if let Some(hs) = handouts {
        v["handouts"] = hs
            .iter()
            .map(|h| {
                json!({
                    "team_id": h.team_id.to_string(),
                    "team_name": h.team_name,
                    "hamlet_name": h.hamlet_name,
                    "copies": h.copies,
                    "sent_at": calendar::iso_local(h.sent_at),
                    "received_at": h.received_at.map(calendar::iso_local),
                    "copies_given": h.copies_given,
                })
            })
            .collect();
    }
    v
}

/// `GET /api/v1/materials?topic=&before=`.
pub async fn api_list(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let topic = match q.topic.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Some(st.store.topic_by_code(code).await?.id),
    };
    let list = st.store.materials(&Viewer::of(&p), topic, q.before).await?;
    Ok(Json(json!({
        "materials": list.iter().map(|m| material_json(m, None)).collect::<Vec<_>>(),
        "next_before": (list.len() as i64 == MATERIALS_PAGE).then(|| list.last().map(|m| m.id)).flatten(),
    })))
}

/// `POST /api/v1/materials` (multipart: unit_id, title, agency, topic,
/// note, file).
pub async fn api_create(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    mp: Multipart,
) -> Result<Response, ApiError> {
    p.require(Action::UploadMaterial, &Target::anywhere())?;
    let up = upload::read(mp, "file", MAX_MATERIAL_BYTES)
        .await
        .map_err(|e| match e {
            UploadError::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.message_vi())
            }
            UploadError::Broken => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.message_vi())
            }
        })?;
    let mut up = up;
    if let Some(u) = up.fields.remove("unit_id") {
        up.fields.insert("unit".into(), u);
    }
    let new = new_material(&up, p.unit_id)
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &m))?;
    let m = st.store.create_material(&Viewer::of(&p), &new).await?;
    Ok((StatusCode::CREATED, Json(material_json(&m, Some(&[])))).into_response())
}

/// `GET /api/v1/materials/{id}`: with its handouts.
pub async fn api_detail(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let viewer = Viewer::of(&p);
    let id = parse_id(&id)?;
    let m = st.store.material(&viewer, id).await?;
    let hs = st.store.material_handouts(&viewer, id).await?;
    Ok(Json(material_json(&m, Some(&hs))))
}

/// `GET /api/v1/materials/{id}/file`.
pub async fn api_file(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (name, kind, bytes) = st
        .store
        .material_file(&Viewer::of(&p), parse_id(&id)?)
        .await?;
    Ok(file_response(&name, kind, bytes))
}

/// `DELETE /api/v1/materials/{id}`: out of the library.
pub async fn api_remove(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.store
        .remove_material(&Viewer::of(&p), parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoutIn {
    #[serde(default)]
    teams: Vec<String>,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    copies: i64,
}

/// `POST /api/v1/materials/{id}/handouts` `{"teams": [..], "units": [..], "copies": n}`.
pub async fn api_handout(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    body: Result<Json<HandoutIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            &format!(
                "Dữ liệu JSON không hợp lệ: {}",
                e.body_text().chars().take(200).collect::<String>()
            ),
        )
    })?;
    let id = parse_id(&id)?;
    let viewer = Viewer::of(&p);
    let n = st
        .store
        .hand_out_material(
            &viewer,
            id,
            &ids(&b.teams, "teams")?,
            &ids(&b.units, "units")?,
            b.copies,
        )
        .await?;
    let m = st.store.material(&viewer, id).await?;
    let hs = st.store.material_handouts(&viewer, id).await?;
    let mut v = material_json(&m, Some(&hs));
    v["handed_out_to"] = json!(n);
    Ok((StatusCode::OK, Json(v)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReceiptIn {
    /// Copies handed to households so far, when the team reports them.
    #[serde(default)]
    copies_given: Option<i64>,
}

/// `POST /api/v1/materials/{id}/receipt` `{}` or `{"copies_given": n}`:
/// the caller's team has it (and has handed out n copies).
pub async fn api_receipt(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    body: Option<Json<ReceiptIn>>,
) -> Result<Json<Value>, ApiError> {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let id = parse_id(&id)?;
    let viewer = Viewer::of(&p);
    match b.copies_given {
        Some(n) => st.store.record_copies_given(&viewer, id, n).await?,
        None => st.store.acknowledge_material(&viewer, id).await?,
    }
    let m = st.store.material(&viewer, id).await?;
    let hs = st.store.material_handouts(&viewer, id).await?;
    Ok(Json(material_json(&m, Some(&hs))))
}
