"""Proof of presence through the Python bindings against the real relay binary: the
volunteer's phone checks in and out with the links the elder's tag gives (a software tag:
`timebank-relay admin tag tap`), the elder's own phone co-signs a visit as text, and the
relay verifies both; a replayed link, another elder's tag, an altered link and a revoked tag
each wait for review with the reason."""

from datetime import datetime, timedelta, timezone

import pytest

import timebank_mobile as tb

UID = "04A1B2C3D4E5F6"
NEIGHBOURS_UID = "04A1B2C3D4E5F7"


def tap(station, counter, uid=UID):
    return station.relay.admin("tag", "tap", "--station", station.id, "--uid", uid, "--counter", str(counter))["url"]


def altered(link):
    """The link with its last hex digit changed by hand."""
    return link[:-1] + ("E" if link[-1] in "Ff" else "F")


def synced_twice(store):
    """The visit up, then the relay's outcome down."""
    store.sync(None)
    store.sync(None)


@pytest.fixture
def tagged(station):
    station.relay.admin("tag", "register", "--station", station.id, "--elder", station.elder, "--uid", UID)
    coordinator = station.phone("coordinator", "Li Mei")
    coordinator.set_verified_visits("auto")
    coordinator.sync(None)
    with pytest.raises(tb.TimebankError.InvalidInput):
        coordinator.set_verified_visits("sometimes")
    return station


def test_a_visit_tapped_at_both_ends_is_approved_without_a_coordinator(tagged):
    volunteer = tagged.phone("volunteer", "Wang Jianguo")
    # Ten minutes within the last hour: a live visit entered as it happens (entered an hour
    # or more after the times it claims, it would wait for a coordinator as back-dated).
    start = datetime.now(timezone.utc) - timedelta(minutes=50)
    visit = volunteer.check_in_tapped(tagged.elder, "companionship", None, start, tap(tagged, 1))
    done = volunteer.check_out_tapped(visit, start + timedelta(minutes=10), None, tap(tagged, 2))
    assert (done.tapped_in, done.tapped_out) == (True, True)
    synced_twice(volunteer)
    assert volunteer.visit(visit).state == tb.VisitState.APPROVED()
    assert volunteer.visit(visit).state_label.startswith("approved")

    # The first link again, copied: it waits for a coordinator, with the reason.
    later = start + timedelta(minutes=15)
    replayed = volunteer.check_in_tapped(tagged.elder, "companionship", None, later, tap(tagged, 1))
    volunteer.check_out_tapped(replayed, later + timedelta(minutes=10), None, tap(tagged, 3))
    synced_twice(volunteer)
    assert "repeats an earlier tap" in volunteer.visit(replayed).state_label

    # A link that is not a tag's is refused, and nothing is stored.
    before = len(volunteer.visits())
    with pytest.raises(tb.TimebankError.InvalidInput):
        volunteer.check_in_tapped(tagged.elder, "companionship", None, None, "https://example.invalid/")
    assert len(volunteer.visits()) == before


def test_another_elders_tag_an_altered_link_and_a_revoked_tag_wait_with_the_reason(tagged):
    neighbour = tagged.relay.member(tagged.id, "elder", "Zhao Lan")
    tagged.relay.admin("tag", "register", "--station", tagged.id, "--elder", neighbour, "--uid", NEIGHBOURS_UID)
    volunteer = tagged.phone("volunteer", "Wang Jianguo")
    start = datetime.now(timezone.utc) - timedelta(minutes=50)

    def tapped_visit(minutes_in, link_in, link_out):
        began = start + timedelta(minutes=minutes_in)
        visit = volunteer.check_in_tapped(tagged.elder, "companionship", None, began, link_in)
        volunteer.check_out_tapped(visit, began + timedelta(minutes=5), None, link_out)
        return visit

    # The neighbour's card, genuine, tapped for Zhang Lan's visit.
    foreign = tapped_visit(0, tap(tagged, 1, NEIGHBOURS_UID), tap(tagged, 2, NEIGHBOURS_UID))
    # Zhang Lan's card, its first link changed by hand.
    tampered = tapped_visit(10, altered(tap(tagged, 1)), tap(tagged, 2))
    # Zhang Lan's card, reported lost and revoked before the visit reached the relay.
    lost = tapped_visit(20, tap(tagged, 3), tap(tagged, 4))
    tagged.relay.admin("tag", "revoke", "--station", tagged.id, "--uid", UID, "--why", "lost")
    synced_twice(volunteer)

    reasons = {
        foreign: "the tag tapped is another elder's",
        tampered: "the tag's link was altered",
        lost: "the tag tapped was revoked",
    }
    for visit, reason in reasons.items():
        label = volunteer.visit(visit).state_label
        assert label.startswith("under review") and reason in label, label
    assert all(volunteer.visit(v).state != tb.VisitState.APPROVED() for v in reasons)


def test_the_elders_phone_cosigns_a_visit_offline(tagged):
    volunteer = tagged.phone("volunteer", "Wang Jianguo")
    elder = tb.TimebankStore.enroll(str(tagged.tmp_path / "elder-phone"), tagged.proxy.url, tagged.relay.code(tagged.elder))
    start = datetime.now(timezone.utc) - timedelta(minutes=50)
    visit = volunteer.check_in(tagged.elder, "companionship", None, start)
    volunteer.check_out(visit, start + timedelta(minutes=10), None)
    # No network between the two phones: text (a QR code on a phone) both ways.
    summary = volunteer.visit_summary(visit)
    signature = elder.cosign_visit(summary)
    assert signature.startswith("TBS1|")
    with pytest.raises(tb.TimebankError.NotAllowed):
        volunteer.cosign_visit(summary)
    assert volunteer.attach_cosignature(visit, signature).cosigned_by == tagged.elder
    synced_twice(volunteer)
    assert volunteer.visit(visit).state == tb.VisitState.APPROVED()
