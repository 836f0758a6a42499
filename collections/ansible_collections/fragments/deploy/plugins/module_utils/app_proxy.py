# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The host's nginx in front of an app: the app's upstream file, which only this code writes
(the proxy role's configuration includes it when it exists), the graceful reload, and the
probe that asks nginx, as loaded, where it sends the app's requests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import signal
import ssl
import tempfile
import time

from http.client import HTTPConnection, HTTPSConnection
from urllib.parse import urlsplit

from ansible_collections.fragments.deploy.plugins.module_utils.app_host import (
    REFUSED, CommandError, Refused, container_port, run_command)

# The probe's request header, and the answer's header that names the upstream used (the
# proxy role's configuration adds it only for a probe from the host itself).
PROBE = "X-Fragments-Deploy-Probe"
UPSTREAM = "X-Fragments-Deploy-Upstream"


def render_upstream(name, address, port, backup=None):
    """The upstream file's text; with no port, a server marked down (the proxy answers 502).
    `backup` is the container's own address: while dockerd restarts (live-restore keeps the
    container), the published port's proxy process is gone and nginx reaches it there."""
    # max_fails=0: one failed connection must not make nginx refuse the only server for 10 s.
    lines = ["server %s max_fails=0;" % published(address, port) if port else "server %s down;" % published(address, 1)]
    if port and backup:
        lines.append("server %s backup max_fails=0;" % backup)
    return "# Written by fragments.deploy.app_deploy: where the proxy sends the traffic of %s.\n%s\n" % (
        name, "\n".join(lines))


def published(address, port):
    """How nginx writes an address and port (IPv6 in brackets)."""
    return "%s:%d" % ("[%s]" % address if ":" in address else address, port)


def direct_address(container, port):
    """The container's own address on its first network, with the app's port, or None."""
    for network in ((container or {}).get("NetworkSettings", {}).get("Networks") or {}).values():
        if network.get("IPAddress"):
            return "%s:%d" % (network["IPAddress"], port)
    return None


def is_definite_refusal(status):
    """A client error other than "too early", "timeout" or "too many requests": the app is up
    and answers the health path with a refusal that time will not change (404, 401, 405...)."""
    return 400 <= status < 500 and status not in (408, 425, 429)


def what_it_said(body):
    """The app's own words in an answer's body, for a refusal's message: the message of the
    API's error shape ({"error": {"message": ...}}) where there is one, else the start of the
    text; "" for an empty body."""
    text = body.decode("utf-8", "replace").strip() if body else ""
    try:
        message = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = text
    message = " ".join(str(message).split())
    return message if len(message) <= 200 else message[:197] + "..."


def http_status(url, timeout=2.0, upstream=False, said=False):
    """The status code `url` answers with; raises OSError when nothing answers. With
    `upstream`, (status, the upstream address the host's proxy says it used); with `said`,
    (status, what_it_said of the body)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        connection = HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                                     context=ssl._create_unverified_context())  # our own host's proxy
    else:
        connection = HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", (parts.path or "/") + ("?" + parts.query if parts.query else ""),
                           headers={"User-Agent": "fragments-deploy", PROBE: "1"})
        response = connection.getresponse()
        body = response.read(65536)
        if said:
            return response.status, what_it_said(body)
        return (response.status, response.getheader(UPSTREAM, "")) if upstream else response.status
    finally:
        connection.close()


def proxy_target(check_url):
    """Where the host's nginx, as loaded, sends an app's requests: the upstream address a probe
    through it names (the last one it tried), or None when it names none (nothing answers, or
    a proxy configuration without the probe's header)."""
    try:
        dummy, upstream = http_status(check_url, upstream=True)
    except (OSError, ValueError):
        return None
    return upstream.split(",")[-1].strip() or None


def names_container(target, container):
    """Whether an upstream address is this container: its published loopback port, or its own
    address on its network (the backup server while dockerd restarts)."""
    host, sep, port = (target or "").rpartition(":")
    host = host.strip("[]")
    if not container or not sep or not port.isdigit():
        return False
    networks = ((container.get("NetworkSettings") or {}).get("Networks") or {}).values()
    if host in [network.get("IPAddress") for network in networks if network.get("IPAddress")]:
        return True
    try:
        return int(port) == container_port(container) and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def accepting_workers(master, proc="/proc"):
    """The pids of the nginx master's workers that still accept connections: after a reload,
    an old worker names itself "worker process is shutting down" once it has stopped."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat")) as handle:
                # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            if ppid != master:
                continue
            with open(os.path.join(proc, entry, "cmdline"), "rb") as handle:
                title = handle.read()
        except (IOError, OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if b"worker process" in title and b"shutting down" not in title:
            found.append(int(entry))
    return found


def proxy_running(pid_file="/run/nginx.pid"):
    """The nginx master's pid when it runs, else None."""
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            if b"nginx" not in handle.read():
                return None
    except (IOError, OSError, ValueError):
        return None
    return pid


def write_file(path, text, mode):
    """Replace a file at once (a rename): nginx never reads half of it."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.chmod(temporary, mode)
    os.rename(temporary, path)


class Proxy:
    """The switch of one app's traffic through the host's nginx. `fault` is the fault tests'
    seam (fragments.deploy.app_deployer.FAULT_STEPS); `warn` says what was repaired."""

    def __init__(self, app, bind_address, app_port, check_url, warn, fault=None):
        self.app = app
        self.bind_address = bind_address
        self.app_port = app_port
        self.check_url = check_url
        self.warn = warn
        self.fault = fault or (lambda step: None)
        self.started = False

    def upstream_text(self):
        try:
            with open(self.app.upstream_file) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def wanted_text(self, port, container=None):
        """The upstream file for a version on `port` (None: nothing serves)."""
        backup = direct_address(container, self.app_port) if port else None
        return render_upstream(self.app.name, self.bind_address, port, backup)

    def is_current(self, container):
        """Whether the upstream file is exactly as it should be for this serving container: a
        container restarted (new address) or an older writer (no backup line) leaves it to be
        written again."""
        return self.upstream_text() == self.wanted_text(container_port(container), container)

    def target(self):
        return proxy_target(self.check_url)

    def sends_to(self, container, target):
        """Whether nginx sends the requests to this container (`target` from target()); with
        no target, the upstream file is all there is to go by."""
        if target is None:
            port = container_port(container)
            return bool(container) and port is not None and self.app.upstream() == port
        return names_container(target, container)

    def start(self):
        """Start nginx when it is not running; True when it had to be started."""
        if proxy_running():
            return False
        for command in (["systemctl", "start", "nginx"], ["service", "nginx", "start"]):
            try:
                run_command(command, timeout=60)
                break
            except CommandError:
                continue
        deadline = time.monotonic() + 10
        while not proxy_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not proxy_running():
            raise Refused("The proxy (nginx) is not running on this host and could not be started; "
                          "see `journalctl -u nginx`. Nothing was changed.")
        self.warn("The proxy (nginx) was not running on this host: started it.")
        self.started = True
        return True

    def point_at(self, port, container=None):
        """Write the upstream file for `port` (with `container`'s own address as backup), have
        nginx test it, and reload gracefully: new connections go to `port` once this returns;
        old workers finish theirs."""
        path = self.app.upstream_file
        before = self.upstream_text()
        write_file(path, self.wanted_text(port, container), 0o644)
        self.fault("upstream-written")
        try:
            run_command(["nginx", "-t", "-q"], timeout=30)
        except CommandError as exc:
            if before is None:
                os.remove(path)
            else:
                write_file(path, before, 0o644)
            raise Refused("The proxy refused its configuration (nginx -t: %s); it was not reloaded and the running "
                          "version was left serving." % " ".join(str(exc).split()), outcome=REFUSED)
        self.fault("proxy-tested")
        if not self.start():  # a fresh start reads the new configuration
            master = proxy_running()
            old_workers = accepting_workers(master)
            os.kill(master, signal.SIGHUP)
            self.fault("proxy-reloaded")
            self.wait_for_old_workers(master, old_workers)
        if port:
            self.wait_for_upstream(port)

    @staticmethod
    def wait_for_old_workers(master, old_workers):
        """Until no worker from before the reload accepts connections: one of them would still
        send a new request where the old configuration says (they finish what they hold)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = set(old_workers) & set(accepting_workers(master))
            if not left:
                return
            time.sleep(0.01)
        raise Refused("The proxy's workers from before the reload still accept connections 10 s after it (pids %s); "
                      "see the host's nginx error log." % ", ".join(str(pid) for pid in sorted(left)),
                      outcome=REFUSED)

    def wait_for_upstream(self, port):
        """Until the proxy says new requests go to `port`: old workers keep accepting for
        a moment after a reload."""
        want = published(self.bind_address, port)
        deadline = time.monotonic() + 10
        seen = "nothing"
        while time.monotonic() < deadline:
            try:
                status, upstream = http_status(self.check_url, upstream=True)
                if upstream.split(",")[-1].strip() == want:
                    return
                seen = "%d from %s" % (status, upstream or "no upstream")
            except (OSError, ValueError) as exc:
                seen = exc.__class__.__name__
            time.sleep(0.02)
        raise Refused("The proxy did not send requests to %s within 10 s of its reload (last answer: %s); "
                      "see the host's nginx error log." % (want, seen), outcome=REFUSED)
