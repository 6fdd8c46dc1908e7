//! The inbound SMS endpoint a gateway calls for every message it receives
//! (Kannel's `get-url`: `/sms/inbound?key=…&from=%p&text=%a&id=%I`). The
//! body of the answer is the reply the gateway sends back.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::AppState;

#[derive(Deserialize)]
pub struct Inbound {
    /// An API token (`danvan token create`) of the gateway's account.
    #[serde(default)]
    key: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    text: String,
    /// The gateway's message id: a redelivery creates nothing twice.
    #[serde(default)]
    id: Option<String>,
}

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

pub async fn inbound_get(State(st): State<AppState>, Query(m): Query<Inbound>) -> Response {
    handle(st, m).await
}

pub async fn inbound_post(State(st): State<AppState>, Form(m): Form<Inbound>) -> Response {
    handle(st, m).await
}

async fn handle(st: AppState, m: Inbound) -> Response {
    match st.store.principal_for_api_token(m.key.trim()).await {
        Ok(Some(_)) => {}
        Ok(None) => return plain(StatusCode::FORBIDDEN, "invalid key".into()),
        Err(e) => {
            tracing::error!(error = %e, "sms key check failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, String::new());
        }
    }
    let id =
        m.id.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 100);
    match st.store.sms_inbound(&m.from, &m.text, id).await {
        Ok((reply, handled)) => {
            // What was done, never who or what was written.
            tracing::info!(handled = handled.kind(), "sms inbound");
            plain(StatusCode::OK, reply)
        }
        Err(e) => {
            tracing::error!(error = %e, "sms inbound failed");
            // The gateway retries on a server error; the sender hears nothing twice.
            plain(StatusCode::INTERNAL_SERVER_ERROR, String::new())
        }
    }
}
