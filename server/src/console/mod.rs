//! The coordinator console: server-rendered pages (maud) under `/console` on the relay's
//! own listener, for coordinators at their station's desktop and the district's reviewers.
//!
//! How to add a page (C1 and C2 both follow this):
//! 1. In your module (e.g. `orders.rs`) write `pub fn routes() -> Router<Arc<Relay>>` with
//!    paths relative to `/console` (`/orders`, `/orders/{order}/dispatch`); it is merged below.
//! 2. A GET handler takes `signed: Signed` (redirects to sign-in when needed) and
//!    `State(relay)`, does store work inside [`blocking`], and returns
//!    `layout::page(&signed, title, body)`; strings via `signed.lang.pick("中文", "English")`.
//! 3. A POST handler takes `SignedForm { signed, form }` (the CSRF token is already checked),
//!    calls `signed.writer()?` (refuses the read-only district), checks ownership with
//!    `signed.member_here(..)` / `signed.may_see(..)` (another station's id → 404), validates
//!    `form.text("field")`, then does the work with its audit entry (`audit::entry(..)` handed to
//!    the desk decision, registry call or store method, written in its transaction) and answers
//!    `redirect(&signed, "/console/orders", Flash::ok(..))` (PRG), or `Err(PageError::bad_request(..))`.
//! 4. Escaping is maud's (`(value)` escapes); never `PreEscaped` a user's string.

pub mod account;
pub mod audit;
pub mod bureau;
pub mod demo;
pub mod demo_presence;
pub mod devices;
pub mod districts;
pub mod i18n;
pub mod layout;
pub mod ledger;
pub mod live;
pub mod login;
pub mod members;
pub mod names;
pub mod orders;
pub mod paging;
pub mod personal;
pub mod pinyin_order;
pub mod presence;
pub mod reports;
pub mod review;
pub mod session;
pub mod tags;
pub mod visits;
pub mod words;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;

pub use i18n::Lang;
pub use session::{Reach, Signed, SignedForm, StationQuery};

use crate::http::TaskFailed;
use crate::registry::RegistryError;
use crate::relay::Relay;
use crate::store::StoreError;

/// The console's stylesheet, served at `/console/static/console.css`.
pub const STYLESHEET: &str = include_str!("static/console.css");

/// The largest form the console reads (the relay's sync limit, 8 MiB, is far more than
/// any form needs; the sign-in form is open to anyone).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// How the console is deployed.
#[derive(Clone, Debug, Default)]
pub struct ConsoleConfig {
    /// Mark cookies `Secure`: the relay's public URL is https (ADR 0016).
    pub secure_cookies: bool,
    /// The address people and phones reach the relay at (`--public-url`), printed on
    /// enrollment slips; without it, the address the coordinator's browser used.
    pub public_url: Option<String>,
}

impl ConsoleConfig {
    /// The console of a relay reached at `public_url` (an https one marks cookies `Secure`).
    pub fn for_public_url(public_url: Option<&str>) -> ConsoleConfig {
        let public_url = public_url.map(|u| u.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
        ConsoleConfig { secure_cookies: public_url.as_deref().is_some_and(|u| u.starts_with("https://")), public_url }
    }
}

/// The console's routes, to be nested at `/console`.
pub fn routes(config: ConsoleConfig) -> Router<Arc<Relay>> {
    Router::new()
        .route("/", get(home))
        .route("/static/console.css", get(stylesheet))
        .merge(login::routes())
        .merge(audit::routes())
        .merge(members::routes())
        .merge(devices::routes())
        .merge(personal::routes())
        .merge(tags::routes())
        .merge(ledger::routes())
        .merge(review::routes())
        .merge(visits::routes())
        .merge(orders::routes())
        .merge(reports::routes())
        .merge(bureau::routes())
        .merge(districts::routes())
        .merge(live::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn(console_headers))
        .layer(axum::Extension(config))
}

async fn home() -> Response {
    see_other("/console/review")
}

async fn not_found(lang: Lang) -> PageError {
    PageError::not_found(lang.pick("没有这个页面。", "There is no such page."))
}

async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "max-age=3600")], STYLESHEET).into_response()
}

/// Headers on every console answer: no caching of personal data, no framing, a strict
/// content security policy (the live updates' script is the only one that may run, by its
/// hash: an injected one cannot, [`live::POLICY`]); remembers `?lang=`; clears a flash
/// message once shown.
async fn console_headers(request: Request<Body>, next: Next) -> Response {
    let lang = i18n::query_lang(request.uri().query());
    let page_lang = lang.or_else(|| cookie(request.headers(), i18n::LANG_COOKIE).as_deref().and_then(Lang::parse)).unwrap_or_default();
    let had_flash = cookie(request.headers(), FLASH_COOKIE).is_some();
    let secure = session::is_secure(request.headers(), request.extensions().get::<ConsoleConfig>());
    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<ErrorMessage>() {
        let status = response.status();
        // A failure of the relay itself: its detail is in the log, the reader gets what to do.
        let message = if status.is_server_error() {
            tracing::error!(message = %error.0, "console: a page failed");
            page_lang.pick(
                "服务器出错，没有做任何更改。请稍后再试；如果一直出错，请管理员查看服务器日志。",
                "The relay failed and nothing was changed. Try again later; if it keeps failing, ask the administrator to look at the relay's log.",
            )
        } else {
            error.0.as_str()
        };
        response = error_page(page_lang, status, message);
    } else if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let message = page_lang.pick("表单内容太多，没有做任何更改。", "The form is too large; nothing was changed.");
        response = error_page(page_lang, StatusCode::PAYLOAD_TOO_LARGE, message);
    }
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &str); 5] = [
        (CACHE_CONTROL, "no-store"),
        (HeaderName::from_static("x-frame-options"), "DENY"),
        (HeaderName::from_static("x-content-type-options"), "nosniff"),
        (HeaderName::from_static("referrer-policy"), "same-origin"),
        (HeaderName::from_static("content-security-policy"), live::POLICY.as_str()),
    ];
    for (name, value) in fixed {
        if (name != CACHE_CONTROL || !headers.contains_key(CACHE_CONTROL))
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.insert(name, value);
        }
    }
    if let Some(lang) = lang {
        append_cookie(headers, &set_cookie(i18n::LANG_COOKIE, lang.code(), Some(365 * 24 * 3600), secure));
    }
    if had_flash && response.status() == StatusCode::OK && !response.headers().get_all(SET_COOKIE).iter().any(is_flash) {
        append_cookie(response.headers_mut(), &set_cookie(FLASH_COOKIE, "", Some(0), secure));
    }
    response
}

fn is_flash(value: &HeaderValue) -> bool {
    value.as_bytes().starts_with(FLASH_COOKIE.as_bytes())
}

// ----- errors -----

/// A page that could not be shown or a form that was refused: the status and what to do,
/// in the reader's language. Nothing was changed.
#[derive(Debug)]
pub struct PageError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do, for people.
    pub message: String,
}

impl PageError {
    /// With `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError { status, message: message.into() }
    }
    /// 400: the form's values break a rule (the message says which and how).
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }
    /// 403: not allowed (the district is read-only; an out-of-date form).
    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::FORBIDDEN, message)
    }
    /// 404: no such thing at the reader's station (existence elsewhere is not revealed).
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, message)
    }
    /// 409: the thing changed meanwhile (already decided, already revoked).
    pub fn conflict(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::CONFLICT, message)
    }
    /// 404 in the words every page uses for another station's ids.
    pub fn not_at_station(lang: Lang) -> PageError {
        PageError::not_found(lang.pick("在您的服务站找不到。", "Not found at your station."))
    }
    /// 500: the relay failed (the message is logged and shown).
    pub fn internal(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "console: store failed");
        PageError::internal(format!("the relay's store failed: {error}"))
    }
}

impl From<RegistryError> for PageError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Invalid(message) => PageError::bad_request(message),
            RegistryError::NotFound(message) => PageError::not_found(message),
            RegistryError::Store(error) => error.into(),
            other => PageError::internal(other.to_string()),
        }
    }
}

/// The message of a [`PageError`], carried to [`console_headers`], which shows it on a page
/// in the reader's language.
#[derive(Clone, Debug)]
struct ErrorMessage(String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message.clone()).into_response();
        response.extensions_mut().insert(ErrorMessage(self.message));
        response
    }
}

/// What went wrong, in a status's words.
fn status_words(lang: Lang, status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => lang.pick("输入有误", "Not accepted"),
        StatusCode::FORBIDDEN => lang.pick("不能这样操作", "Not allowed"),
        StatusCode::NOT_FOUND => lang.pick("找不到", "Not found"),
        StatusCode::CONFLICT => lang.pick("情况已经变了", "Changed meanwhile"),
        StatusCode::PAYLOAD_TOO_LARGE => lang.pick("表单太大", "Form too large"),
        StatusCode::TOO_MANY_REQUESTS => lang.pick("请稍后再试", "Try again later"),
        _ => lang.pick("出错了", "Something went wrong"),
    }
}

/// A page that says what went wrong and what to do, with the way back.
fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    let title = status_words(lang, status);
    let body = layout::bare(
        lang,
        title,
        html! {
            div.card {
                h1 { (title) }
                p.flash.error role="alert" { (message) }
                p { a.button href="/console/" { (lang.pick("返回控制台", "Back to the console")) } }
            }
        },
    );
    (status, body).into_response()
}

/// Runs store and document work (which blocks) off the async threads: the relay's
/// [`crate::http::blocking`], with the pages' error type fixed (their closures end in `?`,
/// which alone would not tell the compiler which error they return).
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, PageError> + Send + 'static) -> Result<T, PageError> {
    crate::http::blocking(work).await
}

impl From<TaskFailed> for PageError {
    fn from(failed: TaskFailed) -> Self {
        PageError::internal(failed.to_string())
    }
}

// ----- forms -----

/// Longest reason accepted (a review's, a correction's): the engine's, which a phone keeps too.
pub use timebank_engine::model::text::MAX_REASON_CHARS;

/// A posted form (`application/x-www-form-urlencoded`), fields in order; repeated
/// fields (`visit=a&visit=b`) are kept.
#[derive(Clone, Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The first value of `name`, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }
    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
    /// The `reason` field, trimmed (empty when absent), or 400 when it is longer than
    /// [`MAX_REASON_CHARS`] or holds control characters: reasons are written into the
    /// station's documents, which every phone of the station syncs.
    pub fn reason(&self, lang: Lang) -> Result<String, PageError> {
        let reason = self.text("reason");
        if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
            return Err(PageError::bad_request(lang.pick(
                format!("原因最多 {MAX_REASON_CHARS} 个字，且不能含控制字符。没有做任何更改。"),
                format!("A reason has at most {MAX_REASON_CHARS} characters, without control characters. Nothing was changed."),
            )));
        }
        Ok(reason.to_owned())
    }
    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), Some("on" | "true" | "1" | "yes"))
    }
}

// ----- cookies, flash messages, redirects -----

/// The cookie that carries a flash message across a POST-redirect-GET.
pub const FLASH_COOKIE: &str = "tb_flash";

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/console`, `Secure` if asked.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut cookie = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

fn append_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(SET_COOKIE, value);
    }
}

/// A message shown once on the next page (`role="alert"`, class `flash ok|error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// Good news or a problem.
    pub ok: bool,
    /// The words.
    pub message: String,
}

impl Flash {
    /// Good news.
    pub fn ok(message: impl Into<String>) -> Flash {
        Flash { ok: true, message: message.into() }
    }
    /// A problem.
    pub fn error(message: impl Into<String>) -> Flash {
        Flash { ok: false, message: message.into() }
    }

    fn encode(&self) -> String {
        let mut out = String::from(if self.ok { "ok:" } else { "error:" });
        for byte in self.message.bytes() {
            if byte.is_ascii_alphanumeric() {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }

    /// The flash in a cookie value, if it is one.
    pub fn decode(raw: &str) -> Option<Flash> {
        let (kind, text) = raw.split_once(':')?;
        let mut bytes = Vec::with_capacity(text.len());
        let mut rest = text.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            if first == b'%' && tail.len() >= 2 {
                let hex = std::str::from_utf8(&tail[..2]).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
            } else {
                bytes.push(first);
                rest = tail;
            }
        }
        Some(Flash { ok: kind == "ok", message: String::from_utf8(bytes).ok()? })
    }
}

/// 303 See Other to `to`.
pub fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/console/"));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// The answer to a successful POST: 303 to `to`, with `flash` shown there once.
pub fn redirect(signed: &Signed, to: &str, flash: Flash) -> Response {
    redirect_with(to, &flash, signed.secure)
}

/// 303 to `to` with a flash message, for a handler without a [`Signed`].
pub fn redirect_with(to: &str, flash: &Flash, secure: bool) -> Response {
    let mut response = see_other(to);
    append_cookie(response.headers_mut(), &set_cookie(FLASH_COOKIE, &flash.encode(), Some(120), secure));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flash_survives_its_cookie() {
        let flash = Flash::ok("已登记 王芳; done <b>");
        assert_eq!(Flash::decode(&flash.encode()), Some(flash));
        assert!(Flash::encode(&Flash::error("a b")).chars().all(|c| c.is_ascii_alphanumeric() || "%:".contains(c)));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; tb_lang=en; b=2"));
        assert_eq!(cookie(&headers, "tb_lang").as_deref(), Some("en"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
