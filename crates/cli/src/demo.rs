//! Loads the pilot's synthetic data set into an empty database, replaying
//! the unit history through the same store functions a person would use.
//! Households go in through the spreadsheet import (one transaction), as a
//! commune's would.

use std::collections::HashMap;

use anyhow::{anyhow, Context, Result};
use danvan_demo::{DemoData, EventKind};
use danvan_domain::{Role, TeamKind};
use danvan_sheet::ExportRow;
use danvan_store::registry::account::NewAccount;
use danvan_store::registry::team::{NewMember, NewTeam};
use danvan_store::registry::unit::{NewEvent, NewUnit, UnitChange};
use danvan_store::{Actor, Scope, Store};

pub const DEMO_PASSWORD: &str = "danvan-demo";

/// (username, role, unit or team key) of the demo accounts, one per role.
const ACCOUNTS: [(&str, Role, &str); 8] = [
    ("admin", Role::Admin, ""),
    ("tinh.bacninh", Role::ProvinceOfficer, "bac-ninh"),
    ("giamsat.phucson", Role::Supervisor, "phuc-son"),
    ("xa.phucson", Role::CommuneOfficer, "phuc-son"),
    ("xa.yenthe", Role::CommuneOfficer, "xa-yen-the"),
    (
        "truongthon.maihoang",
        Role::HamletHead,
        "phuc-son/mai-hoang",
    ),
    ("totruong.maihoang1", Role::TeamLeader, "team:0"),
    ("thanhvien.maihoang2", Role::TeamMember, "team:1"),
];

pub fn account_list() -> Vec<(&'static str, &'static str, &'static str)> {
    ACCOUNTS
        .iter()
        .map(|(u, r, k)| {
            let place = match *k {
                "" => "toàn hệ thống",
                "bac-ninh" => "Tỉnh Bắc Ninh",
                "phuc-son" => "Xã Phúc Sơn",
                "xa-yen-the" => "Xã Yên Thế",
                "phuc-son/mai-hoang" => "Thôn Mai Hoàng",
                "team:0" => "Tổ dân vận số 1 thôn Mai Hoàng",
                _ => "Tổ dân vận số 2 thôn Mai Hoàng",
            };
            (*u, r.as_str(), place)
        })
        .collect()
}

/// Loads the pilot if the database holds no unit yet; true when it did.
pub async fn load_if_empty(store: &Store) -> Result<bool> {
    if !store.top_units(&Scope::all()).await?.is_empty()
        || !store.search_units(&Scope::all(), "", 1).await?.is_empty()
    {
        return Ok(false);
    }
    load(store, &danvan_demo::pilot()).await?;
    load_reports(store, DEMO_REPORTS).await?;
    Ok(true)
}

/// Reports in the demo's year of feedback.
pub const DEMO_REPORTS: usize = 400;

/// Replays a year of feedback (the 365 days up to now)
/// through the store's own functions on a clock that moves with the story:
/// reports arrive, officers acknowledge and answer, leaders approve,
/// reporters rate, and the daily sweep escalates what was late and closes
/// what was answered a week before. Returns the number of reports.
/// Answer templates each demo commune starts with.
const ANSWER_TEMPLATES: [(&str, &str); 3] = [
    (
        "Đã chuyển công an xã xác minh",
        "UBND xã đã chuyển nội dung phản ánh tới Công an xã để xác minh, xử lý theo quy định. Kết quả sẽ được thông báo tới ông/bà.",
    ),
    (
        "Đã thu gom, xử lý rác thải",
        "Tổ vệ sinh môi trường của thôn đã thu gom, xử lý; xã đã nhắc nhở các hộ liên quan. Cảm ơn ông/bà đã phản ánh.",
    ),
    (
        "Trạm y tế đã đến kiểm tra",
        "Trạm y tế xã đã cử cán bộ đến kiểm tra, hướng dẫn gia đình và các hộ xung quanh biện pháp phòng bệnh.",
    ),
];

pub async fn load_reports(store: &Store, n: usize) -> Result<usize> {
    use danvan_demo::reports::{pilot_reports, Fate};
    use danvan_domain::feedback::{Channel, RelayMethod, Severity};
    use danvan_store::feedback::{Action, NewFeedback, Viewer};
    use std::sync::Arc;

    // The year that ends now, so the last weeks' reports are the open ones.
    let start = store.now() - 365 * 24 * 3600;
    let clock = Arc::new(danvan_store::FixedClock::new(
        chrono::DateTime::from_timestamp(start, 0).ok_or_else(|| anyhow!("start"))?,
    ));
    let s = Store {
        clock: clock.clone(),
        ..store.clone()
    };
    let actor = Actor {
        account_id: None,
        name: "demo".into(),
    };
    // The commune officers lead their communes: they answer and approve.
    let mut officers = Vec::new();
    for name in ["xa.phucson", "xa.yenthe"] {
        s.set_leads_unit(&actor, name, true).await?;
        let p = s.principal_by_username(name).await?;
        let officer = Viewer::of(&p);
        // The answers a commune writes again and again.
        if let Some(commune) = p.unit_id {
            for (title, body) in ANSWER_TEMPLATES {
                s.add_answer_template(&officer, commune, title, body)
                    .await?;
            }
        }
        officers.push(officer);
    }
    s.set_leads_unit(&actor, "tinh.bacninh", true).await?;
    let province = Viewer::of(&s.principal_by_username("tinh.bacninh").await?);
    let mut hamlets: Vec<(i64, String)> = Vec::new();
    for (id, _, _) in s.hamlets_under("/").await? {
        let path = s.unit_unscoped(id).await?.path;
        if officers.iter().any(|o| path.starts_with(&o.scope.path)) {
            hamlets.push((id, path));
        }
    }
    hamlets.sort();
    let reports = pilot_reports(hamlets.len(), n);

    // Every step of every report, in time order.
    enum Step {
        Submit,
        Ack,
        Answer(String),
        Rate(i32),
        Refuse(String, String),
    }
    let mut steps: Vec<(i64, usize, Step)> = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let at = start + (r.at_hours * 3600.0) as i64;
        let h = |hours: f64| at + (hours * 3600.0) as i64;
        steps.push((at, i, Step::Submit));
        match &r.fate {
            Fate::Answered {
                ack_after,
                answer_after,
                answer,
                rating,
            } => {
                steps.push((h(*ack_after), i, Step::Ack));
                steps.push((h(*answer_after), i, Step::Answer(answer.clone())));
                if let Some(stars) = rating {
                    steps.push((h(answer_after + 30.0), i, Step::Rate(*stars)));
                }
            }
            Fate::Refused {
                after,
                reason,
                refer_to,
            } => steps.push((h(*after), i, Step::Refuse(reason.clone(), refer_to.clone()))),
            Fate::Open { ack_after: Some(a) } => steps.push((h(*a), i, Step::Ack)),
            Fate::Open { ack_after: None } => {}
        }
    }
    let end = start + 365 * 24 * 3600;
    steps.retain(|(t, _, _)| *t < end);
    steps.sort_by_key(|(t, i, _)| (*t, *i));

    let mut ids: HashMap<usize, (i64, String, Option<String>)> = HashMap::new();
    let mut now = start;
    let mut next_sweep = start + 24 * 3600;
    for (t, i, step) in steps {
        while next_sweep <= t {
            clock.advance(chrono::Duration::seconds(next_sweep - now));
            now = next_sweep;
            s.sweep_feedback().await?;
            next_sweep += 24 * 3600;
        }
        clock.advance(chrono::Duration::seconds(t - now));
        now = t;
        let r = &reports[i];
        let (hamlet, path) = &hamlets[r.hamlet];
        let officer = officers
            .iter()
            .find(|o| path.starts_with(&o.scope.path))
            .ok_or_else(|| anyhow!("no officer for {path}"))?;
        let phone = format!("09{:08}", 12_000_000 + i * 7919 % 80_000_000);
        match step {
            Step::Submit => {
                let mut new = NewFeedback {
                    topic: r.topic.into(),
                    severity: Severity::parse(r.severity).unwrap_or(Severity::Normal),
                    channel: if r.channel == "sms" {
                        Channel::Sms
                    } else {
                        Channel::Web
                    },
                    description: r.text.clone(),
                    hamlet_id: *hamlet,
                    lat: None,
                    lon: None,
                    reporter_name: None,
                    reporter_phone: Some(phone.clone()),
                    anonymous: false,
                    household_id: None,
                    resident_id: None,
                    relay_method: None,
                    identity_consent: false,
                    submission_key: Some(format!("demo-{i}")),
                    photos: Vec::new(),
                };
                if r.channel == "member" {
                    // A volunteer writes it down on a home visit.
                    let teams = s.teams_of_hamlet(&Scope::all(), *hamlet).await?;
                    if let Some(team) = teams.first() {
                        let households = s.team_households(&Scope::all(), team.id).await?;
                        if let Some(hh) = households.get(i % households.len().max(1)) {
                            new.channel = Channel::Member;
                            new.household_id = Some(hh.id);
                            new.relay_method = Some(RelayMethod::ALL[i % RelayMethod::ALL.len()]);
                            new.identity_consent = i % 3 != 0;
                            new.reporter_phone = None;
                        }
                    }
                }
                let got = s.submit_feedback(&actor, &Scope::all(), &new).await?;
                ids.insert(i, (got.id, got.code, new.reporter_phone.clone()));
            }
            Step::Ack => {
                if let Some((id, _, _)) = ids.get(&i) {
                    let _ = s.act_on_feedback(officer, *id, Action::Acknowledge).await;
                }
            }
            Step::Answer(text) => {
                if let Some((id, _, _)) = ids.get(&i) {
                    let _ = s.act_on_feedback(officer, *id, Action::Start).await;
                    if s.act_on_feedback(officer, *id, Action::DraftAnswer { text })
                        .await
                        .is_ok()
                    {
                        // An item escalated for being late is approved by
                        // the province, where it now sits.
                        if s.act_on_feedback(officer, *id, Action::ApproveAnswer)
                            .await
                            .is_err()
                        {
                            let _ = s
                                .act_on_feedback(&province, *id, Action::ApproveAnswer)
                                .await;
                        }
                    }
                }
            }
            Step::Rate(stars) => {
                if let Some((_, code, phone)) = ids.get(&i) {
                    let phone = phone
                        .as_deref()
                        .and_then(|p| danvan_domain::Phone::parse(p).ok());
                    let _ = s.rate_feedback(code, phone.as_ref(), stars).await;
                }
            }
            Step::Refuse(reason, refer_to) => {
                if let Some((id, _, _)) = ids.get(&i) {
                    let _ = s
                        .act_on_feedback(officer, *id, Action::Refuse { reason, refer_to })
                        .await;
                }
            }
        }
    }
    Ok(ids.len())
}

/// The old name a rename event records in its note («…»).
fn old_name(note: &str) -> Option<String> {
    let start = note.find('«')? + '«'.len_utf8();
    let end = note[start..].find('»')? + start;
    Some(note[start..end].to_string())
}

pub async fn load(store: &Store, data: &DemoData) -> Result<()> {
    let actor = Actor {
        account_id: None,
        name: "demo".into(),
    };
    // A renamed unit starts under its old name; the event renames it.
    let mut first_names: HashMap<String, String> = HashMap::new();
    for e in &data.events {
        if e.kind == EventKind::Rename {
            if let (Some(k), Some(old)) = (e.targets.first(), old_name(&e.note)) {
                first_names.insert(k.clone(), old);
            }
        }
    }
    let mut units: HashMap<String, i64> = HashMap::new();
    for u in &data.units {
        let parent_id = match &u.parent {
            Some(p) => Some(
                *units
                    .get(p)
                    .ok_or_else(|| anyhow!("unit {p} listed after its child"))?,
            ),
            None => None,
        };
        let new = NewUnit {
            parent_id,
            level: u.level,
            name: first_names
                .get(&u.key)
                .cloned()
                .unwrap_or_else(|| u.name.clone()),
            code: u.code.clone(),
            valid_from: u.valid_from,
            valid_to: None,
        };
        let id = store
            .create_unit(&actor, &new)
            .await
            .with_context(|| format!("unit {}", u.key))?;
        units.insert(u.key.clone(), id);
    }
    let id_of = |k: &str| {
        units
            .get(k)
            .copied()
            .ok_or_else(|| anyhow!("unknown unit key {k}"))
    };

    // Teams before groups, so a group's parent team exists.
    let mut teams: HashMap<String, i64> = HashMap::new();
    let mut ordered: Vec<&danvan_demo::DemoTeam> = data
        .teams
        .iter()
        .filter(|t| t.kind == TeamKind::Team)
        .collect();
    ordered.extend(data.teams.iter().filter(|t| t.kind == TeamKind::Group));
    for t in ordered {
        let new = NewTeam {
            hamlet_id: id_of(&t.hamlet)?,
            kind: t.kind,
            parent_team_id: t.parent_team.as_ref().and_then(|p| teams.get(p).copied()),
            code: t.code.clone(),
            name: t.name.clone(),
            target_size: None,
        };
        let id = store
            .create_team(&actor, &new)
            .await
            .with_context(|| format!("team {}", t.key))?;
        for m in &t.members {
            let nm = NewMember {
                name: m.name.clone(),
                gender: Some(m.gender),
                role: m.role,
                represents: m.represents,
                phone: Some(m.phone.clone()),
                term_from: m.term_from,
                term_to: m.term_to,
            };
            store.add_member(&actor, id, &nm).await?;
        }
        teams.insert(t.key.clone(), id);
    }

    // History, in date order.
    for e in &data.events {
        let change = match e.kind {
            EventKind::Rename => {
                let key = e
                    .targets
                    .first()
                    .ok_or_else(|| anyhow!("rename without target"))?;
                let name = data
                    .units
                    .iter()
                    .find(|u| &u.key == key)
                    .map(|u| u.name.clone())
                    .ok_or_else(|| anyhow!("unknown {key}"))?;
                vec![UnitChange::Rename {
                    unit_id: id_of(key)?,
                    new_name: name,
                }]
            }
            EventKind::Merge => {
                let target = id_of(
                    e.targets
                        .first()
                        .ok_or_else(|| anyhow!("merge without target"))?,
                )?;
                let sources = e
                    .sources
                    .iter()
                    .map(|s| id_of(s))
                    .collect::<Result<Vec<_>>>()?;
                vec![UnitChange::Merge {
                    sources,
                    target,
                    move_children: false,
                }]
            }
            EventKind::Move => {
                let target = id_of(
                    e.targets
                        .first()
                        .ok_or_else(|| anyhow!("move without target"))?,
                )?;
                e.sources
                    .iter()
                    .map(|s| {
                        Ok(UnitChange::Move {
                            unit_id: id_of(s)?,
                            new_parent_id: target,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            EventKind::Split => continue,
        };
        for change in change {
            store
                .record_event(
                    &actor,
                    &NewEvent {
                        change,
                        date: e.date,
                        legal_basis: e.legal_basis.clone(),
                        note: e.note.clone(),
                    },
                )
                .await
                .context("unit history")?;
        }
    }
    // Validity of units that ended without an event of their own.
    for u in &data.units {
        if let Some(end) = u.valid_to {
            store.end_unit(&actor, id_of(&u.key)?, end).await?;
        }
    }

    // Households through the import, into the root that holds them today.
    let today = store.today();
    let root = data
        .units
        .iter()
        .filter(|u| u.parent.is_none() && u.valid_to.is_none_or(|d| d >= today))
        .map(|u| id_of(&u.key))
        .next()
        .ok_or_else(|| anyhow!("the demo has no current root"))??;
    let team_codes: HashMap<&str, &str> = data
        .teams
        .iter()
        .map(|t| (t.key.as_str(), t.code.as_str()))
        .collect();
    let commune_now = |hamlet_key: &str| -> String {
        // Đồng Tâm's hamlets are in Yên Thế since the merge.
        if hamlet_key.starts_with("dong-tam/") {
            "Xã Yên Thế".to_string()
        } else {
            let parent = data
                .units
                .iter()
                .find(|u| u.key == hamlet_key)
                .and_then(|u| u.parent.clone())
                .unwrap_or_default();
            data.units
                .iter()
                .find(|u| u.key == parent)
                .map(|u| u.name.clone())
                .unwrap_or_default()
        }
    };
    let hamlet_name = |k: &str| {
        data.units
            .iter()
            .find(|u| u.key == k)
            .map(|u| u.name.clone())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    for h in &data.households {
        for r in &h.residents {
            rows.push(ExportRow {
                household_code: h.code.clone(),
                full_name: r.name.full(),
                birth: r.birth.display(),
                gender: r.gender.label_vi().to_string(),
                relation: r.relation.clone(),
                phone: r.phone.as_ref().map(|p| p.national()).unwrap_or_default(),
                // The full id: this file never leaves the loader.
                citizen_id_masked: r
                    .citizen_id
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                hamlet: hamlet_name(&h.hamlet),
                commune: commune_now(&h.hamlet),
                address: h.address.clone(),
                reach: h.reach.label_vi().to_string(),
                team_code: h
                    .team
                    .as_deref()
                    .and_then(|t| team_codes.get(t))
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            });
        }
    }
    let file = tempfile_path()?;
    danvan_sheet::write_csv(rows.into_iter(), std::fs::File::create(&file)?)
        .map_err(|e| anyhow!("{e}"))?;
    let outcome = store
        .import_households(&danvan_store::Viewer::cli(), root, &file, false)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let _ = std::fs::remove_file(&file);
    if !outcome.committed {
        let first = outcome
            .errors
            .first()
            .map(|e| format!("row {} {}: {}", e.row, e.column, e.message_en))
            .unwrap_or_default();
        return Err(anyhow!(
            "the demo households did not import ({} errors; first: {first})",
            outcome.error_count
        ));
    }
    let points: Vec<(String, f64, f64)> = data
        .households
        .iter()
        .filter_map(|h| Some((h.code.clone(), h.lat?, h.lon?)))
        .collect();
    store.set_points(&actor, &points).await?;
    // Each hamlet's centre is where its households are (Open311 reports
    // sent with a point alone are placed by it).
    store.derive_hamlet_centres(&actor, root).await?;

    // One account per role.
    for (i, (username, role, key)) in ACCOUNTS.iter().enumerate() {
        let (unit_id, team_id) = match key.strip_prefix("team:") {
            Some(n) => {
                let n: usize = n.parse().unwrap_or(0);
                let t = data
                    .teams
                    .iter()
                    .filter(|t| t.hamlet == "phuc-son/mai-hoang" && t.kind == TeamKind::Team)
                    .nth(n);
                (None, t.and_then(|t| teams.get(&t.key).copied()))
            }
            None if key.is_empty() => (None, None),
            None => (Some(id_of(key)?), None),
        };
        let display = account_list()
            .get(i)
            .map(|(_, _, p)| format!("{} — {p}", role.label_vi()))
            .unwrap_or_default();
        let new = NewAccount {
            username: username.to_string(),
            display_name: display,
            phone: None,
            password: DEMO_PASSWORD.into(),
            role: *role,
            unit_id,
            team_id,
        };
        store
            .create_account(&actor, &new)
            .await
            .with_context(|| format!("account {username}"))?;
    }
    Ok(())
}

fn tempfile_path() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir();
    Ok(dir.join(format!(
        "danvan-demo-{}-{}.csv",
        std::process::id(),
        rand_suffix()
    )))
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The demo's SMS, when Kannel is installed: bearerbox and smsbox on
/// loopback with the simulated phones as their operator
/// (`crate::phones`), and what the server needs to use them. Dropping it
/// stops Kannel and the phones.
pub struct DemoSms {
    pub kannel: danvan_sms::local_kannel::LocalKannel,
    pub phones: crate::phones::Phones,
    /// The server's sender: Kannel's `sendsms`, the gateway key its
    /// reports and the phones' messages come back with.
    pub config: danvan_sms::KannelConfig,
}

/// Starts the demo's SMS for the server at `base_url` (already listening).
/// The gateway key is a fresh one of the administrator's, valid a day.
pub async fn start_sms(
    store: &Store,
    base_url: &str,
    pace: crate::phones::Pace,
) -> Result<DemoSms> {
    use danvan_sms::local_kannel::{LocalKannel, Setup, Smsc};
    let key = store
        .create_token_for(
            &Actor::cli(),
            "admin",
            "demo-kannel",
            danvan_store::registry::account::TokenKind::Gateway,
            Some(1),
        )
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut setup = Setup::new(Smsc::Http {
        send_url: format!("http://{}/send", listener.local_addr()?),
    });
    setup.inbound_url = Some(format!(
        "{base_url}/sms/inbound?key={key}&from=%p&text=%a&id=%I"
    ));
    let mut kannel = LocalKannel::prepare(setup)?;
    let phones = crate::phones::Phones::start(
        listener,
        kannel.smsc_url(),
        kannel.smsc_password().to_string(),
        pace,
    )?;
    kannel.boot().await?;
    let mut config =
        danvan_sms::KannelConfig::new(&kannel.sendsms_url(), kannel.username(), kannel.password());
    config.public_url = base_url.to_string();
    config.gateway_key = key;
    // The pilot's year of feedback left a thousand SMS queued: out in seconds.
    config.rate_per_second = 200;
    Ok(DemoSms {
        kannel,
        phones,
        config,
    })
}
