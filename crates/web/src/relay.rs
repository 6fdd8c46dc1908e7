//! A team member records a concern on a resident's behalf (from a home
//! visit, a call, the group chat, a meeting): the household's residents to
//! pick from, how it came, and whether the resident agrees that their
//! identity goes up the chain. The store checks that the household is in
//! the member's part of the tree and records the member as the relay.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use danvan_domain::feedback::{Channel, RelayMethod, Severity};
use danvan_domain::policy::Action;
use danvan_domain::problem::Problem;
use danvan_store::feedback::NewFeedback;
use danvan_store::StoreError;
use serde::Deserialize;

use crate::auth::User;
use crate::error::WebError;
use crate::feedback_pages::Opt;
use crate::i18n::{pick, Fb};
use crate::pages::{chrome, Chrome};
use crate::AppState;

type Page = Result<Response, WebError>;

#[derive(Deserialize, Default)]
pub struct RelayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    submission_key: String,
    #[serde(default)]
    resident: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Template)]
#[template(path = "feedback_relay.html")]
struct RelayPage {
    c: Chrome,
    fb: &'static Fb,
    household_id: i64,
    household_name: String,
    submission_key: String,
    residents: Vec<Opt>,
    topics: Vec<Opt>,
    severities: Vec<Opt>,
    methods: Vec<Opt>,
    consent: bool,
    description: String,
    error: Option<String>,
}

fn opt(value: impl ToString, label: impl ToString, current: &str) -> Opt {
    let value = value.to_string();
    Opt {
        selected: value == current,
        value,
        label: label.to_string(),
    }
}

async fn render(
    st: &AppState,
    user: &User,
    id: i64,
    f: RelayForm,
    error: Option<String>,
    status: StatusCode,
) -> Page {
    let lang = user.lang;
    let fb = lang.t().fb;
    let h = st.store.household(&user.p.scope, id).await?;
    st.store
        .meter_reads(&danvan_store::Viewer::of(&user.p), &[h.id])
        .await?;
    let mut residents = vec![opt("", fb.relay_household_only, &f.resident)];
    for r in st.store.residents(&user.p.scope, id).await? {
        residents.push(opt(r.id, r.full_name(), &f.resident));
    }
    let mut topics = vec![opt("", fb.choose, &f.topic)];
    for t in st.store.topics().await? {
        let name = pick(lang, &t.name_vi, &t.name_en).to_string();
        topics.push(opt(&t.code, name, &f.topic));
    }
    let severity = if f.severity.is_empty() {
        "normal"
    } else {
        f.severity.as_str()
    };
    let severities = Severity::ALL
        .iter()
        .map(|s| opt(s.as_str(), pick(lang, s.label_vi(), s.label_en()), severity))
        .collect();
    let method = if f.method.is_empty() {
        "home_visit"
    } else {
        f.method.as_str()
    };
    let methods = RelayMethod::ALL
        .iter()
        .map(|m| opt(m.as_str(), pick(lang, m.label_vi(), m.label_en()), method))
        .collect();
    let page = RelayPage {
        c: chrome(user, &format!("/households/{id}/feedback")),
        fb,
        household_id: id,
        household_name: h.head_name.clone(),
        submission_key: if f.submission_key.is_empty() {
            hex::encode(rand::random::<[u8; 16]>())
        } else {
            f.submission_key.chars().take(100).collect()
        },
        residents,
        topics,
        severities,
        methods,
        consent: f.consent.is_some(),
        description: f.description,
        error,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /households/{id}/feedback`: the form.
pub async fn form(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    user.require(Action::RelayFeedback)?;
    render(&st, &user, id, RelayForm::default(), None, StatusCode::OK).await
}

/// `POST /households/{id}/feedback`: records it, then shows the item.
pub async fn submit(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<RelayForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    user.require(Action::RelayFeedback)?;
    let h = st.store.household(&user.p.scope, id).await?;
    let resident_id = match f.resident.trim() {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| WebError::Problem(Problem::BadChoice { field: "resident" }))?,
        ),
    };
    let problem = |msg: &str| Some(msg.to_string());
    let method = RelayMethod::parse(&f.method);
    let severity = Severity::parse(&f.severity);
    let error = if f.topic.is_empty() {
        problem(user.lang.t().err_topic)
    } else if method.is_none() || severity.is_none() {
        problem(user.lang.t().fb.relay_how)
    } else {
        None
    };
    if error.is_some() {
        return render(&st, &user, id, f, error, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let new = NewFeedback {
        topic: f.topic.clone(),
        severity: severity.unwrap_or(Severity::Normal),
        channel: Channel::Member,
        description: f.description.clone(),
        hamlet_id: h.hamlet_id,
        lat: None,
        lon: None,
        reporter_name: None,
        reporter_phone: None,
        anonymous: false,
        household_id: Some(id),
        resident_id,
        relay_method: method,
        identity_consent: f.consent.is_some(),
        submission_key: Some(f.submission_key.chars().take(100).collect())
            .filter(|k: &String| !k.is_empty()),
        photos: Vec::new(),
    };
    match st
        .store
        .submit_feedback(&user.p.actor(), &user.p.scope, &new)
        .await
    {
        Ok(r) => Ok(Redirect::to(&format!("/feedback/{}?msg=done", r.id)).into_response()),
        Err(
            e @ (StoreError::Invalid { .. } | StoreError::Rejected(_) | StoreError::Conflict(_)),
        ) => {
            let msg = WebError::from(e).message(user.lang);
            render(
                &st,
                &user,
                id,
                f,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
