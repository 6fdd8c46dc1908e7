//! The officials' feedback pages: a unit's inbox (filters, sort by
//! deadline, bulk assign, answer templates), the item page with its timeline
//! and actions, and the dashboard with its XLSX export. Everything reads
//! through the store with the user's `Viewer`, so scope, confidentiality
//! and identity masking are the store's, not the page's.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use danvan_domain::calendar;
use danvan_domain::feedback::{FeedbackState, Severity, TrackingCode};
use danvan_domain::policy::Action as Can;
use danvan_domain::problem::Problem;
use danvan_sheet::{Cell, Table};
use danvan_store::feedback::dashboard::{Dashboard, StateCounts, Weekly, STATES};
use danvan_store::feedback::inbox::{
    AnswerTemplate, Assignee, InboxFilter, InboxSort, StateFilter, INBOX_PAGE,
};
use danvan_store::feedback::{Action, Feedback, Topic, Viewer};
use danvan_store::StoreError;
use serde::Deserialize;

use crate::auth::User;
use crate::chart::{self, Frame, Series, Svg};
use crate::error::{urlencode, WebError};
use crate::i18n::{pick, Fb, Lang};
use crate::num;
use crate::pages::{chrome, Chrome};
use crate::AppState;

type Page = Result<Response, WebError>;

/// "24/04/2026 07:30", Vietnam time.
fn when(unix: i64) -> String {
    calendar::to_local(unix)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

fn state_label(lang: Lang, s: FeedbackState) -> &'static str {
    pick(lang, s.label_vi(), s.label_en())
}

fn severity_label(lang: Lang, s: Severity) -> &'static str {
    pick(lang, s.label_vi(), s.label_en())
}

fn topic_name(lang: Lang, t: &Topic) -> String {
    match lang {
        Lang::Vi => t.name_vi.clone(),
        Lang::En => t.name_en.clone(),
    }
}

fn display_code(code: &str) -> String {
    TrackingCode::parse(code).map_or_else(|| code.to_string(), |c| c.display())
}

/// A duration for people: minutes, hours or days (with a decimal comma in
/// Vietnamese).
fn duration(lang: Lang, minutes: Option<i64>) -> String {
    let fb = lang.t().fb;
    let one_decimal = |x: f64| format!("{x:.1}").replace(".0", "");
    let text = match minutes {
        None => return fb.no_data.to_string(),
        Some(m) if m < 120 => fb.minutes.replace("{n}", &m.to_string()),
        Some(m) if m < 2880 => fb.hours.replace("{n}", &one_decimal(m as f64 / 60.0)),
        Some(m) => fb.days.replace("{n}", &one_decimal(m as f64 / 1440.0)),
    };
    match lang {
        Lang::Vi => text.replace('.', ","),
        Lang::En => text,
    }
}

/// An optional number from a query field ("" is none).
fn opt_id(s: &Option<String>) -> Option<i64> {
    s.as_deref().and_then(|v| v.trim().parse().ok())
}

/// The unit a page is about: the one asked for, else the user's own, else
/// (an administrator) the first top unit.
async fn unit_of(st: &AppState, user: &User, asked: Option<i64>) -> Result<i64, WebError> {
    if let Some(id) = asked.or(user.p.unit_id) {
        return Ok(id);
    }
    st.store
        .top_units(&user.p.scope)
        .await?
        .first()
        .map(|u| u.id)
        .ok_or(WebError::NotFound)
}

/// A choice of a `<select>`.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn opt(value: impl ToString, label: impl ToString, current: &str) -> Opt {
    let value = value.to_string();
    Opt {
        selected: value == current,
        value,
        label: label.to_string(),
    }
}

// ---------------------------------------------------------------- inbox

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    unit: Option<String>,
    state: Option<String>,
    topic: Option<String>,
    severity: Option<String>,
    late: Option<String>,
    team: Option<String>,
    hamlet: Option<String>,
    sort: Option<String>,
    page: Option<String>,
    /// "1": only the reports I recorded for a resident.
    mine: Option<String>,
    done: Option<String>,
    failed: Option<String>,
    msg: Option<String>,
}

pub struct RowView {
    pub id: i64,
    pub code: String,
    pub topic: String,
    pub severity: &'static str,
    pub urgent: bool,
    pub state: &'static str,
    pub excerpt: String,
    pub hamlet: String,
    pub received: String,
    pub due: String,
    pub late: bool,
    pub escalated: bool,
    pub responsible: String,
    pub assignee: String,
}

#[derive(Template)]
#[template(path = "feedback_inbox.html")]
struct InboxPage {
    c: Chrome,
    fb: &'static Fb,
    unit_id: i64,
    heading: String,
    states: Vec<Opt>,
    topics: Vec<Opt>,
    severities: Vec<Opt>,
    teams: Vec<Opt>,
    hamlets: Vec<Opt>,
    sorts: Vec<Opt>,
    late: bool,
    rows: Vec<RowView>,
    count_line: String,
    page_line: String,
    prev: Option<String>,
    next: Option<String>,
    /// The page's own URL, to come back to after a bulk action.
    back: String,
    assignees: Vec<Opt>,
    officer: bool,
    templates: Vec<AnswerTemplate>,
    messages: Vec<String>,
    errors: Vec<String>,
    notices: Vec<NoticeView>,
    unread_line: Option<String>,
    /// "What I recorded": offered to those who record for residents.
    can_relay: bool,
    mine: bool,
    mine_label: &'static str,
}

pub struct NoticeView {
    pub when: String,
    pub body: String,
    pub link: Option<String>,
    pub unread: bool,
}

/// `GET /feedback`: a unit's inbox.
pub async fn inbox(State(st): State<AppState>, user: User, Query(q): Query<InboxQuery>) -> Page {
    let lang = user.lang;
    let fb = user.lang.t().fb;
    let viewer = Viewer::of(&user.p);
    let unit_id = unit_of(&st, &user, opt_id(&q.unit)).await?;
    let unit = st.store.unit(&user.p.scope, unit_id).await?;
    let state = StateFilter::parse(q.state.as_deref().unwrap_or(""));
    let severity = q.severity.as_deref().and_then(Severity::parse);
    let sort = match q.sort.as_deref() {
        Some("newest") => InboxSort::Newest,
        _ => InboxSort::Deadline,
    };
    let filter = InboxFilter {
        state,
        topic_id: opt_id(&q.topic),
        severity,
        late: q.late.as_deref().is_some_and(|v| !v.is_empty()),
        team_id: opt_id(&q.team),
        hamlet_id: opt_id(&q.hamlet),
        recorded_by: q
            .mine
            .as_deref()
            .is_some_and(|v| !v.is_empty())
            .then_some(user.p.account_id),
        sort,
        page: opt_id(&q.page).unwrap_or(0).clamp(0, 100_000),
    };
    let inbox = st.store.feedback_inbox(&viewer, unit_id, &filter).await?;
    let topics = st.store.topics().await?;
    // The inbox's tools (assign, templates) and confidential topics.
    let officer = viewer.may_at_all(Can::HandleFeedback);
    let confidential = viewer.sees_confidential();

    let cur = |v: Option<i64>| v.map(|i| i.to_string()).unwrap_or_default();
    let mut states = vec![
        opt("open", fb.state_open, state.as_str()),
        opt("all", fb.state_all, state.as_str()),
    ];
    states.extend(STATES.iter().map(|s| {
        opt(
            s.as_str(),
            pick(lang, s.label_vi(), s.label_en()),
            state.as_str(),
        )
    }));
    let topic_cur = cur(filter.topic_id);
    let mut topic_opts = vec![opt("", fb.any, &topic_cur)];
    topic_opts.extend(
        topics
            .iter()
            .filter(|t| confidential || !t.confidential)
            .map(|t| opt(t.id, topic_name(lang, t), &topic_cur)),
    );
    let sev_cur = severity.map(|s| s.as_str()).unwrap_or("");
    let mut severities = vec![opt("", fb.any, sev_cur)];
    severities.extend(
        Severity::ALL
            .iter()
            .map(|s| opt(s.as_str(), pick(lang, s.label_vi(), s.label_en()), sev_cur)),
    );
    // Teams and hamlets are listed where they are few: a commune and below.
    let local = matches!(
        unit.level,
        danvan_domain::UnitLevel::Commune | danvan_domain::UnitLevel::Hamlet
    );
    let (mut teams, mut hamlets) = (Vec::new(), Vec::new());
    if local {
        let team_cur = cur(filter.team_id);
        teams.push(opt("", fb.any, &team_cur));
        for t in st.store.team_loads(&user.p.scope, &unit.path).await? {
            teams.push(opt(
                t.id,
                format!("{} ({})", t.name, t.hamlet_name),
                &team_cur,
            ));
        }
        let hamlet_cur = cur(filter.hamlet_id);
        hamlets.push(opt("", fb.any, &hamlet_cur));
        let mut hs = st.store.hamlets_under(&unit.path).await?;
        hs.sort_by_cached_key(|(_, _, name)| danvan_domain::text::sort_key(name));
        for (id, _, name) in hs {
            hamlets.push(opt(id, name, &hamlet_cur));
        }
    }
    let sort_cur = if sort == InboxSort::Newest {
        "newest"
    } else {
        "deadline"
    };
    let sorts = vec![
        opt("deadline", fb.sort_deadline, sort_cur),
        opt("newest", fb.sort_newest, sort_cur),
    ];

    let rows = inbox
        .rows
        .iter()
        .map(|r| RowView {
            id: r.id,
            code: display_code(&r.code),
            topic: pick(lang, &r.topic_name_vi, &r.topic_name_en).to_string(),
            severity: severity_label(lang, r.severity),
            urgent: r.severity == Severity::Urgent,
            state: state_label(lang, r.state),
            excerpt: excerpt(&r.description, 120),
            hamlet: r.hamlet_name.clone(),
            received: when(r.received_at),
            due: when(r.due()),
            late: r.is_late(inbox.at),
            escalated: r.escalation_level > 0,
            responsible: r.responsible_label.clone(),
            assignee: r.assignee.clone().unwrap_or_default(),
        })
        .collect();

    // Links to the other pages keep the filters.
    let base_query = |page: i64| {
        let mut parts = vec![
            format!("unit={unit_id}"),
            format!("state={}", state.as_str()),
        ];
        for (k, v) in [
            ("topic", cur(filter.topic_id)),
            ("severity", sev_cur.to_string()),
            ("team", cur(filter.team_id)),
            ("hamlet", cur(filter.hamlet_id)),
            ("sort", sort_cur.to_string()),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", urlencode(&v)));
            }
        }
        if filter.late {
            parts.push("late=1".into());
        }
        if filter.recorded_by.is_some() {
            parts.push("mine=1".into());
        }
        if page > 0 {
            parts.push(format!("page={page}"));
        }
        format!("/feedback?{}", parts.join("&"))
    };
    let pages = inbox.pages().max(1);
    let prev = (inbox.page > 0).then(|| base_query(inbox.page - 1));
    let next = (inbox.page + 1 < pages).then(|| base_query(inbox.page + 1));
    let back = base_query(inbox.page);

    let assignees = if officer {
        assignee_options(
            fb,
            st.store
                .feedback_assignees(&viewer, unit_id)
                .await
                .unwrap_or_default(),
        )
    } else {
        Vec::new()
    };
    let templates = st
        .store
        .answer_templates(&viewer, unit_id)
        .await
        .unwrap_or_default();
    let mut messages = Vec::new();
    let mut errors = Vec::new();
    if let Some(n) = opt_id(&q.done).filter(|n| *n > 0) {
        messages.push(fb.bulk_done.replace("{n}", &n.to_string()));
    }
    if let Some(n) = opt_id(&q.failed).filter(|n| *n > 0) {
        errors.push(fb.bulk_failed.replace("{n}", &n.to_string()));
    }
    match q.msg.as_deref() {
        Some("none") => errors.push(fb.bulk_none.to_string()),
        Some("template") => messages.push(fb.template_added.to_string()),
        _ => {}
    }
    let (notices, unread) = st.store.unit_notices(&viewer, unit_id, 10).await?;
    let notices = notices
        .into_iter()
        .map(|n| NoticeView {
            when: when(n.created_at),
            body: n.body,
            link: n.feedback_id.map(|id| format!("/feedback/{id}")),
            unread: n.read_at.is_none(),
        })
        .collect();
    let unread_line = (unread > 0).then(|| fb.notices_unread.replace("{n}", &unread.to_string()));
    html(InboxPage {
        can_relay: user.may_at_all(Can::RelayFeedback),
        mine: filter.recorded_by.is_some(),
        mine_label: pick(lang, "Ý kiến tôi đã ghi", "Reports I recorded"),
        notices,
        unread_line,
        c: chrome(&user, &back),
        fb,
        unit_id,
        heading: fb.inbox_of.replace("{unit}", &unit.name),
        states,
        topics: topic_opts,
        severities,
        teams,
        hamlets,
        sorts,
        late: filter.late,
        rows,
        count_line: fb.count_line.replace("{n}", &inbox.total.to_string()),
        page_line: fb
            .page_of
            .replace("{p}", &(inbox.page + 1).to_string())
            .replace("{n}", &pages.to_string()),
        prev,
        next,
        back,
        assignees,
        officer,
        templates,
        messages,
        errors,
    })
}

fn assignee_options(fb: &Fb, people: Vec<Assignee>) -> Vec<Opt> {
    let mut v = vec![opt("", fb.unassign, "-")];
    v.extend(
        people
            .into_iter()
            .map(|a| opt(a.id, format!("{} — {}", a.display_name, a.unit_name), "-")),
    );
    v
}

fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

fn html<T: Template>(page: T) -> Page {
    Ok(Html(page.render()?).into_response())
}

/// Only a local path of the feedback pages, so a form cannot send a person
/// elsewhere.
fn back_to(s: &str) -> String {
    if s.starts_with("/feedback") && !s.starts_with("//") && !s.contains('\\') {
        s.to_string()
    } else {
        "/feedback".into()
    }
}

/// `POST /feedback/assign`: gives the selected items to one person (or to
/// nobody). Each item is its own guarded change; the page says how many
/// went through.
pub async fn bulk_assign(
    State(st): State<AppState>,
    user: User,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    user.check_csrf(get("csrf"))?;
    user.require(Can::HandleFeedback)?;
    let back = back_to(get("back"));
    let account_id = match get("account").trim() {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| WebError::Problem(Problem::BadChoice { field: "account" }))?,
        ),
    };
    let ids: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .take(INBOX_PAGE as usize)
        .collect();
    let sep = if back.contains('?') { '&' } else { '?' };
    if ids.is_empty() {
        return Ok(Redirect::to(&format!("{back}{sep}msg=none")).into_response());
    }
    let viewer = Viewer::of(&user.p);
    let (mut done, mut failed) = (0, 0);
    for id in ids {
        match st
            .store
            .act_on_feedback(&viewer, id, Action::Assign { account_id })
            .await
        {
            Ok(_) => done += 1,
            Err(StoreError::Db(e)) => return Err(WebError::Internal(e.to_string())),
            Err(_) => failed += 1,
        }
    }
    Ok(Redirect::to(&format!("{back}{sep}done={done}&failed={failed}")).into_response())
}

#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    csrf: String,
    unit: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

/// `POST /feedback/templates`: a new answer template for a unit.
pub async fn add_template(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<TemplateForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    let viewer = Viewer::of(&user.p);
    st.store
        .add_answer_template(&viewer, f.unit, &f.title, &f.body)
        .await?;
    Ok(Redirect::to(&format!("/feedback?unit={}&msg=template", f.unit)).into_response())
}

#[derive(Deserialize)]
pub struct UnitForm {
    #[serde(default)]
    csrf: String,
    unit: i64,
}

/// `POST /feedback/notices/read`: the unit's notices are read.
pub async fn read_notices(State(st): State<AppState>, user: User, Form(f): Form<UnitForm>) -> Page {
    user.check_csrf(&f.csrf)?;
    st.store
        .mark_notices_read(&Viewer::of(&user.p), f.unit)
        .await?;
    Ok(Redirect::to(&format!("/feedback?unit={}", f.unit)).into_response())
}

// ---------------------------------------------------------------- item

pub struct EventView {
    pub when: String,
    pub label: String,
    pub actor: String,
    pub body: String,
    pub public: bool,
}

/// One labelled line of the item's facts.
pub struct Fact {
    pub id: &'static str,
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "feedback_item.html")]
struct ItemPage {
    c: Chrome,
    fb: &'static Fb,
    id: i64,
    code: String,
    public_code: Option<String>,
    topic: String,
    state: &'static str,
    late: bool,
    confidential: bool,
    description: String,
    facts: Vec<Fact>,
    answer: Option<String>,
    draft: Option<String>,
    refusal: Option<String>,
    events: Vec<EventView>,
    /// Photo numbers (1-based).
    photos: Vec<i64>,
    can_ack: bool,
    can_start: bool,
    can_close: bool,
    can_refuse: bool,
    can_draft: bool,
    can_approve: bool,
    officer: bool,
    assignees: Vec<Opt>,
    templates: Vec<AnswerTemplate>,
    /// What the draft box holds: a template picked, the text sent back
    /// with an error, or the saved draft.
    draft_text: String,
    message: Option<String>,
    error: Option<String>,
    inbox_link: String,
}

#[derive(Deserialize, Default)]
pub struct ItemQuery {
    template: Option<String>,
    msg: Option<String>,
}

/// `GET /feedback/{id}`: an item, its timeline and what the user may do.
pub async fn item(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Query(q): Query<ItemQuery>,
) -> Page {
    let viewer = Viewer::of(&user.p);
    let f = st.store.feedback(&viewer, id).await?;
    let template = opt_id(&q.template);
    let templates = st
        .store
        .answer_templates(&viewer, f.responsible_unit_id)
        .await
        .unwrap_or_default();
    let draft_text = template
        .and_then(|t| templates.iter().find(|x| x.id == t))
        .map(|t| t.body.clone());
    let message = (q.msg.as_deref() == Some("done")).then(|| user.lang.t().fb.done.to_string());
    render_item(
        &st,
        &user,
        f,
        templates,
        draft_text,
        message,
        None,
        StatusCode::OK,
    )
    .await
}

/// "Name · phone · household code" of the resident a report was recorded
/// for, read within the viewer's scope (the mask has already removed the
/// household when the viewer may not know who it is).
async fn relayed_reporter(st: &AppState, user: &User, f: &Feedback) -> Option<String> {
    let h = st
        .store
        .household(&user.p.scope, f.household_id?)
        .await
        .ok()?;
    // Shown people of a household count like any other read of them.
    st.store
        .meter_reads(&Viewer::of(&user.p), &[h.id])
        .await
        .ok()?;
    let residents = st.store.residents(&user.p.scope, h.id).await.ok()?;
    let who = f
        .resident_id
        .and_then(|id| residents.iter().find(|r| r.id == id));
    let (name, phone) = match who {
        Some(r) => (r.full_name(), r.phone.clone().or(h.phone.clone())),
        None => (h.head_name.clone(), h.phone.clone()),
    };
    Some(
        [Some(name), phone, Some(h.code)]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
    )
}

#[allow(clippy::too_many_arguments)]
async fn render_item(
    st: &AppState,
    user: &User,
    f: Feedback,
    templates: Vec<AnswerTemplate>,
    draft_text: Option<String>,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let lang = user.lang;
    let fb = lang.t().fb;
    let viewer = Viewer::of(&user.p);
    let events = st.store.feedback_events(Some(&viewer), f.id).await?;
    let photos = if f.sealed {
        Vec::new()
    } else {
        (1..=st.store.photo_count(f.id).await?).collect()
    };
    let now = st.store.now();
    let state = f.state;
    let item = f.target();
    let officer = viewer.may(Can::HandleFeedback, &item);
    let leader = viewer.may(Can::ApproveFeedbackAnswer, &item);
    let assignees = if officer {
        assignee_options(
            fb,
            st.store
                .feedback_assignees(&viewer, f.responsible_unit_id)
                .await
                .unwrap_or_default(),
        )
    } else {
        Vec::new()
    };
    let t = lang.t();
    let mut facts = vec![
        Fact {
            id: "fact-severity",
            label: fb.col_severity,
            value: severity_label(lang, f.severity).to_string(),
        },
        Fact {
            id: "fact-hamlet",
            label: t.hamlet,
            value: f.hamlet_name.clone(),
        },
        Fact {
            id: "fact-received",
            label: t.status_received_at,
            value: when(f.received_at),
        },
        Fact {
            id: "fact-ack-due",
            label: fb.ack_due,
            value: when(f.ack_due),
        },
        Fact {
            id: "fact-due",
            label: t.status_due,
            value: when(f.resolve_due),
        },
        Fact {
            id: "fact-responsible",
            label: fb.col_responsible,
            value: f.responsible_label.clone(),
        },
        Fact {
            id: "fact-channel",
            label: fb.channel,
            value: pick(lang, f.channel.label_vi(), f.channel.label_en()).to_string(),
        },
    ];
    if let Some(a) = f.answered_at {
        facts.push(Fact {
            id: "fact-answered",
            label: t.status_answered_at,
            value: when(a),
        });
    }
    if let Some(m) = f.relay_method {
        facts.push(Fact {
            id: "fact-relay",
            label: fb.relay,
            value: pick(lang, m.label_vi(), m.label_en()).to_string(),
        });
        facts.push(Fact {
            id: "fact-consent",
            label: fb.consent,
            value: if f.identity_consent { fb.yes } else { fb.no }.to_string(),
        });
    }
    let reporter = match (&f.reporter_name, &f.reporter_phone) {
        // Recorded for a household and not masked: the resident (or the
        // household's head) from the registry, so they can be called back.
        (None, None) if f.household_id.is_some() => relayed_reporter(st, user, &f)
            .await
            .unwrap_or_else(|| fb.reporter_hidden.to_string()),
        (None, None) => fb.reporter_hidden.to_string(),
        (n, p) => [n.as_deref(), p.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
    };
    facts.push(Fact {
        id: "fact-reporter",
        label: fb.reporter,
        value: reporter,
    });
    if f.escalation_level > 0 {
        facts.push(Fact {
            id: "fact-escalation",
            label: fb.escalation,
            value: f.escalation_level.to_string(),
        });
    }
    if let Some(r) = f.rating {
        facts.push(Fact {
            id: "fact-rating",
            label: fb.rating,
            value: format!("{r}/5"),
        });
    }
    let events = events
        .into_iter()
        .map(|e| {
            let label = match e.kind.as_str() {
                "received" => t.ev_received.to_string(),
                "note" => t.ev_note.to_string(),
                "answer_approved" => t.ev_answer.to_string(),
                "answer_drafted" => fb.draft.to_string(),
                "assigned" => fb.assign_to.to_string(),
                "linked" => fb.duplicate_of.to_string(),
                "refused" => t.ev_refused.to_string(),
                "rated" => t.ev_rated.to_string(),
                "escalated" => t.ev_escalated.to_string(),
                _ => match e.to_state {
                    Some(s) => state_label(lang, s).to_string(),
                    None => t.ev_other.to_string(),
                },
            };
            EventView {
                when: when(e.at),
                label,
                actor: e.actor,
                body: e.body,
                public: e.public,
            }
        })
        .collect();
    let draft_text = draft_text
        .or_else(|| f.answer_draft.clone())
        .unwrap_or_default();
    let page = ItemPage {
        c: chrome(user, &format!("/feedback/{}", f.id)),
        fb,
        id: f.id,
        code: display_code(&f.code),
        public_code: (!f.confidential).then(|| display_code(&f.code)),
        topic: pick(lang, &f.topic_name_vi, &f.topic_name_en).to_string(),
        state: state_label(lang, f.state),
        late: f.is_late(now),
        confidential: f.confidential,
        description: if f.sealed {
            fb.sealed.to_string()
        } else {
            f.description.clone()
        },
        facts,
        answer: f.answer.clone(),
        draft: f.answer_draft.clone().filter(|_| state.is_open()),
        refusal: f.refusal_reason.as_ref().map(|r| match &f.refer_to {
            Some(w) if !w.is_empty() => format!("{r} — {w}"),
            _ => r.clone(),
        }),
        events,
        photos,
        can_ack: officer && state.can_move_to(FeedbackState::Acknowledged),
        can_start: officer && state.can_move_to(FeedbackState::InProgress),
        can_close: officer && state.can_move_to(FeedbackState::Closed),
        can_refuse: officer && state.can_move_to(FeedbackState::Refused),
        can_draft: officer && state.is_open(),
        can_approve: leader
            && f.answer_draft.is_some()
            && state.can_move_to(FeedbackState::Answered),
        officer,
        assignees,
        templates,
        draft_text,
        message,
        error,
        inbox_link: format!("/feedback?unit={}", f.responsible_unit_id),
    };
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    public: Option<String>,
    #[serde(default)]
    account: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    refer_to: String,
    #[serde(default)]
    of_code: String,
}

/// `POST /feedback/{id}/act`: one action on an item. A refusal by the
/// store (a wrong state, an empty text, someone else's change in between)
/// shows the page again with the message and what was typed.
pub async fn act(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<ActForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    let viewer = Viewer::of(&user.p);
    let action = match f.action.as_str() {
        "ack" => Action::Acknowledge,
        "start" => Action::Start,
        "close" => Action::Close,
        "note" => Action::Note {
            text: f.text.clone(),
            public: f.public.is_some(),
        },
        "assign" => Action::Assign {
            account_id: match f.account.trim() {
                "" => None,
                v => Some(
                    v.parse()
                        .map_err(|_| WebError::Problem(Problem::BadChoice { field: "account" }))?,
                ),
            },
        },
        "draft" => Action::DraftAnswer {
            text: f.text.clone(),
        },
        "approve" => Action::ApproveAnswer,
        "refuse" => Action::Refuse {
            reason: f.reason.clone(),
            refer_to: f.refer_to.clone(),
        },
        "link" => Action::LinkDuplicate {
            of_code: f.of_code.clone(),
        },
        _ => return Err(WebError::Problem(Problem::BadChoice { field: "action" })),
    };
    match st.store.act_on_feedback(&viewer, id, action).await {
        Ok(_) => Ok(Redirect::to(&format!("/feedback/{id}?msg=done")).into_response()),
        Err(
            e @ (StoreError::Conflict(_) | StoreError::Rejected(_) | StoreError::Invalid { .. }),
        ) => {
            let msg = WebError::from(e).message(user.lang);
            let item = st.store.feedback(&viewer, id).await?;
            let templates = st
                .store
                .answer_templates(&viewer, item.responsible_unit_id)
                .await
                .unwrap_or_default();
            let typed = (f.action == "draft").then(|| f.text.clone());
            render_item(
                &st,
                &user,
                item,
                templates,
                typed,
                None,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /feedback/{id}/photos/{n}`: a photo of an item the user may see.
/// Not cached by shared caches: it may belong to a confidential item.
pub async fn photo(
    State(st): State<AppState>,
    user: User,
    Path((id, n)): Path<(i64, String)>,
) -> Page {
    let n: i64 = n.parse().map_err(|_| WebError::NotFound)?;
    let (mime, bytes) = st.store.feedback_photo(&Viewer::of(&user.p), id, n).await?;
    crate::report::photo_response(&mime, bytes, "private, max-age=3600")
}

// ---------------------------------------------------------------- dashboard

pub struct CountsView {
    pub label: String,
    pub link: Option<String>,
    pub cells: Vec<String>,
    pub open: String,
    pub total: String,
}

fn counts_view(lang: Lang, label: String, link: Option<String>, c: &StateCounts) -> CountsView {
    CountsView {
        label,
        link,
        cells: c.by_state.iter().map(|n| num::int(lang, *n)).collect(),
        open: num::int(lang, c.open()),
        total: num::int(lang, c.total()),
    }
}

pub struct LateView {
    pub id: i64,
    pub code: String,
    pub topic: String,
    pub state: &'static str,
    pub hamlet: String,
    pub responsible: String,
    pub due: String,
    pub escalated: bool,
}

#[derive(Template)]
#[template(path = "feedback_dashboard.html")]
struct DashboardPage {
    c: Chrome,
    fb: &'static Fb,
    unit_id: i64,
    unit_name: String,
    state_labels: Vec<&'static str>,
    totals: CountsView,
    by_topic: Vec<CountsView>,
    by_child: Vec<CountsView>,
    topics: Vec<Opt>,
    topic_query: String,
    on_time: String,
    on_time_of: String,
    median_ack: String,
    median_resolve: String,
    late_count: String,
    late_shown: Option<String>,
    late: Vec<LateView>,
    charts: DashboardCharts,
}

#[derive(Deserialize, Default)]
pub struct DashboardQuery {
    unit: Option<String>,
    topic: Option<String>,
}

async fn load_dashboard(
    st: &AppState,
    user: &User,
    q: &DashboardQuery,
) -> Result<Dashboard, WebError> {
    let unit_id = unit_of(st, user, opt_id(&q.unit)).await?;
    Ok(st
        .store
        .feedback_dashboard(&Viewer::of(&user.p), unit_id, opt_id(&q.topic))
        .await?)
}

fn state_labels(lang: Lang) -> Vec<&'static str> {
    STATES
        .iter()
        .map(|s| pick(lang, s.label_vi(), s.label_en()))
        .collect()
}

/// `GET /feedback/dashboard`: a unit's counts, times and late list.
pub async fn dashboard(
    State(st): State<AppState>,
    user: User,
    Query(q): Query<DashboardQuery>,
) -> Page {
    let lang = user.lang;
    let fb = lang.t().fb;
    let d = load_dashboard(&st, &user, &q).await?;
    let unit_id = d.unit.id;
    let topic_cur = d.topic_filter.map(|t| t.to_string()).unwrap_or_default();
    let topic_query = if topic_cur.is_empty() {
        String::new()
    } else {
        format!("&topic={topic_cur}")
    };
    let mut topics = vec![opt("", fb.any, &topic_cur)];
    topics.extend(
        d.by_topic
            .iter()
            .map(|r| opt(r.topic.id, topic_name(lang, &r.topic), &topic_cur)),
    );
    let weekly = st
        .store
        .feedback_weekly(&Viewer::of(&user.p), unit_id)
        .await?;
    let (on_time, on_time_of) = match d.on_time_percent() {
        Some(p) => (
            num::percent(lang, p),
            fb.on_time_of
                .replace("{k}", &num::int(lang, d.answered_on_time))
                .replace("{n}", &num::int(lang, d.answered)),
        ),
        None => (fb.no_data.to_string(), String::new()),
    };
    let page = DashboardPage {
        c: chrome(
            &user,
            &format!("/feedback/dashboard?unit={unit_id}{topic_query}"),
        ),
        fb,
        unit_id,
        unit_name: d.unit.name.clone(),
        state_labels: state_labels(lang),
        totals: counts_view(lang, fb.total.to_string(), None, &d.totals),
        by_topic: d
            .by_topic
            .iter()
            .map(|r| counts_view(lang, topic_name(lang, &r.topic), None, &r.counts))
            .collect(),
        by_child: d
            .by_child
            .iter()
            .map(|r| {
                counts_view(
                    lang,
                    r.name.clone(),
                    Some(format!(
                        "/feedback/dashboard?unit={}{topic_query}",
                        r.unit_id
                    )),
                    &r.counts,
                )
            })
            .collect(),
        topics,
        topic_query,
        on_time,
        on_time_of,
        median_ack: duration(lang, d.median_ack_minutes),
        median_resolve: duration(lang, d.median_resolve_minutes),
        late_count: fb.late_count.replace("{n}", &num::int(lang, d.late_total)),
        late_shown: (d.late_total > d.late.len() as i64).then(|| {
            fb.late_shown
                .replace("{n}", &num::int(lang, d.late.len() as i64))
        }),
        charts: dashboard_charts(lang, &weekly, &d),
        late: d
            .late
            .iter()
            .map(|l| LateView {
                id: l.id,
                code: display_code(&l.code),
                topic: pick(lang, &l.topic_name_vi, &l.topic_name_en).to_string(),
                state: state_label(lang, l.state),
                hamlet: l.hamlet_name.clone(),
                responsible: l.responsible_label.clone(),
                due: when(if l.state == FeedbackState::Received {
                    l.ack_due.min(l.resolve_due)
                } else {
                    l.resolve_due
                }),
                escalated: l.escalation_level > 0,
            })
            .collect(),
    };
    html(page)
}

/// A week's row of a weekly table: its Monday, a count per topic, the
/// total.
pub struct WeekRow {
    pub label: String,
    pub cells: Vec<String>,
    pub total: String,
}

pub struct OnTimeView {
    pub name: String,
    pub answered: String,
    pub on_time: String,
    pub share: String,
}

/// The dashboard's charts and the tables of their numbers.
pub struct DashboardCharts {
    pub topics: Vec<String>,
    pub received: Svg,
    pub received_rows: Vec<WeekRow>,
    pub resolved: Svg,
    pub resolved_rows: Vec<WeekRow>,
    pub on_time: Svg,
    pub on_time_rows: Vec<OnTimeView>,
    pub l: &'static ChartWords,
}

pub struct ChartWords {
    pub received: &'static str,
    pub received_desc: &'static str,
    pub resolved: &'static str,
    pub resolved_desc: &'static str,
    pub on_time: &'static str,
    pub on_time_desc: &'static str,
    pub week: &'static str,
    pub answered: &'static str,
    pub answered_on_time: &'static str,
    pub share: &'static str,
    pub table: &'static str,
}

static CHART_VI: ChartWords = ChartWords {
    received: "Phản ánh nhận theo tuần, theo lĩnh vực",
    received_desc: "Số phản ánh nhận được mỗi tuần (từ thứ Hai) trong 12 tuần gần nhất, chia theo lĩnh vực. Bảng bên cạnh ghi các con số.",
    resolved: "Đã giải quyết, theo tuần nhận",
    resolved_desc: "Trong số phản ánh nhận mỗi tuần, số đã trả lời, đã đóng hoặc từ chối đến nay, chia theo lĩnh vực. Bảng bên cạnh ghi các con số.",
    on_time: "Tỉ lệ trả lời đúng hạn theo đơn vị",
    on_time_desc: "Mỗi đơn vị trực thuộc: phần trăm phản ánh được trả lời trước hạn. Bảng bên cạnh ghi các con số.",
    week: "Tuần từ",
    answered: "Đã trả lời",
    answered_on_time: "Đúng hạn",
    share: "Tỉ lệ",
    table: "Số liệu",
};

static CHART_EN: ChartWords = ChartWords {
    received: "Feedback received per week, by topic",
    received_desc: "Reports received each week (from Monday) over the last 12 weeks, by topic. The table beside it gives the numbers.",
    resolved: "Resolved, by week received",
    resolved_desc: "Of the reports received each week, those answered, closed or refused since, by topic. The table beside it gives the numbers.",
    on_time: "Answered on time, by unit",
    on_time_desc: "For each unit below: the share of reports answered before their deadline. The table beside it gives the numbers.",
    week: "Week of",
    answered: "Answered",
    answered_on_time: "On time",
    share: "Share",
    table: "Numbers",
};

fn week_label(monday: i64) -> String {
    calendar::to_local(monday).format("%d/%m").to_string()
}

fn week_rows(lang: Lang, labels: &[String], series: &[Series]) -> Vec<WeekRow> {
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let cells: Vec<i64> = series.iter().map(|s| s.values[i]).collect();
            WeekRow {
                label: label.clone(),
                total: num::int(lang, cells.iter().sum()),
                cells: cells.into_iter().map(|n| num::int(lang, n)).collect(),
            }
        })
        .collect()
}

fn dashboard_charts(lang: Lang, weekly: &Weekly, d: &Dashboard) -> DashboardCharts {
    let l = pick_words(lang);
    let labels: Vec<String> = weekly.weeks.iter().map(|w| week_label(*w)).collect();
    let series = |resolved: bool| -> Vec<Series> {
        weekly
            .topics
            .iter()
            .map(|t| Series {
                name: topic_name(lang, &t.topic),
                values: if resolved {
                    t.resolved.clone()
                } else {
                    t.received.clone()
                },
            })
            .collect()
    };
    let (received, resolved) = (series(false), series(true));
    let frame = |id, title, desc| Frame {
        id,
        title,
        desc,
        lang,
    };
    let shares: Vec<(String, Option<f64>)> = d
        .on_time_by_child
        .iter()
        .map(|r| (r.name.clone(), r.percent()))
        .collect();
    DashboardCharts {
        topics: received.iter().map(|s| s.name.clone()).collect(),
        received: chart::stacked_bars(
            &frame("chart-received", l.received, l.received_desc),
            &labels,
            &received,
        ),
        received_rows: week_rows(lang, &labels, &received),
        resolved: chart::stacked_bars(
            &frame("chart-resolved", l.resolved, l.resolved_desc),
            &labels,
            &resolved,
        ),
        resolved_rows: week_rows(lang, &labels, &resolved),
        on_time: chart::share_bars(&frame("chart-on-time", l.on_time, l.on_time_desc), &shares),
        on_time_rows: d
            .on_time_by_child
            .iter()
            .map(|r| OnTimeView {
                name: r.name.clone(),
                answered: num::int(lang, r.answered),
                on_time: num::int(lang, r.on_time),
                share: r.percent().map_or("—".into(), |p| num::percent(lang, p)),
            })
            .collect(),
        l,
    }
}

fn pick_words(lang: Lang) -> &'static ChartWords {
    match lang {
        Lang::Vi => &CHART_VI,
        Lang::En => &CHART_EN,
    }
}

/// The charts' numbers as worksheets: received and resolved per week by
/// topic, and the share answered on time per unit below.
fn chart_tables(lang: Lang, weekly: &Weekly, d: &Dashboard, title: &str) -> Vec<Table> {
    let l = pick_words(lang);
    let mut header = vec![l.week.to_string()];
    header.extend(weekly.topics.iter().map(|t| topic_name(lang, &t.topic)));
    header.push(lang.t().fb.total.into());
    let week_table = |name: &str, resolved: bool| Table {
        name: name.into(),
        title: title.into(),
        header: header.clone(),
        rows: weekly
            .weeks
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let cells: Vec<i64> = weekly
                    .topics
                    .iter()
                    .map(|t| {
                        if resolved {
                            t.resolved[i]
                        } else {
                            t.received[i]
                        }
                    })
                    .collect();
                let mut row = vec![Cell::Text(week_label(*w))];
                row.extend(cells.iter().map(|n| Cell::Number(*n as f64)));
                row.push(Cell::Number(cells.iter().sum::<i64>() as f64));
                row
            })
            .collect(),
    };
    vec![
        week_table(pick(lang, "Nhận theo tuần", "Received by week"), false),
        week_table(pick(lang, "Giải quyết theo tuần", "Resolved by week"), true),
        Table {
            name: pick(lang, "Đúng hạn theo đơn vị", "On time by unit").into(),
            title: title.into(),
            header: vec![
                lang.t().fb.unit.into(),
                l.answered.into(),
                l.answered_on_time.into(),
                l.share.into(),
            ],
            rows: d
                .on_time_by_child
                .iter()
                .map(|r| {
                    vec![
                        Cell::Text(r.name.clone()),
                        Cell::Number(r.answered as f64),
                        Cell::Number(r.on_time as f64),
                        r.percent().map_or(Cell::Text("—".into()), |p| {
                            Cell::Number((p * 10.0).round() / 10.0)
                        }),
                    ]
                })
                .collect(),
        },
    ]
}

/// `GET /feedback/dashboard.xlsx`: the same figures as a workbook, one
/// worksheet each for topics, units below and late items. Written to the
/// audit log (the late list names places).
pub async fn dashboard_xlsx(
    State(st): State<AppState>,
    user: User,
    Query(q): Query<DashboardQuery>,
) -> Page {
    let lang = user.lang;
    let fb = lang.t().fb;
    let d = load_dashboard(&st, &user, &q).await?;
    let title = format!("{} — {} — {}", fb.dashboard_title, d.unit.name, when(d.at));
    let weekly = st
        .store
        .feedback_weekly(&Viewer::of(&user.p), d.unit.id)
        .await?;
    let chart_sheets = chart_tables(lang, &weekly, &d, &title);
    let mut header: Vec<String> = vec![String::new()];
    header.extend(state_labels(lang).iter().map(|s| s.to_string()));
    header.push(fb.open.into());
    header.push(fb.total.into());
    let row = |label: String, c: &StateCounts| {
        let mut r = vec![Cell::Text(label)];
        r.extend(c.by_state.iter().map(|n| Cell::Number(*n as f64)));
        r.push(Cell::Number(c.open() as f64));
        r.push(Cell::Number(c.total() as f64));
        r
    };
    let mut topic_rows: Vec<Vec<Cell>> = d
        .by_topic
        .iter()
        .map(|r| row(topic_name(lang, &r.topic), &r.counts))
        .collect();
    topic_rows.push(row(fb.total.into(), &d.totals));
    let mut summary = vec![
        vec![
            Cell::Text(fb.on_time.into()),
            Cell::Text(
                d.on_time_percent()
                    .map_or(fb.no_data.to_string(), |p| format!("{p:.1}%")),
            ),
        ],
        vec![
            Cell::Text(fb.median_ack.into()),
            Cell::Text(duration(lang, d.median_ack_minutes)),
        ],
        vec![
            Cell::Text(fb.median_resolve.into()),
            Cell::Text(duration(lang, d.median_resolve_minutes)),
        ],
        vec![
            Cell::Text(fb.late_list.into()),
            Cell::Number(d.late_total as f64),
        ],
    ];
    summary.insert(
        0,
        vec![Cell::Text(fb.unit.into()), Cell::Text(d.unit.name.clone())],
    );
    let mut topic_header = header.clone();
    topic_header[0] = fb.col_topic.into();
    let mut child_header = header;
    child_header[0] = fb.unit.into();
    let tables = vec![
        Table {
            name: fb.dashboard_title.into(),
            title: title.clone(),
            header: vec![String::new(), String::new()],
            rows: summary,
        },
        Table {
            name: fb.by_topic.into(),
            title: title.clone(),
            header: topic_header,
            rows: topic_rows,
        },
        Table {
            name: fb.by_child.into(),
            title: title.clone(),
            header: child_header,
            rows: d
                .by_child
                .iter()
                .map(|r| row(r.name.clone(), &r.counts))
                .collect(),
        },
        Table {
            name: fb.late_list.into(),
            title,
            header: vec![
                fb.col_code.into(),
                fb.col_topic.into(),
                fb.col_state.into(),
                fb.col_place.into(),
                fb.col_responsible.into(),
                fb.col_due.into(),
            ],
            rows: d
                .late
                .iter()
                .map(|l| {
                    vec![
                        Cell::Text(display_code(&l.code)),
                        Cell::Text(pick(lang, &l.topic_name_vi, &l.topic_name_en).to_string()),
                        Cell::Text(state_label(lang, l.state).to_string()),
                        Cell::Text(l.hamlet_name.clone()),
                        Cell::Text(l.responsible_label.clone()),
                        Cell::Text(when(l.resolve_due)),
                    ]
                })
                .collect(),
        },
    ];
    let mut tables = tables;
    tables.extend(chart_sheets);
    let bytes =
        danvan_sheet::write_tables_xlsx(&tables).map_err(|e| WebError::Internal(e.to_string()))?;
    st.store
        .audit(
            &user.p.actor(),
            "export_feedback_dashboard",
            "unit",
            &d.unit.id.to_string(),
            &d.unit.path,
            serde_json::json!({"topic": d.topic_filter, "late_rows": d.late.len()}),
        )
        .await?;
    let disposition = format!("attachment; filename=\"phan-anh-{}.xlsx\"", d.unit.id);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
