//! The `danvan` binary's library half: what the subcommands share with the
//! integration tests (the demo loader, the benchmark, the sweeper).

pub mod admin;
pub mod bench;
pub mod bench_announce;
pub mod bench_audio;
pub mod bench_feedback;
pub mod demo;
pub mod runtime;
