//! The `presence` group: what proof of presence costs the relay per visit (ADR 30).
//!
//! - `presence_verify_taps_per_visit_us`: a visit tapped at check-in and check-out,
//!   verified as the relay collects it (`ledger::verify::Verifier::evidence`: two SUN
//!   messages decrypted and their MACs checked under the station's diversified keys, each
//!   tag looked up in a real SQLite store), median per visit, each with a fresh verifier
//!   (as each sync has). Baseline: the two SUN messages' cryptography alone, no store.
//! - `presence_verify_cosign_per_visit_us`: a visit co-signed by the elder's phone (the
//!   device and its key looked up, the Ed25519 signature checked). Baseline: the Ed25519
//!   verification alone.
//! - `presence_fold_per_visit_us`: the fold's counter checks (`EvidenceBook::apply`) per
//!   visit, on a station whose tags hold a year of taps.
//!
//! DESIGN.md sets no target; the issue asks for the figure.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use timebank_engine::model::{CoSignature, Evidence, MemberId, Tap, Visit, VisitId, VisitSource, VisitSummary};
use timebank_engine::signing;
use timebank_server::ledger::evidence::{EvidenceBook, EvidenceEvent, TapEvidence, TapVerdict};
use timebank_server::ledger::verify::Verifier;
use timebank_server::presence::keys::station_keys;
use timebank_server::presence::sun::{SoftwareTag, parse_uid};
use timebank_server::registry;
use timebank_server::store::MemberRecord;
use timebank_testing::TestRelay;

use crate::bench::stats::{median, percentile};
use crate::bench::{BenchError, Measurement};

/// How many visits each figure is measured over.
#[derive(Clone, Debug)]
pub struct PresenceBench {
    /// Elders with a tag each.
    pub elders: usize,
    /// Visits timed.
    pub visits: usize,
    /// Taps already folded before the fold is timed (a station's year).
    pub year_of_taps: usize,
}

impl Default for PresenceBench {
    fn default() -> Self {
        PresenceBench { elders: 200, visits: 2_000, year_of_taps: 100_000 }
    }
}

fn visit(volunteer: &MemberId, elder: &MemberId, start: DateTime<Utc>, evidence: Evidence) -> Visit {
    Visit {
        id: VisitId::generate(),
        volunteer: volunteer.clone(),
        elder: elder.clone(),
        service: "companionship".into(),
        order: None,
        check_in: start,
        check_out: Some(start + Duration::hours(1)),
        monotonic_ms: None,
        source: VisitSource::Live,
        note: String::new(),
        recorded_at: start,
        check_out_recorded_at: None,
        device: "aa".into(),
        confirmation: None,
        evidence,
    }
}

fn summary(v: &Visit) -> VisitSummary {
    VisitSummary {
        visit: v.id.clone(),
        volunteer: v.volunteer.clone(),
        elder: v.elder.clone(),
        check_in: v.check_in.timestamp_millis(),
        check_out: v.check_out.map_or(0, |t| t.timestamp_millis()),
    }
}

fn micros(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e6
}

fn figure(scenario: &str, samples: &[f64], baseline: &[f64], note: String) -> Measurement {
    let p99 = percentile(samples, 99.0).unwrap_or(0.0);
    Measurement {
        scenario: scenario.into(),
        ours: median(samples).unwrap_or(0.0),
        baseline: median(baseline),
        unit: "us",
        target: None,
        note: Some(format!("{note}; p99 {p99:.1} us over {} visits", samples.len())),
    }
}

/// Runs the group.
pub fn run(config: &PresenceBench, progress: &mut dyn FnMut(&str)) -> Result<Vec<Measurement>, BenchError> {
    progress(&format!("a relay on SQLite with {} elders, each with a tag", config.elders));
    let relay = TestRelay::new();
    let station = relay.station.clone();
    let volunteer = relay.member("volunteer", "Li Wei");
    let keys = station_keys(relay.relay.store(), &station.id)?;
    let mut elders: Vec<(MemberRecord, SoftwareTag)> = Vec::new();
    for i in 0..config.elders {
        let elder = relay.member("elder", &format!("Elder {i}"));
        let uid = format!("04{:012x}", 0xA1_0000_0000_u64 + i as u64);
        registry::register_tag(&relay.relay, &station.id, elder.id.as_str(), &uid, "bench", None)?;
        let tag = SoftwareTag::new(&keys, parse_uid(&uid).ok_or("a bench UID does not parse")?, 0);
        elders.push((elder, tag));
    }
    let start = Utc::now() - Duration::days(2);

    progress(&format!("verifying {} visits tapped at both ends", config.visits));
    let (mut ours, mut crypto) = (Vec::new(), Vec::new());
    for n in 0..config.visits {
        let (elder, tag) = &mut elders[n % config.elders];
        let (tap_in, tap_out) = (Tap::parse(&tag.tap())?, Tap::parse(&tag.tap())?);
        let v = visit(
            &volunteer.id,
            &elder.id,
            start,
            Evidence { tap_in: Some(tap_in.clone()), tap_out: Some(tap_out.clone()), cosignature: None },
        );
        let started = Instant::now();
        let event = Verifier::new(relay.relay.store()).evidence(&v, &station.id, Some(elder))?;
        ours.push(micros(started));
        let genuine = event.as_ref().and_then(|e| e.tap_out.as_ref()).is_some_and(|t| matches!(t.verdict, TapVerdict::Genuine { .. }));
        if !genuine {
            return Err(format!("a software tag's tap did not verify: {event:?}").into());
        }
        let started = Instant::now();
        let both = keys.verify(&tap_in).is_ok() && keys.verify(&tap_out).is_ok();
        crypto.push(micros(started));
        if !both {
            return Err("the SUN messages alone did not verify".into());
        }
    }
    let taps = figure(
        "presence_verify_taps_per_visit_us",
        &ours,
        &crypto,
        "ours: Verifier::evidence on a fresh verifier (station master key read from the store, two SUN messages decrypted with AES-128-CBC and their CMACs checked, two tag lookups in SQLite); baseline: StationKeys::verify of the two messages alone".into(),
    );

    progress(&format!("verifying {} co-signed visits", config.visits));
    let elder = &elders[0].0;
    let (_, actor, key) = relay.enroll(elder);
    let (mut ours, mut crypto) = (Vec::new(), Vec::new());
    for _ in 0..config.visits {
        let mut v = visit(&volunteer.id, &elder.id, start, Evidence::default());
        let text = summary(&v).text();
        let signature = CoSignature {
            visit: v.id.clone(),
            signer: elder.id.clone(),
            device: actor.to_hex_string(),
            public_key: key.public(),
            signature: key.sign(text.as_bytes()),
        };
        v.evidence.cosignature = Some(signature.clone());
        let started = Instant::now();
        let event = Verifier::new(relay.relay.store()).evidence(&v, &station.id, Some(elder))?;
        ours.push(micros(started));
        if event.and_then(|e| e.cosignature).is_none_or(|s| s.failure.is_some()) {
            return Err("a co-signature did not verify".into());
        }
        let started = Instant::now();
        let ok = signing::verify(&signature.public_key, text.as_bytes(), &signature.signature);
        crypto.push(micros(started));
        if !ok {
            return Err("the signature alone did not verify".into());
        }
    }
    let cosign = figure(
        "presence_verify_cosign_per_visit_us",
        &ours,
        &crypto,
        "ours: Verifier::evidence (the signing device looked up by its actor in SQLite, its registered key compared, the Ed25519 signature checked strictly, the household rule); baseline: the Ed25519 verification alone".into(),
    );

    progress(&format!("folding {} taps, then timing {} visits", config.year_of_taps, config.visits));
    let mut book = EvidenceBook::default();
    let event = |n: usize, counter: u32| {
        let tap = |c: u32| {
            Some(TapEvidence { raw: format!("{n}:{c}"), verdict: TapVerdict::Genuine { tag: format!("t{}", n % 20), counter: c } })
        };
        EvidenceEvent {
            visit: format!("v-{n:08}"),
            volunteer: volunteer.id.clone(),
            station: station.id.clone(),
            check_in: n as i64 * 3_600_000,
            check_out: n as i64 * 3_600_000 + 1_800_000,
            tap_in: tap(counter),
            tap_out: tap(counter + 1),
            cosignature: None,
        }
    };
    for n in 0..config.year_of_taps / 2 {
        book.apply(&event(n, 2 * (n / 20) as u32 + 1));
    }
    let mut folds = Vec::new();
    for n in config.year_of_taps / 2..config.year_of_taps / 2 + config.visits {
        let e = event(n, 2 * (n / 20) as u32 + 1);
        let started = Instant::now();
        book.apply(&e);
        folds.push(micros(started));
    }
    let fold = figure(
        "presence_fold_per_visit_us",
        &folds,
        &[],
        format!("EvidenceBook::apply of a visit tapped at both ends, on 20 tags holding {} taps", config.year_of_taps),
    );
    Ok(vec![taps, cosign, fold])
}
