//! The registry: the unit tree and its history, teams and their members,
//! households and residents, accounts, and the files that fill or copy them.

pub mod account;
pub mod export;
pub mod household;
pub mod import;
pub mod place;
pub mod reads;
pub mod search;
pub mod stats;
pub mod team;
pub mod unit;
