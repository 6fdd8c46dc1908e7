//! Export of households to the spreadsheet officials keep (the same columns
//! the import reads). Rows are fetched a page at a time on a blocking thread
//! that feeds the writer, so an export never holds a province in memory.
//! Citizen ids leave masked; every export is audited.

use std::path::Path;

use danvan_domain::{Gender, PersonName, Phone, Reach};
use danvan_sheet::ExportRow;

use crate::typed::NullableText;
use crate::viewer::Viewer;
use crate::{on_db, Result, Scope, Store, StoreError};
use danvan_domain::policy::{Action, Target};

const PAGE: i64 = 2000;

#[derive(sqlx::FromRow)]
struct Row {
    household_id: i64,
    resident_id: i64,
    code: String,
    family: String,
    middle: String,
    given: String,
    birth_year: Option<i32>,
    birth_date: Option<String>,
    #[sqlx(try_from = "NullableText")]
    gender: Option<Gender>,
    relation: String,
    phone: Option<String>,
    citizen_id: Option<String>,
    hamlet: String,
    commune: Option<String>,
    address: String,
    #[sqlx(try_from = "String")]
    reach: Reach,
    team_code: Option<String>,
}

impl Row {
    fn export(self) -> ExportRow {
        let birth = match (&self.birth_date, self.birth_year) {
            (Some(d), _) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map(danvan_domain::date::format_vn_date)
                .unwrap_or_default(),
            (None, Some(y)) => y.to_string(),
            _ => String::new(),
        };
        ExportRow {
            household_code: self.code,
            full_name: PersonName {
                family: self.family,
                middle: self.middle,
                given: self.given,
            }
            .full(),
            birth,
            gender: self
                .gender
                .map(|g| g.label_vi().to_string())
                .unwrap_or_default(),
            relation: self.relation,
            phone: self
                .phone
                .as_deref()
                .and_then(|p| Phone::parse(p).ok())
                .map(|p| p.national())
                .unwrap_or_default(),
            citizen_id_masked: self
                .citizen_id
                .as_deref()
                .and_then(|c| danvan_domain::CitizenId::parse(c).ok())
                .map(|c| c.masked())
                .unwrap_or_default(),
            hamlet: self.hamlet,
            commune: self.commune.unwrap_or_default(),
            address: self.address,
            reach: self.reach.label_vi().to_string(),
            team_code: self.team_code.unwrap_or_default(),
        }
    }
}

impl Store {
    async fn export_page(&self, scope: &Scope, path: &str, after: (i64, i64)) -> Result<Vec<Row>> {
        let sql = "SELECT h.id AS household_id, r.id AS resident_id, h.code, r.family, r.middle, r.given, r.birth_year, r.birth_date, r.gender, r.relation, \
                   r.phone, r.citizen_id, u.name AS hamlet, c.name AS commune, h.address, h.reach, t.code AS team_code \
                   FROM households h JOIN residents r ON r.household_id = h.id JOIN units u ON u.id = h.hamlet_id \
                   LEFT JOIN units c ON c.id = u.parent_id LEFT JOIN teams t ON t.id = h.team_id \
                   WHERE h.path >= $1 AND h.path < $2 AND ($3 IS NULL OR h.team_id = $3) AND (h.id > $4 OR (h.id = $4 AND r.id > $5)) \
                   ORDER BY h.id, r.is_head DESC, r.id LIMIT $6";
        // Note: the keyset is (household, resident id); ordering heads first
        // inside a household is safe because a household's rows come in one page
        // or continue from the last resident id seen.
        let sql = sql.replace("r.is_head DESC, ", "");
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(path)
            .bind(crate::prefix_end(path))
            .bind(scope.team_id)
            .bind(after.0)
            .bind(after.1)
            .bind(PAGE)
            .fetch_all(p)
            .await?))
    }

    /// Writes the households of `unit_id`'s subtree to `out` (CSV or XLSX)
    /// and records the export; returns the number of resident rows.
    pub async fn export_households(
        &self,
        viewer: &Viewer,
        unit_id: i64,
        out: &Path,
        xlsx: bool,
    ) -> Result<usize> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        viewer.require(Action::ExportRegistry, &Target::at(&unit.path))?;
        let actor = &viewer.actor;
        let store = self.clone();
        let scope = viewer.scope.clone();
        let path = unit.path.clone();
        let out = out.to_path_buf();
        let handle = tokio::runtime::Handle::current();
        let count = tokio::task::spawn_blocking(move || -> Result<usize> {
            let mut after = (0i64, 0i64);
            let mut buffer: std::vec::IntoIter<Row> = Vec::new().into_iter();
            let mut failure: Option<StoreError> = None;
            let mut count = 0usize;
            let rows = std::iter::from_fn(|| loop {
                if let Some(r) = buffer.next() {
                    after = (r.household_id, r.resident_id);
                    count += 1;
                    return Some(r.export());
                }
                match handle.block_on(store.export_page(&scope, &path, after)) {
                    Ok(page) if page.is_empty() => return None,
                    Ok(page) => buffer = page.into_iter(),
                    Err(e) => {
                        failure = Some(e);
                        return None;
                    }
                }
            });
            let written = if xlsx {
                danvan_sheet::write_xlsx(rows, &out)
            } else {
                std::fs::File::create(&out)
                    .map_err(danvan_sheet::SheetError::Io)
                    .and_then(|f| danvan_sheet::write_csv(rows, std::io::BufWriter::new(f)))
            };
            if let Some(e) = failure {
                return Err(e);
            }
            written.map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(count)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("xuất dữ liệu bị gián đoạn: {e}")))??;
        self.audit(
            actor,
            "export",
            "households",
            &unit_id.to_string(),
            &unit.path,
            serde_json::json!({"rows": count, "format": if xlsx { "xlsx" } else { "csv" }}),
        )
        .await?;
        Ok(count)
    }
}
