//! The HTTP layer of Dân Vận: server-rendered pages (Vietnamese first), the
//! JSON API and its OpenAPI document, sessions, CSRF and security headers.
//! It never writes SQL: every read and write goes through `danvan_store`.

pub mod accounts;
pub mod alerts;
pub mod announce_api;
pub mod announce_pages;
pub mod api;
pub mod assets;
pub mod auth;
pub mod chart;
pub mod client;
pub mod error;
pub mod feedback_pages;
pub mod gateway;
pub mod home;
pub mod i18n;
pub mod keeping;
pub mod loudspeaker;
pub mod materials;
pub mod num;
pub mod open311;
pub mod pages;
pub mod print;
pub mod problem_text;
pub mod rate_limit;
pub mod relay;
pub mod report;
pub mod reporter;
pub mod routes;
pub mod sms;
pub mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::{header, HeaderName, HeaderValue};
use axum::Extension;
use axum::Router;
use danvan_store::Store;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::rate_limit::{Limiters, RateLimits};

/// Largest spreadsheet accepted through the upload page.
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;
/// Every other request body.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Set the `Secure` flag on cookies (behind HTTPS).
    pub secure_cookies: bool,
    /// Where uploads wait while they are checked.
    pub upload_dir: PathBuf,
    /// This server's address as people and gateways reach it (links in
    /// SMS); without it no feed link is sent.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: client::TrustedProxies,
}

pub fn router(state: AppState) -> Router {
    router_with_limits(state, RateLimits::default())
}

/// The router with its own rate limits (tests make them small). Every
/// route is in [`routes`], declared once with its access.
pub fn router_with_limits(state: AppState, limits: RateLimits) -> Router {
    let app = routes::router()
        .fallback(pages::not_found)
        .layer(Extension(Limiters::new(limits)))
        .layer(Extension(state.trusted_proxies.clone()))
        .layer(Extension(state.store.clone()))
        .with_state(state);
    with_security_headers(app)
}

/// Security headers on every response; and error pages in the reader's language.
fn with_security_headers(router: Router) -> Router {
    let h = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(axum::middleware::from_fn(error::localize))
        .layer(h(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .layer(h(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(h(header::X_FRAME_OPTIONS, "DENY"))
        .layer(h(header::REFERRER_POLICY, "same-origin"))
        .layer(h(HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=(self)"))
        // Pages and API answers carry personal data: no cache keeps them
        // (a shared phone's back button, a proxy). What may be cached —
        // assets, feeds, audio — says so itself and is left as it is.
        .layer(h(header::CACHE_CONTROL, "no-store"))
        // Outermost, so every answer above is seen as it leaves.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .compress_when(SizeAbove::new(MIN_COMPRESSED).and(compressible)),
        )
}

/// Answers smaller than this leave as they are: gzip's header and trailer
/// would eat the gain.
const MIN_COMPRESSED: u16 = 256;

/// Whether an answer is text worth compressing for a phone on 3G: pages,
/// CSS, JSON, XML (Open311, CAP, Atom), CSV, SVG. PDFs, audio, pictures,
/// spreadsheets and office files are compressed already, and whatever is
/// not named here is left alone.
fn compressible(
    _: axum::http::StatusCode,
    _: axum::http::Version,
    headers: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    let Some(kind) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let kind = kind
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    kind.starts_with("text/")
        || matches!(
            kind.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/atom+xml"
                | "application/cap+xml"
                | "application/problem+json"
                | "image/svg+xml"
        )
}

/// Serves the router on `addr` until the process ends.
pub async fn serve(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(state, listener).await
}

pub async fn serve_on(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_on_with_limits(state, listener, RateLimits::default()).await
}

/// [`serve_on`] with rate limits of its own.
pub async fn serve_on_with_limits(
    state: AppState,
    listener: tokio::net::TcpListener,
    limits: RateLimits,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let app = router_with_limits(state, limits).into_make_service_with_connect_info::<SocketAddr>();
    // Small answers leave at once rather than waiting for the client's
    // delayed ACK of the previous segment (Nagle's algorithm).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{Extensions, HeaderMap, StatusCode, Version};

    fn with_type(kind: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(kind).unwrap());
        compressible(StatusCode::OK, Version::HTTP_11, &h, &Extensions::new())
    }

    #[test]
    fn text_is_compressed_and_compressed_files_are_not() {
        for kind in [
            "text/html; charset=utf-8",
            "text/css; charset=utf-8",
            "text/csv",
            "application/json",
            "application/json; charset=utf-8",
            "text/xml; charset=utf-8",
            "application/cap+xml",
            "application/atom+xml",
            "image/svg+xml",
        ] {
            assert!(with_type(kind), "{kind}");
        }
        for kind in [
            "application/pdf",
            "audio/wav",
            "audio/ogg",
            "audio/mpeg",
            "image/jpeg",
            "image/png",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/zip",
            "application/octet-stream",
        ] {
            assert!(!with_type(kind), "{kind}");
        }
        assert!(!compressible(
            StatusCode::OK,
            Version::HTTP_11,
            &HeaderMap::new(),
            &Extensions::new()
        ));
    }
}
