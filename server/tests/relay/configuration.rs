//! The relay's configuration, against the real binary: a TOML file beside flags and
//! environment variables (a flag over the environment over the file over the default),
//! `config check` printing the effective settings (never a secret) or what is wrong, the
//! file's settings used when serving, and the log as JSON lines.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};

use crate::process::BIN;

fn config_check(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(BIN).args(args).envs(env.iter().copied()).arg("config").arg("check").output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn config_check_shows_each_setting_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:7001\"\nenroll-limit = 3\ntoken-limit = 4\nmetrics-listen = \"127.0.0.1:9464\"\n\
         public-url = \"https://relay.example.org\"\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let (ok, shown, _) = config_check(
        &["--config", file, "--enroll-limit", "8"],
        &[("TIMEBANK_RELAY_TOKEN_LIMIT", "6"), ("TIMEBANK_RELAY_ENROLL_LIMIT", "7")],
    );
    assert!(ok, "{shown}");
    let table: toml::Table = shown.parse().unwrap();
    assert_eq!(table["enroll-limit"].as_integer(), Some(8), "a flag beats the environment and the file");
    assert_eq!(table["token-limit"].as_integer(), Some(6), "the environment beats the file");
    assert_eq!(table["listen"].as_str(), Some("127.0.0.1:7001"), "the file beats the default");
    assert_eq!(table["login-limit"].as_integer(), Some(20), "the default stands");
    for (key, origin) in [("enroll-limit", "flag"), ("token-limit", "environment"), ("listen", "file"), ("login-limit", "default")] {
        let at = shown.find(&format!("\n{key} = ")).unwrap();
        assert!(
            shown[..at].ends_with(&format!("# ({origin}, env TIMEBANK_RELAY_{})", key.to_uppercase().replace('-', "_"))),
            "{key}: {shown}"
        );
    }

    // A database URL's password never shows.
    let (ok, shown, _) = config_check(&[], &[("TIMEBANK_DATABASE_URL", "postgres://relay:s3cret@db/timebank")]);
    assert!(ok);
    assert!(!shown.contains("s3cret"), "{shown}");

    // What is wrong is said, with the file and the setting, and nothing runs.
    std::fs::write(dir.path().join("bad.toml"), "enroll-limt = 3\n").unwrap();
    let (ok, _, said) = config_check(&["--config", dir.path().join("bad.toml").to_str().unwrap()], &[]);
    assert!(!ok && said.contains("bad.toml") && said.contains("enroll-limt is not a setting"), "{said}");
    let (ok, _, said) = config_check(&["--listen", "nowhere"], &[]);
    assert!(!ok && said.contains("listen = \"nowhere\" is not an address"), "{said}");
}

#[test]
fn the_relay_serves_with_the_files_settings_and_logs_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let file = dir.path().join("relay.toml");
    std::fs::write(&file, format!("listen = \"127.0.0.1:0\"\ndata = {:?}\nlog-format = \"json\"\n", data.to_str().unwrap())).unwrap();
    let mut child = Command::new(BIN).arg("--config").arg(&file).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line}")).to_owned();
    assert!(data.join("relay.sqlite3").is_file(), "the store is in the file's data directory");
    let mut ready = crate::process::agent().get(&format!("{url}/readyz")).call().unwrap();
    assert_eq!(ready.body_mut().read_to_string().unwrap(), "ready");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    assert!(lines.iter().any(|l| l["fields"]["message"] == "relay serving" && l["level"] == "INFO"), "{log}");
    assert!(lines.iter().any(|l| l["fields"]["message"] == "relay stopped"), "{log}");
}

#[test]
fn every_setting_is_documented_in_the_operators_guide() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("--"))
        .map(|flag| flag.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|flag| !flag.is_empty() && !["help", "version"].contains(flag))
        .collect();
    assert!(flags.len() > 15, "{help}");
    let missing: Vec<&&str> = flags.iter().filter(|flag| !guide.contains(&format!("`--{flag}`"))).collect();
    assert!(missing.is_empty(), "settings missing from server/README.md: {missing:?}");
}
