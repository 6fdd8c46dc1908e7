//! Alerts: the urgent and emergency announcements that other alerting
//! systems may carry (the web layer writes them as CAP 1.2 and lists them
//! in an Atom feed). An alert is public only while it is active: planned
//! (approved and its send time come), written for units rather than one
//! team, and not expired.

use std::collections::HashMap;

use danvan_domain::announcement::Urgency;
use danvan_domain::unit::CodeKind;
use danvan_domain::UnitLevel;
use serde::Serialize;

use crate::announce::announcement::{Announcement, Audience};
use crate::feedback::Viewer;
use crate::{on_db, Result, Store, StoreError};

/// Most alerts a feed lists.
pub const MAX_ACTIVE_ALERTS: i64 = 100;

/// The one rule of what is an active public alert, over `announcements a`;
/// `$1` is now. An alert withdrawn after it went out stays listed, as its
/// cancellation, until it would have expired.
const ACTIVE: &str =
    "(a.state = 'planned' OR (a.state = 'cancelled' AND a.planned_at IS NOT NULL)) \
     AND a.urgency IN ('urgent', 'emergency') AND a.team_id IS NULL AND a.expires_at > $1";

/// A feed entry: an active alert and the unit that wrote it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ActiveAlert {
    pub id: i64,
    pub title: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    pub send_at: i64,
    pub expires_at: i64,
    pub planned_at: Option<i64>,
    pub unit_name: String,
    /// Withdrawn: the entry is the alert's cancellation.
    pub cancelled_at: Option<i64>,
}

/// A place the alert is for: an audience unit, named with the units above
/// it, and its administrative code when it has an official one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertArea {
    pub unit_id: i64,
    /// The unit's name, then each unit above it up to the province
    /// ("Thôn Mai Hoàng", "Xã Phúc Sơn", "Tỉnh Bắc Ninh").
    pub names: Vec<String>,
    /// The official code (mã đơn vị hành chính); `None` for a unit without
    /// one or with a local code only.
    pub code: Option<String>,
    pub level: UnitLevel,
}

/// What an alert says besides the announcement itself.
#[derive(Debug, Clone, Serialize)]
pub struct AlertFacts {
    /// The announcement's topic code (`security`, `epidemic`, …).
    pub topic_code: Option<String>,
    /// The name of the unit that wrote it.
    pub sender_name: String,
    /// The audience's units (a team's hamlet for a team), in audience order.
    pub areas: Vec<AlertArea>,
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ids of a materialized path, root first (`/1/17/342/` → 1, 17, 342).
fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

impl Store {
    /// The active alerts, newest first, at most [`MAX_ACTIVE_ALERTS`].
    pub async fn active_alerts(&self) -> Result<Vec<ActiveAlert>> {
        let sql = format!(
            "SELECT a.id, a.title, a.body, a.urgency, a.send_at, a.expires_at, a.planned_at, u.name AS unit_name, \
             a.cancelled_at \
             FROM announcements a JOIN units u ON u.id = a.unit_id \
             WHERE {ACTIVE} ORDER BY a.send_at DESC, a.id DESC LIMIT $2"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(self.now())
            .bind(MAX_ACTIVE_ALERTS)
            .fetch_all(p)
            .await?))
    }

    /// One active alert for anyone to read; `NotFound` for an announcement
    /// that is not (or no longer) one.
    pub async fn active_alert(&self, id: i64) -> Result<Announcement> {
        let sql =
            format!("SELECT EXISTS (SELECT 1 FROM announcements a WHERE a.id = $2 AND {ACTIVE})");
        let (active,): (bool,) = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(self.now())
            .bind(id)
            .fetch_one(p)
            .await?);
        if !active {
            return Err(StoreError::NotFound);
        }
        self.announcement(&Viewer::system(), id).await
    }

    /// The topic, the writing unit's name and the areas of an announcement.
    pub async fn alert_facts(&self, a: &Announcement) -> Result<AlertFacts> {
        let topic_code: Option<String> = match a.topic_id {
            None => None,
            Some(t) => on_db!(&self.db, |p| sqlx::query_as::<_, (String,)>(
                "SELECT code FROM topics WHERE id = $1"
            )
            .bind(t)
            .fetch_optional(p)
            .await?)
            .map(|(c,)| c),
        };
        let audience: Audience = serde_json::from_str(&a.audience).unwrap_or_default();
        // A team stands for its hamlet: CAP speaks of places, not teams.
        let mut unit_ids = audience.units.clone();
        if !audience.teams.is_empty() {
            let sql = format!(
                "SELECT id, hamlet_id FROM teams WHERE id IN ({})",
                placeholders(1, audience.teams.len())
            );
            let rows: Vec<(i64, i64)> = on_db!(&self.db, |p| {
                let mut q = sqlx::query_as(&sql);
                for t in &audience.teams {
                    q = q.bind(*t);
                }
                q.fetch_all(p).await?
            });
            let hamlet: HashMap<i64, i64> = rows.into_iter().collect();
            unit_ids.extend(audience.teams.iter().filter_map(|t| hamlet.get(t).copied()));
        }
        let mut seen = std::collections::HashSet::new();
        unit_ids.retain(|id| seen.insert(*id));

        // The audience units, and every unit above them, in one query.
        let mut wanted: Vec<i64> = unit_ids.clone();
        wanted.push(a.unit_id);
        let units: HashMap<i64, UnitRow> = self.unit_rows(&wanted).await?;
        let mut above = Vec::new();
        for id in &unit_ids {
            if let Some(u) = units.get(id) {
                above.extend(path_ids(&u.path));
            }
        }
        above.retain(|id| !units.contains_key(id));
        above.sort_unstable();
        above.dedup();
        let ancestors = self.unit_rows(&above).await?;
        let name_of = |id: i64| {
            units
                .get(&id)
                .or_else(|| ancestors.get(&id))
                .map(|u| u.name.clone())
        };
        let areas = unit_ids
            .iter()
            .filter_map(|id| units.get(id))
            .map(|u| {
                let mut names: Vec<String> =
                    path_ids(&u.path).into_iter().filter_map(name_of).collect();
                names.reverse();
                AlertArea {
                    unit_id: u.id,
                    names,
                    code: u
                        .code
                        .clone()
                        .filter(|c| u.code_kind == CodeKind::Official && !c.trim().is_empty()),
                    level: u.level,
                }
            })
            .collect();
        let sender_name = name_of(a.unit_id).ok_or(StoreError::NotFound)?;
        Ok(AlertFacts {
            topic_code,
            sender_name,
            areas,
        })
    }

    async fn unit_rows(&self, ids: &[i64]) -> Result<HashMap<i64, UnitRow>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT id, name, code, code_kind, level, path FROM units WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let rows: Vec<UnitRow> = on_db!(&self.db, |p| {
            let mut q = sqlx::query_as(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(p).await?
        });
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}

#[derive(Debug, sqlx::FromRow)]
struct UnitRow {
    id: i64,
    name: String,
    code: Option<String>,
    #[sqlx(try_from = "String")]
    code_kind: CodeKind,
    #[sqlx(try_from = "String")]
    level: UnitLevel,
    path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_are_root_first() {
        assert_eq!(path_ids("/1/17/342/"), vec![1, 17, 342]);
        assert_eq!(path_ids("/"), Vec::<i64>::new());
    }

    #[test]
    fn placeholders_count_from_first() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(placeholders(1, 0), "");
    }
}
