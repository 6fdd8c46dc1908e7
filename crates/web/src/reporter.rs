//! What a reporter does on the public status page `/r/{code}`: rate the
//! answer and write back (which reopens an answered item within 7 days).
//! The code is public, the reporter's phone is not: the reporter asks for a
//! one-time code sent by SMS to the phone the report came with
//! (`/r/{code}/verify`, which answers the same whatever phone was typed)
//! and types it into the form, so no answer tells whether a phone is the
//! reporter's. Tries are limited per client address and per code (here)
//! and per item in the store. Each form answers with a redirect to the
//! status page and a message (post/redirect/get).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use danvan_domain::feedback::{FeedbackState, TrackingCode};
use danvan_domain::Phone;
use danvan_store::StoreError;
use serde::Deserialize;

use crate::auth::{cookie, same_token, PRE_CSRF_COOKIE};
use crate::error::WebError;
use crate::rate_limit::{ClientKey, Limiters};
use crate::AppState;

#[derive(Deserialize)]
pub struct ReporterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    /// The one-time code sent to the reporter's phone.
    #[serde(default)]
    otp: String,
    #[serde(default)]
    stars: String,
    #[serde(default)]
    text: String,
}

/// The status page with a message (`msg` picks it there).
fn back(code: &TrackingCode, msg: &str) -> Response {
    Redirect::to(&format!("/r/{}?msg={msg}#reporter", code.display())).into_response()
}

/// Checks the form's token and the limits, and reads the code.
fn checked(
    headers: &HeaderMap,
    limits: &Limiters,
    client: &str,
    code: &str,
    f: &ReporterForm,
) -> Result<Result<TrackingCode, Response>, WebError> {
    let expected = cookie(headers, PRE_CSRF_COOKIE).unwrap_or("");
    if !same_token(expected, &f.csrf) {
        return Err(WebError::Csrf);
    }
    let code = TrackingCode::parse(code).ok_or(WebError::NotFound)?;
    // Every try counts, right or wrong: the limit is on guessing.
    if !limits.reporter_ip.try_acquire(client) || !limits.reporter_code.try_acquire(code.as_str()) {
        return Ok(Err(back(&code, "slow")));
    }
    Ok(Ok(code))
}

/// The reporter's phone, proven by the one-time code in the form.
async fn proven(
    st: &AppState,
    code: &TrackingCode,
    f: &ReporterForm,
) -> Result<Option<Phone>, WebError> {
    Ok(st.store.prove_reporter(code.as_str(), &f.otp).await?)
}

/// `POST /r/{code}/verify`: send a one-time code to the reporter's phone.
/// The same answer for any phone: only the reporter's receives a code.
pub async fn verify(
    State(st): State<AppState>,
    Extension(limits): Extension<Limiters>,
    ClientKey(client): ClientKey,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(f): Form<ReporterForm>,
) -> Result<Response, WebError> {
    let code = match checked(&headers, &limits, &client, &code, &f)? {
        Ok(c) => c,
        Err(slow) => return Ok(slow),
    };
    let Ok(phone) = Phone::parse(f.phone.chars().take(40).collect::<String>().as_str()) else {
        return Ok(back(&code, "phone"));
    };
    st.store.send_reporter_code(code.as_str(), &phone).await?;
    Ok(back(&code, "sent"))
}

/// `POST /r/{code}/rate`: 1 to 5 stars for the answer.
pub async fn rate(
    State(st): State<AppState>,
    Extension(limits): Extension<Limiters>,
    ClientKey(client): ClientKey,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(f): Form<ReporterForm>,
) -> Result<Response, WebError> {
    let code = match checked(&headers, &limits, &client, &code, &f)? {
        Ok(c) => c,
        Err(slow) => return Ok(slow),
    };
    let Ok(stars) = f.stars.trim().parse::<i32>() else {
        return Ok(back(&code, "stars"));
    };
    let Some(phone) = proven(&st, &code, &f).await? else {
        return Ok(back(&code, "badcode"));
    };
    Ok(
        match st
            .store
            .rate_feedback(code.as_str(), Some(&phone), stars)
            .await
        {
            Ok(()) => back(&code, "rated"),
            Err(StoreError::NotFound) => back(&code, "badcode"),
            Err(StoreError::Rejected(_)) => back(&code, "stars"),
            Err(StoreError::Conflict(_)) => back(&code, "not_answered"),
            Err(e) => return Err(e.into()),
        },
    )
}

/// `POST /r/{code}/reply`: a message from the reporter.
pub async fn reply(
    State(st): State<AppState>,
    Extension(limits): Extension<Limiters>,
    ClientKey(client): ClientKey,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(f): Form<ReporterForm>,
) -> Result<Response, WebError> {
    let code = match checked(&headers, &limits, &client, &code, &f)? {
        Ok(c) => c,
        Err(slow) => return Ok(slow),
    };
    let Some(phone) = proven(&st, &code, &f).await? else {
        return Ok(back(&code, "badcode"));
    };
    Ok(
        match st
            .store
            .reporter_reply(code.as_str(), Some(&phone), &f.text)
            .await
        {
            Ok(FeedbackState::Reopened) => back(&code, "reopened"),
            Ok(_) => back(&code, "replied"),
            Err(StoreError::NotFound) => back(&code, "badcode"),
            Err(StoreError::Invalid { .. } | StoreError::Rejected(_)) => back(&code, "invalid"),
            Err(e) => return Err(e.into()),
        },
    )
}
