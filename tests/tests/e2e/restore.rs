//! A relay restored from a backup (it lost changes it had acknowledged), over HTTP: the
//! phone's next sync takes several exchanges (the relay's request for a full listing, then
//! Bloom sync). Whichever exchange the connection is cut at, the phone claims nothing the
//! relay lacks as "sent", and the retry gives the relay everything back.

use std::collections::BTreeSet;
use std::sync::Arc;

use automerge::Automerge;
use timebank_engine::documents::member;
use timebank_engine::model::VisitId;
use timebank_engine::sync::TransportError;
use timebank_engine::{DocId, Error};
use timebank_server::Relay;

use crate::support::{Fault, Server, TestRelay, on_relay, settles, sorted};

#[test]
fn a_cut_during_the_fallback_after_a_restore_claims_nothing_the_relay_lacks() {
    for cut_at in 1..=4 {
        for fault in [Fault::CutAfterAnswer, Fault::CutBeforeForwarding] {
            restore_and_cut(cut_at, fault);
        }
    }
}

/// The relay loses one visit; the phone's sync with the restored relay is cut at
/// exchange `cut_at` with `fault`, then retried.
fn restore_and_cut(cut_at: usize, fault: Fault) {
    let case = format!("cut at exchange {cut_at} with {fault:?}");
    let relay = TestRelay::start();
    let li = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&li);
    phone.sync().unwrap();

    let backup = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(relay.dir.path().join("relay.sqlite3")).unwrap();
    conn.execute("VACUUM INTO ?1", [backup.path().join("relay.sqlite3").to_str().unwrap()]).unwrap();
    drop(conn);

    let lost = phone.log_paper_visit(&elder.id, None, "the relay will lose this one");
    phone.sync().unwrap();
    assert!(on_relay(&phone.states()[&lost]));
    let pending = phone.log_paper_visit(&elder.id, None, "logged after the relay's disk died");

    // The relay comes back from the backup, without `lost`; the proxy points at it.
    let restored = Arc::new(Relay::open(backup.path()).unwrap());
    let server = Server::start(restored.clone());
    relay.proxy.set_upstream(server.addr().unwrap());
    let own = DocId::Member(li.id.clone());
    let relay_doc = || Automerge::load(&restored.store().document(&own.to_string()).unwrap().unwrap().bytes).unwrap();
    let relay_visits = || -> BTreeSet<VisitId> { member::visits(&relay_doc(), &li.id).into_iter().map(|v| v.id).collect() };
    assert!(relay_visits().is_empty());

    let exchanges_before = relay.proxy.applied().len();
    for _ in 1..cut_at {
        relay.proxy.fail_next(Fault::Pass);
    }
    relay.proxy.fail_next(fault);
    match phone.sync() {
        Err(Error::Transport(TransportError::Unreachable(_))) => {}
        Err(error) => panic!("{case}: {error}"),
        Ok(report) => {
            // The sync needed fewer exchanges than `cut_at`: nothing was cut.
            assert!(report.round_trips < cut_at, "{case}: {report:?}");
            return;
        }
    }
    assert_eq!(relay.proxy.applied().len() - exchanges_before, cut_at, "{case}");
    assert_eq!(relay.proxy.pending(), 0, "{case}");
    let held = relay_visits();
    for (visit, state) in phone.states() {
        if on_relay(&state) && visit != lost {
            assert!(held.contains(&visit), "{case}: {visit} shows \"sent\" but the relay does not have it");
        }
    }

    let report = phone.sync().unwrap();
    assert!(report.round_trips > 1, "{case}: {report:?}");
    // Everything the phone shows "sent" is on the relay, and the two agree.
    assert!(phone.states().values().all(|s| on_relay(s)), "{case}: {:?}", phone.states());
    assert_eq!(relay_visits(), BTreeSet::from([lost, pending]), "{case}: visits on the relay after the retry");
    assert_eq!(sorted(relay_doc().get_heads()), sorted(phone.engine.heads(&own)), "{case}");
    assert!(restored.store().security_events().unwrap().is_empty(), "{case}");
    // Later syncs are single quiet exchanges (bringing at most what the relay's
    // ledger wrote after the retry).
    assert!(settles(&mut phone), "{case}");
}
