//! Talking to the relay over HTTP (feature `http`): enrollment, and the sync transport the
//! engine drives (sync, and the contacts of a volunteer's open dispatches). One client for the CLI, the phone bindings and the tests.

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::model::{EnrollLink, MemberId, Role, StationId};
use crate::sync::wire::{self, EnrollRequest, EnrollResponse};
use crate::sync::{Transport, TransportError};
use crate::{Clock, Engine, Enrollment, Error, NewIdentity, RelayLink};

/// How long one exchange may take before the sync gives up (the data stays on the phone).
const TIMEOUT: Duration = Duration::from_secs(60);

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(TIMEOUT)).build().into()
}

/// The app's one HTTP client: every transport made with [`HttpTransport::new`] shares its
/// pool, so a sync reuses the connection the last one left open (within ureq's idle
/// limit, 15 s) instead of paying a new TCP (and, in the field, TLS) handshake, on the
/// phone and on the relay. A pooled connection the relay closed meanwhile is probed and
/// dropped before it is used.
static SHARED: LazyLock<ureq::Agent> = LazyLock::new(agent);

/// POSTs `body` to `url`; returns the body of a 2xx answer, or the relay's error.
fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut request = agent.post(url).header("content-type", "application/octet-stream");
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send(body).map_err(|e| TransportError::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(wire::MAX_BODY_BYTES as u64)
        .read_to_vec()
        .map_err(|e| TransportError::Unreachable(format!("the answer was cut off: {e}")))?;
    if (200..300).contains(&status) {
        return Ok(bytes);
    }
    Err(TransportError::Refused { status, message: relay_message(&bytes) })
}

/// The explanation in a relay's error answer (`{"error": "…"}`), or the answer as text.
pub(crate) fn relay_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// The address of `path` on the relay at `base`.
pub(crate) fn endpoint(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// Refuses a relay address that would send the device token in clear text: `https://`
/// everywhere, plain `http://` only to this machine (tests, a relay on the same host).
pub fn check_relay_url(relay: &str) -> Result<(), Error> {
    let rest = if let Some(rest) = relay.strip_prefix("https://") {
        return if rest.is_empty() { Err(Error::invalid("the relay address has no host")) } else { Ok(()) };
    } else if let Some(rest) = relay.strip_prefix("http://") {
        rest
    } else {
        return Err(Error::invalid(format!("{relay:?} is not a relay address; it starts with https://")));
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        Ok(())
    } else {
        Err(Error::invalid(format!("{relay} would send this phone's secret token unencrypted; use the relay's https:// address")))
    }
}

/// Enrolls this device with the one-time `code`, registering `actor` (hex) and no signing key.
pub fn enroll(relay: &str, code: &str, actor: &str) -> Result<EnrollResponse, Error> {
    enroll_with_key(relay, code, actor, None)
}

/// Enrolls this device with the one-time `code`, registering `actor` (hex) and the public
/// half of its signing key.
pub fn enroll_with_key(relay: &str, code: &str, actor: &str, signing_key: Option<[u8; 32]>) -> Result<EnrollResponse, Error> {
    check_relay_url(relay)?;
    let request = EnrollRequest { code: code.trim().to_owned(), actor: actor.to_owned(), signing_key };
    let reply = post(&agent(), &endpoint(relay, "v1/enroll"), None, &wire::encode(&request))?;
    wire::decode(&reply).map_err(|e| Error::Protocol(format!("the relay's enrollment answer could not be read: {e}")))
}

/// Enrolls a new device with the one-time `code` and creates its store in `dir` with the
/// identity, actor id and token the relay gave it. The member's documents come with the
/// first sync. `code` may be the slip's whole enrollment link ([`EnrollLink`]), which
/// names the relay itself: `relay` may then be empty.
pub fn enroll_store(dir: &Path, relay: &str, code: &str, clock: Arc<dyn Clock>) -> Result<Engine, Error> {
    if dir.join(crate::storage::STORE_FILE).exists() {
        return Err(Error::AlreadyInitialised(dir.to_path_buf()));
    }
    let EnrollLink { relay, code } = EnrollLink::resolve(Some(relay), code)?;
    let relay = relay.as_str();
    let actor = crate::new_device_actor();
    let key = crate::signing::DeviceKey::generate()?;
    let answer = enroll_with_key(relay, &code, &actor, Some(key.public()))?;
    let enrolled = Enrollment {
        identity: NewIdentity {
            member: MemberId::parse(&answer.member)?,
            station: StationId::parse(&answer.station)?,
            role: Role::parse(&answer.role)?,
        },
        actor,
        relay: relay.to_owned(),
        device: answer.device,
        token: answer.token,
        signing_key: Some(key),
    };
    Engine::create_enrolled(dir, &enrolled, clock)
}

/// The sync transport over HTTP, authenticated with the device token. Clones share the
/// connection pool, and so do all transports made with [`HttpTransport::new`].
#[derive(Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    contacts_url: String,
    token: String,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("HttpTransport").field("url", &self.url).finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// A transport to the relay this device enrolled with, on the app's shared connections.
    pub fn new(link: &RelayLink) -> HttpTransport {
        HttpTransport::on(SHARED.clone(), link)
    }

    /// A transport with a connection pool of its own, as a second phone would have: for
    /// tests and benchmarks that play many phones in one process.
    pub fn with_own_connections(link: &RelayLink) -> HttpTransport {
        HttpTransport::on(agent(), link)
    }

    fn on(agent: ureq::Agent, link: &RelayLink) -> HttpTransport {
        HttpTransport {
            agent,
            url: endpoint(&link.url, "v1/sync"),
            contacts_url: endpoint(&link.url, "v1/contacts"),
            token: link.token.clone(),
        }
    }
}

impl Transport for HttpTransport {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        post(&self.agent, &self.url, Some(&self.token), &body)
    }

    fn contacts(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        post(&self.agent, &self.contacts_url, Some(&self.token), &body)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A relay stand-in on 127.0.0.1 that answers every request `ok` on keep-alive
    /// connections and counts the connections it accepted.
    fn counting_relay() -> (RelayLink, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || answer_each(stream));
            }
        });
        (RelayLink { url, token: "secret".into(), device: "d-1".into() }, accepted)
    }

    /// Answers the requests on one connection until the client closes it.
    fn answer_each(stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
        }
    }

    /// The app makes a transport per sync; the syncs still share one connection (one
    /// handshake, not one per sync).
    #[test]
    fn syncs_reuse_the_apps_connection() {
        let (link, accepted) = counting_relay();
        for _ in 0..3 {
            assert_eq!(HttpTransport::new(&link).exchange(b"sync".to_vec()).unwrap(), b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "three syncs, one connection");
    }

    /// Transports with connections of their own (phones played in one process) do not
    /// share them; each keeps its own from one sync to the next.
    #[test]
    fn phones_played_in_one_process_keep_their_own_connections() {
        let (link, accepted) = counting_relay();
        let mut phones = [HttpTransport::with_own_connections(&link), HttpTransport::with_own_connections(&link)];
        for _ in 0..2 {
            for phone in &mut phones {
                assert_eq!(phone.exchange(b"sync".to_vec()).unwrap(), b"ok");
            }
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "two phones, two syncs each, a connection each");
    }
}
