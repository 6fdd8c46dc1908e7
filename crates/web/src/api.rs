//! The JSON API under `/api/v1`, described by `openapi.json`. Ids are strings;
//! a record out of the caller's scope answers 404 exactly like a missing one.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use danvan_domain::{Gender, Phone, Reach};
use danvan_store::account::Principal;
use danvan_store::unit::Unit;
use danvan_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{cookie, SESSION_COOKIE};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/units", get(units))
        .route("/units/{id}", get(unit))
        .route("/units/{id}/children", get(children))
        .route("/units/{id}/history", get(history))
        .route("/teams/{id}", get(team))
        .route("/households/{id}", get(household))
        .route("/search", get(search))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "Không tìm thấy")
        })
}

pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        ApiError {
            status,
            code,
            message: message.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "Không tìm thấy")
            }
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", &m),
            StoreError::Rejected(m) | StoreError::Config(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &m)
            }
            StoreError::Invalid { field, error } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                &format!("{field}: {}", error.message_vi()),
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
        if let Some(auth) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = auth.strip_prefix("Bearer ").ok_or_else(unauthorized)?;
            return st
                .store
                .principal_for_api_token(token.trim())
                .await?
                .map(ApiUser)
                .ok_or_else(unauthorized);
        }
        if parts.method == Method::GET {
            if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
                if let Some((p, _)) = st.store.session(token).await? {
                    return Ok(ApiUser(p));
                }
            }
        }
        Err(unauthorized())
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

async fn units(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<Q>,
) -> Result<Json<Value>, ApiError> {
    let q: String = q.q.chars().take(100).collect();
    let units = st.store.search_units(&p.scope, &q, 100).await?;
    Ok(Json(Value::Array(units.iter().map(unit_json).collect())))
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "Không tìm thấy"))
}

async fn unit(
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

async fn children(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let kids = st.store.children(&p.scope, parse_id(&id)?, false).await?;
    Ok(Json(Value::Array(kids.iter().map(unit_json).collect())))
}

async fn history(
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

fn household_json(h: &danvan_store::household::Household) -> Value {
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

async fn team(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = st.store.team(&p.scope, parse_id(&id)?).await?;
    let members = st.store.members(t.id).await?;
    let households = st.store.team_households(t.id).await?;
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

async fn household(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let h = st.store.household(&p.scope, parse_id(&id)?).await?;
    let residents = st.store.residents(h.id).await?;
    let mut v = household_json(&h);
    v["phone"] = json!(h
        .phone
        .as_deref()
        .and_then(|p| Phone::parse(p).ok())
        .map(|p| p.as_str().to_string()));
    v["reach_label"] = json!(Reach::parse(&h.reach).map(|r| r.label_vi()).unwrap_or(""));
    v["residents"] = Value::Array(
        residents
            .iter()
            .map(|r| {
                json!({
                    "id": r.id.to_string(),
                    "full_name": r.full_name(),
                    "family": r.family, "middle": r.middle, "given": r.given,
                    "birth": r.birth_display(),
                    "gender": r.gender.as_deref().and_then(|g| Gender::parse(g).ok()).map(|g| g.as_str()),
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

async fn search(
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

const OPENAPI: &str = include_str!("../assets/openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
