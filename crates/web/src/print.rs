//! Printed announcements: an A4 poster for the hamlet's notice board and an
//! A5 leaflet for households without a phone, as PDF
//! (`/api/v1/announcements/{id}/poster.pdf`, `…/leaflet.pdf`). Whoever may
//! read the announcement may print it; the reach page links both.

mod layout;
mod typeface;
mod wrap;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use danvan_domain::announcement::Urgency;
use danvan_domain::calendar;
use danvan_store::announcement::Announcement;
use danvan_store::feedback::Viewer;
use danvan_store::Scope;

use crate::api::{parse_id, ApiError, ApiUser};
use crate::AppState;

pub use layout::{pdf, Format, Sheet};

/// Routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/announcements/{id}/poster.pdf", get(poster))
        .route("/announcements/{id}/leaflet.pdf", get(leaflet))
}

async fn poster(
    st: State<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> Result<Response, ApiError> {
    print(st, user, id, Format::Poster).await
}

async fn leaflet(
    st: State<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> Result<Response, ApiError> {
    print(st, user, id, Format::Leaflet).await
}

async fn print(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    format: Format,
) -> Result<Response, ApiError> {
    let a = st
        .store
        .announcement(&Viewer::of(&p), parse_id(&id)?)
        .await?;
    let sheet = sheet(&st, &a).await?;
    // Shaping and font subsetting take a few milliseconds of CPU.
    let bytes = tokio::task::spawn_blocking(move || pdf(format, &sheet))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|e| {
            tracing::error!(error = %e, announcement = a.id, "pdf failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Lỗi hệ thống",
            )
        })?;
    let name = match format {
        Format::Poster => "ap-phich-a4",
        Format::Leaflet => "to-roi-a5",
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"thong-bao-{}-{name}.pdf\"", a.id),
            ),
            (header::CACHE_CONTROL, "private, no-cache".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// What the paper says: the writing unit (and its parent while that still
/// exists), the day it is sent in Vietnam time, and who speaks at the foot.
/// Unit and team names are not personal data, so they are read unscoped: a
/// hamlet head prints what the commune wrote, under the commune's name.
async fn sheet(st: &AppState, a: &Announcement) -> Result<Sheet, ApiError> {
    let all = Scope::all();
    let unit = st.store.unit(&all, a.unit_id).await?;
    let parent = match unit.parent_id {
        Some(id) => Some(st.store.unit(&all, id).await?).filter(|u| u.valid_to.is_none()),
        None => None,
    };
    let heading = match &parent {
        Some(parent) => format!("{} — {}", unit.name, parent.name),
        None => unit.name.clone(),
    };
    let speaker = match a.team_id {
        Some(team) => st.store.team(&all, team).await?.name,
        None => unit.name.clone(),
    };
    Ok(Sheet {
        unit: heading,
        title: a.title.clone(),
        date: format!("Ngày {}", calendar::to_local(a.send_at).format("%d/%m/%Y")),
        alert: match a.urgency() {
            Urgency::Normal => None,
            u => Some(u.label_vi().to_uppercase()),
        },
        body: a.body.clone(),
        footer: format!("{speaker} · Thông báo số {}", a.id),
    })
}
