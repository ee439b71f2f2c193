//! Test support: the shared test relay with a second station, coordinators' console
//! accounts, and a client that keeps cookies and reads each page's CSRF token, like a
//! browser.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use timebank_server::registry::{self, AccountScope};
use timebank_server::store::{DEFAULT_DISTRICT, MemberRecord, StationRecord};
use timebank_testing::{FakeClock, TestRelay};

/// The password every test account has.
pub const PASSWORD: &str = "correct horse battery";

/// A relay (the shared test relay) with two stations of the default district, each with a
/// coordinator who has a console account (`li` at Caoyang, `zhao` at Ganquan), the
/// district's `qu`; a third station in 长宁区 (its coordinator `he`, its district's `chang`);
/// and the city's `shi`.
pub struct Console {
    base: TestRelay,
    pub other: StationRecord,
    pub coordinator: MemberRecord,
    /// The station of the other district.
    pub across: StationRecord,
}

impl Deref for Console {
    type Target = TestRelay;

    fn deref(&self) -> &TestRelay {
        &self.base
    }
}

impl DerefMut for Console {
    fn deref_mut(&mut self) -> &mut TestRelay {
        &mut self.base
    }
}

impl Console {
    pub fn new() -> Console {
        Console::on(TestRelay::builder().station("曹杨新村街道").start())
    }

    /// The same relay on a clock set at `instant` that moves only when the test moves it,
    /// and the phones read it too: every date a test derives (a visit's start, the month
    /// and year of a report) comes from that one clock, whatever the real time.
    pub fn at(instant: DateTime<Utc>) -> Console {
        let clock = FakeClock::new(instant, "relay");
        Console::on(TestRelay::builder().station("曹杨新村街道").clock(clock).phones_on_relay_clock().start())
    }

    fn on(relay: TestRelay) -> Console {
        let other = registry::create_station(&relay.relay, "甘泉路街道").unwrap();
        let coordinator = relay.member("coordinator", "李协调");
        let theirs = relay.member_at(&other, "coordinator", "赵协调");
        let station = AccountScope::Station(relay.station.id.as_str());
        registry::create_console_user(&relay.relay, "li", PASSWORD, station, Some(coordinator.id.as_str())).unwrap();
        let theirs = Some(theirs.id.as_str());
        registry::create_console_user(&relay.relay, "zhao", PASSWORD, AccountScope::Station(other.id.as_str()), theirs).unwrap();
        registry::create_console_user(&relay.relay, "qu", PASSWORD, AccountScope::District(DEFAULT_DISTRICT), None).unwrap();
        let changning = registry::create_district(&relay.relay, "长宁区").unwrap();
        let across = registry::create_station_in(&relay.relay, "新华路街道", changning.id.as_str()).unwrap();
        let hers = relay.member_at(&across, "coordinator", "何协调");
        registry::create_console_user(&relay.relay, "he", PASSWORD, AccountScope::Station(across.id.as_str()), Some(hers.id.as_str()))
            .unwrap();
        registry::create_console_user(&relay.relay, "chang", PASSWORD, AccountScope::District(changning.id.as_str()), None).unwrap();
        registry::create_console_user(&relay.relay, "shi", PASSWORD, AccountScope::City, None).unwrap();
        Console { base: relay, other, coordinator, across }
    }

    /// A member of the other station.
    pub fn member_elsewhere(&self, role: &str, name: &str) -> MemberRecord {
        self.member_at(&self.other, role, name)
    }

    /// A browser with no cookies.
    pub fn browser(&self) -> Browser<'_> {
        Browser { console: self, cookies: BTreeMap::new(), csrf: None }
    }

    /// A browser signed in as `username`.
    pub fn signed_in(&self, username: &str) -> Browser<'_> {
        let mut browser = self.browser();
        let page = browser.sign_in(username, PASSWORD);
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
        browser
    }
}

/// An answer: status, Location, Set-Cookie headers and body text.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub retry_after: Option<String>,
    pub text: String,
}

impl Page {
    /// The value of the first `name="csrf"` field on the page.
    pub fn csrf(&self) -> Option<String> {
        let at = self.text.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        Some(self.text[at..].split('"').next()?.to_owned())
    }

    /// The text inside the element with `data-testid="id"`.
    pub fn testid(&self, id: &str) -> Option<String> {
        let at = self.text.find(&format!("data-testid=\"{id}\""))?;
        let start = at + self.text[at..].find('>')? + 1;
        let end = start + self.text[start..].find('<')?;
        Some(self.text[start..end].to_owned())
    }
}

/// A client that keeps cookies and the last CSRF token it saw, like a browser tab.
pub struct Browser<'a> {
    pub console: &'a Console,
    pub cookies: BTreeMap<String, String>,
    pub csrf: Option<String>,
}

impl Browser<'_> {
    fn send(&mut self, request: Request<Body>) -> Page {
        let response = self.console.call(&self.console.router, request);
        let status = response.status();
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = header("location");
        let retry_after = header("retry-after");
        let set_cookies: Vec<String> =
            response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let text = String::from_utf8_lossy(response.body()).into_owned();
        let page = Page { status, location, set_cookies, retry_after, text };
        if let Some(csrf) = page.csrf() {
            self.csrf = Some(csrf);
        }
        page
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn get(&mut self, path: &str) -> Page {
        let request = Request::builder().uri(path).header("cookie", self.cookie_header()).body(Body::empty()).unwrap();
        self.send(request)
    }

    /// POSTs `fields` as a form, exactly as given (no CSRF token added).
    pub fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request)
    }

    /// POSTs `fields` with the CSRF token of the last page seen.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone().expect("a page with a form was seen first");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all)
    }

    /// Opens the sign-in page and signs in.
    pub fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/console/login");
        assert_eq!(form.status, StatusCode::OK);
        self.post("/console/login", &[("username", username), ("password", password), ("next", "/console/members")])
    }
}

/// Percent-encodes a form value.
pub fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect()
}
