//! A connection cut after the relay committed a sync but before the phone heard the
//! answer: the phone keeps showing "saved on phone" (also after the app restarts), the
//! retry succeeds in one sync (one exchange plus the relay's request for a full listing),
//! nothing is stored twice, and the visit turns "sent".
//! A connection cut before the request reached the relay, for contrast: nothing stored.

use timebank_engine::sync::TransportError;
use timebank_engine::{DocId, Error};

use crate::support::{Fault, TestRelay, on_relay, settles, sorted};

#[test]
fn an_answer_lost_after_the_relay_committed_costs_one_retry_and_stores_nothing_twice() {
    for (fault, relay_commits) in [(Fault::CutAfterAnswer, true), (Fault::CutMidResponse, true), (Fault::CutBeforeForwarding, false)] {
        let relay = TestRelay::start();
        let volunteer = relay.member("volunteer", "Li Wei");
        let elder = relay.member("elder", "Wang Fang");
        let mut phone = relay.phone(&volunteer);
        phone.sync().unwrap();
        let own = DocId::Member(volunteer.id.clone());
        let generation = relay.generation(&own);
        let visit = phone.log_paper_visit(&elder.id, None, "tea and the newspaper");

        relay.proxy.fail_next(fault);
        let error = phone.sync().unwrap_err();
        assert!(matches!(error, Error::Transport(TransportError::Unreachable(_))), "{fault:?}: {error}");
        assert!(error.to_string().contains("everything stays saved on this phone"), "{error}");
        assert_eq!(phone.states()[&visit], "saved on phone", "{fault:?}");
        assert_eq!(relay.generation(&own), generation + i64::from(relay_commits), "{fault:?}");
        assert_eq!(relay.visit_records(&volunteer.id), usize::from(relay_commits), "{fault:?}");

        // The app is closed and opened again before the next sync: the same.
        let mut phone = phone.reopen();
        assert_eq!(phone.states()[&visit], "saved on phone", "{fault:?}");

        // One sync. When the relay had answered, its record of the phone is ahead of the
        // phone's manifest: the first exchange is its request for a full listing, and
        // stores nothing (docs/adr/0006-one-round-trip-sync.md, "A lost answer costs one
        // extra exchange"); otherwise the retry is the one ordinary exchange.
        let report = phone.sync().unwrap();
        assert_eq!(report.round_trips, 1 + usize::from(relay_commits), "{fault:?}: {report:?}");
        assert_eq!((report.changes_sent, report.changes_received), (1, 0), "{fault:?}: {report:?}");
        assert!(on_relay(&phone.states()[&visit]), "{fault:?}: {:?}", phone.states());
        assert_eq!(relay.generation(&own), generation + 1, "{fault:?}: the relay stored the change once");
        assert_eq!(relay.visit_records(&volunteer.id), 1, "{fault:?}");
        assert_eq!(relay.visits(&volunteer.id)[&visit].note, "tea and the newspaper");
        assert_eq!(relay.heads(&own), sorted(phone.engine.heads(&own)), "{fault:?}");

        // Later syncs are single quiet exchanges (bringing at most what the relay's
        // ledger wrote after the retry).
        assert!(settles(&mut phone), "{fault:?}");
        assert_eq!(relay.proxy.applied().iter().filter(|f| **f != Fault::Pass).count(), 1);
    }
}
