//! The `danvan` binary's library half: what the subcommands share with the
//! integration tests (the demo loader and its simulated phones, the unit
//! and team commands, the server's sweeper). The benchmark is `danvan_bench`.

pub mod admin;
pub mod demo;
pub mod phones;
pub mod runtime;
