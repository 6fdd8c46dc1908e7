//! Accounts, sessions, API tokens and the login limiter.
//!
//! Passwords are hashed with Argon2id; session and API tokens are random and
//! only their SHA-256 is stored, so a copy of the database opens no session.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use danvan_domain::policy::{binding, Action, Binding, Target};
use danvan_domain::problem::Problem;
use danvan_domain::{text, Phone, Role};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{audit, in_tx, on_db, Actor, Result, Scope, Store, StoreError, Viewer};

/// Sessions last two weeks: volunteers log in on their own phone and should
/// not have to type a password at every visit.
pub const SESSION_SECONDS: i64 = 14 * 24 * 3600;
/// Wrong passwords an account takes before it slows down; after them each
/// failure doubles the wait (2 s, 4 s, …) up to [`MAX_WAIT_SECONDS`]. It
/// never locks: the owner on a browser they logged in from before is not
/// held back at all (see `login_devices`).
pub const FREE_FAILURES: i64 = 3;
pub const MAX_WAIT_SECONDS: i64 = 5 * 60;
/// Failed logins per client address in the window (a whole commune office
/// may sit behind one address: known browsers are not counted against it).
pub const MAX_FAILURES_PER_ADDRESS: i64 = 50;
pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;
/// How long a browser stays known after its last login.
pub const DEVICE_SECONDS: i64 = 180 * 24 * 3600;
/// An API key lives this long unless told otherwise.
pub const DEFAULT_TOKEN_DAYS: i64 = 365;

/// A logged-in person and the part of the tree they may see.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub account_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: Option<i64>,
    pub team_id: Option<i64>,
    /// The leader of the unit (chủ tịch, phó chủ tịch): approves its answers.
    pub leads_unit: bool,
    #[serde(skip)]
    pub scope: Scope,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            account_id: Some(self.account_id),
            name: self.username.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub phone: Option<Phone>,
    pub password: String,
    pub role: Role,
    pub unit_id: Option<i64>,
    pub team_id: Option<i64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("Tên đăng nhập hoặc mật khẩu không đúng")]
    BadCredentials,
    /// Wait this many seconds before the next try.
    #[error("Đăng nhập sai nhiều lần. Hãy thử lại sau {0} giây.")]
    TooManyAttempts(i64),
}

/// A successful login: who, and the known-browser token to keep (a new one
/// when the browser had none or an unknown one).
#[derive(Debug, Clone)]
pub struct Login {
    pub principal: Principal,
    pub device: Option<String>,
}

/// The wait after `failures` wrong passwords in a row.
pub fn wait_after(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - FREE_FAILURES).min(20) as u32;
    (2i64 << doublings).min(MAX_WAIT_SECONDS)
}

/// One key per person however the login was typed: a phone number in its
/// international form, else the folded username.
fn login_key(login: &str) -> String {
    match Phone::parse(login) {
        Ok(p) => p.as_str().to_string(),
        Err(_) => text::fold(login),
    }
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    username: String,
    display_name: String,
    password_hash: String,
    role: String,
    unit_id: Option<i64>,
    team_id: Option<i64>,
    unit_path: Option<String>,
    team_path: Option<String>,
    leads_unit: bool,
}

/// The columns of [`AccountRow`], and the tables they come from.
const ACCOUNT_COLUMNS: &str =
    "a.id, a.username, a.display_name, a.password_hash, a.role, a.unit_id, a.team_id, \
     u.path AS unit_path, t.path AS team_path, a.leads_unit";
const ACCOUNT_FROM: &str =
    "FROM accounts a LEFT JOIN units u ON u.id = a.unit_id LEFT JOIN teams t ON t.id = a.team_id";

impl AccountRow {
    fn principal(self) -> Option<Principal> {
        let role = Role::parse(&self.role).ok()?;
        let scope = match binding(role) {
            Binding::Everything => Scope::all(),
            Binding::Team => Scope::team(self.team_path.as_deref()?, self.team_id?),
            Binding::Unit => Scope::unit(self.unit_path.as_deref()?),
        };
        Some(Principal {
            account_id: self.id,
            username: self.username,
            display_name: self.display_name,
            role,
            unit_id: self.unit_id,
            team_id: self.team_id,
            leads_unit: self.leads_unit,
            scope,
        })
    }
}

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("không băm được mật khẩu: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random token (hex) and the hash that is stored.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn check_password_rules(password: &str, username: &str) -> Result<()> {
    danvan_domain::password::check(password, username).map_err(StoreError::Rejected)
}

impl Store {
    pub async fn create_account(&self, actor: &Actor, new: &NewAccount) -> Result<i64> {
        let username = text::clean_required(&new.username, 60)
            .map_err(|e| StoreError::invalid("username", e))?;
        if !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(StoreError::Rejected(Problem::UsernameChars));
        }
        let username = username.to_ascii_lowercase();
        let display = text::clean_required(&new.display_name, 120)
            .map_err(|e| StoreError::invalid("display_name", e))?;
        check_password_rules(&new.password, &username)?;
        match (binding(new.role), new.unit_id, new.team_id) {
            (Binding::Everything, _, None) => {}
            (Binding::Team, _, Some(_)) => {}
            (Binding::Unit, Some(_), None) => {}
            (Binding::Team, _, _) => return Err(StoreError::Rejected(Problem::RoleNeedsTeam)),
            _ => return Err(StoreError::Rejected(Problem::RoleNeedsUnit)),
        }
        let hash = hash_password(&new.password)?;
        let now = self.now();
        let scope_path = if let Some(u) = new.unit_id {
            self.unit_unscoped(u).await?.path
        } else if let Some(t) = new.team_id {
            self.team(&Scope::all(), t).await?.path
        } else {
            "/".to_string()
        };
        in_tx!(&self.db, |tx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO accounts (username, phone, display_name, password_hash, role, unit_id, team_id, active, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8, $8) RETURNING id",
            )
            .bind(&username)
            .bind(new.phone.as_ref().map(|p| p.as_str().to_string()))
            .bind(&display)
            .bind(&hash)
            .bind(new.role.as_str())
            .bind(new.unit_id)
            .bind(new.team_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                let e = StoreError::from(e);
                if e.is_unique_violation() { StoreError::Conflict(Problem::AccountTaken) } else { e }
            })?;
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "account",
                id,
                scope_path,
                serde_json::json!({"role": new.role.as_str()})
            );
            Ok::<i64, StoreError>(id)
        })
    }

    async fn failures(&self, key: &str, since: i64) -> Result<i64> {
        let (n,): (i64,) = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2"
        )
        .bind(key)
        .bind(since)
        .fetch_one(p)
        .await?);
        Ok(n)
    }

    /// The failures of a login that names no account, and when the last
    /// was: it slows down exactly like an account, so the answers do not
    /// tell which logins exist.
    async fn unknown_login_state(&self, key: &str, since: i64) -> Result<(i64, Option<i64>)> {
        Ok(on_db!(&self.db, |p| sqlx::query_as(
            "SELECT COUNT(*), MAX(at) FROM login_failures WHERE key = $1 AND at >= $2"
        )
        .bind(key)
        .bind(since)
        .fetch_one(p)
        .await?))
    }

    /// Whether `device` is a known browser of `account_id`.
    async fn known_device(&self, account_id: i64, device: Option<&str>) -> Result<bool> {
        let Some(d) = device.filter(|d| d.len() == 64) else {
            return Ok(false);
        };
        let row: Option<(i64,)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT account_id FROM login_devices WHERE token_hash = $1 AND account_id = $2 AND last_used_at > $3"
        )
        .bind(token_hash(d))
        .bind(account_id)
        .bind(self.now() - DEVICE_SECONDS)
        .fetch_optional(p)
        .await?
        });
        Ok(row.is_some())
    }

    /// Checks a login (username or phone, however spelled) and password.
    /// Wrong passwords slow the account down (doubling waits after a few,
    /// never a lock), and the client address has a limit of its own; a
    /// browser the account logged in from before (`device`, its cookie)
    /// skips both. Logins and failures are audited (no typed login kept).
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        address: &str,
        device: Option<&str>,
    ) -> Result<std::result::Result<Login, AuthError>> {
        let key = login_key(login);
        let now = self.now();
        let since = now - FAILURE_WINDOW_SECONDS;
        let addr_key = format!("addr:{address}");
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            account: AccountRow,
            failed_logins: i32,
            login_not_before: Option<i64>,
        }
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, a.failed_logins, a.login_not_before {ACCOUNT_FROM} \
             WHERE a.active = TRUE AND (a.username = $1 OR a.phone = $1)"
        );
        let row: Option<Row> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&key)
            .fetch_optional(p)
            .await?);
        let known = match &row {
            Some(r) => self.known_device(r.account.id, device).await?,
            None => false,
        };
        if !known {
            if self.failures(&addr_key, since).await? >= MAX_FAILURES_PER_ADDRESS {
                return Ok(Err(AuthError::TooManyAttempts(FAILURE_WINDOW_SECONDS)));
            }
            let not_before = match &row {
                Some(r) => r.login_not_before,
                None => {
                    let (n, last) = self
                        .unknown_login_state(&format!("user:{key}"), since)
                        .await?;
                    last.map(|at| at + wait_after(n))
                }
            };
            if let Some(t) = not_before.filter(|t| *t > now) {
                return Ok(Err(AuthError::TooManyAttempts(t - now)));
            }
        }
        // Verify against a fixed hash when the account is unknown, so timing
        // does not tell which usernames exist.
        let ok = match &row {
            Some(r) => verify_password(password, &r.account.password_hash),
            None => {
                let _ = verify_password(password, DUMMY_HASH);
                false
            }
        };
        let Some(r) = row else {
            self.record_unknown_failure(&key, &addr_key, since).await?;
            return Ok(Err(AuthError::BadCredentials));
        };
        let account_id = r.account.id;
        let failed = i64::from(r.failed_logins);
        let principal = if ok { r.account.principal() } else { None };
        let Some(principal) = principal else {
            self.record_failure(account_id, failed + 1, &addr_key, known)
                .await?;
            return Ok(Err(AuthError::BadCredentials));
        };
        let (new_device, hash) = if known {
            (None, None)
        } else {
            let (t, h) = new_token();
            (Some(t), Some(h))
        };
        let actor = principal.actor();
        let scope_path = principal.scope.path.clone();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE accounts SET failed_logins = 0, login_not_before = NULL WHERE id = $1",
            )
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
            match (&hash, device) {
                (Some(h), _) => {
                    sqlx::query("INSERT INTO login_devices (token_hash, account_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)")
                        .bind(h)
                        .bind(account_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                (None, Some(d)) => {
                    sqlx::query("UPDATE login_devices SET last_used_at = $2 WHERE token_hash = $1")
                        .bind(token_hash(d))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                (None, None) => {}
            }
            audit!(
                &mut *tx,
                self,
                actor,
                "login",
                "account",
                account_id,
                scope_path,
                serde_json::json!({"known_device": known})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(Ok(Login {
            principal,
            device: new_device,
        }))
    }

    /// A wrong password for an account: its count and its next allowed
    /// moment, the address's count (unless from a known browser), an
    /// audit entry.
    async fn record_failure(
        &self,
        account_id: i64,
        failures: i64,
        addr_key: &str,
        known_device: bool,
    ) -> Result<()> {
        let now = self.now();
        let wait = wait_after(failures);
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE accounts SET failed_logins = failed_logins + 1, login_not_before = $2 WHERE id = $1",
            )
            .bind(account_id)
            .bind((wait > 0).then_some(now + wait))
            .execute(&mut *tx)
            .await?;
            if !known_device {
                sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                    .bind(addr_key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            audit!(
                &mut *tx,
                self,
                Actor::system(),
                "login_failed",
                "account",
                account_id,
                "/",
                serde_json::json!({"failures": failures, "wait_seconds": wait})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// A login that names no account: counted under its key (so it slows
    /// down like an account) and its address; old rows swept.
    async fn record_unknown_failure(&self, key: &str, addr_key: &str, since: i64) -> Result<()> {
        let now = self.now();
        let user_key = format!("user:{key}");
        in_tx!(&self.db, |tx| {
            for k in [&user_key, &addr_key.to_string()] {
                sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                    .bind(k)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM login_failures WHERE at < $1")
                .bind(since - FAILURE_WINDOW_SECONDS)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                Actor::system(),
                "login_failed",
                "account",
                "",
                "/",
                serde_json::json!({"known": false})
            );
            Ok::<(), StoreError>(())
        })
    }

    /// Audits a logout (the session is deleted by `delete_session`).
    pub async fn record_logout(&self, principal: &Principal) -> Result<()> {
        let actor = principal.actor();
        on_db!(&self.db, |p| {
            audit!(
                p,
                self,
                actor,
                "logout",
                "account",
                principal.account_id,
                principal.scope.path,
                serde_json::json!({})
            );
        });
        Ok(())
    }

    /// Marks (or unmarks) an account as the leader of its unit, who
    /// approves the unit's answers to feedback.
    pub async fn set_leads_unit(&self, actor: &Actor, username: &str, leads: bool) -> Result<()> {
        let p = self.principal_by_username(username).await?;
        in_tx!(&self.db, |tx| {
            sqlx::query("UPDATE accounts SET leads_unit = $2 WHERE id = $1")
                .bind(p.account_id)
                .bind(leads)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "update",
                "account",
                p.account_id,
                p.scope.path,
                serde_json::json!({"leads_unit": leads})
            );
            Ok::<(), StoreError>(())
        })
    }

    pub async fn principal_by_username(&self, username: &str) -> Result<Principal> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} {ACCOUNT_FROM} WHERE a.username = $1 AND a.active = TRUE"
        );
        let row: Option<AccountRow> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(username)
            .fetch_optional(p)
            .await?);
        row.and_then(AccountRow::principal)
            .ok_or(StoreError::NotFound)
    }

    /// Opens a session; returns (session token, CSRF token).
    pub async fn create_session(&self, account_id: i64) -> Result<(String, String)> {
        let (token, hash) = new_token();
        let (csrf, _) = new_token();
        let now = self.now();
        on_db!(&self.db, |p| {
            sqlx::query("INSERT INTO sessions (token_hash, account_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&hash)
            .bind(account_id)
            .bind(&csrf)
            .bind(now)
            .bind(now + SESSION_SECONDS)
            .execute(p)
            .await
            .map(|_| ())?
        });
        Ok((token, csrf))
    }

    /// The principal and CSRF token of a live session.
    pub async fn session(&self, token: &str) -> Result<Option<(Principal, String)>> {
        let sql = "SELECT a.id, a.username, a.display_name, a.password_hash, a.role, a.unit_id, a.team_id, u.path AS unit_path, t.path AS team_path, a.leads_unit, s.csrf_token \
             FROM sessions s JOIN accounts a ON a.id = s.account_id LEFT JOIN units u ON u.id = a.unit_id LEFT JOIN teams t ON t.id = a.team_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.active = TRUE";
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            account: AccountRow,
            csrf_token: String,
        }
        let row: Option<Row> = on_db!(&self.db, |p| sqlx::query_as(sql)
            .bind(token_hash(token))
            .bind(self.now())
            .fetch_optional(p)
            .await?);
        Ok(row.and_then(|r| r.account.principal().map(|p| (p, r.csrf_token))))
    }

    pub async fn delete_session(&self, token: &str) -> Result<()> {
        on_db!(&self.db, |p| sqlx::query(
            "DELETE FROM sessions WHERE token_hash = $1"
        )
        .bind(token_hash(token))
        .execute(p)
        .await
        .map(|_| ())?);
        Ok(())
    }

    /// Changes a password after checking the current one, which is
    /// limited like a login (a wrong one counts against the account and
    /// slows it down); ends every other session and revokes the account's
    /// API keys (a key made by someone who knew the old password dies with
    /// it). Gateway keys, set in a gateway's configuration, are kept.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        keep_session: &str,
    ) -> Result<()> {
        let now = self.now();
        let (hash, failed, not_before): (String, i32, Option<i64>) =
            on_db!(&self.db, |p| sqlx::query_as(
                "SELECT password_hash, failed_logins, login_not_before FROM accounts WHERE id = $1"
            )
            .bind(principal.account_id)
            .fetch_one(p)
            .await?);
        if let Some(t) = not_before.filter(|t| *t > now) {
            return Err(StoreError::Rejected(Problem::PasswordWait {
                seconds: t - now,
            }));
        }
        if !verify_password(current, &hash) {
            self.record_failure(principal.account_id, i64::from(failed) + 1, "", true)
                .await?;
            return Err(StoreError::Rejected(Problem::PasswordCurrentWrong));
        }
        check_password_rules(new, &principal.username)?;
        let new_hash = hash_password(new)?;
        let actor = principal.actor();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE accounts SET password_hash = $1, password_changed_at = $2, failed_logins = 0, login_not_before = NULL WHERE id = $3",
            )
            .bind(&new_hash)
            .bind(now)
            .bind(principal.account_id)
            .execute(&mut *tx)
            .await?;
            let revoked = end_access(
                &mut *tx,
                principal.account_id,
                &token_hash(keep_session),
                now,
            )
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "change_password",
                "account",
                principal.account_id,
                principal.scope.path,
                serde_json::json!({"api_tokens_revoked": revoked})
            );
            Ok::<(), StoreError>(())
        })?;
        self.forget_api_tokens();
        Ok(())
    }

    /// Creates an API token for a user, valid [`DEFAULT_TOKEN_DAYS`]; the
    /// token is shown once.
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        username: &str,
        label: &str,
    ) -> Result<String> {
        self.create_token(actor, username, label, TokenKind::Api)
            .await
    }

    /// Creates a token of `kind` for a user, valid [`DEFAULT_TOKEN_DAYS`].
    pub async fn create_token(
        &self,
        actor: &Actor,
        username: &str,
        label: &str,
        kind: TokenKind,
    ) -> Result<String> {
        self.create_token_for(actor, username, label, kind, Some(DEFAULT_TOKEN_DAYS))
            .await
    }

    /// Creates a token of `kind` for a user, valid `days` (`None`: until
    /// revoked); the token is shown once.
    pub async fn create_token_for(
        &self,
        actor: &Actor,
        username: &str,
        label: &str,
        kind: TokenKind,
        days: Option<i64>,
    ) -> Result<String> {
        let principal = self.principal_by_username(username).await?;
        let label =
            text::clean_required(label, 100).map_err(|e| StoreError::invalid("label", e))?;
        let (token, hash) = new_token();
        let now = self.now();
        let expires_at = days.map(|d| now + d.clamp(1, 3650) * 86400);
        in_tx!(&self.db, |tx| {
            let (id,): (i64,) = sqlx::query_as("INSERT INTO api_tokens (account_id, token_hash, label, created_at, kind, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(principal.account_id)
                .bind(&hash)
                .bind(&label)
                .bind(now)
                .bind(kind.as_str())
                .bind(expires_at)
                .fetch_one(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "create",
                "api_token",
                id,
                principal.scope.path,
                serde_json::json!({"account_id": principal.account_id, "kind": kind.as_str(), "expires_at": expires_at})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(format!("dv_{token}"))
    }

    /// The keys of the accounts in `scope` (all of a user's when
    /// `username` is given), newest first; the key itself is never shown
    /// again, only its label, owner and dates.
    pub async fn api_tokens(
        &self,
        viewer: &Viewer,
        username: Option<&str>,
    ) -> Result<Vec<ApiTokenInfo>> {
        viewer.require(Action::ManageAccounts, &Target::at(&viewer.scope.path))?;
        let scope = &viewer.scope;
        let end = scope.end();
        Ok(on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT k.id, a.username, k.label, k.kind, k.created_at, k.expires_at, k.last_used_at, k.revoked_at, \
             a.role, COALESCE(u.path, t.path, '/') AS path \
             FROM api_tokens k JOIN accounts a ON a.id = k.account_id \
             LEFT JOIN units u ON u.id = a.unit_id LEFT JOIN teams t ON t.id = a.team_id \
             WHERE COALESCE(u.path, t.path, '/') >= $1 AND COALESCE(u.path, t.path, '/') < $2 \
             AND ($3 IS NULL OR a.username = $3) ORDER BY k.id DESC LIMIT 1000"
        )
        .bind(&scope.path)
        .bind(&end)
        .bind(username)
        .fetch_all(p)
        .await?
        }))
    }

    /// Revokes key `id` of an account in `scope`; revoking twice is a no-op.
    pub async fn revoke_api_token(&self, viewer: &Viewer, id: i64) -> Result<()> {
        let (actor, scope) = (&viewer.actor, &viewer.scope);
        let key = self
            .api_tokens(viewer, None)
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(StoreError::NotFound)?;
        // One's own key, or a key of an account one keeps.
        if key.username != viewer.actor.name {
            viewer.require(
                Action::ManageAccounts,
                &Target::at(&key.path).role(key.role),
            )?;
        }
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "revoke",
                "api_token",
                id,
                scope.path,
                serde_json::json!({"username": key.username})
            );
            Ok::<(), StoreError>(())
        })?;
        self.forget_api_tokens();
        Ok(())
    }

    /// Disables an account in `scope`: it cannot log in, its sessions end,
    /// its keys (API and gateway) are revoked and its known browsers
    /// forgotten. Kept, not deleted: the audit log and history name it.
    pub async fn disable_account(&self, viewer: &Viewer, username: &str) -> Result<()> {
        let p = self.principal_by_username(username).await?;
        if !p.scope.path.starts_with(&viewer.scope.path) {
            return Err(StoreError::NotFound);
        }
        viewer.require(
            Action::ManageAccounts,
            &Target::at(&p.scope.path).role(p.role),
        )?;
        let actor = &viewer.actor;
        let now = self.now();
        in_tx!(&self.db, |tx| {
            sqlx::query("UPDATE accounts SET active = FALSE, disabled_at = $2 WHERE id = $1")
                .bind(p.account_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(p.account_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM login_devices WHERE account_id = $1")
                .bind(p.account_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
                .bind(p.account_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "disable",
                "account",
                p.account_id,
                p.scope.path,
                serde_json::json!({})
            );
            Ok::<(), StoreError>(())
        })?;
        self.forget_api_tokens();
        Ok(())
    }

    /// The account of an API token (JSON API, Open311); a gateway token is
    /// no API token.
    pub async fn principal_for_api_token(&self, token: &str) -> Result<Option<Principal>> {
        self.principal_for_token(token, TokenKind::Api).await
    }

    /// The account of an SMS gateway token; an API token is no gateway token.
    pub async fn principal_for_gateway_token(&self, token: &str) -> Result<Option<Principal>> {
        self.principal_for_token(token, TokenKind::Gateway).await
    }

    async fn principal_for_token(&self, token: &str, kind: TokenKind) -> Result<Option<Principal>> {
        let Some(raw) = token.strip_prefix("dv_") else {
            return Ok(None);
        };
        let hash = token_hash(raw);
        // Clients send their key with every request; a revocation takes
        // effect within the cache's two seconds. Keyed by kind too: an API
        // token is no gateway token.
        let key = format!("{}:{hash}", kind.as_str());
        if let Some(p) = self.api_token_cached(&key) {
            return Ok(p);
        }
        let now = self.now();
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            account: AccountRow,
            key_id: i64,
            last_used_at: Option<i64>,
        }
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, k.id AS key_id, k.last_used_at {ACCOUNT_FROM} \
             JOIN api_tokens k ON k.account_id = a.id WHERE k.token_hash = $1 AND k.kind = $2 AND k.revoked_at IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $3) AND a.active = TRUE"
        );
        let row: Option<Row> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&hash)
            .bind(kind.as_str())
            .bind(now)
            .fetch_optional(p)
            .await?);
        // When a key was last used, to the hour: one write an hour per key,
        // not one per request.
        if let Some(r) = row
            .as_ref()
            .filter(|r| r.last_used_at.is_none_or(|t| t < now - 3600))
        {
            on_db!(&self.db, |p| sqlx::query(
                "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1"
            )
            .bind(r.key_id)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())?);
        }
        let principal = row.and_then(|r| r.account.principal());
        self.remember_api_token(key, principal.clone());
        Ok(principal)
    }
}

/// A new password ends the account's other sessions (all but the one
/// whose hash is `keep`) and revokes its API keys: a key made by someone
/// who knew the old password dies with it. Gateway keys, set in a
/// gateway's configuration, are kept. Returns the keys revoked.
async fn end_access<'c>(
    conn: impl Into<crate::conn::Conn<'c>>,
    account_id: i64,
    keep: &str,
    now: i64,
) -> Result<u64> {
    let mut conn = conn.into();
    crate::on_conn!(&mut conn, |c| {
        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND token_hash <> $2")
            .bind(account_id)
            .bind(keep)
            .execute(&mut **c)
            .await?;
    });
    Ok(crate::on_conn!(&mut conn, |c| {
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE account_id = $1 AND kind = 'api' AND revoked_at IS NULL",
        )
        .bind(account_id)
        .bind(now)
        .execute(&mut **c)
        .await?
        .rows_affected()
    }))
}

/// How long a code to set a password lives.
pub const SETUP_SECONDS: i64 = 72 * 3600;

/// An account as the keepers' list shows it (never its password).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AccountInfo {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub unit_id: Option<i64>,
    pub team_id: Option<i64>,
    /// The unit's or the team's name.
    pub place: Option<String>,
    pub path: String,
    pub phone: Option<String>,
    pub active: bool,
    pub leads_unit: bool,
}

/// A new account made by a keeper: it gets no password from them; the
/// person sets their own with the one-time code.
#[derive(Debug, Clone)]
pub struct NewAccountFor {
    pub username: String,
    pub display_name: String,
    pub phone: Option<Phone>,
    pub role: Role,
    pub unit_id: Option<i64>,
    pub team_id: Option<i64>,
}

/// A code to set a password: 16 symbols without look-alikes, four groups.
fn new_setup_code() -> String {
    use danvan_domain::feedback::CODE_ALPHABET;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let symbols: Vec<char> = bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect();
    symbols
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored form of a typed code: spaces, dashes and case do not matter.
fn setup_hash(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    token_hash(&format!("setup:{clean}"))
}

const ACCOUNT_INFO: &str = "SELECT a.id, a.username, a.display_name, a.role, a.unit_id, a.team_id, \
     COALESCE(u.name, t.name) AS place, COALESCE(u.path, t.path, '/') AS path, a.phone, a.active, a.leads_unit \
     FROM accounts a LEFT JOIN units u ON u.id = a.unit_id LEFT JOIN teams t ON t.id = a.team_id";

/// Accounts kept on pages: each asks the policy (`ManageAccounts`, for a
/// role below the keeper's, in their part of the tree) and is audited.
impl Store {
    /// The accounts of the viewer's part of the tree, by place then name
    /// (at most `limit`).
    pub async fn accounts(&self, viewer: &Viewer, limit: i64) -> Result<Vec<AccountInfo>> {
        viewer.require(Action::ManageAccounts, &Target::at(&viewer.scope.path))?;
        let sql = format!(
            "{ACCOUNT_INFO} WHERE COALESCE(u.path, t.path, '/') >= $1 AND COALESCE(u.path, t.path, '/') < $2 \
             ORDER BY COALESCE(u.path, t.path, '/'), a.username LIMIT $3"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&viewer.scope.path)
            .bind(viewer.scope.end())
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// One account the viewer keeps: in their part of the tree and of a
    /// role below theirs (else not found, or refused).
    pub async fn kept_account(&self, viewer: &Viewer, id: i64) -> Result<AccountInfo> {
        let sql = format!("{ACCOUNT_INFO} WHERE a.id = $1");
        let a: Option<AccountInfo> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?);
        let a = a
            .filter(|a| viewer.scope.contains_path(&a.path))
            .ok_or(StoreError::NotFound)?;
        viewer.require(Action::ManageAccounts, &Target::at(&a.path).role(a.role))?;
        Ok(a)
    }

    /// Creates an account for a role at a unit or team of the viewer's
    /// part of the tree, and the one-time code with which its owner sets
    /// a password (returned once; sent by SMS too when the account has a
    /// phone). Nobody but the owner ever knows the password.
    pub async fn create_account_for(
        &self,
        viewer: &Viewer,
        new: &NewAccountFor,
    ) -> Result<(i64, String)> {
        let path = match (new.unit_id, new.team_id) {
            (_, Some(t)) => self.team(&viewer.scope, t).await?.path,
            (Some(u), None) => self.unit(&viewer.scope, u).await?.path,
            (None, None) => "/".to_string(),
        };
        viewer.require(Action::ManageAccounts, &Target::at(&path).role(new.role))?;
        // A password nobody knows until the owner sets theirs.
        let (unknown, _) = new_token();
        let id = self
            .create_account(
                &viewer.actor,
                &NewAccount {
                    username: new.username.clone(),
                    display_name: new.display_name.clone(),
                    phone: new.phone.clone(),
                    password: format!("Dv{unknown}"),
                    role: new.role,
                    unit_id: new.unit_id,
                    team_id: new.team_id,
                },
            )
            .await?;
        let code = self.reset_password(viewer, id).await?;
        Ok((id, code))
    }

    /// A new one-time code for an account's owner to set a password
    /// (earlier unused codes die). The current password keeps working until
    /// the code is used; disable the account to stop it at once.
    pub async fn reset_password(&self, viewer: &Viewer, account_id: i64) -> Result<String> {
        let a = self.kept_account(viewer, account_id).await?;
        let code = new_setup_code();
        let now = self.now();
        let actor = &viewer.actor;
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE password_setups SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
            )
            .bind(account_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let (row,): (i64,) = sqlx::query_as(
                "INSERT INTO password_setups (account_id, code_hash, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(account_id)
            .bind(setup_hash(&code))
            .bind(actor.account_id)
            .bind(now)
            .bind(now + SETUP_SECONDS)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(phone) = &a.phone {
                crate::announce::outbox::queue(
                    &mut *tx,
                    &[crate::announce::outbox::NewSms {
                        recipient: phone,
                        body: format!(
                            "Dan Van: tai khoan {}. Ma dat mat khau: {code} (het han sau 72 gio). Mo trang /password/setup va nhap ma.",
                            a.username
                        ),
                        key: format!("password-setup:{row}"),
                        feedback_id: None,
                        at: now,
                    }],
                )
                .await?;
            }
            audit!(
                &mut *tx,
                self,
                actor,
                "reset_password",
                "account",
                account_id,
                a.path,
                serde_json::json!({"sms": a.phone.is_some()})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(code)
    }

    /// The owner sets their password with a one-time code: the code is
    /// spent, other sessions end and API keys die (as a password change).
    /// Returns the username, to log in with.
    pub async fn set_password_with_code(&self, code: &str, password: &str) -> Result<String> {
        let now = self.now();
        let row: Option<(i64, i64, String)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT s.id, a.id, a.username FROM password_setups s JOIN accounts a ON a.id = s.account_id \
             WHERE s.code_hash = $1 AND s.used_at IS NULL AND s.expires_at > $2 AND a.active = TRUE"
        )
        .bind(setup_hash(code))
        .bind(now)
        .fetch_optional(p)
        .await?
        });
        let (setup_id, account_id, username) =
            row.ok_or(StoreError::Rejected(Problem::PasswordSetupInvalid))?;
        check_password_rules(password, &username)?;
        let hash = hash_password(password)?;
        let p = self.principal_by_username(&username).await?;
        let actor = p.actor();
        in_tx!(&self.db, |tx| {
            let spent = sqlx::query(
                "UPDATE password_setups SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
            )
            .bind(setup_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if spent != 1 {
                return Err(StoreError::Rejected(Problem::PasswordSetupInvalid));
            }
            sqlx::query(
                "UPDATE accounts SET password_hash = $1, password_changed_at = $2, failed_logins = 0, login_not_before = NULL WHERE id = $3",
            )
            .bind(&hash)
            .bind(now)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
            end_access(&mut *tx, account_id, "", now).await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "set_password",
                "account",
                account_id,
                p.scope.path,
                serde_json::json!({"setup_id": setup_id})
            );
            Ok::<(), StoreError>(())
        })?;
        self.forget_api_tokens();
        Ok(username)
    }
}

/// An API or gateway key as its list shows it (never the key itself).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub username: String,
    pub label: String,
    pub kind: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The owner's role and place: who may revoke it.
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub path: String,
}

impl ApiTokenInfo {
    /// Opens its door at `now`.
    pub fn live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// What a token opens. Kept apart so the key a gateway is configured with
/// (often in a plain config file on another machine) cannot read or write
/// through the API, and an app's key cannot pose as the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `Authorization: Bearer` on the JSON API, `api_key` on Open311.
    Api,
    /// `key` of the SMS gateway's callback, `/sms/inbound`.
    Gateway,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Api => "api",
            TokenKind::Gateway => "gateway",
        }
    }
}

/// Argon2id hash of a random string nobody knows; see `authenticate`.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0DOqGhCnEHYJCaXj9QnZBC4UeSJ6tZB9yE3hlaAFq8o";
