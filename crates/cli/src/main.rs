//! `danvan`: the one binary. Each subcommand is a thin shell over the store
//! and the web crate; errors end as one clear line and a non-zero exit.

use danvan::demo;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};

/// mimalloc instead of the C library's allocator: sqlx copies every SQLite
/// value on the connection's thread and frees it on another, and glibc's
/// arenas spent a third of a large Open311 listing in malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand};
use danvan_domain::{Phone, Role};
use danvan_store::registry::account::NewAccount;
use danvan_store::{Actor, Store};

#[derive(Parser)]
#[command(
    name = "danvan",
    version,
    about = "Dân Vận: the platform of Vietnam's community mobilization teams (tổ dân vận cộng đồng)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a demo server on an embedded SQLite database loaded with the pilot's (synthetic) data.
    Demo {
        /// Folder for the demo database (created if missing; reused if present).
        #[arg(long, default_value = "./danvan-demo")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Seconds the simulated phones take to answer "OK", MIN-MAX (when
        /// Kannel is installed; delivery reports come about five times faster).
        #[arg(long, default_value = "5-30", value_parser = phone_delay)]
        phone_delay: danvan::phones::Pace,
    },
    /// Run the server for real on SQLite or PostgreSQL (pending migrations run at start).
    Serve {
        #[command(flatten)]
        db: DbArg,
        /// Address to listen on.
        #[arg(long, env = "DANVAN_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Mark cookies Secure (when served behind HTTPS).
        #[arg(long)]
        secure_cookies: bool,
        /// A reverse proxy (address or network, e.g. 10.0.0.0/8; repeat for
        /// more) whose X-Forwarded-For names the client, so limits per
        /// address count people, not the proxy.
        #[arg(
            long = "trusted-proxy",
            env = "DANVAN_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<String>,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Import data from the spreadsheets officials keep.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Export data to spreadsheets.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Add units and record their history (rename, merge, split, move).
    Unit {
        #[command(subcommand)]
        command: danvan::admin::UnitCommand,
    },
    /// Add teams, groups and their members.
    Team {
        #[command(subcommand)]
        command: danvan::admin::TeamCommand,
    },
    /// Feedback: routing rules, days off, unit leaders, the escalation sweep.
    Feedback {
        #[command(subcommand)]
        command: danvan::admin::FeedbackCommand,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArg,
    },
    /// Benchmark a synthetic province (import, search, team page) on a fresh database.
    Bench(danvan_bench::BenchArgs),
}

#[derive(clap::Args)]
struct DbArg {
    /// Database: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "DANVAN_DATABASE_URL")]
    database_url: String,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account; the password is read from standard input (first line).
    Add {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: String,
        /// admin, province_officer, supervisor, commune_officer, hamlet_head, team_leader or team_member.
        #[arg(long)]
        role: String,
        /// The unit the account serves (every role but the team roles and admin).
        #[arg(long)]
        unit: Option<i64>,
        /// The team the account serves (team_leader, team_member).
        #[arg(long)]
        team: Option<i64>,
        /// Name shown on pages (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Phone number, which can also be used to log in.
        #[arg(long)]
        phone: Option<String>,
    },
    /// Disable an account: it cannot log in, its sessions end and its keys
    /// are revoked. The account stays, named in the audit log.
    Disable {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for `Authorization: Bearer` and Open311's
    /// `api_key` (or, with --gateway, for the SMS gateway); printed once,
    /// on the last line.
    Create {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "cli")]
        label: String,
        /// A key for the SMS gateway's callback (/sms/inbound) only: it
        /// opens neither the JSON API nor Open311, and only it opens
        /// /sms/inbound.
        #[arg(long)]
        gateway: bool,
        /// Days the key works (default 365); 0: until revoked.
        #[arg(long, default_value_t = danvan_store::registry::account::DEFAULT_TOKEN_DAYS)]
        days: i64,
    },
    /// List keys (all, or one user's): id, user, kind, label, dates, state.
    List {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: Option<String>,
    },
    /// Revoke a key by its id (from `token list`).
    Revoke {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        id: i64,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import households (one row per resident, CSV or XLSX) into a unit: all rows or none.
    Households {
        #[command(flatten)]
        db: DbArg,
        /// The spreadsheet.
        file: PathBuf,
        /// The unit whose hamlets the file names.
        #[arg(long)]
        unit: i64,
        /// Check the file and report, without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Export the households of a unit (citizen ids masked); the export is audited.
    Households {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        unit: i64,
        /// xlsx or csv.
        #[arg(long, default_value = "xlsx")]
        format: String,
        /// Output file (default: ho-gia-dinh-UNIT.FORMAT).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DANVAN_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lỗi: không khởi động được: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lỗi: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// A mistake in the command line as one `lỗi:` line in Vietnamese (clap's
/// own words are English), with the command whose `--help` tells more;
/// help and version are printed as clap prints them.
fn usage_error(e: &clap::Error) -> ExitCode {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // "danvan" or "danvan unit" alone: the list of commands first.
        eprint!("{}", e.render());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    eprintln!(
        "lỗi: {} (xem: {} --help)",
        usage_words(e),
        command_path(&args)
    );
    ExitCode::from(2)
}

/// What was wrong, in Vietnamese, from the error's kind and context.
fn usage_words(e: &clap::Error) -> String {
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::StyledStrs(v)) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Some(ContextValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let arg = ctx(ContextKind::InvalidArg);
    let suggestion = [ContextKind::SuggestedArg, ContextKind::SuggestedSubcommand]
        .into_iter()
        .map(ctx)
        .find(|s| !s.is_empty())
        .map(|s| format!("; có phải ý bạn là «{s}»?"))
        .unwrap_or_default();
    match e.kind() {
        ErrorKind::UnknownArgument => format!("không có tuỳ chọn «{arg}»{suggestion}"),
        ErrorKind::InvalidSubcommand => format!(
            "không có lệnh «{}»{suggestion}",
            ctx(ContextKind::InvalidSubcommand)
        ),
        ErrorKind::MissingRequiredArgument => format!("thiếu tham số bắt buộc: {arg}"),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "thiếu lệnh: hãy chọn một lệnh".to_string()
        }
        ErrorKind::InvalidValue => {
            let valid = ctx(ContextKind::ValidValue);
            let value = ctx(ContextKind::InvalidValue);
            if value.is_empty() {
                format!("{arg} cần một giá trị")
            } else if valid.is_empty() {
                format!("giá trị «{value}» không hợp lệ cho {arg}")
            } else {
                format!("giá trị «{value}» không hợp lệ cho {arg}; dùng một trong: {valid}")
            }
        }
        ErrorKind::ValueValidation => format!(
            "giá trị «{}» không hợp lệ cho {arg}",
            ctx(ContextKind::InvalidValue)
        ),
        ErrorKind::ArgumentConflict => {
            format!("{arg} không dùng cùng {}", ctx(ContextKind::PriorArg))
        }
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("số giá trị của {arg} không đúng")
        }
        _ => "tham số dòng lệnh không hợp lệ".to_string(),
    }
}

/// "danvan unit add": the subcommands named on the command line.
fn command_path(args: &[String]) -> String {
    let mut cmd = Cli::command();
    let mut path = vec!["danvan".to_string()];
    for a in args {
        match cmd.find_subcommand(a.as_str()) {
            Some(sub) => {
                path.push(a.clone());
                cmd = sub.clone();
            }
            None => break,
        }
    }
    path.join(" ")
}

/// An error as the operator reads it: each cause in turn, a refusal of
/// the store in its Vietnamese sentence rather than its code.
fn describe(e: &anyhow::Error) -> String {
    use danvan_store::StoreError;
    use danvan_web::i18n::Lang;
    use danvan_web::problem_text::{field_error, problem};
    e.chain()
        .map(|cause| match cause.downcast_ref::<StoreError>() {
            Some(StoreError::Rejected(p) | StoreError::Conflict(p)) => problem(Lang::Vi, p),
            Some(StoreError::Invalid { field, error }) => {
                format!("{field}: {}", field_error(Lang::Vi, error))
            }
            _ => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

/// The SMS gateway (Kannel). Without `--kannel-url` messages wait in the
/// outbox until a server with a gateway runs.
#[derive(clap::Args, Debug)]
struct GatewayArgs {
    /// Kannel's sendsms address, e.g. http://127.0.0.1:13013/cgi-bin/sendsms.
    #[arg(long, env = "DANVAN_KANNEL_URL")]
    kannel_url: Option<String>,
    /// Kannel's sendsms-user.
    #[arg(long, env = "DANVAN_KANNEL_USER", default_value = "danvan")]
    kannel_user: String,
    /// Its password.
    #[arg(
        long,
        env = "DANVAN_KANNEL_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    kannel_password: String,
    /// The sender phones show.
    #[arg(long, env = "DANVAN_SMS_FROM", default_value = "DanVan")]
    sms_from: String,
    /// This server's address as Kannel reaches it (delivery reports);
    /// default http://BIND.
    #[arg(long, env = "DANVAN_PUBLIC_URL")]
    public_url: Option<String>,
    /// A gateway token (`danvan token create --gateway`) for Kannel's reports.
    #[arg(long, env = "DANVAN_GATEWAY_KEY", hide_env_values = true)]
    gateway_key: Option<String>,
    /// Messages handed to Kannel per second at most.
    #[arg(long, env = "DANVAN_SMS_RATE", default_value_t = 100)]
    sms_rate: u32,
    /// Seconds a sender's claim on messages lasts.
    #[arg(long, env = "DANVAN_SMS_LEASE_SECS", default_value_t = danvan_store::announce::outbox::LEASE_SECS)]
    sms_lease_secs: i64,
    /// Seconds a message left in doubt by a stopped sender waits for
    /// Kannel's report before it is sent again.
    #[arg(long, env = "DANVAN_SMS_IN_DOUBT_SECS", default_value_t = danvan_store::announce::outbox::IN_DOUBT_GRACE_SECS)]
    sms_in_doubt_secs: i64,
}

impl GatewayArgs {
    fn config(&self, bind: SocketAddr) -> Result<Option<danvan_sms::KannelConfig>> {
        let Some(url) = &self.kannel_url else {
            return Ok(None);
        };
        let key = self.gateway_key.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "--kannel-url cần --gateway-key (tạo bằng: danvan token create --gateway)"
            )
        })?;
        let mut c = danvan_sms::KannelConfig::new(url, &self.kannel_user, &self.kannel_password);
        c.from = self.sms_from.clone();
        c.public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bind}"));
        c.gateway_key = key;
        c.rate_per_second = self.sms_rate.max(1);
        c.lease_secs = self.sms_lease_secs.max(1);
        c.in_doubt_secs = self.sms_in_doubt_secs.max(0);
        Ok(Some(c))
    }
}

fn phone_delay(s: &str) -> Result<danvan::phones::Pace, String> {
    danvan::phones::Pace::parse(s)
        .ok_or_else(|| format!("«{s}»: cần hai số giây TỐI_THIỂU-TỐI_ĐA, ví dụ 5-30"))
}

/// The demo's SMS when Kannel is installed (and says so, with its ports
/// and which phones are simulated); without it, what is missing and how
/// to get it. Either way the demo runs.
async fn demo_sms(store: &Store, base: &str, pace: danvan::phones::Pace) -> Option<demo::DemoSms> {
    use danvan_sms::local_kannel::{installed, KannelError};
    if let Err(KannelError::Missing(name)) = installed() {
        println!(
            "SMS: tắt — không tìm thấy {name} của Kannel (cổng SMS). Cài bằng: bash scripts/setup \
             (gói Debian kannel, chạy với quyền root hoặc sudo), rồi chạy lại danvan demo để xem \
             thông báo tới điện thoại thường, báo nhận, trả lời \"OK\" và chuyển sang đến nhà."
        );
        return None;
    }
    match demo::start_sms(store, base, pace.clone()).await {
        Ok(s) => {
            let [admin, smsbox, smsc, sendsms] = s.kannel.ports();
            println!(
                "SMS: Kannel chạy trên 127.0.0.1 — sendsms {sendsms}, quản trị {admin}, \
                 smsbox {smsbox}, SMSC {smsc}; cấu hình và nhật ký ở {} (xoá khi dừng).",
                s.kannel.dir().display()
            );
            println!(
                "     Mọi điện thoại nhận SMS của demo đều là điện thoại MÔ PHỎNG (không tin nhắn \
                 nào ra mạng thật): khoảng 85 % nhận được, một nửa số đó trả lời \"OK\" sau \
                 {}–{} giây; 10 % không gửi được (chuyển sang đến nhà); 5 % không báo gì.",
                pace.answer.start().as_secs(),
                pace.answer.end().as_secs()
            );
            println!(
                "     Thử: đăng nhập xa.phucson, gửi thông báo cho thôn Mai Hoàng, xem trang \
                 của thông báo. Thông báo thường chờ qua giờ yên lặng (21:00–06:00)."
            );
            Some(s)
        }
        Err(e) => {
            println!("SMS: tắt — Kannel không khởi động được: {e}");
            None
        }
    }
}

/// Ctrl-C (SIGINT) or SIGTERM.
async fn stop_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    println!("Đang dừng demo…");
    Ok(())
}

async fn open(db: &DbArg) -> Result<Store> {
    danvan::admin::open_store(&db.database_url).await
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo {
            data_dir,
            bind,
            phone_delay,
        } => {
            danvan_store::sqlite_file::create_private_dir(&data_dir)
                .with_context(|| format!("không tạo được thư mục {}", data_dir.display()))?;
            let db_path = data_dir.join("danvan.db");
            let url = format!("sqlite://{}", db_path.display());
            let _lock = danvan::runtime::claim_database(&url)?;
            let store = open(&DbArg { database_url: url }).await?;
            let loaded = demo::load_if_empty(&store)
                .await
                .context("không nạp được dữ liệu mẫu")?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("không mở được cổng {bind}"))?;
            let base = format!("http://{}", listener.local_addr()?);
            println!(
                "Dân Vận (demo) — dữ liệu thí điểm {}",
                if loaded {
                    "vừa được nạp"
                } else {
                    "đã có sẵn"
                }
            );
            println!("Cơ sở dữ liệu: {}", db_path.display());
            println!("Mở trình duyệt: {base}/");
            println!("Tài khoản mẫu (mật khẩu chung: {}):", demo::DEMO_PASSWORD);
            for (user, role, unit) in demo::account_list() {
                println!("  {user:<22} {role:<18} {unit}");
            }
            let sms = demo_sms(&store, &base, phone_delay).await;
            let (kannel, sweep) = match &sms {
                Some(s) => (Some(s.config.clone()), danvan::runtime::DEMO_SWEEP_SECONDS),
                None => (None, danvan::runtime::SWEEP_SECONDS),
            };
            // Kannel runs in process groups of its own, out of the
            // terminal's reach: Ctrl-C stops it here.
            let done = tokio::select! {
                r = serve(store, listener, false, kannel, Default::default(), sweep) => r,
                r = stop_signal() => r.map(|()| ExitCode::SUCCESS),
            };
            if let Some(mut s) = sms {
                s.kannel.kill();
                println!("Đã dừng Kannel và các điện thoại mô phỏng.");
            }
            done
        }
        Command::Serve {
            db,
            bind,
            secure_cookies,
            trusted_proxies,
            gateway,
        } => {
            let kannel = gateway.config(bind)?;
            let trusted =
                danvan_web::client::TrustedProxies::parse(&trusted_proxies).map_err(|bad| {
                    anyhow!(
                        "--trusted-proxy «{bad}»: cần một địa chỉ IP hoặc mạng, ví dụ 10.0.0.0/8"
                    )
                })?;
            let _lock = danvan::runtime::claim_database(&db.database_url)?;
            let store = open(&db).await?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("không mở được cổng {bind}"))?;
            println!(
                "Dân Vận: http://{}/ ({})",
                listener.local_addr()?,
                store.backend()
            );
            serve(
                store,
                listener,
                secure_cookies,
                kannel,
                trusted,
                danvan::runtime::SWEEP_SECONDS,
            )
            .await
        }
        Command::Bench(args) => {
            danvan_bench::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Unit { command } => {
            danvan::admin::unit(command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Team { command } => {
            danvan::admin::team(command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Feedback { command } => {
            danvan::admin::feedback(command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { db } => {
            open(&db).await?;
            println!("Cơ sở dữ liệu đã được cập nhật.");
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command:
                UserCommand::Add {
                    db,
                    username,
                    role,
                    unit,
                    team,
                    display_name,
                    phone,
                },
        } => {
            let role = Role::parse(&role).map_err(|_| anyhow!("vai trò «{role}» không có; dùng một trong: admin, province_officer, supervisor, commune_officer, hamlet_head, team_leader, team_member"))?;
            let phone = match phone {
                Some(p) => Some(
                    Phone::parse(&p).map_err(|e| anyhow!("số điện thoại: {}", e.message_vi()))?,
                ),
                None => None,
            };
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("không đọc được mật khẩu từ đầu vào chuẩn")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            if password.is_empty() {
                bail!("hãy đưa mật khẩu qua đầu vào chuẩn, ví dụ: echo 'mat-khau-dai' | danvan user add ...");
            }
            let store = open(&db).await?;
            let new = NewAccount {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                phone,
                password,
                role,
                unit_id: unit,
                team_id: team,
            };
            let id = store.create_account(&Actor::cli(), &new).await?;
            println!("Đã tạo tài khoản {} (id {id}).", new.username);
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    db,
                    username,
                    label,
                    gateway,
                    days,
                },
        } => {
            let store = open(&db).await?;
            let kind = if gateway {
                danvan_store::registry::account::TokenKind::Gateway
            } else {
                danvan_store::registry::account::TokenKind::Api
            };
            let token = store
                .create_token_for(
                    &Actor::cli(),
                    &username,
                    &label,
                    kind,
                    (days > 0).then_some(days),
                )
                .await
                .map_err(|e| match e {
                    danvan_store::StoreError::NotFound => {
                        anyhow!("không có tài khoản «{username}»")
                    }
                    e => e.into(),
                })?;
            let what = if gateway {
                "Khoá cổng SMS"
            } else {
                "Mã truy cập"
            };
            println!("{what} cho {username} (chỉ hiện một lần):");
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command: TokenCommand::List { db, username },
        } => {
            let store = open(&db).await?;
            let now = store.now();
            // dd/mm/yyyy, UTC: a list for the operator.
            let day = |t: Option<i64>| {
                t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map_or_else(
                        || "-".to_string(),
                        |d| danvan_domain::date::format_vn_date(d.date_naive()),
                    )
            };
            println!("id\tusername\tkind\tlabel\tcreated\texpires\tlast_used\tstate");
            for k in store
                .api_tokens(&danvan_store::Viewer::system(), username.as_deref())
                .await?
            {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else if k.live(now) {
                    "live"
                } else {
                    "expired"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{state}",
                    k.id,
                    k.username,
                    k.kind,
                    k.label,
                    day(Some(k.created_at)),
                    day(k.expires_at),
                    day(k.last_used_at)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command: TokenCommand::Revoke { db, id },
        } => {
            open(&db)
                .await?
                .revoke_api_token(&danvan_store::Viewer::system(), id)
                .await
                .map_err(|e| match e {
                    danvan_store::StoreError::NotFound => anyhow!("không có khoá số {id}"),
                    e => e.into(),
                })?;
            println!("Đã thu hồi khoá {id}.");
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command: UserCommand::Disable { db, username },
        } => {
            open(&db)
                .await?
                .disable_account(&danvan_store::Viewer::system(), &username)
                .await
                .map_err(|e| match e {
                    danvan_store::StoreError::NotFound => {
                        anyhow!("không có tài khoản «{username}»")
                    }
                    e => e.into(),
                })?;
            println!("Đã khoá tài khoản {username}: phiên đăng nhập và khoá truy cập đã bị huỷ.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            command:
                ImportCommand::Households {
                    db,
                    file,
                    unit,
                    dry_run,
                },
        } => {
            let store = open(&db).await?;
            if !file.is_file() {
                bail!("không có tệp {}", file.display());
            }
            let outcome = store
                .import_households(&danvan_store::Viewer::cli(), unit, &file, dry_run)
                .await
                .map_err(|e| match e {
                    danvan_store::registry::import::ImportError::Store(
                        danvan_store::StoreError::NotFound,
                    ) => anyhow!("không có đơn vị {unit}"),
                    e => anyhow!("{e}"),
                })?;
            if outcome.error_count > 0 {
                println!("Tệp có {} lỗi nên chưa nhập gì:", outcome.error_count);
                for e in &outcome.errors {
                    println!(
                        "  Dòng {}, cột «{}»: {} [{}]",
                        e.row, e.column, e.message_vi, e.value
                    );
                }
                if outcome.errors.len() < outcome.error_count {
                    println!(
                        "  … và {} lỗi khác",
                        outcome.error_count - outcome.errors.len()
                    );
                }
                return Ok(ExitCode::from(2));
            }
            if outcome.committed {
                println!(
                    "Đã nhập {} hộ, {} nhân khẩu.",
                    outcome.households, outcome.rows
                );
            } else {
                println!(
                    "Tệp hợp lệ: {} hộ, {} nhân khẩu. Chưa ghi gì (--dry-run).",
                    outcome.households, outcome.rows
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            command:
                ExportCommand::Households {
                    db,
                    unit,
                    format,
                    output,
                },
        } => {
            let xlsx = match format.as_str() {
                "xlsx" => true,
                "csv" => false,
                other => bail!("định dạng «{other}» không có; dùng xlsx hoặc csv"),
            };
            let store = open(&db).await?;
            let out =
                output.unwrap_or_else(|| PathBuf::from(format!("ho-gia-dinh-{unit}.{format}")));
            let rows = store
                .export_households(&danvan_store::Viewer::cli(), unit, &out, xlsx)
                .await
                .map_err(|e| match e {
                    danvan_store::StoreError::NotFound => anyhow!("không có đơn vị {unit}"),
                    e => e.into(),
                })?;
            println!("Đã xuất {rows} nhân khẩu vào {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(
    store: Store,
    listener: tokio::net::TcpListener,
    secure_cookies: bool,
    kannel: Option<danvan_sms::KannelConfig>,
    trusted_proxies: danvan_web::client::TrustedProxies,
    sweep_seconds: u64,
) -> Result<ExitCode> {
    let upload_dir = std::env::temp_dir().join(format!("danvan-uploads-{}", std::process::id()));
    std::fs::create_dir_all(&upload_dir).context("không tạo được thư mục tạm cho tệp tải lên")?;
    let public_url = kannel.as_ref().map(|k| k.public_url.clone());
    danvan::runtime::spawn_sweeper(store.clone(), public_url.clone(), sweep_seconds);
    match kannel {
        Some(cfg) => {
            tracing::info!(url = %cfg.sendsms_url, rate = cfg.rate_per_second, "SMS through Kannel");
            danvan_sms::spawn_sms_sender(store.clone(), cfg);
        }
        None => tracing::info!("no SMS gateway (--kannel-url): messages wait in the outbox"),
    }
    let state = danvan_web::AppState {
        store,
        secure_cookies,
        upload_dir,
        public_url,
        trusted_proxies,
    };
    danvan_web::serve_on(state, listener)
        .await
        .context("máy chủ dừng vì lỗi")?;
    Ok(ExitCode::SUCCESS)
}
