//! A fresh PostgreSQL database per test (feature `postgres`), on the server that
//! `TIMEBANK_TEST_DATABASE_URL` names: `scripts/postgres.sh` starts a throwaway cluster,
//! sets it, runs the tests and removes the cluster. Each test creates its own database,
//! so tests run in parallel, and drops it when done.
//!
//! Without the variable the PostgreSQL tests are skipped with a notice on stderr, unless
//! `CI=true`: CI never skips them silently. `TIMEBANK_TEST_SKIP_POSTGRES=REASON` skips them
//! on purpose, also in CI, where another suite runs them (scripts/test-all.sh does, under
//! scripts/postgres.sh).

use std::io::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_postgres::{NoTls, SimpleQueryMessage};

/// The variable naming the test server (a `postgres://` URL of a database to connect to
/// for creating others, with a user that may create databases).
pub const URL_VARIABLE: &str = "TIMEBANK_TEST_DATABASE_URL";

/// The variable that skips the PostgreSQL tests on purpose (its value says why).
pub const SKIP_VARIABLE: &str = "TIMEBANK_TEST_SKIP_POSTGRES";

/// A database of its own for one test; dropped (with any connection still open to it)
/// when this is.
#[derive(Debug)]
pub struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A new, empty database named after `label`, or `None` when no test server is set up
    /// (after a notice; in CI, a panic saying how to set one up).
    pub fn create(label: &str) -> Option<TestDatabase> {
        let server = test_server()?;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let label: String = label.chars().filter(char::is_ascii_alphanumeric).take(24).collect::<String>().to_lowercase();
        let name = format!("tb_{label}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let url = with_database(&server, &name)
            .unwrap_or_else(|| panic!("{URL_VARIABLE} is not a postgres://USER@HOST:PORT/DATABASE URL: {server}"));
        run(&server, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("could not create the test database {name} on {server}: {e}"));
        Some(TestDatabase { server, name, url })
    }

    /// Its connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `sql` (one or more statements) in it and returns the rows of the last one, each
    /// column as text (`None` for NULL). A refused statement returns PostgreSQL's words.
    pub fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        run(&self.url, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(error) = run(&self.server, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            let _ = writeln!(std::io::stderr(), "could not drop the test database {}: {error}", self.name);
        }
    }
}

/// The test server's URL, or `None` when the tests are to be skipped.
fn test_server() -> Option<String> {
    if let Some(url) = std::env::var(URL_VARIABLE).ok().filter(|url| !url.is_empty()) {
        return Some(url);
    }
    if let Ok(reason) = std::env::var(SKIP_VARIABLE) {
        notice(&format!("PostgreSQL tests skipped on purpose ({SKIP_VARIABLE}={reason})"));
        return None;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI runs the PostgreSQL tests, but {URL_VARIABLE} is not set: run them under scripts/postgres.sh, which \
         starts a throwaway PostgreSQL and sets it (or set {SKIP_VARIABLE}=REASON where another suite runs them)"
    );
    notice(&format!(
        "PostgreSQL tests skipped: {URL_VARIABLE} is not set. Run them against a throwaway server with \
         `scripts/postgres.sh cargo test -p timebank-server`"
    ));
    None
}

/// Says once per test binary, past the test harness's capture, that tests were skipped.
fn notice(text: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "note: {text}");
    });
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> Option<String> {
    let (base, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let authority = base.find("://")? + 3;
    let path = base.get(authority..)?.find('/').map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", base.get(..path)?);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Some(out)
}

/// Runs `sql` on the database at `url`, on a thread and runtime of its own (callable
/// from any test, async or not).
fn run(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await.map_err(|e| words(&e))?;
            let driver = tokio::spawn(connection);
            let messages = client.simple_query(&sql).await.map_err(|e| words(&e));
            drop(client);
            let _ = driver.await;
            let mut rows = Vec::new();
            for message in messages? {
                match message {
                    SimpleQueryMessage::RowDescription(_) => rows.clear(),
                    SimpleQueryMessage::Row(row) => {
                        rows.push((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect());
                    }
                    _ => {}
                }
            }
            Ok(rows)
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the database thread panicked".into()))
}

/// PostgreSQL's own message, when it sent one.
fn words(error: &tokio_postgres::Error) -> String {
    error.as_db_error().map_or_else(|| error.to_string(), |db| db.message().to_owned())
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn a_test_database_url_keeps_the_server_and_its_parameters() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5433/postgres", "tb_a").as_deref(),
            Some("postgres://postgres@127.0.0.1:5433/tb_a")
        );
        assert_eq!(
            with_database("postgresql://u:p@[::1]:5432?sslmode=disable", "tb_b").as_deref(),
            Some("postgresql://u:p@[::1]:5432/tb_b?sslmode=disable")
        );
        assert_eq!(with_database("host=localhost dbname=x", "tb_c"), None);
    }
}
