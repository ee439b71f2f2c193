//! What an operator tunes in how the relay answers devices ([`Settings`]), with defaults
//! that suit phones on Chinese mobile networks.

use timebank_engine::sync::wire::PAGE_BYTES;

/// The relay's tunable settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Most change bytes one answer carries; a phone far behind comes back for the rest.
    /// Smaller pages get through connections that keep dropping (a lift, a basement).
    pub page_bytes: usize,
    /// Most changes the relay takes from one device in one day (UTC). A busy volunteer
    /// makes about 60 (20 visits: check-in, check-out, the elder's confirmation); a month
    /// offline about 2,000; a coordinator's phone reviewing and dispatching a few hundred.
    pub device_changes_per_day: i64,
    /// Most change bytes the relay takes from one device in one day (a visit is about
    /// 300 bytes with a short note).
    pub device_bytes_per_day: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { page_bytes: PAGE_BYTES, device_changes_per_day: 10_000, device_bytes_per_day: 32 * 1024 * 1024 }
    }
}
