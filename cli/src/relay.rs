//! Talking to the relay over HTTP: the engine's client (feature `http`), re-exported so the
//! CLI and its tests keep one name for it. Its address rule is tested here, where the
//! feature is always on.

pub use timebank_engine::http::{HttpTransport, check_relay_url, enroll, enroll_store};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_travel_in_clear_text_beyond_this_machine() {
        for ok in [
            "https://relay.example.org",
            "https://10.0.0.5:8443/",
            "http://127.0.0.1:8080",
            "http://localhost:9000/",
            "http://[::1]:8080",
        ] {
            assert!(check_relay_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://relay.example.org", "http://10.0.0.5:8080", "ftp://x", "relay.example.org", "https://"] {
            assert!(check_relay_url(bad).is_err(), "{bad}");
        }
        let err = check_relay_url("http://relay.example.org").unwrap_err().to_string();
        assert!(err.contains("https://"), "{err}");
    }
}
