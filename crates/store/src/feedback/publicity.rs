//! How much of each topic's reports the public sees, per province: the
//! writer of `topic_publicity`. Read at every public read (status page,
//! Open311, photos) through `query::TEXT_IS_PUBLIC` and the listing's
//! filter, so a changed setting applies to old reports at once.

use danvan_domain::feedback::Publicity;
use danvan_domain::policy::{Action, Target};
use danvan_domain::problem::Problem;
use serde::Serialize;

use crate::feedback::Viewer;
use crate::{audit, in_tx, on_db, Result, Store, StoreError};

/// A topic as the public sees it in one province.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TopicPublicity {
    pub topic_id: i64,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    /// Never published at all, whatever the setting.
    pub confidential: bool,
    #[sqlx(try_from = "String")]
    pub publicity: Publicity,
    /// The province chose it (else the topic's default).
    pub set_here: bool,
}

impl Store {
    /// Every active topic's publicity in province `province_id`.
    pub async fn topic_publicity(
        &self,
        viewer: &Viewer,
        province_id: i64,
    ) -> Result<Vec<TopicPublicity>> {
        let unit = self.unit(&viewer.scope, province_id).await?;
        if unit.parent_id.is_some() {
            return Err(StoreError::Rejected(Problem::PublicityProvinceOnly));
        }
        Ok(on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT t.id AS topic_id, t.code, t.name_vi, t.name_en, t.confidential, \
             COALESCE(tp.publicity, t.publicity) AS publicity, tp.publicity IS NOT NULL AS set_here \
             FROM topics t LEFT JOIN topic_publicity tp ON tp.topic_id = t.id AND tp.province_path = $1 \
             WHERE t.active = TRUE ORDER BY t.position, t.id"
        )
        .bind(&unit.path)
        .fetch_all(p)
        .await?
        }))
    }

    /// Sets how much of topic `topic_code`'s reports the public sees in a
    /// province: the administrator, or a leader of the province itself.
    pub async fn set_topic_publicity(
        &self,
        viewer: &Viewer,
        province_id: i64,
        topic_code: &str,
        publicity: Publicity,
    ) -> Result<()> {
        let unit = self.unit(&viewer.scope, province_id).await?;
        if unit.parent_id.is_some() {
            return Err(StoreError::Rejected(Problem::PublicityProvinceOnly));
        }
        viewer.require(
            Action::SetTopicPublicity,
            &Target::at(&unit.path).level(unit.level),
        )?;
        let topic = self
            .topics_cached()
            .await?
            .iter()
            .find(|t| t.code == topic_code.trim().to_lowercase())
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "INSERT INTO topic_publicity (province_path, topic_id, publicity, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (province_path, topic_id) DO UPDATE SET publicity = excluded.publicity, \
                 updated_at = excluded.updated_at",
            )
            .bind(&unit.path)
            .bind(topic.id)
            .bind(publicity.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "update",
                "topic_publicity",
                topic.id,
                unit.path,
                serde_json::json!({"topic": topic.code, "publicity": publicity.as_str()})
            );
            Ok::<(), StoreError>(())
        })
    }
}
