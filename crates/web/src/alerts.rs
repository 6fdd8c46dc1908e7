//! Alerts for other alerting systems: each urgent or emergency
//! announcement as a CAP 1.2 document, and an Atom feed of the active ones.
//!
//! - `GET /api/v1/announcements/{id}/cap.xml` — any urgent or emergency
//!   announcement the caller may read (a draft until approved).
//! - `GET /cap/v1/alerts.atom` — public: the active alerts, newest first.
//! - `GET /cap/v1/alerts/{id}.xml` — public: one active alert.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use danvan_domain::announcement::Urgency;
use danvan_domain::calendar::iso_local;
use danvan_media::cap::{self, Origin};
use danvan_media::xml::escape_xml;
use danvan_store::announce::alert::ActiveAlert;
use danvan_store::feedback::Viewer;

use crate::api::{parse_id, ApiError, ApiUser};
use crate::error::WebError;
use crate::AppState;

pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";

fn origin(st: &AppState, headers: &HeaderMap) -> Origin {
    Origin::new(
        st.public_url.as_deref(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    )
}

fn xml(content_type: &'static str, body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/announcements/{id}/cap.xml`.
pub async fn api_alert(
    State(st): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let a = st
        .store
        .announcement(&Viewer::of(&p), parse_id(&id)?)
        .await?;
    if a.urgency == Urgency::Normal {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_an_alert",
            "Thông báo mức thường không phải là cảnh báo: chỉ thông báo khẩn và khẩn cấp có bản CAP",
        ));
    }
    let facts = st.store.alert_facts(&a).await?;
    let doc = cap::document(&a, &facts, &origin(&st, &headers))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "Không tìm thấy"))?;
    Ok(xml(cap::CONTENT_TYPE, doc))
}

/// `GET /cap/v1/alerts/{id}.xml`: an active alert, else 404.
pub(crate) async fn public_alert(
    State(st): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let id: i64 = file
        .strip_suffix(".xml")
        .and_then(|id| id.parse().ok())
        .ok_or(WebError::NotFound)?;
    let a = st.store.active_alert(id).await?;
    let facts = st.store.alert_facts(&a).await?;
    let doc = cap::document(&a, &facts, &origin(&st, &headers)).ok_or(WebError::NotFound)?;
    Ok(xml(cap::CONTENT_TYPE, doc))
}

/// `GET /cap/v1/alerts.atom`.
pub(crate) async fn feed(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let alerts = st.store.active_alerts().await?;
    let body = atom(&alerts, &origin(&st, &headers), st.store.now());
    Ok(xml(ATOM_CONTENT_TYPE, body))
}

/// When an alert last changed for the feed: when it went out.
fn updated(a: &ActiveAlert) -> i64 {
    a.cancelled_at.or(a.planned_at).unwrap_or(a.send_at)
}

fn text_element(out: &mut String, indent: &str, name: &str, text: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_xml(text, out);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn link(out: &mut String, indent: &str, rel: &str, media_type: &str, href: &str) {
    out.push_str(indent);
    out.push_str("<link rel=\"");
    out.push_str(rel);
    out.push_str("\" type=\"");
    out.push_str(media_type);
    out.push_str("\" href=\"");
    escape_xml(href, out);
    out.push_str("\"/>\n");
}

/// The Atom 1.0 feed of `alerts`; `now` dates an empty feed.
pub fn atom(alerts: &[ActiveAlert], origin: &Origin, now: i64) -> String {
    let self_url = format!("{}/cap/v1/alerts.atom", origin.base_url);
    let newest = alerts.iter().map(updated).max().unwrap_or(now);
    let mut out = String::with_capacity(512 + alerts.len() * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"vi\">\n");
    text_element(&mut out, "  ", "id", &self_url);
    text_element(
        &mut out,
        "  ",
        "title",
        "Cảnh báo đang có hiệu lực (Dân Vận)",
    );
    text_element(&mut out, "  ", "updated", &iso_local(newest));
    out.push_str("  <author>\n");
    text_element(&mut out, "    ", "name", "Dân Vận");
    out.push_str("  </author>\n");
    link(&mut out, "  ", "self", "application/atom+xml", &self_url);
    for a in alerts {
        let href = origin.alert_url(a.id);
        out.push_str("  <entry>\n");
        text_element(&mut out, "    ", "id", &href);
        // A withdrawn alert's entry is its cancellation.
        let title = match a.cancelled_at {
            Some(_) => format!("Thu hồi: {}", a.title),
            None => a.title.clone(),
        };
        text_element(&mut out, "    ", "title", &title);
        text_element(&mut out, "    ", "updated", &iso_local(updated(a)));
        text_element(&mut out, "    ", "published", &iso_local(a.send_at));
        out.push_str("    <author>\n");
        text_element(&mut out, "      ", "name", &a.unit_name);
        out.push_str("    </author>\n");
        let urgency = a.urgency;
        out.push_str("    <category term=\"");
        out.push_str(urgency.as_str());
        out.push_str("\" label=\"");
        out.push_str(urgency.label_vi());
        out.push_str("\"/>\n");
        text_element(&mut out, "    ", "summary", &a.body);
        link(&mut out, "    ", "alternate", "application/cap+xml", &href);
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}
