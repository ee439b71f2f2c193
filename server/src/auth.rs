//! Device authentication: `Authorization: Bearer <token>` → the enrolled device and its
//! member. Unknown and revoked tokens are refused (401) and recorded as security events
//! (at the endpoint, unless the address is rate limited: [`crate::limits`]).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use chrono::DateTime;

use crate::error::{AppError, Refusal};
use crate::relay::Relay;
use crate::secret;
use crate::store::{DeviceRecord, MemberRecord, SecurityEvent};

/// A device that proved who it is.
#[derive(Clone, Debug)]
pub struct AuthedDevice {
    /// The device.
    pub device: DeviceRecord,
    /// Its member.
    pub member: MemberRecord,
}

/// The device behind the request's bearer token; a refusal's security event is recorded.
pub fn authenticate(relay: &Relay, headers: &HeaderMap) -> Result<AuthedDevice, AppError> {
    identify(relay, headers).map_err(|refusal| refusal.record(relay.store()))
}

/// [`authenticate`], leaving the refusal's security event to the caller (the sync endpoint
/// records it unless the address is being rate limited).
pub fn identify(relay: &Relay, headers: &HeaderMap) -> Result<AuthedDevice, Refusal> {
    let token = bearer(headers).ok_or_else(|| {
        AppError::Unauthorized(
            "this request carries no device token (Authorization: Bearer …); enroll the device with a code from the coordinator first"
                .into(),
        )
    })?;
    let store = relay.store();
    let now = relay.now_ms();
    let Some((device, member)) = store.device_and_member_by_token(&secret::hash(token))? else {
        return Err(Refusal {
            error: AppError::Unauthorized(
                "the relay does not know this device token; enroll the device again with a new code from the coordinator".into(),
            ),
            event: Some(Box::new(SecurityEvent {
                at: now,
                device: None,
                member: None,
                doc: None,
                reason: "sync with an unknown device token".into(),
            })),
        });
    };
    if let Some(revoked_at) = device.revoked_at {
        let when = DateTime::from_timestamp_millis(revoked_at).map_or_else(String::new, |at| format!(" on {}", at.format("%Y-%m-%d")));
        return Err(Refusal {
            error: AppError::Unauthorized(format!(
                "this device ({}) was revoked{when}; nothing was sent. Ask your coordinator to enroll it again",
                device.id
            )),
            event: Some(Box::new(SecurityEvent {
                at: now,
                device: Some(device.id.clone()),
                member: Some(device.member.to_string()),
                doc: None,
                reason: "sync from a revoked device".into(),
            })),
        });
    }
    let member =
        member.ok_or_else(|| AppError::Internal(format!("device {} belongs to unknown member {}", device.id, device.member)))?;
    Ok(AuthedDevice { device, member })
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
