//! Feedback up: a resident's concern from the moment it is received until it
//! is answered and closed.
//!
//! Every change is one transaction that updates the item, appends to its
//! history (`feedback_events`, never rewritten), moves the per-hamlet counts
//! (`feedback_counts`) and writes the audit log. Deadlines are counted in the
//! province's working calendar (`danvan_domain::calendar`); the escalation
//! sweep finds late items through `next_escalation_at`, an indexed column
//! that always holds the next moment something is due.

use danvan_domain::problem::Problem;
use std::collections::{HashMap, HashSet};

use danvan_domain::calendar::{self, Counting, WorkCalendar};
use danvan_domain::feedback::{
    Channel, FeedbackState, Publicity, RelayMethod, Severity, TrackingCode,
};
use danvan_domain::policy::{self, Target};
use danvan_domain::{text, Phone, UnitLevel};
use serde::Serialize;

use crate::announce::outbox::{self, NewSms};
use crate::feedback::rollup::{add_rollups, record_duration, set_lateness, Rollup};
use crate::feedback::write::{self, Also, NewEvent, NewNotice, StateChange};
use crate::typed::NullableText;
use crate::{audit, in_tx, on_db, Actor, Result, Scope, Store, StoreError};

/// Longest description accepted (characters).
pub const MAX_DESCRIPTION: usize = 4000;
/// A reporter may reopen an answered item for this long.
pub const REOPEN_SECONDS: i64 = 7 * 24 * 3600;
/// Similar reports of the same hamlet and topic are looked for this far back.
pub const DUPLICATE_SECONDS: i64 = 14 * 24 * 3600;
/// Items escalated or closed per transaction of the sweep. A minute's
/// sweep meets a handful; a backlog (the server was down over a weekend)
/// is worked through in few commits, each holding SQLite's write lock for
/// a fraction of a second.
const SWEEP_BATCH: i64 = 5000;

/// Deadlines of a province, in hours (acknowledge, urgent) or working days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Deadlines {
    pub ack_hours: f64,
    pub urgent_hours: f64,
    pub normal_days: f64,
    pub complex_days: f64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            ack_hours: 8.0,
            urgent_hours: 4.0,
            normal_days: 5.0,
            complex_days: 15.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Topic {
    pub id: i64,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub confidential: bool,
    pub anonymous_allowed: bool,
    pub keywords: String,
}

/// In `commune_id`, items of `topic` (every topic if None) from `hamlet_id`
/// (every hamlet if None) go to `responsible_unit_id` (and officer), shown
/// as `label` ("Công an xã Phúc Sơn"). The most specific rule wins.
#[derive(Debug, Clone)]
pub struct RoutingRule {
    pub commune_id: i64,
    pub topic: Option<String>,
    pub hamlet_id: Option<i64>,
    pub responsible_unit_id: i64,
    pub responsible_account_id: Option<i64>,
    pub label: String,
}

/// An item the sweep must look at.
#[derive(sqlx::FromRow)]
struct Due {
    id: i64,
    #[sqlx(try_from = "String")]
    state: FeedbackState,
    #[sqlx(try_from = "String")]
    severity: Severity,
    next_escalation_at: i64,
    hamlet_id: i64,
    topic_id: i64,
    responsible_unit_id: i64,
    responsible_path: String,
    escalation_level: i32,
    code: String,
}

pub use crate::viewer::Viewer;

/// A new report, from any way in.
#[derive(Debug, Clone)]
pub struct NewFeedback {
    pub topic: String,
    pub severity: Severity,
    pub channel: Channel,
    pub description: String,
    pub hamlet_id: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub anonymous: bool,
    /// A team member's report on a resident's behalf.
    pub household_id: Option<i64>,
    pub resident_id: Option<i64>,
    pub relay_method: Option<RelayMethod>,
    /// Whether the resident agrees that their identity goes up the chain.
    pub identity_consent: bool,
    /// Sent by a form or client with the submission; a replay with the same
    /// key returns the first item.
    pub submission_key: Option<String>,
    /// Photos, already checked and re-encoded; written in the report's
    /// transaction (at most `photo::MAX_PHOTOS`).
    pub photos: Vec<crate::feedback::photo::CleanPhoto>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub id: i64,
    pub code: String,
    /// True when this submission had been received before (same key).
    pub replayed: bool,
    /// Codes of similar open reports from the same hamlet and topic in the
    /// last 14 days, offered for linking.
    pub similar: Vec<String>,
    pub ack_due: i64,
    pub resolve_due: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Feedback {
    pub id: i64,
    pub code: String,
    pub topic_id: i64,
    pub topic_code: String,
    pub topic_name_vi: String,
    pub topic_name_en: String,
    #[sqlx(try_from = "String")]
    pub severity: Severity,
    #[sqlx(try_from = "String")]
    pub state: FeedbackState,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub description: String,
    pub hamlet_id: i64,
    pub hamlet_name: String,
    pub path: String,
    pub household_id: Option<i64>,
    pub resident_id: Option<i64>,
    pub identity_consent: bool,
    pub relayed_by: Option<i64>,
    #[sqlx(try_from = "NullableText")]
    pub relay_method: Option<RelayMethod>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub anonymous: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub confidential: bool,
    pub responsible_unit_id: i64,
    pub responsible_path: String,
    pub responsible_label: String,
    pub responsible_account_id: Option<i64>,
    pub team_id: Option<i64>,
    pub escalation_level: i32,
    pub received_at: i64,
    pub ack_due: i64,
    pub resolve_due: i64,
    pub next_escalation_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub answer: Option<String>,
    pub answer_draft: Option<String>,
    pub refusal_reason: Option<String>,
    pub refer_to: Option<String>,
    pub rating: Option<i32>,
    pub duplicate_of: Option<i64>,
    pub updated_at: i64,
    /// Set by the mask: a confidential item seen from a unit it passed
    /// through, of which this viewer knows only that it exists and its state.
    #[sqlx(skip)]
    pub sealed: bool,
}

impl Feedback {
    /// The item as the policy sees it: its hamlet, the unit that handles
    /// it now, and whether it is confidential.
    pub fn target(&self) -> Target<'_> {
        Target::at(&self.path)
            .handled_at(&self.responsible_path)
            .confidential(self.confidential)
    }

    /// Late: still open past its deadline (to acknowledge while received).
    pub fn is_late(&self, now: i64) -> bool {
        crate::feedback::rollup::lateness(self.state, self.ack_due, self.resolve_due, now).0
    }

    /// Hides who reported when the resident did not agree that their
    /// identity goes up the chain, from everyone but their own team and
    /// the person who recorded it for them.
    fn mask_for(&mut self, viewer: &Viewer) {
        let recorder = self.relayed_by.is_some() && self.relayed_by == viewer.actor.account_id;
        let own_team =
            recorder || (viewer.scope.team_id.is_some() && viewer.scope.team_id == self.team_id);
        if (self.household_id.is_some() && !self.identity_consent && !own_team) || self.anonymous {
            self.household_id = None;
            self.resident_id = None;
            self.reporter_name = None;
            self.reporter_phone = None;
        }
        // Neighbours (hamlet heads, teams) do not see who wrote from the web
        // or by SMS; the officers who answer do.
        if !viewer.sees_confidential() && !self.identity_consent && !own_team {
            self.reporter_name = None;
            self.reporter_phone = None;
        }
        // A draft answer is the officers' working text until approved.
        if !viewer.may(policy::Action::HandleFeedback, &self.target()) {
            self.answer_draft = None;
        }
        if self.confidential
            && !viewer.may(policy::Action::ReadConfidentialFeedback, &self.target())
        {
            self.seal();
        }
    }

    /// Keeps only that the item exists and its state (see `sealed`).
    fn seal(&mut self) {
        self.sealed = true;
        self.description.clear();
        self.household_id = None;
        self.resident_id = None;
        self.reporter_name = None;
        self.reporter_phone = None;
        self.lat = None;
        self.lon = None;
        self.answer = None;
        self.answer_draft = None;
        self.refusal_reason = None;
        self.refer_to = None;
        self.duplicate_of = None;
    }
}

/// What the public (a status page, Open311) may know of an item.
#[derive(Debug, Clone, Serialize)]
pub struct PublicFeedback {
    /// What of it is public: without text, the description, answer,
    /// refusal, photos and place are left out.
    pub publicity: Publicity,
    pub code: String,
    pub topic_code: String,
    pub topic_name_vi: String,
    pub topic_name_en: String,
    pub state: FeedbackState,
    pub description: String,
    pub hamlet_id: i64,
    pub hamlet_name: String,
    pub responsible_label: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub received_at: i64,
    pub resolve_due: i64,
    pub answered_at: Option<i64>,
    pub updated_at: i64,
    /// The approved answer only.
    pub answer: Option<String>,
    /// Why it was refused and where to turn (public in its history too).
    pub refusal_reason: Option<String>,
    pub refer_to: Option<String>,
}

impl From<Feedback> for PublicFeedback {
    fn from(f: Feedback) -> Self {
        PublicFeedback {
            publicity: Publicity::Public,
            code: f.code,
            topic_code: f.topic_code,
            topic_name_vi: f.topic_name_vi,
            topic_name_en: f.topic_name_en,
            state: f.state,
            description: f.description,
            hamlet_id: f.hamlet_id,
            hamlet_name: f.hamlet_name,
            responsible_label: f.responsible_label,
            lat: f.lat,
            lon: f.lon,
            received_at: f.received_at,
            resolve_due: f.resolve_due,
            answered_at: f.answered_at,
            updated_at: f.updated_at,
            answer: f.answer,
            refusal_reason: f.refusal_reason,
            refer_to: f.refer_to,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FeedbackEvent {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    #[sqlx(try_from = "NullableText")]
    pub from_state: Option<FeedbackState>,
    #[sqlx(try_from = "NullableText")]
    pub to_state: Option<FeedbackState>,
    pub actor: String,
    pub body: String,
    pub public: bool,
}

/// What an officer (or a team) does to an item.
#[derive(Debug, Clone)]
pub enum Action {
    Acknowledge,
    Start,
    Note {
        text: String,
        public: bool,
    },
    Assign {
        account_id: Option<i64>,
    },
    DraftAnswer {
        text: String,
    },
    /// By the unit's leader: the draft becomes the answer the reporter sees.
    ApproveAnswer,
    Refuse {
        reason: String,
        refer_to: String,
    },
    Close,
    LinkDuplicate {
        of_code: String,
    },
}

/// What one action changes (see `act_on_feedback`).
struct Change {
    next: Option<FeedbackState>,
    also: Also,
    kind: &'static str,
    body: String,
    public: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: i64,
    /// (state, count)
    pub by_state: Vec<(String, i64)>,
    /// (topic code, count)
    pub by_topic: Vec<(String, i64)>,
    pub late: i64,
}

pub(crate) const FEEDBACK_SELECT: &str = "SELECT f.id, f.code, f.topic_id, t.code AS topic_code, t.name_vi AS topic_name_vi, t.name_en AS topic_name_en, \
     f.severity, f.state, f.channel, f.description, f.hamlet_id, u.name AS hamlet_name, f.path, f.household_id, f.resident_id, \
     f.identity_consent, f.relayed_by, f.relay_method, f.reporter_name, f.reporter_phone, f.anonymous, f.lat, f.lon, f.confidential, \
     f.responsible_unit_id, f.responsible_path, f.responsible_label, f.responsible_account_id, f.team_id, f.escalation_level, \
     f.received_at, f.ack_due, f.resolve_due, f.next_escalation_at, f.acknowledged_at, f.answered_at, f.closed_at, f.answer, \
     f.answer_draft, f.refusal_reason, f.refer_to, f.rating, f.duplicate_of, f.updated_at \
     FROM feedback f JOIN topics t ON t.id = f.topic_id JOIN units u ON u.id = f.hamlet_id";

/// Which items a viewer sees: those of their subtree (by place or by who
/// answers), their team's only for team roles, confidential ones only for
/// officers. Binds $2..$5: scope start, scope end, team id, officer.
const VISIBLE: &str =
    "((f.path >= $2 AND f.path < $3) OR (f.responsible_path >= $2 AND f.responsible_path < $3)) \
     AND ($4 IS NULL OR f.team_id = $4) AND (f.confidential = FALSE OR $5 = TRUE)";

/// Words of a folded text, for "similar text" (two reports share most words).
fn words(folded: &str) -> HashSet<&str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .collect()
}

/// Jaccard similarity of the word sets of two folded texts.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (words(a), words(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.intersection(&b).count() as f64;
    common / (a.len() + b.len()) as f64 * 2.0
}

/// The SMS that tells a reporter their item moved to `state` (`body`: the
/// answer, when answered). Without diacritics: one GSM 7-bit part.
fn state_sms(code: &str, state: FeedbackState, body: &str) -> String {
    let code = display_code(code);
    match state {
        FeedbackState::Answered => format!(
            "Phan anh {code} da co tra loi: {}. Danh gia: DG {code} <1-5>",
            text::fold(body).chars().take(100).collect::<String>()
        ),
        s => format!("Phan anh {code}: {}", text::fold(s.label_vi())),
    }
}

/// "K7Q2-M9XA", as people read and type a code.
fn display_code(code: &str) -> String {
    TrackingCode::parse(code).map_or_else(|| code.to_string(), |c| c.display())
}

fn rejected(p: Problem) -> StoreError {
    StoreError::Rejected(p)
}

/// The province id of a path ("/12/345/…" → 12).
/// The province of a unit path: its first unit (`/1/17/342/` → 1).
pub fn province_of(path: &str) -> Option<i64> {
    path.trim_matches('/').split('/').next()?.parse().ok()
}

/// The next moment the sweep must look at an item in `state`.
fn next_due(state: FeedbackState, f: &Feedback, now: i64) -> Option<i64> {
    match state {
        FeedbackState::Received => Some(f.ack_due.min(f.resolve_due)),
        FeedbackState::Acknowledged | FeedbackState::InProgress | FeedbackState::Reopened => {
            Some(f.resolve_due)
        }
        FeedbackState::Answered => Some(f.answered_at.unwrap_or(now) + REOPEN_SECONDS),
        FeedbackState::Closed | FeedbackState::Refused => None,
    }
}

impl Store {
    pub async fn topics(&self) -> Result<Vec<Topic>> {
        Ok(on_db!(&self.db, |p| {
            sqlx::query_as::<_, Topic>(
            "SELECT id, code, name_vi, name_en, confidential, anonymous_allowed, keywords FROM topics \
             WHERE active = TRUE ORDER BY position, id"
        )
        .fetch_all(p)
        .await?
        }))
    }

    /// The working calendar and deadlines of the province of `path`.
    pub async fn calendar_for(&self, path: &str) -> Result<(WorkCalendar, Deadlines)> {
        let province = province_of(path).unwrap_or(0);
        let settings: Option<(String, String, f64, f64, f64, f64)> =
            on_db!(&self.db, |p| sqlx::query_as(
                "SELECT windows, workdays, ack_hours, urgent_hours, normal_days, complex_days \
                 FROM feedback_settings WHERE unit_id = $1"
            )
            .bind(province)
            .fetch_optional(p)
            .await?);
        let days: Vec<(String,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT day FROM holidays ORDER BY day"
        )
        .fetch_all(p)
        .await?);
        let holidays = days
            .iter()
            .filter_map(|(d,)| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        Ok(match settings {
            Some((windows, workdays, ack, urgent, normal, complex)) => (
                WorkCalendar::parse(&windows, &workdays)
                    .map_err(StoreError::Config)?
                    .with_holidays(holidays),
                Deadlines {
                    ack_hours: ack,
                    urgent_hours: urgent,
                    normal_days: normal,
                    complex_days: complex,
                },
            ),
            None => (
                WorkCalendar::default().with_holidays(holidays),
                Deadlines::default(),
            ),
        })
    }

    /// Sets a province's calendar and deadlines.
    pub async fn set_feedback_settings(
        &self,
        actor: &Actor,
        province_id: i64,
        cal: &WorkCalendar,
        d: &Deadlines,
    ) -> Result<()> {
        let valid = |h: f64| h.is_finite() && h > 0.0 && h <= 24.0 * 366.0;
        if ![d.ack_hours, d.urgent_hours, d.normal_days, d.complex_days]
            .into_iter()
            .all(valid)
        {
            return Err(rejected(Problem::DeadlineNotPositive));
        }
        let unit = self.unit_unscoped(province_id).await?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "INSERT INTO feedback_settings (unit_id, windows, workdays, ack_hours, urgent_hours, normal_days, complex_days, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (unit_id) DO UPDATE SET windows = excluded.windows, \
                 workdays = excluded.workdays, ack_hours = excluded.ack_hours, urgent_hours = excluded.urgent_hours, \
                 normal_days = excluded.normal_days, complex_days = excluded.complex_days, updated_at = excluded.updated_at",
            )
            .bind(province_id)
            .bind(cal.windows_text())
            .bind(cal.workdays_text())
            .bind(d.ack_hours)
            .bind(d.urgent_hours)
            .bind(d.normal_days)
            .bind(d.complex_days)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let detail = serde_json::json!({"ack_hours": d.ack_hours, "urgent_hours": d.urgent_hours, "normal_days": d.normal_days, "complex_days": d.complex_days});
            audit!(
                &mut *tx,
                self,
                actor,
                "update",
                "feedback_settings",
                province_id,
                unit.path,
                detail
            );
            Ok::<(), StoreError>(())
        })?;
        self.feedback.invalidate();
        Ok(())
    }

    /// Adds a day off (a holiday or a compensation day).
    pub async fn add_holiday(
        &self,
        actor: &Actor,
        day: chrono::NaiveDate,
        name: &str,
    ) -> Result<()> {
        let name = text::clean_required(name, 100).map_err(|e| StoreError::invalid("name", e))?;
        let key = day.format("%Y-%m-%d").to_string();
        in_tx!(&self.db, |tx| {
            sqlx::query("INSERT INTO holidays (day, name) VALUES ($1, $2) ON CONFLICT (day) DO UPDATE SET name = excluded.name")
                .bind(&key)
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "holiday",
                key,
                "/",
                serde_json::json!({})
            );
            Ok::<(), StoreError>(())
        })?;
        self.feedback.invalidate();
        Ok(())
    }

    /// Adds a routing rule (see [`RoutingRule`]).
    pub async fn add_routing_rule(&self, actor: &Actor, rule: &RoutingRule) -> Result<i64> {
        let RoutingRule {
            commune_id,
            topic,
            hamlet_id,
            responsible_unit_id,
            responsible_account_id,
            label,
        } = rule;
        let (commune_id, hamlet_id, responsible_unit_id, responsible_account_id) = (
            *commune_id,
            *hamlet_id,
            *responsible_unit_id,
            *responsible_account_id,
        );
        let label =
            text::clean_required(label, 200).map_err(|e| StoreError::invalid("label", e))?;
        let commune = self.unit_unscoped(commune_id).await?;
        let responsible = self.unit_unscoped(responsible_unit_id).await?;
        if !commune.path.starts_with(&responsible.path)
            && !responsible.path.starts_with(&commune.path)
        {
            return Err(rejected(Problem::HandlingUnitLevel));
        }
        let topic_id = match topic {
            Some(code) => Some(self.topic_by_code(code).await?.id),
            None => None,
        };
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO routing_rules (commune_id, topic_id, hamlet_id, responsible_unit_id, responsible_account_id, label, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(commune_id)
            .bind(topic_id)
            .bind(hamlet_id)
            .bind(responsible_unit_id)
            .bind(responsible_account_id)
            .bind(&label)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "routing_rule",
                id,
                commune.path,
                serde_json::json!({"responsible_unit_id": responsible_unit_id})
            );
            Ok::<i64, StoreError>(id)
        })
        .inspect(|_| self.feedback.invalidate())
    }

    pub async fn topic_by_code(&self, code: &str) -> Result<Topic> {
        let code = code.trim().to_lowercase();
        // Topics change only with a migration: read from the cache.
        self.topics_cached()
            .await?
            .iter()
            .find(|t| t.code == code)
            .cloned()
            .ok_or_else(|| rejected(Problem::TopicUnknown))
    }

    /// Records a new report. `scope` bounds the hamlet (and household) a
    /// logged-in sender may name; public ways in pass `Scope::all()`.
    /// Acknowledged to the sender only after the commit.
    pub async fn submit_feedback(
        &self,
        actor: &Actor,
        scope: &Scope,
        new: &NewFeedback,
    ) -> Result<Received> {
        let description = text::clean_text(&new.description, MAX_DESCRIPTION)
            .map_err(|e| StoreError::invalid("description", e))?;
        if description.trim().is_empty() {
            return Err(rejected(Problem::FeedbackTextMissing));
        }
        crate::registry::household::check_point(new.lat, new.lon)?;
        let topic = self.topic_by_code(&new.topic).await?;
        if new.anonymous && !topic.anonymous_allowed {
            return Err(rejected(Problem::ReporterRequired));
        }
        let (reporter_name, reporter_phone) = if new.anonymous {
            (None, None)
        } else {
            let name = match new.reporter_name.as_deref().map(str::trim) {
                Some(n) if !n.is_empty() => {
                    Some(text::clean_line(n, 200).map_err(|e| StoreError::invalid("name", e))?)
                }
                _ => None,
            };
            let phone = match new.reporter_phone.as_deref().map(str::trim) {
                Some(p) if !p.is_empty() => Some(
                    Phone::parse(p)
                        .map_err(|e| StoreError::invalid("phone", e))?
                        .as_str()
                        .to_string(),
                ),
                _ => None,
            };
            (name, phone)
        };
        if new.photos.len() > crate::feedback::photo::MAX_PHOTOS {
            return Err(rejected(Problem::TooManyPhotos {
                max: crate::feedback::photo::MAX_PHOTOS,
            }));
        }
        if new.resident_id.is_some() && new.household_id.is_none() {
            return Err(rejected(Problem::RelayHouseholdMissing));
        }
        if new.channel == Channel::Member
            && (new.household_id.is_none() || new.relay_method.is_none())
        {
            return Err(rejected(Problem::RelayMethodMissing));
        }
        let key = match new.submission_key.as_deref().map(str::trim) {
            Some(k) if !k.is_empty() => {
                if k.len() > 100 {
                    return Err(rejected(Problem::SubmissionKeyTooLong));
                }
                // One client's key never finds another's report.
                Some(format!(
                    "{}:{}:{k}",
                    new.channel.as_str(),
                    actor
                        .account_id
                        .map_or_else(|| actor.name.clone(), |a| a.to_string())
                ))
            }
            _ => None,
        };
        // A replay is found when its key is taken at the write (below), not
        // by a read before: one round trip less for every new report.
        let hamlet = self.unit_cached(scope, new.hamlet_id).await?;
        if hamlet.level != UnitLevel::Hamlet || hamlet.valid_to.is_some() {
            return Err(rejected(Problem::HamletNotActive));
        }
        // On a resident's behalf: the household must be in the member's reach
        // and in that hamlet; the resident in that household.
        let mut team_id = None;
        if let Some(hh) = new.household_id {
            let h = self.household(scope, hh).await?;
            if h.hamlet_id != hamlet.id {
                return Err(rejected(Problem::HouseholdNotInHamlet));
            }
            team_id = h.team_id;
            if let Some(r) = new.resident_id {
                let residents = self.residents(scope, hh).await?;
                if !residents.iter().any(|x| x.id == r) {
                    return Err(rejected(Problem::ResidentNotInHousehold));
                }
            }
        }
        // Read before the write, from caches where they change rarely: on
        // SQLite the write is one of a group commit, which must not wait
        // on reads (see `feedback_batch`).
        let cal_deadlines = self.calendar_cached(&hamlet.path).await?;
        let (cal, deadlines) = (&cal_deadlines.0, &cal_deadlines.1);
        let now = self.now();
        let counting = if new.severity == Severity::Urgent {
            Counting::CalendarHours
        } else {
            Counting::WorkingHours
        };
        let day_hours = cal.day_seconds() as f64 / 3600.0;
        let ack_due = calendar::deadline(cal, now, deadlines.ack_hours, counting);
        let resolve_due = match new.severity {
            Severity::Urgent => {
                calendar::deadline(cal, now, deadlines.urgent_hours, Counting::CalendarHours)
            }
            Severity::Normal => {
                calendar::deadline(cal, now, deadlines.normal_days * day_hours, counting)
            }
            Severity::Complex => {
                calendar::deadline(cal, now, deadlines.complex_days * day_hours, counting)
            }
        };
        let fold = text::fold(&description);
        let relayed_by = if new.channel == Channel::Member {
            actor.account_id
        } else {
            None
        };
        let commune_id = hamlet.parent_id.ok_or(StoreError::NotFound)?;
        let route = self.route_for(commune_id, hamlet.id, topic.id).await?;
        // The team of the household, else the first of the hamlet.
        let team_id = match team_id {
            Some(t) => Some(t),
            None => self.first_team_cached(hamlet.id).await?,
        };
        let draft = std::sync::Arc::new(crate::feedback::batch::Draft {
            now,
            actor: actor.clone(),
            topic_id: topic.id,
            topic_code: topic.code.clone(),
            confidential: topic.confidential,
            severity: new.severity.as_str(),
            channel: new.channel.as_str(),
            description,
            fold,
            hamlet_id: hamlet.id,
            path: hamlet.path.clone(),
            household_id: new.household_id,
            resident_id: new.resident_id,
            identity_consent: new.identity_consent,
            relayed_by,
            relay_method: new.relay_method,
            reporter_name,
            reporter_phone,
            anonymous: new.anonymous,
            lat: new.lat,
            lon: new.lon,
            route,
            team_id,
            ack_due,
            resolve_due,
            key: key.clone(),
            photos: new.photos.clone(),
        });

        for _attempt in 0..5 {
            let code = TrackingCode::from_random(rand::random::<[u8; 5]>());
            match self.write_report(&draft, code.clone()).await? {
                Some(id) => {
                    // Best effort: the report is committed either way. An
                    // Open311 or SMS answer has no place for them, so those
                    // channels (the busiest) skip the read.
                    let similar = if matches!(new.channel, Channel::Open311 | Channel::Sms) {
                        Vec::new()
                    } else {
                        self.similar_to(id, &hamlet, topic.id, &draft.fold, now)
                            .await
                            .unwrap_or_default()
                    };
                    return Ok(Received {
                        id,
                        code: code.as_str().to_string(),
                        replayed: false,
                        similar,
                        ack_due,
                        resolve_due,
                    });
                }
                // The key or the code was taken. Two submissions with one
                // key at once: the other one won.
                None => {
                    if let Some(k) = &key {
                        if let Some(r) = self.replayed(k).await? {
                            return Ok(r);
                        }
                    }
                    // Else a tracking code collided: draw again.
                }
            }
        }
        Err(rejected(Problem::TrackingCodeUnavailable))
    }

    async fn replayed(&self, key: &str) -> Result<Option<Received>> {
        let found: Option<(i64, String, i64, i64)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, code, ack_due, resolve_due FROM feedback WHERE submission_key = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await?);
        Ok(found.map(|(id, code, ack_due, resolve_due)| Received {
            id,
            code,
            replayed: true,
            similar: Vec::new(),
            ack_due,
            resolve_due,
        }))
    }

    /// Open reports of the same hamlet and topic from the last 14 days whose
    /// text is similar (ignoring diacritics).
    async fn similar_to(
        &self,
        id: i64,
        hamlet: &crate::registry::unit::Unit,
        topic: i64,
        fold: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        // By the hamlet's path: the index `feedback_path (path, received_at)`.
        let rows: Vec<(String, String)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT code, description_fold FROM feedback WHERE path = $5 AND hamlet_id = $1 AND topic_id = $2 AND received_at >= $3 \
             AND id <> $4 AND duplicate_of IS NULL AND confidential = FALSE \
             AND state IN ('received', 'acknowledged', 'in_progress', 'reopened') ORDER BY received_at DESC LIMIT 200"
        )
        .bind(hamlet.id)
        .bind(topic)
        .bind(now - DUPLICATE_SECONDS)
        .bind(id)
        .bind(&hamlet.path)
        .fetch_all(p)
        .await?
        });
        Ok(rows
            .into_iter()
            .filter(|(_, f)| similarity(f, fold) >= 0.5)
            .map(|(c, _)| c)
            .take(5)
            .collect())
    }

    /// One item, if the viewer may see it (else `NotFound`).
    pub async fn feedback(&self, viewer: &Viewer, id: i64) -> Result<Feedback> {
        let mut f = self.visible_row(viewer, id).await?;
        f.mask_for(viewer);
        Ok(f)
    }

    /// The item if the viewer may see it, NOT masked: for the store's own
    /// use (the reporter's phone for a message); never handed to a viewer.
    async fn visible_row(&self, viewer: &Viewer, id: i64) -> Result<Feedback> {
        let sql = format!("{FEEDBACK_SELECT} WHERE f.id = $1 AND {VISIBLE}");
        let end = viewer.scope.end();
        let f: Option<Feedback> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .bind(&viewer.scope.path)
            .bind(&end)
            .bind(viewer.scope.team_id)
            .bind(viewer.sees_confidential())
            .fetch_optional(p)
            .await?);
        f.ok_or(StoreError::NotFound)
    }

    /// The item of `code` as its reporter may act on it: only from the
    /// phone the report came with (the code is public — status page,
    /// Open311 — the phone is not), so an item without a phone takes no
    /// messages this way.
    pub(crate) async fn reporter_item(
        &self,
        code: &str,
        phone: Option<&Phone>,
    ) -> Result<Feedback> {
        let id = self.feedback_id(code).await?;
        let sql = format!("{FEEDBACK_SELECT} WHERE f.id = $1");
        let f: Option<Feedback> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?);
        let f = f.ok_or(StoreError::NotFound)?;
        match (&f.reporter_phone, phone) {
            (Some(stored), Some(p)) if stored == p.as_str() => Ok(f),
            _ => Err(StoreError::NotFound),
        }
    }

    /// By tracking code, for a viewer.
    pub async fn feedback_by_code(&self, viewer: &Viewer, code: &str) -> Result<Feedback> {
        let id = self.feedback_id(code).await?;
        self.feedback(viewer, id).await
    }

    pub(crate) async fn feedback_id(&self, code: &str) -> Result<i64> {
        let code = TrackingCode::parse(code).ok_or(StoreError::NotFound)?;
        let id: Option<(i64,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT id FROM feedback WHERE code = $1"
        )
        .bind(code.as_str())
        .fetch_optional(p)
        .await?);
        id.map(|(i,)| i).ok_or(StoreError::NotFound)
    }

    /// What anyone may see by the tracking code; confidential items are
    /// `NotFound`.
    pub async fn feedback_public(&self, code: &str) -> Result<PublicFeedback> {
        self.public_feedback_by_codes(&[code.to_string()])
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)
    }

    /// The history of an item the viewer may see (public entries only for
    /// `None`).
    pub async fn feedback_events(
        &self,
        viewer: Option<&Viewer>,
        id: i64,
    ) -> Result<Vec<FeedbackEvent>> {
        // The public (None) sees public events; a viewer who does not
        // handle the item sees the internal ones without their text (notes
        // and drafts are the officers'); a sealed item shows its states only.
        let (public_only, bodies, sealed) = match viewer {
            // The public: bodies only where the item's text is public.
            None => {
                let sql = format!(
                    "SELECT {} FROM feedback f JOIN topics t ON t.id = f.topic_id WHERE f.id = $1",
                    crate::feedback::query::TEXT_IS_PUBLIC
                );
                let text: Option<(bool,)> = on_db!(&self.db, |p| sqlx::query_as(&sql)
                    .bind(id)
                    .fetch_optional(p)
                    .await?);
                (true, text.is_some_and(|(t,)| t), false)
            }
            Some(v) => {
                let f = self.feedback(v, id).await?;
                let officer = v.may(policy::Action::HandleFeedback, &f.target());
                (false, officer, f.sealed)
            }
        };
        let mut events: Vec<FeedbackEvent> = on_db!(&self.db, |p| {
            sqlx::query_as::<_, FeedbackEvent>(
            "SELECT id, at, kind, from_state, to_state, actor, body, public FROM feedback_events \
             WHERE feedback_id = $1 AND ($2 = FALSE OR public = TRUE) ORDER BY id"
        )
        .bind(id)
        .bind(public_only)
        .fetch_all(p)
        .await?
        });
        for e in &mut events {
            if sealed || !bodies && (public_only || !e.public) {
                e.body.clear();
            }
        }
        if sealed {
            events.retain(|e| e.to_state.is_some());
        }
        Ok(events)
    }

    /// Does `action` to an item, as `viewer`.
    pub async fn act_on_feedback(
        &self,
        viewer: &Viewer,
        id: i64,
        action: Action,
    ) -> Result<Feedback> {
        let f = self.visible_row(viewer, id).await?;
        let now = self.now();
        let state = f.state;
        let item = f.target();
        // A confidential item seen from a unit it passed through: nothing
        // to do there, not even a note.
        if f.confidential && !viewer.may(policy::Action::ReadConfidentialFeedback, &item) {
            return Err(StoreError::NotFound);
        }
        let officer = viewer.may(policy::Action::HandleFeedback, &item);
        let actor = &viewer.actor;
        let need_officer = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(StoreError::NotFound)
            }
        };
        let move_to = |next: FeedbackState| -> Result<FeedbackState> {
            if state.can_move_to(next) {
                Ok(next)
            } else {
                Err(StoreError::Conflict(Problem::StateChange {
                    from: state,
                    to: next,
                }))
            }
        };
        let change = |next: Option<FeedbackState>,
                      also: Also,
                      kind: &'static str,
                      body: String,
                      public: bool| Change {
            next,
            also,
            kind,
            body,
            public,
        };
        let c = match &action {
            Action::Acknowledge => {
                need_officer(officer)?;
                change(
                    Some(move_to(FeedbackState::Acknowledged)?),
                    Also::Nothing,
                    "state",
                    String::new(),
                    true,
                )
            }
            Action::Start => {
                need_officer(officer)?;
                change(
                    Some(move_to(FeedbackState::InProgress)?),
                    Also::Nothing,
                    "state",
                    String::new(),
                    true,
                )
            }
            Action::Note { text: t, public } => {
                let t = text::clean_text(t, MAX_DESCRIPTION)
                    .map_err(|e| StoreError::invalid("note", e))?;
                if t.trim().is_empty() {
                    return Err(rejected(Problem::NoteMissing));
                }
                change(None, Also::Nothing, "note", t, *public && officer)
            }
            Action::Assign { account_id } => {
                need_officer(officer)?;
                let label = match account_id {
                    Some(a) => {
                        let found: Option<(String, Option<String>)> = on_db!(&self.db, |p| {
                            sqlx::query_as(
                            "SELECT a.display_name, u.path FROM accounts a LEFT JOIN units u ON u.id = a.unit_id WHERE a.id = $1 AND a.active = TRUE"
                        )
                        .bind(a)
                        .fetch_optional(p)
                        .await?
                        });
                        let (name, unit_path) = found.ok_or(StoreError::NotFound)?;
                        if !unit_path.is_some_and(|p| {
                            p.starts_with(&f.responsible_path) || f.responsible_path.starts_with(&p)
                        }) {
                            return Err(rejected(Problem::AssigneeOutside));
                        }
                        name
                    }
                    None => String::new(),
                };
                change(None, Also::Assign(*account_id), "assigned", label, false)
            }
            Action::DraftAnswer { text: t } => {
                need_officer(officer)?;
                if !state.is_open() {
                    return Err(StoreError::Conflict(Problem::FeedbackClosed));
                }
                let t = text::clean_text(t, MAX_DESCRIPTION)
                    .map_err(|e| StoreError::invalid("answer", e))?;
                if t.trim().is_empty() {
                    return Err(rejected(Problem::AnswerMissing));
                }
                change(
                    None,
                    Also::Draft {
                        text: t.clone(),
                        by: actor.account_id,
                    },
                    "answer_drafted",
                    t,
                    false,
                )
            }
            Action::ApproveAnswer => {
                viewer.require(policy::Action::ApproveFeedbackAnswer, &item)?;
                let draft = f
                    .answer_draft
                    .clone()
                    .ok_or_else(|| rejected(Problem::NoDraftAnswer))?;
                // The draft the leader read is what gets published: a draft
                // saved since then makes the guarded update fail.
                change(
                    Some(move_to(FeedbackState::Answered)?),
                    Also::Answer(draft.clone()),
                    "answer_approved",
                    draft,
                    true,
                )
            }
            Action::Refuse { reason, refer_to } => {
                need_officer(officer)?;
                let reason = text::clean_required(reason, 1000)
                    .map_err(|e| StoreError::invalid("reason", e))?;
                let refer = text::clean_line(refer_to, 300)
                    .map_err(|e| StoreError::invalid("refer_to", e))?;
                change(
                    Some(move_to(FeedbackState::Refused)?),
                    Also::Refuse {
                        reason: reason.clone(),
                        refer_to: refer.clone(),
                    },
                    "refused",
                    format!("{reason} — {refer}"),
                    true,
                )
            }
            Action::Close => {
                need_officer(officer)?;
                change(
                    Some(move_to(FeedbackState::Closed)?),
                    Also::Close,
                    "state",
                    String::new(),
                    true,
                )
            }
            Action::LinkDuplicate { of_code } => {
                need_officer(officer)?;
                let other = self.feedback_id(of_code).await?;
                if other == id {
                    return Err(rejected(Problem::DuplicateOfItself));
                }
                let target = self.feedback(viewer, other).await?;
                change(None, Also::Duplicate(other), "linked", target.code, false)
            }
        };
        let Change {
            next,
            also,
            kind,
            body,
            public,
        } = c;
        let new_state = next.unwrap_or(state);
        let mut updated = f.clone();
        updated.state = new_state;
        if new_state == FeedbackState::Answered {
            updated.answered_at = Some(now);
        }
        // Only a change of state moves the next due moment; an item already
        // escalated keeps at least the period its new unit was given.
        let due = match next {
            None => f.next_escalation_at,
            Some(_) => next_due(new_state, &updated, now).map(|d| match f.next_escalation_at {
                Some(cur) if f.escalation_level > 0 && new_state.is_open() => d.max(cur),
                _ => d,
            }),
        };
        // The first move out of "received", whichever it is, acknowledges:
        // that is the time to first response the dashboard shows.
        let first_response =
            state == FeedbackState::Received && new_state != state && f.acknowledged_at.is_none();
        let first_answer = new_state == FeedbackState::Answered && f.answered_at.is_none();
        in_tx!(&self.db, |tx| {
            // Guarded by the state read above: a concurrent change loses.
            let step = StateChange {
                id,
                from: state,
                to: new_state,
                at: now,
                next_due: due,
                acknowledges: first_response,
                also: also.clone(),
            };
            if !write::change(&mut *tx, &step).await? {
                return Err(StoreError::Conflict(Problem::ChangedByAnother));
            }
            let (from, to) = if next.is_some() {
                (Some(state.as_str()), Some(new_state.as_str()))
            } else {
                (None, None)
            };
            write::event(
                &mut *tx,
                NewEvent {
                    feedback_id: id,
                    at: now,
                    kind,
                    from,
                    to,
                    actor,
                    body: body.clone(),
                    public,
                },
            )
            .await?;
            if next.is_some() && new_state != state {
                write::move_count(&mut *tx, f.hamlet_id, f.topic_id, state, new_state).await?;
                set_lateness(
                    &mut *tx,
                    id,
                    f.hamlet_id,
                    f.topic_id,
                    new_state,
                    f.ack_due,
                    f.resolve_due,
                    now,
                )
                .await?;
            }
            if first_response {
                record_duration(
                    &mut *tx,
                    &f.path,
                    f.confidential,
                    "ack",
                    now - f.received_at,
                    now > f.ack_due,
                )
                .await?;
            }
            if first_answer {
                record_duration(
                    &mut *tx,
                    &f.path,
                    f.confidential,
                    "resolve",
                    now - f.received_at,
                    now > f.resolve_due,
                )
                .await?;
            }
            if let Some(phone) = &f.reporter_phone {
                if next.is_some() && public && !f.anonymous {
                    let sms = NewSms {
                        recipient: phone,
                        body: state_sms(&f.code, new_state, &body),
                        key: format!("feedback:{id}:{}:{now}", new_state.as_str()),
                        feedback_id: Some(id),
                        at: now,
                    };
                    outbox::queue(&mut *tx, &[sms]).await?;
                }
            }
            audit!(
                &mut *tx,
                self,
                actor,
                kind,
                "feedback",
                id,
                f.path,
                serde_json::json!({"state": new_state.as_str()})
            );
            Ok::<(), StoreError>(())
        })?;
        self.feedback(viewer, id).await
    }

    /// A reporter's message on an item, by its code (SMS "TL", or the
    /// public page). Within 7 days of an answer it reopens the item.
    /// `phone` must be the reporter's when the item has one.
    pub async fn reporter_reply(
        &self,
        code: &str,
        phone: Option<&Phone>,
        body: &str,
    ) -> Result<FeedbackState> {
        // An empty message would reopen an item saying nothing.
        let body = text::clean_required(body, MAX_DESCRIPTION)
            .map_err(|e| StoreError::invalid("text", e))?;
        let f = self.reporter_item(code, phone).await?;
        let id = f.id;
        let now = self.now();
        let state = f.state;
        let reopen = matches!(state, FeedbackState::Answered | FeedbackState::Closed)
            && f.answered_at.is_some_and(|a| now - a <= REOPEN_SECONDS);
        let next = if reopen {
            FeedbackState::Reopened
        } else {
            state
        };
        let due = if reopen {
            // The unit gets a fresh acknowledge period for the reopened item.
            let (cal, d) = self.calendar_for(&f.path).await?;
            Some(calendar::deadline(
                &cal,
                now,
                d.ack_hours,
                Counting::WorkingHours,
            ))
        } else {
            // A message alone changes no deadline.
            f.next_escalation_at
        };
        let actor = Actor {
            account_id: None,
            name: "reporter".into(),
        };
        in_tx!(&self.db, |tx| {
            if !write::reporter_message(&mut *tx, id, state, next, now, due, reopen).await? {
                return Err(StoreError::Conflict(Problem::ChangedTryAgain));
            }
            write::event(
                &mut *tx,
                NewEvent {
                    feedback_id: id,
                    at: now,
                    kind: "message_in",
                    from: None::<&str>,
                    to: None::<&str>,
                    actor: &actor,
                    body: body.clone(),
                    public: false,
                },
            )
            .await?;
            if reopen {
                write::event(
                    &mut *tx,
                    NewEvent {
                        feedback_id: id,
                        at: now,
                        kind: "state",
                        from: Some(state.as_str()),
                        to: Some(next.as_str()),
                        actor: &actor,
                        body: String::new(),
                        public: true,
                    },
                )
                .await?;
                write::move_count(&mut *tx, f.hamlet_id, f.topic_id, state, next).await?;
                // The reopened item's resolve deadline is the fresh period.
                set_lateness(
                    &mut *tx,
                    id,
                    f.hamlet_id,
                    f.topic_id,
                    next,
                    f.ack_due,
                    due.unwrap_or(f.resolve_due),
                    now,
                )
                .await?;
                write::notify(
                    &mut *tx,
                    &[NewNotice {
                        unit_id: f.responsible_unit_id,
                        feedback_id: id,
                        kind: "reopened",
                        body: format!("Người dân mở lại phản ánh {}", display_code(&f.code)),
                        at: now,
                    }],
                )
                .await?;
            } else {
                write::notify(
                    &mut *tx,
                    &[NewNotice {
                        unit_id: f.responsible_unit_id,
                        feedback_id: id,
                        kind: "message",
                        body: format!("Người dân nhắn thêm về phản ánh {}", display_code(&f.code)),
                        at: now,
                    }],
                )
                .await?;
            }
            audit!(
                &mut *tx,
                self,
                actor,
                "reply",
                "feedback",
                id,
                f.path,
                serde_json::json!({"reopened": reopen})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(next)
    }

    /// The reporter rates the answer (1–5) and the item closes.
    pub async fn rate_feedback(&self, code: &str, phone: Option<&Phone>, stars: i32) -> Result<()> {
        if !(1..=5).contains(&stars) {
            return Err(rejected(Problem::RatingRange));
        }
        let f = self.reporter_item(code, phone).await?;
        let id = f.id;
        if f.answered_at.is_none() || f.rating.is_some() {
            return Err(StoreError::Conflict(Problem::NotRatable));
        }
        let state = f.state;
        let close = state == FeedbackState::Answered;
        let next = if close { FeedbackState::Closed } else { state };
        let now = self.now();
        let actor = Actor {
            account_id: None,
            name: "reporter".into(),
        };
        in_tx!(&self.db, |tx| {
            if !write::rate(&mut *tx, id, stars, state, next, now).await? {
                return Err(StoreError::Conflict(Problem::ChangedTryAgain));
            }
            write::event(
                &mut *tx,
                NewEvent {
                    feedback_id: id,
                    at: now,
                    kind: "rated",
                    from: Some(state.as_str()),
                    to: Some(next.as_str()),
                    actor: &actor,
                    body: format!("{stars}/5"),
                    public: true,
                },
            )
            .await?;
            if close {
                write::move_count(&mut *tx, f.hamlet_id, f.topic_id, state, next).await?;
            }
            audit!(
                &mut *tx,
                self,
                actor,
                "rate",
                "feedback",
                id,
                f.path,
                serde_json::json!({"rating": stars})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// Escalates what is late and closes what was answered a week ago;
    /// returns (escalated, closed). Only items whose `next_escalation_at`
    /// has passed are read, through its index.
    ///
    /// Per batch, everything read is read before the transaction (parents of
    /// the answering units, once per sweep; calendars, cached), so the
    /// transaction holds the write lock only for one guarded UPDATE per item
    /// and a few multi-row INSERTs of the history, notifications and audit
    /// entries of the items it escalated.
    pub async fn sweep_feedback(&self) -> Result<(usize, usize)> {
        let now = self.now();
        self.count_newly_late(now).await?;
        let actor = Actor::system();
        let (mut escalated, mut closed) = (0, 0);
        let mut parents: HashMap<i64, Option<(i64, String, String)>> = HashMap::new();
        loop {
            let due: Vec<Due> = on_db!(&self.db, |p| {
                sqlx::query_as(
                "SELECT id, state, severity, next_escalation_at, hamlet_id, topic_id, responsible_unit_id, responsible_path, escalation_level, code FROM feedback \
                 WHERE next_escalation_at IS NOT NULL AND next_escalation_at <= $1 ORDER BY next_escalation_at LIMIT $2"
            )
            .bind(now)
            .bind(SWEEP_BATCH)
            .fetch_all(p)
            .await?
            });
            if due.is_empty() {
                break;
            }
            let n = due.len();
            // Read before the transaction, which holds one connection (and
            // on SQLite the write lock) and must not wait for a second.
            for d in &due {
                if let std::collections::hash_map::Entry::Vacant(e) =
                    parents.entry(d.responsible_unit_id)
                {
                    e.insert(on_db!(&self.db, |p| sqlx::query_as(
                        "SELECT p.id, p.name, p.path FROM units u JOIN units p ON p.id = u.parent_id WHERE u.id = $1",
                    )
                    .bind(d.responsible_unit_id)
                    .fetch_optional(p)
                    .await?));
                }
            }
            let mut calendars: HashMap<i64, std::sync::Arc<(WorkCalendar, Deadlines)>> =
                HashMap::new();
            for (_, _, ppath) in parents.values().flatten() {
                let province = province_of(ppath).unwrap_or(0);
                if let std::collections::hash_map::Entry::Vacant(e) = calendars.entry(province) {
                    e.insert(self.calendar_cached(ppath).await?);
                }
            }
            // What the transaction escalated: (id, from unit, to unit, its name, path of the item's unit).
            let mut moved: Vec<(i64, i64, i64, String, String, String)> = Vec::new();
            in_tx!(&self.db, |tx| {
                // Late items to move up: (item, parent, its name, its path, level, next look).
                let mut late: Vec<(&Due, i64, String, String, i32, i64)> = Vec::new();
                // Items with nothing left to look at: not open, or at the top.
                let mut settled: Vec<&Due> = Vec::new();
                for d in &due {
                    let (id, hamlet, topic) = (&d.id, &d.hamlet_id, &d.topic_id);
                    let (unit, level) = (&d.responsible_unit_id, &d.escalation_level);
                    if d.state == FeedbackState::Answered {
                        // Guarded like every change: a reopen or a rating in
                        // between wins, and nothing is counted twice.
                        if !write::close_answered(&mut *tx, *id, now, d.next_escalation_at).await? {
                            continue;
                        }
                        write::event(
                            &mut *tx,
                            NewEvent {
                                feedback_id: *id,
                                at: now,
                                kind: "state",
                                from: Some("answered"),
                                to: Some("closed"),
                                actor: &actor,
                                body: "Tự đóng sau 7 ngày".to_string(),
                                public: true,
                            },
                        )
                        .await?;
                        write::move_count(
                            &mut *tx,
                            *hamlet,
                            *topic,
                            FeedbackState::Answered,
                            FeedbackState::Closed,
                        )
                        .await?;
                        closed += 1;
                        continue;
                    }
                    if !d.state.is_open() {
                        settled.push(d);
                        continue;
                    }
                    // Late: up to the parent unit, which gets an acknowledge
                    // period of its own before the next step up.
                    match parents.get(unit).cloned().flatten() {
                        Some((pid, pname, ppath)) => {
                            let default = (WorkCalendar::default(), Deadlines::default());
                            let (cal, dl) = calendars
                                .get(&province_of(&ppath).unwrap_or(0))
                                .map_or((&default.0, &default.1), |c| (&c.0, &c.1));
                            // Urgent items keep counting calendar hours.
                            let counting = if d.severity == Severity::Urgent {
                                Counting::CalendarHours
                            } else {
                                Counting::WorkingHours
                            };
                            let next = calendar::deadline(cal, now, dl.ack_hours, counting);
                            late.push((d, pid, pname, ppath, level + 1, next));
                        }
                        // The top of the tree: nobody left to escalate to.
                        None => settled.push(d),
                    }
                }
                // Nothing more to look at for these: many rows a statement,
                // each guarded by the moment read.
                let settled: Vec<(i64, i64)> = settled
                    .iter()
                    .map(|d| (d.id, d.next_escalation_at))
                    .collect();
                write::settle(&mut *tx, &settled).await?;
                // Guarded like one by one: only rows still in the state and
                // with the moment read move.
                let up: Vec<write::Escalation> = late
                    .iter()
                    .map(|(d, pid, pname, ppath, level, next)| write::Escalation {
                        id: d.id,
                        unit_id: *pid,
                        unit_path: ppath,
                        unit_label: pname,
                        level: *level,
                        next_due: *next,
                        state: d.state,
                        read_due: d.next_escalation_at,
                    })
                    .collect();
                let done = write::escalate(&mut *tx, now, &up).await?;
                for (d, pid, pname, _, _, _) in &late {
                    if done.contains(&d.id) {
                        moved.push((
                            d.id,
                            d.responsible_unit_id,
                            *pid,
                            pname.clone(),
                            d.responsible_path.clone(),
                            d.code.clone(),
                        ));
                    }
                }
                // The history, notifications and audit entries of the
                // escalated items, many rows per statement.
                let history: Vec<NewEvent> = moved
                    .iter()
                    .map(|(id, _, _, pname, _, _)| NewEvent {
                        feedback_id: *id,
                        at: now,
                        kind: "escalated",
                        from: None,
                        to: None,
                        actor: &actor,
                        body: format!("Quá hạn, chuyển lên {pname}"),
                        public: true,
                    })
                    .collect();
                write::events(&mut *tx, &history).await?;
                let notices: Vec<NewNotice> = moved
                    .iter()
                    .flat_map(|(id, from, to, pname, _, code)| {
                        let shown = display_code(code);
                        let body = format!("Phản ánh {shown} quá hạn, đã chuyển lên {pname}");
                        [*from, *to].map(|unit_id| NewNotice {
                            unit_id,
                            feedback_id: *id,
                            kind: "escalated",
                            body: body.clone(),
                            at: now,
                        })
                    })
                    .collect();
                write::notify(&mut *tx, &notices).await?;
                let entries: Vec<crate::audit::NewAudit> = moved
                    .iter()
                    .map(|(id, _, to, _, path, _)| crate::audit::NewAudit {
                        at: now,
                        actor: &actor,
                        action: "escalate",
                        entity: "feedback",
                        entity_id: id.to_string(),
                        scope_path: path,
                        detail: serde_json::json!({"to_unit": to}),
                    })
                    .collect();
                crate::audit::record_many(&mut *tx, &entries).await?;
                Ok::<(), StoreError>(())
            })?;
            escalated += moved.len();
            if (n as i64) < SWEEP_BATCH {
                break;
            }
        }
        Ok((escalated, closed))
    }

    /// Counts in the 'late' rollups the items whose `late_at` has passed
    /// (they fell late since the last sweep), a batch a transaction.
    /// Returns how many. Until this runs, reads add such items from the
    /// `feedback_late_at` index, so no count waits for it.
    pub async fn count_newly_late(&self, now: i64) -> Result<usize> {
        let mut counted = 0;
        loop {
            let n = in_tx!(&self.db, |tx| {
                let rows = write::mark_newly_late(&mut *tx, now, SWEEP_BATCH).await?;
                let mut delta: HashMap<(i64, i64), i64> = HashMap::new();
                for (path, topic) in &rows {
                    for unit in crate::feedback::rollup::path_ids(path) {
                        *delta.entry((unit, *topic)).or_default() += 1;
                    }
                }
                let delta: Vec<Rollup> = delta
                    .into_iter()
                    .map(|((unit, topic), n)| (unit, topic, "late".to_string(), n))
                    .collect();
                add_rollups(&mut *tx, &delta).await?;
                Ok::<usize, StoreError>(rows.len())
            })?;
            counted += n;
            if (n as i64) < SWEEP_BATCH {
                return Ok(counted);
            }
        }
    }

    /// Counts for the subtree of `unit_id` (by state and by topic) and the
    /// number of late items, as the viewer may see them.
    pub async fn feedback_summary(&self, viewer: &Viewer, unit_id: i64) -> Result<Summary> {
        let unit = self.unit(&viewer.scope, unit_id).await?;
        // The unit's own rollup rows total its subtree.
        let rows: Vec<(String, String, i64)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT t.code, r.state, r.n FROM feedback_rollup r JOIN topics t ON t.id = r.topic_id \
             WHERE r.unit_id = $1 AND r.state <> 'late' AND (t.confidential = FALSE OR $2 = TRUE)"
        )
        .bind(unit.id)
        .bind(viewer.sees_confidential())
        .fetch_all(p)
        .await?
        });
        let mut s = Summary::default();
        for (topic, state, n) in rows {
            s.total += n;
            match s.by_state.iter_mut().find(|(k, _)| *k == state) {
                Some(e) => e.1 += n,
                None => s.by_state.push((state, n)),
            }
            match s.by_topic.iter_mut().find(|(k, _)| *k == topic) {
                Some(e) => e.1 += n,
                None => s.by_topic.push((topic, n)),
            }
        }
        s.by_state.retain(|(_, n)| *n != 0);
        s.by_topic.retain(|(_, n)| *n != 0);
        s.late = self.late_count(viewer, &unit, self.now()).await?;
        Ok(s)
    }
}
