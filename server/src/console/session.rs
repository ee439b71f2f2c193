//! Who is signed in: the [`Signed`] extractor (session cookie → coordinator, with idle and
//! absolute expiry), the CSRF-checked [`SignedForm`], the read-only district's and city's
//! refusal, and which station(s) a reader may see ([`Reach`]).

use std::sync::Arc;

use axum::extract::{Form, FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use timebank_engine::model::{MemberId, StationId};

use crate::console::{ConsoleConfig, FLASH_COOKIE, Flash, FormData, Lang, PageError, blocking, cookie, see_other};
use crate::relay::Relay;
use crate::secret;
use crate::store::{
    ConsoleRole, ConsoleSessionRecord, ConsoleUserRecord, MemberRecord, Millis, RelayStore, SecretHash, StationRecord, StoreError,
    StoreResult,
};

/// The cookie that carries the session token.
pub const SESSION_COOKIE: &str = "tb_session";

/// A session unused for this long has expired.
pub const IDLE_MS: Millis = 30 * 60 * 1000;

/// A session this old has expired, however busy.
pub const ABSOLUTE_MS: Millis = 12 * 60 * 60 * 1000;

/// A session's last use is written at most this often.
const TOUCH_EVERY_MS: Millis = 15 * 1000;

/// A signed-in console user. Taking it as a handler argument makes the page need a
/// session: without one a request is sent (303) to the sign-in page.
#[derive(Clone, Debug)]
pub struct Signed {
    /// Their username.
    pub username: String,
    /// Their own member: the author of their desk changes.
    pub member: Option<MemberId>,
    /// Coordinator of a station, or the read-only district or city.
    pub role: ConsoleRole,
    /// The stations this user reads, as the store places them when the page is asked for.
    pub reach: Reach,
    /// The page language.
    pub lang: Lang,
    /// The token every form of this session carries (field `csrf`).
    pub csrf: String,
    /// A message from the previous POST, shown once.
    pub flash: Option<Flash>,
    /// Whether cookies are set `Secure`.
    pub secure: bool,
    /// The page's path (`/console/members`), for the navigation.
    pub path: String,
    /// Their station's name, or their district's (none for the city).
    pub station_name: Option<String>,
    /// The relay's address for phones: the public URL, else the one this browser used.
    pub relay_url: String,
    /// SHA-256 of the session token (to end it).
    pub(crate) token_hash: SecretHash,
}

/// The stations a console user reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// A coordinator's own station.
    Station(StationId),
    /// A district's stations (none while it has none).
    Stations(Vec<StationId>),
    /// The city's: every station.
    All,
}

impl Reach {
    /// The reach of `role` on `store` now.
    pub(crate) fn of(role: &ConsoleRole, store: &dyn RelayStore) -> Result<Reach, StoreError> {
        Ok(match role {
            ConsoleRole::Coordinator { station } => Reach::Station(station.clone()),
            ConsoleRole::District { district } => {
                Reach::Stations(store.stations()?.into_iter().filter(|s| &s.district == district).map(|s| s.id).collect())
            }
            ConsoleRole::City => Reach::All,
        })
    }

    /// Whether `station` is within it.
    pub fn holds(&self, station: &StationId) -> bool {
        match self {
            Reach::Station(own) => own == station,
            Reach::Stations(stations) => stations.contains(station),
            Reach::All => true,
        }
    }
}

/// A CSRF-checked form post from a signed-in user. A missing or wrong `csrf` field is
/// refused (403, nothing changed) before the handler runs.
#[derive(Clone, Debug)]
pub struct SignedForm {
    /// Who posted.
    pub signed: Signed,
    /// The fields.
    pub form: FormData,
}

impl Signed {
    /// The station this user may change, or 403 for the read-only district and city.
    pub fn writer(&self) -> Result<&StationId, PageError> {
        match &self.role {
            ConsoleRole::Coordinator { station } => Ok(station),
            ConsoleRole::District { .. } | ConsoleRole::City => Err(PageError::forbidden(self.lang.pick(
                "区级和市级账号只能查看，不能修改。请由服务站协调员操作。",
                "District and city accounts are read-only: a coordinator of the station must do this.",
            ))),
        }
    }

    /// Whether this user may see `station`'s data.
    pub fn may_see(&self, station: &StationId) -> bool {
        self.reach.holds(station)
    }

    /// The stations this user reads: a coordinator's own; for a district or the city,
    /// `requested` (`?station=`, one within reach, else 404) or every station in reach.
    pub fn visible_stations(&self, relay: &Relay, requested: Option<&str>) -> Result<Vec<StationRecord>, PageError> {
        let requested = requested.map(str::trim).filter(|s| !s.is_empty());
        let missing = || PageError::not_at_station(self.lang);
        let wanted = match (&self.reach, requested) {
            (Reach::Station(station), _) => Some(station.clone()),
            (_, Some(raw)) => Some(StationId::parse(raw).map_err(|_| missing())?).filter(|id| self.may_see(id)),
            (_, None) => None,
        };
        match (wanted, requested) {
            (Some(id), _) => Ok(vec![relay.store().station(&id)?.ok_or_else(missing)?]),
            (None, Some(_)) => Err(missing()),
            (None, None) => Ok(relay.store().stations()?.into_iter().filter(|s| self.may_see(&s.id)).collect()),
        }
    }

    /// The member `raw` if this user may see them; otherwise 404 (another station's
    /// members look exactly like members that do not exist).
    pub fn member_here(&self, relay: &Relay, raw: &str) -> Result<MemberRecord, PageError> {
        let missing = || PageError::not_at_station(self.lang);
        let id = MemberId::parse(raw).map_err(|_| missing())?;
        let member = relay.store().member(&id)?.ok_or_else(missing)?;
        if self.may_see(&member.station) { Ok(member) } else { Err(missing()) }
    }

    /// The station an audit entry of this user belongs to.
    pub fn station(&self) -> Option<&StationId> {
        self.role.station()
    }
}

/// `?station=`: the one station a district or the city reads (a coordinator's is always their own;
/// see [`Signed::visible_stations`]).
#[derive(Debug, Default, serde::Deserialize)]
pub struct StationQuery {
    /// The station to show (district and city only).
    pub station: Option<String>,
}

/// The header the console's live updates send with the page they fetch (ADR 0032).
pub const LIVE_REFRESH: &str = "x-timebank-live";

/// The account and session behind `token_hash`, if the session stands (neither ended nor
/// idle nor too old at the relay's time now). Reads only: the session is not touched.
pub fn standing(relay: &Relay, token_hash: &SecretHash) -> StoreResult<Option<(ConsoleUserRecord, ConsoleSessionRecord)>> {
    let store = relay.store();
    let Some(session) = store.console_session(token_hash)? else { return Ok(None) };
    let now = relay.now_ms();
    if now - session.last_seen > IDLE_MS || now - session.created_at > ABSOLUTE_MS {
        return Ok(None);
    }
    Ok(store.console_user(&session.username)?.map(|user| (user, session)))
}

/// The SHA-256 of the session cookie's token, if the request carries one.
pub fn token_hash(headers: &HeaderMap) -> Option<SecretHash> {
    cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()).map(|token| secret::hash(&token))
}

/// Whether cookies must be `Secure`: the relay's public URL is https, or a TLS proxy in
/// front says the request came over https (ADR 0016).
pub fn is_secure(headers: &HeaderMap, config: Option<&ConsoleConfig>) -> bool {
    config.is_some_and(|c| c.secure_cookies)
        || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The relay's address for phones: `--public-url`, else the scheme and host this request came to.
fn relay_url(headers: &HeaderMap, config: Option<&ConsoleConfig>, secure: bool) -> String {
    if let Some(url) = config.and_then(|c| c.public_url.clone()) {
        return url;
    }
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    format!("{}://{host}", if secure { "https" } else { "http" })
}

/// Where to go after signing in: only a console page of this relay.
pub fn safe_next(raw: Option<&str>) -> String {
    match raw {
        Some(next)
            if next.starts_with("/console/")
                && !next.contains("//")
                && !next.contains('\\')
                && !next.starts_with("/console/login")
                && next.chars().all(|c| c.is_ascii_graphic()) =>
        {
            next.to_owned()
        }
        _ => "/console/review".to_owned(),
    }
}

fn to_login(parts: &Parts, expired: bool) -> Response {
    // The page to come back to: a GET's own address; after a POST, the page it came from.
    let next = if parts.method == Method::GET {
        // The router nested at /console sees the path without it: the original has it.
        let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |original| &original.0);
        uri.path_and_query().map(|p| p.as_str().to_owned())
    } else {
        None
    };
    let mut to = String::from("/console/login");
    let mut sep = '?';
    if expired {
        to.push_str("?expired=1");
        sep = '&';
    }
    if let Some(next) = next {
        to.push(sep);
        to.push_str("next=");
        to.push_str(&percent(&next));
    }
    see_other(&to)
}

/// `raw` percent-encoded for a query value.
pub fn percent(raw: &str) -> String {
    raw.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect()
}

impl FromRequestParts<Arc<Relay>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, relay: &Arc<Relay>) -> Result<Signed, Response> {
        let lang = Lang::of_request(parts);
        let secure = is_secure(&parts.headers, parts.extensions.get::<ConsoleConfig>());
        let Some(token_hash) = token_hash(&parts.headers) else {
            return Err(to_login(parts, false));
        };
        let flash = cookie(&parts.headers, FLASH_COOKIE).as_deref().and_then(Flash::decode);
        let relay = Arc::clone(relay);
        // A page fetched by the live updates is not the coordinator's doing: it does not
        // keep the session from idling out.
        let touch = !parts.headers.contains_key(LIVE_REFRESH);
        let found = blocking(move || {
            let store = relay.store();
            let Some((user, session)) = standing(&relay, &token_hash)? else {
                // Expired (or its account gone): ended now.
                if store.console_session(&token_hash)?.is_some() {
                    store.end_console_session(&token_hash, None)?;
                }
                return Ok(None);
            };
            let now = relay.now_ms();
            if touch && now - session.last_seen > TOUCH_EVERY_MS {
                store.touch_console_session(&token_hash, now)?;
            }
            let station_name = match &user.role {
                ConsoleRole::Coordinator { station } => store.station(station)?.map(|s| s.name),
                ConsoleRole::District { district } => store.districts()?.into_iter().find(|d| &d.id == district).map(|d| d.name),
                ConsoleRole::City => None,
            };
            let reach = Reach::of(&user.role, store)?;
            Ok::<_, PageError>(Some((user, session.csrf, station_name, reach)))
        })
        .await
        .map_err(IntoResponse::into_response)?;
        let Some((user, csrf, station_name, reach)) = found else {
            return Err(to_login(parts, true));
        };
        let path = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |original| &original.0).path().to_owned();
        let relay_url = relay_url(&parts.headers, parts.extensions.get::<ConsoleConfig>(), secure);
        Ok(Signed {
            username: user.username,
            member: user.member,
            role: user.role,
            reach,
            lang,
            csrf,
            flash,
            secure,
            path,
            station_name,
            relay_url,
            token_hash,
        })
    }
}

impl FromRequest<Arc<Relay>> for SignedForm {
    type Rejection = Response;

    async fn from_request(request: Request, relay: &Arc<Relay>) -> Result<SignedForm, Response> {
        let (mut parts, body) = request.into_parts();
        let signed = Signed::from_request_parts(&mut parts, relay).await?;
        let request = Request::from_parts(parts, body);
        let form = match Form::<Vec<(String, String)>>::from_request(request, relay).await {
            Ok(Form(fields)) => FormData(fields),
            Err(rejection) => {
                // axum's words for what was wrong are English: logged, and shown on English pages.
                tracing::info!(%rejection, "console: a form could not be read");
                let detail = if signed.lang == Lang::En { format!(" ({rejection})") } else { String::new() };
                return Err(PageError::bad_request(format!(
                    "{}{detail}",
                    signed.lang.pick(
                        "表单无法读取，请重新加载页面再试。没有做任何更改。",
                        "The form could not be read: reload the page and try again. Nothing was changed."
                    )
                ))
                .into_response());
            }
        };
        if !same_secret(form.get("csrf").unwrap_or(""), &signed.csrf) {
            return Err(out_of_date(signed.lang).into_response());
        }
        Ok(SignedForm { signed, form })
    }
}

/// The refusal of a form without the right CSRF token.
pub fn out_of_date(lang: Lang) -> PageError {
    PageError::forbidden(lang.pick(
        "此表单已过期（安全校验不符），没有做任何更改。请重新加载页面后再提交。",
        "This form is out of date (its security token does not match); nothing was changed. Reload the page and submit it again.",
    ))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    !expected.is_empty()
        && given.len() == expected.len()
        && given.bytes().zip(expected.bytes()).fold(0_u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_console() {
        assert_eq!(safe_next(Some("/console/members?x=1")), "/console/members?x=1");
        for bad in ["https://evil.example/", "//evil.example/console/", "/console//evil", "/v1/sync", "/console/login"] {
            assert_eq!(safe_next(Some(bad)), "/console/review", "{bad}");
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("", ""));
        assert!(!same_secret("ab", "abc"));
    }
}
