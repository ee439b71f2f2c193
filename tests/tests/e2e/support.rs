//! Test support: the shared test relay (`timebank-testing`: a real SQLite store in a
//! temporary directory, served on 127.0.0.1) with a fault-injecting TCP proxy in front of
//! it, the shared phones (real engines in temporary directories) enrolled over HTTP through
//! the proxy, and a small seeded random number generator.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use automerge::{ChangeHash, ROOT, ReadDoc as _};
use timebank_engine::DocId;
use timebank_engine::documents::{fields, member};
use timebank_engine::model::{MemberId, Role, Visit, VisitId};
use timebank_engine::sync::wire::MAX_BODY_BYTES;
use timebank_server::store::MemberRecord;
pub use timebank_testing::{Phone, Server, on_relay};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ----- the fault-injecting proxy -----

/// What the proxy does with one HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Forwards the request and the whole answer.
    Pass,
    /// Closes the phone's connection before anything reaches the relay.
    CutBeforeForwarding,
    /// Forwards the request, reads the relay's whole answer, then closes the phone's
    /// connection without sending any of it: the relay did the work, the phone never
    /// hears of it.
    CutAfterAnswer,
    /// Forwards the request and sends the phone the head and half of the answer's body.
    CutMidResponse,
}

impl Fault {
    pub const ALL: [Fault; 4] = [Fault::Pass, Fault::CutBeforeForwarding, Fault::CutAfterAnswer, Fault::CutMidResponse];
}

/// Most connections the proxy serves at once; more are closed at once.
const MAX_CONNECTIONS: usize = 32;
/// Longest request or response head.
const MAX_HEAD: usize = 64 * 1024;
/// How long one read or write on either side may take.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct ProxyShared {
    upstream: Mutex<Option<SocketAddr>>,
    faults: Mutex<VecDeque<Fault>>,
    applied: Mutex<Vec<Fault>>,
    stop: AtomicBool,
    live: AtomicUsize,
}

impl ProxyShared {
    fn next_fault(&self) -> Fault {
        let fault = lock(&self.faults).pop_front().unwrap_or(Fault::Pass);
        lock(&self.applied).push(fault);
        fault
    }
}

/// A TCP proxy on 127.0.0.1 in front of the relay, speaking just enough HTTP/1.1 to cut
/// a connection at a chosen point of one exchange. Each request gets its own upstream
/// connection and `Connection: close` on both sides, so one request is one connection
/// and a fault touches exactly one exchange. Std threads, loopback only, bounded.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<ProxyShared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        assert!(upstream.ip().is_loopback(), "the proxy forwards to loopback only, not {upstream}");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(ProxyShared { upstream: Mutex::new(Some(upstream)), ..ProxyShared::default() });
        let accepting = shared.clone();
        let accept = std::thread::Builder::new()
            .name("proxy".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accepting.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    if accepting.live.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                        drop(stream);
                        continue;
                    }
                    accepting.live.fetch_add(1, Ordering::SeqCst);
                    let shared = accepting.clone();
                    let spawned = std::thread::Builder::new().name("proxy-conn".into()).spawn(move || {
                        let _ = handle(&shared, stream);
                        shared.live.fetch_sub(1, Ordering::SeqCst);
                    });
                    if spawned.is_err() {
                        accepting.live.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
            .unwrap();
        Proxy { addr, shared, accept: Some(accept) }
    }

    /// The base URL phones use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next request gets `fault`; later ones pass (unless queued too).
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// Faults queued and not yet used.
    pub fn pending(&self) -> usize {
        lock(&self.shared.faults).len()
    }

    /// What was done with each request so far, in order.
    pub fn applied(&self) -> Vec<Fault> {
        lock(&self.shared.applied).clone()
    }

    /// Points the proxy at another relay (a restarted or restored one).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        assert!(upstream.ip().is_loopback(), "the proxy forwards to loopback only, not {upstream}");
        *lock(&self.shared.upstream) = Some(upstream);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn handle(shared: &ProxyShared, mut client: TcpStream) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(request) = read_request(&mut client)? else { return Ok(()) };
    let fault = shared.next_fault();
    if fault == Fault::CutBeforeForwarding {
        return client.shutdown(Shutdown::Both);
    }
    let upstream = lock(&shared.upstream).ok_or_else(|| io::Error::other("no upstream"))?;
    let mut relay = TcpStream::connect_timeout(&upstream, IO_TIMEOUT)?;
    relay.set_read_timeout(Some(IO_TIMEOUT))?;
    relay.set_write_timeout(Some(IO_TIMEOUT))?;
    relay.write_all(&closing(&request))?;
    let mut response = Vec::new();
    // The relay closes after answering (`Connection: close`): read to the end.
    (&mut relay).take((MAX_BODY_BYTES + MAX_HEAD) as u64).read_to_end(&mut response)?;
    match fault {
        Fault::Pass => client.write_all(&closing(&response))?,
        Fault::CutAfterAnswer | Fault::CutBeforeForwarding => {}
        Fault::CutMidResponse => client.write_all(&response[..cut_point(&response)])?,
    }
    client.flush()?;
    client.shutdown(Shutdown::Write)
}

/// Reads one HTTP request (head and `Content-Length` body). `None` if the client closed
/// without sending one.
fn read_request(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 8192];
    let head_end = loop {
        if let Some(end) = head_end(&buffer) {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            return Err(io::Error::other("request head too long"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return if buffer.is_empty() { Ok(None) } else { Err(io::Error::other("request cut short")) };
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let length = content_length(&buffer[..head_end]).unwrap_or(0);
    if length > MAX_BODY_BYTES + 1 {
        return Err(io::Error::other("request body too long"));
    }
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::other("request body cut short"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buffer))
}

/// Where the head ends (just past the blank line), if it has.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok()).flatten()
    })
}

/// The message with its `Connection` headers replaced by `Connection: close`.
fn closing(message: &[u8]) -> Vec<u8> {
    let Some(end) = head_end(message) else { return message.to_vec() };
    let head = String::from_utf8_lossy(&message[..end - 4]).into_owned();
    let mut lines = head.split("\r\n");
    let mut out = String::new();
    if let Some(first) = lines.next() {
        out.push_str(first);
        out.push_str("\r\nConnection: close");
    }
    for line in lines {
        let name = line.split(':').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive") {
            out.push_str("\r\n");
            out.push_str(line);
        }
    }
    out.push_str("\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&message[end..]);
    bytes
}

/// Somewhere strictly inside the answer: half-way through the body, or through the head
/// if there is no body.
fn cut_point(response: &[u8]) -> usize {
    match head_end(response) {
        Some(end) if response.len() > end => end + (response.len() - end) / 2,
        Some(end) => end / 2,
        None => response.len() / 2,
    }
}

// ----- a relay with its station, behind the proxy -----

/// The shared test relay (a real SQLite store in a temporary directory, one station
/// "Caoyang"), served on a socket with the proxy in front of it.
pub struct TestRelay {
    // Field order is drop order: the proxy, then the relay (its server, its store).
    pub proxy: Proxy,
    base: timebank_testing::TestRelay,
}

impl Deref for TestRelay {
    type Target = timebank_testing::TestRelay;

    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl TestRelay {
    pub fn start() -> TestRelay {
        let base = timebank_testing::TestRelay::new();
        let proxy = Proxy::start(base.addr());
        TestRelay { proxy, base }
    }

    /// A phone of `member`, enrolled over HTTP through the proxy with a fresh code.
    pub fn phone(&self, member: &MemberRecord) -> Phone {
        let phone = self.http_phone_via(&self.proxy.url(), member);
        assert_eq!(phone.engine.identity().member, member.id);
        phone
    }

    /// The heads of the relay's copy of `id`.
    pub fn heads(&self, id: &DocId) -> Vec<ChangeHash> {
        sorted(self.document(id).get_heads())
    }

    /// The visits in `member`'s document on the relay, by id.
    pub fn visits(&self, of: &MemberId) -> BTreeMap<VisitId, Visit> {
        member::visits(&self.document(&DocId::Member(of.clone())), of).into_iter().map(|v| (v.id.clone(), v)).collect()
    }

    /// How many records the `visits` map of `member`'s document holds on the relay,
    /// readable or not: a duplicate under another key would show here.
    pub fn visit_records(&self, of: &MemberId) -> usize {
        let doc = self.document(&DocId::Member(of.clone()));
        fields::map_at(&doc, &ROOT, member::VISITS).map_or(0, |visits| doc.keys(&visits).count())
    }

    /// What `member`'s devices may read (DESIGN.md, "Documents and authority"), written
    /// out here rather than asked of the relay.
    pub fn readable_by(&self, who: &MemberRecord, everyone: &[&MemberRecord]) -> BTreeSet<DocId> {
        let station = self.station.id.clone();
        let mut docs = BTreeSet::from([DocId::Member(who.id.clone()), DocId::Ledger(who.id.clone()), DocId::Station(station.clone())]);
        if who.role == Role::Coordinator {
            docs.insert(DocId::Desk(station));
            for m in everyone {
                docs.insert(DocId::Member(m.id.clone()));
                docs.insert(DocId::Ledger(m.id.clone()));
            }
        }
        docs
    }
}

/// Syncs `phone` until a sync brings nothing (at most three times), each in one
/// exchange that sends nothing. False if it never went quiet.
pub fn settles(phone: &mut Phone) -> bool {
    (0..3).any(|_| {
        let report = phone.sync().unwrap();
        assert_eq!((report.round_trips, report.changes_sent), (1, 0), "{phone:?}: {report:?}");
        report.changes_received == 0
    })
}

pub fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort_unstable();
    heads
}

// ----- randomness -----

/// SplitMix64: small, seeded, reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n as u64)).unwrap_or(0)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
