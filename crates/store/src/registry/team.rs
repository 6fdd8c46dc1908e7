//! Teams and groups under a hamlet, and their members.

use chrono::NaiveDate;
use danvan_domain::problem::Problem;
use danvan_domain::{text, Gender, MemberRole, PersonName, Phone, Represents, TeamKind, UnitLevel};
use serde::Serialize;

use crate::registry::stats::refresh_hamlet;
use crate::typed::stored;
use crate::{audit, in_tx, on_db, Actor, Result, Scope, Store, StoreError, Viewer};
use danvan_domain::policy::{Action, Target};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Team {
    pub id: i64,
    pub hamlet_id: i64,
    pub hamlet_name: String,
    pub path: String,
    #[sqlx(try_from = "String")]
    pub kind: TeamKind,
    pub parent_team_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub target_size: i32,
    /// The day it was closed (giải thể); `None` while it works.
    pub closed_on: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    pub family: String,
    pub middle: String,
    pub given: String,
    #[sqlx(try_from = "String")]
    pub role: MemberRole,
    #[sqlx(try_from = "String")]
    pub represents: Represents,
    pub phone: Option<String>,
    pub term_from: String,
    pub term_to: Option<String>,
}

impl Member {
    pub fn full_name(&self) -> String {
        PersonName {
            family: self.family.clone(),
            middle: self.middle.clone(),
            given: self.given.clone(),
        }
        .full()
    }
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub hamlet_id: i64,
    pub kind: TeamKind,
    pub parent_team_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub target_size: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct NewMember {
    pub name: PersonName,
    pub gender: Option<Gender>,
    pub role: MemberRole,
    pub represents: Represents,
    pub phone: Option<Phone>,
    pub term_from: NaiveDate,
    pub term_to: Option<NaiveDate>,
}

/// The team `$1` lies inside the scope bound as `$2` (path), `$3` (its
/// end) and `$4` (a team role's own team: it sees its team and the groups
/// under it). Reads of a team's people filter with this in SQL.
pub(crate) const TEAM_IN_SCOPE: &str =
    "EXISTS (SELECT 1 FROM teams ts WHERE ts.id = $1 AND ts.path >= $2 AND ts.path < $3 \
     AND ($4 IS NULL OR ts.id = $4 OR ts.parent_team_id = $4))";

const TEAM_SELECT: &str = "SELECT t.id, t.hamlet_id, u.name AS hamlet_name, t.path, t.kind, t.parent_team_id, t.code, t.name, t.target_size, t.closed_on \
                           FROM teams t JOIN units u ON u.id = t.hamlet_id";

impl Store {
    pub async fn create_team(&self, actor: &Actor, new: &NewTeam) -> Result<i64> {
        let name =
            text::clean_required(&new.name, 200).map_err(|e| StoreError::invalid("name", e))?;
        let code =
            text::clean_required(&new.code, 40).map_err(|e| StoreError::invalid("code", e))?;
        let target = new.target_size.unwrap_or(match new.kind {
            TeamKind::Team => 40,
            TeamKind::Group => 15,
        });
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let (path, level): (String, String) =
                sqlx::query_as("SELECT path, level FROM units WHERE id = $1")
                    .bind(new.hamlet_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
            if stored::<UnitLevel>("level", level)? != UnitLevel::Hamlet {
                return Err(StoreError::Rejected(Problem::TeamNeedsHamlet));
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO teams (hamlet_id, path, kind, parent_team_id, code, name, sort_key, target_size, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(new.hamlet_id)
            .bind(&path)
            .bind(new.kind.as_str())
            .bind(new.parent_team_id)
            .bind(&code)
            .bind(&name)
            .bind(text::sort_key(&name))
            .bind(target)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                let e = StoreError::from(e);
                if e.is_unique_violation() {
                    StoreError::Conflict(Problem::TeamCodeTaken { code: code.to_string() })
                } else {
                    e
                }
            })?;
            refresh_hamlet!(&mut *tx, new.hamlet_id);
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "team",
                id,
                path,
                serde_json::json!({"kind": new.kind.as_str()})
            );
            Ok::<i64, StoreError>(id)
        })
    }

    pub async fn add_member(&self, actor: &Actor, team_id: i64, m: &NewMember) -> Result<i64> {
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let (path,): (String,) = sqlx::query_as("SELECT path FROM teams WHERE id = $1")
                .bind(team_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO team_members (team_id, family, middle, given, sort_key, gender, role, represents, phone, term_from, term_to, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(team_id)
            .bind(&m.name.family)
            .bind(&m.name.middle)
            .bind(&m.name.given)
            .bind(m.name.sort_key())
            .bind(m.gender.map(|g| g.as_str()))
            .bind(m.role.as_str())
            .bind(m.represents.as_str())
            .bind(m.phone.as_ref().map(|p| p.as_str().to_string()))
            .bind(m.term_from.format("%Y-%m-%d").to_string())
            .bind(m.term_to.map(|d| d.format("%Y-%m-%d").to_string()))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "team_member",
                id,
                path,
                serde_json::json!({"team_id": team_id})
            );
            Ok::<i64, StoreError>(id)
        })
    }

    /// A team inside the scope (team roles: only their own), or NotFound.
    pub async fn team(&self, scope: &Scope, id: i64) -> Result<Team> {
        let sql = format!("{TEAM_SELECT} WHERE t.id = $1 AND {TEAM_IN_SCOPE}");
        let team: Option<Team> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .fetch_optional(p)
            .await?);
        team.ok_or(StoreError::NotFound)
    }

    pub async fn team_by_code(&self, code: &str) -> Result<Team> {
        let sql = format!("{TEAM_SELECT} WHERE t.code = $1");
        let team: Option<Team> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(code)
            .fetch_optional(p)
            .await?);
        team.ok_or(StoreError::NotFound)
    }

    /// Members in force of a team inside the scope (leader first, then
    /// Vietnamese name order); none for a team outside it. A member whose
    /// term ended before today is no longer listed.
    pub async fn members(&self, scope: &Scope, team_id: i64) -> Result<Vec<Member>> {
        let sql = format!(
            "SELECT id, family, middle, given, role, represents, phone, term_from, term_to FROM team_members m WHERE m.team_id = $1 \
             AND (m.term_to IS NULL OR m.term_to >= $5) AND {TEAM_IN_SCOPE} ORDER BY CASE role WHEN 'leader' THEN 0 WHEN 'deputy' THEN 1 ELSE 2 END, sort_key, id"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(team_id)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .bind(ymd(self.today()))
            .fetch_all(p)
            .await?))
    }

    /// Open teams and groups under `path` inside the scope, with their
    /// hamlet, in one query (a form's choices; at most `limit`).
    pub async fn teams_under(&self, scope: &Scope, path: &str, limit: i64) -> Result<Vec<Team>> {
        // A path above the scope (a hamlet head asking for the commune's)
        // means the scope itself.
        let narrowed = if scope.path.starts_with(path) {
            Some(scope.clone())
        } else {
            scope.narrow(path)
        };
        let Some(scope) = narrowed else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "{TEAM_SELECT} WHERE t.closed_on IS NULL AND t.path >= $1 AND t.path < $2 \
             AND ($3 IS NULL OR t.id = $3 OR t.parent_team_id = $3) ORDER BY u.sort_key, t.kind DESC, t.code LIMIT $4"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// Teams and groups of one hamlet, inside the scope.
    pub async fn teams_of_hamlet(&self, scope: &Scope, hamlet_id: i64) -> Result<Vec<Team>> {
        let sql = format!("{TEAM_SELECT} WHERE t.hamlet_id = $1 AND t.closed_on IS NULL AND t.path >= $2 AND t.path < $3 AND ($4 IS NULL OR t.id = $4 OR t.parent_team_id = $4) ORDER BY t.kind DESC, t.code");
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(hamlet_id)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .fetch_all(p)
            .await?))
    }
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A member's row, as the changes to it need it.
#[derive(sqlx::FromRow)]
struct MemberRow {
    team_id: i64,
    family: String,
    middle: String,
    given: String,
    gender: Option<String>,
    role: String,
    represents: String,
    phone: Option<String>,
    term_from: String,
    term_to: Option<String>,
}

/// The registry's teams kept on pages: each change asks the policy
/// (`ManageTeams`) at the team's hamlet and is audited.
impl Store {
    /// Adds a team or group to a hamlet.
    pub async fn add_team(&self, viewer: &Viewer, new: &NewTeam) -> Result<i64> {
        let hamlet = self.unit(&viewer.scope, new.hamlet_id).await?;
        viewer.require(Action::ManageTeams, &Target::at(&hamlet.path))?;
        if let Some(parent) = new.parent_team_id {
            let t = self.team(&viewer.scope, parent).await?;
            if t.hamlet_id != new.hamlet_id {
                return Err(StoreError::Rejected(Problem::TeamNotOfHamlet));
            }
        }
        self.create_team(&viewer.actor, new).await
    }

    /// An open team in the viewer's scope that they may keep.
    async fn kept_team(&self, viewer: &Viewer, team_id: i64) -> Result<Team> {
        let team = self.team(&viewer.scope, team_id).await?;
        viewer.require(Action::ManageTeams, &Target::at(&team.path))?;
        if team.closed_on.is_some() {
            return Err(StoreError::Rejected(Problem::TeamClosed));
        }
        Ok(team)
    }

    pub async fn rename_team(&self, viewer: &Viewer, team_id: i64, name: &str) -> Result<()> {
        let team = self.kept_team(viewer, team_id).await?;
        let name = text::clean_required(name, 200).map_err(|e| StoreError::invalid("name", e))?;
        let actor = &viewer.actor;
        in_tx!(&self.db, |tx| {
            sqlx::query("UPDATE teams SET name = $1, sort_key = $2 WHERE id = $3")
                .bind(&name)
                .bind(text::sort_key(&name))
                .bind(team_id)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "rename",
                "team",
                team_id,
                team.path,
                serde_json::json!({"from": team.name, "to": name})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// Closes a team on `day`: its members' terms end that day and its
    /// households go back to the hamlet's coverage gaps (no team), to be
    /// given to another team. The team stays, closed, for the history.
    pub async fn close_team(&self, viewer: &Viewer, team_id: i64, day: NaiveDate) -> Result<()> {
        let team = self.kept_team(viewer, team_id).await?;
        let actor = &viewer.actor;
        let day = ymd(day);
        in_tx!(&self.db, |tx| {
            sqlx::query("UPDATE teams SET closed_on = $1 WHERE id = $2")
                .bind(&day)
                .bind(team_id)
                .execute(&mut *tx)
                .await?;
            let ended = sqlx::query(
                "UPDATE team_members SET term_to = $1 WHERE team_id = $2 AND (term_to IS NULL OR term_to > $1)",
            )
            .bind(&day)
            .bind(team_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let released =
                crate::registry::household::release_team(&mut *tx, team_id, self.now()).await?;
            refresh_hamlet!(&mut *tx, team.hamlet_id);
            audit!(
                &mut *tx,
                self,
                actor,
                "close",
                "team",
                team_id,
                team.path,
                serde_json::json!({"closed_on": day, "members_ended": ended, "households_released": released})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// Adds a member to an open team.
    pub async fn add_team_member(
        &self,
        viewer: &Viewer,
        team_id: i64,
        m: &NewMember,
    ) -> Result<i64> {
        self.kept_team(viewer, team_id).await?;
        if m.term_to.is_some_and(|to| to < m.term_from) {
            return Err(StoreError::Rejected(Problem::MemberTermOrder));
        }
        self.add_member(&viewer.actor, team_id, m).await
    }

    async fn member_row(&self, viewer: &Viewer, member_id: i64) -> Result<(MemberRow, Team)> {
        let row: Option<MemberRow> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT team_id, family, middle, given, gender, role, represents, phone, term_from, term_to FROM team_members WHERE id = $1"
        )
        .bind(member_id)
        .fetch_optional(p)
        .await?
        });
        let row = row.ok_or(StoreError::NotFound)?;
        let team = self.kept_team(viewer, row.team_id).await?;
        if row
            .term_to
            .as_deref()
            .is_some_and(|to| to < ymd(self.today()).as_str())
        {
            return Err(StoreError::Rejected(Problem::MemberEnded));
        }
        Ok((row, team))
    }

    /// Ends a member's term on `day` (they leave the team).
    pub async fn end_member(&self, viewer: &Viewer, member_id: i64, day: NaiveDate) -> Result<()> {
        let (row, team) = self.member_row(viewer, member_id).await?;
        let day = ymd(day);
        if day < row.term_from {
            return Err(StoreError::Rejected(Problem::MemberTermOrder));
        }
        let actor = &viewer.actor;
        in_tx!(&self.db, |tx| {
            sqlx::query("UPDATE team_members SET term_to = $1 WHERE id = $2")
                .bind(&day)
                .bind(member_id)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "end_term",
                "team_member",
                member_id,
                team.path,
                serde_json::json!({"team_id": team.id, "term_to": day})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// Moves a member to another open team of the viewer's part of the
    /// tree from `day`: the term in the old team ends that day and a new
    /// one starts in the new team, so each team's history stays true.
    pub async fn move_member(
        &self,
        viewer: &Viewer,
        member_id: i64,
        to_team: i64,
        day: NaiveDate,
    ) -> Result<i64> {
        let (row, from) = self.member_row(viewer, member_id).await?;
        if from.id == to_team {
            return Err(StoreError::Rejected(Problem::MemberSameTeam));
        }
        let to = self.kept_team(viewer, to_team).await?;
        let day = ymd(day);
        if day < row.term_from {
            return Err(StoreError::Rejected(Problem::MemberTermOrder));
        }
        let sort_key = PersonName {
            family: row.family.clone(),
            middle: row.middle.clone(),
            given: row.given.clone(),
        }
        .sort_key();
        let actor = &viewer.actor;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query("UPDATE team_members SET term_to = $1 WHERE id = $2")
                .bind(&day)
                .bind(member_id)
                .execute(&mut *tx)
                .await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO team_members (team_id, family, middle, given, sort_key, gender, role, represents, phone, term_from, term_to, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(to.id)
            .bind(&row.family)
            .bind(&row.middle)
            .bind(&row.given)
            .bind(&sort_key)
            .bind(&row.gender)
            .bind(&row.role)
            .bind(&row.represents)
            .bind(&row.phone)
            .bind(&day)
            .bind(&row.term_to)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "move",
                "team_member",
                member_id,
                to.path,
                serde_json::json!({"from_team": from.id, "to_team": to.id, "new_member_id": id, "on": day})
            );
            Ok::<i64, StoreError>(id)
        })
    }
}

/// A unit moved from path `old` (ending before `end`) to `new`: its teams'
/// paths follow.
pub(crate) async fn repath<'c>(
    conn: impl Into<crate::conn::Conn<'c>>,
    old: &str,
    end: &str,
    new: &str,
) -> Result<()> {
    let cut = crate::registry::unit::path_cut(old);
    crate::on_conn!(conn.into(), |c| {
        sqlx::query(
            "UPDATE teams SET path = $1 || substr(path, $2) WHERE path >= $3 AND path < $4",
        )
        .bind(new)
        .bind(cut)
        .bind(old)
        .bind(end)
        .execute(c)
        .await?;
    });
    Ok(())
}
