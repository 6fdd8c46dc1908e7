//! `/api/v1/announcements`: write, approve and follow an announcement.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use danvan_domain::announcement::{sms_plan, AnnouncementRules, Coding, Urgency};
use danvan_domain::calendar::iso_local;
use danvan_domain::policy::{Action, Target};
use danvan_domain::problem::Problem;
use danvan_store::announce::announcement::{Announcement, Audience, NewAnnouncement, ReachReport};
use danvan_store::feedback::Viewer;
use danvan_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{parse_id, ApiError, ApiUser};
use crate::AppState;

/// Dong a part of an SMS costs (the operator's retail price; shown before
/// sending so the writer can choose the plain form).
pub const SMS_PART_PRICE_VND: i64 = 350;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceIn {
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    teams: Vec<String>,
    #[serde(default)]
    reach: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementIn {
    unit_id: String,
    title: String,
    body: String,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    audience: AudienceIn,
    /// SMS without diacritics (GSM 7-bit), cheaper.
    #[serde(default)]
    plain_sms: bool,
    /// W3C date-times with offset; default now and a week later.
    #[serde(default)]
    send_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
}

fn when(raw: &Option<String>, field: &str) -> Result<Option<i64>, ApiError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp()))
            .map_err(|_| {
                invalid(&format!(
                    "{field}: ngày giờ không hợp lệ, hãy dùng dạng 2026-12-01T07:30:00+07:00"
                ))
            }),
    }
}

pub(crate) fn ids(raw: &[String], field: &str) -> Result<Vec<i64>, ApiError> {
    raw.iter()
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| invalid(&format!("{field}: mã không hợp lệ «{s}»")))
        })
        .collect()
}

/// What the SMS of an announcement costs each basic-phone household.
pub fn sms_cost(a: &Announcement) -> Value {
    let plan = sms_plan(&a.sms_text(), a.gsm7);
    json!({
        "coding": match plan.coding { Coding::Gsm7 => "gsm7", Coding::Ucs2 => "ucs2" },
        "parts": plan.parts,
        "price_vnd_per_household": plan.parts as i64 * SMS_PART_PRICE_VND,
    })
}

pub fn announcement_json(a: &Announcement) -> Value {
    let audience: Value = serde_json::from_str(&a.audience).unwrap_or(Value::Null);
    json!({
        "id": a.id.to_string(),
        "unit_id": a.unit_id.to_string(),
        "team_id": a.team_id.map(|t| t.to_string()),
        "title": a.title,
        "body": a.body,
        "urgency": a.urgency,
        "audience": audience,
        "plain_sms": a.gsm7,
        "state": a.state,
        "send_at": iso_local(a.send_at),
        "expires_at": iso_local(a.expires_at),
        "created_at": iso_local(a.created_at),
        "approved_at": a.approved_at.map(iso_local),
        "approval_skipped": a.approval_skipped,
        "planned_at": a.planned_at.map(iso_local),
        "households": a.households,
        "sms": sms_cost(a),
        "cancelled_at": a.cancelled_at.map(iso_local),
        "cancel_reason": a.cancel_reason,
    })
}

/// `POST /api/v1/announcements`.
pub async fn create(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    body: Result<Json<AnnouncementIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    p.require(Action::WriteAnnouncement, &Target::anywhere())?;
    let Json(a) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("Nội dung JSON không hợp lệ: {}", e.body_text()),
        )
    })?;
    let urgency = match a.urgency.as_deref().map(str::trim) {
        None | Some("") => Urgency::Normal,
        Some(u) => {
            Urgency::parse(u).ok_or_else(|| invalid("urgency: normal, urgent hoặc emergency"))?
        }
    };
    let new = NewAnnouncement {
        unit_id: parse_id(&a.unit_id)?,
        title: a.title,
        body: a.body,
        topic: a.topic,
        urgency,
        audience: Audience {
            units: ids(&a.audience.units, "audience.units")?,
            teams: ids(&a.audience.teams, "audience.teams")?,
            reach: a.audience.reach,
        },
        plain_sms: a.plain_sms,
        send_at: when(&a.send_at, "send_at")?,
        expires_at: when(&a.expires_at, "expires_at")?,
    };
    let viewer = Viewer::of(&p);
    let created = st.store.create_announcement(&viewer, &new).await?;
    // Approved and due: planned now rather than at the next sweep.
    st.store
        .plan_due_announcements(st.public_url.as_deref())
        .await?;
    let a = st.store.announcement(&viewer, created.id).await?;
    Ok((StatusCode::CREATED, Json(announcement_json(&a))).into_response())
}

/// `GET /api/v1/announcements/{id}`.
pub async fn get_one(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = st
        .store
        .announcement(&Viewer::of(&p), parse_id(&id)?)
        .await?;
    Ok(Json(announcement_json(&a)))
}

/// `POST /api/v1/announcements/{id}/approve`: by the unit's leader.
pub async fn approve(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let viewer = Viewer::of(&p);
    let a = st
        .store
        .approve_announcement(&viewer, parse_id(&id)?)
        .await?;
    st.store
        .plan_due_announcements(st.public_url.as_deref())
        .await?;
    let a = st.store.announcement(&viewer, a.id).await?;
    Ok(Json(announcement_json(&a)))
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<i64>,
}

pub fn reach_json(r: &ReachReport) -> Value {
    json!({
        "households": r.households,
        "reached": r.reached,
        "by_channel": r.by_channel.iter().map(|(c, s, n)| json!({"channel": c, "state": s, "count": n})).collect::<Vec<_>>(),
        "by_hamlet": r.by_hamlet.iter().map(|(id, name, n, reached)| json!({
            "hamlet_id": id.to_string(), "name": name, "households": n, "reached": reached
        })).collect::<Vec<_>>(),
        "not_reached": r.not_reached.iter().map(|h| json!({
            "household_id": h.household_id.to_string(),
            "household_code": h.household_code,
            "head_name": h.head_name,
            "address": h.address,
            "hamlet": h.hamlet_name,
            "team_id": h.team_id.map(|t| t.to_string()),
            "channel": h.channel,
            "state": h.state,
            "reason": h.reason,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/announcements/{id}/reach`: counts by channel and state,
/// by hamlet, and a page of the households not reached (`?page=`). The
/// list is personal data: reading it is written to the audit log.
pub async fn reach(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let viewer = Viewer::of(&p);
    let id = parse_id(&id)?;
    let r = st
        .store
        .announcement_reach(&viewer, id, q.page.unwrap_or(0))
        .await?;
    if !r.not_reached.is_empty() {
        st.store
            .audit(
                &viewer.actor,
                "export",
                "announcement_reach",
                &id.to_string(),
                &viewer.scope.path,
                json!({"households": r.not_reached.len(), "page": q.page.unwrap_or(0)}),
            )
            .await?;
    }
    Ok(Json(reach_json(&r)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsIn {
    /// leader, above or none.
    approval: String,
    /// The roles that may send emergencies without approval (besides the
    /// leaders); absent: unchanged.
    #[serde(default)]
    emergency_roles: Option<Vec<String>>,
}

fn settings_json(province: i64, rules: &AnnouncementRules) -> Value {
    let a = rules.approval;
    json!({
        "unit_id": province.to_string(),
        "approval": a.as_str(),
        "approval_label": a.label_vi(),
        "emergency_roles": rules.emergency_roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/units/{id}/announcement-settings`: who approves the
/// announcements written at the unit (its province's rule), and who may
/// send an emergency without approval.
pub async fn settings_get(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let unit = st.store.unit(&p.scope, parse_id(&id)?).await?;
    let rules = st.store.announcement_rules(&unit.path).await?;
    let province = danvan_store::feedback::province_of(&unit.path).unwrap_or(unit.id);
    Ok(Json(settings_json(province, &rules)))
}

/// `PUT /api/v1/units/{id}/announcement-settings`
/// `{"approval": "above", "emergency_roles": ["supervisor"]}`: the
/// administrator or a leader of the province sets it.
pub async fn settings_put(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    body: Result<Json<SettingsIn>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    p.require(Action::SetApprovalRule, &Target::anywhere())?;
    let Json(b) =
        body.map_err(|e| invalid(&format!("Dữ liệu JSON không hợp lệ: {}", e.body_text())))?;
    let approval = danvan_domain::announcement::Approval::parse(&b.approval)
        .ok_or_else(|| invalid("approval: leader, above hoặc none"))?;
    let roles = match &b.emergency_roles {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| danvan_domain::Role::parse(n))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ApiError::from(StoreError::Rejected(Problem::EmergencyRoleInvalid)))?,
        ),
    };
    let id = parse_id(&id)?;
    st.store
        .set_announcement_settings(&Viewer::of(&p), id, approval, roles.as_deref())
        .await?;
    let unit = st.store.unit(&p.scope, id).await?;
    let rules = st.store.announcement_rules(&unit.path).await?;
    Ok(Json(settings_json(id, &rules)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawIn {
    reason: String,
}

/// `POST /api/v1/announcements/{id}/withdraw` `{"reason": "…"}`.
pub async fn withdraw(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    body: Result<Json<WithdrawIn>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) =
        body.map_err(|e| invalid(&format!("Dữ liệu JSON không hợp lệ: {}", e.body_text())))?;
    let a = st
        .store
        .withdraw_announcement(&Viewer::of(&p), parse_id(&id)?, &b.reason)
        .await?;
    Ok(Json(announcement_json(&a)))
}
