"""Watching the relay through the bindings (ADR 32): a coordinator dispatches in the
console (signed in over HTTP, as a browser does) and the volunteer's watching phone has
the assignment within a second, without asking for a sync; the watch is a plain Python
iterator, `iter(watch.next_event, None)`, which `cancel()` ends from another thread."""

import queue
import re
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import timebank_mobile as tb

PASSWORD = "correct horse battery"


class Console:
    """The coordinators' console in a cookie-keeping client, signed in as `username`."""

    def __init__(self, relay, username):
        self.url = relay.url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        page = self.get("/console/login")
        self.post("/console/login", page, username=username, password=PASSWORD, next="/console/orders")

    def get(self, path):
        with self.opener.open(self.url + path, timeout=30) as answer:
            return answer.read().decode()

    def post(self, path, page, **fields):
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"csrf": csrf, **fields}).encode()
        with self.opener.open(self.url + path, data=body, timeout=30) as answer:
            return answer.read().decode()

    def place_order(self, elder, service, note):
        board = self.post("/console/orders", self.get("/console/orders"), elder=elder, service=service, note=note)
        return re.search(r'data-order="([^"]+)"', board).group(1)

    def dispatch(self, order, volunteer):
        self.post(f"/console/orders/{order}/dispatch", self.get("/console/orders"), volunteer=volunteer)


def console_of(station, name):
    coordinator = station.relay.member(station.id, "coordinator", name)
    username = f"coord{int(time.time() * 1000) % 100000}"
    station.relay.admin("console-user", "create", "--username", username, "--station", station.id,
                        "--member", coordinator, "--password-stdin", stdin=PASSWORD + "\n")
    return Console(station.relay, username)


def watching(watch):
    """The watch's events, read on a thread with the iterator an app would use."""
    events = queue.Queue()

    def read():
        try:
            for event in iter(watch.next_event, None):
                events.put(event)
        except tb.TimebankError as error:
            events.put(error)
        events.put(None)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return events, thread


def until(events, wanted, within=10):
    deadline = time.monotonic() + within
    seen = []
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        seen.append(event)
        if wanted(event):
            return event
        assert time.monotonic() < deadline, seen


def test_a_dispatch_in_the_console_reaches_the_watching_phone_and_cancel_ends_the_iterator(station):
    volunteer = station.phone("volunteer", "Wang Jianguo", through_proxy=False)
    console = console_of(station, "Li Mei")
    watch = volunteer.watch()
    events, reader = watching(watch)
    assert isinstance(until(events, lambda e: True), tb.WatchEvent.CONNECTED)
    until(events, lambda e: isinstance(e, tb.WatchEvent.SYNCED))

    order = console.place_order(station.elder, "meals", "lunch on Tuesday")
    dispatched = time.monotonic()
    console.dispatch(order, volunteer.identity().member)
    synced = until(events, lambda e: isinstance(e, tb.WatchEvent.SYNCED) and e.report.docs_changed > 0, within=5)
    took = time.monotonic() - dispatched
    assert took < 1.0, f"the dispatch reached the phone after {took:.2f} s"
    assert synced.hinted == [f"member/{volunteer.identity().member}"], "the relay's hint set the sync off"
    [assignment] = volunteer.assignments()
    assert (assignment.order, assignment.note) == (order, "lunch on Tuesday")

    cancelled = time.monotonic()
    watch.cancel()
    reader.join(timeout=3)
    assert not reader.is_alive() and time.monotonic() - cancelled < 3
    assert watch.is_cancelled() and watch.next_event() is None


def test_a_revoked_phone_s_watch_raises_relay_refused(station):
    volunteer = station.phone("volunteer", "Wang Jianguo", through_proxy=False)
    watch = volunteer.watch()
    events, _ = watching(watch)
    until(events, lambda e: isinstance(e, tb.WatchEvent.SYNCED))
    me = volunteer.identity().member
    [device] = [d["id"] for d in station.relay.admin("device", "list") if d["member"] == me]
    # Revoked by the admin command, another process: the relay's sweep closes the channel.
    station.relay.admin("device", "revoke", device)
    ended = until(events, lambda e: isinstance(e, tb.TimebankError), within=10)
    assert isinstance(ended, tb.TimebankError.RelayRefused) and "revoked" in str(ended)
