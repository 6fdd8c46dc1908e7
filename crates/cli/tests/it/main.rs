//! One integration test binary (links once). Every scenario runs on SQLite
//! and on PostgreSQL: `both!(name)` makes `name::sqlite` and `name::postgres`.
//! `scripts/test` skips the `postgres` half, saying so, when no server runs.
//! `schema_parity::sqlite_and_postgres` needs both at once (its name has
//! `postgres` in it, so it is skipped with them).
// Tests may unwrap: a panic is how a test fails (the product may not).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
mod access;
mod announce;
mod announce_browser;
mod announce_kill;
mod announce_sms;
mod api;
mod browser;
mod cap;
mod charts_browser;
mod cli;
mod compression;
mod demo_loop;
mod emergency;
mod errors;
mod feedback;
mod fixes_browser;
mod home_due;
mod import;
mod kannel;
mod keeping;
mod loudspeaker;
mod materials;
mod materials_browser;
mod officials;
mod open311;
mod open311_client;
mod pages;
mod place;
mod policy_browser;
mod print;
mod registry;
mod report;
mod route_policy;
mod schema_parity;
mod search;
mod security;
mod trust;
mod trust_web;
