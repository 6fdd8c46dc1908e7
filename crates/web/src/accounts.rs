//! The administrator's page of accounts and keys: every API and gateway
//! key of their part of the tree (label, owner, dates — never the key),
//! revoke one, disable an account. The store decides who may
//! (`Action::ManageAccounts`) and audits each change.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use danvan_store::Viewer;
use serde::Deserialize;

use crate::auth::User;
use crate::error::WebError;
use crate::pages::{chrome, Chrome};
use crate::AppState;

struct KeyView {
    id: i64,
    username: String,
    kind: &'static str,
    label: String,
    created: String,
    expires: String,
    last_used: String,
    state: &'static str,
    live: bool,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    c: Chrome,
    keys: Vec<KeyView>,
    notice: Option<String>,
    error: Option<String>,
}

fn day(t: Option<i64>) -> String {
    let offset = danvan_store::clock::vn_offset();
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.with_timezone(&offset).format("%d/%m/%Y").to_string())
        .unwrap_or_else(|| "—".into())
}

async fn render(
    st: &AppState,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let a = user.lang.t().accounts;
    let now = st.store.now();
    let keys = st
        .store
        .api_tokens(&Viewer::of(&user.p), None)
        .await?
        .into_iter()
        .map(|k| KeyView {
            live: k.live(now),
            state: if k.revoked_at.is_some() {
                a.revoked
            } else if k.live(now) {
                a.live
            } else {
                a.expired
            },
            kind: if k.kind == "gateway" {
                a.kind_gateway
            } else {
                a.kind_api
            },
            id: k.id,
            username: k.username,
            label: k.label,
            created: day(Some(k.created_at)),
            expires: day(k.expires_at),
            last_used: day(k.last_used_at),
        })
        .collect();
    let page = KeysPage {
        c: chrome(user, "/admin/keys"),
        keys,
        notice,
        error,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /admin/keys`
pub async fn keys(State(st): State<AppState>, user: User) -> Result<Response, WebError> {
    render(&st, &user, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

/// `POST /admin/keys/revoke`
pub async fn revoke(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<RevokeForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let a = user.lang.t().accounts;
    let Ok(id) = f.id.trim().parse::<i64>() else {
        return render(
            &st,
            &user,
            None,
            Some(a.no_key.into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    st.store.revoke_api_token(&Viewer::of(&user.p), id).await?;
    Ok(Redirect::to("/admin/keys").into_response())
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
}

/// `POST /admin/accounts/disable`
pub async fn disable(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<DisableForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let a = user.lang.t().accounts;
    let username = f.username.trim().to_lowercase();
    if username.is_empty() {
        return render(
            &st,
            &user,
            None,
            Some(a.no_user.into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match st
        .store
        .disable_account(&Viewer::of(&user.p), &username)
        .await
    {
        Ok(()) => {
            let notice = a.disabled.replace("{u}", &username);
            render(&st, &user, Some(notice), None, StatusCode::OK).await
        }
        Err(danvan_store::StoreError::NotFound) => {
            let error = a.no_account.replace("{u}", &username);
            render(&st, &user, None, Some(error), StatusCode::NOT_FOUND).await
        }
        Err(e) => Err(e.into()),
    }
}
