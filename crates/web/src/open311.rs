//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>), mounted
//! at `/open311/v2`: services are the feedback topics, service requests
//! are feedback items. Every document is built once as a [`Node`] tree and
//! written as JSON or XML by the file's extension, so the two formats cannot
//! drift apart. Reads are public and never show a confidential item;
//! creating needs an `api_key` (an API token).

use crate::i18n::Lang;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate};
use danvan_domain::calendar;
use danvan_domain::feedback::{Channel, Severity, TrackingCode};
use danvan_media::xml::escape_xml;
use danvan_store::feedback::query::PublicFilter;
use danvan_store::feedback::{NewFeedback, PublicFeedback, Topic};
use danvan_store::StoreError;
use std::borrow::Cow;
use std::fmt::Write as _;

use crate::AppState;

/// Sortable stamp of this document set; change it when the services or
/// the endpoint change, so clients know to read them again.
const CHANGESET: &str = "2026-12-05T00:00:00+07:00";
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

// ---------------------------------------------------------------------------
// Formats and documents
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// "services.xml" → ("services", Xml); any other extension is no resource.
fn split_file(file: &str) -> Option<(&str, Format)> {
    let (stem, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return None,
    };
    (!stem.is_empty()).then_some((stem, format))
}

/// The format an error about `path` is written in: XML when the last
/// segment asks for it, else JSON.
fn format_of_path(path: &str) -> Format {
    match path.rsplit('/').next().and_then(split_file) {
        Some((_, f)) => f,
        None => Format::Json,
    }
}

/// `s` as a JSON string: quotes, backslashes and control characters
/// escaped, everything else (Vietnamese included) as it is. Runs of bytes
/// that need no escape are copied whole: this writes every text field of
/// a listing.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // Every byte matched above is ASCII, so `i` is a char boundary.
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// One document in a form both writers understand.
#[derive(Debug, Clone)]
enum Node<'a> {
    /// Borrowed from the row it shows where it can be: a listing of 1,000
    /// requests has some 15,000 text fields.
    Text(Cow<'a, str>),
    Int(i64),
    Num(f64),
    Bool(bool),
    /// JSON `null`; an empty XML element.
    Null,
    /// Left out of JSON; an empty XML element (optional Open311 fields).
    Absent,
    /// A JSON object; XML child elements in this order.
    Obj(Vec<(&'static str, Node<'a>)>),
    /// A JSON array; in XML one element named by the tag per entry.
    List(&'static str, Vec<Node<'a>>),
}

fn text<'a>(s: impl Into<Cow<'a, str>>) -> Node<'a> {
    Node::Text(s.into())
}

impl Node<'_> {
    /// About how many bytes the JSON of this document takes, so the output
    /// is allocated once rather than grown through a dozen copies.
    fn size_hint(&self) -> usize {
        match self {
            Node::Text(s) => s.len() + 8,
            Node::Obj(fields) => {
                fields
                    .iter()
                    .map(|(k, v)| k.len() + 4 + v.size_hint())
                    .sum::<usize>()
                    + 2
            }
            Node::List(_, items) => {
                items.iter().map(Node::size_hint).sum::<usize>() + items.len() + 2
            }
            _ => 24,
        }
    }

    /// Writes the JSON text straight into `out`, fields in their order: a
    /// listing of 1,000 requests is some 18,000 fields, and building a
    /// `serde_json::Value` tree of them first doubled the cost of writing.
    fn write_json(&self, out: &mut String) {
        match self {
            Node::Text(s) => write_json_string(s, out),
            Node::Int(i) => {
                let _ = write!(out, "{i}");
            }
            // Rust's shortest round-trip form, never an exponent: valid JSON.
            Node::Num(x) if x.is_finite() => {
                let _ = write!(out, "{x}");
            }
            Node::Num(_) | Node::Null | Node::Absent => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Obj(fields) => {
                out.push('{');
                let mut first = true;
                for (k, v) in fields {
                    if matches!(v, Node::Absent) {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
            Node::List(_, items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
        }
    }

    #[cfg(test)]
    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Text(s) => Value::String(s.to_string()),
            Node::Int(i) => Value::from(*i),
            Node::Num(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Node::Bool(b) => Value::Bool(*b),
            Node::Null | Node::Absent => Value::Null,
            Node::Obj(fields) => Value::Object(
                fields
                    .iter()
                    .filter(|(_, v)| !matches!(v, Node::Absent))
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Node::List(_, items) => Value::Array(items.iter().map(Node::to_json).collect()),
        }
    }

    fn write_xml(&self, name: &str, out: &mut String) {
        let simple = |out: &mut String, value: &str| {
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape_xml(value, out);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        };
        match self {
            Node::Text(s) => simple(out, s),
            Node::Int(i) => simple(out, &i.to_string()),
            Node::Num(x) if x.is_finite() => simple(out, &x.to_string()),
            Node::Bool(b) => simple(out, if *b { "true" } else { "false" }),
            Node::Num(_) | Node::Null | Node::Absent => {
                out.push('<');
                out.push_str(name);
                out.push_str("/>");
            }
            Node::Obj(fields) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                for (k, v) in fields {
                    v.write_xml(k, out);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            Node::List(tag, items) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                for item in items {
                    item.write_xml(tag, out);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

/// A response: `body` as JSON, or as XML under the element `root`.
fn reply(status: StatusCode, format: Format, root: &str, body: &Node) -> Response {
    let text = match format {
        Format::Json => {
            let mut out = String::with_capacity(body.size_hint());
            body.write_json(&mut out);
            out
        }
        Format::Xml => {
            let mut out = String::with_capacity(body.size_hint() * 2);
            out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            body.write_xml(root, &mut out);
            out
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        text,
    )
        .into_response()
}

/// An error in the standard's shape: `[{"code", "description"}]` or
/// `<errors><error>…`.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    format: Format,
    description: String,
}

impl Failure {
    fn new(status: StatusCode, format: Format, description: impl Into<String>) -> Self {
        Failure {
            status,
            format,
            description: description.into(),
        }
    }

    fn bad(format: Format, description: impl Into<String>) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, format, description)
    }

    fn not_found(format: Format) -> Self {
        Failure::new(StatusCode::NOT_FOUND, format, "Không tìm thấy (not found)")
    }

    /// A store error on a read or a write: missing is 404, refused input
    /// 400, anything else is logged and told as a system error.
    fn store(format: Format, e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Failure::not_found(format),
            StoreError::Rejected(p) | StoreError::Conflict(p) => {
                Failure::bad(format, crate::problem_text::problem(Lang::Vi, &p))
            }
            StoreError::Invalid { field, error } => Failure::bad(
                format,
                format!("{}: {}", open311_field(field), error.message_vi()),
            ),
            other => {
                tracing::error!(error = %other, "open311 request failed");
                Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format,
                    "Lỗi hệ thống, hãy thử lại sau (internal error)",
                )
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = Node::List(
            "error",
            vec![Node::Obj(vec![
                ("code", Node::Int(i64::from(self.status.as_u16()))),
                ("description", text(self.description)),
            ])],
        );
        reply(self.status, self.format, "errors", &body)
    }
}

/// The request parameter a store field came from.
fn open311_field(store_field: &str) -> &str {
    match store_field {
        "name" => "first_name/last_name",
        other => other,
    }
}

pub(crate) async fn not_found_anywhere(uri: Uri) -> Response {
    Failure::not_found(format_of_path(uri.path())).into_response()
}

pub(crate) async fn method_not_allowed(uri: Uri) -> Response {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format_of_path(uri.path()),
        "Phương thức không được hỗ trợ (method not allowed)",
    )
    .into_response()
}

// ---------------------------------------------------------------------------
// Routing by file name
// ---------------------------------------------------------------------------

type Pairs = Vec<(String, String)>;

pub(crate) async fn top_get(
    State(st): State<AppState>,
    OriginalUri(original): OriginalUri,
    headers: HeaderMap,
    file: Result<Path<String>, PathRejection>,
    query: Result<Query<Pairs>, QueryRejection>,
) -> Response {
    let Some((name, format)) = file.as_ref().ok().and_then(|Path(f)| split_file(f)) else {
        return Failure::not_found(Format::Json).into_response();
    };
    let result = match name {
        "discovery" => Ok(discovery(&st, &original, &headers, format)),
        "services" => services(&st, format).await,
        "requests" => match query {
            Ok(Query(pairs)) => list_requests(&st, format, &pairs).await,
            Err(_) => Err(Failure::bad(
                format,
                "Tham số truy vấn không hợp lệ (malformed query string)",
            )),
        },
        _ => Err(Failure::not_found(format)),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn top_post(
    State(st): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    form: Result<Form<Pairs>, FormRejection>,
) -> Response {
    match file.as_ref().ok().and_then(|Path(f)| split_file(f)) {
        Some(("requests", format)) => create_request(&st, format, form)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Some((_, format)) => Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format,
            "Phương thức không được hỗ trợ (method not allowed)",
        )
        .into_response(),
        None => Failure::not_found(Format::Json).into_response(),
    }
}

// ---------------------------------------------------------------------------
// Discovery and services
// ---------------------------------------------------------------------------

/// The Host header if it looks like a host name (it is echoed back).
fn host_of(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost")
}

fn discovery(st: &AppState, original: &Uri, headers: &HeaderMap, format: Format) -> Response {
    // Behind HTTPS (the deployment sets secure cookies) the endpoint is https.
    let scheme = if st.secure_cookies { "https" } else { "http" };
    // Wherever the router is mounted: the path up to "/discovery.*".
    let base = original
        .path()
        .rsplit_once('/')
        .map_or("", |(base, _)| base);
    let url = format!("{scheme}://{}{base}", host_of(headers));
    let doc = Node::Obj(vec![
        ("changeset", text(CHANGESET)),
        (
            "contact",
            text("Quản trị viên hệ thống Dân Vận của tỉnh (the province's Dân Vận administrator)"),
        ),
        (
            "key_service",
            text("api_key do quản trị viên cấp bằng lệnh `danvan token create` (issued by an administrator)"),
        ),
        (
            "endpoints",
            Node::List(
                "endpoint",
                vec![Node::Obj(vec![
                    ("specification", text(SPECIFICATION)),
                    ("url", text(url)),
                    ("changeset", text(CHANGESET)),
                    ("type", text("production")),
                    (
                        "formats",
                        Node::List(
                            "format",
                            vec![text("application/json"), text("text/xml")],
                        ),
                    ),
                ])],
            ),
        ),
    ]);
    reply(StatusCode::OK, format, "discovery", &doc)
}

fn service_node(t: &Topic) -> Node<'_> {
    // Confidential topics are listed so people can report them, and say
    // that their reports are never published.
    let (description, group) = if t.confidential {
        (
            format!(
                "{}. Bảo mật: phản ánh không được công bố (confidential: never published).",
                t.name_en
            ),
            "Bảo mật",
        )
    } else {
        (t.name_en.clone(), "Công khai")
    };
    Node::Obj(vec![
        ("service_code", text(&t.code)),
        ("service_name", text(&t.name_vi)),
        ("description", text(description)),
        // Every service has attributes (the hamlet, the severity …).
        ("metadata", Node::Bool(true)),
        ("type", text("realtime")),
        ("keywords", text(&t.keywords)),
        ("group", text(group)),
    ])
}

async fn services(st: &AppState, format: Format) -> Result<Response, Failure> {
    let topics = st
        .store
        .topics()
        .await
        .map_err(|e| Failure::store(format, e))?;
    let doc = Node::List("service", topics.iter().map(service_node).collect());
    Ok(reply(StatusCode::OK, format, "services", &doc))
}

fn attribute<'a>(
    code: &'a str,
    datatype: &'a str,
    required: bool,
    order: i64,
    datatype_description: &'a str,
    description: &'a str,
    values: Node<'a>,
) -> Node<'a> {
    Node::Obj(vec![
        ("variable", Node::Bool(true)),
        ("code", text(code)),
        ("datatype", text(datatype)),
        ("required", Node::Bool(required)),
        ("datatype_description", text(datatype_description)),
        ("order", Node::Int(order)),
        ("description", text(description)),
        ("values", values),
    ])
}

pub(crate) async fn service_definition(
    State(st): State<AppState>,
    file: Result<Path<String>, PathRejection>,
) -> Response {
    let Some((code, format)) = file.as_ref().ok().and_then(|Path(f)| split_file(f)) else {
        return Failure::not_found(Format::Json).into_response();
    };
    let topic = match st.store.topic_by_code(code).await {
        Ok(t) => t,
        // An unknown code is refused by the store as bad input; here it
        // is a resource that does not exist.
        Err(StoreError::Rejected(_)) | Err(StoreError::NotFound) => {
            return Failure::not_found(format).into_response()
        }
        Err(e) => return Failure::store(format, e).into_response(),
    };
    let severities = Node::List(
        "value",
        Severity::ALL
            .iter()
            .map(|s| {
                Node::Obj(vec![
                    ("key", text(s.as_str())),
                    ("name", text(s.label_vi())),
                ])
            })
            .collect(),
    );
    let doc = Node::Obj(vec![
        ("service_code", text(&topic.code)),
        (
            "attributes",
            Node::List(
                "attribute",
                vec![
                    // A province has thousands of hamlets: too many for a
                    // value list, so the id is looked up through the API.
                    // Not required: lat/long or address_string place the
                    // request instead.
                    attribute(
                        "hamlet_id",
                        "string",
                        false,
                        1,
                        "Số nguyên (integer id); không bắt buộc khi có lat/long hoặc address_string",
                        "Mã thôn (id) — see /api/v1/units?q=; without it, the hamlet is found from lat/long (the nearest hamlet of the commune the point lies in) or from address_string (the hamlet it names, e.g. \"thôn Mai Hoàng, xã Phúc Sơn\")",
                        Node::Absent,
                    ),
                    attribute(
                        "severity",
                        "singlevaluelist",
                        false,
                        2,
                        "normal, urgent hoặc complex (mặc định normal)",
                        "Mức độ (severity)",
                        severities,
                    ),
                    attribute(
                        "submission_key",
                        "string",
                        false,
                        3,
                        "Tối đa 100 ký tự (at most 100 characters)",
                        "Khoá chống gửi trùng: gửi lại với cùng khoá trả về phản ánh đã tạo (idempotency key)",
                        Node::Absent,
                    ),
                ],
            ),
        ),
    ]);
    reply(StatusCode::OK, format, "service_definition", &doc)
}

// ---------------------------------------------------------------------------
// Service requests
// ---------------------------------------------------------------------------

fn request_node(f: &PublicFeedback, now: i64) -> Node<'_> {
    let state = f.state;
    let notes = match (&f.answer, &f.refusal_reason) {
        (Some(answer), _) => text(answer),
        (None, Some(reason)) => match f.refer_to.as_deref().map(str::trim) {
            Some(refer) if !refer.is_empty() => text(format!("{reason} — {refer}")),
            _ => text(reason),
        },
        (None, None) => Node::Null,
    };
    let notice = if state.is_open() && now > f.resolve_due {
        text("Đã quá hạn xử lý (overdue)")
    } else {
        Node::Null
    };
    let coordinate = |x: Option<f64>| x.map_or(Node::Absent, Node::Num);
    Node::Obj(vec![
        ("service_request_id", text(&f.code)),
        ("status", text(state.open311_status())),
        ("status_notes", notes),
        ("service_name", text(&f.topic_name_vi)),
        ("service_code", text(&f.topic_code)),
        ("description", text(&f.description)),
        ("agency_responsible", text(&f.responsible_label)),
        ("service_notice", notice),
        (
            "requested_datetime",
            text(calendar::iso_local(f.received_at)),
        ),
        ("updated_datetime", text(calendar::iso_local(f.updated_at))),
        (
            "expected_datetime",
            text(calendar::iso_local(f.resolve_due)),
        ),
        ("address", text(&f.hamlet_name)),
        ("address_id", text(f.hamlet_id.to_string())),
        ("zipcode", text("")),
        ("lat", coordinate(f.lat)),
        ("long", coordinate(f.lon)),
        ("media_url", text("")),
    ])
}

/// A W3C date-time with its offset ("2026-04-24T16:30:00+07:00", seconds
/// optional), or a bare date taken in Vietnam time: its first second, or
/// its last for the end of a range.
fn parse_when(raw: &str, end_of_day: bool) -> Option<i64> {
    let s = raw.trim();
    // A "+" left unencoded in a query string arrives as a space.
    let repaired;
    let s = match s.rfind(' ') {
        Some(i) if i > 10 => {
            repaired = format!("{}+{}", &s[..i], &s[i + 1..]);
            repaired.as_str()
        }
        _ => s,
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z") {
        return Some(t.timestamp());
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        day.and_hms_opt(23, 59, 59)?
    } else {
        day.and_hms_opt(0, 0, 0)?
    };
    Some(calendar::from_local(t))
}

/// Comma-separated values of every occurrence of `name`.
fn list_param<'a>(pairs: &'a Pairs, name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// The last non-empty value of `name`.
fn param<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

async fn list_requests(st: &AppState, format: Format, pairs: &Pairs) -> Result<Response, Failure> {
    let mut filter = PublicFilter {
        codes: list_param(pairs, "service_request_id")
            .into_iter()
            .map(String::from)
            .collect(),
        ..PublicFilter::default()
    };
    let codes = list_param(pairs, "service_code");
    if !codes.is_empty() {
        let topics = st
            .store
            .topics_cached()
            .await
            .map_err(|e| Failure::store(format, e))?;
        for code in codes {
            if !topics.iter().any(|t| t.code == code.to_lowercase()) {
                return Err(Failure::bad(
                    format,
                    format!("service_code: không có dịch vụ «{code}» (unknown service)"),
                ));
            }
            filter.topics.push(code.to_string());
        }
    }
    for (name, end) in [("start_date", false), ("end_date", true)] {
        if let Some(raw) = param(pairs, name) {
            let t = parse_when(raw, end).ok_or_else(|| {
                Failure::bad(
                    format,
                    format!(
                        "{name}: ngày giờ không hợp lệ, hãy dùng dạng 2026-04-24T16:30:00+07:00 (W3C date-time with offset)"
                    ),
                )
            })?;
            if end {
                filter.end = Some(t);
            } else {
                filter.start = Some(t);
            }
        }
    }
    let (mut open, mut closed) = (false, false);
    for s in list_param(pairs, "status") {
        match s.to_lowercase().as_str() {
            "open" => open = true,
            "closed" => closed = true,
            _ => {
                return Err(Failure::bad(
                    format,
                    format!("status: chỉ nhận open hoặc closed, không nhận «{s}»"),
                ))
            }
        }
    }
    filter.open = (open != closed).then_some(open);
    let items = st
        .store
        .public_feedback_list(&filter)
        .await
        .map_err(|e| Failure::store(format, e))?;
    let now = st.store.now();
    let doc = Node::List(
        "request",
        items.iter().map(|f| request_node(f, now)).collect(),
    );
    Ok(reply(StatusCode::OK, format, "service_requests", &doc))
}

pub(crate) async fn request_by_id(
    State(st): State<AppState>,
    file: Result<Path<String>, PathRejection>,
) -> Response {
    let Some((id, format)) = file.as_ref().ok().and_then(|Path(f)| split_file(f)) else {
        return Failure::not_found(Format::Json).into_response();
    };
    // Confidential items are NotFound here, exactly like unknown codes.
    match st.store.feedback_public(id).await {
        Ok(f) => reply(
            StatusCode::OK,
            format,
            "service_requests",
            &Node::List("request", vec![request_node(&f, st.store.now())]),
        ),
        Err(e) => Failure::store(format, e).into_response(),
    }
}

/// Requests are created at once, so a token is the tracking code itself.
pub(crate) async fn token_lookup(
    State(st): State<AppState>,
    file: Result<Path<String>, PathRejection>,
) -> Response {
    let Some((token, format)) = file.as_ref().ok().and_then(|Path(f)| split_file(f)) else {
        return Failure::not_found(Format::Json).into_response();
    };
    match st.store.feedback_public(token).await {
        Ok(f) => reply(
            StatusCode::OK,
            format,
            "service_requests",
            &Node::List(
                "request",
                vec![Node::Obj(vec![
                    ("service_request_id", text(&f.code)),
                    ("token", text(token)),
                ])],
            ),
        ),
        Err(e) => Failure::store(format, e).into_response(),
    }
}

/// The hamlet a new request goes to: `attribute[hamlet_id]` (or
/// `address_id`) exactly when given; else the hamlet the point falls in;
/// else the one the `address_string` names (also when the point is far
/// from every hamlet). Placed within the key's part of the tree; a refusal
/// names the hamlets it could be.
async fn place(
    st: &AppState,
    scope: &danvan_store::Scope,
    pairs: &Pairs,
    point: Option<(f64, f64)>,
    format: Format,
) -> Result<i64, Failure> {
    if let Some(hamlet) =
        param(pairs, "attribute[hamlet_id]").or_else(|| param(pairs, "address_id"))
    {
        return hamlet.parse().map_err(|_| {
            Failure::bad(
                format,
                "attribute[hamlet_id]/address_id: mã thôn phải là số (integer id)",
            )
        });
    }
    let address = param(pairs, "address_string");
    let by_point = match point {
        Some((lat, lon)) => match st.store.place_point(scope, lat, lon).await {
            Ok(placed) => return Ok(placed.hamlet_id),
            Err(e) => Some(e),
        },
        None => None,
    };
    let refusal = match (address, by_point) {
        (Some(address), point_refused) => match st.store.place_address(scope, address).await {
            Ok(placed) => return Ok(placed.hamlet_id),
            // The point's refusal says more when both fail.
            Err(e) => point_refused.unwrap_or(e),
        },
        (None, Some(e)) => e,
        (None, None) => StoreError::Rejected(danvan_domain::problem::Problem::PlaceMissing),
    };
    let what = if point.is_some() {
        "lat/long"
    } else if address.is_some() {
        "address_string"
    } else {
        "attribute[hamlet_id]"
    };
    Err(match refusal {
        StoreError::Rejected(p) => Failure::bad(
            format,
            format!("{what}: {}", crate::problem_text::problem(Lang::Vi, &p)),
        ),
        other => Failure::store(format, other),
    })
}

/// A number parameter, refused when present but not a finite number.
fn number(pairs: &Pairs, name: &str, format: Format) -> Result<Option<f64>, Failure> {
    match param(pairs, name) {
        None => Ok(None),
        Some(v) => match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(Failure::bad(
                format,
                format!("{name}: phải là số thập phân (must be a decimal number)"),
            )),
        },
    }
}

async fn create_request(
    st: &AppState,
    format: Format,
    form: Result<Form<Pairs>, FormRejection>,
) -> Result<Response, Failure> {
    let Form(pairs) = form.map_err(|rejection| {
        Failure::new(
            rejection.status(),
            format,
            "Gửi dạng application/x-www-form-urlencoded (form-encoded body expected)",
        )
    })?;
    let key = param(&pairs, "api_key").ok_or_else(|| {
        Failure::new(
            StatusCode::FORBIDDEN,
            format,
            "Thiếu api_key (api_key required)",
        )
    })?;
    let principal = st
        .store
        .principal_for_api_token(key)
        .await
        .map_err(|e| Failure::store(format, e))?
        .ok_or_else(|| {
            Failure::new(
                StatusCode::FORBIDDEN,
                format,
                "api_key không hợp lệ hoặc đã bị thu hồi (invalid api_key)",
            )
        })?;

    let code = param(&pairs, "service_code")
        .ok_or_else(|| Failure::bad(format, "Thiếu service_code (service_code required)"))?;
    let topic = match st.store.topic_by_code(code).await {
        Ok(t) => t,
        Err(StoreError::Rejected(_)) | Err(StoreError::NotFound) => {
            return Err(Failure::bad(
                format,
                format!("service_code: không có dịch vụ «{code}» (unknown service)"),
            ))
        }
        Err(e) => return Err(Failure::store(format, e)),
    };
    let lat = number(&pairs, "lat", format)?;
    let lon = number(&pairs, "long", format)?;
    // Checked here too so the message names the parameters.
    danvan_store::registry::household::check_point(lat, lon).map_err(|e| match e {
        StoreError::Rejected(p) => Failure::bad(
            format,
            format!("lat/long: {}", crate::problem_text::problem(Lang::Vi, &p)),
        ),
        other => Failure::store(format, other),
    })?;
    let hamlet_id = place(st, &principal.scope, &pairs, lat.zip(lon), format).await?;
    let severity = match param(&pairs, "attribute[severity]") {
        None => Severity::Normal,
        Some(s) => Severity::parse(s).ok_or_else(|| {
            Failure::bad(
                format,
                "attribute[severity]: chỉ nhận normal, urgent hoặc complex",
            )
        })?,
    };
    // Vietnamese names put the family name (Open311's last_name) first.
    let name = [param(&pairs, "last_name"), param(&pairs, "first_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = (!name.is_empty()).then_some(name);
    let phone = param(&pairs, "phone").map(String::from);
    let new = NewFeedback {
        topic: topic.code.clone(),
        severity,
        channel: Channel::Open311,
        description: pairs
            .iter()
            .rev()
            .find(|(k, _)| k == "description")
            .map_or(String::new(), |(_, v)| v.clone()),
        hamlet_id,
        lat,
        lon,
        anonymous: name.is_none() && phone.is_none(),
        reporter_name: name,
        reporter_phone: phone,
        household_id: None,
        resident_id: None,
        relay_method: None,
        identity_consent: false,
        submission_key: param(&pairs, "attribute[submission_key]").map(String::from),
        photos: Vec::new(),
    };
    let received = st
        .store
        .submit_feedback(&principal.actor(), &principal.scope, &new)
        .await
        .map_err(|e| match e {
            // The hamlet is missing or outside what the key may report for.
            StoreError::NotFound => Failure::bad(
                format,
                "attribute[hamlet_id]/address_id: không có thôn này trong phạm vi của api_key",
            ),
            other => Failure::store(format, other),
        })?;
    let shown = TrackingCode::parse(&received.code).map_or(received.code.clone(), |c| c.display());
    let mut notice = format!(
        "Đã tiếp nhận phản ánh, mã theo dõi {shown}. Hạn xử lý: {}.",
        calendar::to_local(received.resolve_due).format("%H:%M %d/%m/%Y")
    );
    if topic.confidential {
        notice.push_str(" Chủ đề bảo mật: phản ánh không được công bố.");
    }
    let doc = Node::List(
        "request",
        vec![Node::Obj(vec![
            ("service_request_id", text(&received.code)),
            ("service_notice", text(notice)),
            ("account_id", Node::Null),
        ])],
    );
    Ok(reply(StatusCode::CREATED, format, "service_requests", &doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_only_what_json_needs() {
        let mut out = String::new();
        write_json_string("Ngõ 5 \"Hà Nội\"\\\u{1f}\u{7f}\tđ", &mut out);
        assert_eq!(out, "\"Ngõ 5 \\\"Hà Nội\\\"\\\\\\u001f\u{7f}\\tđ\"");
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "Ngõ 5 \"Hà Nội\"\\\u{1f}\u{7f}\tđ");
    }

    #[test]
    fn one_tree_two_formats() {
        let doc = Node::List(
            "request",
            vec![Node::Obj(vec![
                ("id", text("A&B")),
                ("lat", Node::Absent),
                ("notes", Node::Null),
                ("n", Node::Int(3)),
            ])],
        );
        // JSON keeps the tree's order, as XML does, and leaves out the absent.
        let mut json = String::new();
        doc.write_json(&mut json);
        assert_eq!(json, r#"[{"id":"A&B","notes":null,"n":3}]"#);
        let mut xml = String::new();
        doc.write_xml("service_requests", &mut xml);
        assert_eq!(
            xml,
            "<service_requests><request><id>A&amp;B</id><lat/><notes/><n>3</n></request></service_requests>"
        );
    }

    #[test]
    fn json_written_straight_reads_back_as_the_tree() {
        let doc = Node::List(
            "request",
            vec![Node::Obj(vec![
                ("z", text("Đường \"ngập\" \\ sau mưa\n\t\u{1}")),
                ("a", Node::Num(21.0123456)),
                ("b", Node::Num(f64::NAN)),
                ("c", Node::Bool(false)),
                ("d", Node::Absent),
                ("e", Node::List("x", vec![])),
            ])],
        );
        let mut json = String::new();
        doc.write_json(&mut json);
        assert!(
            json.starts_with(r#"[{"z":"#),
            "fields keep their order: {json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc.to_json());
    }

    #[test]
    fn files_and_dates() {
        assert_eq!(split_file("services.xml"), Some(("services", Format::Xml)));
        assert_eq!(split_file("a.b.json"), Some(("a.b", Format::Json)));
        assert_eq!(split_file("services.html"), None);
        assert_eq!(split_file(".json"), None);
        assert_eq!(split_file("services"), None);
        let t = parse_when("2026-04-24T16:30:00+07:00", false).unwrap();
        assert_eq!(calendar::iso_local(t), "2026-04-24T16:30:00+07:00");
        assert_eq!(parse_when("2026-04-24T16:30:00 07:00", false), Some(t));
        assert_eq!(parse_when("2026-04-24T09:30:00Z", false), Some(t));
        assert_eq!(parse_when("2026-04-24T16:30+07:00", false), Some(t));
        assert_eq!(
            parse_when("2026-04-24", true).map(calendar::iso_local),
            Some("2026-04-24T23:59:59+07:00".into())
        );
        assert_eq!(parse_when("24/04/2026", false), None);
        assert_eq!(parse_when("2026-04-24T16:30:00", false), None);
    }
}
