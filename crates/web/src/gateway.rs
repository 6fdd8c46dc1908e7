//! The endpoint Kannel calls back with delivery reports (`dlr-url`) of the
//! messages `danvan_sms`'s sender handed it; the report carries the
//! message's idempotency key back, which is also how a message left in
//! doubt by a crash is settled (see `danvan_store::announce::outbox`).

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use danvan_store::StoreError;
use serde::Deserialize;

use crate::AppState;

#[derive(Deserialize)]
pub struct Report {
    #[serde(default)]
    key: String,
    #[serde(default)]
    id: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    reply: String,
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `GET /sms/report`: a delivery report from Kannel (`dlr-url`). A report
/// for a message nobody sent is answered 404 and changes nothing; a wrong
/// key, 403.
pub async fn report(State(st): State<AppState>, Query(r): Query<Report>) -> Response {
    match st.store.principal_for_gateway_token(r.key.trim()).await {
        Ok(Some(_)) => {}
        Ok(None) => return plain(StatusCode::FORBIDDEN, "invalid key"),
        Err(e) => {
            tracing::error!(error = %e, "sms report key check failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "");
        }
    }
    let Ok(kind) = r.kind.trim().parse::<i32>() else {
        return plain(StatusCode::BAD_REQUEST, "type must be a number");
    };
    if r.id.is_empty() || r.id.len() > 200 {
        return plain(StatusCode::BAD_REQUEST, "id missing");
    }
    match st.store.sms_report(&r.id, kind, &r.reply).await {
        Ok(()) => {
            tracing::debug!(kind, "sms report");
            plain(StatusCode::OK, "ok")
        }
        Err(StoreError::NotFound) => {
            tracing::warn!(kind, "sms report for an unknown message");
            plain(StatusCode::NOT_FOUND, "unknown message")
        }
        Err(e) => {
            tracing::error!(error = %e, "sms report failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "")
        }
    }
}
