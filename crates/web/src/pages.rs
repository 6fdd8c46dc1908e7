//! Page handlers: one per page, each reading through the store with the
//! caller's scope, rendering an askama template. Forms carry a CSRF token and
//! answer bad input with the form again and a message beside it.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use danvan_domain::policy::{Action, Target};
use danvan_domain::problem::Problem;
use danvan_domain::unit::UnitEventKind;
use danvan_domain::{date, Birth, CitizenId, Gender, PersonName, Phone, Reach, UnitLevel};
use danvan_store::registry::household::ResidentEdit;
use danvan_store::registry::import::{ImportError, ImportOutcome};
use danvan_store::registry::stats::{Counts, TeamLoad};
use danvan_store::registry::unit::Unit;
use danvan_store::{Scope, Viewer};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::auth::{
    cookie, same_token, set_cookie, ClientAddr, User, DEVICE_COOKIE, LANG_COOKIE, PRE_CSRF_COOKIE,
    SESSION_COOKIE,
};
use crate::error::{urlencode, WebError};
use crate::i18n::{Lang, Tr};
use crate::{AppState, MAX_UPLOAD_BYTES};

type Page = Result<Response, WebError>;

pub struct NavUser {
    pub username: String,
    pub can_import: bool,
    pub can_audit: bool,
    pub can_manage_accounts: bool,
}

/// What every page's frame needs.
pub struct Chrome {
    pub t: &'static Tr,
    pub lang: &'static str,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub here: String,
}

impl Chrome {
    /// A count in the page's language (1.786 · 1,786), for templates
    /// that get raw numbers: `{{ c.int(n) }}`.
    pub fn int(&self, n: &i64) -> String {
        crate::num::int(Lang::from_code(self.lang), *n)
    }
}

pub(crate) fn chrome(user: &User, here: &str) -> Chrome {
    Chrome {
        t: user.lang.t(),
        lang: user.lang.code(),
        user: Some(NavUser {
            username: user.p.username.clone(),
            can_import: user.may_at_all(Action::ImportRegistry),
            can_audit: user.may_at_all(Action::ReadAudit),
            can_manage_accounts: user.may_at_all(Action::ManageAccounts),
        }),
        csrf: user.csrf.clone(),
        here: urlencode(here),
    }
}

fn html<T: Template>(page: T) -> Page {
    Ok(Html(page.render()?).into_response())
}

/// The label in the reader's language.
fn label(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

fn ymd_vn(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(date::format_vn_date)
}

fn level_label(lang: Lang, u: &Unit) -> &'static str {
    label(lang, u.level.label_vi(), u.level.label_en())
}

// ---------------------------------------------------------------- login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    csrf: String,
    next: String,
    login: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a path of this site, so the login form or the language switch
/// cannot send a person elsewhere: one leading `/`, then no `/` or `\`
/// (`//evil`, `/\evil` are other hosts to a browser), and no control
/// character or space anywhere (a browser drops a tab or newline inside
/// a URL, so `/\t/evil` becomes `//evil`).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n[1..].starts_with(['/', '\\'])
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.to_string()
        }
        _ => "/".into(),
    }
}

pub fn anon_chrome(lang: Lang) -> Chrome {
    Chrome {
        t: lang.t(),
        lang: lang.code(),
        user: None,
        csrf: String::new(),
        here: "/login".into(),
    }
}

pub async fn login_form(
    State(st): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Page {
    let (token, fresh) = match cookie(&headers, PRE_CSRF_COOKIE) {
        Some(t) if t.len() == 64 => (t.to_string(), false),
        _ => (danvan_store::registry::account::new_token().0, true),
    };
    let page = LoginPage {
        c: anon_chrome(lang),
        csrf: token.clone(),
        next: safe_next(q.next.as_deref()),
        login: String::new(),
        error: None,
    };
    let mut res = html(page)?;
    if fresh {
        if let Ok(v) = set_cookie(PRE_CSRF_COOKIE, &token, 86400, st.secure_cookies).parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(st): State<AppState>,
    lang: Lang,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Page {
    let expected = cookie(&headers, PRE_CSRF_COOKIE).unwrap_or("");
    if !same_token(expected, &f.csrf) {
        return Err(WebError::Csrf);
    }
    let next = safe_next(f.next.as_deref());
    let device = cookie(&headers, DEVICE_COOKIE);
    match st
        .store
        .authenticate(&f.login, &f.password, &addr, device)
        .await?
    {
        Ok(login) => {
            let (token, _) = st.store.create_session(login.principal.account_id).await?;
            let mut res = Redirect::to(&next).into_response();
            let mut cookies = vec![set_cookie(
                SESSION_COOKIE,
                &token,
                danvan_store::registry::account::SESSION_SECONDS,
                st.secure_cookies,
            )];
            if let Some(d) = &login.device {
                cookies.push(set_cookie(
                    DEVICE_COOKIE,
                    d,
                    danvan_store::registry::account::DEVICE_SECONDS,
                    st.secure_cookies,
                ));
            }
            for c in cookies {
                if let Ok(v) = c.parse() {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            Ok(res)
        }
        Err(e) => {
            use danvan_store::registry::account::AuthError;
            let (problem, status) = match e {
                AuthError::TooManyAttempts(seconds) => (
                    Problem::PasswordWait { seconds },
                    StatusCode::TOO_MANY_REQUESTS,
                ),
                AuthError::BadCredentials => (Problem::BadCredentials, StatusCode::UNAUTHORIZED),
            };
            let login: String = f.login.chars().take(100).collect();
            let page = LoginPage {
                c: anon_chrome(lang),
                csrf: expected.to_string(),
                next,
                login,
                error: Some(crate::problem_text::problem(lang, &problem)),
            };
            Ok((status, Html(page.render()?)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(State(st): State<AppState>, user: User, Form(f): Form<CsrfForm>) -> Page {
    user.check_csrf(&f.csrf)?;
    st.store.delete_session(&user.token).await?;
    st.store.record_logout(&user.p).await?;
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", 0, st.secure_cookies).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct LangQuery {
    set: Option<String>,
    next: Option<String>,
}

pub async fn set_lang(Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::from_code(q.set.as_deref().unwrap_or("vi"));
    let mut res = Redirect::to(&safe_next(q.next.as_deref())).into_response();
    if let Ok(v) = set_cookie(LANG_COOKIE, lang.code(), 365 * 86400, false).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}

// ---------------------------------------------------------------- home, units

/// `GET /`: the signed-in person's home, what is due for them (`home`).
pub async fn home(State(st): State<AppState>, user: User) -> Page {
    Ok(Html(crate::home::page(&st, &user).await?).into_response())
}

#[derive(Template)]
#[template(path = "units.html")]
struct UnitsPage {
    c: Chrome,
    units: Vec<Unit>,
}

pub async fn units(State(st): State<AppState>, user: User) -> Page {
    let units = st.store.top_units(&user.p.scope).await?;
    html(UnitsPage {
        c: chrome(&user, "/units"),
        units,
    })
}

#[derive(Template)]
#[template(path = "unit.html")]
struct UnitPage {
    c: Chrome,
    unit: Unit,
    level_label: &'static str,
    valid_from: Option<String>,
    valid_to: Option<String>,
    ancestors: Vec<Unit>,
    counts: Counts,
    children: Vec<(Unit, Counts)>,
    teams: Vec<TeamLoad>,
    unassigned: Vec<danvan_store::registry::household::Household>,
    can_import: bool,
    can_export: bool,
    keep: Option<crate::keeping::UnitKeep>,
}

pub async fn unit(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    let scope = &user.p.scope;
    let unit = st.store.unit(scope, id).await?;
    let ancestors = st
        .store
        .ancestors(&unit)
        .await?
        .into_iter()
        .filter(|a| scope.contains_path(&a.path))
        .collect();
    let counts = st.store.counts(&unit.path).await?;
    let mut children = Vec::new();
    for ch in st.store.children(scope, id, false).await? {
        let n = st.store.counts(&ch.path).await?;
        children.push((ch, n));
    }
    let local = matches!(unit.level, UnitLevel::Hamlet | UnitLevel::Commune);
    let teams = if local {
        st.store.team_loads(scope, &unit.path).await?
    } else {
        Vec::new()
    };
    let unassigned = if local {
        st.store
            .unassigned_households(scope, &unit.path, 0, 100)
            .await?
    } else {
        Vec::new()
    };
    let keep = crate::keeping::unit_keep(&st, &user, &unit).await?;
    let page = UnitPage {
        keep,
        c: chrome(&user, &format!("/units/{id}")),
        level_label: level_label(user.lang, &unit),
        valid_from: ymd_vn(&unit.valid_from),
        valid_to: ymd_vn(&unit.valid_to),
        ancestors,
        counts,
        children,
        teams,
        unassigned,
        can_import: user.may(Action::ImportRegistry, &Target::at(&unit.path)),
        can_export: user.may(Action::ExportRegistry, &Target::at(&unit.path)),
        unit,
    };
    html(page)
}

pub struct EventView {
    /// The stored kind, for the CSS class.
    pub kind: &'static str,
    pub label: &'static str,
    pub date: String,
    pub legal_basis: String,
    pub note: String,
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    c: Chrome,
    unit: Unit,
    events: Vec<EventView>,
}

pub async fn unit_history(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    let unit = st.store.unit(&user.p.scope, id).await?;
    let t = user.lang.t();
    let en = user.lang == Lang::En;
    let events = st
        .store
        .unit_history(&user.p.scope, id)
        .await?
        .into_iter()
        .map(|e| {
            let label = match e.kind {
                UnitEventKind::Rename => t.event_rename,
                UnitEventKind::Merge => t.event_merge,
                UnitEventKind::Split => t.event_split,
                UnitEventKind::Move => t.event_move,
                UnitEventKind::Create => t.event_create,
            };
            let names = |part: &str| {
                e.parts
                    .iter()
                    .filter(|p| p.part == part)
                    .map(|p| p.unit_name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut lines = Vec::new();
            match e.kind {
                UnitEventKind::Rename => {
                    for p in &e.parts {
                        lines.push(format!(
                            "«{}» → «{}»",
                            p.old_name.clone().unwrap_or_default(),
                            p.new_name.clone().unwrap_or_default()
                        ));
                    }
                }
                UnitEventKind::Move => {
                    for p in &e.parts {
                        lines.push(if en {
                            format!(
                                "{}: from {} to {}",
                                p.unit_name,
                                p.old_parent_name.clone().unwrap_or_default(),
                                p.new_parent_name.clone().unwrap_or_default()
                            )
                        } else {
                            format!(
                                "{}: từ {} sang {}",
                                p.unit_name,
                                p.old_parent_name.clone().unwrap_or_default(),
                                p.new_parent_name.clone().unwrap_or_default()
                            )
                        });
                    }
                }
                UnitEventKind::Create | UnitEventKind::Merge | UnitEventKind::Split => {
                    lines.push(format!("{}: {}", t.sources, names("source")));
                    lines.push(format!("{}: {}", t.targets, names("target")));
                    if e.households_moved > 0 {
                        lines.push(format!("{}: {}", t.households_moved, e.households_moved));
                    }
                }
            }
            let date = chrono::NaiveDate::parse_from_str(&e.effective_date, "%Y-%m-%d")
                .map(date::format_vn_date)
                .unwrap_or(e.effective_date);
            EventView {
                kind: e.kind.as_str(),
                label,
                date,
                legal_basis: e.legal_basis,
                note: e.note,
                lines,
            }
        })
        .collect();
    html(HistoryPage {
        c: chrome(&user, &format!("/units/{id}/history")),
        unit,
        events,
    })
}

// ---------------------------------------------------------------- team, household

pub struct MemberView {
    pub id: i64,
    pub term: String,
    pub name: String,
    pub role: &'static str,
    pub represents: &'static str,
    pub phone: Option<String>,
}

pub struct HouseholdRow {
    pub id: i64,
    pub code: String,
    pub head_name: String,
    pub address: String,
    pub resident_count: i32,
    pub icon: &'static str,
    pub reach_label: &'static str,
}

fn reach_label(lang: Lang, r: Reach) -> &'static str {
    label(lang, r.label_vi(), r.label_en())
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    c: Chrome,
    team: danvan_store::registry::team::Team,
    members: Vec<MemberView>,
    households: Vec<HouseholdRow>,
    reach_labels: (&'static str, &'static str, &'static str),
    keep: Option<crate::keeping::TeamKeep>,
    closed_on: Option<String>,
    tw: &'static crate::keeping::TeamWords,
}

pub async fn team(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    let team = st.store.team(&user.p.scope, id).await?;
    let lang = user.lang;
    let members = st
        .store
        .members(&user.p.scope, id)
        .await?
        .into_iter()
        .map(|m| MemberView {
            id: m.id,
            term: format!(
                "{} – {}",
                ymd_vn(&Some(m.term_from.clone())).unwrap_or_default(),
                ymd_vn(&m.term_to).unwrap_or_default()
            ),
            name: m.full_name(),
            role: label(lang, m.role.label_vi(), m.role.label_en()),
            represents: label(lang, m.represents.label_vi(), m.represents.label_en()),
            phone: m
                .phone
                .as_deref()
                .and_then(|p| Phone::parse(p).ok())
                .map(|p| p.display()),
        })
        .collect();
    let households = st.store.team_households(&user.p.scope, id).await?;
    let ids: Vec<i64> = households.iter().map(|h| h.id).collect();
    st.store.meter_reads(&Viewer::of(&user.p), &ids).await?;
    let households = households
        .into_iter()
        .map(|h| {
            let r = h.reach;
            HouseholdRow {
                id: h.id,
                code: h.code,
                head_name: h.head_name,
                address: h.address,
                resident_count: h.resident_count,
                icon: r.icon(),
                reach_label: reach_label(lang, r),
            }
        })
        .collect();
    let reach_labels = (
        reach_label(lang, Reach::Smartphone),
        reach_label(lang, Reach::BasicPhone),
        reach_label(lang, Reach::NoPhone),
    );
    let keep = crate::keeping::team_keep(&st, &user, &team).await?;
    html(TeamPage {
        c: chrome(&user, &format!("/teams/{id}")),
        keep,
        closed_on: ymd_vn(&team.closed_on),
        tw: crate::keeping::team_words(lang),
        team,
        members,
        households,
        reach_labels,
    })
}

pub struct ResidentRow {
    pub id: i64,
    pub name: String,
    pub birth: String,
    pub gender: &'static str,
    pub relation: String,
    pub phone: String,
    pub citizen_id: String,
}

#[derive(Template)]
#[template(path = "household.html")]
struct HouseholdPage {
    c: Chrome,
    h: danvan_store::registry::household::Household,
    icon: &'static str,
    reach_label: &'static str,
    residents: Vec<ResidentRow>,
    can_edit: bool,
    /// The hamlet's teams and groups, when the user may reassign.
    teams: Vec<(i64, String)>,
}

fn gender_label(lang: Lang, g: Option<Gender>) -> &'static str {
    g.map(|g| label(lang, g.label_vi(), g.label_en()))
        .unwrap_or("")
}

pub async fn household(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    let h = st.store.household(&user.p.scope, id).await?;
    st.store.meter_reads(&Viewer::of(&user.p), &[h.id]).await?;
    let lang = user.lang;
    let residents = st
        .store
        .residents(&user.p.scope, id)
        .await?
        .into_iter()
        .map(|r| ResidentRow {
            id: r.id,
            name: r.full_name(),
            birth: r.birth_display(),
            gender: gender_label(lang, r.gender),
            relation: r.relation.clone(),
            phone: r
                .phone
                .as_deref()
                .and_then(|p| Phone::parse(p).ok())
                .map(|p| p.display())
                .unwrap_or_default(),
            citizen_id: r.citizen_id.clone().unwrap_or_default(),
        })
        .collect();
    let reach = h.reach;
    let place = Target::at(&h.path).team(h.team_id);
    let teams = if user.may(Action::AssignHousehold, &place) {
        st.store
            .teams_of_hamlet(&user.p.scope, h.hamlet_id)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect()
    } else {
        Vec::new()
    };
    let can_edit = user.may(Action::EditResident, &place);
    html(HouseholdPage {
        c: chrome(&user, &format!("/households/{id}")),
        icon: reach.icon(),
        reach_label: reach_label(lang, reach),
        h,
        residents,
        can_edit,
        teams,
    })
}

#[derive(Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    team: String,
}

/// Gives a household to a team of its hamlet, or to none.
pub async fn household_team(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<TeamForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    user.require(Action::AssignHousehold)?;
    let team = match f.team.trim() {
        "" => None,
        t => Some(
            t.parse::<i64>()
                .map_err(|_| WebError::Problem(Problem::BadChoice { field: "team" }))?,
        ),
    };
    st.store.assign_team(&Viewer::of(&user.p), id, team).await?;
    Ok(Redirect::to(&format!("/households/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "resident_edit.html")]
struct ResidentEditPage {
    c: Chrome,
    id: i64,
    household_id: i64,
    household_code: String,
    name: String,
    birth: String,
    gender: String,
    relation: String,
    phone: String,
    citizen_id: String,
    /// The stored id, masked, when this reader may not see it in full: the
    /// field starts empty and, left empty, keeps it.
    citizen_id_masked: Option<String>,
    error: Option<String>,
}

pub async fn resident_edit(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    user.require(Action::EditResident)?;
    let (h, r, full) = st.store.resident_for_edit(&Viewer::of(&user.p), id).await?;
    let (citizen_id, citizen_id_masked) = match (full, r.citizen_id.clone()) {
        (true, c) => (c.unwrap_or_default(), None),
        (false, c) => (String::new(), c),
    };
    html(ResidentEditPage {
        c: chrome(&user, &format!("/residents/{id}/edit")),
        id,
        household_id: h.id,
        household_code: h.code.clone(),
        name: r.full_name(),
        birth: r.birth_display(),
        gender: r
            .gender
            .map(|g| g.label_vi().to_string())
            .unwrap_or_default(),
        relation: r.relation.clone(),
        phone: r
            .phone
            .as_deref()
            .and_then(|p| Phone::parse(p).ok())
            .map(|p| p.display())
            .unwrap_or_default(),
        citizen_id,
        citizen_id_masked,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct ResidentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    birth: String,
    #[serde(default)]
    gender: String,
    #[serde(default)]
    relation: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    citizen_id: String,
}

fn optional<T>(
    s: &str,
    parse: impl Fn(&str) -> Result<T, danvan_domain::FieldError>,
) -> Result<Option<T>, danvan_domain::FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse(s.trim()).map(Some)
    }
}

fn parse_resident_form(
    f: &ResidentForm,
    today: chrono::NaiveDate,
    t: &Tr,
    lang: Lang,
    masked: bool,
) -> Result<ResidentEdit, String> {
    let msg = |label: &str, e: danvan_domain::FieldError| {
        format!(
            "{label}: {}",
            if lang == Lang::Vi {
                e.message_vi()
            } else {
                e.message_en()
            }
        )
    };
    Ok(ResidentEdit {
        name: PersonName::parse(&f.full_name).map_err(|e| msg(t.name, e))?,
        birth: optional(&f.birth, |s| Birth::parse(s, today)).map_err(|e| msg(t.birth, e))?,
        gender: optional(&f.gender, Gender::parse).map_err(|e| msg(t.gender, e))?,
        relation: f.relation.clone(),
        phone: optional(&f.phone, Phone::parse).map_err(|e| msg(t.phone, e))?,
        citizen_id: optional(&f.citizen_id, CitizenId::parse).map_err(|e| msg(t.citizen_id, e))?,
        keep_citizen_id: masked && f.citizen_id.trim().is_empty(),
    })
}

pub async fn resident_save(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<ResidentForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    user.require(Action::EditResident)?;
    let (h, r, full) = st.store.resident_for_edit(&Viewer::of(&user.p), id).await?;
    let masked = (!full).then_some(r.citizen_id).flatten();
    let parsed = parse_resident_form(
        &f,
        st.store.today(),
        user.lang.t(),
        user.lang,
        masked.is_some(),
    );
    let result = match parsed {
        Ok(edit) => st
            .store
            .update_resident(&Viewer::of(&user.p), id, &edit)
            .await
            .map_err(|e| WebError::from(e).message(user.lang)),
        Err(m) => Err(m),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/households/{}", h.id)).into_response()),
        Err(message) => {
            let page = ResidentEditPage {
                c: chrome(&user, &format!("/residents/{id}/edit")),
                id,
                household_id: h.id,
                household_code: h.code.clone(),
                name: f.full_name.chars().take(100).collect(),
                birth: f.birth.chars().take(10).collect(),
                gender: f.gender.chars().take(10).collect(),
                relation: f.relation.chars().take(50).collect(),
                phone: f.phone.chars().take(20).collect(),
                citizen_id: f.citizen_id.chars().take(14).collect(),
                citizen_id_masked: masked,
                error: Some(message),
            };
            Ok((StatusCode::BAD_REQUEST, Html(page.render()?)).into_response())
        }
    }
}

// ---------------------------------------------------------------- search

pub struct HitView {
    pub household_id: i64,
    pub name: String,
    pub birth: String,
    pub household_code: String,
    pub hamlet_name: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    c: Chrome,
    q: String,
    households: Vec<danvan_store::registry::household::Household>,
    residents: Vec<HitView>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(State(st): State<AppState>, user: User, Query(sq): Query<SearchQuery>) -> Page {
    let q: String = sq.q.chars().take(100).collect();
    let results = if q.trim().is_empty() {
        Default::default()
    } else {
        st.store.search(&user.p.scope, &q, 50).await?
    };
    let residents = results
        .residents
        .iter()
        .map(|r| HitView {
            household_id: r.household_id,
            name: r.full_name(),
            birth: r.birth_year.map(|y| y.to_string()).unwrap_or_default(),
            household_code: r.household_code.clone(),
            hamlet_name: r.hamlet_name.clone(),
        })
        .collect();
    html(SearchPage {
        c: chrome(&user, &format!("/search?q={}", urlencode(&q))),
        q,
        households: results.households,
        residents,
    })
}

// ---------------------------------------------------------------- import, export

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    c: Chrome,
    units: Vec<(i64, String)>,
    selected: i64,
    report: Option<ImportOutcome>,
    error: Option<String>,
}

async fn import_units(st: &AppState, scope: &Scope) -> Result<Vec<(i64, String)>, WebError> {
    let units = st.store.search_units(scope, "", 500).await?;
    Ok(units
        .into_iter()
        .filter(|u| u.valid_to.is_none())
        .map(|u| {
            (
                u.id,
                format!(
                    "{}{}",
                    "— ".repeat(usize::try_from(u.depth).unwrap_or(0)),
                    u.name
                ),
            )
        })
        .collect())
}

#[derive(Deserialize)]
pub struct UnitQuery {
    unit: Option<i64>,
}

pub async fn import_form(
    State(st): State<AppState>,
    user: User,
    Query(q): Query<UnitQuery>,
) -> Page {
    user.require(Action::ImportRegistry)?;
    let units = import_units(&st, &user.p.scope).await?;
    let selected = q.unit.or(user.p.unit_id).unwrap_or(0);
    html(ImportPage {
        c: chrome(&user, "/import"),
        units,
        selected,
        report: None,
        error: None,
    })
}

pub async fn import_upload(State(st): State<AppState>, user: User, mut mp: Multipart) -> Page {
    user.require(Action::ImportRegistry)?;
    let mut fields: HashMap<String, String> = HashMap::new();
    let tmp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(&st.upload_dir)
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let path = tmp.path().to_path_buf();
    let mut got_file = false;
    {
        let mut out = tokio::fs::File::create(&path)
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?;
        let mut written = 0usize;
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(WebError::TooLarge)
                }
                Err(_) => return Err(WebError::Problem(Problem::UploadUnreadable)),
            };
            let name = field.name().unwrap_or("").to_string();
            if name == "file" {
                got_file = true;
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(bytes)) => {
                            written += bytes.len();
                            if written > MAX_UPLOAD_BYTES {
                                return Err(WebError::TooLarge);
                            }
                            out.write_all(&bytes)
                                .await
                                .map_err(|e| WebError::Internal(e.to_string()))?;
                        }
                        Ok(None) => break,
                        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                            return Err(WebError::TooLarge)
                        }
                        Err(_) => return Err(WebError::Problem(Problem::UploadInterrupted)),
                    }
                }
            } else if matches!(name.as_str(), "csrf" | "unit" | "dry_run") {
                let v = field
                    .text()
                    .await
                    .map_err(|_| WebError::Problem(Problem::UploadUnreadable))?;
                fields.insert(name, v.chars().take(200).collect());
            }
        }
        out.flush()
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?;
    }
    user.check_csrf(fields.get("csrf").map(String::as_str).unwrap_or(""))?;
    let unit_id: i64 = fields
        .get("unit")
        .and_then(|u| u.trim().parse().ok())
        .ok_or(WebError::Problem(Problem::UnitChoiceMissing))?;
    let dry_run = fields.get("dry_run").is_some_and(|v| v == "1" || v == "on");
    let units = import_units(&st, &user.p.scope).await?;
    let c = chrome(&user, "/import");
    let page = if !got_file {
        ImportPage {
            c,
            units,
            selected: unit_id,
            report: None,
            error: Some("Hãy chọn tệp để nhập".into()),
        }
    } else {
        match st
            .store
            .import_households(&Viewer::of(&user.p), unit_id, &path, dry_run)
            .await
        {
            Ok(report) => ImportPage {
                c,
                units,
                selected: unit_id,
                report: Some(report),
                error: None,
            },
            Err(ImportError::Sheet(e)) => {
                let msg = if user.lang == Lang::Vi {
                    e.message_vi()
                } else {
                    e.message_en()
                };
                ImportPage {
                    c,
                    units,
                    selected: unit_id,
                    report: None,
                    error: Some(msg),
                }
            }
            Err(ImportError::Store(e)) => return Err(e.into()),
        }
    };
    drop(tmp);
    let status = match (&page.report, &page.error) {
        (Some(r), _) if r.error_count > 0 => StatusCode::UNPROCESSABLE_ENTITY,
        (_, Some(_)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    /// Text, so that a missing or bad unit is answered in the reader's
    /// language rather than by the framework's plain-text rejection.
    #[serde(default)]
    unit: String,
    #[serde(default)]
    format: String,
}

/// `POST /export`: a download of personal data, audited in the name of who
/// asks — so a form with its CSRF token, never a link another site could
/// make a signed-in browser follow.
pub async fn export(State(st): State<AppState>, user: User, Form(q): Form<ExportForm>) -> Page {
    user.check_csrf(&q.csrf)?;
    user.require(Action::ExportRegistry)?;
    let unit_id: i64 = q.unit.trim().parse().map_err(|_| {
        WebError::BadRequest(
            label(
                user.lang,
                "Hãy chọn đơn vị cần xuất.",
                "Choose the unit to export.",
            )
            .into(),
        )
    })?;
    let unit = st.store.unit(&user.p.scope, unit_id).await?;
    let xlsx = q.format == "xlsx";
    let tmp = tempfile::Builder::new()
        .prefix("export-")
        .tempfile_in(&st.upload_dir)
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let rows = st
        .store
        .export_households(&Viewer::of(&user.p), unit.id, tmp.path(), xlsx)
        .await?;
    let bytes = tokio::fs::read(tmp.path())
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    tracing::info!(unit = unit.id, rows, "export");
    let (mime, ext) = if xlsx {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    let disposition = format!("attachment; filename=\"ho-gia-dinh-{}.{ext}\"", unit.id);
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

// ---------------------------------------------------------------- account, audit

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    c: Chrome,
    error: Option<String>,
    done: bool,
}

pub async fn password_form(user: User) -> Page {
    html(PasswordPage {
        c: chrome(&user, "/account/password"),
        error: None,
        done: false,
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
}

pub async fn password_change(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<PasswordForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    let result = st
        .store
        .change_password(&user.p, &f.current, &f.new, &user.token)
        .await;
    let (error, done) = match result {
        Ok(()) => (None, true),
        Err(e) => (Some(WebError::from(e).message(user.lang)), false),
    };
    let status = if done {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((
        status,
        Html(
            PasswordPage {
                c: chrome(&user, "/account/password"),
                error,
                done,
            }
            .render()?,
        ),
    )
        .into_response())
}

pub struct AuditView {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    entries: Vec<AuditView>,
    older: Option<i64>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

pub async fn audit(State(st): State<AppState>, user: User, Query(q): Query<AuditQuery>) -> Page {
    user.require(Action::ReadAudit)?;
    let entries = st
        .store
        .audit_entries(&Viewer::of(&user.p), q.before, 100)
        .await?;
    let older = if entries.len() == 100 {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    let offset = danvan_store::clock::vn_offset();
    let entries = entries
        .into_iter()
        .map(|e| AuditView {
            when: chrono::DateTime::from_timestamp(e.at, 0)
                .map(|d| {
                    d.with_timezone(&offset)
                        .format("%d/%m/%Y %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            detail: e.detail,
        })
        .collect();
    html(AuditPage {
        c: chrome(&user, "/audit"),
        entries,
        older,
    })
}
