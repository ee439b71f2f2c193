//! Bounded, resumable pages both ways (issue 10, ADR 25): a phone with more to upload than
//! one request carries sends it in several, and a coordinator's phone far behind catches
//! up in several answers, each under the limit a phone reads and each durable when
//! applied, so a cut connection costs only the page in flight. The pages here are small
//! (an operator's setting; 1 MiB by default) so the test writes little.

use timebank_engine::DocId;
use timebank_engine::sync::wire::MAX_BODY_BYTES;
use timebank_engine::sync::{SyncRun, Transport, TransportError};
use timebank_server::relay::Settings;

/// The page both ways in this test.
const PAGE_BYTES: usize = 24 * 1024;

use crate::support::{InProcess, TestRelay};

/// A transport that stops reaching the relay after `left` exchanges.
struct Cut<'a> {
    inner: InProcess<'a>,
    left: usize,
}

impl Transport for Cut<'_> {
    fn exchange(&mut self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        if self.left == 0 {
            return Err(TransportError::Unreachable("the lift doors closed".into()));
        }
        self.left -= 1;
        self.inner.exchange(body)
    }
}

#[test]
fn five_pages_go_up_and_come_down_in_bounded_durable_pages() {
    let relay = TestRelay::with_settings(Settings { page_bytes: PAGE_BYTES, ..Settings::default() });
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut desk = relay.phone(&coordinator);
    relay.sync_phone(&mut phone);
    relay.sync_phone(&mut desk);

    // A volunteer's phone offline for long: five pages and more of visits with long notes.
    let own = DocId::Member(volunteer.id.clone());
    let start = phone.engine.heads(&own);
    let note = "陪老人聊天，读报纸，量血压，帮忙整理药盒。".repeat(20);
    phone.log_visit(&elder.id, &note);
    let one: usize = phone.document(&own).get_changes(&start).iter().map(|c| c.raw_bytes().len()).sum();
    for _ in 0..5 * PAGE_BYTES / one {
        phone.log_visit(&elder.id, &note);
    }
    let written: usize = phone.document(&own).get_changes(&start).iter().map(|c| c.raw_bytes().len()).sum();
    assert!(written > 5 * PAGE_BYTES, "{written} B written");
    let visits = phone.engine.visits().unwrap().len();

    let mut up = relay.transport(&phone.token);
    let report = phone.engine.sync_run(SyncRun::with_page_bytes(PAGE_BYTES), &mut up).unwrap();
    assert!(report.round_trips >= 5, "{report:?}");
    assert!(up.exchanges.iter().all(|(request, answer)| request.len() <= PAGE_BYTES + 1024 && answer.len() <= MAX_BODY_BYTES));
    // Every visit reached the relay (some are under review: so many overlap).
    assert_eq!(phone.engine.status().unwrap().unsynced_changes, 0);
    assert!(phone.visit_states().iter().all(|s| s != "saved on phone"));
    assert_eq!(timebank_engine::documents::member::visits(&relay.document(&own.to_string()), &volunteer.id).len(), visits);

    // The coordinator's phone catches up: cut after two pages, every page it got is kept.
    let mut cut = Cut { inner: relay.transport(&desk.token), left: 2 };
    assert!(desk.engine.sync(&mut cut).is_err(), "the connection was cut");
    let got = timebank_engine::documents::member::visits(&desk.document(&own), &volunteer.id).len();
    assert!(got > 0 && got < visits, "two pages kept: {got} of {visits}");
    drop(desk.engine);
    desk.engine = timebank_engine::Engine::open(desk.dir.path()).unwrap();
    let mut rest = relay.transport(&desk.token);
    let report = desk.engine.sync(&mut rest).unwrap();
    assert!(report.round_trips >= 3, "{report:?}");
    let biggest = rest.exchanges.iter().map(|(_, answer)| answer.len()).max().unwrap();
    assert!(biggest <= PAGE_BYTES + 1024, "each answer is a page: {biggest} B");
    assert_eq!(timebank_engine::documents::member::visits(&desk.document(&own), &volunteer.id).len(), visits);
    assert_eq!(desk.engine.heads(&own), relay.document(&own.to_string()).get_heads());
    let quiet = relay.sync_phone(&mut desk);
    assert_eq!((quiet.round_trips, quiet.changes_received), (1, 0));
}

#[test]
fn a_phone_with_more_changes_than_one_request_holds_sends_them_in_several() {
    use timebank_engine::sync::bounds::PUSH;
    use timebank_engine::sync::wire::{self, SyncRequest};

    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li Wei");
    let elder = relay.member("elder", "Wang Fang");
    let mut phone = relay.phone(&volunteer);
    relay.sync_phone(&mut phone);
    // Short visits: far under the page's bytes, over the changes one request may hold.
    let count = usize::try_from(PUSH.batch_changes).unwrap() + 20;
    for _ in 0..count {
        phone.log_visit(&elder.id, "tea");
    }

    let mut up = relay.transport(&phone.token);
    let report = phone.engine.sync(&mut up).unwrap();
    assert!(report.round_trips >= 2, "{report:?}");
    for (request, _) in &up.exchanges {
        let request: SyncRequest = wire::decode(request).unwrap();
        let changes: usize = request.docs.iter().map(|d| d.changes.len()).sum();
        assert!(changes as u64 <= PUSH.batch_changes, "{changes} changes in one request");
    }
    assert_eq!(phone.engine.status().unwrap().unsynced_changes, 0);
    let own = format!("member/{}", volunteer.id);
    assert_eq!(timebank_engine::documents::member::visits(&relay.document(&own), &volunteer.id).len(), count);
    assert!(relay.store().security_events().unwrap().is_empty());
}
