"""The whole story against a relay the test starts: enroll a fresh phone, check in and
out while the relay is down, sync when it is back, and see the visit on the relay and on
the coordinator's desk; then the coordinator approves it and the coins come back."""

import asyncio

import pytest

import timebank_mobile as tb

from conftest import Relay, on_the_desk, visit_of_an_hour


def test_a_visit_made_offline_reaches_the_relay_and_comes_back_approved(station):
    volunteer = station.phone("volunteer", "Wang Jianguo")
    coordinator = station.phone("coordinator", "Li Mei")
    me = volunteer.identity().member
    assert volunteer.status().relay == station.proxy.url

    # The relay goes down (the phone is offline); the visit is made anyway.
    station.relay.kill()
    visit = visit_of_an_hour(volunteer, station.elder)
    with pytest.raises(tb.TimebankError.Offline):
        volunteer.sync(None)
    assert volunteer.visit(visit).state == tb.VisitState.SAVED_ON_PHONE()

    # Back up, on another port behind the same address.
    restarted = Relay(station.relay.data).start()
    station.relay = restarted
    station.proxy.upstream_port = restarted.port
    try:
        report = volunteer.sync(None)
        assert report.changes_sent >= 2
        assert volunteer.visit(visit).state_label == "sent"
        assert volunteer.status().unsynced_changes == 0
        assert on_the_desk(coordinator, visit) == 1

        coordinator.review_visit(visit, tb.ReviewDecision.APPROVE, "")
        coordinator.sync(None)
        asyncio.run(volunteer.sync_async(None))
        assert volunteer.visit(visit).state == tb.VisitState.APPROVED()
        assert volunteer.balance().confirmed_minutes >= 60
        # The relay's own books, through its admin command.
        ledger = restarted.admin("ledger", "--member", me)
        assert ledger["outcomes"][visit]["status"] == "approved", ledger
        assert ledger["balance"]["confirmed_minutes"] == volunteer.balance().confirmed_minutes
    finally:
        restarted.kill()


def test_a_dispatched_order_is_accepted_and_served(station):
    volunteer = station.phone("volunteer", "Wang Jianguo")
    coordinator = station.phone("coordinator", "Li Mei")
    order = coordinator.place_order(station.elder, "meals", "lunch on Tuesday")
    coordinator.dispatch(order, volunteer.identity().member)
    coordinator.sync(None)
    volunteer.sync(None)
    [assignment] = volunteer.assignments()
    assert (assignment.order, assignment.state) == (order, tb.OrderState.DISPATCHED)
    # The coordinator's phone copied the elder's name into the dispatch (ADR 0021).
    assert (assignment.elder, assignment.elder_name) == (station.elder, "Zhang Lan")
    volunteer.accept(order)
    visit = volunteer.check_in(station.elder, "meals", order, None)
    assert volunteer.assignments()[0].state == tb.OrderState.VISITED
    assert volunteer.visit(visit).order == order
    assert volunteer.visit(visit).elder_name == "Zhang Lan"


def test_an_order_in_a_time_slot_brings_the_address_to_its_volunteer_and_the_elder_follows_it(station):
    from datetime import datetime, timedelta, timezone
    address = "Caoyang Road 8, room 302"
    elder = station.relay.admin("member", "create", "--station", station.id, "--role", "elder", "--name", "Chen Hua",
                                "--birth-year", "1939", "--address", address, "--phone", "139 1234 5678")["id"]
    elder_phone = tb.TimebankStore.enroll(str(station.tmp_path / elder), station.proxy.url, station.relay.code(elder))
    volunteer = station.phone("volunteer", "Wang Jianguo")
    other = station.phone("volunteer", "Zhou Min")
    coordinator = station.phone("coordinator", "Li Mei")
    start = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    order = elder_phone.place_order_for_slot(None, "meals", "lunch", start, start + timedelta(hours=2))
    elder_phone.sync(None)
    coordinator.sync(None)
    coordinator.dispatch(order, volunteer.identity().member)
    coordinator.sync(None)

    volunteer.sync(None)
    other.sync(None)
    [assignment] = volunteer.assignments()
    assert (assignment.slot_start, assignment.slot_end) == (start, start + timedelta(hours=2))
    assert (assignment.elder_address, assignment.elder_phone) == (address, "139 1234 5678")
    assert other.assignments() == [], "another volunteer gets nothing of it"

    volunteer.accept(order)
    visit = volunteer.check_in(elder, "meals", order, datetime.now(timezone.utc) - timedelta(minutes=30))
    assert volunteer.assignments()[0].elder_address is None, "the address leaves with the visit"
    volunteer.check_out(visit, None, None)
    volunteer.confirm_visit(visit, tb.ConfirmedBy.ELDER)
    volunteer.sync(None)
    elder_phone.sync(None)
    [placed] = elder_phone.orders()
    assert placed.state == tb.OrderState.CONFIRMED, "the elder's phone follows the order"
    assert (placed.slot_start, placed.slot_end) == (start, start + timedelta(hours=2))
