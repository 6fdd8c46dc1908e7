//! The library of materials from agencies: files uploaded at a unit by
//! topic, handed out to chosen teams with a count of printed copies, each
//! team acknowledging receipt and reporting the copies it handed to
//! households.
//!
//! Who sees a material: officers and hamlet heads whose part of the tree
//! lies under the unit it was uploaded at (it was sent down to them) or
//! contains it (it was uploaded below them); a team, the materials handed
//! out to it.

use danvan_domain::material::{
    clean_file_name, sniff, FileKind, MAX_AGENCY_CHARS, MAX_COPIES, MAX_NOTE_CHARS, MAX_TITLE_CHARS,
};
use danvan_domain::policy::{library_view, Action, LibraryView, Target};
use danvan_domain::problem::Problem;
use danvan_domain::text;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::feedback::Viewer;
use crate::{audit, in_tx, on_db, Result, Store, StoreError};

/// Materials a page of the library shows.
pub const MATERIALS_PAGE: i64 = 50;
/// Teams one handout reaches at most (a district's teams).
pub const MAX_HANDOUT_TEAMS: usize = 5_000;

#[derive(Debug, Clone)]
pub struct NewMaterial {
    pub unit_id: i64,
    pub title: String,
    pub agency: String,
    /// A topic code (`security`, `environment`, …).
    pub topic: Option<String>,
    pub note: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Material {
    pub id: i64,
    pub unit_id: i64,
    pub unit_name: String,
    pub path: String,
    pub topic_id: Option<i64>,
    pub topic_code: Option<String>,
    pub agency: String,
    pub title: String,
    pub note: String,
    pub file_name: String,
    #[sqlx(try_from = "String")]
    pub kind: FileKind,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: i64,
    /// Teams it was handed out to, teams that acknowledged it, printed
    /// copies sent and copies handed to households — within the
    /// viewer's part of the tree.
    pub teams: i64,
    pub received: i64,
    pub copies: i64,
    pub copies_given: i64,
}

/// A material's handout to one team.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Handout {
    pub team_id: i64,
    pub team_name: String,
    pub hamlet_name: String,
    pub copies: i64,
    pub sent_at: i64,
    pub received_at: Option<i64>,
    pub copies_given: i64,
    pub given_at: Option<i64>,
}

/// Columns of [`Material`] with the handout figures of the teams whose
/// path lies in [$1, $2) and, for a team role, that team ($3).
const MATERIAL_SELECT: &str = "SELECT m.id, m.unit_id, u.name AS unit_name, m.path, m.topic_id, t.code AS topic_code, \
     m.agency, m.title, m.note, m.file_name, m.kind, m.size_bytes, m.sha256, m.created_at, \
     (SELECT COUNT(*) FROM material_handouts h WHERE h.material_id = m.id AND h.path >= $1 AND h.path < $2 AND ($3 IS NULL OR h.team_id = $3)) AS teams, \
     (SELECT COUNT(*) FROM material_handouts h WHERE h.material_id = m.id AND h.path >= $1 AND h.path < $2 AND ($3 IS NULL OR h.team_id = $3) AND h.received_at IS NOT NULL) AS received, \
     (SELECT CAST(COALESCE(SUM(h.copies), 0) AS BIGINT) FROM material_handouts h WHERE h.material_id = m.id AND h.path >= $1 AND h.path < $2 AND ($3 IS NULL OR h.team_id = $3)) AS copies, \
     (SELECT CAST(COALESCE(SUM(h.copies_given), 0) AS BIGINT) FROM material_handouts h WHERE h.material_id = m.id AND h.path >= $1 AND h.path < $2 AND ($3 IS NULL OR h.team_id = $3)) AS copies_given \
     FROM materials m JOIN units u ON u.id = m.unit_id LEFT JOIN topics t ON t.id = m.topic_id";

fn rejected(p: Problem) -> StoreError {
    StoreError::Rejected(p)
}

/// The unit paths above `path` (itself included): "/1/", "/1/5/", … .
fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = String::from("/");
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        at.push_str(seg);
        at.push('/');
        out.push(at.clone());
    }
    out
}

impl Store {
    /// Uploads a material at `new.unit_id`, inside the viewer's part of
    /// the tree. The file is checked by its bytes; a refusal writes
    /// nothing.
    pub async fn create_material(&self, viewer: &Viewer, new: &NewMaterial) -> Result<Material> {
        viewer.require(Action::UploadMaterial, &Target::anywhere())?;
        let title = text::clean_line(&new.title, MAX_TITLE_CHARS)
            .map_err(|e| StoreError::invalid("title", e))?;
        if title.is_empty() {
            return Err(rejected(Problem::MaterialTitleMissing));
        }
        let agency = text::clean_line(&new.agency, MAX_AGENCY_CHARS)
            .map_err(|e| StoreError::invalid("agency", e))?;
        if agency.is_empty() {
            return Err(rejected(Problem::MaterialAgencyMissing));
        }
        let note = text::clean_text(&new.note, MAX_NOTE_CHARS)
            .map_err(|e| StoreError::invalid("note", e))?;
        let kind =
            sniff(&new.file_name, &new.bytes).map_err(|e| rejected(Problem::MaterialFile(e)))?;
        let file_name = clean_file_name(&new.file_name, kind);
        let unit = self.unit(&viewer.scope, new.unit_id).await?;
        let topic_id = match new.topic.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => {
                let t = self.topic_by_code(code).await?;
                if t.confidential {
                    return Err(rejected(Problem::TopicNotForMaterials));
                }
                Some(t.id)
            }
            _ => None,
        };
        let sha = hex::encode(Sha256::digest(&new.bytes));
        let now = self.now();
        let actor = &viewer.actor;
        let size = new.bytes.len() as i64;
        let id = in_tx!(&self.db, |tx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO materials (unit_id, path, topic_id, agency, title, note, file_name, kind, size_bytes, sha256, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(unit.id)
            .bind(&unit.path)
            .bind(topic_id)
            .bind(&agency)
            .bind(&title)
            .bind(&note)
            .bind(&file_name)
            .bind(kind.as_str())
            .bind(size)
            .bind(&sha)
            .bind(actor.account_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO material_files (material_id, bytes) VALUES ($1, $2)")
                .bind(id)
                .bind(&new.bytes)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "material",
                id,
                unit.path,
                serde_json::json!({"title": title, "agency": agency, "kind": kind.as_str(), "bytes": size, "sha256": sha})
            );
            Ok::<i64, StoreError>(id)
        })?;
        self.material(viewer, id).await
    }

    /// One material the viewer may see, with the handout figures of their
    /// part of the tree.
    pub async fn material(&self, viewer: &Viewer, id: i64) -> Result<Material> {
        let sql = format!("{MATERIAL_SELECT} WHERE m.id = $4 AND m.removed_at IS NULL");
        let m: Option<Material> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&viewer.scope.path)
            .bind(crate::prefix_end(&viewer.scope.path))
            .bind(viewer.scope.team_id)
            .bind(id)
            .fetch_optional(p)
            .await?);
        let m = m.ok_or(StoreError::NotFound)?;
        if self.may_see_material(viewer, &m).await? {
            Ok(m)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn may_see_material(&self, viewer: &Viewer, m: &Material) -> Result<bool> {
        if library_view(viewer.role) == LibraryView::HandedOut {
            // Handed out to the team.
            return Ok(m.teams > 0);
        }
        Ok(viewer.scope.contains_path(&m.path)
            || m.path.len() < viewer.scope.path.len() && viewer.scope.path.starts_with(&m.path))
    }

    /// The library as the viewer sees it, newest first, optionally of one
    /// topic; `before` pages on (the smallest id of the previous page).
    pub async fn materials(
        &self,
        viewer: &Viewer,
        topic_id: Option<i64>,
        before: Option<i64>,
    ) -> Result<Vec<Material>> {
        let before = before.unwrap_or(i64::MAX);
        let from = viewer.scope.path.clone();
        let to = crate::prefix_end(&from);
        let team = viewer.scope.team_id;
        if library_view(viewer.role) == LibraryView::HandedOut {
            let sql = format!(
                "{MATERIAL_SELECT} WHERE m.id IN (SELECT material_id FROM material_handouts WHERE team_id = $3) \
                 AND m.removed_at IS NULL AND ($4 IS NULL OR m.topic_id = $4) AND m.id < $5 ORDER BY m.id DESC LIMIT $6"
            );
            return Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
                .bind(&from)
                .bind(&to)
                .bind(team)
                .bind(topic_id)
                .bind(before)
                .bind(MATERIALS_PAGE)
                .fetch_all(p)
                .await?));
        }
        // Uploaded in the viewer's subtree, or at a unit above them.
        let above = ancestors(&from);
        let list = above
            .iter()
            .enumerate()
            .map(|(i, _)| format!("${}", i + 7))
            .collect::<Vec<_>>()
            .join(", ");
        let above_sql = if above.is_empty() {
            String::new()
        } else {
            format!(" OR m.path IN ({list})")
        };
        let sql = format!(
            "{MATERIAL_SELECT} WHERE ((m.path >= $1 AND m.path < $2){above_sql}) \
             AND m.removed_at IS NULL AND ($4 IS NULL OR m.topic_id = $4) AND m.id < $5 ORDER BY m.id DESC LIMIT $6"
        );
        Ok(on_db!(&self.db, |p| {
            let mut q = sqlx::query_as(&sql)
                .bind(&from)
                .bind(&to)
                .bind(team)
                .bind(topic_id)
                .bind(before)
                .bind(MATERIALS_PAGE);
            for a in &above {
                q = q.bind(a);
            }
            q.fetch_all(p).await?
        }))
    }

    /// The file of a material the viewer may see: (name, kind, bytes).
    pub async fn material_file(
        &self,
        viewer: &Viewer,
        id: i64,
    ) -> Result<(String, FileKind, Vec<u8>)> {
        let m = self.material(viewer, id).await?;
        let (bytes,): (Vec<u8>,) = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT bytes FROM material_files WHERE material_id = $1"
        )
        .bind(id)
        .fetch_one(p)
        .await?);
        Ok((m.file_name.clone(), m.kind, bytes))
    }

    /// Takes a material out of the library (an upload made by mistake,
    /// an out-of-date leaflet): an officer of the unit it was uploaded at
    /// or above. Kept for the record; nobody sees it any more.
    pub async fn remove_material(&self, viewer: &Viewer, id: i64) -> Result<()> {
        let m = self.material(viewer, id).await?;
        viewer.require(Action::RemoveMaterial, &Target::at(&m.path))?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE materials SET removed_at = $2, removed_by = $3 WHERE id = $1 AND removed_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .bind(viewer.actor.account_id)
            .execute(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "remove",
                "material",
                id,
                m.path,
                serde_json::json!({"title": m.title})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// Hands a material out to `teams` and to every team under `units`
    /// (all inside the viewer's part of the tree), with `copies` printed
    /// copies for each. A team that has it already gets the copies added.
    /// Returns the teams it went to.
    pub async fn hand_out_material(
        &self,
        viewer: &Viewer,
        id: i64,
        teams: &[i64],
        units: &[i64],
        copies: i64,
    ) -> Result<usize> {
        viewer.require(Action::HandOutMaterial, &Target::anywhere())?;
        if !(0..=MAX_COPIES).contains(&copies) {
            return Err(rejected(Problem::CopiesRange { max: MAX_COPIES }));
        }
        if teams.is_empty() && units.is_empty() {
            return Err(rejected(Problem::HandoutTeamsMissing));
        }
        let m = self.material(viewer, id).await?;
        // (team id, team path), each checked against the viewer's scope.
        let mut chosen: Vec<(i64, String)> = Vec::new();
        for t in teams {
            let team = self.team(&viewer.scope, *t).await?;
            chosen.push((team.id, team.path));
        }
        for u in units {
            let unit = self.unit(&viewer.scope, *u).await?;
            let under: Vec<(i64, String)> = on_db!(&self.db, |p| {
                sqlx::query_as(
                "SELECT id, path FROM teams WHERE path >= $1 AND path < $2 ORDER BY path, id LIMIT $3"
            )
            .bind(&unit.path)
            .bind(crate::prefix_end(&unit.path))
            .bind(MAX_HANDOUT_TEAMS as i64 + 1)
            .fetch_all(p)
            .await?
            });
            chosen.extend(under);
        }
        chosen.sort();
        chosen.dedup();
        if chosen.is_empty() {
            return Err(rejected(Problem::UnitWithoutTeams));
        }
        if chosen.len() > MAX_HANDOUT_TEAMS {
            return Err(rejected(Problem::HandoutTooManyTeams {
                max: MAX_HANDOUT_TEAMS,
            }));
        }
        let now = self.now();
        let n = chosen.len();
        in_tx!(&self.db, |tx| {
            for (team, path) in &chosen {
                sqlx::query(
                    "INSERT INTO material_handouts (material_id, team_id, path, copies, sent_by, sent_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (material_id, team_id) \
                     DO UPDATE SET copies = material_handouts.copies + excluded.copies, sent_by = excluded.sent_by, sent_at = excluded.sent_at",
                )
                .bind(id)
                .bind(team)
                .bind(path)
                .bind(copies)
                .bind(viewer.actor.account_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "hand_out",
                "material",
                id,
                m.path,
                serde_json::json!({"teams": chosen.iter().map(|(t, _)| t).collect::<Vec<_>>(), "copies_each": copies})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(n)
    }

    /// Teams in the viewer's part of the tree a handout can be sent to,
    /// as (id, "hamlet · team"), at most `limit` (the page lists them when
    /// they are few: a commune's).
    pub async fn handout_teams(&self, viewer: &Viewer, limit: i64) -> Result<Vec<(i64, String)>> {
        let rows: Vec<(i64, String, String)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT t.id, u.name, t.name FROM teams t JOIN units u ON u.id = t.hamlet_id \
             WHERE t.path >= $1 AND t.path < $2 ORDER BY t.path, t.code LIMIT $3"
        )
        .bind(&viewer.scope.path)
        .bind(crate::prefix_end(&viewer.scope.path))
        .bind(limit)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(id, hamlet, team)| (id, format!("{hamlet} · {team}")))
            .collect())
    }

    /// The handouts of a material within the viewer's part of the tree
    /// (a team role: their own), by hamlet and team.
    pub async fn material_handouts(&self, viewer: &Viewer, id: i64) -> Result<Vec<Handout>> {
        self.material(viewer, id).await?;
        Ok(on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT h.team_id, t.name AS team_name, u.name AS hamlet_name, h.copies, h.sent_at, h.received_at, \
             h.copies_given, h.given_at FROM material_handouts h JOIN teams t ON t.id = h.team_id \
             JOIN units u ON u.id = t.hamlet_id WHERE h.material_id = $1 AND h.path >= $2 AND h.path < $3 \
             AND ($4 IS NULL OR h.team_id = $4) ORDER BY h.path, t.code LIMIT 2000"
        )
        .bind(id)
        .bind(&viewer.scope.path)
        .bind(crate::prefix_end(&viewer.scope.path))
        .bind(viewer.scope.team_id)
        .fetch_all(p)
        .await?
        }))
    }

    /// A team member acknowledges that their team received a material.
    /// Acknowledging twice keeps the first time.
    pub async fn acknowledge_material(&self, viewer: &Viewer, id: i64) -> Result<()> {
        let team = self.own_handout(viewer, id).await?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let done = sqlx::query(
                "UPDATE material_handouts SET received_at = $3, received_by = $4 \
                 WHERE material_id = $1 AND team_id = $2 AND received_at IS NULL",
            )
            .bind(id)
            .bind(team)
            .bind(now)
            .bind(viewer.actor.account_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                audit!(
                    &mut *tx,
                    self,
                    viewer.actor,
                    "receive",
                    "material",
                    id,
                    viewer.scope.path,
                    serde_json::json!({"team": team})
                );
            }
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// A team reports how many printed copies it has handed to households
    /// so far (the running total; it also acknowledges receipt).
    pub async fn record_copies_given(&self, viewer: &Viewer, id: i64, given: i64) -> Result<()> {
        if !(0..=MAX_COPIES).contains(&given) {
            return Err(rejected(Problem::CopiesGivenRange { max: MAX_COPIES }));
        }
        let team = self.own_handout(viewer, id).await?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE material_handouts SET copies_given = $3, given_at = $4, \
                 received_at = COALESCE(received_at, $4), received_by = COALESCE(received_by, $5) \
                 WHERE material_id = $1 AND team_id = $2",
            )
            .bind(id)
            .bind(team)
            .bind(given)
            .bind(now)
            .bind(viewer.actor.account_id)
            .execute(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "copies_given",
                "material",
                id,
                viewer.scope.path,
                serde_json::json!({"team": team, "copies_given": given})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// The viewer's team, if the material was handed out to it.
    async fn own_handout(&self, viewer: &Viewer, id: i64) -> Result<i64> {
        viewer.require(Action::AcknowledgeMaterial, &Target::anywhere())?;
        let Some(team) = viewer.scope.team_id else {
            return Err(StoreError::NotFound);
        };
        let (n,): (i64,) = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM material_handouts WHERE material_id = $1 AND team_id = $2"
        )
        .bind(id)
        .bind(team)
        .fetch_one(p)
        .await?);
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(team)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ancestors_of_a_path() {
        assert_eq!(super::ancestors("/1/5/9/"), vec!["/1/", "/1/5/", "/1/5/9/"]);
        assert!(super::ancestors("/").is_empty());
    }
}
