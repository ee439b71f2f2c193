"""Errors reach Python as typed exceptions (subclasses of TimebankError) whose message
says what went wrong and what to do; a refused call changes nothing."""

from datetime import datetime, timedelta, timezone

import pytest

import timebank_mobile as tb


def test_a_bad_id_is_an_invalid_input_with_a_readable_message(volunteer_offline):
    before = volunteer_offline.status()
    with pytest.raises(tb.TimebankError.InvalidInput) as raised:
        volunteer_offline.check_in("Elder Zhang!", "companionship", None, None)
    message = str(raised.value)
    assert "not a valid member id" in message and "lowercase" in message, message
    assert isinstance(raised.value, tb.TimebankError)
    assert volunteer_offline.status() == before


def test_each_failure_has_its_own_exception(volunteer_offline, tmp_path):
    with pytest.raises(tb.TimebankError.NotFound, match="not on this phone"):
        volunteer_offline.check_out("v-not-here", None, None)
    with pytest.raises(tb.TimebankError.NotAllowed, match="coordinator"):
        volunteer_offline.review_queue()
    with pytest.raises(tb.TimebankError.NoStore, match="no timebank store"):
        tb.TimebankStore.open(str(tmp_path / "empty"))
    with pytest.raises(tb.TimebankError.AlreadyExists, match="nothing was changed"):
        tb.TimebankStore.create(str(tmp_path / "phone"), "v-1002", "s-caoyang", tb.Role.VOLUNTEER)
    with pytest.raises(tb.TimebankError.NotAllowed, match="not enrolled"):
        volunteer_offline.sync(None)
    with pytest.raises(tb.TimebankError.InvalidInput, match="https://"):
        tb.TimebankStore.enroll(str(tmp_path / "new"), "http://relay.example.org", "code")


def test_an_unreachable_relay_is_offline_and_a_bad_code_is_refused(relay, tmp_path):
    with pytest.raises(tb.TimebankError.RelayRefused) as refused:
        tb.TimebankStore.enroll(str(tmp_path / "new"), relay.url, "not-a-code")
    assert "refused" in str(refused.value)
    relay.kill()
    with pytest.raises(tb.TimebankError.Offline, match="could not reach the relay"):
        tb.TimebankStore.enroll(str(tmp_path / "new"), relay.url, "any-code")
    with pytest.raises(tb.TimebankError.NoStore):
        tb.TimebankStore.open(str(tmp_path / "new"))


class BrokenClock(tb.PlatformClock):
    """An app clock whose sensor read fails: the Python callback raises."""

    def since_boot_ms(self):
        raise RuntimeError("the clock service is gone")

    def boot_id(self):
        return "boot-x"


def test_a_callback_that_raises_is_an_internal_error_not_a_crash(tmp_path):
    store = tb.TimebankStore.create_with_clock(str(tmp_path / "phone"), "v-1001", "s-caoyang", tb.Role.VOLUNTEER, BrokenClock())
    with pytest.raises(tb.TimebankError.Internal, match="nothing was changed"):
        store.check_in("e-2001", "companionship", None, None)
    assert store.status().visits == 0
    # A back-dated check-in needs no monotonic reading: the store carries on.
    assert store.check_in("e-2001", "companionship", None, datetime.now(timezone.utc) - timedelta(minutes=5))
