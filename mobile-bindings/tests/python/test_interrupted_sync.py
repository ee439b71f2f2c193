"""A sync cut off half-way (the relay's answer lost, or the sync cancelled while the
relay does not answer) resumes at the next sync with nothing lost and nothing twice."""

import asyncio

import pytest

import timebank_mobile as tb

from conftest import on_the_desk, visit_of_an_hour


def test_a_lost_answer_is_resent_once_and_counted_once(station):
    volunteer = station.phone("volunteer", "Wang Jianguo")
    coordinator = station.phone("coordinator", "Li Mei")
    visit = visit_of_an_hour(volunteer, station.elder)

    station.proxy.drop_next_answer = True
    with pytest.raises(tb.TimebankError.Offline):
        volunteer.sync(None)
    assert volunteer.visit(visit).state_label == "saved on phone"
    assert on_the_desk(coordinator, visit) == 1, "the relay kept what it received"

    volunteer.sync(None)
    assert volunteer.visit(visit).state_label == "sent"
    assert len(volunteer.visits()) == 1
    assert on_the_desk(coordinator, visit) == 1
    assert len(coordinator.review_queue()) == 1


def test_a_sync_cancelled_while_the_relay_works_resumes_without_loss_or_duplicates(station):
    volunteer = station.phone("volunteer", "Wang Jianguo")
    coordinator = station.phone("coordinator", "Li Mei")
    first = visit_of_an_hour(volunteer, station.elder)
    second = visit_of_an_hour(volunteer, station.elder, hours_ago=3)

    async def cancelled_mid_way():
        cancel = tb.SyncCancel()
        station.proxy.hold.clear()
        station.proxy.arrived.clear()
        sync = asyncio.ensure_future(volunteer.sync_async(cancel))
        # The request is at the relay's door and the relay says nothing; the user leaves
        # the screen. The sync stops at once, and the phone keeps working meanwhile.
        assert await asyncio.to_thread(station.proxy.arrived.wait, 10)
        # While the relay is silent the phone still answers (the store is not locked).
        visits = await asyncio.wait_for(asyncio.to_thread(volunteer.visits), 3)
        assert len(visits) == 2
        cancel.cancel()
        with pytest.raises(tb.TimebankError.Cancelled):
            await asyncio.wait_for(sync, 3)
        assert len(volunteer.visits()) == 2
        # The held request now reaches the relay; its answer goes nowhere.
        station.proxy.hold.set()

    asyncio.run(cancelled_mid_way())
    assert {volunteer.visit(v).state_label for v in (first, second)} == {"saved on phone"}

    report = asyncio.run(volunteer.sync_async(tb.SyncCancel()))
    assert report.round_trips >= 1
    assert {volunteer.visit(v).state_label for v in (first, second)} == {"sent"}
    assert on_the_desk(coordinator, first) == 1
    assert on_the_desk(coordinator, second) == 1
    assert len(coordinator.review_queue()) == 2
