"""Loops that run in a thread while a playbook runs: request loops that count what
answered (only for the loopback addresses of the lab), and the base other samplers use."""

from __future__ import annotations

import json
import threading
import time
import urllib.request


class Loop:
    """Call tick() every `interval` seconds from a thread: start on `with`, stop on leaving
    it, and stop by itself after `limit` seconds."""

    def __init__(self, interval: float = 0.02, limit: float = 300.0):
        self.interval, self.limit = interval, limit
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.tick()
            self.ticks += 1
            time.sleep(self.interval)

    def settle(self, ticks: int = 50, timeout: float = 30.0) -> None:
        """Wait until `ticks` more rounds have run (what comes after a change is sampled too)."""
        until, deadline = self.ticks + ticks, time.monotonic() + timeout
        while self.ticks < until and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(self.interval)

    def tick(self):
        raise NotImplementedError

    @staticmethod
    def ask(url: str) -> str:
        """The `version` the service at url answers with; raises on any failure."""
        with urllib.request.urlopen(url + "/", timeout=2) as response:
            return json.loads(response.read())["version"]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class RequestLoop(Loop):
    """Ask one host every few milliseconds; count answers by version, and failures."""

    def __init__(self, url: str, **kwargs):
        super().__init__(**kwargs)
        self.url = url
        self.versions: dict[str, int] = {}
        self.failures: list[str] = []

    def tick(self):
        try:
            version = self.ask(self.url)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            self.failures.append(type(exc).__name__)
        else:
            self.versions[version] = self.versions.get(version, 0) + 1


class FleetLoop(Loop):
    """Ask every host in turn, as a load balancer with retries would: a request fails
    for the fleet only when no host answers it."""

    def __init__(self, urls: list[str], **kwargs):
        super().__init__(**kwargs)
        self.urls = urls
        self.versions: dict[str, int] = {}
        self.host_failures = dict.fromkeys(urls, 0)
        self.fleet_failures = 0
        self.requests = 0
        self._next = 0

    def _answer(self, url: str) -> str | None:
        try:
            return self.ask(url)
        except Exception:  # noqa: BLE001 - every failure counts
            self.host_failures[url] += 1
            return None

    def tick(self):
        self.requests += 1
        start, self._next = self._next, (self._next + 1) % len(self.urls)
        order = self.urls[start:] + self.urls[:start]
        version = next((v for v in map(self._answer, order) if v is not None), None)
        if version is None:
            self.fleet_failures += 1
        else:
            self.versions[version] = self.versions.get(version, 0) + 1


class WriteLoop(Loop):
    """POST a small fragment and GET it back, every few milliseconds, as a user: counts the
    round trips that worked and what failed, and keeps what was written (to be read back)."""

    def __init__(self, url: str, user: str, password: str, **kwargs):
        super().__init__(**kwargs)
        self.url, self.user, self.password = url, user, password
        self.written: dict[str, bytes] = {}  # fragment id -> its bytes
        self.failures: list[str] = []

    def tick(self):
        from corpus import call  # PIL and the rest only where writes are tested

        data = f"written during a change, round {self.ticks}\n".encode()
        try:
            status, body, _ = call(f"{self.url}/v1/fragments", self.user, self.password, "POST", data, timeout=5)
            if status != 201:
                self.failures.append(f"POST {status}")
                return
            fragment_id = json.loads(body)["fragment"]["id"]
            status, body, _ = call(f"{self.url}/v1/fragments/{fragment_id}", self.user, self.password, timeout=5)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            self.failures.append(type(exc).__name__)
            return
        if status != 200 or body != data:
            self.failures.append(f"GET {status}")
        else:
            self.written[fragment_id] = data
