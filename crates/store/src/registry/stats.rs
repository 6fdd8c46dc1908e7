//! Counts per hamlet, kept current by every write that moves them, so the
//! counts of any subtree are a sum over its hamlets (about a thousand rows
//! for a province) rather than a scan of its people.

use danvan_domain::TeamKind;
use serde::Serialize;

use crate::{on_db, Result, Scope, Store};

pub const REFRESH_HAMLET: &str = "INSERT INTO hamlet_stats (hamlet_id, households, residents, teams, groups_, unassigned) VALUES ($1, \
    (SELECT COUNT(*) FROM households WHERE path = (SELECT path FROM units WHERE id = $1) AND hamlet_id = $1), \
    (SELECT COALESCE(SUM(resident_count), 0) FROM households WHERE path = (SELECT path FROM units WHERE id = $1) AND hamlet_id = $1), \
    (SELECT COUNT(*) FROM teams WHERE hamlet_id = $1 AND kind = 'team' AND closed_on IS NULL), \
    (SELECT COUNT(*) FROM teams WHERE hamlet_id = $1 AND kind = 'group' AND closed_on IS NULL), \
    (SELECT COUNT(*) FROM households WHERE path = (SELECT path FROM units WHERE id = $1) AND hamlet_id = $1 AND team_id IS NULL)) \
    ON CONFLICT (hamlet_id) DO UPDATE SET households = excluded.households, residents = excluded.residents, \
    teams = excluded.teams, groups_ = excluded.groups_, unassigned = excluded.unassigned";

/// Recomputes one hamlet's counts on the given executor.
macro_rules! refresh_hamlet {
    ($ex:expr, $hamlet:expr) => {
        sqlx::query($crate::registry::stats::REFRESH_HAMLET)
            .bind($hamlet)
            .execute($ex)
            .await?
    };
}
pub(crate) use refresh_hamlet;

#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Counts {
    pub households: i64,
    pub residents: i64,
    pub teams: i64,
    pub groups: i64,
    pub unassigned_households: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TeamLoad {
    pub id: i64,
    pub code: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub kind: TeamKind,
    pub hamlet_name: String,
    pub target_size: i32,
    pub households: i64,
}

impl TeamLoad {
    /// Outside a band of ±20% around the target size.
    pub fn status(&self) -> &'static str {
        let t = i64::from(self.target_size);
        if self.households * 5 < t * 4 {
            "under"
        } else if self.households * 5 > t * 6 {
            "over"
        } else {
            "ok"
        }
    }
}

impl Store {
    /// Totals for the subtree at `path` (hamlets in force or not: people
    /// never live in an ended hamlet, its households having moved).
    pub async fn counts(&self, path: &str) -> Result<Counts> {
        let sql = "SELECT CAST(COALESCE(SUM(s.households), 0) AS BIGINT) AS households, \
                          CAST(COALESCE(SUM(s.residents), 0) AS BIGINT) AS residents, \
                          CAST(COALESCE(SUM(s.teams), 0) AS BIGINT) AS teams, \
                          CAST(COALESCE(SUM(s.groups_), 0) AS BIGINT) AS groups, \
                          CAST(COALESCE(SUM(s.unassigned), 0) AS BIGINT) AS unassigned_households \
                   FROM hamlet_stats s JOIN units u ON u.id = s.hamlet_id WHERE u.path >= $1 AND u.path < $2";
        Ok(on_db!(&self.db, |p| sqlx::query_as(sql)
            .bind(path)
            .bind(crate::prefix_end(path))
            .fetch_one(p)
            .await?))
    }

    /// Every team and group of the subtree with how many households it looks after.
    pub async fn team_loads(&self, scope: &Scope, path: &str) -> Result<Vec<TeamLoad>> {
        let Some(scope) = scope.narrow(path) else {
            return Ok(Vec::new());
        };
        let sql = "SELECT t.id, t.code, t.name, t.kind, u.name AS hamlet_name, t.target_size, \
                          (SELECT COUNT(*) FROM households h WHERE h.team_id = t.id) AS households \
                   FROM teams t JOIN units u ON u.id = t.hamlet_id \
                   WHERE t.path >= $1 AND t.path < $2 AND t.closed_on IS NULL AND ($3 IS NULL OR t.id = $3) ORDER BY u.sort_key, t.sort_key, t.id";
        Ok(on_db!(&self.db, |p| sqlx::query_as(sql)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(scope.team_id)
            .fetch_all(p)
            .await?))
    }
}
