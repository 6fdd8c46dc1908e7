//! Accounts, sessions, API tokens and the login limiter.
//!
//! Passwords are hashed with Argon2id; session and API tokens are random and
//! only their SHA-256 is stored, so a copy of the database opens no session.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use danvan_domain::policy::{binding, Binding};
use danvan_domain::problem::Problem;
use danvan_domain::{text, Phone, Role};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{audit, in_tx, on_db, Actor, Result, Scope, Store, StoreError};

/// Sessions last two weeks: volunteers log in on their own phone and should
/// not have to type a password at every visit.
pub const SESSION_SECONDS: i64 = 14 * 24 * 3600;
/// Failed logins allowed per username (and per address) in the window.
pub const MAX_FAILURES: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 50;
pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;
pub const MIN_PASSWORD_CHARS: usize = 8;

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
    #[error("Đăng nhập sai quá nhiều lần. Hãy thử lại sau 15 phút.")]
    TooManyAttempts,
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

const ACCOUNT_SELECT: &str = "SELECT a.id, a.username, a.display_name, a.password_hash, a.role, a.unit_id, a.team_id, u.path AS unit_path, t.path AS team_path, a.leads_unit \
     FROM accounts a LEFT JOIN units u ON u.id = a.unit_id LEFT JOIN teams t ON t.id = a.team_id";

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

fn check_password_rules(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StoreError::Rejected(Problem::PasswordTooShort {
            min: MIN_PASSWORD_CHARS,
        }));
    }
    if password.chars().count() > 200 {
        return Err(StoreError::Rejected(Problem::PasswordTooLong { max: 200 }));
    }
    Ok(())
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
        check_password_rules(&new.password)?;
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

    /// Checks a login (username or phone) and password, counting failures per
    /// login and per client address.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        address: &str,
    ) -> Result<Result<Principal, AuthError>> {
        let login = text::fold(login);
        let now = self.now();
        let since = now - FAILURE_WINDOW_SECONDS;
        let user_key = format!("user:{login}");
        let addr_key = format!("addr:{address}");
        if self.failures(&user_key, since).await? >= MAX_FAILURES
            || self.failures(&addr_key, since).await? >= MAX_FAILURES_PER_ADDRESS
        {
            return Ok(Err(AuthError::TooManyAttempts));
        }
        let phone = Phone::parse(&login)
            .ok()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let sql =
            format!("{ACCOUNT_SELECT} WHERE a.active = TRUE AND (a.username = $1 OR a.phone = $2)");
        let row: Option<AccountRow> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&login)
            .bind(&phone)
            .fetch_optional(p)
            .await?);
        // Verify against a fixed hash when the account is unknown, so timing
        // does not tell which usernames exist.
        let ok = match &row {
            Some(r) => verify_password(password, &r.password_hash),
            None => {
                let _ = verify_password(password, DUMMY_HASH);
                false
            }
        };
        match row.and_then(|r| if ok { r.principal() } else { None }) {
            Some(p) => Ok(Ok(p)),
            None => {
                on_db!(&self.db, |p| {
                    for key in [&user_key, &addr_key] {
                        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                            .bind(key)
                            .bind(now)
                            .execute(p)
                            .await?;
                    }
                    sqlx::query("DELETE FROM login_failures WHERE at < $1")
                        .bind(since - FAILURE_WINDOW_SECONDS)
                        .execute(p)
                        .await?;
                });
                Ok(Err(AuthError::BadCredentials))
            }
        }
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
        let sql = format!("{ACCOUNT_SELECT} WHERE a.username = $1 AND a.active = TRUE");
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

    /// Changes a password after checking the current one; ends every other session.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        keep_session: &str,
    ) -> Result<Result<(), AuthError>> {
        let (hash,): (String,) = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT password_hash FROM accounts WHERE id = $1"
        )
        .bind(principal.account_id)
        .fetch_one(p)
        .await?);
        if !verify_password(current, &hash) {
            return Ok(Err(AuthError::BadCredentials));
        }
        check_password_rules(new)?;
        let new_hash = hash_password(new)?;
        let now = self.now();
        let actor = principal.actor();
        in_tx!(&self.db, |tx| {
            sqlx::query(
                "UPDATE accounts SET password_hash = $1, password_changed_at = $2 WHERE id = $3",
            )
            .bind(&new_hash)
            .bind(now)
            .bind(principal.account_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND token_hash <> $2")
                .bind(principal.account_id)
                .bind(token_hash(keep_session))
                .execute(&mut *tx)
                .await?;
            audit!(
                &mut *tx,
                self,
                actor,
                "change_password",
                "account",
                principal.account_id,
                principal.scope.path,
                serde_json::json!({})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(Ok(()))
    }

    /// Creates an API token for a user; the token is shown once.
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        username: &str,
        label: &str,
    ) -> Result<String> {
        self.create_token(actor, username, label, TokenKind::Api)
            .await
    }

    /// Creates a token of `kind` for a user; the token is shown once.
    pub async fn create_token(
        &self,
        actor: &Actor,
        username: &str,
        label: &str,
        kind: TokenKind,
    ) -> Result<String> {
        let principal = self.principal_by_username(username).await?;
        let (token, hash) = new_token();
        let now = self.now();
        in_tx!(&self.db, |tx| {
            let (id,): (i64,) = sqlx::query_as("INSERT INTO api_tokens (account_id, token_hash, label, created_at, kind) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(principal.account_id)
                .bind(&hash)
                .bind(label)
                .bind(now)
                .bind(kind.as_str())
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
                serde_json::json!({"account_id": principal.account_id, "kind": kind.as_str()})
            );
            Ok::<(), StoreError>(())
        })?;
        Ok(format!("dv_{token}"))
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
        let sql = format!("{ACCOUNT_SELECT} JOIN api_tokens k ON k.account_id = a.id WHERE k.token_hash = $1 AND k.kind = $2 AND k.revoked_at IS NULL AND a.active = TRUE");
        let row: Option<AccountRow> = on_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&hash)
            .bind(kind.as_str())
            .fetch_optional(p)
            .await?);
        let principal = row.and_then(AccountRow::principal);
        self.remember_api_token(key, principal.clone());
        Ok(principal)
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
