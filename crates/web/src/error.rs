//! Errors as a person sees them: a page in their language with a clear
//! message, or the API's JSON error. Internal details go to the log, never
//! to the page; personal data goes to neither.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use danvan_domain::policy::Denial;
use danvan_domain::problem::Problem;
use danvan_domain::FieldError;
use danvan_store::StoreError;

use crate::i18n::{Lang, Tr};

#[derive(Debug, Clone)]
pub enum WebError {
    /// Not logged in: go to the login page, then back.
    Login(String),
    NotFound,
    /// A form posted without its CSRF token, or with a stale one.
    Csrf,
    /// A message already in the reader's language (or a code a form
    /// maps itself).
    BadRequest(String),
    /// A refusal with its stable code; its sentence is `problem_text`'s.
    Problem(Problem),
    /// The policy refused the action; the page says why in the reader's
    /// language.
    Forbidden(Denial),
    /// A field's value refused (the field's name, why).
    Field(&'static str, FieldError),
    TooLarge,
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => WebError::NotFound,
            StoreError::Denied(d) => WebError::Forbidden(d),
            StoreError::Conflict(p) | StoreError::Rejected(p) => WebError::Problem(p),
            StoreError::Invalid { field, error } => WebError::Field(field, error),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Tr,
    lang: &'a str,
    title: String,
    message: String,
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Login(_) => StatusCode::SEE_OTHER,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Csrf | WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Problem(Problem::TooManyReads { .. }) => StatusCode::TOO_MANY_REQUESTS,
            WebError::BadRequest(_) | WebError::Problem(_) | WebError::Field(..) => {
                StatusCode::BAD_REQUEST
            }
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        let vi = lang == Lang::Vi;
        match self {
            WebError::Login(_) => (if vi {
                "Hãy đăng nhập."
            } else {
                "Please log in."
            })
            .into(),
            WebError::NotFound => lang.t().not_found.into(),
            WebError::Csrf => (if vi {
                "Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và gửi lại."
            } else {
                "This form has expired or is invalid. Reload the page and submit again."
            })
            .into(),
            WebError::BadRequest(m) => m.clone(),
            WebError::Problem(p) => crate::problem_text::problem(lang, p),
            WebError::Field(field, e) => {
                format!("{field}: {}", crate::problem_text::field_error(lang, e))
            }
            WebError::Forbidden(d) => denial_message(lang, *d).into(),
            WebError::TooLarge => (if vi {
                "Tệp quá lớn (tối đa 100 MB)."
            } else {
                "The file is too large (100 MB at most)."
            })
            .into(),
            WebError::Internal(_) => (if vi {
                "Hệ thống gặp lỗi. Dữ liệu của bạn chưa bị thay đổi; hãy thử lại sau."
            } else {
                "Something went wrong. Nothing was changed; please try again later."
            })
            .into(),
        }
    }

    /// The error as a page in `lang`.
    pub fn page(self, lang: Lang) -> Response {
        if let WebError::Login(next) = &self {
            let next = urlencode(next);
            return Redirect::to(&format!("/login?next={next}")).into_response();
        }
        if let WebError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let page = ErrorPage {
            t: lang.t(),
            lang: lang.code(),
            title: format!("{}", self.status().as_u16()),
            message: self.message(lang),
        };
        let body = page.render().unwrap_or_else(|_| "error".into());
        (self.status(), Html(body)).into_response()
    }
}

/// Marks a response as an error page, so `localize` can render it in the
/// reader's language (handlers just use `?`).
#[derive(Clone)]
struct ErrorMarker(WebError);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if matches!(self, WebError::Login(_)) {
            return self.page(Lang::Vi);
        }
        let mut res = self.clone().page(Lang::Vi);
        res.extensions_mut().insert(ErrorMarker(self));
        res
    }
}

/// Middleware: re-renders error pages in the language of the request.
pub async fn localize(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let lang = request_lang(req.headers());
    let res = next.run(req).await;
    if lang != Lang::En {
        return res;
    }
    if let Some(ErrorMarker(e)) = res.extensions().get::<ErrorMarker>() {
        return e.clone().page(Lang::En);
    }
    if let Some(ApiProblem(status, p)) = res.extensions().get::<ApiProblem>() {
        let body = serde_json::json!({"error": {
            "code": p.code(),
            "message": crate::problem_text::problem(Lang::En, p),
        }});
        return (*status, axum::Json(body)).into_response();
    }
    res
}

/// A JSON API refusal, kept beside its Vietnamese body so that `localize`
/// can answer an English reader in English.
#[derive(Clone)]
pub struct ApiProblem(pub StatusCode, pub Problem);

/// The reader's language: the page's cookie, else what an API client asks
/// for first (`Accept-Language: en`), else Vietnamese.
fn request_lang(headers: &axum::http::HeaderMap) -> Lang {
    if crate::auth::cookie(headers, crate::auth::LANG_COOKIE).is_some() {
        return crate::auth::lang_of(headers);
    }
    let first = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match first {
        Some(l) if l.starts_with("en") => Lang::En,
        _ => Lang::Vi,
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Why the policy refused, in the reader's language.
pub fn denial_message(lang: Lang, d: Denial) -> &'static str {
    let (vi, en) = match d {
        Denial::Role => (
            "Tài khoản của bạn không có quyền làm việc này.",
            "Your account may not do this.",
        ),
        Denial::Scope => (
            "Việc này thuộc đơn vị khác, ngoài địa bàn bạn phụ trách.",
            "This belongs to another unit, outside the part you serve.",
        ),
        Denial::NotLeader => (
            "Chỉ lãnh đạo đơn vị được làm việc này.",
            "Only a leader of the unit may do this.",
        ),
        Denial::LeaderAbove => (
            "Theo quy định của tỉnh, thông báo của đơn vị này do lãnh đạo cấp trên duyệt.",
            "By the province's rule, a leader of a unit above approves this unit's announcements.",
        ),
        Denial::NotWriter => (
            "Chỉ người viết hoặc lãnh đạo đơn vị được làm việc này.",
            "Only the writer or a leader of the unit may do this.",
        ),
        Denial::OwnTeamOnly => (
            "Tổ trưởng chỉ gửi thông báo cho tổ của mình.",
            "A team leader writes only to their own team.",
        ),
        Denial::ProvinceOnly => (
            "Việc này do quản trị viên hoặc lãnh đạo tỉnh đặt cho cả tỉnh.",
            "This is set for the whole province, by the administrator or a leader of the province.",
        ),
        Denial::OwnUnit => (
            "Đơn vị của mình (và các cấp trên) do cấp trên thay đổi.",
            "One's own unit (and those above it) is changed by the level above.",
        ),
        Denial::RoleAbove => (
            "Chỉ cấp trên mới quản lý tài khoản có vai trò bằng hoặc cao hơn của bạn.",
            "Accounts of your role or above are managed by the level above.",
        ),
    };
    if lang == Lang::Vi {
        vi
    } else {
        en
    }
}
