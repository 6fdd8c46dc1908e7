//! Printed announcements: an A4 poster for the hamlet's notice board and an
//! A5 leaflet for households without a phone, as PDF
//! (`/api/v1/announcements/{id}/poster.pdf`, `…/leaflet.pdf`). Whoever may
//! read the announcement may print it; the reach page links both. The
//! documents themselves are `danvan_media::print`'s.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use danvan_media::print::{pdf, sheet, Format};
use danvan_store::feedback::Viewer;

use crate::api::{parse_id, ApiError, ApiUser};
use crate::AppState;

pub(crate) async fn poster(
    st: State<AppState>,
    user: ApiUser,
    id: Path<String>,
) -> Result<Response, ApiError> {
    print(st, user, id, Format::Poster).await
}

pub(crate) async fn leaflet(
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
    let sheet = sheet(&st.store, &a).await?;
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
