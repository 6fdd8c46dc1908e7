//! The administrator's page of accounts and keys: every API and gateway
//! key of their part of the tree (label, owner, dates — never the key),
//! revoke one, disable an account. The store decides who may
//! (`Action::ManageAccounts`) and audits each change.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use danvan_domain::policy;
use danvan_domain::problem::Problem;
use danvan_domain::{Phone, Role, UnitLevel};
use danvan_store::registry::account::NewAccountFor;
use danvan_store::Viewer;
use serde::Deserialize;

use crate::auth::User;
use crate::error::WebError;
use crate::i18n::{pick, Lang};
use crate::pages::{chrome, Chrome};
use crate::AppState;

struct KeyView {
    id: i64,
    username: String,
    kind: &'static str,
    label: String,
    created: String,
    expires: String,
    last_used: String,
    state: &'static str,
    live: bool,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    c: Chrome,
    keys: Vec<KeyView>,
    notice: Option<String>,
    error: Option<String>,
}

fn day(t: Option<i64>) -> String {
    let offset = danvan_store::clock::vn_offset();
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.with_timezone(&offset).format("%d/%m/%Y").to_string())
        .unwrap_or_else(|| "—".into())
}

async fn render(
    st: &AppState,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let a = user.lang.t().accounts;
    let now = st.store.now();
    let keys = st
        .store
        .api_tokens(&Viewer::of(&user.p), None)
        .await?
        .into_iter()
        .map(|k| KeyView {
            live: k.live(now),
            state: if k.revoked_at.is_some() {
                a.revoked
            } else if k.live(now) {
                a.live
            } else {
                a.expired
            },
            kind: if k.kind == "gateway" {
                a.kind_gateway
            } else {
                a.kind_api
            },
            id: k.id,
            username: k.username,
            label: k.label,
            created: day(Some(k.created_at)),
            expires: day(k.expires_at),
            last_used: day(k.last_used_at),
        })
        .collect();
    let page = KeysPage {
        c: chrome(user, "/admin/keys"),
        keys,
        notice,
        error,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /admin/keys`
pub async fn keys(State(st): State<AppState>, user: User) -> Result<Response, WebError> {
    render(&st, &user, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

/// `POST /admin/keys/revoke`
pub async fn revoke(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<RevokeForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let a = user.lang.t().accounts;
    let Ok(id) = f.id.trim().parse::<i64>() else {
        return render(
            &st,
            &user,
            None,
            Some(a.no_key.into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    st.store.revoke_api_token(&Viewer::of(&user.p), id).await?;
    Ok(Redirect::to("/admin/keys").into_response())
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
}

/// `POST /admin/accounts/disable`
pub async fn disable(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<DisableForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let a = user.lang.t().accounts;
    let username = f.username.trim().to_lowercase();
    if username.is_empty() {
        return render(
            &st,
            &user,
            None,
            Some(a.no_user.into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match st
        .store
        .disable_account(&Viewer::of(&user.p), &username)
        .await
    {
        Ok(()) => {
            let notice = a.disabled.replace("{u}", &username);
            render(&st, &user, Some(notice), None, StatusCode::OK).await
        }
        Err(danvan_store::StoreError::NotFound) => {
            let error = a.no_account.replace("{u}", &username);
            render(&st, &user, None, Some(error), StatusCode::NOT_FOUND).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- accounts kept by officers

/// The words of the accounts page.
pub struct AccountWords {
    pub title: &'static str,
    pub create: &'static str,
    pub username: &'static str,
    pub username_hint: &'static str,
    pub display_name: &'static str,
    pub phone: &'static str,
    pub role: &'static str,
    pub place: &'static str,
    pub active: &'static str,
    pub disabled: &'static str,
    pub reset: &'static str,
    pub disable: &'static str,
    pub keys: &'static str,
    pub save: &'static str,
    pub code_created: &'static str,
    pub code_reset: &'static str,
    pub code_hint: &'static str,
    pub leader: &'static str,
}

static ACCOUNT_VI: AccountWords = AccountWords {
    title: "Tài khoản",
    create: "Tạo tài khoản",
    username: "Tên đăng nhập",
    username_hint: "chữ không dấu, số, dấu chấm, gạch",
    display_name: "Họ và tên",
    phone: "Số điện thoại (nhận mã qua SMS)",
    role: "Vai trò",
    place: "Đơn vị / tổ",
    active: "Đang dùng",
    disabled: "Đã khóa",
    reset: "Cấp mã đặt lại mật khẩu",
    disable: "Khóa",
    keys: "Khóa API",
    save: "Tạo",
    code_created: "Đã tạo tài khoản {u}.",
    code_reset: "Đã cấp mã mới cho {u}.",
    code_hint: "Đưa mã này cho người dùng (chỉ hiện một lần, hết hạn sau 72 giờ). Họ mở trang dưới đây và tự đặt mật khẩu; không ai khác biết mật khẩu của họ.",
    leader: "lãnh đạo",
};

static ACCOUNT_EN: AccountWords = AccountWords {
    title: "Accounts",
    create: "Create an account",
    username: "Username",
    username_hint: "letters without marks, digits, dot, dash",
    display_name: "Full name",
    phone: "Phone (gets the code by SMS)",
    role: "Role",
    place: "Unit / team",
    active: "Active",
    disabled: "Disabled",
    reset: "Issue a password code",
    disable: "Disable",
    keys: "API keys",
    save: "Create",
    code_created: "Account {u} created.",
    code_reset: "New code issued for {u}.",
    code_hint: "Give this code to the person (shown once, expires in 72 hours). They open the page below and set their own password; nobody else knows it.",
    leader: "leader",
};

pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub place: String,
    pub active: bool,
    pub leader: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    c: Chrome,
    l: &'static AccountWords,
    rows: Vec<AccountRow>,
    roles: Vec<(&'static str, &'static str)>,
    places: Vec<(String, String)>,
    /// The one-time code just issued, with its sentence.
    issued: Option<(String, String)>,
}

async fn accounts_page(
    st: &AppState,
    user: &User,
    issued: Option<(String, String)>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let viewer = Viewer::of(&user.p);
    let rows = st
        .store
        .accounts(&viewer, 2000)
        .await?
        .into_iter()
        .map(|a| AccountRow {
            id: a.id,
            role: pick(lang, a.role.label_vi(), a.role.label_en()),
            username: a.username,
            display_name: a.display_name,
            place: a.place.unwrap_or_default(),
            active: a.active,
            leader: a.leads_unit,
        })
        .collect();
    let roles = policy::account_role_choices(user.p.role)
        .into_iter()
        .map(|r| (r.as_str(), pick(lang, r.label_vi(), r.label_en())))
        .collect();
    // Where an account can be bound: the units and teams of the keeper's
    // part of the tree (the store refuses a role bound to the wrong kind).
    let mut places = Vec::new();
    let scope = &user.p.scope;
    for level in [
        UnitLevel::Province,
        UnitLevel::District,
        UnitLevel::Commune,
        UnitLevel::Hamlet,
    ] {
        for u in st.store.units_at_level(scope, level, 1000).await? {
            let label = format!(
                "{} · {}",
                pick(lang, level.label_vi(), level.label_en()),
                u.name
            );
            places.push((format!("u{}", u.id), label));
        }
    }
    for t in st.store.teams_under(scope, &scope.path, 1000).await? {
        places.push((
            format!("t{}", t.id),
            format!("{} · {}", t.name, t.hamlet_name),
        ));
    }
    let page = AccountsPage {
        c: chrome(user, "/accounts"),
        l: match lang {
            Lang::Vi => &ACCOUNT_VI,
            Lang::En => &ACCOUNT_EN,
        },
        rows,
        roles,
        places,
        issued,
    };
    Ok(Html(page.render()?).into_response())
}

/// `GET /accounts`: the accounts of the keeper's part of the tree.
pub async fn accounts(State(st): State<AppState>, user: User) -> Result<Response, WebError> {
    accounts_page(&st, &user, None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    place: String,
}

/// `POST /accounts`: creates an account and shows its one-time code.
pub async fn create(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<CreateForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let role = Role::parse(&f.role).map_err(|e| WebError::Field("role", e))?;
    let phone = match f.phone.trim() {
        "" => None,
        p => Some(Phone::parse(p).map_err(|e| WebError::Field("phone", e))?),
    };
    let bad_place = || WebError::Problem(Problem::BadChoice { field: "place" });
    let place = f.place.trim();
    let (unit_id, team_id) = match (place.strip_prefix('u'), place.strip_prefix('t')) {
        (Some(u), _) => (Some(u.parse().map_err(|_| bad_place())?), None),
        (_, Some(t)) => (None, Some(t.parse().map_err(|_| bad_place())?)),
        _ => return Err(bad_place()),
    };
    let (_, code) = st
        .store
        .create_account_for(
            &Viewer::of(&user.p),
            &NewAccountFor {
                username: f.username.clone(),
                display_name: f.display_name,
                phone,
                role,
                unit_id,
                team_id,
            },
        )
        .await?;
    let l = match user.lang {
        Lang::Vi => &ACCOUNT_VI,
        Lang::En => &ACCOUNT_EN,
    };
    let said = l
        .code_created
        .replace("{u}", &f.username.trim().to_ascii_lowercase());
    accounts_page(&st, &user, Some((said, code))).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
}

/// `POST /accounts/reset`: a new one-time code for an account's owner.
pub async fn reset(
    State(st): State<AppState>,
    user: User,
    Form(f): Form<ResetForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let id: i64 = f
        .account
        .trim()
        .parse()
        .map_err(|_| WebError::Problem(Problem::BadChoice { field: "account" }))?;
    let viewer = Viewer::of(&user.p);
    let a = st.store.kept_account(&viewer, id).await?;
    let code = st.store.reset_password(&viewer, id).await?;
    let l = match user.lang {
        Lang::Vi => &ACCOUNT_VI,
        Lang::En => &ACCOUNT_EN,
    };
    accounts_page(
        &st,
        &user,
        Some((l.code_reset.replace("{u}", &a.username), code)),
    )
    .await
}

// ---------------------------------------------------------------- setting one's password with a code

#[derive(Template)]
#[template(path = "password_setup.html")]
struct SetupPage {
    c: Chrome,
    code: String,
    error: Option<String>,
    l: &'static SetupWords,
}

pub struct SetupWords {
    pub title: &'static str,
    pub code: &'static str,
    pub password: &'static str,
    pub again: &'static str,
    pub save: &'static str,
    pub mismatch: &'static str,
}

static SETUP_VI: SetupWords = SetupWords {
    title: "Đặt mật khẩu",
    code: "Mã do cán bộ cấp",
    password: "Mật khẩu mới (ít nhất 10 ký tự)",
    again: "Nhập lại mật khẩu",
    save: "Đặt mật khẩu",
    mismatch: "Hai lần nhập mật khẩu không giống nhau",
};

static SETUP_EN: SetupWords = SetupWords {
    title: "Set your password",
    code: "Code from your officer",
    password: "New password (at least 10 characters)",
    again: "Type it again",
    save: "Set password",
    mismatch: "The two passwords differ",
};

#[derive(Deserialize)]
pub struct SetupQuery {
    code: Option<String>,
}

fn setup_page(
    lang: Lang,
    code: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let page = SetupPage {
        c: crate::pages::anon_chrome(lang),
        code,
        error,
        l: match lang {
            Lang::Vi => &SETUP_VI,
            Lang::En => &SETUP_EN,
        },
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /password/setup?code=…`: the form to set one's password.
pub async fn setup_form(
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SetupQuery>,
) -> Result<Response, WebError> {
    let lang = crate::auth::lang_of(&headers);
    setup_page(lang, q.code.unwrap_or_default(), None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
}

/// `POST /password/setup`: spends the code and sets the password, then
/// sends the person to log in. (No CSRF token: nobody is signed in, and
/// the code itself is the secret.)
pub async fn setup(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(f): Form<SetupForm>,
) -> Result<Response, WebError> {
    let lang = crate::auth::lang_of(&headers);
    let l = match lang {
        Lang::Vi => &SETUP_VI,
        Lang::En => &SETUP_EN,
    };
    if f.password != f.again {
        return setup_page(
            lang,
            f.code,
            Some(l.mismatch.into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match st.store.set_password_with_code(&f.code, &f.password).await {
        Ok(_) => Ok(Redirect::to("/login").into_response()),
        Err(danvan_store::StoreError::Rejected(p)) => {
            let msg = crate::problem_text::problem(lang, &p);
            setup_page(lang, f.code, Some(msg), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}
