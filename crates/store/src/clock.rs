//! Time is injected so deadlines and expiries are testable to the second.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use std::sync::Mutex;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(t) => *t,
            Err(p) => *p.into_inner(),
        }
    }
}

/// Vietnam keeps UTC+07:00 all year (the domain's one definition).
pub fn vn_offset() -> FixedOffset {
    danvan_domain::calendar::vn_offset()
}

pub fn vn_today(clock: &dyn Clock) -> NaiveDate {
    clock.now().with_timezone(&vn_offset()).date_naive()
}
