//! `timebank-relay`: serves the relay (default), or runs an administrator's command on
//! its data directory (`timebank-relay admin …`).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use timebank_server::admin::{self, AdminCommand};
use timebank_server::{Relay, app};
use tracing_subscriber::EnvFilter;

/// The timebank relay: sync, enrollment and device tokens for the volunteers' phones.
#[derive(Debug, Parser)]
#[command(name = "timebank-relay", version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", env = "TIMEBANK_RELAY_LISTEN")]
    listen: String,
    /// Directory holding the relay's store.
    #[arg(long, global = true, default_value = "data", env = "TIMEBANK_RELAY_DATA")]
    data: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Administer stations, members, enrollment codes and devices.
    Admin {
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs its work; an admin command only what went wrong (its answer is on stdout).
    let default_level = if cli.command.is_some() { "warn" } else { "info" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)))
        .init();
    let result = match &cli.command {
        None => serve(&cli.listen, &cli.data),
        Some(Command::Admin { json, command }) => run_admin(&cli.data, command, *json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_admin(data: &Path, command: &AdminCommand, json: bool) -> Result<(), String> {
    let relay = Relay::open(data).map_err(|e| e.to_string())?;
    let report = admin::run(&relay, command).map_err(|e| e.to_string())?;
    let out = if json { report.json.to_string() } else { report.text };
    println!("{out}");
    Ok(())
}

fn serve(listen: &str, data: &Path) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the runtime: {e}"))?;
    runtime.block_on(async {
        let relay = Arc::new(Relay::open(data).map_err(|e| e.to_string())?);
        // Catch-up: whatever was stored but not yet posted (a crash in between) is posted now.
        relay.reconcile_ledger().map_err(|e| format!("could not reconcile the ledger: {e}"))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("could not listen on {listen}: {e}"))?;
        let address = listener.local_addr().map_err(|e| format!("could not read the bound address: {e}"))?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}").and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
        drop(stdout);
        tracing::info!(%address, data = %data.display(), "relay serving");
        axum::serve(listener, app(relay))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("the server failed: {e}"))?;
        tracing::info!("relay stopped");
        Ok(())
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
