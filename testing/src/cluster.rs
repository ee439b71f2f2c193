//! Several `timebank-relay` processes on one store behind a real load balancer (Debian's
//! HAProxy, round robin, health-checked on `/healthz`): what a city runs, for the load and
//! failover tests and `timebank-bench load`. Relays can be killed with SIGKILL mid-run;
//! the balancer sends the next requests to the ones left.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::relay::SetupError;

/// Where the relays keep their data.
#[derive(Clone, Debug)]
pub enum Backend {
    /// One SQLite file in this directory, shared by every relay process.
    Sqlite(PathBuf),
    /// A PostgreSQL database URL.
    Postgres(String),
}

impl Backend {
    /// The relay's flags for it.
    pub fn flags(&self) -> Vec<String> {
        match self {
            Backend::Sqlite(dir) => vec!["--data".into(), dir.display().to_string()],
            Backend::Postgres(url) => vec!["--database".into(), url.clone()],
        }
    }
}

/// One relay process.
#[derive(Debug)]
pub struct RelayNode {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RelayNode {
    /// Starts `bin` on a free port with `flags`; waits for it to say where it listens. Its
    /// log (stderr) is appended to `log` if given, and dropped otherwise.
    pub fn start(bin: &Path, backend: &Backend, flags: &[&str], log: Option<&Path>) -> Result<RelayNode, SetupError> {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => Stdio::null(),
        };
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0"])
            .args(backend.flags())
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| SetupError::Other("the relay has no stdout".into()))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("listening on http://127.0.0.1:")
            .and_then(|port| port.parse().ok())
            .ok_or_else(|| SetupError::Other(format!("the relay did not start: {line:?}")))?;
        Ok(RelayNode { child, port })
    }

    /// The relay process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the process used so far, from `/proc`.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time_of(self.child.id())
    }

    /// SIGKILL: no clean shutdown.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// CPU time of process `pid` (user + system), from `/proc/PID/stat`.
pub fn cpu_time_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every platform we run on.
    Some(Duration::from_millis(ticks * 10))
}

/// Where Debian installs HAProxy.
const HAPROXY: &str = "/usr/sbin/haproxy";

/// Whether HAProxy is installed.
pub fn balancer_installed() -> bool {
    Path::new(HAPROXY).exists()
}

/// HAProxy in front of the relays.
#[derive(Debug)]
pub struct Balancer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _config: TempDir,
}

impl Balancer {
    /// Starts HAProxy (Debian's, in /usr/sbin) balancing round robin over
    /// `ports`, checking each relay's `/healthz` every 200 ms (out after 2 failures), and
    /// retrying a request whose connection a dead relay refused on another one.
    pub fn start(ports: &[u16]) -> Result<Balancer, SetupError> {
        let port = free_port()?;
        let dir = tempfile::tempdir()?;
        let servers: String = ports.iter().enumerate().map(|(n, p)| format!("    server relay{n} 127.0.0.1:{p} check\n")).collect();
        let config = format!(
            "global\n    maxconn 4000\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n    \
             option redispatch\n    retries 3\n    retry-on conn-failure empty-response\n\
             frontend relays\n    bind 127.0.0.1:{port}\n    default_backend relays\n\
             backend relays\n    balance roundrobin\n    option httpchk GET /healthz\n    \
             default-server inter 200ms fall 2 rise 2\n{servers}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config)?;
        let child = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| SetupError::Other(format!("could not start HAProxy ({e}); install Debian's haproxy package")))?;
        let balancer = Balancer { child, port, _config: dir };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(SetupError::Other("HAProxy did not start listening".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(balancer)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (free when asked; the caller binds it at once).
pub fn free_port() -> Result<u16, SetupError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Relays on one store behind a balancer.
#[derive(Debug)]
pub struct Cluster {
    /// The relay processes (a killed one stays in the list, dead).
    pub relays: Vec<RelayNode>,
    /// The balancer phones reach.
    pub balancer: Balancer,
}

impl Cluster {
    /// `count` relays of `bin` on `backend` with `flags`, behind a balancer. With `logs`,
    /// relay N's log goes to `relay-N.log` in that directory.
    pub fn start(bin: &Path, backend: &Backend, count: usize, flags: &[&str], logs: Option<&Path>) -> Result<Cluster, SetupError> {
        let relays = (0..count)
            .map(|n| RelayNode::start(bin, backend, flags, logs.map(|dir| dir.join(format!("relay-{n}.log"))).as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let ports: Vec<u16> = relays.iter().map(|r| r.port).collect();
        let balancer = Balancer::start(&ports)?;
        Ok(Cluster { relays, balancer })
    }

    /// Where phones reach the relays.
    pub fn url(&self) -> String {
        self.balancer.url()
    }

    /// CPU time all relay processes used so far.
    pub fn cpu_time(&self) -> Duration {
        self.relays.iter().filter_map(RelayNode::cpu_time).sum()
    }
}
