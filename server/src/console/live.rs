//! Live updates of the console's lists (ADR 0032): the review queue, the visit log and the
//! orders board show what phones bring in without a reload. `GET /console/live` is the
//! signed-in account's live channel (hints of the documents of the stations it reads: a
//! coordinator's, a district's, the city's; closed when the session ends); [`SCRIPT`] (`/console/static/live.js`)
//! listens to it and fetches the page again. It is the one script the content security
//! policy allows, by its hash; without it the pages work as before.

use std::sync::{Arc, LazyLock};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64ct::{Base64, Encoding as _};
use maud::{Markup, html};
use sha2::{Digest as _, Sha256};

use crate::console::session::{self, Reach, standing};
use crate::console::{Lang, PageError, blocking};
use crate::live::{Hub, Reader};
use crate::relay::Relay;

/// The script of the live updates, served at `/console/static/live.js`.
pub const SCRIPT: &str = include_str!("static/live.js");

/// Where it is served.
const SCRIPT_PATH: &str = "/console/static/live.js";

/// The pages whose lists update themselves.
pub const LIVE_PAGES: &[&str] = &["/console/review", "/console/visits", "/console/orders"];

/// `sha256-…` of [`SCRIPT`]: the content security policy's one allowed script, and the
/// integrity the page asks of it.
pub static SCRIPT_HASH: LazyLock<String> =
    LazyLock::new(|| format!("sha256-{}", Base64::encode_string(&Sha256::digest(SCRIPT.as_bytes()))));

/// The console's content security policy: nothing runs but the live updates' script.
pub static POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src '{}'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        *SCRIPT_HASH
    )
});

/// The routes, nested at `/console`.
pub fn routes() -> Router<Arc<Relay>> {
    Router::new().route("/live", get(channel)).route("/static/live.js", get(script))
}

async fn script() -> Response {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "max-age=3600")], SCRIPT).into_response()
}

/// The live channel of the signed-in account: 401 without a standing session.
async fn channel(State(relay): State<Arc<Relay>>, Extension(hub): Extension<Arc<Hub>>, lang: Lang, headers: HeaderMap) -> Response {
    let signed_out =
        || PageError::new(axum::http::StatusCode::UNAUTHORIZED, lang.pick("请先登录。", "Sign in first.")).into_response();
    let Some(token_hash) = session::token_hash(&headers) else { return signed_out() };
    let looked_up = {
        let relay = Arc::clone(&relay);
        blocking(move || {
            let Some((user, _)) = standing(&relay, &token_hash)? else { return Ok(None) };
            Ok(Some(Reach::of(&user.role, relay.store())?))
        })
        .await
    };
    let stations = match looked_up {
        Ok(Some(Reach::Station(station))) => Some(vec![station]),
        Ok(Some(Reach::Stations(stations))) => Some(stations),
        Ok(Some(Reach::All)) => None,
        Ok(None) => return signed_out(),
        Err(error) => return error.into_response(),
    };
    let reader = Reader::Console { stations, session: Box::new(move |relay: &Relay| Ok(standing(relay, &token_hash)?.is_some())) };
    hub.open(reader).into_response()
}

/// A page's `main` around `content`; on a live page ([`LIVE_PAGES`]) with `data-live`, the
/// status words the script shows (in the page's language), and the script after it.
pub fn main(lang: Lang, path: &str, content: Markup) -> Markup {
    if !LIVE_PAGES.contains(&path) {
        return html! { main { (content) } };
    }
    html! {
        main data-live
            data-live-on=(lang.pick("新到的记录会自动显示。", "New arrivals appear here by themselves."))
            data-live-updated=(lang.pick("已更新（{time}）。", "Updated at {time}."))
            data-live-stale=(lang.pick("有新的内容。", "There is something new."))
            data-live-off=(lang.pick("自动更新已停止。", "Live updates stopped."))
            data-live-reload=(lang.pick("刷新页面", "Reload the page")) { (content) }
        script src=(SCRIPT_PATH) integrity=(*SCRIPT_HASH) {}
    }
}
