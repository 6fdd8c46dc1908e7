//! Announcements: written and approved at a unit, then planned household
//! by household (one delivery row per household and channel, SMS rows
//! queued in the outbox) and tracked until each household is reached.
//!
//! Planning is two `INSERT … SELECT` statements in one transaction: the
//! database streams a province's 500,000 households from its index into
//! the plan; nothing is loaded into the process.

use danvan_domain::announcement::{
    approval_request_sms, roles_from_stored, roles_to_stored, sms_plan, AnnouncementRules,
    AnnouncementState, Approval, DeliveryChannel, DeliveryState, Urgency, MAX_BODY_CHARS,
    MAX_TITLE_CHARS,
};
use danvan_domain::policy::{self, Action, Start, Target};
use danvan_domain::problem::Problem;
use danvan_domain::Reach;
use danvan_domain::{text, UnitLevel};
use serde::{Deserialize, Serialize};

use crate::announce::delivery;
use crate::announce::outbox::{self, NewSms};
use crate::feedback::Viewer;
use crate::typed::stored;
use crate::{audit, in_tx, on_db, Result, Store, StoreError};

/// Default life of an announcement when the writer gives no expiry.
pub const DEFAULT_LIFETIME_SECS: i64 = 7 * 86400;
/// A send time this far in the past is taken as "now" (clocks and forms
/// lag); further back it is refused.
const PAST_TOLERANCE_SECS: i64 = 300;
/// Households a page of the "not reached" list shows.
pub const NOT_REACHED_PAGE: i64 = 100;

/// Who is to hear it: households under any of `units` or in any of
/// `teams`, narrowed to the kinds of `reach` when given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    #[serde(default)]
    pub units: Vec<i64>,
    #[serde(default)]
    pub teams: Vec<i64>,
    #[serde(default)]
    pub reach: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewAnnouncement {
    /// The unit it is written at (a team leader: their team's hamlet).
    pub unit_id: i64,
    pub title: String,
    pub body: String,
    pub topic: Option<String>,
    pub urgency: Urgency,
    pub audience: Audience,
    /// The sender chose SMS without diacritics (GSM 7-bit) to cut cost.
    pub plain_sms: bool,
    pub send_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Announcement {
    pub id: i64,
    pub unit_id: i64,
    pub path: String,
    pub team_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub topic_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    pub audience: String,
    pub gsm7: bool,
    #[sqlx(try_from = "String")]
    pub state: AnnouncementState,
    pub send_at: i64,
    pub expires_at: i64,
    pub created_at: i64,
    pub approved_at: Option<i64>,
    pub approval_skipped: bool,
    pub planned_at: Option<i64>,
    pub households: i64,
    /// Withdrawn (state `cancelled`): when, and why.
    pub cancelled_at: Option<i64>,
    pub cancel_reason: Option<String>,
}

impl Announcement {
    /// Withdrawn after it had gone out to households.
    pub fn withdrawn(&self) -> bool {
        self.state == AnnouncementState::Cancelled && self.planned_at.is_some()
    }

    /// The text an SMS carries: title, then body.
    pub fn sms_text(&self) -> String {
        format!("{}: {}", self.title, self.body)
    }
}

pub(crate) const ANNOUNCEMENT_COLUMNS: &str =
    "id, unit_id, path, team_id, title, body, topic_id, urgency, audience, gsm7, state, \
     send_at, expires_at, created_at, approved_at, approval_skipped, planned_at, households, \
     cancelled_at, cancel_reason";

/// A leader who may approve an announcement, and the phone an SMS asking
/// them to goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    pub account_id: i64,
    pub phone: Option<String>,
}

/// Counts of a reach page: by channel and state, and by hamlet.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReachReport {
    pub households: i64,
    pub reached: i64,
    /// (channel, state, deliveries).
    pub by_channel: Vec<(DeliveryChannel, DeliveryState, i64)>,
    /// (hamlet id, hamlet name, households, reached).
    pub by_hamlet: Vec<(i64, String, i64, i64)>,
    pub not_reached: Vec<NotReached>,
    /// When it went out (planned), and the deliveries reached by channel
    /// and whole hours after that: (channel, hour, deliveries). A delivery
    /// counts from its last change (a delivery report, an acknowledgement,
    /// a tick); an SMS both delivered and acknowledged by "OK" counts from
    /// the "OK", its report time being overwritten.
    pub sent_at: Option<i64>,
    pub reached_by_hour: Vec<(DeliveryChannel, i64, i64)>,
}

/// A household the announcement has not reached yet, with what is
/// planned for it: the list a team leader works from.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct NotReached {
    pub delivery_id: i64,
    pub household_id: i64,
    pub household_code: String,
    pub head_name: String,
    pub address: String,
    pub hamlet_name: String,
    pub team_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub channel: DeliveryChannel,
    #[sqlx(try_from = "String")]
    pub state: DeliveryState,
    pub reason: Option<String>,
}

/// States in which a delivery counts its household as reached.
const REACHED: &str = "('delivered', 'acknowledged')";

/// The households of `audience`, as SQL over `households h` with binds from
/// `$first` on; returns the predicate and the values to bind in order.
fn audience_sql(a: &Audience, paths: &[(String, String)], first: usize) -> (String, Vec<Bind>) {
    let mut n = first;
    let mut next = || {
        let s = format!("${n}");
        n += 1;
        s
    };
    let mut binds = Vec::new();
    let mut any = Vec::new();
    for (from, to) in paths {
        any.push(format!("(h.path >= {} AND h.path < {})", next(), next()));
        binds.push(Bind::Text(from.clone()));
        binds.push(Bind::Text(to.clone()));
    }
    for t in &a.teams {
        any.push(format!("h.team_id = {}", next()));
        binds.push(Bind::Int(*t));
    }
    let mut sql = format!("({})", any.join(" OR "));
    if !a.reach.is_empty() {
        let list: Vec<String> = a
            .reach
            .iter()
            .map(|r| {
                binds.push(Bind::Text(r.clone()));
                next()
            })
            .collect();
        sql += &format!(" AND h.reach IN ({})", list.join(", "));
    }
    (sql, binds)
}

#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

fn rejected(p: Problem) -> StoreError {
    StoreError::Rejected(p)
}

impl Store {
    /// Writes an announcement at `new.unit_id`. Officers write for their
    /// part of the tree; a team leader only for their own team. How it
    /// starts is the policy's ([`policy::start`]): the unit's leader
    /// approves at once by writing it; an emergency goes out unapproved
    /// only from a leader, the administrator or a role the province names
    /// (the audit log says so); anything else waits for approval. Anyone
    /// else's emergency waits too, and in the same transaction each leader
    /// who may approve it is sent an SMS (the audit log names them).
    pub async fn create_announcement(
        &self,
        viewer: &Viewer,
        new: &NewAnnouncement,
    ) -> Result<Announcement> {
        let Checked {
            title,
            body,
            send_at,
            expires_at,
            audience,
            unit,
            team_id,
            matched,
            topic_id,
        } = self.check_announcement(viewer, new).await?;
        let now = self.now();
        let rules = self.announcement_rules(&unit.path).await?;
        let approval = rules.approval;
        let start = policy::start(
            &viewer.subject(),
            new.urgency,
            approval,
            &rules.emergency_roles,
        );
        // Approved as it is written: by the rule, or by who writes it.
        let leader = start == Start::Approved;
        let skip = start == Start::EmergencyAtOnce;
        let state = if leader || skip {
            AnnouncementState::Approved
        } else {
            AnnouncementState::Pending
        };
        // An emergency that waits: its approvers are told at once.
        let approvers = if state == AnnouncementState::Pending && new.urgency == Urgency::Emergency
        {
            self.emergency_approvers(&unit.path, approval).await?
        } else {
            Vec::new()
        };
        let audience_json = serde_json::to_string(&audience).unwrap_or_else(|_| "{}".into());
        let actor = &viewer.actor;
        let id = in_tx!(&self.db, |tx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO announcements (unit_id, path, team_id, title, body, topic_id, urgency, audience, gsm7, state, \
                 send_at, expires_at, created_by, created_at, approved_by, approved_at, approval_skipped) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
            )
            .bind(unit.id)
            .bind(&unit.path)
            .bind(team_id)
            .bind(&title)
            .bind(&body)
            .bind(topic_id)
            .bind(new.urgency.as_str())
            .bind(&audience_json)
            .bind(new.plain_sms)
            .bind(state.as_str())
            .bind(send_at)
            .bind(expires_at)
            .bind(actor.account_id)
            .bind(now)
            .bind(if leader && approval != Approval::None { actor.account_id } else { None })
            .bind(if leader || skip { Some(now) } else { None })
            .bind(skip)
            .fetch_one(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "announcement",
                id,
                unit.path,
                serde_json::json!({
                    "title": title, "urgency": new.urgency.as_str(), "audience": audience,
                    "households": matched, "state": state.as_str(), "approval_skipped": skip,
                    "approval": approval.as_str(),
                })
            );
            if new.urgency == Urgency::Emergency && state == AnnouncementState::Pending {
                let text = approval_request_sms(id, &title);
                let sms: Vec<NewSms> = approvers
                    .iter()
                    .filter_map(|l| {
                        Some(NewSms {
                            recipient: l.phone.as_deref()?,
                            body: text.clone(),
                            key: format!("ann-approve:{id}:{}", l.account_id),
                            feedback_id: None,
                            at: now,
                        })
                    })
                    .collect();
                outbox::queue_emergency(&mut *tx, &sms).await?;
                let told: Vec<i64> = approvers
                    .iter()
                    .filter(|l| l.phone.is_some())
                    .map(|l| l.account_id)
                    .collect();
                let no_phone: Vec<i64> = approvers
                    .iter()
                    .filter(|l| l.phone.is_none())
                    .map(|l| l.account_id)
                    .collect();
                audit!(
                    &mut *tx,
                    self,
                    actor,
                    "request_approval",
                    "announcement",
                    id,
                    unit.path,
                    serde_json::json!({
                        "urgency": new.urgency.as_str(), "sms_to": told, "without_phone": no_phone,
                    })
                );
            }
            Ok::<i64, StoreError>(id)
        })?;
        self.announcement(viewer, id).await
    }

    /// The leaders who may approve an announcement written at `path` under
    /// the province's `approval` rule: active accounts that lead the unit
    /// or one above it (so within its province) and whom the policy lets
    /// approve it. Those without a phone are listed too (the audit log
    /// names them: nobody could text them).
    pub async fn emergency_approvers(
        &self,
        path: &str,
        approval: Approval,
    ) -> Result<Vec<Approver>> {
        let units: Vec<i64> = path.split('/').filter_map(|s| s.parse().ok()).collect();
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..units.len())
            .map(|i| format!("${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT a.id, a.role, a.phone, u.path, a.leads_unit FROM accounts a JOIN units u ON u.id = a.unit_id \
             WHERE a.leads_unit = TRUE AND a.active = TRUE AND a.unit_id IN ({list}) ORDER BY u.path DESC, a.id"
        );
        let rows: Vec<(i64, String, Option<String>, String, bool)> = on_db!(&self.db, |p| {
            let mut q = sqlx::query_as(&sql);
            for u in &units {
                q = q.bind(*u);
            }
            q.fetch_all(p).await?
        });
        let target = Target::at(path).approval(approval);
        Ok(rows
            .into_iter()
            .filter_map(|(account_id, role, phone, unit_path, leads_unit)| {
                let leader = Viewer {
                    actor: crate::Actor {
                        account_id: Some(account_id),
                        name: String::new(),
                    },
                    scope: crate::Scope::unit(&unit_path),
                    role: danvan_domain::Role::parse(&role).ok()?,
                    leads_unit,
                };
                leader
                    .may(Action::ApproveAnnouncement, &target)
                    .then_some(Approver { account_id, phone })
            })
            .collect())
    }

    /// What writing `new` would do, written nowhere: the households it
    /// reaches and what each SMS costs. The same checks as writing it.
    pub async fn preview_announcement(
        &self,
        viewer: &Viewer,
        new: &NewAnnouncement,
    ) -> Result<(i64, danvan_domain::announcement::SmsPlan)> {
        let c = self.check_announcement(viewer, new).await?;
        let plan = sms_plan(&format!("{}: {}", c.title, c.body), new.plain_sms);
        Ok((c.matched, plan))
    }

    /// The checks of writing an announcement: text, times, audience, who.
    async fn check_announcement(&self, viewer: &Viewer, new: &NewAnnouncement) -> Result<Checked> {
        let title = text::clean_line(&new.title, MAX_TITLE_CHARS)
            .map_err(|e| StoreError::invalid("title", e))?;
        if title.is_empty() {
            return Err(rejected(Problem::AnnouncementTitleMissing));
        }
        if new.body.chars().count() > MAX_BODY_CHARS {
            return Err(rejected(Problem::AnnouncementBodyTooLong {
                max: MAX_BODY_CHARS,
            }));
        }
        let body = text::clean_text(&new.body, MAX_BODY_CHARS)
            .map_err(|e| StoreError::invalid("body", e))?;
        if body.trim().is_empty() {
            return Err(rejected(Problem::AnnouncementBodyMissing));
        }
        let now = self.now();
        let send_at = match new.send_at {
            None => now,
            Some(t) if t < now - PAST_TOLERANCE_SECS => {
                return Err(rejected(Problem::SendTimePast))
            }
            Some(t) => t.max(now),
        };
        let expires_at = new.expires_at.unwrap_or(send_at + DEFAULT_LIFETIME_SECS);
        if expires_at <= send_at {
            return Err(rejected(Problem::ExpiryBeforeSend));
        }
        for r in &new.audience.reach {
            if Reach::parse(r).is_err() {
                return Err(rejected(Problem::UnknownReach));
            }
        }
        let audience = Audience {
            units: new.audience.units.clone(),
            teams: new.audience.teams.clone(),
            reach: new
                .audience
                .reach
                .iter()
                .filter_map(|r| Reach::parse(r).ok().map(|r| r.as_str().to_string()))
                .collect(),
        };
        if audience.units.is_empty() && audience.teams.is_empty() {
            return Err(rejected(Problem::AudienceMissing));
        }
        if audience.units.len() + audience.teams.len() > 200 {
            return Err(rejected(Problem::AudienceTooLarge { max: 200 }));
        }
        // Who may write it, and for whom.
        let unit = self.unit(&viewer.scope, new.unit_id).await?;
        // One team alone may be a team leader's own.
        let one_team = match (&audience.units[..], &audience.teams[..]) {
            ([], [team]) => Some(*team),
            _ => None,
        };
        viewer.require(
            Action::WriteAnnouncement,
            &Target::at(&unit.path).team(one_team),
        )?;
        // A team role's announcement is its team's.
        let team_id = viewer.scope.team_id;
        let mut paths = Vec::new();
        for id in &audience.units {
            let u = self.unit(&viewer.scope, *id).await?;
            if !u.path.starts_with(&unit.path) && team_id.is_none() {
                return Err(rejected(Problem::AudienceUnitOutside));
            }
            paths.push((u.path.clone(), crate::prefix_end(&u.path)));
        }
        for id in &audience.teams {
            let t = self.team(&viewer.scope, *id).await?;
            if !t.path.starts_with(&unit.path) {
                return Err(rejected(Problem::AudienceTeamOutside));
            }
        }
        let matched = self.audience_count(&audience, &paths).await?;
        if matched == 0 {
            return Err(rejected(Problem::AudienceEmpty));
        }
        let topic_id = match new.topic.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => Some(self.topic_by_code(code).await?.id),
            _ => None,
        };
        Ok(Checked {
            title,
            body,
            send_at,
            expires_at,
            audience,
            unit,
            team_id,
            matched,
            topic_id,
        })
    }

    /// Households `audience` matches now.
    async fn audience_count(&self, a: &Audience, paths: &[(String, String)]) -> Result<i64> {
        let (pred, binds) = audience_sql(a, paths, 1);
        let sql = format!("SELECT COUNT(*) FROM households h WHERE {pred}");
        let (n,): (i64,) = on_db!(&self.db, |p| {
            bind_all!(sqlx::query_as(&sql), &binds).fetch_one(p).await?
        });
        Ok(n)
    }

    /// One announcement, if it was written inside the viewer's part of the
    /// tree (or, for a team role, for their team).
    pub async fn announcement(&self, viewer: &Viewer, id: i64) -> Result<Announcement> {
        let sql = format!("SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE id = $1");
        let a: Option<Announcement> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?);
        let a = a.ok_or(StoreError::NotFound)?;
        let written_here = viewer.scope.contains_path(&a.path)
            && (viewer.scope.team_id.is_none() || a.team_id == viewer.scope.team_id);
        if written_here {
            return Ok(a);
        }
        // Written above, for households the viewer looks after.
        let (reaches,): (bool,) = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE announcement_id = $1 AND path >= $2 AND path < $3 \
             AND ($4 IS NULL OR team_id = $4))"
        )
        .bind(a.id)
        .bind(&viewer.scope.path)
        .bind(crate::prefix_end(&viewer.scope.path))
        .bind(viewer.scope.team_id)
        .fetch_one(p)
        .await?
        });
        if reaches {
            Ok(a)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// The newest announcements written in the viewer's part of the tree.
    pub async fn announcements(&self, viewer: &Viewer, limit: i64) -> Result<Vec<Announcement>> {
        let end = crate::prefix_end(&viewer.scope.path);
        let sql = format!(
            "SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements a WHERE (a.path >= $1 AND a.path < $2 \
             AND ($3 IS NULL OR a.team_id = $3)) OR EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = a.id \
             AND d.path >= $1 AND d.path < $2 AND ($3 IS NULL OR d.team_id = $3)) ORDER BY a.id DESC LIMIT $4"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&viewer.scope.path)
            .bind(&end)
            .bind(viewer.scope.team_id)
            .bind(limit.clamp(1, 200))
            .fetch_all(p)
            .await?))
    }

    /// The unit's leader approves a pending announcement.
    pub async fn approve_announcement(&self, viewer: &Viewer, id: i64) -> Result<Announcement> {
        let a = self.announcement(viewer, id).await?;
        let rule = self.announcement_approval(&a.path).await?;
        viewer.require(
            Action::ApproveAnnouncement,
            &Target::at(&a.path).approval(rule),
        )?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let done = sqlx::query(
                "UPDATE announcements SET state = 'approved', approved_by = $2, approved_at = $3 \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(viewer.actor.account_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict(Problem::AnnouncementNotPending));
            }
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "approve",
                "announcement",
                id,
                a.path,
                serde_json::json!({})
            );
            Ok::<(), StoreError>(())
        })?;
        self.announcement(viewer, id).await
    }

    /// Withdraws an announcement (*thu hồi*): a leader of the writing unit
    /// or above, the administrator, or whoever wrote it. Before it went
    /// out it is simply cancelled. After, in the same transaction: its SMS
    /// still queued are cancelled (one already handed to the gateway has
    /// left), and it leaves the public pages, the feeds, the loudspeaker
    /// and the visit lists; an alert becomes a CAP Cancel.
    pub async fn withdraw_announcement(
        &self,
        viewer: &Viewer,
        id: i64,
        reason: &str,
    ) -> Result<Announcement> {
        let a = self.announcement(viewer, id).await?;
        let writer = self.announcement_writer(id).await?;
        viewer.require(
            Action::WithdrawAnnouncement,
            &Target::at(&a.path).team(a.team_id).author(writer),
        )?;
        let reason = text::clean_line(reason, 300).map_err(|e| StoreError::invalid("reason", e))?;
        if reason.is_empty() {
            return Err(rejected(Problem::WithdrawReasonMissing));
        }
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let done = sqlx::query(
                "UPDATE announcements SET state = 'cancelled', cancelled_at = $2, cancelled_by = $3, cancel_reason = $4 \
                 WHERE id = $1 AND state IN ('pending', 'approved', 'planned')",
            )
            .bind(id)
            .bind(now)
            .bind(viewer.actor.account_id)
            .bind(&reason)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict(Problem::AnnouncementWithdrawn));
            }
            let stopped = outbox::cancel_announcement(&mut *tx, id, now).await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "withdraw",
                "announcement",
                id,
                a.path,
                serde_json::json!({"reason": reason, "was": a.state.as_str(), "sms_stopped": stopped})
            );
            Ok::<(), StoreError>(())
        })?;
        self.announcement(viewer, id).await
    }

    /// The account that wrote an announcement (the policy lets its writer
    /// withdraw it).
    pub async fn announcement_writer(&self, id: i64) -> Result<Option<i64>> {
        let writer: Option<(Option<i64>,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT created_by FROM announcements WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await?);
        Ok(writer.and_then(|(w,)| w))
    }

    /// Who approves the announcements of the province of `path`.
    pub async fn announcement_approval(&self, path: &str) -> Result<Approval> {
        Ok(self.announcement_rules(path).await?.approval)
    }

    /// The rules of the province of `path`: who approves, and the roles it
    /// named to send emergencies without approval.
    pub async fn announcement_rules(&self, path: &str) -> Result<AnnouncementRules> {
        let province = crate::feedback::province_of(path).unwrap_or(0);
        let row: Option<(String, String)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT approval, emergency_roles FROM announcement_settings WHERE unit_id = $1"
        )
        .bind(province)
        .fetch_optional(p)
        .await?);
        let Some((approval, roles)) = row else {
            return Ok(AnnouncementRules::default());
        };
        Ok(AnnouncementRules {
            approval: Approval::parse(&approval).unwrap_or_default(),
            emergency_roles: roles_from_stored(&roles)
                .map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))?,
        })
    }

    /// Sets who approves a province's announcements: the administrator,
    /// or a leader of the province itself.
    pub async fn set_announcement_approval(
        &self,
        viewer: &Viewer,
        province_id: i64,
        approval: Approval,
    ) -> Result<()> {
        self.set_announcement_settings(viewer, province_id, approval, None)
            .await
    }

    /// Sets a province's rules: who approves, and (when given) the roles
    /// that may send emergencies without approval — only roles that write
    /// announcements (`policy::nameable_for_emergencies`); `None` keeps
    /// those named before.
    pub async fn set_announcement_settings(
        &self,
        viewer: &Viewer,
        province_id: i64,
        approval: Approval,
        emergency_roles: Option<&[danvan_domain::Role]>,
    ) -> Result<()> {
        let unit = self.unit(&viewer.scope, province_id).await?;
        if unit.parent_id.is_some() {
            return Err(rejected(Problem::ApprovalRuleProvinceOnly));
        }
        viewer.require(
            Action::SetApprovalRule,
            &Target::at(&unit.path).level(UnitLevel::Province),
        )?;
        if emergency_roles
            .is_some_and(|roles| !roles.iter().all(|r| policy::nameable_for_emergencies(*r)))
        {
            return Err(rejected(Problem::EmergencyRoleInvalid));
        }
        let roles = emergency_roles.map(roles_to_stored);
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let (kept,): (String,) = sqlx::query_as(
                "INSERT INTO announcement_settings (unit_id, approval, updated_by, updated_at, emergency_roles) \
                 VALUES ($1, $2, $3, $4, COALESCE($5, '')) \
                 ON CONFLICT (unit_id) DO UPDATE SET approval = excluded.approval, updated_by = excluded.updated_by, \
                 updated_at = excluded.updated_at, \
                 emergency_roles = COALESCE($5, announcement_settings.emergency_roles) \
                 RETURNING emergency_roles",
            )
            .bind(unit.id)
            .bind(approval.as_str())
            .bind(viewer.actor.account_id)
            .bind(now)
            .bind(roles.as_deref())
            .fetch_one(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "update",
                "announcement_settings",
                unit.id,
                unit.path,
                serde_json::json!({"approval": approval.as_str(), "emergency_roles": kept})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// Plans every approved announcement whose send time has come; returns
    /// how many were planned. Called by the minute's sweep and after an
    /// approval.
    pub async fn plan_due_announcements(&self, feed_base: Option<&str>) -> Result<usize> {
        let due: Vec<(i64,)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id FROM announcements WHERE state = 'approved' AND send_at <= $1 ORDER BY send_at, id LIMIT 100"
        )
        .bind(self.now())
        .fetch_all(p)
        .await?
        });
        let mut n = 0;
        for (id,) in due {
            if self.plan_announcement(id).await?.is_some() {
                n += 1;
                if let Some(base) = feed_base {
                    self.send_feed_links(id, base).await?;
                }
            }
        }
        Ok(n)
    }

    /// Writes the delivery plan of an approved announcement: a row per
    /// household (feed for smartphones, SMS for basic phones with a
    /// number, a visit otherwise) and an outbox message per SMS, keyed by
    /// announcement and household so nothing is queued twice. Returns the
    /// households planned, `None` if it was not (or no longer) approved.
    pub async fn plan_announcement(&self, id: i64) -> Result<Option<i64>> {
        let sql = format!("SELECT {ANNOUNCEMENT_COLUMNS} FROM announcements WHERE id = $1");
        let a: Option<Announcement> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?);
        let Some(a) = a.filter(|a| a.state == AnnouncementState::Approved) else {
            return Ok(None);
        };
        let audience: Audience = serde_json::from_str(&a.audience).unwrap_or_default();
        let paths: Vec<(String, String)> = {
            let mut v = Vec::new();
            for id in &audience.units {
                if let Ok(u) = self.unit(&crate::Scope::all(), *id).await {
                    v.push((u.path.clone(), crate::prefix_end(&u.path)));
                }
            }
            v
        };
        if paths.is_empty() && audience.teams.is_empty() {
            return Ok(None);
        }
        let now = self.now();
        let urgency = a.urgency;
        let plan = sms_plan(&a.sms_text(), a.gsm7);
        let (pred, binds) = audience_sql(&audience, &paths, 3);
        let postgres = matches!(self.db, crate::Db::Postgres(_));
        let planned = in_tx!(&self.db, |tx| {
            if postgres {
                // The plan can always be made again (a crash loses it with
                // the state change, and the sweep plans it anew), so its
                // commit need not wait for the WAL of half a million rows.
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
            }
            let claimed = sqlx::query(
                "UPDATE announcements SET state = 'planned', planned_at = $2 WHERE id = $1 AND state = 'approved'",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                return Ok::<Option<i64>, StoreError>(None);
            }
            let rows = delivery::plan(&mut *tx, id, now, &pred, &binds).await? as i64;
            outbox::queue_announcement(
                &mut *tx,
                id,
                now,
                urgency,
                plan.coding == danvan_domain::announcement::Coding::Gsm7,
                a.send_at,
            )
            .await?;
            sqlx::query("UPDATE announcements SET households = $2 WHERE id = $1")
                .bind(id)
                .bind(rows)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                crate::audit::Actor::system(),
                "plan",
                "announcement",
                id,
                a.path,
                serde_json::json!({"households": rows, "sms_parts": plan.parts})
            );
            Ok::<Option<i64>, StoreError>(Some(rows))
        })?;
        Ok(planned)
    }

    /// The reach page's figures for the part of the announcement's
    /// audience the viewer serves, and a page of households not reached.
    pub async fn announcement_reach(
        &self,
        viewer: &Viewer,
        id: i64,
        page: i64,
    ) -> Result<ReachReport> {
        let a = self.announcement(viewer, id).await?;
        let (from, to) = (
            viewer.scope.path.clone(),
            crate::prefix_end(&viewer.scope.path),
        );
        let team = viewer.scope.team_id;
        let by_channel: Vec<(String, String, i64)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT channel, state, COUNT(*) FROM deliveries WHERE announcement_id = $1 AND path >= $2 AND path < $3 \
             AND ($4 IS NULL OR team_id = $4) GROUP BY channel, state ORDER BY channel, state"
        )
        .bind(a.id)
        .bind(&from)
        .bind(&to)
        .bind(team)
        .fetch_all(p)
        .await?
        });
        let hamlet_sql = format!(
            "SELECT d.hamlet_id, u.name, COUNT(DISTINCT d.household_id), \
             COUNT(DISTINCT CASE WHEN d.state IN {REACHED} THEN d.household_id END) \
             FROM deliveries d JOIN units u ON u.id = d.hamlet_id \
             WHERE d.announcement_id = $1 AND d.path >= $2 AND d.path < $3 AND ($4 IS NULL OR d.team_id = $4) \
             GROUP BY d.hamlet_id, u.name ORDER BY u.name"
        );
        let by_hamlet: Vec<(i64, String, i64, i64)> =
            on_db!(&self.db, |p| sqlx::query_as(&hamlet_sql)
                .bind(a.id)
                .bind(&from)
                .bind(&to)
                .bind(team)
                .fetch_all(p)
                .await?);
        // A household with both an SMS and a fallback visit shows the visit.
        let list_sql = format!(
            "SELECT d.id AS delivery_id, h.id AS household_id, h.code AS household_code, h.head_name, h.address, \
             u.name AS hamlet_name, d.team_id, d.channel, d.state, d.reason \
             FROM deliveries d JOIN households h ON h.id = d.household_id JOIN units u ON u.id = d.hamlet_id \
             WHERE d.announcement_id = $1 AND d.path >= $2 AND d.path < $3 AND ($4 IS NULL OR d.team_id = $4) \
             AND d.state NOT IN {REACHED} \
             AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.announcement_id = d.announcement_id \
                 AND r.household_id = d.household_id AND (r.state IN {REACHED} OR (d.channel = 'sms' AND r.channel = 'visit'))) \
             ORDER BY d.path, h.head_sort_key, h.id LIMIT $5 OFFSET $6"
        );
        let not_reached: Vec<NotReached> = on_db!(&self.db, |p| sqlx::query_as(&list_sql)
            .bind(a.id)
            .bind(&from)
            .bind(&to)
            .bind(team)
            .bind(NOT_REACHED_PAGE)
            .bind(page.max(0) * NOT_REACHED_PAGE)
            .fetch_all(p)
            .await?);
        let sent_at = a.planned_at;
        let by_hour: Vec<(String, i64, i64)> = match sent_at {
            None => Vec::new(),
            Some(start) => on_db!(&self.db, |p| {
                sqlx::query_as(&format!(
                "SELECT channel, CAST((CASE WHEN state = 'acknowledged' THEN COALESCE(acknowledged_at, updated_at) \
                 ELSE updated_at END - $5) / 3600 AS BIGINT) AS hour, COUNT(*) FROM deliveries \
                 WHERE announcement_id = $1 AND path >= $2 AND path < $3 AND ($4 IS NULL OR team_id = $4) \
                 AND state IN {REACHED} GROUP BY 1, 2 ORDER BY 1, 2"
            ))
            .bind(a.id)
            .bind(&from)
            .bind(&to)
            .bind(team)
            .bind(start)
            .fetch_all(p)
            .await?
            }),
        };
        let reached_by_hour = by_hour
            .into_iter()
            .map(|(c, h, n)| Ok((stored("channel", c)?, h.max(0), n)))
            .collect::<std::result::Result<_, sqlx::Error>>()?;
        let households = by_hamlet.iter().map(|h| h.2).sum();
        let reached = by_hamlet.iter().map(|h| h.3).sum();
        let by_channel = by_channel
            .into_iter()
            .map(|(c, s, n)| Ok((stored("channel", c)?, stored("state", s)?, n)))
            .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(ReachReport {
            households,
            reached,
            by_channel,
            by_hamlet,
            not_reached,
            sent_at,
            reached_by_hour,
        })
    }

    /// A team member ticks "informed" for a household of their team after
    /// a visit: the visit delivery (created if the plan had none, as when
    /// a member informs a household met by chance) is acknowledged.
    pub async fn tick_visit(
        &self,
        viewer: &Viewer,
        announcement_id: i64,
        household_id: i64,
    ) -> Result<()> {
        let a = self
            .announcement(&Viewer::system(), announcement_id)
            .await?;
        if a.state == AnnouncementState::Cancelled {
            return Err(rejected(Problem::WithdrawnNoVisit));
        }
        let h = self.household(&viewer.scope, household_id).await?;
        viewer.require(
            Action::InformHousehold,
            &Target::at(&h.path).team(h.team_id),
        )?;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let known: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM deliveries WHERE announcement_id = $1 AND household_id = $2",
            )
            .bind(a.id)
            .bind(h.id)
            .fetch_optional(&mut *tx)
            .await?;
            if known.is_none() {
                return Err(rejected(Problem::HouseholdNotInAudience));
            }
            delivery::visited(
                &mut *tx,
                delivery::Visited {
                    announcement_id: a.id,
                    household_id: h.id,
                    hamlet_id: h.hamlet_id,
                    path: &h.path,
                    team_id: h.team_id,
                    by: viewer.actor.account_id,
                    at: now,
                },
            )
            .await?;
            audit!(
                &mut *tx,
                self,
                viewer.actor,
                "inform",
                "household",
                h.id,
                h.path,
                serde_json::json!({"announcement": a.id})
            );
            Ok::<(), StoreError>(())
        })
    }
}

/// A feed token: 128 random bits as 32 hex digits (short enough for an SMS
/// link, too many to guess).
fn new_feed_token() -> (String, String) {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = crate::registry::account::token_hash(&token);
    (token, hash)
}

/// Households given a feed link per transaction.
const FEED_LINK_BATCH: i64 = 2000;

/// What a household's feed shows: the announcements delivered to it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FeedItem {
    pub id: i64,
    pub title: String,
    pub body: String,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    pub send_at: i64,
    pub unit_name: String,
}

impl Store {
    /// Gives every smartphone household of the announcement that has a
    /// phone and no feed yet its own link, sent once by SMS. Streamed in
    /// batches: a province's first announcement gives out many links.
    /// Returns how many links were queued.
    pub async fn send_feed_links(&self, announcement_id: i64, base_url: &str) -> Result<usize> {
        let now = self.now();
        let mut sent = 0;
        loop {
            let need: Vec<(i64, String)> = on_db!(&self.db, |p| {
                sqlx::query_as(
                "SELECT d.household_id, h.phone FROM deliveries d JOIN households h ON h.id = d.household_id \
                 WHERE d.announcement_id = $1 AND d.channel = 'feed' AND h.phone IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM household_feeds f WHERE f.household_id = d.household_id) \
                 ORDER BY d.household_id LIMIT $2"
            )
            .bind(announcement_id)
            .bind(FEED_LINK_BATCH)
            .fetch_all(p)
            .await?
            });
            if need.is_empty() {
                return Ok(sent);
            }
            let n = need.len();
            in_tx!(&self.db, |tx| {
                for (household, phone) in &need {
                    let (token, hash) = new_feed_token();
                    sqlx::query(
                        "INSERT INTO household_feeds (household_id, token_hash, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(household)
                    .bind(&hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let text = format!(
                        "Thong bao cua thon, xa gui ho gia dinh ban: {}/feed/{token}",
                        base_url.trim_end_matches('/')
                    );
                    let sms = NewSms {
                        recipient: phone,
                        body: text,
                        key: format!("feed:{household}"),
                        feedback_id: None,
                        at: now,
                    };
                    outbox::queue(&mut *tx, &[sms]).await?;
                }
                Ok::<(), StoreError>(())
            })?;
            sent += n;
            if (n as i64) < FEED_LINK_BATCH {
                return Ok(sent);
            }
        }
    }

    /// The feed behind a link: the household's current announcements,
    /// newest first. Opening it acknowledges them (the link was opened).
    /// `NotFound` for a token nobody was given.
    pub async fn open_feed(&self, token: &str) -> Result<Vec<FeedItem>> {
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound);
        }
        let hash = crate::registry::account::token_hash(&token.to_ascii_lowercase());
        let household: Option<(i64,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT household_id FROM household_feeds WHERE token_hash = $1"
        )
        .bind(&hash)
        .fetch_optional(p)
        .await?);
        let (household,) = household.ok_or(StoreError::NotFound)?;
        let now = self.now();
        // From the current announcements (few) to this household's row of
        // each, through the (announcement, household, channel) key: never
        // a scan of every delivery.
        let items: Vec<FeedItem> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT a.id, a.title, a.body, a.urgency, a.send_at, u.name AS unit_name \
             FROM announcements a JOIN units u ON u.id = a.unit_id \
             WHERE a.state = 'planned' AND a.expires_at > $2 AND EXISTS (SELECT 1 FROM deliveries d \
             WHERE d.announcement_id = a.id AND d.household_id = $1 AND d.channel = 'feed') \
             ORDER BY a.send_at DESC, a.id DESC LIMIT 50"
        )
        .bind(household)
        .bind(now)
        .fetch_all(p)
        .await?
        });
        for item in &items {
            on_db!(&self.db, |p| {
                let mut c = p.acquire().await?;
                delivery::feed_opened(&mut *c, household, item.id, now).await?;
            });
        }
        Ok(items)
    }

    /// A hamlet's public page: announcements planned for its households
    /// and not expired, newest first. No login; nothing personal.
    pub async fn hamlet_announcements(&self, hamlet_id: i64) -> Result<Vec<FeedItem>> {
        let now = self.now();
        let path = self.unit_unscoped(hamlet_id).await?.path;
        // The hamlet's deliveries by path, through (announcement, path).
        Ok(on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT a.id, a.title, a.body, a.urgency, a.send_at, u.name AS unit_name \
             FROM announcements a JOIN units u ON u.id = a.unit_id \
             WHERE a.state = 'planned' AND a.team_id IS NULL AND a.expires_at > $1 \
             AND EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = a.id AND d.path >= $2 AND d.path < $3) \
             ORDER BY a.send_at DESC, a.id DESC LIMIT 30"
        )
        .bind(now)
        .bind(&path)
        .bind(crate::prefix_end(&path))
        .fetch_all(p)
        .await?
        }))
    }
}

/// An announcement that passed its checks, ready to be written.
struct Checked {
    title: String,
    body: String,
    send_at: i64,
    expires_at: i64,
    audience: Audience,
    unit: crate::registry::unit::Unit,
    team_id: Option<i64>,
    matched: i64,
    topic_id: Option<i64>,
}
