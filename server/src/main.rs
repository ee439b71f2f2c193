//! `timebank-relay`: serves the relay (default), runs an administrator's command on its
//! store (`timebank-relay admin …`: the SQLite file in its data directory, or the
//! PostgreSQL database `--database` names), or checks its configuration (`config check`).
//! Every serve setting is a flag, an environment variable and a key of the `--config`
//! file, in that order of precedence ([`timebank_server::config`]).

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use timebank_engine::SystemClock;
use timebank_server::admin::{self, AdminCommand, ConsoleUserCommand};
use timebank_server::config::{self, ConfigError};
use timebank_server::console::{self, ConsoleConfig};
use timebank_server::limits::Limits;
use timebank_server::monitor;
use timebank_server::relay::{LiveSettings, Settings};
use timebank_server::store::{self, PgSettings, StoreLocation};
use timebank_server::{Relay, app_with_limits};
use tracing_subscriber::EnvFilter;

/// The timebank relay: sync, enrollment and device tokens for the volunteers' phones.
#[derive(Debug, Parser)]
#[command(name = "timebank-relay", version, about)]
struct Cli {
    /// A TOML file of settings: each key a flag's long name (`listen = "0.0.0.0:8080"`,
    /// `enroll-limit = 10`). A flag or an environment variable overrides the file.
    #[arg(long, global = true, env = "TIMEBANK_RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// How the log is written to stderr: `text` for people, `json` (one object a line) for
    /// a log collector. RUST_LOG chooses what is logged.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TIMEBANK_RELAY_LOG_FORMAT")]
    log_format: LogFormat,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", env = "TIMEBANK_RELAY_LISTEN")]
    listen: String,
    /// The address people and phones reach the relay at (e.g. `https://relay.example.org`);
    /// an https URL marks the console's cookies `Secure` (ADR 0016).
    #[arg(long, global = true, env = "TIMEBANK_RELAY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Serve Prometheus metrics (`GET /metrics`, also `/healthz` and `/readyz`) on this
    /// separate address, e.g. `127.0.0.1:9090`: keep it off the public network. Without it,
    /// no metrics are served.
    #[arg(long, env = "TIMEBANK_RELAY_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Seed a new, empty data directory with a demo station (members, visits synced by
    /// real engines, some awaiting review, orders, a console account) and serve it.
    #[arg(long)]
    demo: bool,
    /// Directory holding the relay's store (the SQLite file; with --database, only what
    /// --demo seeds).
    #[arg(long, global = true, default_value = "data", env = "TIMEBANK_RELAY_DATA")]
    data: PathBuf,
    /// Requests that do store and document work (syncs, console pages) at once, each on a
    /// thread of its own; more wait their turn without one. Enough to keep the cores busy
    /// and group many syncs into one flush to disk; far more only adds switching between
    /// threads (ADR 45).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=1000), env = "TIMEBANK_RELAY_WORK_THREADS")]
    work_threads: u32,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    settings: SettingArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// A PostgreSQL database instead of the SQLite file (ADR 0026): every relay process and
/// admin command that names it shares it.
#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// The PostgreSQL database, `postgres://USER:PASSWORD@HOST:PORT/DATABASE`; its tables
    /// are created or migrated when the relay starts. Without it the store is the SQLite
    /// file in --data.
    #[arg(long, global = true, env = "TIMEBANK_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Connections to PostgreSQL this process keeps at most: how many store calls run at once.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000), env = "TIMEBANK_DB_POOL")]
    db_pool: u32,
    /// Milliseconds one PostgreSQL statement may run (lock waits included) before the
    /// database cancels it and its transaction stores nothing.
    #[arg(long, global = true, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_DB_STATEMENT_TIMEOUT_MS")]
    db_statement_timeout_ms: u32,
}

impl DatabaseArgs {
    /// Where the store is: the database if one is named, else the SQLite file in `data`.
    fn location(&self, data: &Path) -> StoreLocation {
        match &self.database {
            Some(url) => StoreLocation::Postgres(PgSettings {
                url: url.clone(),
                pool_size: usize::try_from(self.db_pool).unwrap_or(PgSettings::DEFAULT_POOL_SIZE),
                statement_timeout: Duration::from_millis(u64::from(self.db_statement_timeout_ms)),
            }),
            None => StoreLocation::Sqlite(data.to_path_buf()),
        }
    }
}

/// How the log is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

/// Per-address rate limits on refused attempts (ADR 0020); past one, the address gets 429.
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Refused enrollments (wrong, used or expired codes) per client address per window.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_ENROLL_LIMIT")]
    enroll_limit: u32,
    /// Syncs with a missing, unknown or revoked device token per client address per window
    /// (syncs with a good token are never limited).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_TOKEN_LIMIT")]
    token_limit: u32,
    /// Failed console sign-ins per client address per window (on top of the lock-out of a
    /// username after 5 failures).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_LOGIN_LIMIT")]
    login_limit: u32,
    /// The window of the limits, in seconds.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_LIMIT_WINDOW_SECS")]
    limit_window_secs: u32,
    /// Client addresses the limiter remembers at most (about 70 bytes each); when full,
    /// new addresses share one budget per limit until windows end.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_LIMIT_ADDRESSES")]
    limit_addresses: u32,
    /// Take the client's address from the last X-Forwarded-For entry, as set by the TLS
    /// proxy in front of the relay (ADR 0009). Only with such a proxy: a client can write
    /// the header itself. Without the flag the header is ignored and the socket's peer counts.
    #[arg(long, env = "TIMEBANK_RELAY_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// Phones' requests with a body declared over the limit, or too slow, per client
    /// address per window.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_BODY_LIMIT")]
    body_limit: u32,
    /// Seconds a phone's request body may take to arrive; a body still arriving then is
    /// cut (408). A 1 MiB page takes 50 s at 20 KB/s (2G).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_BODY_DEADLINE_SECS")]
    body_deadline_secs: u32,
}

/// How the relay answers and bounds devices (ADR 0025).
#[derive(Debug, clap::Args)]
struct SettingArgs {
    /// Most change bytes one answer carries (a phone far behind comes back for the rest).
    #[arg(long, default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u32).range(4096..=4 * 1024 * 1024), env = "TIMEBANK_RELAY_PAGE_BYTES")]
    page_bytes: u32,
    /// Most changes the relay takes from one device per day (UTC); over it, 429 until tomorrow.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_DEVICE_CHANGES_PER_DAY")]
    device_changes_per_day: u32,
    /// Most change bytes the relay takes from one device per day (UTC).
    #[arg(long, default_value_t = 32 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_DEVICE_BYTES_PER_DAY")]
    device_bytes_per_day: u32,
    /// Milliseconds a live channel may stay quiet before a heartbeat goes (ADR 0032); at
    /// most 25,000, which phones count on.
    #[arg(long, default_value_t = 25_000, value_parser = clap::value_parser!(u64).range(100..=25_000), env = "TIMEBANK_RELAY_LIVE_HEARTBEAT_MS")]
    live_heartbeat_ms: u64,
    /// At most one hint per live channel in this many milliseconds (what changes meanwhile
    /// goes in the next).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=60_000), env = "TIMEBANK_RELAY_LIVE_COALESCE_MS")]
    live_coalesce_ms: u64,
    /// Most live channels open at once (each about 21 KiB of the relay's memory, timebank-bench
    /// live); past it, 503.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..), env = "TIMEBANK_RELAY_LIVE_MAX_CHANNELS")]
    live_max_channels: u32,
}

impl SettingArgs {
    fn settings(&self) -> Settings {
        Settings {
            page_bytes: usize::try_from(self.page_bytes).unwrap_or(usize::MAX),
            device_changes_per_day: i64::from(self.device_changes_per_day),
            device_bytes_per_day: i64::from(self.device_bytes_per_day),
            live: LiveSettings {
                heartbeat_ms: self.live_heartbeat_ms,
                coalesce_ms: self.live_coalesce_ms,
                max_channels: usize::try_from(self.live_max_channels).unwrap_or(usize::MAX),
            },
        }
    }
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            enroll: self.enroll_limit,
            token: self.token_limit,
            sign_in: self.login_limit,
            window_ms: i64::from(self.limit_window_secs) * 1000,
            max_addresses: usize::try_from(self.limit_addresses).unwrap_or(usize::MAX),
            trust_forwarded_for: self.trust_forwarded_for,
            body: self.body_limit,
            body_deadline_ms: i64::from(self.body_deadline_secs) * 1000,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Administer districts, stations, members, enrollment codes and devices.
    Admin {
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The relay's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `config …`
#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (each setting with where its value came from:
    /// flag, environment, file or default; secrets never shown) as TOML, or what is wrong.
    Check,
}

fn main() -> ExitCode {
    let loaded = match config::load::<Cli>() {
        Ok(loaded) => loaded,
        Err(ConfigError::CommandLine(error)) => error.exit(),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let cli = &loaded.cli;
    start_logging(cli);
    let location = cli.database.location(&cli.data);
    let result = match &cli.command {
        None => serve(cli, &location, cli.limits.limits(), cli.settings.settings()),
        Some(Command::Admin { json, command }) => run_admin(&location, command, *json),
        Some(Command::Config(ConfigCommand::Check)) => check_config(&loaded),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr in the chosen format. The server logs its work; an admin command only
/// what went wrong (its answer is on stdout). automerge logs a failed load at ERROR
/// although the engine and the relay handle it (and report it themselves): kept quiet
/// unless RUST_LOG asks for it.
fn start_logging(cli: &Cli) {
    let default_level = if cli.command.is_some() { "warn" } else { "info,automerge=off" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let log = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match cli.log_format {
        LogFormat::Text => log.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => log.json().with_ansi(false).init(),
    }
}

/// `config check`: the effective configuration, once the addresses it names resolve.
fn check_config(loaded: &config::Loaded<Cli>) -> Result<(), String> {
    let cli = &loaded.cli;
    for (what, address) in [("listen", Some(&cli.listen)), ("metrics-listen", cli.metrics_listen.as_ref())] {
        if let Some(address) = address {
            std::net::ToSocketAddrs::to_socket_addrs(address.as_str()).map_err(|e| {
                format!("{what} = {address:?} is not an address to listen on ({e}); give HOST:PORT, e.g. 127.0.0.1:8080")
            })?;
        }
    }
    if cli.data.exists() && !cli.data.is_dir() {
        return Err(format!("data = {:?} is not a directory", cli.data.display().to_string()));
    }
    print!("{}", loaded.effective());
    Ok(())
}

fn run_admin(location: &StoreLocation, command: &AdminCommand, json: bool) -> Result<(), String> {
    let mut command = command.clone();
    if let AdminCommand::ConsoleUser(ConsoleUserCommand::Create { password_stdin, password, .. }) = &mut command {
        *password = Some(read_password(*password_stdin)?);
    }
    let report = match admin::run_on_store(location, &command) {
        Some(report) => report.map_err(|e| e.to_string())?,
        None => {
            let store = store::open(location).map_err(|e| e.to_string())?;
            let relay = Relay::new(store, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
            admin::run(&relay, &command).map_err(|e| e.to_string())?
        }
    };
    let out = if json { report.json.to_string() } else { report.text };
    println!("{out}");
    Ok(())
}

/// A new console account's password: the first line of stdin with `--password-stdin`,
/// else asked for on the terminal (typed twice, not echoed).
fn read_password(from_stdin: bool) -> Result<String, String> {
    let read_line = || {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| format!("could not read the password: {e}"))?;
        Ok::<String, String>(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    if from_stdin {
        return read_line();
    }
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to ask for the password on: pass it on stdin with --password-stdin".into());
    }
    // Best effort: turn echo off while the password is typed.
    let echo = |on: bool| std::process::Command::new("stty").arg(if on { "echo" } else { "-echo" }).status();
    let _ = echo(false);
    let ask = |prompt: &str| {
        eprint!("{prompt}");
        let line = read_line();
        eprintln!();
        line
    };
    let first = ask("password for the console account: ");
    let second = ask("the same password again: ");
    let _ = echo(true);
    let (first, second) = (first?, second?);
    if first != second {
        return Err("the two passwords differ; nothing was created".into());
    }
    Ok(first)
}

fn serve(cli: &Cli, location: &StoreLocation, limits: Limits, settings: Settings) -> Result<(), String> {
    let (listen, data, demo) = (cli.listen.as_str(), cli.data.as_path(), cli.demo);
    let public_url = cli.public_url.as_deref();
    if demo {
        console::demo::check_empty(data).map_err(|e| e.to_string())?;
    }
    let console = ConsoleConfig::for_public_url(public_url);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(usize::try_from(cli.work_threads).unwrap_or(usize::MAX))
        .build()
        .map_err(|e| format!("could not start the runtime: {e}"))?;
    runtime.block_on(async {
        let store = store::open(location).map_err(|e| e.to_string())?;
        if demo && !store.stations().map_err(|e| e.to_string())?.is_empty() {
            return Err("the database has stations already; --demo seeds only an empty one, so nothing was changed".into());
        }
        let relay = Arc::new(Relay::with_settings(store, Arc::new(SystemClock), settings).map_err(|e| e.to_string())?);
        // Catch-up: whatever was stored but not yet posted (a crash in between) is posted now.
        relay.reconcile_ledger().map_err(|e| format!("could not reconcile the ledger: {e}"))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("could not listen on {listen}: {e}"))?;
        let address = listener.local_addr().map_err(|e| format!("could not read the bound address: {e}"))?;
        let metrics = match &cli.metrics_listen {
            Some(listen) => {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| format!("could not listen for metrics on {listen}: {e}"))?;
                let address = listener.local_addr().map_err(|e| format!("could not read the metrics address: {e}"))?;
                let routes = monitor::routes(Arc::clone(&relay));
                // Ends with the runtime, when the relay has stopped.
                tokio::spawn(async move {
                    if let Err(error) = axum::serve(listener, routes).await {
                        tracing::error!(%error, "the metrics listener failed");
                    }
                });
                Some(address)
            }
            None => None,
        };
        let accounts = if demo {
            let (relay, data) = (Arc::clone(&relay), data.to_path_buf());
            let seeded = tokio::task::spawn_blocking(move || console::demo::seed(&relay, &data))
                .await
                .map_err(|e| format!("the demo seeding failed: {e}"))?;
            Some(seeded.map_err(|e| e.to_string())?)
        } else {
            None
        };
        // Signals are listened for before the relay says it listens.
        let stop = shutdown_signal();
        let mut stdout = std::io::stdout().lock();
        let mut text = format!("listening on http://{address}\n");
        if let Some(metrics) = metrics {
            text.push_str(&format!("metrics on http://{metrics}/metrics\n"));
        }
        if let Some(accounts) = accounts {
            text.push_str(&format!(
                "demo city seeded (two districts, three stations). Open the console: http://{address}/console/\n  coordinator: username {}  password {}\n  coordinators of the other stations: {}  (same password)\n  district (read-only): username {}\n  city (read-only): username {}\n  proof of presence: {} of the first station's {} visits were approved without a coordinator\n",
                accounts.coordinator, accounts.password, accounts.other_coordinators.join(", "), accounts.district, accounts.city, accounts.hands_free.0, accounts.hands_free.1
            ));
        } else if relay.store().stations().map_err(|e| e.to_string())?.is_empty() {
            // A newcomer's first run: say where the console is and how to see it working.
            text.push_str(&format!(
                "no station yet. The console will be at http://{address}/console/ once an account exists \
                 (admin console-user create). To try everything with sample data, start a new data \
                 directory with --demo: timebank-relay --demo --data demo-data\n"
            ));
        }
        write!(stdout, "{text}").and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
        drop(stdout);
        tracing::info!(%address, store = ?location, ?limits, "relay serving");
        // ConnectInfo gives the rate limits the client's address.
        let app = app_with_limits(Arc::clone(&relay), console, limits).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                stop.await;
                // Live channels never finish by themselves: closed, the devices reconnect later.
                relay.changes().stopping();
            })
            .await
            .map_err(|e| format!("the server failed: {e}"))?;
        tracing::info!("relay stopped");
        Ok(())
    })
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from the call on, so that a signal sent as soon
/// as the relay answers is not missed (before, SIGTERM was listened for only once the
/// server first polled this, and a busy machine could let it kill the relay outright); the
/// future resolves on either.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        let listen =
            |kind: SignalKind, name: &str| signal(kind).map_err(|error| tracing::warn!(%error, "cannot listen for {name}")).ok();
        (listen(SignalKind::interrupt(), "Ctrl-C"), listen(SignalKind::terminate(), "SIGTERM"))
    };
    async move {
        #[cfg(unix)]
        tokio::select! {
            () = received(interrupt) => {},
            () = received(terminate) => {},
        }
        #[cfg(not(unix))]
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing the requests in flight");
    }
}

/// Resolves when `signal` arrives; never, when it could not be listened for.
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
