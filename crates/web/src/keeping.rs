//! Keeping the registry on pages: changes to the unit tree (add, rename,
//! merge, split, move, each with its date and legal basis), teams and
//! groups (add, rename, close), their members and terms, and the hamlet's
//! roster (which team looks after which household, moved in bulk). Every
//! form posts here; the store asks the policy (`ManageUnits`,
//! `ManageTeams`, `AssignHousehold`) and audits; the pages draw a form
//! only when `User::may` says so.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use danvan_domain::policy::{Action, Target};
use danvan_domain::problem::Problem;
use danvan_domain::{
    date, Gender, MemberRole, PersonName, Phone, Reach, Represents, TeamKind, UnitLevel,
};
use danvan_store::registry::team::{NewMember, NewTeam};
use danvan_store::registry::unit::{NewEvent, NewUnit, Unit, UnitChange};
use danvan_store::Viewer;
use serde::Deserialize;

use crate::auth::User;
use crate::error::WebError;
use crate::i18n::{pick, Lang};
use crate::pages::{chrome, Chrome};
use crate::AppState;

type Page = Result<Response, WebError>;

/// A posted form as its fields (a roster ticks many households).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }
    fn all<'a>(&'a self, k: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    fn id(&self, k: &'static str) -> Result<i64, WebError> {
        self.get(k)
            .parse()
            .map_err(|_| WebError::Problem(Problem::BadChoice { field: k }))
    }
    fn opt_id(&self, k: &'static str) -> Result<Option<i64>, WebError> {
        match self.get(k) {
            "" => Ok(None),
            _ => self.id(k).map(Some),
        }
    }
    /// A date typed as 2026-12-05 (the date input) or 05/12/2026.
    fn date(&self, k: &'static str) -> Result<NaiveDate, WebError> {
        let v = self.get(k);
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .or_else(|_| date::parse_vn_date(v))
            .map_err(|e| WebError::Field(k, e))
    }
    fn opt_date(&self, k: &'static str) -> Result<Option<NaiveDate>, WebError> {
        match self.get(k) {
            "" => Ok(None),
            _ => self.date(k).map(Some),
        }
    }
    fn check(&self, user: &User) -> Result<(), WebError> {
        user.check_csrf(self.get("csrf"))
    }
}

fn back(path: String) -> Page {
    Ok(Redirect::to(&path).into_response())
}

/// The date and legal basis every change of the tree carries.
fn event(f: &Fields, change: UnitChange) -> Result<NewEvent, WebError> {
    Ok(NewEvent {
        change,
        date: f.date("date")?,
        legal_basis: f.get("basis").to_string(),
        note: f.get("note").to_string(),
    })
}

// ---------------------------------------------------------------- the unit page's forms

/// What the unit page offers to change, when the policy allows it.
pub struct UnitKeep {
    /// Rename, move, merge (and split a hamlet).
    pub can_change: bool,
    /// Add a unit below.
    pub can_add: bool,
    pub child_levels: Vec<(&'static str, &'static str)>,
    pub parents: Vec<(i64, String)>,
    pub merge_targets: Vec<(i64, String)>,
    pub is_hamlet: bool,
    pub can_add_team: bool,
    pub can_roster: bool,
    pub today: String,
    pub l: &'static UnitWords,
}

/// The words of the unit page's forms.
pub struct UnitWords {
    pub keep: &'static str,
    pub add_unit: &'static str,
    pub level: &'static str,
    pub name: &'static str,
    pub code: &'static str,
    pub date: &'static str,
    pub basis: &'static str,
    pub basis_hint: &'static str,
    pub note: &'static str,
    pub rename: &'static str,
    pub new_name: &'static str,
    pub move_to: &'static str,
    pub new_parent: &'static str,
    pub merge_into: &'static str,
    pub merge_target: &'static str,
    pub move_children: &'static str,
    pub split: &'static str,
    pub add_team: &'static str,
    pub kind: &'static str,
    pub kind_team: &'static str,
    pub kind_group: &'static str,
    pub target_size: &'static str,
    pub roster: &'static str,
    pub gaps: &'static str,
    pub save: &'static str,
}

static UNIT_VI: UnitWords = UnitWords {
    keep: "Thay đổi đơn vị",
    add_unit: "Thêm đơn vị trực thuộc",
    level: "Cấp",
    name: "Tên",
    code: "Mã (không bắt buộc)",
    date: "Ngày hiệu lực",
    basis: "Căn cứ pháp lý",
    basis_hint: "Ví dụ: Nghị quyết số 1234/NQ-UBTVQH15",
    note: "Ghi chú",
    rename: "Đổi tên",
    new_name: "Tên mới",
    move_to: "Chuyển sang đơn vị khác",
    new_parent: "Đơn vị cấp trên mới",
    merge_into: "Sáp nhập vào đơn vị khác",
    merge_target: "Sáp nhập vào",
    move_children: "Chuyển các đơn vị trực thuộc sang đơn vị nhận",
    split: "Chia tách thôn (chọn thôn mới cho từng hộ)",
    add_team: "Thêm tổ dân vận / nhóm",
    kind: "Loại",
    kind_team: "Tổ",
    kind_group: "Nhóm",
    target_size: "Số hộ phụ trách (mục tiêu)",
    roster: "Phân hộ cho các tổ",
    gaps: "Hộ chưa có tổ",
    save: "Lưu",
};

static UNIT_EN: UnitWords = UnitWords {
    keep: "Change this unit",
    add_unit: "Add a unit below",
    level: "Level",
    name: "Name",
    code: "Code (optional)",
    date: "Effective date",
    basis: "Legal basis",
    basis_hint: "For example: Resolution 1234/NQ-UBTVQH15",
    note: "Note",
    rename: "Rename",
    new_name: "New name",
    move_to: "Move under another unit",
    new_parent: "New parent unit",
    merge_into: "Merge into another unit",
    merge_target: "Merge into",
    move_children: "Move the units below to the receiving unit",
    split: "Split the hamlet (choose each household's new hamlet)",
    add_team: "Add a team / group",
    kind: "Kind",
    kind_team: "Team",
    kind_group: "Group",
    target_size: "Households to look after (target)",
    roster: "Give households to teams",
    gaps: "Households without a team",
    save: "Save",
};

fn unit_words(lang: Lang) -> &'static UnitWords {
    match lang {
        Lang::Vi => &UNIT_VI,
        Lang::En => &UNIT_EN,
    }
}

fn level_of_rank(rank: u8) -> Option<UnitLevel> {
    UnitLevel::ALL.into_iter().find(|l| l.rank() == rank)
}

/// The unit page's forms, or `None` when the reader may change nothing.
pub async fn unit_keep(
    st: &AppState,
    user: &User,
    unit: &Unit,
) -> Result<Option<UnitKeep>, WebError> {
    let here = Target::at(&unit.path);
    let can_change = user.may(Action::ManageUnits, &here);
    let can_add = unit.level != UnitLevel::Hamlet && user.may(Action::ManageUnits, &here.below());
    let is_hamlet = unit.level == UnitLevel::Hamlet;
    let can_add_team = is_hamlet && user.may(Action::ManageTeams, &here);
    let can_roster = is_hamlet && user.may(Action::AssignHousehold, &here);
    if !(can_change || can_add || can_add_team || can_roster) {
        return Ok(None);
    }
    let lang = user.lang;
    let scope = &user.p.scope;
    let mut parents = Vec::new();
    let mut merge_targets = Vec::new();
    if can_change {
        if let Some(parent_level) = unit.level.rank().checked_sub(1).and_then(level_of_rank) {
            for u in st.store.units_at_level(scope, parent_level, 500).await? {
                if Some(u.id) != unit.parent_id {
                    parents.push((u.id, u.name));
                }
            }
            // A commune may also sit directly under a province (no district).
            if unit.level == UnitLevel::Commune {
                for u in st
                    .store
                    .units_at_level(scope, UnitLevel::Province, 50)
                    .await?
                {
                    if Some(u.id) != unit.parent_id {
                        parents.push((u.id, u.name));
                    }
                }
            }
        }
        for u in st.store.units_at_level(scope, unit.level, 500).await? {
            if u.id != unit.id {
                merge_targets.push((u.id, u.name));
            }
        }
    }
    let child_levels = UnitLevel::ALL
        .into_iter()
        .filter(|l| l.rank() > unit.level.rank())
        .map(|l| (l.as_str(), pick(lang, l.label_vi(), l.label_en())))
        .collect();
    Ok(Some(UnitKeep {
        can_change,
        can_add,
        child_levels,
        parents,
        merge_targets,
        is_hamlet,
        can_add_team,
        can_roster,
        today: st.store.today().format("%Y-%m-%d").to_string(),
        l: unit_words(lang),
    }))
}

pub async fn unit_add(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let level = UnitLevel::parse(f.get("level")).map_err(|e| WebError::Field("level", e))?;
    let code = Some(f.get("code").to_string()).filter(|c| !c.is_empty());
    let new_id = st
        .store
        .add_unit(
            &Viewer::of(&user.p),
            &NewUnit {
                parent_id: Some(id),
                level,
                name: f.get("name").to_string(),
                code,
                valid_from: f.opt_date("date")?,
                valid_to: None,
            },
        )
        .await?;
    back(format!("/units/{new_id}"))
}

pub async fn unit_rename(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let ev = event(
        &f,
        UnitChange::Rename {
            unit_id: id,
            new_name: f.get("name").to_string(),
        },
    )?;
    st.store.change_units(&Viewer::of(&user.p), &ev).await?;
    back(format!("/units/{id}/history"))
}

pub async fn unit_move(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let ev = event(
        &f,
        UnitChange::Move {
            unit_id: id,
            new_parent_id: f.id("parent")?,
        },
    )?;
    st.store.change_units(&Viewer::of(&user.p), &ev).await?;
    back(format!("/units/{id}/history"))
}

pub async fn unit_merge(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let target = f.id("into")?;
    let ev = event(
        &f,
        UnitChange::Merge {
            sources: vec![id],
            target,
            move_children: f.get("move_children") == "on",
        },
    )?;
    st.store.change_units(&Viewer::of(&user.p), &ev).await?;
    back(format!("/units/{target}/history"))
}

#[derive(Template)]
#[template(path = "unit_split.html")]
struct SplitPage {
    c: Chrome,
    unit: Unit,
    households: Vec<(i64, String, String)>,
    targets: Vec<(i64, String)>,
    today: String,
    l: &'static UnitWords,
}

pub async fn unit_split_form(State(st): State<AppState>, user: User, Path(id): Path<i64>) -> Page {
    let scope = &user.p.scope;
    let unit = st.store.unit(scope, id).await?;
    if unit.level != UnitLevel::Hamlet {
        return Err(WebError::NotFound);
    }
    user.p
        .require(Action::ManageUnits, &Target::at(&unit.path))
        .map_err(WebError::from)?;
    let households = st
        .store
        .hamlet_households(scope, id)
        .await?
        .into_iter()
        .map(|h| (h.id, h.head_name, h.code))
        .collect();
    let targets = match unit.parent_id {
        Some(parent) => st
            .store
            .children(scope, parent, true)
            .await?
            .into_iter()
            .filter(|u| u.id != id)
            .map(|u| (u.id, u.name))
            .collect(),
        None => Vec::new(),
    };
    Ok(Html(
        SplitPage {
            c: chrome(&user, &format!("/units/{id}/split")),
            today: st.store.today().format("%Y-%m-%d").to_string(),
            l: unit_words(user.lang),
            unit,
            households,
            targets,
        }
        .render()?,
    )
    .into_response())
}

pub async fn unit_split(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    // `h<household>` = the hamlet it goes to ("" stays).
    let mut households = Vec::new();
    for (k, v) in &f.0 {
        if let (Some(h), Ok(to)) = (k.strip_prefix('h'), v.parse::<i64>()) {
            let h = h
                .parse::<i64>()
                .map_err(|_| WebError::Problem(Problem::BadChoice { field: "household" }))?;
            households.push((h, to));
        }
    }
    let mut targets: Vec<i64> = households.iter().map(|(_, t)| *t).collect();
    targets.sort_unstable();
    targets.dedup();
    if targets.is_empty() {
        return Err(WebError::Problem(Problem::HouseholdsNoneTicked));
    }
    let ev = event(
        &f,
        UnitChange::Split {
            source: id,
            targets,
            households,
        },
    )?;
    st.store.change_units(&Viewer::of(&user.p), &ev).await?;
    back(format!("/units/{id}/history"))
}

// ---------------------------------------------------------------- teams and members

pub async fn team_add(
    State(st): State<AppState>,
    user: User,
    Path(hamlet): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let kind = TeamKind::parse(f.get("kind")).map_err(|e| WebError::Field("kind", e))?;
    let target_size = match f.get("target") {
        "" => None,
        v => Some(
            v.parse::<i32>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or(WebError::Problem(Problem::BadChoice { field: "target" }))?,
        ),
    };
    let id = st
        .store
        .add_team(
            &Viewer::of(&user.p),
            &NewTeam {
                hamlet_id: hamlet,
                kind,
                parent_team_id: f.opt_id("parent")?,
                code: f.get("code").to_string(),
                name: f.get("name").to_string(),
                target_size,
            },
        )
        .await?;
    back(format!("/teams/{id}"))
}

pub async fn team_rename(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    st.store
        .rename_team(&Viewer::of(&user.p), id, f.get("name"))
        .await?;
    back(format!("/teams/{id}"))
}

pub async fn team_close(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    st.store
        .close_team(&Viewer::of(&user.p), id, f.date("date")?)
        .await?;
    back(format!("/teams/{id}"))
}

pub async fn member_add(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let name = PersonName::parse(f.get("name")).map_err(|e| WebError::Field("name", e))?;
    let gender = match f.get("gender") {
        "" => None,
        g => Some(Gender::parse(g).map_err(|e| WebError::Field("gender", e))?),
    };
    let role = MemberRole::parse(f.get("role")).map_err(|e| WebError::Field("role", e))?;
    let represents =
        Represents::parse(f.get("represents")).map_err(|e| WebError::Field("represents", e))?;
    let phone = match f.get("phone") {
        "" => None,
        p => Some(Phone::parse(p).map_err(|e| WebError::Field("phone", e))?),
    };
    st.store
        .add_team_member(
            &Viewer::of(&user.p),
            id,
            &NewMember {
                name,
                gender,
                role,
                represents,
                phone,
                term_from: f.date("from")?,
                term_to: f.opt_date("to")?,
            },
        )
        .await?;
    back(format!("/teams/{id}#members"))
}

pub async fn member_end(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    st.store
        .end_member(&Viewer::of(&user.p), f.id("member")?, f.date("date")?)
        .await?;
    back(format!("/teams/{id}#members"))
}

pub async fn member_move(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let to = f.id("to")?;
    st.store
        .move_member(&Viewer::of(&user.p), f.id("member")?, to, f.date("date")?)
        .await?;
    back(format!("/teams/{id}#members"))
}

/// What the team page offers its keepers.
pub struct TeamKeep {
    pub other_teams: Vec<(i64, String)>,
    pub roles: Vec<(&'static str, &'static str)>,
    pub represents: Vec<(&'static str, &'static str)>,
    pub today: String,
    pub l: &'static TeamWords,
}

pub struct TeamWords {
    pub keep: &'static str,
    pub rename: &'static str,
    pub close: &'static str,
    pub close_note: &'static str,
    pub add_member: &'static str,
    pub full_name: &'static str,
    pub gender: &'static str,
    pub male: &'static str,
    pub female: &'static str,
    pub role: &'static str,
    pub represents: &'static str,
    pub phone: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub end_term: &'static str,
    pub move_to: &'static str,
    pub on: &'static str,
    pub closed: &'static str,
    pub save: &'static str,
}

static TEAM_VI: TeamWords = TeamWords {
    keep: "Quản lý tổ",
    rename: "Đổi tên tổ",
    close: "Giải thể tổ",
    close_note: "Các thành viên kết thúc nhiệm kỳ; các hộ trở về danh sách hộ chưa có tổ.",
    add_member: "Thêm thành viên",
    full_name: "Họ và tên",
    gender: "Giới tính",
    male: "Nam",
    female: "Nữ",
    role: "Vai trò",
    represents: "Đại diện",
    phone: "Số điện thoại",
    from: "Bắt đầu nhiệm kỳ",
    to: "Kết thúc nhiệm kỳ (không bắt buộc)",
    end_term: "Kết thúc nhiệm kỳ",
    move_to: "Chuyển sang tổ",
    on: "Ngày",
    closed: "Đã giải thể ngày",
    save: "Lưu",
};

static TEAM_EN: TeamWords = TeamWords {
    keep: "Keep this team",
    rename: "Rename the team",
    close: "Close the team",
    close_note: "Members' terms end; the households go back to the households without a team.",
    add_member: "Add a member",
    full_name: "Full name",
    gender: "Gender",
    male: "Male",
    female: "Female",
    role: "Role",
    represents: "Represents",
    phone: "Phone",
    from: "Term starts",
    to: "Term ends (optional)",
    end_term: "End the term",
    move_to: "Move to team",
    on: "On",
    closed: "Closed on",
    save: "Save",
};

pub fn team_words(lang: Lang) -> &'static TeamWords {
    match lang {
        Lang::Vi => &TEAM_VI,
        Lang::En => &TEAM_EN,
    }
}

/// The team page's forms, or `None` when the reader may not keep it.
pub async fn team_keep(
    st: &AppState,
    user: &User,
    team: &danvan_store::registry::team::Team,
) -> Result<Option<TeamKeep>, WebError> {
    if team.closed_on.is_some() || !user.may(Action::ManageTeams, &Target::at(&team.path)) {
        return Ok(None);
    }
    let lang = user.lang;
    // The teams of the same commune a member may move to: one query.
    let hamlet = team.path.trim_end_matches('/');
    let commune = &hamlet[..=hamlet.rfind('/').unwrap_or(0)];
    let other_teams = st
        .store
        .teams_under(&user.p.scope, commune, 500)
        .await?
        .into_iter()
        .filter(|t| t.id != team.id)
        .map(|t| (t.id, format!("{} · {}", t.name, t.hamlet_name)))
        .collect();
    Ok(Some(TeamKeep {
        other_teams,
        roles: MemberRole::ALL
            .into_iter()
            .map(|r| (r.as_str(), pick(lang, r.label_vi(), r.label_en())))
            .collect(),
        represents: Represents::ALL
            .into_iter()
            .map(|r| (r.as_str(), pick(lang, r.label_vi(), r.label_en())))
            .collect(),
        today: st.store.today().format("%Y-%m-%d").to_string(),
        l: team_words(lang),
    }))
}

// ---------------------------------------------------------------- the roster

#[derive(Deserialize)]
pub struct RosterQuery {
    gaps: Option<String>,
}

pub struct RosterRow {
    pub id: i64,
    pub code: String,
    pub head_name: String,
    pub address: String,
    pub team: String,
    pub reach: &'static str,
}

#[derive(Template)]
#[template(path = "roster.html")]
struct RosterPage {
    c: Chrome,
    unit: Unit,
    gaps: bool,
    rows: Vec<RosterRow>,
    teams: Vec<(i64, String)>,
    unassigned: i64,
    l: &'static RosterWords,
}

pub struct RosterWords {
    pub title: &'static str,
    pub all: &'static str,
    pub gaps: &'static str,
    pub household: &'static str,
    pub team: &'static str,
    pub none: &'static str,
    pub move_to: &'static str,
    pub no_team: &'static str,
    pub move_button: &'static str,
    pub empty: &'static str,
}

static ROSTER_VI: RosterWords = RosterWords {
    title: "Phân hộ cho các tổ",
    all: "Tất cả các hộ",
    gaps: "Hộ chưa có tổ",
    household: "Hộ",
    team: "Tổ",
    none: "—",
    move_to: "Chuyển các hộ đã chọn sang",
    no_team: "(không thuộc tổ nào)",
    move_button: "Chuyển",
    empty: "Không có hộ nào.",
};

static ROSTER_EN: RosterWords = RosterWords {
    title: "Give households to teams",
    all: "All households",
    gaps: "Households without a team",
    household: "Household",
    team: "Team",
    none: "—",
    move_to: "Move the ticked households to",
    no_team: "(no team)",
    move_button: "Move",
    empty: "No households.",
};

pub async fn roster(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Query(q): Query<RosterQuery>,
) -> Page {
    let scope = &user.p.scope;
    let unit = st.store.unit(scope, id).await?;
    if unit.level != UnitLevel::Hamlet {
        return Err(WebError::NotFound);
    }
    user.p
        .require(Action::AssignHousehold, &Target::at(&unit.path))
        .map_err(WebError::from)?;
    let gaps = q.gaps.as_deref().is_some_and(|g| !g.is_empty());
    let lang = user.lang;
    let households = st.store.hamlet_households(scope, id).await?;
    let unassigned = households.iter().filter(|h| h.team_id.is_none()).count() as i64;
    // Not metered as a bulk read: the roster is for the keepers of the
    // hamlet only (who may export its registry anyway), and it shows no
    // resident's details beyond the head's name.
    let rows = households
        .into_iter()
        .filter(|h| !gaps || h.team_id.is_none())
        .map(|h| RosterRow {
            reach: reach_icon(h.reach),
            id: h.id,
            code: h.code,
            head_name: h.head_name,
            address: h.address,
            team: h.team_name.unwrap_or_default(),
        })
        .collect();
    let teams = st
        .store
        .teams_of_hamlet(scope, id)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    Ok(Html(
        RosterPage {
            c: chrome(&user, &format!("/units/{id}/roster")),
            unit,
            gaps,
            rows,
            teams,
            unassigned,
            l: match lang {
                Lang::Vi => &ROSTER_VI,
                Lang::En => &ROSTER_EN,
            },
        }
        .render()?,
    )
    .into_response())
}

fn reach_icon(r: Reach) -> &'static str {
    r.icon()
}

pub async fn roster_move(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Page {
    let f = Fields(f);
    f.check(&user)?;
    let mut ids = Vec::new();
    for v in f.all("household") {
        ids.push(
            v.parse::<i64>()
                .map_err(|_| WebError::Problem(Problem::BadChoice { field: "household" }))?,
        );
    }
    let team = f.opt_id("team")?;
    st.store
        .assign_households(&Viewer::of(&user.p), id, &ids, team)
        .await?;
    let gaps = if f.get("gaps").is_empty() {
        ""
    } else {
        "?gaps=1"
    };
    back(format!("/units/{id}/roster{gaps}"))
}
