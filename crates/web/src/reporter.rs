//! What a reporter does on the public status page `/r/{code}`: rate the
//! answer and write back (which reopens an answered item within 7 days).
//! The code is public, so the reporter proves who they are with the phone
//! number the report came with; the store compares it. Each form answers
//! with a redirect to the status page and a message (post/redirect/get).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use danvan_domain::feedback::{FeedbackState, TrackingCode};
use danvan_domain::Phone;
use danvan_store::StoreError;
use serde::Deserialize;

use crate::auth::{cookie, same_token, PRE_CSRF_COOKIE};
use crate::error::WebError;
use crate::AppState;

#[derive(Deserialize)]
pub struct ReporterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    stars: String,
    #[serde(default)]
    text: String,
}

/// The status page with a message (`msg` picks it there).
fn back(code: &TrackingCode, msg: &str) -> Response {
    Redirect::to(&format!("/r/{}?msg={msg}#reporter", code.display())).into_response()
}

/// Checks the form's token and reads the code and the phone.
fn checked(
    headers: &HeaderMap,
    code: &str,
    f: &ReporterForm,
) -> Result<(TrackingCode, Result<Phone, ()>), WebError> {
    let expected = cookie(headers, PRE_CSRF_COOKIE).unwrap_or("");
    if !same_token(expected, &f.csrf) {
        return Err(WebError::Csrf);
    }
    let code = TrackingCode::parse(code).ok_or(WebError::NotFound)?;
    let phone = Phone::parse(f.phone.chars().take(40).collect::<String>().as_str()).map_err(|_| ());
    Ok((code, phone))
}

/// `POST /r/{code}/rate`: 1 to 5 stars for the answer.
pub async fn rate(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(f): Form<ReporterForm>,
) -> Result<Response, WebError> {
    let (code, phone) = checked(&headers, &code, &f)?;
    let Ok(phone) = phone else {
        return Ok(back(&code, "phone"));
    };
    let Ok(stars) = f.stars.trim().parse::<i32>() else {
        return Ok(back(&code, "stars"));
    };
    Ok(
        match st
            .store
            .rate_feedback(code.as_str(), Some(&phone), stars)
            .await
        {
            Ok(()) => back(&code, "rated"),
            Err(StoreError::NotFound) => back(&code, "notfound"),
            Err(StoreError::Rejected(_)) => back(&code, "stars"),
            Err(StoreError::Conflict(_)) => back(&code, "not_answered"),
            Err(e) => return Err(e.into()),
        },
    )
}

/// `POST /r/{code}/reply`: a message from the reporter.
pub async fn reply(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(f): Form<ReporterForm>,
) -> Result<Response, WebError> {
    let (code, phone) = checked(&headers, &code, &f)?;
    let Ok(phone) = phone else {
        return Ok(back(&code, "phone"));
    };
    Ok(
        match st
            .store
            .reporter_reply(code.as_str(), Some(&phone), &f.text)
            .await
        {
            Ok(FeedbackState::Reopened) => back(&code, "reopened"),
            Ok(_) => back(&code, "replied"),
            Err(StoreError::NotFound) => back(&code, "notfound"),
            Err(StoreError::Invalid { .. } | StoreError::Rejected(_)) => back(&code, "invalid"),
            Err(e) => return Err(e.into()),
        },
    )
}
