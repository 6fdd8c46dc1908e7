//! The hamlet loudspeaker: which announcements a hamlet plays, and the
//! audio files made for them, kept so they are synthesized once.

use danvan_domain::loudspeaker::{parse_slots, slots_text, DEFAULT_SLOTS};
use danvan_domain::policy::{Action, Target};
use danvan_domain::problem::Problem;
use danvan_domain::UnitLevel;
use sha2::{Digest, Sha256};

use crate::announce::announcement::{Announcement, ANNOUNCEMENT_COLUMNS};
use crate::feedback::Viewer;
use crate::{audit, in_tx, on_db, Result, Store, StoreError};

/// A recorded voice kept for an announcement.
#[derive(Debug, Clone)]
pub struct Recording {
    /// 16-bit mono PCM WAV.
    pub wav: Vec<u8>,
    pub seconds: f64,
    pub sha256: String,
}

impl Store {
    /// The announcements a hamlet's loudspeaker plays now: sent (planned)
    /// to households of the hamlet, not expired, and not a team's own
    /// (those go to the team's households only). Earliest sent first, as
    /// they are read out.
    pub async fn loudspeaker_announcements(&self, hamlet_id: i64) -> Result<Vec<Announcement>> {
        let path = self.unit_unscoped(hamlet_id).await?.path;
        // The hamlet's deliveries by path, through (announcement, path).
        let sql = format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements a \
             WHERE a.state = 'planned' AND a.team_id IS NULL AND a.expires_at > $1 \
             AND EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = a.id AND d.path >= $2 AND d.path < $3) \
             ORDER BY a.send_at, a.id LIMIT 30"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(self.now())
            .bind(&path)
            .bind(crate::prefix_end(&path))
            .fetch_all(p)
            .await?))
    }

    /// The kept audio of an announcement in `voice` and `format`, if it
    /// was made by `recipe`.
    pub async fn announcement_audio(
        &self,
        announcement_id: i64,
        voice: &str,
        format: &str,
        recipe: &str,
    ) -> Result<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT bytes FROM announcement_audio \
             WHERE announcement_id = $1 AND voice = $2 AND format = $3 AND recipe = $4"
        )
        .bind(announcement_id)
        .bind(voice)
        .bind(format)
        .bind(recipe)
        .fetch_optional(p)
        .await?);
        Ok(row.map(|(b,)| b))
    }

    /// Keeps an announcement's audio; replaces what an older recipe made
    /// (two requests racing both write the same file, the last one stays).
    pub async fn save_announcement_audio(
        &self,
        announcement_id: i64,
        voice: &str,
        format: &str,
        recipe: &str,
        bytes: &[u8],
    ) -> Result<()> {
        on_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO announcement_audio (announcement_id, voice, format, recipe, bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (announcement_id, voice, format) \
             DO UPDATE SET recipe = excluded.recipe, bytes = excluded.bytes, created_at = excluded.created_at"
        )
        .bind(announcement_id)
        .bind(voice)
        .bind(format)
        .bind(recipe)
        .bind(bytes)
        .bind(self.now())
        .execute(p)
        .await
        .map(|_| ())?
        });
        Ok(())
    }

    /// A hamlet's usual broadcast times (local hours and minutes).
    pub async fn loudspeaker_slots(&self, hamlet_id: i64) -> Result<Vec<(u32, u32)>> {
        let row: Option<(String,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT slots FROM loudspeaker_slots WHERE hamlet_id = $1"
        )
        .bind(hamlet_id)
        .fetch_optional(p)
        .await?);
        Ok(row
            .and_then(|(s,)| parse_slots(&s).ok())
            .unwrap_or_else(|| DEFAULT_SLOTS.to_vec()))
    }

    /// Sets a hamlet's broadcast times as typed ("06:00, 17:30"): its head,
    /// or an officer whose part of the tree holds it.
    pub async fn set_loudspeaker_slots(
        &self,
        viewer: &Viewer,
        hamlet_id: i64,
        typed: &str,
    ) -> Result<Vec<(u32, u32)>> {
        let unit = self.unit(&viewer.scope, hamlet_id).await?;
        if unit.level != UnitLevel::Hamlet {
            return Err(StoreError::NotFound);
        }
        viewer.require(Action::SetBroadcastTimes, &Target::at(&unit.path))?;
        let slots =
            parse_slots(typed).map_err(|e| StoreError::Rejected(Problem::BroadcastTimes(e)))?;
        let text = slots_text(&slots);
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "INSERT INTO loudspeaker_slots (hamlet_id, slots, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (hamlet_id) DO UPDATE SET slots = excluded.slots, updated_by = excluded.updated_by, \
                 updated_at = excluded.updated_at",
            )
            .bind(hamlet_id)
            .bind(&text)
            .bind(viewer.actor.account_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "update",
                "loudspeaker_slots",
                hamlet_id,
                unit.path,
                serde_json::json!({"slots": text})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(slots)
    }

    /// The recorded voice of an announcement, if one was uploaded.
    pub async fn announcement_recording(&self, announcement_id: i64) -> Result<Option<Recording>> {
        let row: Option<(Vec<u8>, f64, String)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT bytes, seconds, sha256 FROM announcement_recordings WHERE announcement_id = $1"
        )
        .bind(announcement_id)
        .fetch_optional(p)
        .await?
        });
        Ok(row.map(|(wav, seconds, sha256)| Recording {
            wav,
            seconds,
            sha256,
        }))
    }

    /// Keeps a recorded voice (already checked and converted to 16-bit
    /// mono WAV by the caller) for an announcement written in the viewer's
    /// part of the tree, replacing an earlier one.
    pub async fn save_announcement_recording(
        &self,
        viewer: &Viewer,
        announcement_id: i64,
        wav: &[u8],
        seconds: f64,
    ) -> Result<String> {
        let a = self.recordable(viewer, announcement_id).await?;
        let sha = hex::encode(Sha256::digest(wav));
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "INSERT INTO announcement_recordings (announcement_id, bytes, seconds, sha256, uploaded_by, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (announcement_id) DO UPDATE SET bytes = excluded.bytes, \
                 seconds = excluded.seconds, sha256 = excluded.sha256, uploaded_by = excluded.uploaded_by, \
                 uploaded_at = excluded.uploaded_at",
            )
            .bind(a.id)
            .bind(wav)
            .bind(seconds)
            .bind(&sha)
            .bind(viewer.actor.account_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "record",
                "announcement",
                a.id,
                a.path,
                serde_json::json!({"seconds": seconds, "sha256": sha})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(sha)
    }

    /// Removes a recorded voice: the announcement is synthesized again.
    pub async fn delete_announcement_recording(
        &self,
        viewer: &Viewer,
        announcement_id: i64,
    ) -> Result<()> {
        let a = self.recordable(viewer, announcement_id).await?;
        in_tx!(&self.db, |tx| {
            let gone =
                sqlx::query("DELETE FROM announcement_recordings WHERE announcement_id = $1")
                    .bind(a.id)
                    .execute(&mut *tx)
                    .await?;
            if gone.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "unrecord",
                "announcement",
                a.id,
                a.path,
                serde_json::json!({})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// An announcement whose voice the viewer may record: an officer of
    /// the unit that wrote it or of a unit above.
    async fn recordable(&self, viewer: &Viewer, id: i64) -> Result<Announcement> {
        let a = self.announcement(viewer, id).await?;
        viewer.require(Action::RecordVoice, &Target::at(&a.path))?;
        Ok(a)
    }
}
