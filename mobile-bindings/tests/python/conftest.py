"""Fixtures for the Python suite: the real `timebank-relay` binary on 127.0.0.1 with its
admin commands, a TCP proxy in front of it that can hold or drop an answer, and stores in
temporary directories. scripts/test-python.sh sets TIMEBANK_RELAY_BIN and PYTHONPATH (the
generated module beside the built library)."""

import json
import os
import socket
import subprocess
import threading
from datetime import datetime, timedelta, timezone

import pytest

import timebank_mobile as tb


def relay_binary():
    path = os.environ.get("TIMEBANK_RELAY_BIN")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"TIMEBANK_RELAY_BIN={path!r} is not the relay binary; run scripts/test-python.sh")
    return path


class Relay:
    """`timebank-relay serve` as a child process on a data directory that outlives it."""

    def __init__(self, data):
        self.data = str(data)
        self.process = None
        self.url = None

    def start(self):
        self.process = subprocess.Popen(
            [relay_binary(), "--listen", "127.0.0.1:0", "--data", self.data],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on http://127.0.0.1:"):
            self.process.kill()
            raise RuntimeError(f"the relay did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        return self

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def kill(self):
        """SIGKILL: the relay dies mid-flight, as a crashed server does."""
        self.process.kill()
        self.process.wait()

    def admin(self, *args, stdin=None):
        done = subprocess.run(
            [relay_binary(), "admin", "--data", self.data, *args, "--json"],
            capture_output=True, text=True, check=False, input=stdin,
        )
        assert done.returncode == 0, f"admin {args}: {done.stderr}"
        return json.loads(done.stdout)

    def member(self, station, role, name):
        year = "1941" if role == "elder" else "1979"
        return self.admin("member", "create", "--station", station, "--role", role, "--name", name, "--birth-year", year)["id"]

    def code(self, member):
        return self.admin("enroll-code", "--member", member)["code"]


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of the relay, one request per connection. It can
    hold the next request until released, and drop the next answer (the relay acted, the
    phone never hears it)."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.drop_next_answer = False
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client):
        with client:
            request = read_http(client)
            if request is None:
                return
            self.arrived.set()
            self.hold.wait()
            head, _, body = request.partition(b"\r\n\r\n")
            lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
            request = b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body
            try:
                with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                    upstream.sendall(request)
                    answer = read_all(upstream)
            except OSError:
                return
            if self.drop_next_answer:
                self.drop_next_answer = False
                return
            client.sendall(answer)

    def close(self):
        self.listener.close()


def read_http(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def read_all(sock):
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


class Station:
    """A relay with one station, its elder, and helpers to enroll phones."""

    def __init__(self, relay, proxy, tmp_path):
        self.relay = relay
        self.proxy = proxy
        self.tmp_path = tmp_path
        self.id = relay.admin("station", "create", "--name", "Caoyang")["id"]
        self.elder = relay.member(self.id, "elder", "Zhang Lan")

    def phone(self, role, name, through_proxy=True):
        member = self.relay.member(self.id, role, name)
        url = self.proxy.url if through_proxy else self.relay.url
        store = tb.TimebankStore.enroll(str(self.tmp_path / member), url, self.relay.code(member))
        store.sync(None)
        return store


@pytest.fixture
def relay(tmp_path):
    relay = Relay(tmp_path / "relay").start()
    yield relay
    if relay.process.poll() is None:
        relay.kill()


@pytest.fixture
def station(relay, tmp_path):
    proxy = Proxy(relay.port)
    yield Station(relay, proxy, tmp_path)
    proxy.close()


@pytest.fixture
def volunteer_offline(tmp_path):
    """A volunteer's store that no relay knows."""
    return tb.TimebankStore.create(str(tmp_path / "phone"), "v-1001", "s-caoyang", tb.Role.VOLUNTEER)


def an_hour_ago():
    return datetime.now(timezone.utc) - timedelta(hours=1)


def visit_of_an_hour(store, elder, hours_ago=1):
    """A finished visit of an hour that began `hours_ago` hours ago: checked in an hour late
    (within the station's hour for a late tap) and out now, or, when it began earlier,
    logged afterwards from paper (a live check-in filled in later than that goes to review)."""
    start = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    if hours_ago > 1:
        past = tb.PastVisit(elder=elder, service="companionship", order=None, start=start,
                            end=start + timedelta(hours=1), note="read the newspaper together")
        return store.log_visit(past)
    visit = store.check_in(elder, "companionship", None, start)
    store.check_out(visit, start + timedelta(hours=1), "read the newspaper together")
    return visit


def on_the_desk(coordinator, visit):
    """How many times the coordinator's review queue holds `visit` after a sync."""
    coordinator.sync(None)
    return sum(1 for item in coordinator.review_queue() if item.visit.id == visit)
