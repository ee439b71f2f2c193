//! The live channel (`GET /v1/live`, ADR 32) on a served relay: a coordinator's dispatch
//! reaches a watching volunteer's phone without polling; a device hears only of documents
//! it may read; hints close together are coalesced; a quiet channel heartbeats; a revoked
//! device's channel closes at once (revoked here, or by another process: the sweep); one
//! channel per device; a bad token is refused and counted; a full relay says when to come
//! back; a restarted relay is found again.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use timebank_engine::DocId;
use timebank_engine::sync::live::{CloseReason, LiveEvent};
use timebank_engine::watch::WatchEvent;
use timebank_server::registry;
use timebank_server::relay::{LiveSettings, Settings};
use timebank_testing::{Heard, LiveListener, Seen, Watching};

use crate::process::{self, RelayProcess};
use crate::support::TestRelay;

fn quick(heartbeat_ms: u64, coalesce_ms: u64) -> TestRelay {
    TestRelay::with_settings(Settings {
        live: LiveSettings { heartbeat_ms, coalesce_ms, ..LiveSettings::default() },
        ..Settings::default()
    })
}

#[test]
fn a_coordinators_dispatch_reaches_the_watching_volunteer_without_polling() {
    let relay = TestRelay::new();
    let (volunteer, elder, coordinator) =
        (relay.member("volunteer", "Li Wei"), relay.member("elder", "Wang Fang"), relay.member("coordinator", "Zhao"));
    let mut desk = relay.http_phone(&coordinator);
    desk.sync().unwrap();
    let watching = Watching::start(relay.http_phone(&volunteer));
    watching.until_event(Duration::from_secs(10), |seen| matches!(seen, Ok(WatchEvent::Synced { .. })));

    let order = desk.engine.place_order(Some(&elder.id), "companionship", "Tuesday afternoon").unwrap();
    desk.engine.dispatch(&order, &volunteer.id).unwrap();
    desk.sync().unwrap();
    let (seen, took) =
        watching.until(Duration::from_secs(5), |phone| phone.engine.assignments().iter().any(|a| a.assignment.order == order));
    assert!(took < Duration::from_secs(2), "the dispatch took {took:?}");
    let hinted = seen.iter().find_map(|seen| match seen {
        Ok(WatchEvent::Synced { hinted, report }) if report.docs_changed > 0 => Some(hinted.clone()),
        _ => None,
    });
    assert_eq!(hinted, Some(vec![format!("member/{}", volunteer.id)]), "the sync that brought it was the relay's hint: {seen:?}");
    let phone = watching.stop();
    assert_eq!(phone.engine.assignments()[0].assignment.note, "Tuesday afternoon");
}

#[test]
fn a_device_hears_only_of_documents_it_may_read() {
    let relay = quick(25_000, 0);
    let elsewhere = registry::create_station(&relay.relay, "Ganquan").unwrap();
    let (li, wang, elder) = (relay.member("volunteer", "Li"), relay.member("volunteer", "Wang"), relay.member("elder", "Fang"));
    let (coordinator, stranger) = (relay.member("coordinator", "Zhao"), relay.member_at(&elsewhere, "volunteer", "Chen"));
    let (li_phone, coordinator_phone) = (relay.http_phone(&li), relay.http_phone(&coordinator));
    let mut wang_phone = relay.http_phone(&wang);
    let mut stranger_phone = relay.http_phone(&stranger);
    let li_hears = LiveListener::device(&relay.url(), &li_phone.token).unwrap();
    let coordinator_hears = LiveListener::device(&relay.url(), &coordinator_phone.token).unwrap();

    // Wang's visit: Wang's document and (after the ledger's fold) ledger; Chen's, elsewhere.
    wang_phone.log_visit(&elder.id, "read the paper");
    wang_phone.sync().unwrap();
    stranger_phone.log_visit(&elder.id, "elsewhere");
    stranger_phone.sync().unwrap();

    assert_eq!(li_hears.events_for(Duration::from_millis(1500)), vec![], "Li may read neither Wang's nor Chen's documents");
    let heard = coordinator_hears.hinted_for(Duration::from_millis(1500));
    assert!(heard.contains(&format!("member/{}", wang.id)), "the coordinator hears of Wang's visit: {heard:?}");
    let readable = [format!("member/{}", wang.id), format!("ledger/{}", wang.id)];
    assert!(heard.iter().all(|doc| readable.contains(doc)), "and of nothing of Chen's, elsewhere: {heard:?}");

    // A member joins the station: the coordinator may read their documents from now on.
    let newcomer = relay.member("volunteer", "Sun");
    let heard = coordinator_hears.hinted_for(Duration::from_millis(800));
    assert!(heard.contains(&DocId::Member(newcomer.id.clone()).to_string()), "{heard:?}");
    assert_eq!(li_hears.events_for(Duration::from_millis(200)), vec![]);
}

#[test]
fn hints_close_together_go_as_one_and_a_quiet_channel_heartbeats() {
    let relay = quick(300, 700);
    let coordinator = relay.member("coordinator", "Zhao");
    let elder = relay.member("elder", "Fang");
    let desk = relay.http_phone(&coordinator);
    let hears = LiveListener::device(&relay.url(), &desk.token).unwrap();
    assert_eq!(hears.next(Duration::from_secs(2)), Some(Heard::Heartbeat), "a quiet channel heartbeats");

    let mut phones: Vec<_> = (0..6).map(|i| relay.http_phone(&relay.member("volunteer", &format!("V{i}")))).collect();
    // Drain the hints of the members joining, then write six visits as fast as they go.
    hears.events_for(Duration::from_millis(1500));
    let started = Instant::now();
    for phone in &mut phones {
        phone.log_visit(&elder.id, "visit");
        phone.sync().unwrap();
    }
    let events = hears.events_for(Duration::from_millis(2500));
    let writing = started.elapsed();
    let named: std::collections::BTreeSet<String> = events
        .iter()
        .flat_map(|heard| match heard {
            Heard::Event(LiveEvent::Changed { docs, .. }) => docs.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    for phone in &phones {
        assert!(named.contains(&format!("member/{}", phone.member.id)), "{named:?}");
    }
    // Twelve documents written (six visits, six ledgers): at most one hint per 0.7 s.
    let most = usize::try_from(writing.as_millis() / 700).unwrap() + 1;
    assert!(events.len() <= most, "{} hints in {writing:?}: {events:?}", events.len());
    assert!(events.len() < 12, "coalesced: {events:?}");
}

#[test]
fn a_revoked_devices_channel_closes_at_once_and_stays_closed() {
    let relay = TestRelay::new();
    let volunteer = relay.member("volunteer", "Li");
    let phone = relay.http_phone(&volunteer);
    let hears = LiveListener::device(&relay.url(), &phone.token).unwrap();
    let watching = Watching::start(relay.http_phone(&volunteer));
    // The watch's own channel replaced nothing: the raw listener is another device.
    watching.until_event(Duration::from_secs(10), |seen| matches!(seen, Ok(WatchEvent::Synced { .. })));
    let device = watching.phone().device.clone();

    let started = Instant::now();
    registry::revoke_device(&relay.relay, &device, None).unwrap();
    let seen = watching.until_event(Duration::from_secs(3), Result::is_err);
    assert!(started.elapsed() < Duration::from_secs(1), "closed after {:?}", started.elapsed());
    let Some(Err(message)) = seen.last() else { panic!("{seen:?}") };
    assert!(message.contains("revoked"), "{message}");
    assert_eq!(watching.next_event(Duration::from_millis(300)), None, "the watch ended, it does not reconnect");
    assert_eq!(LiveListener::device(&relay.url(), &watching.phone().token).err(), Some((401, None)));

    // Revoked by another process (an admin command on the same store): the sweep closes it.
    let started = Instant::now();
    relay.relay.store().revoke_device(&phone.device, relay.relay.now_ms(), None).unwrap();
    assert_eq!(
        hears.events_for(Duration::from_secs(5)),
        vec![Heard::Event(LiveEvent::Closed { reason: CloseReason::Revoked }), Heard::End]
    );
    assert!(started.elapsed() < Duration::from_secs(4), "swept after {:?}", started.elapsed());
}

#[test]
fn a_device_holds_one_channel_and_a_second_watch_takes_over() {
    let relay = TestRelay::new();
    let phone = relay.http_phone(&relay.member("volunteer", "Li"));
    let first = LiveListener::device(&relay.url(), &phone.token).unwrap();
    let _second = LiveListener::device(&relay.url(), &phone.token).unwrap();
    assert_eq!(
        first.events_for(Duration::from_secs(2)),
        vec![Heard::Event(LiveEvent::Closed { reason: CloseReason::Replaced }), Heard::End]
    );
}

#[test]
fn a_bad_token_is_refused_and_counted_and_a_full_relay_says_when_to_come_back() {
    let relay = TestRelay::with_settings(Settings {
        live: LiveSettings { max_channels: 1, ..LiveSettings::default() },
        ..Settings::default()
    });
    assert_eq!(LiveListener::device(&relay.url(), "not-a-token").err(), Some((401, None)));
    let events = relay.relay.store().security_events().unwrap();
    assert!(events.iter().any(|e| e.reason.contains("unknown device token")), "{events:?}");

    let (one, two) = (relay.http_phone(&relay.member("volunteer", "Li")), relay.http_phone(&relay.member("volunteer", "Wang")));
    let held = LiveListener::device(&relay.url(), &one.token).unwrap();
    assert_eq!(LiveListener::device(&relay.url(), &two.token).err(), Some((503, Some("60".to_owned()))));
    drop(held);
    // The first channel's place is free once the relay notices it is gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while LiveListener::device(&relay.url(), &two.token).is_err() {
        assert!(Instant::now() < deadline, "the closed channel's place was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_watching_phone_survives_a_relay_restart() {
    let data = tempfile::tempdir().unwrap();
    let mut server = RelayProcess::start(data.path(), None);
    let station = process::admin(data.path(), &["station", "create", "--name", "Caoyang"])["id"].as_str().unwrap().to_owned();
    let member = |role: &str, name: &str| {
        let args = ["member", "create", "--station", &station, "--role", role, "--name", name, "--birth-year", "1960"];
        process::admin(data.path(), &args)["id"].as_str().unwrap().to_owned()
    };
    let (volunteer, elder, coordinator) = (member("volunteer", "Li"), member("elder", "Fang"), member("coordinator", "Zhao"));
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut desk = process::enrolled_phone(&server.url, data.path(), &coordinator, dirs.0.path());
    let phone = process::enrolled_phone(&server.url, data.path(), &volunteer, dirs.1.path());
    let mut transport = process::transport(&desk, &server.url);
    desk.sync(&mut transport).unwrap();

    let link = phone.relay_link().unwrap().unwrap();
    let (events, seen) = mpsc::channel::<Seen>();
    let watcher = std::thread::spawn(move || {
        let mut phone = phone;
        let mut watch = timebank_engine::watch::Watch::start(link.clone()).unwrap();
        let mut transport = timebank_engine::http::HttpTransport::new(&link);
        while let Ok(Some(event)) = watch.next(&mut || phone.sync(&mut transport)) {
            let synced_an_assignment = matches!(&event, WatchEvent::Synced { .. }) && !phone.assignments().is_empty();
            if events.send(Ok(event)).is_err() || synced_an_assignment {
                return phone;
            }
        }
        phone
    });
    let wait_for = |wanted: &dyn Fn(&WatchEvent) -> bool| loop {
        match seen.recv_timeout(Duration::from_secs(20)).unwrap() {
            Ok(event) if wanted(&event) => return,
            _ => {}
        }
    };
    wait_for(&|event| matches!(event, WatchEvent::Synced { .. }));

    let port = server.port();
    server.kill();
    wait_for(&|event| matches!(event, WatchEvent::Disconnected { .. }));
    let server = RelayProcess::start(data.path(), Some(port));
    assert_eq!(server.port(), port, "the relay came back where the phone looks for it");
    wait_for(&|event| matches!(event, WatchEvent::Connected));

    let order = desk.place_order(Some(&timebank_engine::model::MemberId::parse(&elder).unwrap()), "meals", "").unwrap();
    desk.dispatch(&order, &timebank_engine::model::MemberId::parse(&volunteer).unwrap()).unwrap();
    desk.sync(&mut transport).unwrap();
    let phone = watcher.join().unwrap();
    assert_eq!(phone.assignments()[0].assignment.order, order, "the dispatch after the restart reached the phone");
    server.stop();
}
