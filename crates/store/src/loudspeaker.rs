//! The hamlet loudspeaker: which announcements a hamlet plays, and the
//! audio files made for them, kept so they are synthesized once.

use crate::announcement::{Announcement, ANNOUNCEMENT_COLUMNS};
use crate::{on_db, Result, Store};

impl Store {
    /// The announcements a hamlet's loudspeaker plays now: sent (planned)
    /// to households of the hamlet, not expired, and not a team's own
    /// (those go to the team's households only). Earliest sent first, as
    /// they are read out.
    pub async fn loudspeaker_announcements(&self, hamlet_id: i64) -> Result<Vec<Announcement>> {
        let sql = format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements a \
             WHERE a.state = 'planned' AND a.team_id IS NULL AND a.expires_at > $2 \
             AND EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = a.id AND d.hamlet_id = $1) \
             ORDER BY a.send_at, a.id LIMIT 30"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(hamlet_id)
            .bind(self.now())
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
}
