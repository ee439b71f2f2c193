//! The enrollment link a station's printed slip carries as a QR code: the relay's address
//! and the one-time code in one string,
//! `timebank://enroll?relay=https%3A%2F%2Frelay.example.org&code=K7MQ2XH9PA`. The phone
//! apps and `timebank enroll` take it in place of a code, so nobody types the address.

use crate::error::Error;

/// How every enrollment link starts.
pub const PREFIX: &str = "timebank://enroll?";

/// Longest link read (a relay address and a code are far shorter).
pub const MAX_LINK_CHARS: usize = 2048;

/// A relay's address and a one-time enrollment code for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollLink {
    /// The relay's address (`https://…`).
    pub relay: String,
    /// The one-time code.
    pub code: String,
}

impl EnrollLink {
    /// The link as a QR code holds it; the relay and code are percent-encoded.
    pub fn to_uri(&self) -> String {
        let query =
            form_urlencoded::Serializer::new(String::new()).append_pair("relay", &self.relay).append_pair("code", &self.code).finish();
        format!("{PREFIX}{query}")
    }

    /// Whether `raw` is meant as a link (rather than a typed code).
    pub fn looks_like_link(raw: &str) -> bool {
        raw.trim().get(..PREFIX.len()).is_some_and(|start| start.eq_ignore_ascii_case(PREFIX))
    }

    /// Reads a link; other query fields are ignored (a later app may add some).
    pub fn parse(raw: &str) -> Result<EnrollLink, Error> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_LINK_CHARS {
            return Err(Error::invalid("this enrollment link is far too long to be one; scan the slip's QR code again"));
        }
        if !EnrollLink::looks_like_link(raw) {
            return Err(Error::invalid(format!(
                "this is not an enrollment link (it starts with {PREFIX}); scan the QR code on the slip from your station"
            )));
        }
        let query = raw.get(PREFIX.len()..).unwrap_or_default();
        let field = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        match (field("relay"), field("code")) {
            (Some(relay), Some(code)) => Ok(EnrollLink { relay, code }),
            (None, _) => Err(Error::invalid("this enrollment link names no relay; ask the station for a new slip")),
            (_, None) => Err(Error::invalid("this enrollment link has no code; ask the station for a new slip")),
        }
    }

    /// What to enroll with, from a relay address (when given) and what was typed or
    /// scanned as the code: a link brings its own relay (a different `relay` beside it is
    /// refused, as one of them is a mistake); a plain code needs `relay`.
    pub fn resolve(relay: Option<&str>, code_or_link: &str) -> Result<EnrollLink, Error> {
        let relay = relay.map(str::trim).filter(|r| !r.is_empty());
        if !EnrollLink::looks_like_link(code_or_link) {
            return match relay {
                Some(relay) => Ok(EnrollLink { relay: relay.to_owned(), code: code_or_link.trim().to_owned() }),
                None => {
                    Err(Error::invalid("give the relay's address with the code, or the whole enrollment link from the station's slip"))
                }
            };
        }
        let link = EnrollLink::parse(code_or_link)?;
        match relay {
            Some(relay) if relay.trim_end_matches('/') != link.relay.trim_end_matches('/') => Err(Error::invalid(format!(
                "the enrollment link is for the relay {} but the relay given is {relay}; give the link alone",
                link.relay
            ))),
            _ => Ok(link),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_carries_the_relay_and_the_code_and_reads_back() {
        let link = EnrollLink { relay: "https://relay.example.org:8443/tb".into(), code: "K7MQ2XH9PA".into() };
        let uri = link.to_uri();
        assert_eq!(uri, "timebank://enroll?relay=https%3A%2F%2Frelay.example.org%3A8443%2Ftb&code=K7MQ2XH9PA");
        assert_eq!(EnrollLink::parse(&uri).unwrap(), link);
        assert_eq!(EnrollLink::parse(&format!("  {}&later=1 ", uri.replace("timebank://enroll", "TIMEBANK://ENROLL"))).unwrap(), link);
    }

    #[test]
    fn a_broken_link_says_what_is_missing() {
        for (raw, words) in [
            ("timebank://enroll?code=K7MQ2XH9PA", "no relay"),
            ("timebank://enroll?relay=https%3A%2F%2Fr.example", "no code"),
            ("timebank://enroll?relay=&code=", "no relay"),
            ("https://relay.example.org", "not an enrollment link"),
            ("timebank://enroll?%ZZ", "no relay"),
        ] {
            let error = EnrollLink::parse(raw).unwrap_err().to_string();
            assert!(error.contains(words), "{raw}: {error}");
        }
        assert!(EnrollLink::parse(&format!("{PREFIX}{}", "a".repeat(MAX_LINK_CHARS))).is_err());
    }

    #[test]
    fn a_code_needs_a_relay_and_a_link_brings_its_own() {
        let link = "timebank://enroll?relay=http%3A%2F%2F127.0.0.1%3A8080&code=K7MQ2XH9PA";
        let wanted = EnrollLink { relay: "http://127.0.0.1:8080".into(), code: "K7MQ2XH9PA".into() };
        assert_eq!(EnrollLink::resolve(None, link).unwrap(), wanted);
        assert_eq!(EnrollLink::resolve(Some("http://127.0.0.1:8080/"), link).unwrap(), wanted);
        assert!(EnrollLink::resolve(Some("https://other.example"), link).unwrap_err().to_string().contains("give the link alone"));
        assert_eq!(EnrollLink::resolve(Some("http://127.0.0.1:8080"), " K7MQ2XH9PA ").unwrap(), wanted);
        assert!(EnrollLink::resolve(None, "K7MQ2XH9PA").unwrap_err().to_string().contains("relay's address"));
        assert!(EnrollLink::resolve(Some("  "), "K7MQ2XH9PA").is_err());
    }
}
