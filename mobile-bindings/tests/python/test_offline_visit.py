"""A volunteer's whole visit offline through the generated Python API: check in, check
out, the elder confirms, and it is all still there when the app opens the store again."""

from datetime import timedelta

import timebank_mobile as tb

from conftest import an_hour_ago


def test_a_whole_visit_is_saved_on_the_phone_and_survives_a_restart(tmp_path):
    store = tb.TimebankStore.create(str(tmp_path / "phone"), "v-1001", "s-caoyang", tb.Role.VOLUNTEER)
    assert store.identity().role == tb.Role.VOLUNTEER

    visit = store.check_in("e-2001", "companionship", None, an_hour_ago())
    assert store.visit(visit).state == tb.VisitState.CHECKED_IN()
    assert store.status().open_visits == 1

    done = store.check_out(visit, None, "read the newspaper together")
    assert done.state_label == "saved on phone"
    assert 59 <= done.minutes <= 61
    assert done.check_out - done.check_in >= timedelta(minutes=59)
    confirmed = store.confirm_visit(visit, tb.ConfirmedBy.ELDER)
    assert confirmed.confirmation.by == tb.ConfirmedBy.ELDER
    assert store.balance().pending_minutes == done.minutes
    del store

    reopened = tb.TimebankStore.open(str(tmp_path / "phone"))
    [again] = reopened.visits()
    assert (again.id, again.note, again.state_label) == (visit, "read the newspaper together", "saved on phone")
    assert again.confirmation is not None
    assert reopened.status().unsynced_changes > 0


def test_a_paper_visit_and_a_redemption_wait_on_the_phone(volunteer_offline):
    start = an_hour_ago() - timedelta(days=2)
    past = tb.PastVisit(elder="e-2001", service="meals", order=None, start=start, end=start + timedelta(minutes=45), note="paper sheet")
    visit = volunteer_offline.log_visit(past)
    logged = volunteer_offline.visit(visit)
    assert (logged.source, logged.minutes) == (tb.VisitSource.PAPER, 45)
    request = volunteer_offline.redeem("tcm-physiotherapy", 30)
    [waiting] = volunteer_offline.requests()
    assert (waiting.id, waiting.state_label, waiting.kind) == (request, "saved on phone", tb.RequestKind.REDEEM(service="tcm-physiotherapy"))
    assert volunteer_offline.balance().reserved_minutes == 30


def test_documents_cross_as_bytes(volunteer_offline, tmp_path):
    visit_id = volunteer_offline.check_in("e-2001", "companionship", None, None)
    [doc] = volunteer_offline.document_ids()
    saved = volunteer_offline.document_bytes(doc)
    assert isinstance(saved, bytes) and len(saved) > 100
    # Another phone of the same member takes the document in from a backup.
    other = tb.TimebankStore.create(str(tmp_path / "other"), "v-1001", "s-caoyang", tb.Role.VOLUNTEER)
    assert other.receive_changes(doc, saved) > 0
    assert visit_id in [v.id for v in other.visits()]


class Uptime(tb.PlatformClock):
    """The phone's clock since boot, as an app passes it (Android elapsedRealtime)."""

    def __init__(self):
        self.millis = 7_200_000

    def since_boot_ms(self):
        return self.millis

    def boot_id(self):
        return "4f1c2a9e-boot"


def test_a_live_visit_is_measured_by_the_clock_the_app_lends(tmp_path):
    uptime = Uptime()
    store = tb.TimebankStore.create_with_clock(str(tmp_path / "phone"), "v-1001", "s-caoyang", tb.Role.VOLUNTEER, uptime)
    visit = store.check_in("e-2001", "companionship", None, None)
    uptime.millis += 50 * 60_000
    assert store.check_out(visit, None, None).minutes == 50
