//! Signing in and out: the sign-in page and form (CSRF-protected by a pre-session cookie),
//! the session cookie, the lock-out messages (per username, and per address: [`crate::limits`]),
//! and sign-out.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::account::{self, SignIn};
use crate::console::audit::AuditAction;
use crate::console::session::{self, ABSOLUTE_MS, IDLE_MS, SESSION_COOKIE, same_secret};
use crate::console::{ConsoleConfig, Flash, FormData, Lang, PageError, SignedForm, audit, blocking, cookie, layout, set_cookie};
use crate::limits::{Door, Gate, Limited};
use crate::relay::Relay;
use crate::secret;
use crate::store::ConsoleSessionRecord;

/// The cookie holding the sign-in form's CSRF token (there is no session yet).
pub const LOGIN_COOKIE: &str = "tb_login";

/// The sign-in routes.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new().route("/login", get(login_page).post(login)).route("/logout", post(logout))
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

/// What the sign-in page shows above the form.
enum Notice {
    None,
    Expired,
    Error(String),
}

async fn login_page(
    lang: Lang,
    headers: HeaderMap,
    config: Option<axum::Extension<ConsoleConfig>>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let notice = if query.expired.is_some() { Notice::Expired } else { Notice::None };
    let flash = cookie(&headers, crate::console::FLASH_COOKIE).as_deref().and_then(Flash::decode);
    form_response(lang, &headers, config, StatusCode::OK, &session::safe_next(query.next.as_deref()), "", notice, flash)
}

#[allow(clippy::too_many_arguments)]
fn form_response(
    lang: Lang,
    headers: &HeaderMap,
    config: Option<axum::Extension<ConsoleConfig>>,
    status: StatusCode,
    next: &str,
    username: &str,
    notice: Notice,
    flash: Option<Flash>,
) -> Result<Response, PageError> {
    let secure = session::is_secure(headers, config.as_deref());
    let token = secret::device_token().map_err(|e| PageError::internal(e.to_string()))?;
    let page = login_form(lang, &token, next, username, &notice, flash.as_ref());
    let mut response = (status, page).into_response();
    if let Ok(value) = HeaderValue::from_str(&set_cookie(LOGIN_COOKIE, &token, Some(3600), secure)) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    Ok(response)
}

fn login_form(lang: Lang, csrf: &str, next: &str, username: &str, notice: &Notice, flash: Option<&Flash>) -> Markup {
    layout::bare(
        lang,
        lang.pick("登录", "Sign in"),
        html! {
            div.card {
                h1 { (lang.pick("协调员登录", "Coordinator sign-in")) }
                (layout::flash(flash))
                @match notice {
                    Notice::Expired => p.flash.error role="alert" data-testid="expired" {
                        (lang.pick("您的会话已过期（闲置 30 分钟或登录已满 12 小时），请重新登录。",
                                   "Your session expired (30 minutes idle or 12 hours since sign-in): please sign in again."))
                    },
                    Notice::Error(message) => p.flash.error role="alert" { (message) },
                    Notice::None => {},
                }
                form.stack method="post" action="/console/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label { (lang.pick("用户名", "Username"))
                        input type="text" name="username" value=(username) autocomplete="username" required autofocus; }
                    label { (lang.pick("密码", "Password"))
                        input type="password" name="password" autocomplete="current-password" required; }
                    button.primary type="submit" { (lang.pick("登录", "Sign in")) }
                }
            }
        },
    )
}

async fn login(
    lang: Lang,
    headers: HeaderMap,
    config: Option<axum::Extension<ConsoleConfig>>,
    State(relay): State<Arc<Relay>>,
    gate: Gate,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = FormData(fields);
    let next = session::safe_next(form.get("next"));
    let username = crate::registry::normalize_username(form.text("username"));
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same_secret(form.text("csrf"), &expected) {
        let notice = Notice::Error(session::out_of_date(lang).message);
        return form_response(lang, &headers, config, StatusCode::FORBIDDEN, &next, &username, notice, None);
    }
    if username.is_empty() || form.get("password").is_none_or(str::is_empty) {
        let notice = Notice::Error(lang.pick("请填写用户名和密码。", "Give a username and a password.").to_owned());
        return form_response(lang, &headers, config, StatusCode::BAD_REQUEST, &next, &username, notice, None);
    }
    let password = form.get("password").unwrap_or_default().to_owned();
    // The session this browser had (another user's at a shared desk, or an old one of
    // the same user) ends when a new one starts: one browser, one session.
    let previous = cookie(&headers, SESSION_COOKIE).filter(|t| !t.is_empty()).map(|t| secret::hash(&t));
    let outcome = {
        let (relay, username) = (Arc::clone(&relay), username.clone());
        blocking(move || {
            // An address with too many failed sign-ins is refused before any password is checked.
            if let Err(limited) = gate.admit(relay.store(), Door::SignIn) {
                return Ok(Err(limited));
            }
            let now = relay.now_ms();
            // Expired sessions and aged-out failures go now and then: at each sign-in.
            relay.store().purge_console_state(now - IDLE_MS, now - ABSOLUTE_MS, now - account::LOCK_WINDOW_MS)?;
            let outcome = account::sign_in(relay.store(), &username, &password, now)?;
            let session = match &outcome {
                SignIn::Welcome(user) => {
                    if let Some(previous) = &previous {
                        relay.store().end_console_session(previous, None)?;
                    }
                    let token = secret::device_token().map_err(|e| PageError::internal(e.to_string()))?;
                    let csrf = secret::device_token().map_err(|e| PageError::internal(e.to_string()))?;
                    let session = ConsoleSessionRecord {
                        token_hash: secret::hash(&token),
                        username: user.username.clone(),
                        csrf,
                        created_at: now,
                        last_seen: now,
                    };
                    let audit = audit::entry_as(&relay, &user.username, user.role.station(), AuditAction::SignIn, &user.username, "");
                    relay.store().create_console_session(&session, Some(&audit))?;
                    Some(token)
                }
                SignIn::Wrong { locked_until } => {
                    let station = relay.store().console_user(&username)?.and_then(|u| u.role.station().cloned());
                    let detail = if locked_until.is_some() { audit::WRONG_PASSWORD_LOCKED } else { audit::WRONG_PASSWORD };
                    audit::record_as(&relay, &username, station.as_ref(), AuditAction::SignInFailed, &username, detail)?;
                    None
                }
                SignIn::Locked { .. } => None,
            };
            if session.is_none()
                && let Err(limited) = gate.failed(relay.store(), Door::SignIn)
            {
                return Ok(Err(limited));
            }
            Ok(Ok((outcome, session)))
        })
        .await?
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(limited) => return limited_page(lang, &headers, config, &next, &username, &limited),
    };
    let wrong = lang.pick("用户名或密码不正确。", "Wrong username or password.");
    let locked = |until| {
        lang.pick(
            format!("此用户名登录失败次数过多，已锁定至 {}，请届时再试。", lang.datetime(until)),
            format!("Too many failed sign-ins for this username: it is locked until {}. Try again then.", lang.datetime(until)),
        )
    };
    match outcome {
        (SignIn::Welcome(_), Some(token)) => {
            let secure = session::is_secure(&headers, config.as_deref());
            let mut response = crate::console::see_other(&next);
            for value in
                [set_cookie(SESSION_COOKIE, &token, Some(ABSOLUTE_MS / 1000), secure), set_cookie(LOGIN_COOKIE, "", Some(0), secure)]
            {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().append(SET_COOKIE, value);
                }
            }
            Ok(response)
        }
        (SignIn::Wrong { locked_until: Some(until) }, _) => {
            let notice = Notice::Error(format!("{wrong} {}", locked(until)));
            form_response(lang, &headers, config, StatusCode::TOO_MANY_REQUESTS, &next, &username, notice, None)
        }
        (SignIn::Locked { until }, _) => {
            form_response(lang, &headers, config, StatusCode::TOO_MANY_REQUESTS, &next, &username, Notice::Error(locked(until)), None)
        }
        _ => form_response(lang, &headers, config, StatusCode::UNAUTHORIZED, &next, &username, Notice::Error(wrong.to_owned()), None),
    }
}

/// 429: too many failed sign-ins from the caller's network address.
fn limited_page(
    lang: Lang,
    headers: &HeaderMap,
    config: Option<axum::Extension<ConsoleConfig>>,
    next: &str,
    username: &str,
    limited: &Limited,
) -> Result<Response, PageError> {
    let until = lang.datetime(limited.until);
    let notice = Notice::Error(lang.pick(
        format!("来自您网络地址的登录失败次数过多，请在 {until} 之后再试。"),
        format!("Too many failed sign-ins from your network address: try again after {until}."),
    ));
    let mut response = form_response(lang, headers, config, StatusCode::TOO_MANY_REQUESTS, next, username, notice, None)?;
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(limited.retry_after_secs));
    Ok(response)
}

async fn logout(State(relay): State<Arc<Relay>>, SignedForm { signed, .. }: SignedForm) -> Result<Response, PageError> {
    let lang = signed.lang;
    let secure = signed.secure;
    blocking(move || {
        let audit = audit::entry(&relay, &signed, AuditAction::SignOut, &signed.username, "");
        relay.store().end_console_session(&signed.token_hash, Some(&audit))?;
        Ok(())
    })
    .await?;
    let mut response =
        crate::console::redirect_with("/console/login", &Flash::ok(lang.pick("您已退出。", "You are signed out.")), secure);
    if let Ok(value) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", Some(0), secure)) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    Ok(response)
}
