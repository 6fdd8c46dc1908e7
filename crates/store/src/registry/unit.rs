//! The unit tree: units of any depth kept as a materialized path
//! (`/1/17/342/`), so "everything under X" is one indexed range scan; history
//! as events that never rewrite the past (a rename keeps the old name in its
//! event, a merge closes the sources' validity, a move rewrites paths but
//! records the old parent).

use chrono::NaiveDate;
use danvan_domain::place::place_key;
use danvan_domain::problem::Problem;
use danvan_domain::unit::{CodeKind, UnitEventKind};
use danvan_domain::{text, FieldError, UnitLevel};
use serde::Serialize;

use crate::conn::Conn;
use crate::typed::stored;
use crate::{
    audit, in_tx, on_conn, on_db, prefix_end, Actor, Result, Scope, Store, StoreError, Viewer,
};
use danvan_domain::policy::{Action, Target};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Unit {
    pub id: i64,
    pub parent_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub level: UnitLevel,
    pub name: String,
    pub code: Option<String>,
    #[sqlx(try_from = "String")]
    pub code_kind: CodeKind,
    pub path: String,
    pub depth: i32,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// The unit's centre (a hamlet's places reports sent with a point).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl Unit {
    /// Still in force on `day` (validity dates are inclusive).
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        let d = day.format("%Y-%m-%d").to_string();
        self.valid_from.as_deref().is_none_or(|f| f <= d.as_str())
            && self.valid_to.as_deref().is_none_or(|t| t >= d.as_str())
    }
}

pub(crate) const UNIT_COLUMNS: &str =
    "id, parent_id, level, name, code, code_kind, path, depth, valid_from, valid_to, lat, lon";

#[derive(Debug, Clone)]
pub struct NewUnit {
    pub parent_id: Option<i64>,
    pub level: UnitLevel,
    pub name: String,
    pub code: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// A change to the tree, recorded as an event with its date and legal basis.
#[derive(Debug, Clone)]
pub enum UnitChange {
    Rename {
        unit_id: i64,
        new_name: String,
    },
    /// Several units into one (the target exists already, new or continuing).
    /// Sources other than the target end the day before; with
    /// `move_children` their children move under the target.
    Merge {
        sources: Vec<i64>,
        target: i64,
        move_children: bool,
    },
    /// One hamlet into several: each household is reassigned explicitly.
    Split {
        source: i64,
        targets: Vec<i64>,
        households: Vec<(i64, i64)>,
    },
    Move {
        unit_id: i64,
        new_parent_id: i64,
    },
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub change: UnitChange,
    pub date: NaiveDate,
    pub legal_basis: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventPart {
    pub unit_id: i64,
    pub unit_name: String,
    pub part: String,
    pub old_name: Option<String>,
    pub new_name: Option<String>,
    pub old_parent_name: Option<String>,
    pub new_parent_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitEvent {
    pub id: i64,
    pub kind: UnitEventKind,
    pub effective_date: String,
    pub legal_basis: String,
    pub note: String,
    pub parts: Vec<EventPart>,
    pub households_moved: i64,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    #[sqlx(try_from = "String")]
    kind: UnitEventKind,
    effective_date: String,
    legal_basis: String,
    note: String,
}

#[derive(sqlx::FromRow)]
struct PartRow {
    event_id: i64,
    unit_id: i64,
    unit_name: String,
    part: String,
    old_name: Option<String>,
    new_name: Option<String>,
    old_parent_name: Option<String>,
    new_parent_name: Option<String>,
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn validate_code(code: &Option<String>) -> Result<Option<String>> {
    match code.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) if c.len() <= 10 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') => {
            Ok(Some(c.to_string()))
        }
        Some(_) => Err(StoreError::invalid("code", FieldError::InvalidLevel)),
    }
}

impl Store {
    /// Creates a unit under `parent_id` (or a root). Hamlets have no national
    /// code, so one is issued (`TH000123`, kind `local`).
    pub async fn create_unit(&self, actor: &Actor, new: &NewUnit) -> Result<i64> {
        let name =
            text::clean_required(&new.name, 200).map_err(|e| StoreError::invalid("name", e))?;
        let code = validate_code(&new.code)?;
        if let (Some(f), Some(t)) = (new.valid_from, new.valid_to) {
            if t < f {
                return Err(StoreError::Rejected(Problem::ValidityReversed));
            }
        }
        let now = self.now();
        let fold = text::fold(&name);
        let key = text::sort_key(&name);
        let placeholder = format!("~{}", rand::random::<u64>());
        in_tx!(&self.db, |tx| {
            let (parent_path, depth) = match new.parent_id {
                Some(pid) => {
                    let parent: Option<(String, i32, String)> =
                        sqlx::query_as("SELECT path, depth, level FROM units WHERE id = $1")
                            .bind(pid)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let (path, depth, level) = parent.ok_or(StoreError::NotFound)?;
                    let plevel: UnitLevel = stored("level", level)?;
                    if plevel.rank() >= new.level.rank() {
                        return Err(StoreError::Rejected(Problem::LevelUnder {
                            child: new.level,
                            parent: plevel,
                        }));
                    }
                    (path, depth + 1)
                }
                None => ("/".to_string(), 0),
            };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO units (parent_id, level, name, name_fold, sort_key, code, code_kind, path, depth, valid_from, valid_to, created_at, place_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
            )
            .bind(new.parent_id)
            .bind(new.level.as_str())
            .bind(&name)
            .bind(&fold)
            .bind(&key)
            .bind(&code)
            .bind(if code.is_some() || new.level != UnitLevel::Hamlet { CodeKind::Official } else { CodeKind::Local }.as_str())
            .bind(&placeholder)
            .bind(depth)
            .bind(new.valid_from.map(ymd))
            .bind(new.valid_to.map(ymd))
            .bind(now)
            .bind(place_key(&name))
            .fetch_one(&mut *tx)
            .await?;
            let path = format!("{parent_path}{id}/");
            let issued = if code.is_none() && new.level == UnitLevel::Hamlet {
                Some(format!("TH{id:06}"))
            } else {
                code.clone()
            };
            sqlx::query("UPDATE units SET path = $1, code = $2 WHERE id = $3")
                .bind(&path)
                .bind(&issued)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if new.level == UnitLevel::Hamlet {
                // Its row of counts, all zero.
                crate::registry::stats::refresh_hamlet!(&mut *tx, id);
            }
            let detail =
                serde_json::json!({"level": new.level.as_str(), "parent_id": new.parent_id});
            audit!(&mut *tx, self, actor, "create", "unit", id, path, detail);
            Ok::<i64, StoreError>(id)
        })
    }

    /// Adds a unit under a parent in the viewer's part of the tree (a
    /// province officer: communes and hamlets of their province).
    pub async fn add_unit(&self, viewer: &Viewer, new: &NewUnit) -> Result<i64> {
        let parent = match new.parent_id {
            Some(id) => self.unit(&viewer.scope, id).await?.path,
            None => "/".to_string(),
        };
        viewer.require(Action::ManageUnits, &Target::at(&parent).below())?;
        self.create_unit(&viewer.actor, new).await
    }

    /// Records a change to the tree for a person: every unit it touches
    /// (and a new parent) must be theirs to change, by the policy
    /// (`ManageUnits`: below their own unit); then as [`record_event`].
    pub async fn change_units(&self, viewer: &Viewer, ev: &NewEvent) -> Result<i64> {
        let (changed, parents): (Vec<i64>, Vec<i64>) = match &ev.change {
            UnitChange::Rename { unit_id, .. } => (vec![*unit_id], vec![]),
            UnitChange::Merge {
                sources, target, ..
            } => {
                let mut all = sources.clone();
                all.push(*target);
                (all, vec![])
            }
            UnitChange::Split {
                source, targets, ..
            } => {
                let mut all = targets.clone();
                all.push(*source);
                (all, vec![])
            }
            UnitChange::Move {
                unit_id,
                new_parent_id,
            } => (vec![*unit_id], vec![*new_parent_id]),
        };
        for id in changed {
            let u = self.unit(&viewer.scope, id).await?;
            viewer.require(Action::ManageUnits, &Target::at(&u.path))?;
        }
        for id in parents {
            let u = self.unit(&viewer.scope, id).await?;
            viewer.require(Action::ManageUnits, &Target::at(&u.path).below())?;
        }
        self.record_event(&viewer.actor, ev).await
    }

    /// Units in force of one level inside `scope`, in Vietnamese order (the
    /// choices of a form: a new parent, a unit to merge into).
    pub async fn units_at_level(
        &self,
        scope: &Scope,
        level: UnitLevel,
        limit: i64,
    ) -> Result<Vec<Unit>> {
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE path >= $1 AND path < $2 AND level = $3 AND valid_to IS NULL \
             ORDER BY sort_key, id LIMIT $4"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(level.as_str())
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// A unit inside `scope`, or NotFound.
    pub async fn unit(&self, scope: &Scope, id: i64) -> Result<Unit> {
        let sql = format!("SELECT {UNIT_COLUMNS} FROM units WHERE id = $1");
        let unit: Option<Unit> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?);
        match unit {
            Some(u) if scope.contains_path(&u.path) => Ok(u),
            _ => Err(StoreError::NotFound),
        }
    }

    /// A unit by id without scope; for the command line and internal use.
    pub async fn unit_unscoped(&self, id: i64) -> Result<Unit> {
        self.unit(&Scope::all(), id).await
    }

    /// Children in Vietnamese order; with `current_only`, only those in force today.
    pub async fn children(&self, scope: &Scope, id: i64, current_only: bool) -> Result<Vec<Unit>> {
        self.unit(scope, id).await?;
        let today = ymd(self.today());
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE parent_id = $1 AND ($2 = 0 OR valid_to IS NULL OR valid_to >= $3) ORDER BY sort_key, id"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .bind(i32::from(current_only))
            .bind(&today)
            .fetch_all(p)
            .await?))
    }

    /// The top units a scope can see: the roots for `/`, else the scope's own unit.
    pub async fn top_units(&self, scope: &Scope) -> Result<Vec<Unit>> {
        let today = ymd(self.today());
        let sql = if scope.path == "/" {
            format!("SELECT {UNIT_COLUMNS} FROM units WHERE parent_id IS NULL AND (valid_to IS NULL OR valid_to >= $1) AND $2 = $2 ORDER BY sort_key, id")
        } else {
            format!("SELECT {UNIT_COLUMNS} FROM units WHERE path = $2 AND $1 = $1")
        };
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&today)
            .bind(&scope.path)
            .fetch_all(p)
            .await?))
    }

    /// The chain from the root down to the unit (for breadcrumbs).
    pub async fn ancestors(&self, unit: &Unit) -> Result<Vec<Unit>> {
        let ids: Vec<i64> = unit
            .path
            .trim_matches('/')
            .split('/')
            .filter_map(|s| s.parse().ok())
            .filter(|&i| i != unit.id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.unit_unscoped(id).await?);
        }
        Ok(out)
    }

    /// Units whose folded name contains the folded query, inside the scope.
    pub async fn search_units(&self, scope: &Scope, q: &str, limit: i64) -> Result<Vec<Unit>> {
        let folded = text::fold(q);
        let pattern = format!("%{}%", folded.replace(['%', '_'], ""));
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE path >= $1 AND path < $2 AND name_fold LIKE $3 ORDER BY depth, sort_key, id LIMIT $4"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(&pattern)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// Hamlets in force inside a unit's subtree, with their commune's name.
    pub async fn hamlets_under(&self, path: &str) -> Result<Vec<(i64, String, String)>> {
        let today = ymd(self.today());
        let sql = "SELECT h.id, COALESCE(c.name, ''), h.name FROM units h LEFT JOIN units c ON c.id = h.parent_id \
                   WHERE h.path >= $1 AND h.path < $2 AND h.level = 'hamlet' AND (h.valid_to IS NULL OR h.valid_to >= $3)";
        Ok(on_db!(&self.db, |p| sqlx::query_as(sql)
            .bind(path)
            .bind(prefix_end(path))
            .bind(&today)
            .fetch_all(p)
            .await?))
    }

    /// Records a change to the tree and applies it, in one transaction:
    /// the event, the change of its kind (one step function each, below),
    /// the moves the change implies, the audit entry.
    pub async fn record_event(&self, actor: &Actor, ev: &NewEvent) -> Result<i64> {
        let legal = text::clean_required(&ev.legal_basis, 500)
            .map_err(|e| StoreError::invalid("legal_basis", e))?;
        let note = text::clean_text(&ev.note, 2000).map_err(|e| StoreError::invalid("note", e))?;
        let now = self.now();
        let day = ymd(ev.date);
        let day_before = ev.date.pred_opt().map(ymd).unwrap_or_else(|| day.clone());
        let kind = match ev.change {
            UnitChange::Rename { .. } => UnitEventKind::Rename,
            UnitChange::Merge { .. } => UnitEventKind::Merge,
            UnitChange::Split { .. } => UnitEventKind::Split,
            UnitChange::Move { .. } => UnitEventKind::Move,
        };
        let new_name = match &ev.change {
            UnitChange::Rename { new_name, .. } => Some(
                text::clean_required(new_name, 200).map_err(|e| StoreError::invalid("name", e))?,
            ),
            UnitChange::Merge { sources, .. } if sources.is_empty() => {
                return Err(StoreError::Rejected(Problem::MergeNeedsSources));
            }
            _ => None,
        };
        let when = Dates {
            day: &day,
            day_before: &day_before,
            now,
        };
        in_tx!(&self.db, |tx| {
            let event_id =
                insert_event(&mut *tx, kind, &day, &legal, &note, now, actor.account_id).await?;
            let step = match &ev.change {
                UnitChange::Rename { unit_id, .. } => {
                    let name = new_name.as_deref().unwrap_or_default();
                    rename(&mut *tx, event_id, *unit_id, name).await?
                }
                UnitChange::Merge {
                    sources,
                    target,
                    move_children,
                } => merge(&mut *tx, event_id, sources, *target, *move_children, &when).await?,
                UnitChange::Split {
                    source,
                    targets,
                    households,
                } => split(&mut *tx, event_id, *source, targets, households, &when).await?,
                UnitChange::Move {
                    unit_id,
                    new_parent_id,
                } => Step {
                    touched_path: "/".into(),
                    moves: vec![(*unit_id, *new_parent_id)],
                },
            };
            let mut touched_path = step.touched_path;
            for (unit_id, new_parent) in step.moves {
                let new_path = move_unit(&mut *tx, event_id, unit_id, new_parent).await?;
                if kind == UnitEventKind::Move {
                    touched_path = new_path;
                }
            }
            let detail = serde_json::json!({"event_id": event_id, "kind": kind.as_str()});
            audit!(
                &mut *tx,
                self,
                actor,
                "record_event",
                "unit_event",
                event_id,
                touched_path,
                detail
            );
            Ok::<i64, StoreError>(event_id)
        })
    }

    /// Every event a unit took part in, oldest first, with all participants.
    pub async fn unit_history(&self, scope: &Scope, id: i64) -> Result<Vec<UnitEvent>> {
        self.unit(scope, id).await?;
        let events: Vec<EventRow> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT e.id, e.kind, e.effective_date, e.legal_basis, e.note FROM unit_events e \
             WHERE e.id IN (SELECT event_id FROM unit_event_units WHERE unit_id = $1) \
                OR e.id IN (SELECT x.event_id FROM unit_event_units x WHERE x.old_parent_id = $1 OR x.new_parent_id = $1) \
             ORDER BY e.effective_date, e.id"
        )
        .bind(id)
        .fetch_all(p)
        .await?
        });
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let parts: Vec<PartRow> = on_db!(&self.db, |p| {
                sqlx::query_as(
                "SELECT x.event_id, x.unit_id, u.name AS unit_name, x.part, x.old_name, x.new_name, \
                        op.name AS old_parent_name, np.name AS new_parent_name \
                 FROM unit_event_units x JOIN units u ON u.id = x.unit_id \
                 LEFT JOIN units op ON op.id = x.old_parent_id LEFT JOIN units np ON np.id = x.new_parent_id \
                 WHERE x.event_id = $1 ORDER BY x.part DESC, u.sort_key"
            )
            .bind(e.id)
            .fetch_all(p)
            .await?
            });
            let (moved,): (i64,) = on_db!(&self.db, |p| sqlx::query_as(
                "SELECT COUNT(*) FROM unit_event_households WHERE event_id = $1"
            )
            .bind(e.id)
            .fetch_one(p)
            .await?);
            out.push(UnitEvent {
                id: e.id,
                kind: e.kind,
                effective_date: e.effective_date,
                legal_basis: e.legal_basis,
                note: e.note,
                households_moved: moved,
                parts: parts
                    .into_iter()
                    .filter(|p| p.event_id == e.id)
                    .map(|p| EventPart {
                        unit_id: p.unit_id,
                        unit_name: p.unit_name,
                        part: p.part,
                        old_name: p.old_name,
                        new_name: p.new_name,
                        old_parent_name: p.old_parent_name,
                        new_parent_name: p.new_parent_name,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}

impl Store {
    /// Ends a unit's validity on `last_day` (inclusive) when nothing has yet.
    pub async fn end_unit(&self, actor: &Actor, id: i64, last_day: NaiveDate) -> Result<()> {
        in_tx!(&self.db, |tx| {
            let done =
                sqlx::query("UPDATE units SET valid_to = $1 WHERE id = $2 AND valid_to IS NULL")
                    .bind(ymd(last_day))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() > 0 {
                audit!(
                    &mut *tx,
                    self,
                    actor,
                    "end",
                    "unit",
                    id,
                    "/",
                    serde_json::json!({"valid_to": ymd(last_day)})
                );
            }
            Ok::<(), StoreError>(())
        })
    }
}

impl Store {
    /// Sets (or clears) a unit's centre, audited. A hamlet's centre is where
    /// an Open311 report sent with a point alone is placed
    /// (`registry::place`).
    pub async fn set_unit_centre(
        &self,
        actor: &Actor,
        id: i64,
        centre: Option<(f64, f64)>,
    ) -> Result<()> {
        let (lat, lon) = (centre.map(|c| c.0), centre.map(|c| c.1));
        crate::registry::household::check_point(lat, lon)?;
        let unit = self.unit_unscoped(id).await?;
        in_tx!(&self.db, |tx| {
            sqlx::query("UPDATE units SET lat = $1, lon = $2 WHERE id = $3")
                .bind(lat)
                .bind(lon)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "set_centre",
                "unit",
                id,
                unit.path,
                serde_json::json!({"lat": lat, "lon": lon})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// Each hamlet under `id` (or `id` itself, a hamlet) whose households
    /// have points gets the mean of them as its centre, in one statement;
    /// audited. The number of hamlets given a centre.
    pub async fn derive_hamlet_centres(&self, actor: &Actor, id: i64) -> Result<u64> {
        let unit = self.unit_unscoped(id).await?;
        let end = prefix_end(&unit.path);
        in_tx!(&self.db, |tx| {
            let done = sqlx::query(
                "UPDATE units SET \
                   lat = (SELECT AVG(h.lat) FROM households h WHERE h.hamlet_id = units.id AND h.lat IS NOT NULL AND h.lon IS NOT NULL), \
                   lon = (SELECT AVG(h.lon) FROM households h WHERE h.hamlet_id = units.id AND h.lat IS NOT NULL AND h.lon IS NOT NULL) \
                 WHERE level = 'hamlet' AND path >= $1 AND path < $2 \
                   AND EXISTS (SELECT 1 FROM households h WHERE h.hamlet_id = units.id AND h.lat IS NOT NULL AND h.lon IS NOT NULL)",
            )
            .bind(&unit.path)
            .bind(&end)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            audit!(
                &mut *tx,
                self,
                actor,
                "derive_centres",
                "unit",
                id,
                unit.path,
                serde_json::json!({"hamlets": done})
            );
            Ok::<u64, StoreError>(done)
        })
    }

    /// Gives the units made before migration 0019 their place key (computed
    /// here, in Rust, like every folded key); nothing once they have one.
    pub(crate) async fn fill_place_keys_if_missing(&self) -> Result<()> {
        let missing: Vec<(i64, String)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, name FROM units WHERE place_key IS NULL"
        )
        .fetch_all(p)
        .await?);
        if missing.is_empty() {
            return Ok(());
        }
        in_tx!(&self.db, |tx| {
            for (id, name) in &missing {
                sqlx::query("UPDATE units SET place_key = $1 WHERE id = $2")
                    .bind(place_key(name))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok::<(), StoreError>(())
        })
    }
}

/// The dates of an event: its day, the day before (when units it ends
/// stop), and the moment it is recorded.
struct Dates<'a> {
    day: &'a str,
    day_before: &'a str,
    now: i64,
}

/// What an event's change did: the path its audit entry is filed under,
/// and the moves (unit, new parent) it implies.
struct Step {
    touched_path: String,
    moves: Vec<(i64, i64)>,
}

/// A unit's part in an event, as `unit_event_units` keeps it.
#[derive(Default)]
struct Part<'a> {
    unit_id: i64,
    part: &'static str,
    old_name: Option<&'a str>,
    old_parent_id: Option<i64>,
    new_name: Option<&'a str>,
    new_parent_id: Option<i64>,
}

/// The characters of `old` plus one: where a moved path's tail starts, for
/// `new || substr(path, cut)`.
pub(crate) fn path_cut(old: &str) -> i32 {
    i32::try_from(old.chars().count() + 1).unwrap_or(i32::MAX)
}

async fn insert_event<'c>(
    conn: impl Into<Conn<'c>>,
    kind: UnitEventKind,
    day: &str,
    legal: &str,
    note: &str,
    now: i64,
    by: Option<i64>,
) -> Result<i64> {
    Ok(on_conn!(conn.into(), |c| {
        sqlx::query_scalar(
        "INSERT INTO unit_events (kind, effective_date, legal_basis, note, recorded_at, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(day)
    .bind(legal)
    .bind(note)
    .bind(now)
    .bind(by)
    .fetch_one(c)
    .await?
    }))
}

async fn add_part<'c>(conn: impl Into<Conn<'c>>, event_id: i64, p: Part<'_>) -> Result<()> {
    on_conn!(conn.into(), |c| {
        sqlx::query(
            "INSERT INTO unit_event_units (event_id, unit_id, part, old_name, old_parent_id, new_name, new_parent_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event_id)
        .bind(p.unit_id)
        .bind(p.part)
        .bind(p.old_name)
        .bind(p.old_parent_id)
        .bind(p.new_name)
        .bind(p.new_parent_id)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// A unit's path, or `missing` when there is no such unit (of `level`,
/// when given).
async fn path_of<'c>(
    conn: impl Into<Conn<'c>>,
    id: i64,
    level: Option<UnitLevel>,
    missing: StoreError,
) -> Result<String> {
    let found: Option<String> = on_conn!(conn.into(), |c| sqlx::query_scalar(
        "SELECT path FROM units WHERE id = $1 AND ($2 IS NULL OR level = $2)"
    )
    .bind(id)
    .bind(level.map(|l| l.as_str()))
    .fetch_optional(c)
    .await?);
    found.ok_or(missing)
}

async fn rename<'c>(
    conn: impl Into<Conn<'c>>,
    event_id: i64,
    unit_id: i64,
    new_name: &str,
) -> Result<Step> {
    let mut conn = conn.into();
    let (old, path): (String, String) = on_conn!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT name, path FROM units WHERE id = $1"
    )
    .bind(unit_id)
    .fetch_optional(c)
    .await?)
    .ok_or(StoreError::NotFound)?;
    on_conn!(conn.reborrow(), |c| {
        sqlx::query(
            "UPDATE units SET name = $1, name_fold = $2, sort_key = $3, place_key = $4 WHERE id = $5",
        )
        .bind(new_name)
        .bind(text::fold(new_name))
        .bind(text::sort_key(new_name))
        .bind(place_key(new_name))
        .bind(unit_id)
            .execute(c)
            .await?;
    });
    let part = Part {
        unit_id,
        part: "target",
        old_name: Some(&old),
        new_name: Some(new_name),
        ..Part::default()
    };
    add_part(conn, event_id, part).await?;
    Ok(Step {
        touched_path: path,
        moves: Vec::new(),
    })
}

/// Sources other than the target end the day before; with
/// `move_children` their children in force move under the target.
async fn merge<'c>(
    conn: impl Into<Conn<'c>>,
    event_id: i64,
    sources: &[i64],
    target: i64,
    move_children: bool,
    when: &Dates<'_>,
) -> Result<Step> {
    let mut conn = conn.into();
    let tpath = path_of(conn.reborrow(), target, None, StoreError::NotFound).await?;
    let mut moves = Vec::new();
    for &s in sources {
        let name: String = on_conn!(conn.reborrow(), |c| sqlx::query_scalar(
            "SELECT name FROM units WHERE id = $1"
        )
        .bind(s)
        .fetch_optional(c)
        .await?)
        .ok_or(StoreError::NotFound)?;
        let part = Part {
            unit_id: s,
            part: "source",
            old_name: Some(&name),
            ..Part::default()
        };
        add_part(conn.reborrow(), event_id, part).await?;
        if s == target {
            continue;
        }
        end_unit(conn.reborrow(), s, when.day_before).await?;
        if move_children {
            let kids: Vec<i64> = on_conn!(conn.reborrow(), |c| {
                sqlx::query_scalar(
                "SELECT id FROM units WHERE parent_id = $1 AND (valid_to IS NULL OR valid_to >= $2)"
            )
            .bind(s)
            .bind(when.day)
            .fetch_all(c)
            .await?
            });
            moves.extend(kids.into_iter().map(|k| (k, target)));
        }
    }
    let part = Part {
        unit_id: target,
        part: "target",
        ..Part::default()
    };
    add_part(conn.reborrow(), event_id, part).await?;
    on_conn!(conn, |c| {
        sqlx::query("UPDATE units SET valid_from = $1 WHERE id = $2 AND valid_from IS NULL")
            .bind(when.day)
            .bind(target)
            .execute(c)
            .await?;
    });
    Ok(Step {
        touched_path: tpath,
        moves,
    })
}

/// A unit stops being in force after `day_before`.
async fn end_unit<'c>(conn: impl Into<Conn<'c>>, id: i64, day_before: &str) -> Result<()> {
    on_conn!(conn.into(), |c| {
        sqlx::query("UPDATE units SET valid_to = $1 WHERE id = $2")
            .bind(day_before)
            .bind(id)
            .execute(c)
            .await?;
    });
    Ok(())
}

/// One hamlet into several: every household goes to the target named for
/// it, none may stay; the source ends the day before.
async fn split<'c>(
    conn: impl Into<Conn<'c>>,
    event_id: i64,
    source: i64,
    targets: &[i64],
    households: &[(i64, i64)],
    when: &Dates<'_>,
) -> Result<Step> {
    let mut conn = conn.into();
    let hamlet = Some(UnitLevel::Hamlet);
    let spath = path_of(
        conn.reborrow(),
        source,
        hamlet,
        StoreError::Rejected(Problem::SplitHamletOnly),
    )
    .await?;
    let part = Part {
        unit_id: source,
        part: "source",
        ..Part::default()
    };
    add_part(conn.reborrow(), event_id, part).await?;
    let mut target_paths = Vec::new();
    for &t in targets {
        let tpath = path_of(conn.reborrow(), t, hamlet, StoreError::NotFound).await?;
        target_paths.push((t, tpath));
        let part = Part {
            unit_id: t,
            part: "target",
            ..Part::default()
        };
        add_part(conn.reborrow(), event_id, part).await?;
    }
    for &(hh, to) in households {
        let tpath = target_paths
            .iter()
            .find(|(t, _)| *t == to)
            .map(|(_, p)| p.clone())
            .ok_or(StoreError::Rejected(Problem::SplitTargetUnknown))?;
        let moved = crate::registry::household::move_to_hamlet(
            conn.reborrow(),
            hh,
            source,
            to,
            &tpath,
            when.now,
        )
        .await?;
        if !moved {
            return Err(StoreError::Rejected(Problem::SplitHouseholdOutside {
                household: hh,
            }));
        }
        on_conn!(conn.reborrow(), |c| {
            sqlx::query(
                "INSERT INTO unit_event_households (event_id, household_id, from_hamlet_id, to_hamlet_id) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(event_id)
            .bind(hh)
            .bind(source)
            .bind(to)
            .execute(c)
            .await?;
        });
    }
    let left: i64 = on_conn!(conn.reborrow(), |c| {
        sqlx::query_scalar(
        "SELECT COUNT(*) FROM households WHERE path = (SELECT path FROM units WHERE id = $1) AND hamlet_id = $1"
    )
    .bind(source)
    .fetch_one(c)
    .await?
    });
    if left > 0 {
        return Err(StoreError::Rejected(Problem::SplitLeftBehind { left }));
    }
    end_unit(conn.reborrow(), source, when.day_before).await?;
    for h in targets.iter().chain([&source]) {
        on_conn!(conn.reborrow(), |c| {
            crate::registry::stats::refresh_hamlet!(c, *h);
        });
    }
    Ok(Step {
        touched_path: spath,
        moves: Vec::new(),
    })
}

/// Moves a unit under a new parent of a higher level; its subtree's paths
/// follow in every table that keeps one, and the rollups follow it to its
/// new ancestors. Returns its new path.
async fn move_unit<'c>(
    conn: impl Into<Conn<'c>>,
    event_id: i64,
    unit_id: i64,
    new_parent: i64,
) -> Result<String> {
    let mut conn = conn.into();
    let (old_path, old_parent, old_depth, level): (String, Option<i64>, i32, String) = on_conn!(
        conn.reborrow(),
        |c| sqlx::query_as("SELECT path, parent_id, depth, level FROM units WHERE id = $1")
            .bind(unit_id)
            .fetch_optional(c)
            .await?
    )
    .ok_or(StoreError::NotFound)?;
    let (ppath, pdepth, plevel): (String, i32, String) = on_conn!(conn.reborrow(), |c| {
        sqlx::query_as("SELECT path, depth, level FROM units WHERE id = $1")
            .bind(new_parent)
            .fetch_optional(c)
            .await?
    })
    .ok_or(StoreError::NotFound)?;
    if ppath.starts_with(&old_path) {
        return Err(StoreError::Rejected(Problem::MoveIntoItself));
    }
    let lv = UnitLevel::parse(&level).map_err(|e| StoreError::invalid("level", e))?;
    let plv = UnitLevel::parse(&plevel).map_err(|e| StoreError::invalid("level", e))?;
    if plv.rank() >= lv.rank() {
        return Err(StoreError::Rejected(Problem::LevelUnder {
            child: lv,
            parent: plv,
        }));
    }
    let new_path = format!("{ppath}{unit_id}/");
    let depth_delta = pdepth + 1 - old_depth;
    let end = prefix_end(&old_path);
    on_conn!(conn.reborrow(), |c| {
        sqlx::query("UPDATE units SET parent_id = $1 WHERE id = $2")
            .bind(new_parent)
            .bind(unit_id)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "UPDATE units SET path = $1 || substr(path, $2), depth = depth + $5 WHERE path >= $3 AND path < $4",
        )
        .bind(&new_path)
        .bind(path_cut(&old_path))
        .bind(&old_path)
        .bind(&end)
        .bind(depth_delta)
        .execute(c)
        .await?;
    });
    // The dashboard's rollups follow the unit to its new ancestors.
    let old_parent_path = &old_path[..old_path.len() - format!("{unit_id}/").len()];
    crate::feedback::rollup::shift_rollups(conn.reborrow(), unit_id, old_parent_path, &ppath)
        .await?;
    // The copies of the path: feedback (its hamlet's, who answers), teams,
    // households.
    crate::feedback::write::repath(conn.reborrow(), &old_path, &end, &new_path).await?;
    crate::registry::team::repath(conn.reborrow(), &old_path, &end, &new_path).await?;
    crate::registry::household::repath(conn.reborrow(), &old_path, &end, &new_path).await?;
    let part = Part {
        unit_id,
        part: "source",
        old_parent_id: old_parent,
        new_parent_id: Some(new_parent),
        ..Part::default()
    };
    add_part(conn, event_id, part).await?;
    Ok(new_path)
}
