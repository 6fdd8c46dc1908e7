//! The inbound SMS endpoint a gateway calls for every message it receives
//! (Kannel's `get-url`: `/sms/inbound?key=…&from=%p&text=%a&id=%I`). The
//! body of the answer is the reply the gateway sends back. Its `key` is a
//! gateway token (`danvan token create --gateway`), never an API token.
//! New reports are limited per sender phone; over the limit the sender is
//! told so politely and nothing is written.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use danvan_domain::feedback::{parse_sms, SmsCommand};
use danvan_domain::Phone;
use danvan_sms::SMS_LIMITED;
use danvan_store::feedback::sms::SmsHandled;
use serde::Deserialize;

use crate::rate_limit::Limiters;
use crate::AppState;

#[derive(Deserialize)]
pub struct Inbound {
    /// A gateway token (`danvan token create --gateway`).
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

pub async fn inbound_get(
    State(st): State<AppState>,
    Extension(limits): Extension<Limiters>,
    Query(m): Query<Inbound>,
) -> Response {
    handle(st, limits, m).await
}

pub async fn inbound_post(
    State(st): State<AppState>,
    Extension(limits): Extension<Limiters>,
    Form(m): Form<Inbound>,
) -> Response {
    handle(st, limits, m).await
}

async fn handle(st: AppState, limits: Limiters, m: Inbound) -> Response {
    match st.store.principal_for_gateway_token(m.key.trim()).await {
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
    // A new report takes a place in its sender's window (the phone as the
    // store will read it), given back unless a report is made.
    let slot = match parse_sms(&m.text) {
        SmsCommand::Report { .. } => {
            let sender = Phone::parse(&m.from)
                .map_or_else(|_| m.from.trim().to_string(), |p| p.as_str().to_string());
            match limits.sms.acquire(&sender) {
                Some(slot) => Some(slot),
                None => {
                    tracing::info!(handled = "rate_limited", "sms inbound");
                    return plain(StatusCode::OK, SMS_LIMITED.into());
                }
            }
        }
        _ => None,
    };
    match st.store.sms_inbound(&m.from, &m.text, id).await {
        Ok((reply, handled)) => {
            if let (Some(slot), SmsHandled::Reported(_)) = (slot, &handled) {
                slot.keep();
            }
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
