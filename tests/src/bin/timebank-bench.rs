//! `timebank-bench <group> [--json]`: measures timebank against plain automerge doing the
//! same job in the same run. Groups: `engine` (a volunteer's phone store), `sync` (phones
//! syncing with a real relay), `hostile` (the worst request within the bounds), `ledger`
//! (the relay's reconciliation over a district-year), `load` (relay processes behind
//! HAProxy), `live` (the live channel).

use std::alloc::System;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use timebank_testing::cluster::Backend;
use timebank_tests::bench::engine::{self, EngineBench, Instruments};
use timebank_tests::bench::heap::HeapMeter;
use timebank_tests::bench::hostile::{self, HostileBench};
use timebank_tests::bench::ledger::{self, LedgerBench};
use timebank_tests::bench::live::{self, LiveBench};
use timebank_tests::bench::load::{self, LoadBench};
use timebank_tests::bench::presence::{self, PresenceBench};
use timebank_tests::bench::rss::{self, ProbeTarget};
use timebank_tests::bench::sync::{self, SyncBench};
use timebank_tests::bench::{BenchError, Measurement, render_json, render_table};

/// Counts every allocation, so the memory scenarios can see what is held.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Benchmarks timebank against plain automerge (see docs/BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(name = "timebank-bench", version)]
struct Cli {
    /// Print one JSON object per line (scenario, ours, baseline, unit, target, note)
    /// instead of a table.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    group: Group,
}

/// Which scenarios to run.
#[derive(Debug, Subcommand)]
enum Group {
    /// The device engine: open a store holding 2,000 visits (time, memory) and log
    /// visits durably (p50, p99).
    Engine,
    /// Sync with a real relay: round trips and bytes of one visit (alone and among 100
    /// devices), batched upload overhead, merging 10,000 visits, relay throughput and p99
    /// with 500 devices over HTTP.
    Sync {
        /// Devices of the in-process load scenarios (0 leaves them out: the other
        /// scenarios alone, in about a minute).
        #[arg(long, default_value_t = 500)]
        load_devices: usize,
    },
    /// Hostile requests: the most relay time and extra memory one request within the
    /// bounds of one request and the documents' shapes can cost (ADR 0024).
    Hostile,
    /// The relay's ledger: a full rebuild over a district-year (1,000,000 approved visits)
    /// and the cost of one more visit on top of it.
    Ledger,
    /// Proof of presence: the relay's verification of a tapped and of a co-signed visit,
    /// and the fold of the tags' counters, per visit.
    Presence,
    /// Several relay processes on one store behind HAProxy under many phones: syncs/s,
    /// p50/p99 (flat out and at 70 %), the relays' CPU per sync, optionally one relay
    /// SIGKILLed mid-run; ends with every acknowledged visit in the store and the ledger
    /// equal to its rebuild. Needs `cargo build --release -p timebank-server` and HAProxy.
    Load {
        /// Relay processes.
        #[arg(long, default_value_t = 2)]
        relays: usize,
        /// Where the relays keep their data: `sqlite` (one file they share) or `postgres`.
        #[arg(long, default_value = "sqlite")]
        store: String,
        /// PostgreSQL's URL for `--store postgres`.
        #[arg(long, env = "TIMEBANK_DATABASE_URL")]
        database: Option<String>,
        /// Phones.
        #[arg(long, default_value_t = 500)]
        devices: usize,
        /// Seconds of each phase (flat out, then paced).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// SIGKILL one relay halfway through the flat-out phase.
        #[arg(long)]
        kill_one: bool,
        /// Keep the relays' logs in this directory (`relay-N.log`, appended to); without
        /// it they are dropped.
        #[arg(long, value_name = "DIR")]
        relay_logs: Option<std::path::PathBuf>,
    },
    /// The live channel on one relay process: a dispatch reaching a watching phone with
    /// 1,000 devices connected (p50, p99), and how many idle channels the relay holds and
    /// its memory per channel. Needs `cargo build --release -p timebank-server`.
    Live {
        /// Devices connected during the dispatches.
        #[arg(long, default_value_t = 1_000)]
        connected: usize,
        /// Of them, volunteers' phones watching (the rest hold idle channels).
        #[arg(long, default_value_t = 20)]
        watching: usize,
        /// Dispatches measured.
        #[arg(long, default_value_t = 300)]
        dispatches: usize,
        /// Idle channels for the memory figure.
        #[arg(long, default_value_t = 10_000)]
        idle: usize,
    },
    /// Internal: open one store or document in this fresh process and print how many
    /// bytes the resident set grew by.
    #[command(hide = true, group(ArgGroup::new("target").required(true)))]
    Probe {
        /// A store directory to open with `Engine::open`.
        #[arg(long, group = "target")]
        engine: Option<PathBuf>,
        /// A saved automerge document to open with `Automerge::load`.
        #[arg(long, group = "target")]
        automerge: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("timebank-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), BenchError> {
    let mut progress = |line: &str| eprintln!("timebank-bench: {line}");
    let results: Vec<Measurement> = match cli.group {
        Group::Engine => {
            let instruments = Instruments {
                heap: HeapMeter::new(GLOBAL),
                probe_exe: std::env::current_exe().ok().filter(|_| rss::resident_bytes().is_some()),
            };
            engine::run(&EngineBench::default(), &instruments, &mut progress)?
        }
        Group::Sync { load_devices } => sync::run(&SyncBench { load_devices, ..SyncBench::default() }, &mut progress)?,
        Group::Ledger => ledger::run(&LedgerBench::default(), &mut progress)?,
        Group::Presence => presence::run(&PresenceBench::default(), &mut progress)?,
        Group::Load { relays, store, database, devices, seconds, kill_one, relay_logs } => {
            let data = tempfile::Builder::new().prefix("timebank-load-").tempdir()?;
            let backend = match (store.as_str(), database) {
                ("sqlite", _) => Backend::Sqlite(data.path().to_path_buf()),
                ("postgres", Some(url)) => Backend::Postgres(url),
                ("postgres", None) => return Err("--store postgres needs --database URL (or TIMEBANK_DATABASE_URL)".into()),
                (other, _) => return Err(format!("--store {other}: say sqlite or postgres").into()),
            };
            load::run(&LoadBench { relays, backend, devices, seconds, kill_one, relay_logs }, &mut progress)?
        }
        Group::Hostile => hostile::run(&HostileBench::default(), &mut progress)?,
        Group::Live { connected, watching, dispatches, idle } => {
            live::run(&LiveBench { connected, watching, dispatches, idle }, &mut progress)?
        }
        Group::Probe { engine, automerge } => {
            let target = match (engine, automerge) {
                (Some(dir), _) => ProbeTarget::Engine(dir),
                (None, Some(file)) => ProbeTarget::Automerge(file),
                (None, None) => {
                    return Err("say what to probe: --engine DIR or --automerge FILE".into());
                }
            };
            println!("{}", rss::probe(&target)?);
            return Ok(());
        }
    };
    print!("{}", if cli.json { render_json(&results) } else { render_table(&results) });
    Ok(())
}
