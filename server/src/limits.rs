//! Per-address rate limits on the doors a stranger can knock on: enrollment, sync with a
//! missing or bad device token, and the console's sign-in (ADR 0020).
//!
//! Each door counts *refused* attempts per client address in a fixed window that starts at
//! the address's first refusal. Past the door's limit the address is answered 429 with
//! `Retry-After`, and the relay records one "rate limited" security event per address and
//! window instead of a row per attempt, so a stranger cannot grow the store. Enrollments
//! that succeed and syncs with a good token are never counted or slowed: the phones of a
//! station behind one NAT address share its budget only for their mistakes.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::DateTime;
use timebank_engine::Clock;

use crate::error::{AppError, Refusal};
use crate::metrics::Metrics;
use crate::store::{Millis, RelayStore, SecurityEvent};

/// A door with its own limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Door {
    /// `POST /v1/enroll`: every refused enrollment counts.
    Enroll,
    /// `POST /v1/sync` with a missing, unknown or revoked device token.
    Token,
    /// `POST /console/login` with a wrong password or a locked username.
    SignIn,
    /// A phone's request whose body is declared over the limit or arrives too slowly.
    Body,
}

impl Door {
    fn attempts(self) -> &'static str {
        match self {
            Door::Enroll => "refused enrollments",
            Door::Token => "syncs with a missing, unknown or revoked device token",
            Door::SignIn => "failed console sign-ins",
            Door::Body => "requests with an oversized or too slow body",
        }
    }

    /// The door's name in the metrics.
    pub fn name(self) -> &'static str {
        match self {
            Door::Enroll => "enroll",
            Door::Token => "token",
            Door::SignIn => "sign-in",
            Door::Body => "body",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Door::Enroll => "check the code with the coordinator first",
            Door::Token => "if this is a station's phone, the coordinator can enroll it again",
            Door::SignIn => "check the username and password first",
            Door::Body => "sync on a better connection or in smaller pages",
        }
    }
}

/// How many refusals each door allows an address per window, and how addresses are found
/// (the relay's serve flags, see `server/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Refused enrollments per address per window.
    pub enroll: u32,
    /// Syncs with a missing, unknown or revoked token per address per window.
    pub token: u32,
    /// Failed console sign-ins per address per window.
    pub sign_in: u32,
    /// Requests with a body declared over the limit or too slow, per address per window.
    pub body: u32,
    /// How long a phone's request body may take to arrive, in milliseconds: a body still
    /// arriving then is cut (408), so a slow sender holds a connection, not the relay.
    pub body_deadline_ms: Millis,
    /// The window, in milliseconds.
    pub window_ms: Millis,
    /// Addresses remembered at most (bounds the memory: about 70 bytes each); when full,
    /// new addresses share one budget per door until windows expire.
    pub max_addresses: usize,
    /// Take the client's address from the last `X-Forwarded-For` entry (set by the TLS
    /// proxy in front of the relay, ADR 0009) instead of the socket's peer.
    pub trust_forwarded_for: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            enroll: 10,
            token: 20,
            sign_in: 20,
            body: 20,
            body_deadline_ms: 60_000,
            window_ms: 15 * 60 * 1000,
            max_addresses: 100_000,
            trust_forwarded_for: false,
        }
    }
}

impl Limits {
    fn of(&self, door: Door) -> u32 {
        match door {
            Door::Enroll => self.enroll,
            Door::Token => self.token,
            Door::SignIn => self.sign_in,
            Door::Body => self.body,
        }
    }
}

/// Whom a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// An IPv4 address, or an IPv6 /64 network (one subscriber holds a whole /64).
    Address(IpAddr),
    /// No address known (the router called without a socket): such callers share one budget.
    Unknown,
    /// Every new address while the limiter is full: they share one budget.
    Crowd,
}

impl Client {
    /// The client an address belongs to.
    pub fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client::Address(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::Address(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Client::Address(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
        }
    }

    /// The client of a request: the last `X-Forwarded-For` entry when the proxy is trusted
    /// and set one, else the socket's peer, else [`Client::Unknown`].
    pub fn of_request(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded_for: bool) -> Client {
        let forwarded = if trust_forwarded_for { forwarded_for(headers) } else { None };
        forwarded.or(peer.map(|peer| peer.ip())).map_or(Client::Unknown, Client::of)
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Client::Address(IpAddr::V6(v6)) => write!(f, "{v6}/64"),
            Client::Address(ip) => write!(f, "{ip}"),
            Client::Unknown => f.write_str("an unknown address"),
            Client::Crowd => f.write_str("new addresses while the limiter was full"),
        }
    }
}

/// The entry the proxy appended: the last of the last `X-Forwarded-For` header (earlier
/// entries come from the client and prove nothing).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    last.parse::<IpAddr>().ok().or_else(|| last.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

/// An address over its limit at a door: what it is told, and whether this is the first
/// time in the window (then one security event is recorded).
#[derive(Clone, Debug)]
pub struct Limited {
    /// The door.
    pub door: Door,
    /// The address.
    pub client: Client,
    /// When the address may try again (milliseconds since the epoch).
    pub until: Millis,
    /// Seconds until then (at least 1), for `Retry-After`.
    pub retry_after_secs: u64,
    limit: u32,
    window_ms: Millis,
    report: bool,
}

impl Limited {
    /// The relay's JSON error (429 with `Retry-After`).
    pub fn error(&self) -> AppError {
        let until =
            DateTime::from_timestamp_millis(self.until).map_or_else(String::new, |t| t.format(" (after %H:%M UTC)").to_string());
        let minutes = self.retry_after_secs.div_ceil(60);
        AppError::TooManyRequests {
            message: format!(
                "too many {} from this network address ({} within {} minutes); this attempt was not checked. Try again in {minutes} minute{}{until}; {}",
                self.door.attempts(),
                self.limit,
                self.window_ms / 60_000,
                if minutes == 1 { "" } else { "s" },
                self.door.advice()
            ),
            retry_after_secs: self.retry_after_secs,
        }
    }

    /// The window's one security event, the first time the address is limited in it.
    fn event(&self, now: Millis) -> Option<SecurityEvent> {
        self.report.then(|| SecurityEvent {
            at: now,
            device: None,
            member: None,
            doc: None,
            reason: format!(
                "rate limited: {} from {} reached {} within {} minutes; further attempts are refused until {} without a row each",
                self.door.attempts(),
                self.client,
                self.limit,
                self.window_ms / 60_000,
                DateTime::from_timestamp_millis(self.until).map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            ),
        })
    }
}

/// One address's refusals at one door in the current window.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: Millis,
    refused: u32,
    reported: bool,
}

#[derive(Debug, Default)]
struct Windows {
    open: HashMap<(Door, Client), Window>,
    /// Expired windows are swept when the map is full, at most once a second.
    next_sweep: Millis,
}

/// The relay's limiter: counts refusals per door and address on the relay's clock.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    clock: Arc<dyn Clock>,
    windows: Mutex<Windows>,
    /// Whether the operator was told that a proxy's header is being ignored.
    warned_of_proxy: AtomicBool,
    /// Where each answer 429 is counted.
    metrics: Arc<Metrics>,
}

impl Limiter {
    /// A limiter with `limits`, reading the time from `clock` (the relay's).
    pub fn new(limits: Limits, clock: Arc<dyn Clock>) -> Limiter {
        Limiter {
            limits,
            clock,
            windows: Mutex::new(Windows::default()),
            warned_of_proxy: AtomicBool::new(false),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The limiter counting its answers 429 in `metrics` (the relay's).
    pub fn counting_in(self, metrics: Arc<Metrics>) -> Limiter {
        Limiter { metrics, ..self }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn now(&self) -> Millis {
        self.clock.now().timestamp_millis()
    }

    /// Whether `client` may knock on `door` now: `Err` once its refusals in this window
    /// reached the door's limit.
    pub fn check(&self, door: Door, client: Client) -> Result<(), Limited> {
        let now = self.now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let key = self.key(&mut windows, door, client, now);
        let limit = self.limits.of(door);
        match windows.open.get_mut(&key) {
            Some(window) if now < window.start + self.limits.window_ms && window.refused >= limit => {
                Err(self.limited(key, window, now))
            }
            _ => Ok(()),
        }
    }

    /// Counts one refusal of `client` at `door`: `Err` when it is over the limit.
    pub fn refused(&self, door: Door, client: Client) -> Result<(), Limited> {
        let now = self.now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let key = self.key(&mut windows, door, client, now);
        let fresh = Window { start: now, refused: 0, reported: false };
        let window = windows.open.entry(key).or_insert(fresh);
        if now >= window.start + self.limits.window_ms {
            *window = fresh;
        }
        window.refused = window.refused.saturating_add(1);
        if window.refused <= self.limits.of(door) { Ok(()) } else { Err(self.limited(key, window, now)) }
    }

    /// The key `client` counts under: its own, or the crowd's while the map is full.
    fn key(&self, windows: &mut Windows, door: Door, client: Client, now: Millis) -> (Door, Client) {
        if windows.open.contains_key(&(door, client)) || windows.open.len() < self.limits.max_addresses {
            return (door, client);
        }
        if now >= windows.next_sweep {
            let window_ms = self.limits.window_ms;
            windows.open.retain(|_, window| now < window.start + window_ms);
            windows.next_sweep = now + 1000;
        }
        if windows.open.len() < self.limits.max_addresses { (door, client) } else { (door, Client::Crowd) }
    }

    fn limited(&self, (door, client): (Door, Client), window: &mut Window, now: Millis) -> Limited {
        let until = window.start + self.limits.window_ms;
        let report = !window.reported;
        window.reported = true;
        self.metrics.rate_limited(door.name());
        Limited {
            door,
            client,
            until,
            retry_after_secs: u64::try_from(until - now).unwrap_or(0).div_ceil(1000).max(1),
            limit: self.limits.of(door),
            window_ms: self.limits.window_ms,
            report,
        }
    }

    /// Records the window's one security event of `limited`, if due. A store that fails
    /// is logged: the attempt is refused all the same.
    pub fn report(&self, store: &dyn RelayStore, limited: &Limited) {
        if let Some(event) = limited.event(self.now()) {
            tracing::warn!(door = ?limited.door, client = %limited.client, "rate limited");
            if let Err(error) = store.record_security_event(&event) {
                tracing::error!(%error, "could not record the rate-limit security event");
            }
        }
    }
}

/// The limiter and the caller's address: what the handler of a limited door extracts.
#[derive(Clone, Debug)]
pub struct Gate {
    limiter: Arc<Limiter>,
    /// Whom the request counts against.
    pub client: Client,
}

impl<S: Send + Sync> FromRequestParts<S> for Gate {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Gate, AppError> {
        let limiter = parts.extensions.get::<Arc<Limiter>>().cloned().ok_or_else(|| {
            AppError::Internal("the router was built without its rate limiter; build it with timebank_server::app".into())
        })?;
        // The socket's peer (or a test's MockConnectInfo); absent when called without a socket.
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state).await.ok().map(|ConnectInfo(peer)| peer);
        let client = Client::of_request(&parts.headers, peer, limiter.limits.trust_forwarded_for);
        let proxied = peer.is_some_and(|peer| peer.ip().is_loopback()) && parts.headers.contains_key("x-forwarded-for");
        if proxied && !limiter.limits.trust_forwarded_for && !limiter.warned_of_proxy.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "requests arrive through a proxy on this machine (X-Forwarded-For) but --trust-forwarded-for is off: \
                 all its clients share one rate-limit budget; pass the flag if the proxy sets the header"
            );
        }
        Ok(Gate { limiter, client })
    }
}

impl Gate {
    /// The limits the relay serves with.
    pub fn limits(&self) -> &Limits {
        self.limiter.limits()
    }

    /// Before the work: `Err` when the caller is over the limit at `door` (the window's
    /// one security event is recorded).
    pub fn admit(&self, store: &dyn RelayStore, door: Door) -> Result<(), Limited> {
        self.limiter.check(door, self.client).inspect_err(|limited| self.limiter.report(store, limited))
    }

    /// After a failure: counts it; `Err` when that puts the caller over the limit (the
    /// window's one security event is recorded).
    pub fn failed(&self, store: &dyn RelayStore, door: Door) -> Result<(), Limited> {
        self.limiter.refused(door, self.client).inspect_err(|limited| self.limiter.report(store, limited))
    }

    /// After a refusal: counts it and records its security event, or, over the limit,
    /// answers 429 and records nothing more. The relay's own failures are not counted.
    pub fn refuse(&self, store: &dyn RelayStore, door: Door, refusal: Refusal) -> AppError {
        if matches!(refusal.error, AppError::Internal(_)) {
            return refusal.error;
        }
        match self.failed(store, door) {
            Ok(()) => refusal.record(store),
            Err(limited) => limited.error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use chrono::Utc;
    use timebank_engine::SystemClock;

    fn limiter(max_addresses: usize) -> Limiter {
        let limits = Limits { enroll: 2, max_addresses, ..Limits::default() };
        Limiter::new(limits, Arc::new(SystemClock))
    }

    fn address(text: &str) -> Client {
        Client::of(text.parse().unwrap())
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address("2001:db8:1:2:aaaa::1"), address("2001:db8:1:2:bbbb::2"));
        assert_ne!(address("2001:db8:1:2::1"), address("2001:db8:1:3::1"));
        assert_eq!(address("::ffff:203.0.113.7"), address("203.0.113.7"));
        assert_eq!(address("2001:db8:1:2::9").to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn forwarded_for_is_read_only_when_trusted_and_only_its_last_entry() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("10.9.9.9, 198.51.100.1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("1.1.1.1, 203.0.113.7"));
        let peer = Some("127.0.0.1:5000".parse().unwrap());
        assert_eq!(Client::of_request(&headers, peer, true), address("203.0.113.7"));
        assert_eq!(Client::of_request(&headers, peer, false), address("127.0.0.1"));
        assert_eq!(Client::of_request(&HeaderMap::new(), peer, true), address("127.0.0.1"));
        assert_eq!(Client::of_request(&HeaderMap::new(), None, true), Client::Unknown);
        let mut with_port = HeaderMap::new();
        with_port.insert("x-forwarded-for", HeaderValue::from_static("[2001:db8::1]:443"));
        assert_eq!(Client::of_request(&with_port, None, true), address("2001:db8::1"));
    }

    #[test]
    fn refusals_over_the_limit_are_limited_and_reported_once() {
        let limiter = limiter(10);
        let client = address("203.0.113.7");
        assert!(limiter.check(Door::Enroll, client).is_ok());
        assert!(limiter.refused(Door::Enroll, client).is_ok());
        assert!(limiter.refused(Door::Enroll, client).is_ok());
        let first = limiter.check(Door::Enroll, client).unwrap_err();
        assert!(first.report && first.retry_after_secs > 14 * 60);
        assert!(!limiter.check(Door::Enroll, client).unwrap_err().report);
        assert!(!limiter.refused(Door::Enroll, client).unwrap_err().report);
        assert!(limiter.check(Door::SignIn, client).is_ok(), "each door counts apart");
        assert!(limiter.check(Door::Enroll, address("203.0.113.8")).is_ok());
        assert!(first.event(Utc::now().timestamp_millis()).unwrap().reason.contains("203.0.113.7"));
    }

    #[test]
    fn a_full_limiter_counts_new_addresses_as_one_crowd() {
        let limiter = limiter(2);
        for n in 1..=2 {
            limiter.refused(Door::Enroll, address(&format!("198.51.100.{n}"))).unwrap();
        }
        limiter.refused(Door::Enroll, address("198.51.100.3")).unwrap();
        limiter.refused(Door::Enroll, address("198.51.100.4")).unwrap();
        let crowd = limiter.check(Door::Enroll, address("198.51.100.5")).unwrap_err();
        assert_eq!(crowd.client, Client::Crowd);
        let windows = limiter.windows.lock().unwrap();
        assert_eq!(windows.open.len(), 3, "two addresses and the crowd: {:?}", windows.open.keys());
    }
}
