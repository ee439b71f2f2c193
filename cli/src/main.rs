//! `timebank`: the terminal client on the engine, with the same flows as the phone app.

mod args;
mod output;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            output::print_error(&error, cli.json);
            ExitCode::from(output::exit_code(&error))
        }
    }
}
