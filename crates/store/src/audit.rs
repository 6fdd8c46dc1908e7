//! The audit log: who changed or exported what, and when. Written in the same
//! transaction as the change. Details never carry personal data (no names,
//! phones or citizen ids) — only ids and counts.

use serde::Serialize;

use crate::conn::Conn;
use crate::{on_conn, on_db, Result, Store};

/// Who is acting: an account, or the command line.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account_id: Option<i64>,
    pub name: String,
}

impl Actor {
    pub fn cli() -> Actor {
        Actor {
            account_id: None,
            name: "cli".into(),
        }
    }
    pub fn system() -> Actor {
        Actor {
            account_id: None,
            name: "system".into(),
        }
    }
}

pub const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at, account_id, actor, action, entity, entity_id, scope_path, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Appends one audit entry on the given executor (a transaction).
#[macro_export]
macro_rules! audit {
    ($ex:expr, $store:expr, $actor:expr, $action:expr, $entity:expr, $entity_id:expr, $scope_path:expr, $detail:expr) => {
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind($store.now())
            .bind($actor.account_id)
            .bind($actor.name.clone())
            .bind($action)
            .bind($entity)
            .bind($entity_id.to_string())
            .bind($scope_path.to_string())
            .bind($detail.to_string())
            .execute($ex)
            .await?
    };
}

/// One entry to append (see [`record_many`]).
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub at: i64,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub scope_path: &'a str,
    pub detail: serde_json::Value,
}

/// Rows per statement of [`record_many`] (8 parameters each).
const AUDIT_CHUNK: usize = 500;

/// Appends many entries in a few statements: what a batch or a sweep
/// changed, in its transaction. (One entry: the [`audit!`] macro, which
/// also takes a pool.)
pub async fn record_many<'c>(conn: impl Into<Conn<'c>>, entries: &[NewAudit<'_>]) -> Result<()> {
    let mut conn = conn.into();
    for chunk in entries.chunks(AUDIT_CHUNK) {
        let sql = format!(
            "INSERT INTO audit_log (at, account_id, actor, action, entity, entity_id, scope_path, detail) VALUES {}",
            conn.values("(?, ?, ?, ?, ?, ?, ?, ?)", chunk.len())
        );
        on_conn!(conn.reborrow(), |c| {
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.at)
                    .bind(e.actor.account_id)
                    .bind(&e.actor.name)
                    .bind(e.action)
                    .bind(e.entity)
                    .bind(&e.entity_id)
                    .bind(e.scope_path)
                    .bind(e.detail.to_string());
            }
            q.execute(c).await?;
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub scope_path: String,
    pub detail: String,
}

impl Store {
    /// Records an event that changes nothing else (an export, a login).
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        entity: &str,
        entity_id: &str,
        scope_path: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        on_db!(&self.db, |p| {
            audit!(p, self, actor, action, entity, entity_id, scope_path, detail);
        });
        Ok(())
    }

    /// The newest entries whose scope lies inside the viewer's part of the
    /// tree, newest first (those who may read the audit log).
    pub async fn audit_entries(
        &self,
        viewer: &crate::Viewer,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        viewer.require(
            danvan_domain::policy::Action::ReadAudit,
            &danvan_domain::policy::Target::at(&viewer.scope.path),
        )?;
        let scope_path = viewer.scope.path.as_str();
        let end = crate::prefix_end(scope_path);
        let before = before_id.unwrap_or(i64::MAX);
        let sql = "SELECT id, at, actor, action, entity, entity_id, scope_path, detail FROM audit_log \
                   WHERE scope_path >= $1 AND scope_path < $2 AND id < $3 ORDER BY id DESC LIMIT $4";
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, AuditEntry>(sql)
            .bind(scope_path)
            .bind(&end)
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }
}
