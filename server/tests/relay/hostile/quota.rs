//! Quotas per device per day: a device over its daily changes or bytes is refused with 429
//! until the next day, nothing of that sync stored, and one security event per device and
//! day however often it tries; the station's other phones are not slowed.

use axum::http::StatusCode;
use timebank_engine::DocId;
use timebank_server::relay::Settings;

use super::{events_of, nothing_stored};
use crate::support::TestRelay;

#[test]
fn a_device_over_its_daily_quota_is_refused_until_tomorrow_with_one_event() {
    let settings = Settings { device_changes_per_day: 5, ..Settings::default() };
    let relay = TestRelay::with_settings(settings);
    let volunteer = relay.member("volunteer", "Li Wei");
    let other = relay.member("volunteer", "Zhao Lei");
    let elder = relay.member("elder", "Wang Fang");
    let coordinator = relay.member("coordinator", "Zhang Min");
    let mut phone = relay.phone(&volunteer);
    let mut other_phone = relay.phone(&other);
    let mut desk = relay.phone(&coordinator);
    for p in [&mut phone, &mut other_phone, &mut desk] {
        relay.sync_phone(p);
    }
    for n in 0..5 {
        phone.log_visit(&elder.id, &format!("visit {n}"));
    }
    relay.sync_phone(&mut phone);
    let own = DocId::Member(volunteer.id.clone());
    let before = relay.document(&own).get_heads();

    // The sixth change of the day: refused, again and again, with one event.
    phone.log_visit(&elder.id, "one too many");
    for _ in 0..3 {
        let error = phone.engine.sync(&mut relay.transport(&phone.token)).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("429") && message.contains("over the relay's daily limit of 5 changes"), "{message}");
    }
    assert_eq!(events_of(&relay, &phone.device).iter().filter(|e| e.contains("over quota")).count(), 1);
    nothing_stored(&relay, &mut desk, &own, &before);
    assert_eq!(phone.visit_states().iter().filter(|s| *s == "saved on phone").count(), 1);

    // Another volunteer's phone is not slowed.
    other_phone.log_visit(&elder.id, "independent");
    relay.sync_phone(&mut other_phone);
    assert_eq!(other_phone.visit_states(), ["sent"]);

    // The next day the waiting visit goes.
    relay.clock.advance(chrono::Duration::days(1));
    relay.sync_phone(&mut phone);
    assert!(phone.visit_states().iter().all(|s| s == "sent"), "{:?}", phone.visit_states());
    let answer = relay.get("/healthz");
    assert_eq!(answer.status, StatusCode::OK);
}
