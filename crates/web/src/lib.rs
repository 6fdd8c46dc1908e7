//! The HTTP layer of Dân Vận: server-rendered pages (Vietnamese first), the
//! JSON API and its OpenAPI document, sessions, CSRF and security headers.
//! It never writes SQL: every read and write goes through `danvan_store`.

pub mod alerts;
pub mod announce_api;
pub mod announce_pages;
pub mod api;
pub mod assets;
pub mod auth;
pub mod error;
pub mod feedback_pages;
pub mod gateway;
pub mod i18n;
pub mod loudspeaker;
pub mod materials;
pub mod open311;
pub mod pages;
pub mod print;
pub mod rate_limit;
pub mod relay;
pub mod report;
pub mod reporter;
pub mod sms;
pub mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use danvan_store::Store;
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
}

pub fn router(state: AppState) -> Router {
    router_with_limits(state, RateLimits::default())
}

/// The router with its own rate limits (tests make them small).
pub fn router_with_limits(state: AppState, limits: RateLimits) -> Router {
    let import = Router::new()
        .route(
            "/import",
            get(pages::import_form).post(pages::import_upload),
        )
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024));
    let app = Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/lang", get(pages::set_lang))
        .route("/units", get(pages::units))
        .route("/units/{id}", get(pages::unit))
        .route("/units/{id}/history", get(pages::unit_history))
        .route("/teams/{id}", get(pages::team))
        .route("/households/{id}", get(pages::household))
        .route("/households/{id}/team", post(pages::household_team))
        .route(
            "/households/{id}/feedback",
            get(relay::form).post(relay::submit),
        )
        .route(
            "/residents/{id}/edit",
            get(pages::resident_edit).post(pages::resident_save),
        )
        .route("/search", get(pages::search))
        .route("/feedback", get(feedback_pages::inbox))
        .route("/feedback/assign", post(feedback_pages::bulk_assign))
        .route("/feedback/templates", post(feedback_pages::add_template))
        .route("/feedback/notices/read", post(feedback_pages::read_notices))
        .route("/feedback/dashboard", get(feedback_pages::dashboard))
        .route(
            "/feedback/dashboard.xlsx",
            get(feedback_pages::dashboard_xlsx),
        )
        .route("/feedback/{id}", get(feedback_pages::item))
        .route("/feedback/{id}/act", post(feedback_pages::act))
        .route("/feedback/{id}/photos/{n}", get(feedback_pages::photo))
        .route("/announcements", get(announce_pages::list))
        .route(
            "/announcements/new",
            get(announce_pages::new_form).post(announce_pages::new_submit),
        )
        .route("/announcements/settings", post(announce_pages::settings))
        .route("/announcements/{id}", get(announce_pages::reach))
        .route("/announcements/{id}/approve", post(announce_pages::approve))
        .route(
            "/announcements/{id}/withdraw",
            post(announce_pages::withdraw),
        )
        .route("/announcements/{id}/inform", post(announce_pages::inform))
        .route("/feed/{token}", get(announce_pages::feed))
        .route("/hamlets/{id}/announcements", get(announce_pages::hamlet))
        .route("/export", get(pages::export))
        .route(
            "/account/password",
            get(pages::password_form).post(pages::password_change),
        )
        .route("/audit", get(pages::audit))
        .route("/static/{file}", get(assets::serve))
        .route("/healthz", get(|| async { "ok" }))
        .nest("/api/v1", api::router())
        .nest("/open311/v2", open311::router())
        .route(
            "/sms/inbound",
            get(sms::inbound_get).post(sms::inbound_post),
        )
        .route("/sms/report", get(gateway::report))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .merge(import)
        .merge(report::router())
        .merge(alerts::router())
        .merge(loudspeaker::router())
        .merge(materials::router())
        .fallback(pages::not_found)
        .layer(Extension(Limiters::new(limits)))
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
