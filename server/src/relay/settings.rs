//! What an operator tunes in how the relay answers devices ([`Settings`]), with defaults
//! that suit phones on Chinese mobile networks.

use timebank_engine::sync::live::HEARTBEAT_MS;
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
    /// The live channels (ADR 32): heartbeats, coalescing, and how many may be open.
    pub live: LiveSettings,
}

/// How the relay keeps its live channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSettings {
    /// A heartbeat goes on a channel that was quiet this long (at most the protocol's
    /// `HEARTBEAT_MS`, which devices count on), keeping mobile NAT mappings open.
    pub heartbeat_ms: u64,
    /// At most one hint per channel in this long: what changes meanwhile goes in the next,
    /// so a busy station does not set off a storm of syncs. The first hint after a quiet
    /// spell goes at once.
    pub coalesce_ms: u64,
    /// Most channels open at once; past it a device is told to try later (503) and syncs
    /// on its own schedule meanwhile.
    pub max_channels: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings { heartbeat_ms: HEARTBEAT_MS, coalesce_ms: 500, max_channels: 20_000 }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            page_bytes: PAGE_BYTES,
            device_changes_per_day: 10_000,
            device_bytes_per_day: 32 * 1024 * 1024,
            live: LiveSettings::default(),
        }
    }
}
