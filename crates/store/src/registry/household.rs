//! Households and their residents. Citizen ids leave this module masked,
//! except through `resident_for_edit`, which serves the resident's own edit
//! form.

use danvan_domain::problem::Problem;
use danvan_domain::{
    text, Birth, CitizenId, FieldError, Gender, PersonName, Phone, Reach, UnitLevel,
};
use serde::Serialize;

use crate::registry::stats::refresh_hamlet;
use crate::registry::team::TEAM_IN_SCOPE;
use crate::typed::{stored, NullableText};
use crate::viewer::Viewer;
use crate::{audit, in_tx, on_db, prefix_end, Actor, Result, Scope, Store, StoreError};
use danvan_domain::policy::{Action, Target};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Household {
    pub id: i64,
    pub code: String,
    pub hamlet_id: i64,
    pub hamlet_name: String,
    pub path: String,
    pub team_id: Option<i64>,
    pub team_name: Option<String>,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    #[sqlx(try_from = "String")]
    pub reach: Reach,
    pub phone: Option<String>,
    pub head_name: String,
    pub resident_count: i32,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Resident {
    pub id: i64,
    pub household_id: i64,
    pub family: String,
    pub middle: String,
    pub given: String,
    pub birth_year: Option<i32>,
    pub birth_date: Option<String>,
    #[sqlx(try_from = "NullableText")]
    pub gender: Option<Gender>,
    pub relation: String,
    pub is_head: bool,
    pub phone: Option<String>,
    /// Masked ("********1234") except from `resident_for_edit`.
    pub citizen_id: Option<String>,
}

impl Resident {
    pub fn full_name(&self) -> String {
        PersonName {
            family: self.family.clone(),
            middle: self.middle.clone(),
            given: self.given.clone(),
        }
        .full()
    }
    pub fn birth_display(&self) -> String {
        match (&self.birth_date, self.birth_year) {
            (Some(d), _) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map(danvan_domain::date::format_vn_date)
                .unwrap_or_else(|_| d.clone()),
            (None, Some(y)) => y.to_string(),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewResident {
    pub name: PersonName,
    pub birth: Option<Birth>,
    pub gender: Option<Gender>,
    pub relation: String,
    pub is_head: bool,
    pub phone: Option<Phone>,
    pub citizen_id: Option<CitizenId>,
}

#[derive(Debug, Clone)]
pub struct NewHousehold {
    /// None: a code is issued (`HH` + id).
    pub code: Option<String>,
    pub hamlet_id: i64,
    pub team_id: Option<i64>,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub reach: Reach,
    pub phone: Option<Phone>,
    pub residents: Vec<NewResident>,
}

/// Fields of a resident's edit form.
#[derive(Debug, Clone)]
pub struct ResidentEdit {
    pub name: PersonName,
    pub birth: Option<Birth>,
    pub gender: Option<Gender>,
    pub relation: String,
    pub phone: Option<Phone>,
    pub citizen_id: Option<CitizenId>,
    /// Keep the stored citizen id and ignore `citizen_id`: the form of
    /// someone who may not read the full id (it showed them the masked
    /// one) and left the field empty.
    pub keep_citizen_id: bool,
}

pub(crate) const HOUSEHOLD_SELECT: &str = "SELECT h.id, h.code, h.hamlet_id, u.name AS hamlet_name, h.path, h.team_id, t.name AS team_name, \
       h.address, h.lat, h.lon, h.reach, h.phone, h.head_name, h.resident_count \
       FROM households h JOIN units u ON u.id = h.hamlet_id LEFT JOIN teams t ON t.id = h.team_id";

const RESIDENT_COLUMNS: &str = "id, household_id, family, middle, given, birth_year, birth_date, gender, relation, is_head, phone, citizen_id";

pub(crate) const INSERT_RESIDENT: &str = "INSERT INTO residents (household_id, family, middle, given, name_fold, given_fold, sort_key, birth_year, birth_date, gender, relation, is_head, phone, phone_digits, citizen_id, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)";

/// Checks coordinates: both or neither, and inside Vietnam's bounding box.
pub fn check_point(lat: Option<f64>, lon: Option<f64>) -> Result<()> {
    match (lat, lon) {
        (None, None) => Ok(()),
        (Some(la), Some(lo)) if (8.0..=23.5).contains(&la) && (102.0..=110.0).contains(&lo) => {
            Ok(())
        }
        (Some(_), Some(_)) => Err(StoreError::Rejected(Problem::PointOutsideVietnam)),
        _ => Err(StoreError::Rejected(Problem::PointIncomplete)),
    }
}

fn mask(r: &mut Resident) {
    if let Some(id) = r.citizen_id.as_mut() {
        *id = CitizenId::parse(id)
            .map(|c| c.masked())
            .unwrap_or_else(|_| "********".into());
    }
}

/// Binds the columns of INSERT_RESIDENT for one resident.
macro_rules! bind_resident {
    ($q:expr, $household:expr, $r:expr, $now:expr) => {
        $q.bind($household)
            .bind(&$r.name.family)
            .bind(&$r.name.middle)
            .bind(&$r.name.given)
            .bind($r.name.fold())
            .bind($r.name.given_first_fold())
            .bind($r.name.sort_key())
            .bind($r.birth.map(|b| b.year))
            .bind(
                $r.birth
                    .and_then(|b| b.date)
                    .map(|d| d.format("%Y-%m-%d").to_string()),
            )
            .bind($r.gender.map(|g| g.as_str()))
            .bind(&$r.relation)
            .bind($r.is_head)
            .bind($r.phone.as_ref().map(|p| p.as_str().to_string()))
            .bind($r.phone.as_ref().map(|p| p.digits()))
            .bind($r.citizen_id.as_ref().map(|c| c.as_str().to_string()))
            .bind($now)
    };
}

impl Store {
    /// Creates a household with its residents in one transaction.
    pub async fn create_household(&self, actor: &Actor, new: &NewHousehold) -> Result<i64> {
        check_point(new.lat, new.lon)?;
        let address =
            text::clean_line(&new.address, 300).map_err(|e| StoreError::invalid("address", e))?;
        let heads: Vec<&NewResident> = new.residents.iter().filter(|r| r.is_head).collect();
        let head = match heads.as_slice() {
            [h] => *h,
            _ => return Err(StoreError::Rejected(Problem::OneHeadPerHousehold)),
        };
        for r in &new.residents {
            text::clean_required(&r.relation, 50)
                .map_err(|e| StoreError::invalid("relation", e))?;
        }
        let now = self.now();
        let placeholder = format!("~{}", rand::random::<u64>());
        in_tx!(&self.db, |tx| {
            let (path, level): (String, String) =
                sqlx::query_as("SELECT path, level FROM units WHERE id = $1")
                    .bind(new.hamlet_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
            if stored::<UnitLevel>("level", level)? != UnitLevel::Hamlet {
                return Err(StoreError::Rejected(Problem::HouseholdNeedsHamlet));
            }
            if let Some(team) = new.team_id {
                let ok: Option<(i64,)> =
                    sqlx::query_as("SELECT id FROM teams WHERE id = $1 AND hamlet_id = $2")
                        .bind(team)
                        .bind(new.hamlet_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if ok.is_none() {
                    return Err(StoreError::Rejected(Problem::TeamNotOfHamlet));
                }
            }
            let code = new.code.clone().unwrap_or_else(|| placeholder.clone());
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO households (code, hamlet_id, path, team_id, address, lat, lon, reach, phone, head_name, head_sort_key, resident_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
            )
            .bind(&code)
            .bind(new.hamlet_id)
            .bind(&path)
            .bind(new.team_id)
            .bind(&address)
            .bind(new.lat)
            .bind(new.lon)
            .bind(new.reach.as_str())
            .bind(new.phone.as_ref().map(|p| p.as_str().to_string()))
            .bind(head.name.full())
            .bind(head.name.sort_key())
            .bind(i32::try_from(new.residents.len()).unwrap_or(i32::MAX))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                let e = StoreError::from(e);
                if e.is_unique_violation() { StoreError::Conflict(Problem::HouseholdCodeTaken { code: code.to_string() }) } else { e }
            })?;
            if new.code.is_none() {
                sqlx::query("UPDATE households SET code = $1 WHERE id = $2")
                    .bind(format!("HH{id:07}"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            for r in &new.residents {
                bind_resident!(sqlx::query(INSERT_RESIDENT), id, r, now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        let e = StoreError::from(e);
                        if e.is_unique_violation() {
                            StoreError::Conflict(Problem::CitizenIdTaken)
                        } else {
                            e
                        }
                    })?;
            }
            refresh_hamlet!(&mut *tx, new.hamlet_id);
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "household",
                id,
                path,
                serde_json::json!({"residents": new.residents.len()})
            );
            Ok::<i64, StoreError>(id)
        })
    }

    /// A household inside the scope (team roles: their team's only), or NotFound.
    pub async fn household(&self, scope: &Scope, id: i64) -> Result<Household> {
        let sql = format!("{HOUSEHOLD_SELECT} WHERE h.id = $1 AND h.path >= $2 AND h.path < $3 AND ($4 IS NULL OR h.team_id = $4)");
        let h: Option<Household> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .fetch_optional(p)
            .await?);
        h.ok_or(StoreError::NotFound)
    }

    /// Residents of a household inside the scope (team roles: their
    /// team's), head first, then by year of birth; none outside it.
    pub async fn residents(&self, scope: &Scope, household_id: i64) -> Result<Vec<Resident>> {
        let sql = format!(
            "SELECT {RESIDENT_COLUMNS} FROM residents WHERE household_id = $1 \
             AND EXISTS (SELECT 1 FROM households h WHERE h.id = $1 AND h.path >= $2 AND h.path < $3 AND ($4 IS NULL OR h.team_id = $4)) \
             ORDER BY is_head DESC, COALESCE(birth_year, 9999), sort_key, id"
        );
        let mut rows: Vec<Resident> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(household_id)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .fetch_all(p)
            .await?);
        rows.iter_mut().for_each(mask);
        Ok(rows)
    }

    /// One resident for the resident's own edit form: the citizen id in
    /// full only for a viewer who may read it (`ReadCitizenId`: those who
    /// keep the registry), and each such view is audited; masked for
    /// everyone else. `full` tells which.
    pub async fn resident_for_edit(
        &self,
        viewer: &Viewer,
        resident_id: i64,
    ) -> Result<(Household, Resident, bool)> {
        let (h, mut r) = self.resident_row(&viewer.scope, resident_id).await?;
        let full = viewer.may(Action::ReadCitizenId, &Target::at(&h.path).team(h.team_id));
        if !full {
            mask(&mut r);
        } else if r.citizen_id.is_some() {
            on_db!(&self.db, |p| {
                audit!(
                    p,
                    self,
                    viewer.actor,
                    "view_citizen_id",
                    "resident",
                    resident_id,
                    h.path,
                    serde_json::json!({"household_id": h.id})
                );
            });
        }
        Ok((h, r, full))
    }

    /// One resident unmasked, inside the scope: for the store's own use.
    async fn resident_row(&self, scope: &Scope, resident_id: i64) -> Result<(Household, Resident)> {
        let sql = format!("SELECT {RESIDENT_COLUMNS} FROM residents WHERE id = $1");
        let r: Option<Resident> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(resident_id)
            .fetch_optional(p)
            .await?);
        let r = r.ok_or(StoreError::NotFound)?;
        let h = self.household(scope, r.household_id).await?;
        Ok((h, r))
    }

    pub async fn update_resident(
        &self,
        viewer: &Viewer,
        resident_id: i64,
        e: &ResidentEdit,
    ) -> Result<()> {
        let (h, stored) = self.resident_row(&viewer.scope, resident_id).await?;
        viewer.require(Action::EditResident, &Target::at(&h.path).team(h.team_id))?;
        let citizen_id = if e.keep_citizen_id {
            stored.citizen_id
        } else {
            e.citizen_id.as_ref().map(|c| c.as_str().to_string())
        };
        let actor = &viewer.actor;
        let relation = text::clean_required(&e.relation, 50)
            .map_err(|er| StoreError::invalid("relation", er))?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE residents SET family = $1, middle = $2, given = $3, name_fold = $4, given_fold = $5, sort_key = $6, birth_year = $7, birth_date = $8, \
                 gender = $9, relation = $10, phone = $11, phone_digits = $12, citizen_id = $13, updated_at = $14 WHERE id = $15",
            )
            .bind(&e.name.family)
            .bind(&e.name.middle)
            .bind(&e.name.given)
            .bind(e.name.fold())
            .bind(e.name.given_first_fold())
            .bind(e.name.sort_key())
            .bind(e.birth.map(|b| b.year))
            .bind(e.birth.and_then(|b| b.date).map(|d| d.format("%Y-%m-%d").to_string()))
            .bind(e.gender.map(|g| g.as_str()))
            .bind(&relation)
            .bind(e.phone.as_ref().map(|p| p.as_str().to_string()))
            .bind(e.phone.as_ref().map(|p| p.digits()))
            .bind(&citizen_id)
            .bind(now)
            .bind(resident_id)
            .execute(&mut *tx)
            .await
            .map_err(|er| {
                let er = StoreError::from(er);
                if er.is_unique_violation() { StoreError::Conflict(Problem::CitizenIdTaken) } else { er }
            })?;
            sqlx::query(
                "UPDATE households SET head_name = (SELECT TRIM(TRIM(family || ' ' || middle) || ' ' || given) FROM residents WHERE household_id = $1 AND is_head = TRUE LIMIT 1), \
                 head_sort_key = COALESCE((SELECT sort_key FROM residents WHERE household_id = $1 AND is_head = TRUE LIMIT 1), head_sort_key), updated_at = $2 WHERE id = $1",
            )
            .bind(h.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "update",
                "resident",
                resident_id,
                h.path,
                serde_json::json!({"household_id": h.id})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// Gives a household to a team of its hamlet (or to none).
    pub async fn assign_team(
        &self,
        viewer: &Viewer,
        household_id: i64,
        team_id: Option<i64>,
    ) -> Result<()> {
        let h = self.household(&viewer.scope, household_id).await?;
        self.assign_households(viewer, h.hamlet_id, &[household_id], team_id)
            .await
            .map(|_| ())
    }

    /// Gives households of one hamlet to one of its open teams (or to
    /// none), in one transaction: the roster's bulk move. Each household
    /// must be in the viewer's scope and of that hamlet; each move is
    /// audited with where it came from. Returns how many changed team.
    pub async fn assign_households(
        &self,
        viewer: &Viewer,
        hamlet_id: i64,
        household_ids: &[i64],
        team_id: Option<i64>,
    ) -> Result<usize> {
        if household_ids.is_empty() {
            return Err(StoreError::Rejected(Problem::HouseholdsNoneTicked));
        }
        let mut households = Vec::with_capacity(household_ids.len());
        for id in household_ids {
            let h = self.household(&viewer.scope, *id).await?;
            if h.hamlet_id != hamlet_id {
                return Err(StoreError::Rejected(Problem::TeamNotOfHamlet));
            }
            viewer.require(Action::AssignHousehold, &Target::at(&h.path))?;
            households.push(h);
        }
        let actor = &viewer.actor;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            if let Some(t) = team_id {
                let row: Option<(Option<String>,)> =
                    sqlx::query_as("SELECT closed_on FROM teams WHERE id = $1 AND hamlet_id = $2")
                        .bind(t)
                        .bind(hamlet_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match row {
                    None => return Err(StoreError::Rejected(Problem::TeamNotOfHamlet)),
                    Some((Some(_),)) => return Err(StoreError::Rejected(Problem::TeamClosed)),
                    Some((None,)) => {}
                }
            }
            let mut changed = 0;
            for h in households.iter().filter(|h| h.team_id != team_id) {
                sqlx::query("UPDATE households SET team_id = $1, updated_at = $2 WHERE id = $3")
                    .bind(team_id)
                    .bind(now)
                    .bind(h.id)
                    .execute(&mut *tx)
                    .await?;
                audit!(
                    &mut *tx,
                    self,
                    actor,
                    "assign_team",
                    "household",
                    h.id,
                    h.path,
                    serde_json::json!({"from": h.team_id, "to": team_id})
                );
                changed += 1;
            }
            refresh_hamlet!(&mut *tx, hamlet_id);
            Ok::<usize, StoreError>(changed)
        })
    }

    /// Households a team inside the scope looks after, in Vietnamese order
    /// of the head's name; none for a team outside it.
    pub async fn team_households(&self, scope: &Scope, team_id: i64) -> Result<Vec<Household>> {
        let sql = format!(
            "{HOUSEHOLD_SELECT} WHERE h.team_id = $1 AND {TEAM_IN_SCOPE} ORDER BY h.head_sort_key, h.id"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(team_id)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .fetch_all(p)
            .await?))
    }

    /// Every household of a hamlet inside the scope, in Vietnamese order of
    /// the head's name, with its team (the roster; at most 2,000).
    pub async fn hamlet_households(&self, scope: &Scope, hamlet_id: i64) -> Result<Vec<Household>> {
        if scope.team_id.is_some() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{HOUSEHOLD_SELECT} WHERE h.hamlet_id = $1 AND h.path >= $2 AND h.path < $3 ORDER BY h.head_sort_key, h.id LIMIT 2000"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(hamlet_id)
            .bind(&scope.path)
            .bind(scope.end())
            .fetch_all(p)
            .await?))
    }

    /// Households of a subtree with no team, a page at a time (keyset on id).
    pub async fn unassigned_households(
        &self,
        scope: &Scope,
        path: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Household>> {
        let Some(scope) = scope.narrow(path) else {
            return Ok(Vec::new());
        };
        if scope.team_id.is_some() {
            return Ok(Vec::new());
        }
        let sql = format!("{HOUSEHOLD_SELECT} WHERE h.path >= $1 AND h.path < $2 AND h.team_id IS NULL AND h.id > $3 ORDER BY h.id LIMIT $4");
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&scope.path)
            .bind(prefix_end(&scope.path))
            .bind(after_id)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }
}

/// A closed team's households go back to no team; returns how many.
pub(crate) async fn release_team<'c>(
    conn: impl Into<crate::conn::Conn<'c>>,
    team_id: i64,
    now: i64,
) -> Result<u64> {
    Ok(crate::on_conn!(conn.into(), |c| {
        sqlx::query("UPDATE households SET team_id = NULL, updated_at = $2 WHERE team_id = $1")
            .bind(team_id)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected()
    }))
}

/// Maps a field error of a resident to the store's error.
pub fn field(name: &'static str) -> impl Fn(FieldError) -> StoreError {
    move |e| StoreError::invalid(name, e)
}

impl Store {
    /// Sets coordinates of households by code, in one transaction.
    pub async fn set_points(&self, actor: &Actor, points: &[(String, f64, f64)]) -> Result<usize> {
        for (_, lat, lon) in points {
            check_point(Some(*lat), Some(*lon))?;
        }
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let mut n = 0u64;
            for (code, lat, lon) in points {
                n += sqlx::query(
                    "UPDATE households SET lat = $1, lon = $2, updated_at = $3 WHERE code = $4",
                )
                .bind(lat)
                .bind(lon)
                .bind(now)
                .bind(code)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            audit!(
                &mut *tx,
                self,
                actor,
                "set_points",
                "households",
                n,
                "/",
                serde_json::json!({"households": n})
            );
            Ok::<usize, StoreError>(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}

impl Store {
    /// A household's id by its code (command line; no scope).
    pub async fn household_by_code(&self, code: &str) -> Result<i64> {
        let row: Option<(i64,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT id FROM households WHERE code = $1"
        )
        .bind(code.trim().to_uppercase())
        .fetch_optional(p)
        .await?);
        row.map(|(id,)| id).ok_or(StoreError::NotFound)
    }
}

/// A split moves a household from hamlet `from` to hamlet `to` (at
/// `path`), out of any team; false when it is not in `from`.
pub(crate) async fn move_to_hamlet<'c>(
    conn: impl Into<crate::conn::Conn<'c>>,
    household: i64,
    from: i64,
    to: i64,
    path: &str,
    at: i64,
) -> Result<bool> {
    let moved = crate::on_conn!(conn.into(), |c| {
        sqlx::query(
        "UPDATE households SET hamlet_id = $1, path = $2, team_id = NULL, updated_at = $3 WHERE id = $4 AND hamlet_id = $5"
    )
    .bind(to)
    .bind(path)
    .bind(at)
    .bind(household)
    .bind(from)
    .execute(c)
    .await?
    .rows_affected()
    });
    Ok(moved == 1)
}

/// A unit moved from path `old` (ending before `end`) to `new`: its
/// households' paths follow.
pub(crate) async fn repath<'c>(
    conn: impl Into<crate::conn::Conn<'c>>,
    old: &str,
    end: &str,
    new: &str,
) -> Result<()> {
    let cut = crate::registry::unit::path_cut(old);
    crate::on_conn!(conn.into(), |c| {
        sqlx::query(
            "UPDATE households SET path = $1 || substr(path, $2) WHERE path >= $3 AND path < $4",
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
