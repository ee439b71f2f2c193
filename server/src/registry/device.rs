//! Devices: the one-time codes a phone enrolls with, and revoking an enrolled device.

use timebank_engine::model::MemberId;

use super::RegistryError;
use crate::relay::Relay;
use crate::secret;
use crate::store::{AuditRecord, EnrollmentCode, Millis, Revocation};

/// How long an enrollment code stays valid unless told otherwise.
pub const DEFAULT_CODE_DAYS: u32 = 7;

/// Issues a one-time code for one device of `member`, valid for `days`, unaudited (the
/// operator's command line, tests): [`issue_audited_enrollment_code`].
pub fn issue_enrollment_code(relay: &Relay, member: &str, days: u32) -> Result<(String, Millis), RegistryError> {
    issue_audited_enrollment_code(relay, member, days, None)
}

/// Issues a one-time code for one device of `member`, valid for `days`, with the console's
/// `audit` entry stored in the same transaction. Returns the code (shown once, stored only
/// hashed) and when it expires.
pub fn issue_audited_enrollment_code(
    relay: &Relay,
    member: &str,
    days: u32,
    audit: Option<AuditRecord>,
) -> Result<(String, Millis), RegistryError> {
    let member = MemberId::parse(member)?;
    if relay.store().member(&member)?.is_none() {
        return Err(RegistryError::NotFound(format!("no member {member}; create it with `timebank-relay admin member create`")));
    }
    if days == 0 || days > 90 {
        return Err(RegistryError::Invalid(format!("a code may be valid for 1 to 90 days, not {days}")));
    }
    let code = secret::enrollment_code()?;
    let now = relay.now_ms();
    let expires_at = now + i64::from(days) * 24 * 60 * 60 * 1000;
    let issued = EnrollmentCode { code_hash: secret::hash(&code), member, created_at: now, expires_at };
    relay.store().add_enrollment_code(&issued, audit.as_ref())?;
    Ok((code, expires_at))
}

/// Revokes a device: its token stops working at once; its data stays. Returns what
/// happened (never [`Revocation::Unknown`]: an unknown device is an error) and when.
/// The console's `audit` entry is stored with the revocation, when it revokes now.
pub fn revoke_device(relay: &Relay, device: &str, audit: Option<AuditRecord>) -> Result<(Revocation, Millis), RegistryError> {
    let at = relay.now_ms();
    match relay.store().revoke_device(device, at, audit.as_ref())? {
        Revocation::Unknown => {
            Err(RegistryError::NotFound(format!("no device {device}; list them with `timebank-relay admin device list`")))
        }
        done => {
            tracing::info!(device, "device revoked");
            // Its live channel closes now (ADR 32).
            relay.changes().revoked(device);
            Ok((done, at))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::test_relay;

    #[test]
    fn codes_are_issued_for_known_members_only() {
        let dir = tempfile::tempdir().unwrap();
        let relay = test_relay(dir.path());
        let err = issue_enrollment_code(&relay, "m-ghost", 7).unwrap_err();
        assert!(matches!(err, RegistryError::NotFound(_)), "{err}");
    }
}
