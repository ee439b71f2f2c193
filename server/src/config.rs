//! The relay's configuration (ADR 0036): every serve setting is a flag, an environment
//! variable and a key of an optional TOML file (`--config FILE`, or `TIMEBANK_RELAY_CONFIG`),
//! taken in that order: a flag over the environment, the environment over the file, the
//! file over the built-in default. The file's keys are the flags' long names without the
//! dashes (`listen = "0.0.0.0:8080"`, `enroll-limit = 10`); each value is checked as its
//! flag would be. [`load`] reads it all; [`Loaded::effective`] says where each value came
//! from, with secrets hidden, for `timebank-relay config check`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

/// The id of the flag naming the configuration file.
pub const CONFIG_ARG: &str = "config";

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line itself (clap prints it, with usage, and exits 2).
    #[error(transparent)]
    CommandLine(#[from] clap::Error),
    /// The file cannot be read or is not TOML.
    #[error("the configuration file {path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Where a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Environment,
    /// The configuration file.
    File,
    /// The built-in default.
    Default,
}

impl Origin {
    fn words(self) -> &'static str {
        match self {
            Origin::Flag => "flag",
            Origin::Environment => "environment",
            Origin::File => "file",
            Origin::Default => "default",
        }
    }
}

/// The parsed command line with what the file gave.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The settings, as the program uses them.
    pub cli: T,
    /// The configuration file read, if any.
    pub file: Option<PathBuf>,
    command: Command,
    matches: ArgMatches,
    from_file: BTreeSet<String>,
}

/// Reads the command line of this process, the environment and the configuration file.
pub fn load<T: CommandFactory + FromArgMatches>() -> Result<Loaded<T>, ConfigError> {
    load_from(std::env::args_os().collect())
}

/// [`load`] with the command line `args` (the program's name first).
pub fn load_from<T: CommandFactory + FromArgMatches>(args: Vec<OsString>) -> Result<Loaded<T>, ConfigError> {
    let first = T::command().try_get_matches_from(&args)?;
    let file = first.get_one::<PathBuf>(CONFIG_ARG).cloned();
    let mut command = T::command();
    let mut from_file = BTreeSet::new();
    if let Some(path) = &file {
        for (id, value) in file_defaults(&command, path)? {
            command = command.mut_arg(&id, |arg| arg.default_value(value));
            from_file.insert(id);
        }
    }
    let matches = command.clone().try_get_matches_from(&args)?;
    let cli = T::from_arg_matches(&matches)?;
    Ok(Loaded { cli, file, command, matches, from_file })
}

/// The settings a file may hold: the top-level flags that take a value or are switches,
/// not the file itself, help or version.
fn settings(command: &Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|arg| {
        arg.get_long().is_some()
            && arg.get_id() != CONFIG_ARG
            && !matches!(arg.get_action(), ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version)
    })
}

/// The file's settings as (argument id, value) pairs, each checked as its flag would be.
fn file_defaults(command: &Command, path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let problem = |detail: String| ConfigError::File { path: path.to_path_buf(), detail };
    let text = std::fs::read_to_string(path).map_err(|e| problem(format!("cannot be read ({e})")))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| problem(format!("is not TOML: {}", e.message())))?;
    let mut out = Vec::new();
    for (key, value) in &table {
        let Some(arg) = settings(command).find(|a| a.get_long() == Some(key.as_str())) else {
            let known: Vec<&str> = settings(command).filter_map(Arg::get_long).collect();
            return Err(problem(format!("{key} is not a setting; the settings are {}", known.join(", "))));
        };
        let switch = matches!(arg.get_action(), ArgAction::SetTrue);
        let text = match value {
            toml::Value::Boolean(b) if switch => b.to_string(),
            _ if switch => return Err(problem(format!("{key} is a switch: write {key} = true or {key} = false"))),
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => return Err(problem(format!("{key} = {other} is not a value it takes: write a string or a number"))),
        };
        if !switch {
            check_value(arg, key, &text).map_err(problem)?;
        }
        out.push((arg.get_id().to_string(), text));
    }
    Ok(out)
}

/// Checks `value` as the flag `arg` would check it on the command line.
fn check_value(arg: &Arg, key: &str, value: &str) -> Result<(), String> {
    let alone = Command::new("timebank-relay").no_binary_name(true).arg(arg.clone().global(false).required(false).env(None::<&str>));
    alone.try_get_matches_from([format!("--{key}={value}")]).map(|_| ()).map_err(|error| {
        let said = error.to_string();
        let first = said.lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
        format!("{key} = {value:?} is not accepted: {first}")
    })
}

impl<T> Loaded<T> {
    /// Where the value of the setting `id` came from.
    pub fn origin(&self, id: &str) -> Origin {
        match self.matches.value_source(id) {
            Some(ValueSource::CommandLine) => Origin::Flag,
            Some(ValueSource::EnvVariable) => Origin::Environment,
            _ if self.from_file.contains(id) => Origin::File,
            _ => Origin::Default,
        }
    }

    /// The effective settings as a TOML file (it can be used as one): each with its help,
    /// its environment variable and where its value came from; a secret (a database URL
    /// with its password) is never shown, only whether it is set.
    pub fn effective(&self) -> String {
        let mut out = String::from("# timebank-relay's effective configuration (precedence: flag > environment > file > default)\n");
        if let Some(file) = &self.file {
            let _ = writeln!(out, "# file: {}", file.display());
        }
        for arg in settings(&self.command) {
            let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
            out.push('\n');
            if let Some(help) = arg.get_help() {
                let _ = writeln!(out, "# {}", help.to_string().replace('\n', "\n# "));
            }
            let env = arg.get_env().map(|e| format!(", env {}", e.to_string_lossy())).unwrap_or_default();
            let _ = writeln!(out, "# ({}{env})", self.origin(id).words());
            let raw = self.matches.get_raw(id).and_then(|mut values| values.next()).map(|v| v.to_string_lossy().into_owned());
            match (raw, arg.is_hide_env_values_set()) {
                (Some(_), true) => {
                    let _ = writeln!(out, "# {long} is set (a secret: not shown)");
                }
                (Some(value), false) if matches!(arg.get_action(), ArgAction::SetTrue) => {
                    let _ = writeln!(out, "{long} = {value}");
                }
                (Some(value), false) => match value.parse::<i64>() {
                    Ok(number) => {
                        let _ = writeln!(out, "{long} = {number}");
                    }
                    Err(_) => {
                        let _ = writeln!(out, "{long} = {}", toml::Value::String(value));
                    }
                },
                (None, _) => {
                    let _ = writeln!(out, "# {long} is not set");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command like the relay's: a value with a range, a switch, a secret, a subcommand.
    #[derive(Debug, clap::Parser)]
    struct Example {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080", env = "TIMEBANK_TEST_CONFIG_LISTEN")]
        listen: String,
        /// A limit.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        enroll_limit: u32,
        /// A switch.
        #[arg(long)]
        trust_forwarded_for: bool,
        /// A secret.
        #[arg(long, global = true, env = "TIMEBANK_TEST_CONFIG_DATABASE", hide_env_values = true)]
        database: Option<String>,
        /// The file.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<Sub>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        /// Something else.
        Other,
    }

    fn with_file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, text).unwrap();
        let path = path.to_string_lossy().into_owned();
        (dir, path)
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("timebank-relay").chain(list.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let (_dir, file) = with_file("listen = \"0.0.0.0:9000\"\nenroll-limit = 3\ntrust-forwarded-for = true\n");
        let loaded = load_from::<Example>(args(&["--config", &file, "--enroll-limit", "7"])).unwrap();
        assert_eq!((loaded.cli.listen.as_str(), loaded.cli.enroll_limit, loaded.cli.trust_forwarded_for), ("0.0.0.0:9000", 7, true));
        assert_eq!(loaded.origin("listen"), Origin::File);
        assert_eq!(loaded.origin("enroll_limit"), Origin::Flag);
        let plain = load_from::<Example>(args(&["other"])).unwrap();
        assert_eq!((plain.cli.listen.as_str(), plain.cli.enroll_limit, plain.cli.trust_forwarded_for), ("127.0.0.1:8080", 10, false));
        assert_eq!(plain.origin("listen"), Origin::Default);
        // The file applies to subcommands too (global settings given after them).
        let after = load_from::<Example>(args(&["other", "--config", &file])).unwrap();
        assert_eq!(after.cli.enroll_limit, 3);
    }

    #[test]
    fn a_bad_file_says_what_is_wrong_and_where() {
        for (text, expected) in [
            ("enroll-limit = 0\n", "enroll-limit = \"0\" is not accepted"),
            ("listn = \"x\"\n", "listn is not a setting; the settings are listen, enroll-limit"),
            ("trust-forwarded-for = \"yes\"\n", "is a switch"),
            ("listen = [1, 2]\n", "is not a value it takes"),
            ("listen = \n", "is not TOML"),
        ] {
            let (_dir, file) = with_file(text);
            let error = load_from::<Example>(args(&["--config", &file])).unwrap_err().to_string();
            assert!(error.contains(expected) && error.contains("relay.toml"), "{text:?}: {error}");
        }
        let missing = load_from::<Example>(args(&["--config", "/nowhere/relay.toml"])).unwrap_err().to_string();
        assert!(missing.contains("cannot be read"), "{missing}");
    }

    #[test]
    fn the_effective_configuration_is_toml_with_origins_and_hides_secrets() {
        let (_dir, file) = with_file("enroll-limit = 4\ndatabase = \"postgres://relay:s3cret@db/timebank\"\n");
        let loaded = load_from::<Example>(args(&["--config", &file, "--listen", "127.0.0.1:1"])).unwrap();
        let shown = loaded.effective();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("# database is set (a secret: not shown)"), "{shown}");
        let table: toml::Table = shown.parse().unwrap();
        assert_eq!(table["listen"].as_str(), Some("127.0.0.1:1"));
        assert_eq!(table["enroll-limit"].as_integer(), Some(4));
        assert_eq!(table["trust-forwarded-for"].as_bool(), Some(false));
        assert!(shown.contains("# A limit\n# (file)\nenroll-limit = 4"), "{shown}");
        assert!(shown.contains("# (flag, env TIMEBANK_TEST_CONFIG_LISTEN)\nlisten = "), "{shown}");
    }
}
