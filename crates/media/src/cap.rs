//! The Common Alerting Protocol 1.2 document (OASIS, ITU-T X.1303) of an
//! urgent or emergency announcement, so other alerting systems (cell
//! broadcast, sirens, apps) can carry it. Written by hand like Open311's
//! XML: one fixed shape, a few escaped strings.
//!
//! Areas: one `<area>` per audience unit (a team stands for its hamlet).
//! `areaDesc` names the unit and the units above it, so two hamlets of the
//! same name stay apart. A `geocode` (`VN-DVHC`, the national code of
//! administrative units) is given only for a unit's own official code:
//! hamlets mostly have none, and the commune's code would not do, because
//! CAP reads several geocodes of one area as their union — the alert would
//! claim the whole commune.

use danvan_domain::announcement::{AnnouncementState, Urgency};
use danvan_domain::calendar::iso_local;
use danvan_domain::UnitLevel;
use danvan_store::announce::alert::{AlertArea, AlertFacts};
use danvan_store::announce::announcement::Announcement;

use crate::xml::escape_xml;

pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
pub const CONTENT_TYPE: &str = "application/cap+xml; charset=utf-8";
/// The `valueName` of a Vietnamese administrative unit code.
pub const GEOCODE_NAME: &str = "VN-DVHC";
/// CAP's advice for a headline that fits a pager or an SMS.
const HEADLINE_MAX_CHARS: usize = 159;

/// Who this server is to other alerting systems, and where it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// A host name with only `[A-Za-z0-9.-]` (no port): the sender and the
    /// alerts' identifiers are built from it.
    pub host: String,
    /// The server's address without a trailing slash (`https://…`).
    pub base_url: String,
}

impl Origin {
    /// From the configured public address, else the request's `Host`.
    pub fn new(public_url: Option<&str>, host_header: Option<&str>) -> Origin {
        if let Some(url) = public_url.map(str::trim).filter(|u| !u.is_empty()) {
            let base_url = url.trim_end_matches('/').to_string();
            let authority = base_url
                .split_once("://")
                .map_or(base_url.as_str(), |(_, rest)| rest);
            let authority = authority.split('/').next().unwrap_or("");
            return Origin {
                host: host_name(authority),
                base_url,
            };
        }
        let authority: String = host_header
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            .collect();
        let host = host_name(&authority);
        let authority = if authority.is_empty() {
            host.clone()
        } else {
            authority
        };
        Origin {
            base_url: format!("http://{authority}"),
            host,
        }
    }

    pub fn sender(&self) -> String {
        format!("danvan@{}", self.host)
    }

    /// Unique per server and announcement, and the same on every request.
    pub fn identifier(&self, announcement_id: i64) -> String {
        format!("announcement-{announcement_id}@{}", self.host)
    }

    /// The identifier of an alert's cancellation (a message of its own).
    pub fn cancel_identifier(&self, announcement_id: i64) -> String {
        format!("announcement-{announcement_id}-cancel@{}", self.host)
    }

    /// The public CAP address of an alert.
    pub fn alert_url(&self, announcement_id: i64) -> String {
        format!("{}/cap/v1/alerts/{announcement_id}.xml", self.base_url)
    }
}

/// The host of `host[:port]`, reduced to letters, digits, dots and dashes
/// (an IPv6 literal loses its colons); `localhost` when nothing is left.
fn host_name(authority: &str) -> String {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let host: String = host
        .chars()
        .map(|c| if c == ':' { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    if host.is_empty() {
        "localhost".into()
    } else {
        host
    }
}

/// CAP's category for a topic code of ours.
pub fn category(topic_code: Option<&str>) -> &'static str {
    match topic_code {
        Some("security" | "crime_tip") => "Security",
        Some("environment") => "Env",
        Some("epidemic" | "disease_case" | "health") => "Health",
        _ => "Other",
    }
}

/// Urgency, severity and certainty: an emergency is happening now and
/// serious; an urgent notice is expected and moderate. A normal
/// announcement is no alert (`None`).
pub fn grading(u: Urgency) -> Option<(&'static str, &'static str, &'static str)> {
    match u {
        Urgency::Normal => None,
        Urgency::Urgent => Some(("Expected", "Moderate", "Likely")),
        Urgency::Emergency => Some(("Immediate", "Severe", "Observed")),
    }
}

/// Actual once approved (and the cancellation of one that went out); a
/// draft while it waits for the leader (or was cancelled before going
/// out), so nobody acts on it.
fn status(a: &Announcement) -> &'static str {
    match a.state {
        AnnouncementState::Approved | AnnouncementState::Planned => "Actual",
        _ if a.withdrawn() => "Actual",
        _ => "Draft",
    }
}

/// The title, cut to fit a headline.
pub fn headline(title: &str) -> String {
    if title.chars().count() <= HEADLINE_MAX_CHARS {
        return title.to_string();
    }
    let mut cut: String = title.chars().take(HEADLINE_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// `areaDesc`: the unit and the units above it.
pub fn area_desc(area: &AlertArea) -> String {
    area.names.join(", ")
}

fn element(out: &mut String, indent: usize, name: &str, text: &str) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_xml(text, out);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// The CAP 1.2 document of `a`; `None` for a normal announcement.
pub fn document(a: &Announcement, facts: &AlertFacts, origin: &Origin) -> Option<String> {
    let (urgency, severity, certainty) = grading(a.urgency)?;
    let mut out = String::with_capacity(1024 + a.body.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<alert xmlns=\"");
    out.push_str(NAMESPACE);
    out.push_str("\">\n");
    // Issued when approved (an emergency that skipped approval: written).
    let sent = iso_local(a.approved_at.unwrap_or(a.created_at));
    let cancelled = a.withdrawn().then_some(a.cancelled_at).flatten();
    match cancelled {
        None => element(&mut out, 1, "identifier", &origin.identifier(a.id)),
        Some(_) => element(&mut out, 1, "identifier", &origin.cancel_identifier(a.id)),
    }
    element(&mut out, 1, "sender", &origin.sender());
    element(
        &mut out,
        1,
        "sent",
        &cancelled.map(iso_local).unwrap_or_else(|| sent.clone()),
    );
    element(&mut out, 1, "status", status(a));
    element(
        &mut out,
        1,
        "msgType",
        if cancelled.is_some() {
            "Cancel"
        } else {
            "Alert"
        },
    );
    element(&mut out, 1, "scope", "Public");
    if cancelled.is_some() {
        // Why, in the writer's words; and which message it cancels
        // ("sender,identifier,sent").
        let reason = a.cancel_reason.as_deref().unwrap_or("");
        element(&mut out, 1, "note", &format!("Thu hồi: {reason}"));
        element(
            &mut out,
            1,
            "references",
            &format!("{},{},{sent}", origin.sender(), origin.identifier(a.id)),
        );
    }
    out.push_str("  <info>\n");
    element(&mut out, 2, "language", "vi-VN");
    element(
        &mut out,
        2,
        "category",
        category(facts.topic_code.as_deref()),
    );
    element(&mut out, 2, "event", &a.title);
    // No responseType: what to do is in the body, in the writer's words;
    // a guessed code would tell other systems more than the writer did.
    element(&mut out, 2, "urgency", urgency);
    element(&mut out, 2, "severity", severity);
    element(&mut out, 2, "certainty", certainty);
    element(&mut out, 2, "effective", &iso_local(a.send_at));
    element(&mut out, 2, "expires", &iso_local(a.expires_at));
    element(&mut out, 2, "senderName", &facts.sender_name);
    element(&mut out, 2, "headline", &headline(&a.title));
    element(&mut out, 2, "description", &a.body);
    let web = match facts.areas.first() {
        Some(h) if h.level == UnitLevel::Hamlet => {
            format!("{}/hamlets/{}/announcements", origin.base_url, h.unit_id)
        }
        _ => format!("{}/", origin.base_url),
    };
    element(&mut out, 2, "web", &web);
    for area in &facts.areas {
        out.push_str("    <area>\n");
        element(&mut out, 3, "areaDesc", &area_desc(area));
        if let Some(code) = &area.code {
            out.push_str("      <geocode>\n");
            element(&mut out, 4, "valueName", GEOCODE_NAME);
            element(&mut out, 4, "value", code);
            out.push_str("      </geocode>\n");
        }
        out.push_str("    </area>\n");
    }
    out.push_str("  </info>\n</alert>\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_from_the_public_address_or_the_host_header() {
        let o = Origin::new(Some("https://DanVan.example.vn:8443/"), Some("evil"));
        assert_eq!(o.host, "danvan.example.vn");
        assert_eq!(o.base_url, "https://DanVan.example.vn:8443");
        assert_eq!(o.identifier(7), "announcement-7@danvan.example.vn");
        let o = Origin::new(None, Some("127.0.0.1:8080"));
        assert_eq!(o.host, "127.0.0.1");
        assert_eq!(o.base_url, "http://127.0.0.1:8080");
        assert_eq!(o.sender(), "danvan@127.0.0.1");
        // Nothing CAP forbids in an identifier survives a hostile Host.
        let o = Origin::new(None, Some("a b,c<d&e"));
        assert_eq!(o.host, "abcde");
        let o = Origin::new(None, Some("[::1]:80"));
        assert_eq!(o.host, "--1");
        assert_eq!(Origin::new(None, None).host, "localhost");
    }

    #[test]
    fn topics_map_to_cap_categories() {
        assert_eq!(category(Some("security")), "Security");
        assert_eq!(category(Some("environment")), "Env");
        assert_eq!(category(Some("epidemic")), "Health");
        assert_eq!(category(Some("other")), "Other");
        assert_eq!(category(None), "Other");
    }

    #[test]
    fn headline_fits() {
        let long = "Ngập".repeat(60);
        let h = headline(&long);
        assert_eq!(h.chars().count(), HEADLINE_MAX_CHARS);
        assert!(h.ends_with('…'));
        assert_eq!(headline("Bão số 3"), "Bão số 3");
    }
}
