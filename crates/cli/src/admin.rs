//! Commands that shape the registry: units and their history, teams and
//! their members. Thin over the store, which validates and audits.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use danvan_domain::{
    date::parse_vn_date, MemberRole, PersonName, Phone, Represents, TeamKind, UnitLevel,
};
use danvan_store::registry::team::{NewMember, NewTeam};
use danvan_store::registry::unit::{NewEvent, NewUnit, UnitChange};
use danvan_store::{Actor, Scope, Store};

#[derive(clap::Args)]
pub struct Db {
    /// Database: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "DANVAN_DATABASE_URL")]
    database_url: String,
}

/// Date and legal basis of a change to the tree.
#[derive(clap::Args)]
pub struct Basis {
    /// Date it takes effect (dd/mm/yyyy).
    #[arg(long)]
    date: String,
    /// Legal basis, e.g. "Nghị quyết số 1658/NQ-UBTVQH15".
    #[arg(long)]
    basis: String,
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Subcommand)]
pub enum UnitCommand {
    /// Add a unit; prints its id. Hamlets get a code of their own.
    Add {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        name: String,
        /// province, district, commune or hamlet (Vietnamese words work too: tỉnh, xã, thôn …).
        #[arg(long)]
        level: String,
        #[arg(long)]
        parent: Option<i64>,
        /// Official code, where one exists.
        #[arg(long)]
        code: Option<String>,
        /// First day in force (dd/mm/yyyy).
        #[arg(long)]
        valid_from: Option<String>,
    },
    /// List units whose name matches (without diacritics), with ids and validity.
    List {
        #[command(flatten)]
        db: Db,
        #[arg(long, default_value = "")]
        q: String,
    },
    /// Record a new name (the old one stays in the history).
    Rename {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        unit: i64,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        basis: Basis,
    },
    /// Record a merge of several units into one (which must exist already).
    Merge {
        #[command(flatten)]
        db: Db,
        /// Ids of the merged units, comma-separated.
        #[arg(long, value_delimiter = ',')]
        sources: Vec<i64>,
        #[arg(long)]
        into: i64,
        /// Move the sources' units (hamlets) under the new one.
        #[arg(long)]
        move_children: bool,
        #[command(flatten)]
        basis: Basis,
    },
    /// Record a split of a hamlet: every household is reassigned by a CSV of
    /// "household code,new hamlet id" lines.
    Split {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        unit: i64,
        /// Ids of the new hamlets, comma-separated.
        #[arg(long, value_delimiter = ',')]
        into: Vec<i64>,
        #[arg(long)]
        households: PathBuf,
        #[command(flatten)]
        basis: Basis,
    },
    /// Set a unit's centre point: where an Open311 report sent with a
    /// point alone is placed (the nearest hamlet centre of the commune the
    /// point falls in). With --from-households, every hamlet under the unit
    /// whose households have points gets their mean.
    Centre {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        unit: i64,
        /// Latitude, e.g. 21.4012 (with --long).
        #[arg(long, requires = "long", conflicts_with_all = ["from_households", "clear"])]
        lat: Option<f64>,
        /// Longitude, e.g. 106.1034 (with --lat).
        #[arg(long, requires = "lat")]
        long: Option<f64>,
        /// The mean of the households' points, for each hamlet under the unit.
        #[arg(long, conflicts_with = "clear")]
        from_households: bool,
        /// Remove the centre.
        #[arg(long)]
        clear: bool,
    },
    /// Record a move of a unit (with everything under it) to a new parent.
    Move {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        unit: i64,
        #[arg(long)]
        parent: i64,
        #[command(flatten)]
        basis: Basis,
    },
}

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Add a team (or, with --group, a group) under a hamlet; prints its id.
    Add {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        hamlet: i64,
        /// Short unique code, used in spreadsheets (column "Tổ dân vận").
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// A group (nhóm), smaller than a team.
        #[arg(long)]
        group: bool,
        /// The team a group belongs to.
        #[arg(long)]
        parent_team: Option<i64>,
        /// Households the team should look after (default 40; 15 for a group).
        #[arg(long)]
        target: Option<i32>,
    },
    /// Add a member to a team.
    Member {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        team: i64,
        /// Full name, e.g. "Nguyễn Thị Lan".
        #[arg(long)]
        name: String,
        /// leader, deputy or member (tổ trưởng, tổ phó, thành viên).
        #[arg(long, default_value = "member")]
        role: String,
        /// hamlet_leadership, womens_union, farmers_union, veterans, youth_union, fatherland_front or none.
        #[arg(long, default_value = "none")]
        represents: String,
        #[arg(long)]
        phone: Option<String>,
        /// First day of the term (dd/mm/yyyy; default today).
        #[arg(long)]
        from: Option<String>,
        /// Last day of the term (dd/mm/yyyy).
        #[arg(long)]
        to: Option<String>,
    },
}

/// Opens the database and applies pending migrations (every command does).
pub async fn open_store(url: &str) -> Result<Store> {
    let store = Store::connect(url)
        .await
        .context("không mở được cơ sở dữ liệu")?;
    store
        .migrate()
        .await
        .context("không cập nhật được cấu trúc cơ sở dữ liệu")?;
    Ok(store)
}

async fn open(db: &Db) -> Result<Store> {
    open_store(&db.database_url).await
}

fn date(s: &str, what: &str) -> Result<chrono::NaiveDate> {
    parse_vn_date(s).map_err(|e| anyhow!("{what}: {}", e.message_vi()))
}

async fn event(store: &Store, change: UnitChange, basis: &Basis) -> Result<i64> {
    let ev = NewEvent {
        change,
        date: date(&basis.date, "--date")?,
        legal_basis: basis.basis.clone(),
        note: basis.note.clone(),
    };
    Ok(store.record_event(&Actor::cli(), &ev).await?)
}

pub async fn unit(cmd: UnitCommand) -> Result<()> {
    match cmd {
        UnitCommand::Add {
            db,
            name,
            level,
            parent,
            code,
            valid_from,
        } => {
            let level = UnitLevel::parse(&level).map_err(|_| {
                anyhow!("cấp «{level}» không có; dùng province, district, commune hoặc hamlet")
            })?;
            let valid_from = valid_from
                .as_deref()
                .map(|d| date(d, "--valid-from"))
                .transpose()?;
            let store = open(&db).await?;
            let id = store
                .create_unit(
                    &Actor::cli(),
                    &NewUnit {
                        parent_id: parent,
                        level,
                        name,
                        code,
                        valid_from,
                        valid_to: None,
                    },
                )
                .await?;
            let u = store.unit_unscoped(id).await?;
            println!("Đã thêm {} (mã {}).", u.name, u.code.unwrap_or_default());
            println!("{id}");
        }
        UnitCommand::List { db, q } => {
            let store = open(&db).await?;
            for u in store.search_units(&Scope::all(), &q, 500).await? {
                let ended = u
                    .valid_to
                    .map(|d| format!(" (hết hiệu lực {d})"))
                    .unwrap_or_default();
                let centre = match (u.lat, u.lon) {
                    (Some(la), Some(lo)) => format!(" @ {la:.5}, {lo:.5}"),
                    _ => String::new(),
                };
                println!(
                    "{:>8}  {:<9} {:<6} {}{ended}{centre}",
                    u.id,
                    u.level.as_str(),
                    u.code.unwrap_or_default(),
                    u.name
                );
            }
        }
        UnitCommand::Rename {
            db,
            unit,
            name,
            basis,
        } => {
            let store = open(&db).await?;
            let id = event(
                &store,
                UnitChange::Rename {
                    unit_id: unit,
                    new_name: name,
                },
                &basis,
            )
            .await?;
            println!("Đã ghi đổi tên (sự kiện {id}).");
        }
        UnitCommand::Merge {
            db,
            sources,
            into,
            move_children,
            basis,
        } => {
            let store = open(&db).await?;
            let id = event(
                &store,
                UnitChange::Merge {
                    sources,
                    target: into,
                    move_children,
                },
                &basis,
            )
            .await?;
            println!("Đã ghi sáp nhập (sự kiện {id}).");
        }
        UnitCommand::Split {
            db,
            unit,
            into,
            households,
            basis,
        } => {
            let store = open(&db).await?;
            let text = std::fs::read_to_string(&households)
                .with_context(|| format!("không đọc được {}", households.display()))?;
            let mut moves = Vec::new();
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let (code, to) = line
                    .split_once([',', ';'])
                    .ok_or_else(|| anyhow!("dòng {}: cần «mã hộ,mã thôn mới»", n + 1))?;
                let to: i64 = match to.trim().parse() {
                    Ok(v) => v,
                    Err(_) if n == 0 => continue, // a header line
                    Err(_) => bail!("dòng {}: mã thôn mới «{}» không phải số", n + 1, to.trim()),
                };
                let h = store
                    .household_by_code(code.trim())
                    .await
                    .map_err(|_| anyhow!("dòng {}: không có hộ mã «{}»", n + 1, code.trim()))?;
                moves.push((h, to));
            }
            let id = event(
                &store,
                UnitChange::Split {
                    source: unit,
                    targets: into,
                    households: moves,
                },
                &basis,
            )
            .await?;
            println!("Đã ghi chia tách (sự kiện {id}).");
        }
        UnitCommand::Move {
            db,
            unit,
            parent,
            basis,
        } => {
            let store = open(&db).await?;
            let id = event(
                &store,
                UnitChange::Move {
                    unit_id: unit,
                    new_parent_id: parent,
                },
                &basis,
            )
            .await?;
            println!("Đã ghi chuyển đơn vị (sự kiện {id}).");
        }
        UnitCommand::Centre {
            db,
            unit,
            lat,
            long,
            from_households,
            clear,
        } => {
            let store = open(&db).await?;
            if from_households {
                let n = store.derive_hamlet_centres(&Actor::cli(), unit).await?;
                println!("Đã đặt tâm cho {n} thôn theo toạ độ các hộ.");
                return Ok(());
            }
            let centre = match (lat, long, clear) {
                (Some(la), Some(lo), false) => Some((la, lo)),
                (None, None, true) => None,
                _ => bail!("cần --lat và --long, hoặc --from-households, hoặc --clear"),
            };
            store.set_unit_centre(&Actor::cli(), unit, centre).await?;
            match centre {
                Some((la, lo)) => println!("Đã đặt tâm đơn vị {unit}: {la}, {lo}."),
                None => println!("Đã xoá tâm đơn vị {unit}."),
            }
        }
    }
    Ok(())
}

pub async fn team(cmd: TeamCommand) -> Result<()> {
    match cmd {
        TeamCommand::Add {
            db,
            hamlet,
            code,
            name,
            group,
            parent_team,
            target,
        } => {
            let store = open(&db).await?;
            let kind = if group {
                TeamKind::Group
            } else {
                TeamKind::Team
            };
            let id = store
                .create_team(
                    &Actor::cli(),
                    &NewTeam {
                        hamlet_id: hamlet,
                        kind,
                        parent_team_id: parent_team,
                        code,
                        name,
                        target_size: target,
                    },
                )
                .await?;
            println!("Đã thêm {}.", kind.label_vi());
            println!("{id}");
        }
        TeamCommand::Member {
            db,
            team,
            name,
            role,
            represents,
            phone,
            from,
            to,
        } => {
            let name =
                PersonName::parse(&name).map_err(|e| anyhow!("--name: {}", e.message_vi()))?;
            let role =
                MemberRole::parse(&role).map_err(|e| anyhow!("--role: {}", e.message_vi()))?;
            let represents = Represents::parse(&represents)
                .map_err(|e| anyhow!("--represents: {}", e.message_vi()))?;
            let phone = phone
                .as_deref()
                .map(Phone::parse)
                .transpose()
                .map_err(|e| anyhow!("--phone: {}", e.message_vi()))?;
            let store = open(&db).await?;
            let term_from = match from {
                Some(d) => date(&d, "--from")?,
                None => store.today(),
            };
            let term_to = to.as_deref().map(|d| date(d, "--to")).transpose()?;
            let member = NewMember {
                name,
                gender: None,
                role,
                represents,
                phone,
                term_from,
                term_to,
            };
            let id = store.add_member(&Actor::cli(), team, &member).await?;
            println!("Đã thêm thành viên (id {id}).");
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum FeedbackCommand {
    /// Route a commune's reports of a topic (all topics if omitted), from one
    /// hamlet (all if omitted), to a unit shown under a label, e.g. security
    /// and order → "Công an xã Phúc Sơn".
    Rule {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        commune: i64,
        /// Topic code: environment, security, epidemic, crime_tip, disease_case …
        #[arg(long)]
        topic: Option<String>,
        #[arg(long)]
        hamlet: Option<i64>,
        /// The unit that answers (the commune itself, or a unit above or below it).
        #[arg(long)]
        unit: i64,
        #[arg(long)]
        label: String,
    },
    /// Add a day off (public holiday or compensation day) to the working calendar.
    Holiday {
        #[command(flatten)]
        db: Db,
        /// dd/mm/yyyy
        #[arg(long)]
        date: String,
        #[arg(long)]
        name: String,
    },
    /// Mark an account as the leader of its unit (approves answers); --off to unmark.
    Leader {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        username: String,
        #[arg(long)]
        off: bool,
    },
    /// How much of a topic's reports the public sees in a province:
    /// public, no_text (state only, no description, photo or place) or
    /// private (not listed). Without --topic and --publicity, lists them.
    Publicity {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        province: i64,
        #[arg(long, requires = "publicity")]
        topic: Option<String>,
        #[arg(long, requires = "topic")]
        publicity: Option<String>,
    },
    /// Escalate late reports and close answered ones now (the server does it every minute).
    Sweep {
        #[command(flatten)]
        db: Db,
    },
    /// Recompute the dashboards' per-unit rollups from the reports (after a
    /// bulk load, or to repair).
    RebuildRollups {
        #[command(flatten)]
        db: Db,
    },
}

pub async fn feedback(cmd: FeedbackCommand) -> Result<()> {
    match cmd {
        FeedbackCommand::Rule {
            db,
            commune,
            topic,
            hamlet,
            unit,
            label,
        } => {
            let store = open(&db).await?;
            let id = store
                .add_routing_rule(
                    &Actor::cli(),
                    &danvan_store::feedback::RoutingRule {
                        commune_id: commune,
                        topic,
                        hamlet_id: hamlet,
                        responsible_unit_id: unit,
                        responsible_account_id: None,
                        label,
                    },
                )
                .await?;
            println!("Đã thêm quy tắc chuyển phản ánh.");
            println!("{id}");
        }
        FeedbackCommand::Holiday { db, date, name } => {
            let day = parse_vn_date(&date).map_err(|e| anyhow!("--date: {}", e.message_vi()))?;
            open(&db)
                .await?
                .add_holiday(&Actor::cli(), day, &name)
                .await?;
            println!("Đã thêm ngày nghỉ {date}.");
        }
        FeedbackCommand::Leader { db, username, off } => {
            open(&db)
                .await?
                .set_leads_unit(&Actor::cli(), &username, !off)
                .await?;
            println!("Đã cập nhật.");
        }
        FeedbackCommand::Publicity {
            db,
            province,
            topic,
            publicity,
        } => {
            let store = open(&db).await?;
            let viewer = danvan_store::feedback::Viewer::system();
            if let (Some(topic), Some(p)) = (topic, publicity) {
                let p = danvan_domain::feedback::Publicity::parse(&p)
                    .ok_or_else(|| anyhow!("--publicity: public, no_text hoặc private"))?;
                store
                    .set_topic_publicity(&viewer, province, &topic, p)
                    .await?;
                println!("Đã cập nhật.");
            }
            for t in store.topic_publicity(&viewer, province).await? {
                let p = if t.confidential {
                    "confidential"
                } else {
                    t.publicity.as_str()
                };
                println!("{}\t{}\t{}", t.code, p, t.name_vi);
            }
        }
        FeedbackCommand::Sweep { db } => {
            let (escalated, closed) = open(&db).await?.sweep_feedback().await?;
            println!("Đã chuyển lên cấp trên {escalated} phản ánh quá hạn; đã đóng {closed}.");
        }
        FeedbackCommand::RebuildRollups { db } => {
            open(&db).await?.rebuild_feedback_rollups().await?;
            println!("Đã tính lại số liệu tổng hợp phản ánh của mọi đơn vị.");
        }
    }
    Ok(())
}
