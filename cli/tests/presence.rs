//! Proof of presence end to end with the `timebank` binary against a real relay served on
//! 127.0.0.1 (ADR 29, 30): a volunteer checks in and out with the links a software tag of
//! the elder gives (`--tap`), an elder's phone co-signs a visit as text (`visit summary`,
//! `visit cosign`, `visit attach`); the relay verifies and, under the station's rule, posts
//! without a coordinator; a replayed link, an altered one, another elder's tag and a
//! revoked tag wait for review with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] functions

use assert_cmd::Command;
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::Value;
use tempfile::TempDir;
use timebank_server::presence::keys::station_keys;
use timebank_server::presence::sun::{SoftwareTag, parse_uid};
use timebank_server::registry;
use timebank_server::store::MemberRecord;
use timebank_testing::TestRelay;

/// A phone: the `timebank` binary on a store directory.
struct Cli {
    dir: TempDir,
}

impl Cli {
    fn enrolled(relay: &TestRelay, member: &MemberRecord) -> Cli {
        let cli = Cli { dir: tempfile::tempdir().unwrap() };
        cli.ok(&["enroll", "--relay", &relay.url(), "--code", &relay.code(member)]);
        cli.ok(&["sync"]);
        cli
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::cargo_bin("timebank").unwrap().arg("--data").arg(self.dir.path()).args(args).assert()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).success().get_output().stdout.clone();
        String::from_utf8(out).unwrap().trim().to_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        String::from_utf8(self.cmd(args).failure().get_output().stderr.clone()).unwrap()
    }

    /// The visit's state as `visits --json` shows it, after syncing twice (the visit up,
    /// the relay's outcome down).
    fn state(&self, visit: &str) -> String {
        self.ok(&["sync"]);
        self.ok(&["sync"]);
        let all: Value = serde_json::from_str(&self.ok(&["visits", "--json"])).unwrap();
        let row = all.as_array().unwrap().iter().find(|v| v["id"] == visit).unwrap().clone();
        row["state"].as_str().unwrap().to_owned()
    }

    /// Checks in `ago` minutes ago with `tap_in`, out ten minutes later with `tap_out`; the
    /// visit id. Within the last hour, as a live visit is entered (a time entered an hour or
    /// more after the one it claims holds the visit for review as back-dated, tapped or not).
    fn tapped_visit(&self, elder: &MemberRecord, ago: i64, tap_in: &str, tap_out: &str) -> String {
        let id = self.ok(&[
            "visit",
            "start",
            "--elder",
            elder.id.as_str(),
            "--service",
            "meals",
            "--at",
            &minutes_ago(ago),
            "--tap",
            tap_in,
        ]);
        self.ok(&["visit", "end", &id, "--at", &minutes_ago(ago - 10), "--tap", tap_out]);
        id
    }
}

fn minutes_ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A coordinator's phone sets the station's rule to approve verified visits (`auto`).
fn coordinator_approving_verified_visits(relay: &TestRelay) -> Cli {
    let coordinator = Cli::enrolled(relay, &relay.member("coordinator", "Zhang Min"));
    coordinator.ok(&["review", "verified-visits", "auto"]);
    coordinator.ok(&["sync"]);
    coordinator
}

/// Registers tag `uid` for `elder`; the software tag that gives its links.
fn card(relay: &TestRelay, elder: &MemberRecord, uid: &str) -> SoftwareTag {
    registry::register_tag(&relay.relay, &relay.station.id, elder.id.as_str(), uid, "admin", None).unwrap();
    let keys = station_keys(relay.relay.store(), &relay.station.id).unwrap();
    SoftwareTag::new(&keys, parse_uid(uid).unwrap(), 0)
}

#[test]
fn tapped_and_cosigned_visits_are_verified_by_the_relay_and_bad_taps_wait_with_the_reason() {
    let relay = TestRelay::new();
    let coordinator = coordinator_approving_verified_visits(&relay);
    let refused = coordinator.fails(&["review", "verified-visits", "sometimes"]);
    assert!(refused.contains("give queue, bulk or auto"), "{refused}");

    let elder = relay.member("elder", "Wang Fang");
    let mut tag = card(&relay, &elder, "04A1B2C3D4E5F6");
    let volunteer = Cli::enrolled(&relay, &relay.member("volunteer", "Li Wei"));

    // Checked in and out with the elder's card: approved by the relay alone.
    let (first_in, first_out) = (tag.tap(), tag.tap());
    let verified = volunteer.tapped_visit(&elder, 55, &first_in, &first_out);
    let state = volunteer.state(&verified);
    assert!(state.starts_with("approved"), "{state}");

    // A link that is not a tag's is refused at once, and nothing is stored.
    let refused =
        volunteer.fails(&["visit", "start", "--elder", elder.id.as_str(), "--service", "meals", "--tap", "https://example.invalid/"]);
    assert!(refused.contains("not the tag's link"), "{refused}");

    // The first link copied and used again, and a link altered by hand.
    let replayed = volunteer.tapped_visit(&elder, 42, &first_in, &tag.tap());
    assert_eq!(
        volunteer.state(&replayed),
        "under review: evidence of presence failed: the tap repeats an earlier tap of the same tag (a copied link)"
    );
    let mut altered = tag.tap();
    let last = altered.pop().unwrap();
    altered.push(if last == 'F' { 'E' } else { 'F' });
    let tampered = volunteer.tapped_visit(&elder, 29, &altered, &tag.tap());
    assert_eq!(
        volunteer.state(&tampered),
        "under review: evidence of presence failed: the tag's link was altered (its code does not match)"
    );

    // Co-signed by the elder's own phone, as text both ways.
    let elder_phone = Cli::enrolled(&relay, &elder);
    let signed = volunteer.ok(&["visit", "start", "--elder", elder.id.as_str(), "--service", "meals", "--at", &minutes_ago(16)]);
    volunteer.ok(&["visit", "end", &signed, "--at", &minutes_ago(6)]);
    let summary = volunteer.ok(&["visit", "summary", &signed]);
    assert!(summary.starts_with("TBV1|"), "{summary}");
    let signature = elder_phone.ok(&["visit", "cosign", &summary]);
    assert!(signature.starts_with("TBS1|"), "{signature}");
    let (start, end) = (minutes_ago(1500), minutes_ago(1440));
    let paper = volunteer.ok(&["visit", "log", "--elder", elder.id.as_str(), "--service", "meals", "--start", &start, "--end", &end]);
    let refused = volunteer.fails(&["visit", "attach", &paper, &signature]);
    assert!(refused.contains("is for visit"), "a signature of another visit is refused: {refused}");
    volunteer.ok(&["visit", "attach", &signed, &signature]);
    let state = volunteer.state(&signed);
    assert!(state.starts_with("approved"), "{state}");
}

#[test]
fn another_elders_tag_and_a_revoked_tag_wait_for_a_coordinator_with_the_reason() {
    let relay = TestRelay::new();
    coordinator_approving_verified_visits(&relay);
    let elder = relay.member("elder", "Wang Fang");
    let neighbour = relay.member("elder", "Zhao Lan");
    let mut own = card(&relay, &elder, "04A1B2C3D4E5F6");
    let mut theirs = card(&relay, &neighbour, "04A1B2C3D4E5F7");
    let volunteer = Cli::enrolled(&relay, &relay.member("volunteer", "Li Wei"));

    // The neighbour's card, genuine, tapped for Wang Fang's visit.
    let (a, b) = (theirs.tap(), theirs.tap());
    let foreign = volunteer.tapped_visit(&elder, 55, &a, &b);
    assert_eq!(volunteer.state(&foreign), "under review: evidence of presence failed: the tag tapped is another elder's");

    // Wang Fang's card, reported lost and revoked before the visit reached the relay.
    let (a, b) = (own.tap(), own.tap());
    registry::revoke_tag(&relay.relay, &relay.station.id, "04A1B2C3D4E5F6", "lost", None).unwrap();
    let revoked = volunteer.tapped_visit(&elder, 42, &a, &b);
    assert_eq!(volunteer.state(&revoked), "under review: evidence of presence failed: the tag tapped was revoked");
    assert!(relay.relay.store().postings().unwrap().is_empty(), "neither visit earned without a coordinator");
}
