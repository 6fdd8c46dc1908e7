//! In-memory sliding-window limits for the public ways in: the report form
//! per client address, SMS reports per sender phone. Keys are hashed with a
//! per-process random key before they are kept, so the table holds no
//! address or phone number (and nothing of it reaches a log); a restart
//! forgets everything, which is fine for limits counted in minutes.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// Keys above which expired windows are swept before a new key is added.
const SWEEP_AT: usize = 10_000;

/// At most `max` events per `window` for each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
}

/// The limits of the public ways in (Open311 and the JSON API, which take
/// an api_key, have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Reports through the public form per client address.
    pub report_per_ip: Limit,
    /// New reports by SMS per sender phone.
    pub sms_reports_per_phone: Limit,
    /// A reporter's forms on the status page (ask for a one-time code,
    /// rate, write back) per client address…
    pub reporter_per_ip: Limit,
    /// …and per tracking code, whoever asks.
    pub reporter_per_code: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            report_per_ip: Limit {
                max: 10,
                window: Duration::from_secs(10 * 60),
            },
            sms_reports_per_phone: Limit {
                max: 5,
                window: Duration::from_secs(60 * 60),
            },
            reporter_per_ip: Limit {
                max: 30,
                window: Duration::from_secs(10 * 60),
            },
            reporter_per_code: Limit {
                max: 12,
                window: Duration::from_secs(10 * 60),
            },
        }
    }
}

/// The limiters of one router, shared by its handlers (an `Extension`).
#[derive(Clone)]
pub struct Limiters {
    pub report: RateLimiter,
    pub sms: RateLimiter,
    pub reporter_ip: RateLimiter,
    pub reporter_code: RateLimiter,
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Self {
        Limiters {
            report: RateLimiter::new(limits.report_per_ip),
            sms: RateLimiter::new(limits.sms_reports_per_phone),
            reporter_ip: RateLimiter::new(limits.reporter_per_ip),
            reporter_code: RateLimiter::new(limits.reporter_per_code),
        }
    }
}

/// The address the connection came from, as the key of a limit: an IPv6
/// client is its /64 (one household's or phone's whole range), so walking
/// through addresses of its own does not buy it more.
pub struct ClientKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientKey {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientKey(match crate::client::client_ip(parts) {
            Some(IpAddr::V4(a)) => a.to_string(),
            Some(IpAddr::V6(a)) => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            // Served without connection info (not by `serve_on`): one key.
            None => "unknown".into(),
        }))
    }
}

/// A place taken in a window; given back when dropped unless kept, so an
/// attempt that ends in any error costs nothing.
pub struct Slot {
    limiter: RateLimiter,
    key: String,
    kept: bool,
}

impl Slot {
    /// What the place was taken for happened: it stays counted.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.kept {
            self.limiter.release(&self.key);
        }
    }
}

/// One limit over many keys. Cheap to clone (shared).
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    limit: Limit,
    hasher: RandomState,
    hits: Mutex<HashMap<u64, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(limit: Limit) -> Self {
        RateLimiter {
            inner: Arc::new(Inner {
                limit,
                hasher: RandomState::new(),
                hits: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn limit(&self) -> Limit {
        self.inner.limit
    }

    fn key(&self, key: &str) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    /// Takes one place in `key`'s window, given back unless kept; `None`
    /// when the window is full.
    pub fn acquire(&self, key: &str) -> Option<Slot> {
        self.try_acquire(key).then(|| Slot {
            limiter: self.clone(),
            key: key.to_string(),
            kept: false,
        })
    }

    /// Takes one place in `key`'s window; false (and nothing taken) when
    /// the window is full.
    pub fn try_acquire(&self, key: &str) -> bool {
        self.try_acquire_at(key, Instant::now())
    }

    fn try_acquire_at(&self, key: &str, now: Instant) -> bool {
        let k = self.key(key);
        let Limit { max, window } = self.inner.limit;
        let mut hits = self.inner.hits.lock().unwrap_or_else(|e| e.into_inner());
        if hits.len() >= SWEEP_AT && !hits.contains_key(&k) {
            hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = hits.entry(k).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= max {
            return false;
        }
        q.push_back(now);
        true
    }

    /// Gives back the place last taken for `key`.
    pub fn release(&self, key: &str) {
        let k = self.key(key);
        let mut hits = self.inner.hits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = hits.get_mut(&k) {
            q.pop_back();
            if q.is_empty() {
                hits.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_refuses_until_it_slides() {
        let l = RateLimiter::new(Limit {
            max: 2,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        assert!(l.try_acquire_at("a", t0));
        assert!(l.try_acquire_at("a", t0 + Duration::from_secs(10)));
        assert!(!l.try_acquire_at("a", t0 + Duration::from_secs(20)));
        // Another key has its own window.
        assert!(l.try_acquire_at("b", t0 + Duration::from_secs(20)));
        // The first place expires at 60 s, the second at 70 s.
        assert!(l.try_acquire_at("a", t0 + Duration::from_secs(60)));
        assert!(!l.try_acquire_at("a", t0 + Duration::from_secs(65)));
        // A place given back can be taken again.
        l.release("a");
        assert!(l.try_acquire_at("a", t0 + Duration::from_secs(66)));
    }

    #[test]
    fn a_slot_not_kept_is_given_back() {
        let l = RateLimiter::new(Limit {
            max: 1,
            window: Duration::from_secs(60),
        });
        drop(l.acquire("a").expect("free"));
        let kept = l.acquire("a").expect("given back");
        kept.keep();
        assert!(l.acquire("a").is_none());
    }

    #[test]
    fn expired_keys_are_swept_when_the_table_is_large() {
        let window = Duration::from_secs(60);
        let l = RateLimiter::new(Limit { max: 1, window });
        let t0 = Instant::now();
        for n in 0..SWEEP_AT {
            assert!(l.try_acquire_at(&n.to_string(), t0));
        }
        assert!(l.try_acquire_at("late", t0 + window));
        assert_eq!(l.inner.hits.lock().unwrap().len(), 1);
    }
}
