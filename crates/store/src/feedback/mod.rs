//! Concerns up: a report from its arrival to its rating — the item and its
//! state changes (`item`, re-exported here), the group-commit writer of new
//! reports (`batch`), the bulk loader (`bulk`), the officers' lists and
//! figures (`inbox`, `query`, `dashboard`, `rollup`), photos and SMS commands.

pub mod batch;
pub mod bulk;
pub mod dashboard;
pub mod inbox;
mod item;
pub mod photo;
pub mod proof;
pub mod publicity;
pub mod query;
pub mod rollup;
pub mod sms;
pub mod write;

pub use item::*;
