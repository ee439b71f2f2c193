//! `POST /v1/enroll`: a phone presents a one-time code and its automerge actor id, and
//! receives who it belongs to and a device token (the relay keeps only the token's hash).

use std::sync::Arc;

use automerge::ActorId;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use timebank_engine::documents::genesis_actor;
use timebank_engine::sync::wire::{self, EnrollRequest, EnrollResponse};

use crate::error::{AppError, Refusal};
use crate::http::{self, binary, blocking};
use crate::limits::{Door, Gate};
use crate::relay::Relay;
use crate::secret;
use crate::store::{EnrollRefusal, NewDevice, SecurityEvent};

/// Longest actor id accepted, in bytes: the bound every change's actors are read within.
pub use timebank_engine::sync::bounds::MAX_ACTOR_BYTES;

/// The endpoint: wire-encoded [`EnrollRequest`] in, wire-encoded [`EnrollResponse`] out.
/// An address over its limit of refused enrollments is answered 429 unchecked ([`crate::limits`]).
pub async fn endpoint(State(relay): State<Arc<Relay>>, gate: Gate, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    let body = http::read_body(&relay, &gate, &headers, body).await?;
    blocking(move || {
        gate.admit(relay.store(), Door::Enroll).map_err(|limited| limited.error())?;
        let answer = wire::decode_enroll(&body)
            .map_err(|e| Refusal::from(AppError::from(e)))
            .and_then(|request| attempt(&relay, &request))
            .map_err(|refusal| gate.refuse(relay.store(), Door::Enroll, refusal))?;
        tracing::info!(device = %answer.device, member = %answer.member, role = %answer.role, "device enrolled");
        Ok(binary(wire::encode(&answer)))
    })
    .await
}

/// Enrolls a device: the code must be known, unused and unexpired; the actor a valid
/// automerge actor id that no device registered yet. A refusal is recorded as a security
/// event where it says so.
pub fn enroll(relay: &Relay, request: &EnrollRequest) -> Result<EnrollResponse, AppError> {
    attempt(relay, request).map_err(|refusal| refusal.record(relay.store()))
}

/// [`enroll`], leaving the refusal's security event to the caller (the endpoint records
/// it unless the address is being rate limited).
pub fn attempt(relay: &Relay, request: &EnrollRequest) -> Result<EnrollResponse, Refusal> {
    let code = secret::normalize_code(&request.code);
    if code.is_empty() {
        return Err(AppError::BadRequest("the enrollment code is empty; type the code the coordinator gave you".into()).into());
    }
    let actor = parse_actor(&request.actor)?;
    if relay.store().is_relay_actor(&actor.to_hex_string())? || actor == genesis_actor() {
        return Err(
            AppError::Conflict(format!("the device id {} is reserved; the app must make a fresh random one", request.actor)).into()
        );
    }
    let random = |e: secret::NoRandomness| Refusal::from(AppError::Internal(e.to_string()));
    let token = secret::device_token().map_err(random)?;
    let device = NewDevice {
        id: secret::new_id("d").map_err(random)?,
        actor: actor.to_hex_string(),
        token_hash: secret::hash(&token),
        signing_key: request.signing_key,
    };
    let store = relay.store();
    let now = relay.now_ms();
    // How long ago, in words: the phone's owner need not know the relay's time zone.
    let ago = |at: i64| ago(now, at);
    let refused = match store.enroll_device(&secret::hash(&code), &device, now)? {
        Ok(member) => {
            return Ok(EnrollResponse {
                member: member.id.to_string(),
                station: member.station.to_string(),
                role: member.role.as_str().to_owned(),
                device: device.id,
                token,
            });
        }
        Err(refusal) => refusal,
    };
    let (error, event) = match refused {
        EnrollRefusal::UnknownCode => (
            AppError::Forbidden(
                "this enrollment code is not valid; check that it was typed as given, or ask the coordinator for a new one".into(),
            ),
            Some("enrollment with an unknown code"),
        ),
        EnrollRefusal::AlreadyUsed { at } => (
            AppError::Gone(format!(
                "this enrollment code was already used {}; each code enrolls one device. Ask the coordinator for a new code",
                ago(at)
            )),
            Some("enrollment with a code that was already used"),
        ),
        EnrollRefusal::Expired { at } => (
            AppError::Gone(format!("this enrollment code expired {}; ask the coordinator for a new one", ago(at))),
            None,
        ),
        EnrollRefusal::ActorTaken => (
            AppError::Conflict(
                "this device is already enrolled (its device id is registered); nothing was changed. Keep using it, or reinstall the app to enroll afresh".into(),
            ),
            Some("enrollment with a device id that is already registered"),
        ),
    };
    let event = event.map(|reason| Box::new(SecurityEvent { at: now, device: None, member: None, doc: None, reason: reason.into() }));
    Err(Refusal { error, event })
}

/// How long before `now` the moment `at` was, in words: "just now", "5 minutes ago",
/// "3 hours ago", "2 days ago".
fn ago(now: i64, at: i64) -> String {
    let minutes = (now - at).max(0) / 60_000;
    let (n, unit) = match minutes {
        0 => return "just now".to_owned(),
        m if m < 60 => (m, "minute"),
        m if m < 48 * 60 => (m / 60, "hour"),
        m => (m / (24 * 60), "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A valid automerge actor id: hex of 1 to [`MAX_ACTOR_BYTES`] bytes.
fn parse_actor(hex: &str) -> Result<ActorId, AppError> {
    let invalid = || {
        AppError::BadRequest(format!(
            "the device id {hex:?} is not a valid automerge actor id (hex, 1 to {MAX_ACTOR_BYTES} bytes); update the app"
        ))
    };
    if hex.is_empty() || hex.len() > 2 * MAX_ACTOR_BYTES {
        return Err(invalid());
    }
    ActorId::try_from(hex).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_ids_must_be_short_hex() {
        assert!(parse_actor("00ff").is_ok());
        assert_eq!(parse_actor("00FF").unwrap().to_hex_string(), "00ff");
        for bad in ["", "xyz", "abc", &"ab".repeat(33)] {
            assert!(matches!(parse_actor(bad), Err(AppError::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn a_refused_codes_time_reads_as_how_long_ago() {
        let now = 10 * 24 * 3_600_000;
        assert_eq!(ago(now, now - 20_000), "just now");
        assert_eq!(ago(now, now - 60_000), "1 minute ago");
        assert_eq!(ago(now, now - 3 * 3_600_000), "3 hours ago");
        assert_eq!(ago(now, now - 3 * 24 * 3_600_000), "3 days ago");
    }
}
