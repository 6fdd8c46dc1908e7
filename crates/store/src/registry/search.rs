//! Search by name, phone or household code, ignoring case and diacritics,
//! always inside the caller's scope.
//!
//! Each kind of match is its own indexed prefix range scan (folded full name,
//! folded given-name-first, phone digits, household code), merged here and
//! put in Vietnamese order. Separate scans keep every query on an index on
//! both backends, where an `OR` across columns would not be.

use danvan_domain::{text, Phone};
use serde::Serialize;

use crate::registry::household::{Household, HOUSEHOLD_SELECT};
use crate::{on_db, prefix_end, Result, Scope, Store};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ResidentHit {
    pub id: i64,
    pub household_id: i64,
    pub household_code: String,
    pub hamlet_name: String,
    pub family: String,
    pub middle: String,
    pub given: String,
    pub birth_year: Option<i32>,
    pub is_head: bool,
    #[serde(skip)]
    pub sort_key: String,
}

impl ResidentHit {
    pub fn full_name(&self) -> String {
        danvan_domain::PersonName {
            family: self.family.clone(),
            middle: self.middle.clone(),
            given: self.given.clone(),
        }
        .full()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchResults {
    pub households: Vec<Household>,
    pub residents: Vec<ResidentHit>,
}

const HIT_SELECT: &str = "SELECT r.id, r.household_id, h.code AS household_code, u.name AS hamlet_name, r.family, r.middle, r.given, r.birth_year, r.is_head, r.sort_key \
     FROM residents r JOIN households h ON h.id = r.household_id JOIN units u ON u.id = h.hamlet_id";

/// Phone digits to search for, when the query looks like a phone number.
fn phone_digits(q: &str) -> Option<String> {
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 4 || q.chars().any(|c| c.is_alphabetic()) {
        return None;
    }
    if let Ok(p) = Phone::parse(q) {
        return Some(p.digits());
    }
    // A partial number: compare in national form ("09…").
    let national = if let Some(rest) = digits.strip_prefix("84") {
        format!("0{rest}")
    } else {
        digits
    };
    Some(national)
}

impl Store {
    pub async fn search(&self, scope: &Scope, q: &str, limit: i64) -> Result<SearchResults> {
        let folded = text::fold(q);
        if folded.is_empty() {
            return Ok(SearchResults::default());
        }
        let limit = limit.clamp(1, 200);
        let end = scope.end();
        let mut hits: Vec<ResidentHit> = Vec::new();
        let fold_end = prefix_end(&folded);
        for column in ["r.name_fold", "r.given_fold"] {
            let sql = format!(
                "{HIT_SELECT} WHERE {column} >= $1 AND {column} < $2 AND h.path >= $3 AND h.path < $4 AND ($5 IS NULL OR h.team_id = $5) ORDER BY {column} LIMIT $6"
            );
            let rows: Vec<ResidentHit> = on_db!(&self.db, |p| sqlx::query_as(&sql)
                .bind(&folded)
                .bind(&fold_end)
                .bind(&scope.path)
                .bind(&end)
                .bind(scope.team_id)
                .bind(limit)
                .fetch_all(p)
                .await?);
            hits.extend(rows);
        }
        if let Some(digits) = phone_digits(q) {
            let sql = format!(
                "{HIT_SELECT} WHERE r.phone_digits >= $1 AND r.phone_digits < $2 AND h.path >= $3 AND h.path < $4 AND ($5 IS NULL OR h.team_id = $5) ORDER BY r.phone_digits LIMIT $6"
            );
            let rows: Vec<ResidentHit> = on_db!(&self.db, |p| sqlx::query_as(&sql)
                .bind(&digits)
                .bind(prefix_end(&digits))
                .bind(&scope.path)
                .bind(&end)
                .bind(scope.team_id)
                .bind(limit)
                .fetch_all(p)
                .await?);
            hits.extend(rows);
        }
        hits.sort_by(|a, b| a.sort_key.cmp(&b.sort_key).then(a.id.cmp(&b.id)));
        hits.dedup_by_key(|h| h.id);
        hits.truncate(usize::try_from(limit).unwrap_or(50));

        // Households: by code, and those whose head matched.
        let code = q.trim().to_uppercase();
        let sql = format!(
            "{HOUSEHOLD_SELECT} WHERE h.code >= $1 AND h.code < $2 AND h.path >= $3 AND h.path < $4 AND ($5 IS NULL OR h.team_id = $5) ORDER BY h.code LIMIT $6"
        );
        let mut households: Vec<Household> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&code)
            .bind(prefix_end(&code))
            .bind(&scope.path)
            .bind(&end)
            .bind(scope.team_id)
            .bind(limit)
            .fetch_all(p)
            .await?);
        let head_ids: Vec<i64> = hits
            .iter()
            .filter(|h| h.is_head)
            .map(|h| h.household_id)
            .collect();
        for id in head_ids {
            if households.iter().any(|h| h.id == id) {
                continue;
            }
            if let Ok(h) = self.household(scope, id).await {
                households.push(h);
            }
        }
        Ok(SearchResults {
            households,
            residents: hits,
        })
    }
}
