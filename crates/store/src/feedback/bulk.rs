//! **Benchmark only.** Fills a province with synthetic feedback fast, for
//! `danvan bench --suite feedback`: multi-row INSERTs straight into
//! `feedback` in large transactions, with `feedback_counts` kept
//! consistent, and the dashboard's rollups rebuilt from them
//! (`rebuild_feedback_rollups`). It bypasses `submit_feedback` (no history events, no
//! notifications, no audit entries, no SMS) and must never run on a
//! database that holds real reports.

use std::collections::HashMap;

use danvan_domain::feedback::{FeedbackState, TrackingCode};
use danvan_domain::text;

use crate::{on_db, prefix_end, Db, Result, Store, StoreError};

/// Rows per INSERT statement (28 parameters each: under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TX: usize = 50_000;
const COLUMNS: &str = "code, topic_id, severity, state, channel, description, description_fold, hamlet_id, path, \
     reporter_name, reporter_phone, anonymous, lat, lon, confidential, responsible_unit_id, responsible_path, \
     responsible_label, escalation_level, received_at, ack_due, resolve_due, next_escalation_at, acknowledged_at, \
     answered_at, closed_at, answer, updated_at";
const N_COLUMNS: usize = 28;

/// What [`Store::feedback_bulk`] makes.
#[derive(Debug, Clone)]
pub struct BulkSpec {
    /// Reports to insert.
    pub reports: usize,
    /// Spread of `received_at` over this many days before now.
    pub days: i64,
    pub seed: u64,
}

/// What it made.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome {
    pub reports: u64,
    /// Reports left open (received, acknowledged, in progress, reopened).
    pub open: u64,
}

/// A small deterministic generator (splitmix64): the data set is the same
/// for a seed on every machine, without a dependency.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Concerns residents raise, by topic kind; combined with a place word.
pub const DESCRIPTIONS: &[&str] = &[
    "Đường liên thôn bị sạt lở sau mưa lớn, xe máy đi lại rất nguy hiểm",
    "Rác thải tập kết bên đường lâu ngày không được thu gom, bốc mùi hôi",
    "Đèn chiếu sáng công cộng bị hỏng nhiều ngày, buổi tối rất tối",
    "Cống thoát nước bị tắc, nước thải tràn ra đường khi trời mưa",
    "Có nhóm thanh niên tụ tập gây ồn ào, đua xe vào ban đêm",
    "Trạm bơm nước sạch ngừng hoạt động, các hộ thiếu nước sinh hoạt",
    "Đề nghị sửa chữa cầu tràn đã xuống cấp, trẻ em đi học không an toàn",
    "Cơ sở chăn nuôi xả nước thải ra kênh tưới tiêu của thôn",
    "Loa phát thanh của thôn bị hỏng, người dân không nghe được thông báo",
    "Hộ gia đình lấn chiếm hành lang giao thông để xây tường rào",
    "Đề nghị phun thuốc diệt muỗi vì có nhiều người bị sốt xuất huyết",
    "Đốt rơm rạ sau thu hoạch gây khói bụi ảnh hưởng khu dân cư",
    "Cây xanh ven đường có nguy cơ gãy đổ, đề nghị cắt tỉa trước mùa bão",
    "Xe chở vật liệu xây dựng làm rơi vãi đất cát trên đường",
    "Đề nghị hỗ trợ hộ nghèo sửa chữa nhà bị dột trước mùa mưa",
];
const PLACES: &[&str] = &[
    "gần nhà văn hóa thôn",
    "đoạn qua trường tiểu học",
    "cạnh chợ",
    "đầu ngõ xóm",
    "khu vực cánh đồng phía đông",
    "gần trạm y tế xã",
    "dọc bờ kênh",
    "trước cổng đình làng",
];
const FAMILY: &[&str] = &["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const GIVEN: &[&str] = &[
    "Văn An",
    "Thị Lan",
    "Văn Hùng",
    "Thị Mai",
    "Đức Minh",
    "Thị Hoa",
    "Quang Huy",
    "Thị Thu",
];

/// The 8-symbol code of the `i`-th bulk report: a bijection of 40 bits,
/// so bulk codes never collide with each other (a live submission that
/// draws one retries, as for any collision).
fn bulk_code(i: u64, seed: u64) -> TrackingCode {
    let mask = (1u64 << 40) - 1;
    let x = (i.wrapping_mul(0x009E_3779_B97F) ^ seed).wrapping_add(seed >> 3) & mask;
    let b = x.to_be_bytes();
    TrackingCode::from_random([b[3], b[4], b[5], b[6], b[7]])
}

/// One generated row, in the column order of `COLUMNS`.
struct Row {
    code: String,
    topic_id: i64,
    severity: &'static str,
    state: &'static str,
    channel: &'static str,
    description: String,
    fold: String,
    hamlet: usize,
    reporter_name: Option<String>,
    reporter_phone: Option<String>,
    anonymous: bool,
    lat: f64,
    lon: f64,
    confidential: bool,
    escalation_level: i32,
    received_at: i64,
    ack_due: i64,
    resolve_due: i64,
    next_escalation_at: Option<i64>,
    acknowledged_at: Option<i64>,
    answered_at: Option<i64>,
    closed_at: Option<i64>,
    answer: Option<&'static str>,
    updated_at: i64,
}

struct Hamlet {
    id: i64,
    path: String,
    commune_id: i64,
    commune_path: String,
    commune_name: String,
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// Draws one report received `age` seconds before `now`. States follow age:
/// the last three weeks are mostly being handled, older items mostly closed
/// with a few still open (late, already escalated once).
fn draw(mix: &mut Mix, now: i64, age: i64, topic: (i64, bool), hamlets: usize) -> Row {
    let received_at = now - age;
    let severity = match mix.below(10) {
        0 => "urgent",
        1 => "complex",
        _ => "normal",
    };
    let ack_due = received_at + if severity == "urgent" { 4 * HOUR } else { DAY };
    let resolve_due = received_at
        + match severity {
            "urgent" => 4 * HOUR,
            "complex" => 21 * DAY,
            _ => 7 * DAY,
        };
    let r = mix.below(100);
    let state = if age <= 21 * DAY {
        match r {
            0..=14 => "received",
            15..=29 => "acknowledged",
            30..=54 => "in_progress",
            55..=74 => "answered",
            75..=94 => "closed",
            _ => "refused",
        }
    } else {
        match r {
            0 => "in_progress",
            1 => "acknowledged",
            2 => "reopened",
            3..=6 => "refused",
            _ => "closed",
        }
    };
    let st = FeedbackState::parse(state).unwrap_or(FeedbackState::Received);
    let handled = (age / 3).clamp(60, 5 * DAY);
    let acknowledged_at = (state != "received").then(|| received_at + (handled / 4).max(30));
    let answered_at =
        matches!(state, "answered" | "closed" | "reopened").then(|| received_at + handled);
    let closed_at =
        (state == "closed").then(|| (received_at + handled + DAY.min(age / 2)).min(now));
    let late = st.is_open() && resolve_due < now;
    // Nothing overdue is left behind: the minute sweep has already moved
    // the late ones up and given them a new moment to look again.
    let next_escalation_at = match state {
        "received" | "acknowledged" | "in_progress" | "reopened" => {
            let due = if state == "received" {
                ack_due.min(resolve_due)
            } else {
                resolve_due
            };
            Some(if due > now {
                due
            } else {
                now + 60 + mix.below(8 * HOUR as u64) as i64
            })
        }
        "answered" => Some(answered_at.unwrap_or(now) + 7 * DAY).map(|t| t.max(now + 60)),
        _ => None,
    };
    let updated_at = [Some(received_at), acknowledged_at, answered_at, closed_at]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(received_at)
        .min(now);
    let description = format!("{} {}", mix.pick(DESCRIPTIONS), mix.pick(PLACES));
    let fold = text::fold(&description);
    let anonymous = mix.below(3) == 0;
    let (reporter_name, reporter_phone) = if anonymous {
        (None, None)
    } else {
        (
            Some(format!("{} {}", mix.pick(FAMILY), mix.pick(GIVEN))),
            Some(format!("+849{:08}", mix.below(100_000_000))),
        )
    };
    let channel = *mix.pick(&["web", "web", "sms", "open311", "api"]);
    Row {
        code: String::new(),
        topic_id: topic.0,
        severity,
        state,
        channel,
        description,
        fold,
        hamlet: mix.below(hamlets as u64) as usize,
        reporter_name,
        reporter_phone,
        anonymous,
        // Inside Vietnam's mainland, roughly.
        lat: 10.0 + mix.unit() * 12.0,
        lon: 104.5 + mix.unit() * 4.0,
        confidential: topic.1,
        escalation_level: i32::from(late),
        received_at,
        ack_due,
        resolve_due,
        next_escalation_at,
        acknowledged_at,
        answered_at,
        closed_at,
        answer: answered_at.map(|_| "Ủy ban nhân dân xã đã kiểm tra và chỉ đạo khắc phục."),
        updated_at,
    }
}

/// `(?, ?, …), (…)` for SQLite (anonymous parameters, see the import) or
/// `($1, $2, …), (…)` for PostgreSQL.
fn values(sqlite: bool, rows: usize) -> String {
    let mut out = String::with_capacity(rows * N_COLUMNS * 5);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..N_COLUMNS {
            if c > 0 {
                out.push_str(", ");
            }
            n += 1;
            if sqlite {
                out.push('?');
            } else {
                out.push_str(&format!("${n}"));
            }
        }
        out.push(')');
    }
    out
}

macro_rules! bind_rows {
    ($q:expr, $rows:expr, $hamlets:expr) => {{
        let mut q = $q;
        for r in $rows {
            let h: &Hamlet = &$hamlets[r.hamlet];
            // Items escalated once answer at the province (the parent).
            q = q
                .bind(&r.code)
                .bind(r.topic_id)
                .bind(r.severity)
                .bind(r.state)
                .bind(r.channel)
                .bind(&r.description)
                .bind(&r.fold)
                .bind(h.id)
                .bind(&h.path)
                .bind(&r.reporter_name)
                .bind(&r.reporter_phone)
                .bind(r.anonymous)
                .bind(r.lat)
                .bind(r.lon)
                .bind(r.confidential)
                .bind(h.commune_id)
                .bind(&h.commune_path)
                .bind(&h.commune_name)
                .bind(r.escalation_level)
                .bind(r.received_at)
                .bind(r.ack_due)
                .bind(r.resolve_due)
                .bind(r.next_escalation_at)
                .bind(r.acknowledged_at)
                .bind(r.answered_at)
                .bind(r.closed_at)
                .bind(r.answer)
                .bind(r.updated_at);
        }
        q
    }};
}

impl Store {
    /// **Benchmark only** (see the module): inserts `spec.reports`
    /// synthetic reports spread over the hamlets under `province_path`
    /// and the last `spec.days` days, newest last, and adds them to
    /// `feedback_counts`. Topics: the active ones, confidential ones rarer.
    pub async fn feedback_bulk(&self, province_path: &str, spec: &BulkSpec) -> Result<BulkOutcome> {
        let hamlets: Vec<(i64, String, i64, String, String)> = on_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT h.id, h.path, c.id, c.path, c.name FROM units h JOIN units c ON c.id = h.parent_id \
                 WHERE h.path >= $1 AND h.path < $2 AND h.level = 'hamlet' AND h.valid_to IS NULL ORDER BY h.id",
            )
            .bind(province_path)
            .bind(prefix_end(province_path))
            .fetch_all(p)
            .await?
        });
        let hamlets: Vec<Hamlet> = hamlets
            .into_iter()
            .map(
                |(id, path, commune_id, commune_path, commune_name)| Hamlet {
                    id,
                    path,
                    commune_id,
                    commune_path,
                    commune_name,
                },
            )
            .collect();
        if hamlets.is_empty() {
            return Err(StoreError::Internal("no hamlet under that path".into()));
        }
        // Public topics carry most reports; each confidential one 1 in 50.
        let mut topics: Vec<(i64, bool)> = Vec::new();
        for t in self.topics().await? {
            let weight = if t.confidential { 1 } else { 12 };
            topics.extend(std::iter::repeat_n((t.id, t.confidential), weight));
        }
        if topics.is_empty() {
            return Err(StoreError::Internal("no topic".into()));
        }
        let now = self.now();
        let sqlite = matches!(self.db, Db::Sqlite(_));
        let full_sql = format!(
            "INSERT INTO feedback ({COLUMNS}) VALUES {}",
            values(sqlite, ROWS_PER_STATEMENT)
        );
        let mut mix = Mix(spec.seed);
        let mut counts: HashMap<(i64, i64, &'static str), i64> = HashMap::new();
        let mut outcome = BulkOutcome::default();
        let span = (spec.days.max(1) * DAY) as u64;
        let mut done = 0usize;
        while done < spec.reports {
            let in_tx = ROWS_PER_TX.min(spec.reports - done);
            let mut rows: Vec<Row> = Vec::with_capacity(in_tx);
            for k in 0..in_tx {
                let i = done + k;
                // Oldest first, evenly over the span, jittered.
                let base = span - span * i as u64 / spec.reports as u64;
                let age = (base + mix.below(600)).saturating_sub(300).max(60) as i64;
                let topic = *mix.pick(&topics);
                let mut r = draw(&mut mix, now, age, topic, hamlets.len());
                r.code = bulk_code(i as u64, spec.seed).as_str().to_string();
                let h = hamlets[r.hamlet].id;
                *counts.entry((h, r.topic_id, r.state)).or_default() += 1;
                if FeedbackState::parse(r.state).is_some_and(|s| s.is_open()) {
                    outcome.open += 1;
                }
                rows.push(r);
            }
            on_db!(&self.db, |p| {
                let mut tx = p.begin().await?;
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let sql = if chunk.len() == ROWS_PER_STATEMENT {
                        full_sql.clone()
                    } else {
                        format!(
                            "INSERT INTO feedback ({COLUMNS}) VALUES {}",
                            values(sqlite, chunk.len())
                        )
                    };
                    bind_rows!(sqlx::query(&sql), chunk, hamlets)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            });
            done += in_tx;
            outcome.reports += in_tx as u64;
            tracing::info!(done, "feedback_bulk");
        }
        on_db!(&self.db, |p| {
            let mut tx = p.begin().await?;
            let rows: Vec<crate::feedback::rollup::Rollup> = counts
                .iter()
                .map(|((hamlet, topic, state), n)| (*hamlet, *topic, state.to_string(), *n))
                .collect();
            crate::feedback::write::add_counts(&mut *tx, &rows).await?;
            tx.commit().await?;
        });
        // Statistics for the planner; on PostgreSQL also the visibility map,
        // which a bulk load leaves unset until autovacuum comes by and which
        // index-only scans (the dashboard's late count) need. A server in
        // its steady state has both.
        let sql = if sqlite {
            "ANALYZE"
        } else {
            "VACUUM (ANALYZE) feedback"
        };
        on_db!(&self.db, |p| {
            sqlx::query(sql).execute(p).await?;
        });
        // The dashboard's rollups, from the counts and the items.
        self.rebuild_feedback_rollups().await?;
        Ok(outcome)
    }

    /// **Benchmark only**: makes every report open (`in_progress` unless
    /// already open) with its next look in the future, except those whose
    /// `id % stride < run`, which fell due within the last minute (what
    /// one run of the minute sweep finds): `(100, 1)` spreads 1 % evenly
    /// over the table, one item a page; `(n / 10, n / 1000)` makes 10 runs
    /// of neighbours, as deadlines counted from reports received in the
    /// same minutes are. Rebuilds `feedback_counts` from the table.
    /// Returns (open, due).
    pub async fn feedback_bulk_open_all(&self, stride: i64, run: i64) -> Result<(i64, i64)> {
        let now = self.now();
        on_db!(&self.db, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(
                "UPDATE feedback SET state = CASE WHEN state IN ('received', 'acknowledged', 'in_progress', 'reopened') \
                 THEN state ELSE 'in_progress' END, answered_at = NULL, closed_at = NULL, answer = NULL, \
                 next_escalation_at = CASE WHEN id % $1 < $3 THEN $2 - 1 - id % 59 ELSE $2 + 60 + id % 604800 END",
            )
            .bind(stride.max(1))
            .bind(now)
            .bind(run)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM feedback_counts")
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO feedback_counts (hamlet_id, topic_id, state, n) \
                 SELECT hamlet_id, topic_id, state, COUNT(*) FROM feedback GROUP BY hamlet_id, topic_id, state",
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.rebuild_feedback_rollups().await?;
        let (open, due): (i64, i64) = on_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_escalation_at <= $1 THEN 1 ELSE 0 END), 0) FROM feedback",
            )
            .bind(now)
            .fetch_one(p)
            .await?
        });
        Ok((open, due))
    }

    /// **Benchmark only**: the number of rows in `feedback` (every report,
    /// confidential ones included), to check that none acknowledged is lost.
    pub async fn feedback_row_count(&self) -> Result<i64> {
        Ok(on_db!(&self.db, |p| {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM feedback")
                .fetch_one(p)
                .await?;
            n
        }))
    }

    /// **Benchmark only**: up to `n` tracking codes of public reports,
    /// spread over the table.
    pub async fn feedback_sample_codes(&self, n: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = on_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT code FROM feedback WHERE confidential = FALSE AND id % 997 = 0 ORDER BY id LIMIT $1",
            )
            .bind(n)
            .fetch_all(p)
            .await?
        });
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }
}
