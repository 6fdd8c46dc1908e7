//! The JSON API under `/api/v1`, described by `openapi.json`. Ids are strings;
//! a record out of the caller's scope answers 404 exactly like a missing one.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use danvan_domain::calendar::iso_local;
use danvan_domain::feedback::{Channel, RelayMethod, Severity};
use danvan_domain::problem::Problem;
use danvan_domain::Phone;
use danvan_store::feedback::{Feedback, NewFeedback, Viewer};
use danvan_store::registry::account::Principal;
use danvan_store::registry::unit::Unit;
use danvan_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{api_caller, Caller};
use crate::AppState;

pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The refusal behind it, so an English reader gets the English
    /// sentence (see `error::localize`).
    problem: Option<Problem>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        ApiError {
            status,
            code,
            message: message.to_string(),
            problem: None,
        }
    }

    pub fn with_problem(mut self, p: Problem) -> Self {
        self.problem = Some(p);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if let Some(p) = self.problem {
            res.extensions_mut()
                .insert(crate::error::ApiProblem(self.status, p));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use crate::problem_text::{field_error, problem};
        let vi = crate::i18n::Lang::Vi;
        match e {
            StoreError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "Không tìm thấy")
            }
            StoreError::Conflict(p) => {
                ApiError::new(StatusCode::CONFLICT, p.code(), &problem(vi, &p)).with_problem(p)
            }
            StoreError::Rejected(p) => {
                let status = match p {
                    Problem::TooManyReads { .. } => StatusCode::TOO_MANY_REQUESTS,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                ApiError::new(status, p.code(), &problem(vi, &p)).with_problem(p)
            }
            StoreError::Denied(d) => ApiError::new(
                StatusCode::FORBIDDEN,
                d.code(),
                crate::error::denial_message(vi, d),
            ),
            StoreError::Invalid { field, error } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                &format!("{field}: {}", field_error(vi, &error)),
            ),
            other => {
                tracing::error!(error = %other, "api request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Lỗi hệ thống",
                )
            }
        }
    }
}

/// The caller: a bearer token, or (for reads) the page session.
pub struct ApiUser(pub Principal);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Cần đăng nhập hoặc mã truy cập (Authorization: Bearer)",
            )
        };
        // Found at the door already, or looked up now.
        let found = match parts.extensions.get::<Caller>() {
            Some(c) => Some(c.clone()),
            None => api_caller(&st.store, &parts.method, &parts.headers).await?,
        };
        found.map(|c| ApiUser(c.p)).ok_or_else(unauthorized)
    }
}

fn unit_json(u: &Unit) -> Value {
    json!({
        "id": u.id.to_string(),
        "name": u.name,
        "level": u.level,
        "code": u.code,
        "parent_id": u.parent_id.map(|p| p.to_string()),
        "valid_from": u.valid_from,
        "valid_to": u.valid_to,
    })
}

#[derive(Deserialize)]
pub struct Q {
    #[serde(default)]
    q: String,
}

pub(crate) async fn units(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<Q>,
) -> Result<Json<Value>, ApiError> {
    let q: String = q.q.chars().take(100).collect();
    let units = st.store.search_units(&p.scope, &q, 100).await?;
    Ok(Json(Value::Array(units.iter().map(unit_json).collect())))
}

pub fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "Không tìm thấy"))
}

pub(crate) async fn unit(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let u = st.store.unit(&p.scope, parse_id(&id)?).await?;
    let counts = st.store.counts(&u.path).await?;
    let mut v = unit_json(&u);
    v["counts"] = json!({
        "households": counts.households,
        "residents": counts.residents,
        "teams": counts.teams,
        "groups": counts.groups,
        "unassigned_households": counts.unassigned_households,
    });
    Ok(Json(v))
}

pub(crate) async fn children(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let kids = st.store.children(&p.scope, parse_id(&id)?, false).await?;
    Ok(Json(Value::Array(kids.iter().map(unit_json).collect())))
}

pub(crate) async fn history(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let events = st.store.unit_history(&p.scope, parse_id(&id)?).await?;
    let v: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "kind": e.kind,
                "effective_date": e.effective_date,
                "legal_basis": e.legal_basis,
                "note": e.note,
                "households_moved": e.households_moved,
                "units": e.parts.iter().map(|p| json!({
                    "id": p.unit_id.to_string(), "name": p.unit_name, "part": p.part,
                    "old_name": p.old_name, "new_name": p.new_name,
                    "old_parent": p.old_parent_name, "new_parent": p.new_parent_name,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(Value::Array(v)))
}

fn household_json(h: &danvan_store::registry::household::Household) -> Value {
    json!({
        "id": h.id.to_string(),
        "code": h.code,
        "head_name": h.head_name,
        "hamlet_id": h.hamlet_id.to_string(),
        "hamlet_name": h.hamlet_name,
        "team_id": h.team_id.map(|t| t.to_string()),
        "address": h.address,
        "reach": h.reach,
        "lat": h.lat,
        "lon": h.lon,
        "resident_count": h.resident_count,
    })
}

pub(crate) async fn team(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = st.store.team(&p.scope, parse_id(&id)?).await?;
    let members = st.store.members(&p.scope, t.id).await?;
    let households = st.store.team_households(&p.scope, t.id).await?;
    let ids: Vec<i64> = households.iter().map(|h| h.id).collect();
    st.store.meter_reads(&Viewer::of(&p), &ids).await?;
    Ok(Json(json!({
        "id": t.id.to_string(),
        "code": t.code,
        "name": t.name,
        "kind": t.kind,
        "hamlet_id": t.hamlet_id.to_string(),
        "parent_team_id": t.parent_team_id.map(|x| x.to_string()),
        "target_size": t.target_size,
        "members": members.iter().map(|m| json!({
            "id": m.id.to_string(), "full_name": m.full_name(), "role": m.role, "represents": m.represents,
            "phone": m.phone, "term_from": m.term_from, "term_to": m.term_to,
        })).collect::<Vec<_>>(),
        "households": households.iter().map(household_json).collect::<Vec<_>>(),
    })))
}

pub(crate) async fn household(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let h = st.store.household(&p.scope, parse_id(&id)?).await?;
    st.store.meter_reads(&Viewer::of(&p), &[h.id]).await?;
    let residents = st.store.residents(&p.scope, h.id).await?;
    let mut v = household_json(&h);
    v["phone"] = json!(h
        .phone
        .as_deref()
        .and_then(|p| Phone::parse(p).ok())
        .map(|p| p.as_str().to_string()));
    v["reach_label"] = json!(h.reach.label_vi());
    v["residents"] = Value::Array(
        residents
            .iter()
            .map(|r| {
                json!({
                    "id": r.id.to_string(),
                    "full_name": r.full_name(),
                    "family": r.family, "middle": r.middle, "given": r.given,
                    "birth": r.birth_display(),
                    "gender": r.gender.map(|g| g.as_str()),
                    "relation": r.relation,
                    "is_head": r.is_head,
                    "phone": r.phone,
                    "citizen_id_masked": r.citizen_id,
                })
            })
            .collect(),
    );
    Ok(Json(v))
}

pub(crate) async fn search(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<Q>,
) -> Result<Json<Value>, ApiError> {
    let q: String = q.q.chars().take(100).collect();
    let r = st.store.search(&p.scope, &q, 50).await?;
    Ok(Json(json!({
        "households": r.households.iter().map(household_json).collect::<Vec<_>>(),
        "residents": r.residents.iter().map(|x| json!({
            "id": x.id.to_string(), "full_name": x.full_name(), "household_id": x.household_id.to_string(),
            "household_code": x.household_code, "hamlet_name": x.hamlet_name, "birth_year": x.birth_year,
        })).collect::<Vec<_>>(),
    })))
}

/// `POST /api/v1/feedback`: a report from an app or a partner system.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackIn {
    topic: String,
    #[serde(default)]
    severity: Option<String>,
    description: String,
    hamlet_id: String,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
    #[serde(default)]
    reporter_name: Option<String>,
    #[serde(default)]
    reporter_phone: Option<String>,
    #[serde(default)]
    anonymous: bool,
    /// On a resident's behalf (a team member's app).
    #[serde(default)]
    household_id: Option<String>,
    #[serde(default)]
    resident_id: Option<String>,
    #[serde(default)]
    relay_method: Option<String>,
    #[serde(default)]
    identity_consent: bool,
    /// A replay with the same key returns the first report.
    #[serde(default)]
    submission_key: Option<String>,
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
}

fn opt_id(v: &Option<String>, field: &str) -> Result<Option<i64>, ApiError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| invalid(&format!("{field}: mã không hợp lệ"))),
    }
}

pub(crate) async fn feedback_create(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    headers: axum::http::HeaderMap,
    body: Result<Json<FeedbackIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(f) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("Nội dung JSON không hợp lệ: {}", e.body_text()),
        )
    })?;
    let severity = match f.severity.as_deref() {
        None | Some("") => Severity::Normal,
        Some(s) => {
            Severity::parse(s).ok_or_else(|| invalid("severity: normal, urgent hoặc complex"))?
        }
    };
    let relay_method = match f.relay_method.as_deref() {
        None | Some("") => None,
        Some(s) => Some(RelayMethod::parse(s).ok_or_else(|| {
            invalid("relay_method: home_visit, phone_call, group_chat hoặc meeting")
        })?),
    };
    let household_id = opt_id(&f.household_id, "household_id")?;
    let hamlet_id = opt_id(&Some(f.hamlet_id.clone()), "hamlet_id")?
        .ok_or_else(|| invalid("hamlet_id: bắt buộc"))?;
    let key = f.submission_key.clone().or_else(|| {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let new = NewFeedback {
        topic: f.topic,
        severity,
        channel: if household_id.is_some() {
            Channel::Member
        } else {
            Channel::Api
        },
        description: f.description,
        hamlet_id,
        lat: f.lat,
        lon: f.lon,
        reporter_name: f.reporter_name,
        reporter_phone: f.reporter_phone,
        anonymous: f.anonymous,
        household_id,
        resident_id: opt_id(&f.resident_id, "resident_id")?,
        relay_method,
        identity_consent: f.identity_consent,
        submission_key: key,
        photos: Vec::new(),
    };
    let r = st.store.submit_feedback(&p.actor(), &p.scope, &new).await?;
    let status = if r.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let code = danvan_domain::feedback::TrackingCode::parse(&r.code);
    Ok((
        status,
        Json(json!({
            "id": r.id.to_string(),
            "code": r.code,
            "code_display": code.map(|c| c.display()),
            "replayed": r.replayed,
            "ack_due": iso_local(r.ack_due),
            "resolve_due": iso_local(r.resolve_due),
            "similar": r.similar,
        })),
    )
        .into_response())
}

fn feedback_json(f: &Feedback) -> Value {
    let opt_iso = |t: Option<i64>| t.map(iso_local);
    json!({
        "id": f.id.to_string(),
        "code": f.code,
        "topic": f.topic_code,
        "topic_name": f.topic_name_vi,
        "severity": f.severity,
        "state": f.state,
        "channel": f.channel,
        "description": f.description,
        "hamlet_id": f.hamlet_id.to_string(),
        "hamlet_name": f.hamlet_name,
        "household_id": f.household_id.map(|x| x.to_string()),
        "resident_id": f.resident_id.map(|x| x.to_string()),
        "identity_consent": f.identity_consent,
        "relay_method": f.relay_method,
        "reporter_name": f.reporter_name,
        "reporter_phone": f.reporter_phone,
        "anonymous": f.anonymous,
        "lat": f.lat,
        "lon": f.lon,
        "confidential": f.confidential,
        "responsible_unit_id": f.responsible_unit_id.to_string(),
        "responsible": f.responsible_label,
        "team_id": f.team_id.map(|x| x.to_string()),
        "escalation_level": f.escalation_level,
        "received_at": iso_local(f.received_at),
        "ack_due": iso_local(f.ack_due),
        "resolve_due": iso_local(f.resolve_due),
        "acknowledged_at": opt_iso(f.acknowledged_at),
        "answered_at": opt_iso(f.answered_at),
        "closed_at": opt_iso(f.closed_at),
        "answer": f.answer,
        "refusal_reason": f.refusal_reason,
        "refer_to": f.refer_to,
        "rating": f.rating,
        "duplicate_of": f.duplicate_of.map(|x| x.to_string()),
        "updated_at": iso_local(f.updated_at),
    })
}

/// By numeric id or by tracking code.
pub(crate) async fn feedback_get(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let viewer = Viewer::of(&p);
    let f = match id.parse::<i64>() {
        Ok(n) => st.store.feedback(&viewer, n).await?,
        Err(_) => st.store.feedback_by_code(&viewer, &id).await?,
    };
    let events = st.store.feedback_events(Some(&viewer), f.id).await?;
    let mut v = feedback_json(&f);
    v["events"] = Value::Array(
        events
            .iter()
            .map(|e| {
                json!({
                    "at": iso_local(e.at), "kind": e.kind, "from_state": e.from_state,
                    "to_state": e.to_state, "actor": e.actor, "body": e.body, "public": e.public,
                })
            })
            .collect(),
    );
    Ok(Json(v))
}

pub(crate) async fn feedback_summary(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = st
        .store
        .feedback_summary(&Viewer::of(&p), parse_id(&id)?)
        .await?;
    let map = |pairs: &[(String, i64)]| {
        Value::Object(pairs.iter().map(|(k, n)| (k.clone(), json!(n))).collect())
    };
    Ok(Json(json!({
        "unit_id": id,
        "total": s.total,
        "by_state": map(&s.by_state),
        "by_topic": map(&s.by_topic),
        "late": s.late,
    })))
}

const OPENAPI: &str = include_str!("../assets/openapi.json");

pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
