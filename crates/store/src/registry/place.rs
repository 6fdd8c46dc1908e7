//! Which hamlet a report belongs to when it names none (Open311 with a
//! point or an address alone), within the part of the tree of whoever
//! sends it. Reads only: the centres and place keys are written by
//! `registry::unit`.
//!
//! **A point** goes to the nearest hamlet of the commune whose area it
//! falls in. A commune's area is taken as the box around its hamlets'
//! centres, widened by [`AREA_MARGIN_KM`]; where boxes overlap, the nearest
//! hamlet of those communes wins. A point in no commune's area is refused
//! with the nearest hamlets named. Hamlets are read from a window of
//! [`SEARCH_KM`] around the point through the `units_centre` index.
//!
//! **An address** goes to the hamlet whose place key (its folded name
//! without "Thôn") is one of the address's runs of words; a longer name
//! wins over one it contains ("Tân Lập 2" over "Tân Lập"); between equal
//! names, the one whose commune the address names too. Looked up through
//! the `units_place_key` index.

use danvan_domain::place::{
    address_grams, key_within, metres_between, PlaceCandidate, AREA_MARGIN_KM, KM_PER_DEGREE,
    SEARCH_KM,
};
use danvan_domain::problem::Problem;

use crate::{on_db, Result, Scope, Store, StoreError};

/// Hamlets named in a refusal, at most.
pub const MAX_CANDIDATES: usize = 12;

/// Where a report was placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub hamlet_id: i64,
    pub hamlet: String,
    pub commune: String,
}

#[derive(sqlx::FromRow)]
struct Near {
    id: i64,
    name: String,
    commune: String,
    lat: f64,
    lon: f64,
    inside: i32,
}

#[derive(sqlx::FromRow, Clone)]
struct Named {
    id: i64,
    name: String,
    commune: String,
    place_key: String,
    commune_key: String,
}

impl Named {
    fn candidate(&self) -> PlaceCandidate {
        PlaceCandidate {
            hamlet_id: self.id,
            hamlet: self.name.clone(),
            commune: self.commune.clone(),
            metres: None,
        }
    }
}

/// Hamlets in force inside the scope (`$1`, `$2`: the path range; `$3`:
/// today), with their commune's name.
const HAMLETS_IN_SCOPE: &str = "h.level = 'hamlet' AND h.path >= $1 AND h.path < $2 \
     AND (h.valid_to IS NULL OR h.valid_to >= $3)";

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The hamlet a point falls in, or `Rejected(PlacePointFar)` naming the
    /// nearest hamlets.
    pub async fn place_point(&self, scope: &Scope, lat: f64, lon: f64) -> Result<Placed> {
        crate::registry::household::check_point(Some(lat), Some(lon))?;
        let today = self.today().format("%Y-%m-%d").to_string();
        let cos = lat.to_radians().cos().max(0.1);
        let (window_lat, window_lon) = (SEARCH_KM / KM_PER_DEGREE, SEARCH_KM / KM_PER_DEGREE / cos);
        let (margin_lat, margin_lon) = (
            AREA_MARGIN_KM / KM_PER_DEGREE,
            AREA_MARGIN_KM / KM_PER_DEGREE / cos,
        );
        // Nearest first among the communes whose area holds the point, then
        // the rest (for the refusal); the distance is ordered on the flat
        // approximation, good at the scale of a window.
        let sql = format!(
            "WITH near AS ( \
               SELECT h.id, h.parent_id, h.name, h.lat, h.lon FROM units h \
               WHERE h.lat >= $4 AND h.lat <= $5 AND h.lon >= $6 AND h.lon <= $7 AND {HAMLETS_IN_SCOPE} \
             ), areas AS ( \
               SELECT parent_id FROM near GROUP BY parent_id \
               HAVING MIN(lat) <= $8 AND MAX(lat) >= $9 AND MIN(lon) <= $10 AND MAX(lon) >= $11 \
             ) \
             SELECT n.id, n.name, COALESCE(c.name, '') AS commune, n.lat, n.lon, \
                    CASE WHEN n.parent_id IN (SELECT parent_id FROM areas) THEN 1 ELSE 0 END AS inside \
             FROM near n LEFT JOIN units c ON c.id = n.parent_id \
             ORDER BY inside DESC, \
                      (n.lat - $12) * (n.lat - $12) + (n.lon - $13) * (n.lon - $13) * $14, n.id \
             LIMIT $15"
        );
        let limit = i64::try_from(MAX_CANDIDATES).unwrap_or(12);
        let rows: Vec<Near> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(&today)
            .bind(lat - window_lat)
            .bind(lat + window_lat)
            .bind(lon - window_lon)
            .bind(lon + window_lon)
            .bind(lat + margin_lat)
            .bind(lat - margin_lat)
            .bind(lon + margin_lon)
            .bind(lon - margin_lon)
            .bind(lat)
            .bind(lon)
            .bind(cos * cos)
            .bind(limit)
            .fetch_all(p)
            .await?);
        match rows.first() {
            Some(n) if n.inside == 1 => Ok(Placed {
                hamlet_id: n.id,
                hamlet: n.name.clone(),
                commune: n.commune.clone(),
            }),
            _ => {
                let nearest = rows
                    .iter()
                    .take(5)
                    .map(|n| PlaceCandidate {
                        hamlet_id: n.id,
                        hamlet: n.name.clone(),
                        commune: n.commune.clone(),
                        metres: Some(metres_between((lat, lon), (n.lat, n.lon))),
                    })
                    .collect();
                Err(StoreError::Rejected(Problem::PlacePointFar { nearest }))
            }
        }
    }

    /// The hamlet an address names, or `Rejected` with the hamlets it
    /// could be: `PlaceAmbiguous` (several, no commune to tell them apart)
    /// or `PlaceAddressUnknown` (none).
    pub async fn place_address(&self, scope: &Scope, address: &str) -> Result<Placed> {
        let grams = address_grams(address);
        let today = self.today().format("%Y-%m-%d").to_string();
        let found: Vec<Named> = if grams.is_empty() {
            Vec::new()
        } else {
            let sql = format!(
                "SELECT h.id, h.name, COALESCE(c.name, '') AS commune, COALESCE(h.place_key, '') AS place_key, \
                        COALESCE(c.place_key, '') AS commune_key \
                 FROM units h LEFT JOIN units c ON c.id = h.parent_id \
                 WHERE h.place_key IN ({}) AND {HAMLETS_IN_SCOPE} \
                 ORDER BY h.sort_key, h.id",
                placeholders(4, grams.len())
            );
            on_db!(&self.db, |p| {
                let mut q = sqlx::query_as(&sql)
                    .bind(&scope.path)
                    .bind(scope.end())
                    .bind(&today);
                for g in &grams {
                    q = q.bind(g);
                }
                q.fetch_all(p).await?
            })
        };
        // A name inside a longer one also found is not what was meant.
        let longest: Vec<&Named> = found
            .iter()
            .filter(|n| !found.iter().any(|m| key_within(&n.place_key, &m.place_key)))
            .collect();
        let in_named_commune: Vec<&Named> = longest
            .iter()
            .copied()
            .filter(|n| grams.contains(&n.commune_key))
            .collect();
        let pick = match (longest.as_slice(), in_named_commune.as_slice()) {
            ([one], _) | (_, [one]) => Some(*one),
            _ => None,
        };
        if let Some(n) = pick {
            return Ok(Placed {
                hamlet_id: n.id,
                hamlet: n.name.clone(),
                commune: n.commune.clone(),
            });
        }
        if !longest.is_empty() {
            let shown = if in_named_commune.len() > 1 {
                in_named_commune
            } else {
                longest
            };
            return Err(StoreError::Rejected(Problem::PlaceAmbiguous {
                candidates: shown
                    .iter()
                    .take(MAX_CANDIDATES)
                    .map(|n| n.candidate())
                    .collect(),
            }));
        }
        let candidates = self.hamlets_to_name(scope, &grams, &today).await?;
        Err(StoreError::Rejected(Problem::PlaceAddressUnknown {
            candidates: candidates.iter().map(Named::candidate).collect(),
        }))
    }

    /// The hamlets to offer when an address names none: those of a commune
    /// it names, else the first of the scope's in Vietnamese order.
    async fn hamlets_to_name(
        &self,
        scope: &Scope,
        grams: &[String],
        today: &str,
    ) -> Result<Vec<Named>> {
        let limit = i64::try_from(MAX_CANDIDATES).unwrap_or(12);
        let select = "SELECT h.id, h.name, COALESCE(c.name, '') AS commune, \
                      COALESCE(h.place_key, '') AS place_key, COALESCE(c.place_key, '') AS commune_key \
                      FROM units h LEFT JOIN units c ON c.id = h.parent_id";
        if !grams.is_empty() {
            let sql = format!(
                "{select} WHERE c.place_key IN ({}) AND c.level = 'commune' AND {HAMLETS_IN_SCOPE} \
                 ORDER BY h.sort_key, h.id LIMIT $4",
                placeholders(5, grams.len())
            );
            let in_communes: Vec<Named> = on_db!(&self.db, |p| {
                let mut q = sqlx::query_as(&sql)
                    .bind(&scope.path)
                    .bind(scope.end())
                    .bind(today)
                    .bind(limit);
                for g in grams {
                    q = q.bind(g);
                }
                q.fetch_all(p).await?
            });
            if !in_communes.is_empty() {
                return Ok(in_communes);
            }
        }
        let sql = format!("{select} WHERE {HAMLETS_IN_SCOPE} ORDER BY h.sort_key, h.id LIMIT $4");
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&scope.path)
            .bind(scope.end())
            .bind(today)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }
}
