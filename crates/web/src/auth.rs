//! Who is asking: the session cookie for pages, a bearer token (or the
//! session) for the API; CSRF tokens for every form.

use danvan_domain::policy::{Action, Target};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use danvan_store::registry::account::Principal;
use danvan_store::{Store, StoreError};

use crate::error::WebError;
use crate::i18n::Lang;
use crate::AppState;

pub const SESSION_COOKIE: &str = "dv_session";
pub const LANG_COOKIE: &str = "dv_lang";
/// Double-submit token for forms shown before login.
pub const PRE_CSRF_COOKIE: &str = "dv_csrf";
/// A browser the account logged in from before: it skips the login
/// back-off (see `Store::authenticate`), so guesses by others never lock
/// the owner out of their own phone.
pub const DEVICE_COOKIE: &str = "dv_device";

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .map(Lang::from_code)
        .unwrap_or(Lang::Vi)
}

pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// A logged-in person on a page.
pub struct User {
    pub p: Principal,
    pub csrf: String,
    pub token: String,
    pub lang: Lang,
}

impl User {
    /// May the user do `action` to `target`? What a page asks before it
    /// draws a button or a link (the store asks the same policy again).
    pub fn may(&self, action: Action, target: &Target) -> bool {
        self.p.may(action, target)
    }

    /// Whether the role has `action` anywhere: the menu's and a route's
    /// question before the resource is known.
    pub fn may_at_all(&self, action: Action) -> bool {
        self.p.may_at_all(action)
    }

    /// Refuses at the door a request the role can never make (403).
    pub fn require(&self, action: Action) -> Result<(), WebError> {
        self.p
            .require(action, &Target::anywhere())
            .map_err(WebError::from)
    }

    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if same_token(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

/// Who a request is from, looked up once. The door of an `Access::Can`
/// route (`routes`) finds the caller to check the role and leaves it in the
/// request's extensions; `User` and `ApiUser` take it from there instead of
/// reading the session or the token a second time.
#[derive(Clone)]
pub struct Caller {
    pub p: Principal,
    /// The session's CSRF token; none for an API key.
    pub csrf: Option<String>,
}

/// The caller of a page: the session cookie.
pub async fn page_caller(store: &Store, headers: &HeaderMap) -> Result<Option<Caller>, StoreError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(store.session(token).await?.map(|(p, csrf)| Caller {
        p,
        csrf: Some(csrf),
    }))
}

/// The caller of the JSON API: the bearer token, or the page session on a
/// GET (an `Authorization` header that is not a bearer is nobody).
pub async fn api_caller(
    store: &Store,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Caller>, StoreError> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let Some(token) = auth.strip_prefix("Bearer ") else {
            return Ok(None);
        };
        return Ok(store
            .principal_for_api_token(token.trim())
            .await?
            .map(|p| Caller { p, csrf: None }));
    }
    if method == Method::GET {
        return page_caller(store, headers).await;
    }
    Ok(None)
}

impl FromRequestParts<AppState> for User {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = lang_of(&parts.headers);
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(WebError::Login(next));
        };
        // Found at the door already, or looked up now.
        let found = match parts.extensions.get::<Caller>() {
            Some(c) => Some(c.clone()),
            None => page_caller(&state.store, &parts.headers).await?,
        };
        match found {
            Some(Caller {
                p,
                csrf: Some(csrf),
            }) => Ok(User {
                p,
                csrf,
                token: token.to_string(),
                lang,
            }),
            _ => Err(WebError::Login(next)),
        }
    }
}

impl FromRequestParts<AppState> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(lang_of(&parts.headers))
    }
}

/// The client's address, for the login limiter ("local" when unknown).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = crate::client::client_ip(parts)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "local".into());
        Ok(ClientAddr(addr))
    }
}
