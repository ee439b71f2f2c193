//! What an operator tunes in how the relay answers devices ([`Settings`]), with defaults
//! that suit phones on Chinese mobile networks.

use timebank_engine::sync::wire::PAGE_BYTES;

/// The relay's tunable settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Most change bytes one answer carries; a phone far behind comes back for the rest.
    /// Smaller pages get through connections that keep dropping (a lift, a basement).
    pub page_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { page_bytes: PAGE_BYTES }
    }
}
