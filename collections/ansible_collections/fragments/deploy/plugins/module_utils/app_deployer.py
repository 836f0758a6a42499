# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""How an app's version changes on a host: the steps of fragments.deploy.app_deploy, and the
pull that fragments.deploy.app_prepare does ahead of a rollout. The container's life (pull,
candidate, health gate, promotion, prune) is here; the switch of the traffic is
app_proxy's, the host's sockets app_ports'."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import signal
import tempfile
import time

from ansible_collections.fragments.deploy.plugins.module_utils.app_host import (
    DEPLOYED, LABEL, PULLED, REFUSED, ROLLED_BACK, UNCHANGED, App, CommandError, Docker, Refused, container_port,
    describe, labels, make_dir, now_utc)
from ansible_collections.fragments.deploy.plugins.module_utils.app_ports import (
    established_to, listening_inodes, port_free, socket_holders, tcp_tables)
from ansible_collections.fragments.deploy.plugins.module_utils.app_proxy import (
    Proxy, http_status, is_definite_refusal, published)
from ansible_collections.fragments.deploy.plugins.module_utils.app_settings import file_owner, fingerprint

# The restart policy of the container that serves: it comes back after a reboot or a dockerd
# restart, and stays down once a deploy has stopped it.
RESTART_POLICY = "unless-stopped"
# The fault tests' seam: this file in the app's state folder, holding the name of a step
# (FAULT_STEPS), makes the next change kill its own process at that step, once. Only root
# writes there; nothing of the product creates it.
FAULT_FILE = "fault-at"
FAULT_STEPS = ("pulled", "candidate-started", "gate-passed", "upstream-written", "proxy-tested",
               "proxy-reloaded", "checked", "old-stopped", "old-renamed", "promoted")


def run_arguments(params, name, port, reference, fingerprint_, files_id, env_file, mounts):
    """`docker run` arguments for one container of the app (its env values come from a file)."""
    hc = params["healthcheck"]
    args = ["run", "--detach", "--name", name,
            "--label", LABEL + "app=" + params["name"],
            "--label", LABEL + "digest=" + params["digest"],
            "--label", LABEL + "tags=" + ",".join(params["tags"]),
            "--label", LABEL + "settings=" + fingerprint_,
            "--label", LABEL + "port=%d" % port,
            "--label", LABEL + "files=" + files_id,
            "--publish", "%s:%d:%d" % (params["bind_address"], port, params["port"]),
            "--env-file", env_file,
            # A candidate that exits must stay exited for the gate to see it; it gets the
            # restart policy once it passes the gate.
            "--restart", "no",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--memory", params["memory"], "--cpus", str(params["cpus"]),
            "--log-driver", "json-file", "--log-opt", "max-size=" + params["log_max_size"],
            "--log-opt", "max-file=%d" % params["log_max_file"]]
    for capability in params["capabilities"]:
        args += ["--cap-add", capability]
    if params["user"]:
        args += ["--user", params["user"]]
    if params["read_only"]:
        args += ["--read-only", "--tmpfs", "/tmp"]
    for volume in params["volumes"] + mounts:
        args += ["--volume", volume]
    test = hc.get("test")
    if test is not None:
        if list(test)[:1] == ["NONE"]:
            args.append("--no-healthcheck")
        else:
            args += ["--health-cmd", test if isinstance(test, str) else test[1]]
    for key in ("interval", "timeout", "start_period"):
        if hc.get(key) is not None:
            args += ["--health-" + key.replace("_", "-"), str(hc[key])]
    if hc.get("retries") is not None:
        args += ["--health-retries", str(int(hc["retries"]))]
    return args + [reference] + list(params["command"])


class Deployer:
    def __init__(self, module, docker=None):
        self.module = module
        self.params = module.params
        self.app = App(self.params["name"], self.params["state_dir"], self.params["proxy_upstream_file"])
        self.docker = docker or Docker()
        self.reference = "%s@%s" % (self.params["image"], self.params["digest"])
        self.fingerprint = fingerprint(self.params)
        self.timings = {}
        self.started = time.monotonic()
        self.changed = False
        self.pulled = False
        self.fault_file = os.path.join(self.app.dir, FAULT_FILE)
        try:
            with open(self.fault_file) as handle:
                self.fault_at = handle.read().strip()
        except (IOError, OSError):
            self.fault_at = None
        self.proxy = Proxy(self.app, self.params["bind_address"], self.params["port"], self.params["proxy_check_url"],
                           module.warn, self.fault)

    def fault(self, step):
        """The fault tests' seam (FAULT_FILE): die here, as a killed process would, once."""
        if step == self.fault_at:
            os.remove(self.fault_file)
            os.kill(os.getpid(), signal.SIGKILL)

    # --- reading ----------------------------------------------------------------------
    def secret_contents(self, container):
        """The secret files a container of ours was given, as {name: (content, mode, owner, group)}."""
        files_id = labels(container).get(LABEL + "files", "")
        folder = os.path.join(self.app.files_dir, files_id) if files_id else None
        found = {}
        if folder and os.path.isdir(folder):
            for name in os.listdir(folder):
                path = os.path.join(folder, name)
                info = os.stat(path)
                with open(path) as handle:
                    found[name] = (handle.read(), "%04o" % (info.st_mode & 0o7777), info.st_uid, info.st_gid)
        return found

    def wanted_secrets(self):
        wanted = {}
        for item in self.params["secret_files"]:
            owner, group = file_owner(item, self.params["user"])
            wanted[item["name"]] = (item["content"], "%04o" % int(item["mode"], 8), owner, group)
        return wanted

    def matches(self, container):
        """Whether a container runs this digest with these settings and secret contents."""
        found = labels(container)
        return (found.get(LABEL + "digest") == self.params["digest"]
                and found.get(LABEL + "settings") == self.fingerprint
                and self.secret_contents(container) == self.wanted_secrets())

    def restart_policy_set(self, container):
        return ((container or {}).get("HostConfig", {}).get("RestartPolicy") or {}).get("Name") == RESTART_POLICY

    def timed(self, step, started):
        self.timings[step] = round(time.monotonic() - started, 3)

    def choose_port(self, old_port, previous):
        """The host port for a new version: not the running one's, none a process listens on;
        the stopped previous container's when it can be reused. Refused, naming the processes,
        when every port is held."""
        bind = self.params["bind_address"]
        others = [port for port in self.params["host_ports"] if port != old_port]
        if previous and self.matches(previous) and container_port(previous) in others:
            others.insert(0, others.pop(others.index(container_port(previous))))
        for port in others:
            if port_free(bind, port):
                return port
        tables = tcp_tables()
        held = []
        for port in others:
            holders = socket_holders(listening_inodes(port, tables))
            held.append("%s by %s" % (published(bind, port), ", ".join(holders) or "a process this user cannot see"))
        raise Refused("No free port for the new version: %s. Stop that process, or give container_app_host_ports "
                      "another free port; the running version was left serving." % "; ".join(held), outcome=REFUSED)

    # --- steps ---------------------------------------------------------------------------
    def recover(self, current, candidate):
        """Finish or undo a change that was interrupted at any step (its process killed);
        return what serves now. Decided from what nginx's loaded configuration sends the
        requests to (a probe through it), never from the upstream file, which is written
        before nginx tests and loads it."""
        if not candidate:
            return current
        self.proxy.start()
        target = self.proxy.target()
        if candidate["State"].get("Running") and self.proxy.sends_to(candidate, target):
            # Killed after the switch: the candidate takes the traffic. Check it as the switch
            # would have, its HEALTHCHECK too (its gate passed in another process, maybe long
            # ago), then finish its promotion.
            healthy, seen = self.check_through_proxy(run_check=True)
            if healthy:
                self.promote()
                self.module.warn("A deploy interrupted after its switch was finished: %s serves."
                                 % labels(candidate).get(LABEL + "digest", "?"))
                return self.docker.inspect(self.app.name)
            self.module.warn("A deploy interrupted after its switch left a version that is not healthy (%s); "
                             "the traffic goes back to the running one." % seen)
        # The candidate does not serve: nginx (file and loaded configuration) on the running
        # version before the candidate goes.
        running = bool(current and current["State"].get("Running"))
        port = container_port(current) if running else None
        serving = current if running else None
        if self.proxy.upstream_text() != self.proxy.wanted_text(port, serving) or (
                running and not self.proxy.sends_to(current, target)):
            self.proxy.point_at(port, serving)
        self.remove(self.app.candidate)
        self.changed = True
        return current

    def pull(self):
        started = time.monotonic()
        if self.docker.image_present(self.reference):
            return
        if self.module.check_mode:
            self.pulled = True
            return
        config = tempfile.mkdtemp(prefix="app_deploy.")
        try:
            if self.params["registry"]:
                self.docker.run("login", "--username", self.params["registry_username"], "--password-stdin",
                                self.params["registry"], data=self.params["registry_password"], config=config,
                                timeout=120)
            self.docker.run("pull", "--quiet", self.reference, config=config)
        except CommandError as exc:
            raise Refused("Could not pull %s: %s. The running version was left as it was."
                          % (self.reference, " ".join(str(exc).split())), outcome=REFUSED)
        finally:
            shutil.rmtree(config, ignore_errors=True)
        self.pulled = self.changed = True
        self.timed("pull", started)

    def write_secrets(self):
        """A folder of this version's secret files; returns its id and the mounts."""
        if not self.params["secret_files"]:
            return "", []
        make_dir(self.app.dir, 0o755)
        make_dir(self.app.files_dir, 0o700)
        files_id = "%s-%s" % (time.strftime("%Y%m%dT%H%M%S"), os.urandom(3).hex())
        folder = os.path.join(self.app.files_dir, files_id)
        make_dir(folder, 0o700)
        mounts = []
        for item in self.params["secret_files"]:
            path = os.path.join(folder, item["name"])
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(handle, "w") as out:
                out.write(item["content"])
            owner, group = file_owner(item, self.params["user"])
            os.chown(path, owner, group)
            os.chmod(path, int(item["mode"], 8))
            mounts.append("%s:%s:ro" % (path, item["target"]))
        return files_id, mounts

    def start_candidate(self, port, previous):
        """Start the new version as the candidate on `port`; reuse the stopped previous
        container when it is exactly this version. Returns whether it was reused."""
        started = time.monotonic()
        if previous and self.matches(previous) and container_port(previous) == port:
            self.docker.rename(self.app.previous, self.app.candidate)
            self.docker.set_restart_policy(self.app.candidate, "no")
            self.docker.start(self.app.candidate)
            self.timed("start", started)
            return True
        files_id, mounts = self.write_secrets()
        handle, env_file = tempfile.mkstemp(prefix="app_deploy.env.")
        try:
            with os.fdopen(handle, "w") as out:
                for key, value in sorted(self.params["env"].items()):
                    out.write("%s=%s\n" % (key, str(value).replace("\n", " ")))
            self.docker.run(*run_arguments(self.params, self.app.candidate, port, self.reference, self.fingerprint,
                                           files_id, env_file, mounts))
        except CommandError as exc:
            self.remove(self.app.candidate)
            self.drop_files(files_id)
            raise Refused("Could not start %s: %s. The running version was left serving."
                          % (self.reference, " ".join(str(exc).split())), outcome=REFUSED)
        finally:
            os.remove(env_file)
        self.timed("start", started)
        return False

    def health_output(self, container):
        state = container.get("State", {})
        if not state.get("Running"):
            return "exited with code %s%s" % (state.get("ExitCode", "?"), " (out of memory)" if state.get("OOMKilled") else "")
        if state.get("Restarting"):
            return "exited with code %s and Docker is restarting it" % state.get("ExitCode", "?")
        health = state.get("Health") or {}
        if health.get("Status") == "unhealthy":
            if not health.get("Log"):
                return "health unhealthy"
            last = health["Log"][-1]
            output = " ".join((last.get("Output") or "").split())[:300] or "(no output)"
            return "health unhealthy, last check exit code %s: %s" % (last.get("ExitCode", "?"), output)
        return None

    def gate(self, port):
        """Wait until the candidate is healthy on its own address: (healthy, what was seen)."""
        started = time.monotonic()
        deadline = started + self.params["health_timeout"]
        url = "http://%s:%d%s" % (self.params["bind_address"], port, self.params["health_path"])
        http_ok, check_ok, last = not self.params["health_path"], False, "still starting"
        while time.monotonic() < deadline:
            container = self.docker.inspect(self.app.candidate)
            if container is None:
                return False, "the container was removed"
            failed = self.health_output(container)
            if failed:
                return False, failed
            if not http_ok:
                try:
                    status, said = http_status(url, said=True)
                    http_ok = 200 <= status < 300
                    last = "GET %s answered %d" % (self.params["health_path"], status) + (": " + said if said else "")
                    if is_definite_refusal(status):
                        # The app listens and says the path is wrong: waiting will not change that.
                        self.timed("gate", started)
                        return False, last
                except (OSError, ValueError) as exc:
                    last = "GET %s answered nothing (%s)" % (self.params["health_path"], exc.__class__.__name__)
            if http_ok and not check_ok:
                if ((container["State"].get("Health") or {}).get("Status")) == "healthy":
                    check_ok = True
                else:
                    check_ok, output = self.docker.health_check(container, deadline - time.monotonic())
                    last = output or last
            if http_ok and check_ok:
                self.timed("gate", started)
                return True, ""
            time.sleep(0.1)
        self.timed("gate", started)
        return False, last

    def check_through_proxy(self, run_check):
        """After the switch: three answers through the proxy, the candidate still up and not called
        unhealthy and, with `run_check`, its HEALTHCHECK passing when run now. Docker's own next
        probe, which may be an interval away, is not waited for."""
        started = time.monotonic()
        deadline = started + self.params["health_timeout"]
        if self.params["health_path"]:
            url = self.params["proxy_check_url"]
            for dummy in range(3):
                try:
                    status, upstream = http_status(url, upstream=True)
                except (OSError, ValueError) as exc:
                    return False, "GET %s through the proxy answered nothing (%s)" % (url, exc.__class__.__name__)
                if not 200 <= status < 300:
                    return False, "GET %s through the proxy answered %d (from %s)" % (url, status, upstream)
        last = "its health check did not pass"
        while time.monotonic() < deadline:
            container = self.docker.inspect(self.app.candidate)
            failed = self.health_output(container) if container else "the container was removed"
            if failed:
                return False, failed
            passed = not run_check or (container["State"].get("Health") or {}).get("Status") == "healthy"
            if not passed:
                passed, last = self.docker.health_check(container, deadline - time.monotonic())
            if passed:
                self.timed("check", started)
                return True, ""
            time.sleep(0.1)
        return False, "%s within %d s" % (last, self.params["health_timeout"])

    def drain(self, port):
        """Wait until the proxy has no connection open to the old version, up to drain_timeout."""
        started = time.monotonic()
        deadline = started + self.params["drain_timeout"]
        while True:
            open_connections = established_to(port, tcp_tables())
            if open_connections == 0 or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if open_connections:
            self.module.warn("%d connections to the old version were still open after drain_timeout (%d s); "
                             "stopped it anyway." % (open_connections, self.params["drain_timeout"]))
        self.timed("drain", started)

    def remove(self, name):
        try:
            container = self.docker.inspect(name)
            if container:
                self.docker.remove(name)
                self.drop_files(labels(container).get(LABEL + "files", ""))
                self.changed = True
        except CommandError:
            pass

    def drop_files(self, files_id):
        if files_id:
            shutil.rmtree(os.path.join(self.app.files_dir, files_id), ignore_errors=True)

    def put_back(self, reused_previous):
        """Take the refused candidate away; a reused previous container goes back to being it."""
        if reused_previous:
            self.docker.stop(self.app.candidate, self.params["stop_timeout"])
            self.docker.rename(self.app.candidate, self.app.previous)
        else:
            self.remove(self.app.candidate)

    def switch_back(self, old_port, current, reused_previous):
        """After a switch that failed at any point (even after nginx loaded the new upstream):
        the proxy back on the running version, loaded, and only then the candidate taken away."""
        try:
            self.proxy.point_at(old_port, current)
        except Refused as exc:
            raise Refused("The switch failed and so did pointing the proxy back (%s); %s was left running so "
                          "that the host keeps answering. Run the deploy again." % (exc, self.app.candidate))
        self.put_back(reused_previous)

    def promote(self):
        """The candidate, which serves, becomes the app; the old version stops and becomes the
        previous one. Safe to interrupt after any step: the candidate has its restart policy
        first, and recover() finishes from wherever this stopped (the old one still named the
        app, stopping or stopped, or already renamed). The old version, drained, is told to stop
        and not waited for (its stop took 0.3 s of every host's change, measured on the lab)."""
        if not self.restart_policy_set(self.docker.inspect(self.app.candidate)):
            self.docker.set_restart_policy(self.app.candidate, RESTART_POLICY)
        current = self.docker.inspect(self.app.name)
        if current:
            self.remove(self.app.previous)
            if current["State"].get("Running"):
                self.docker.stop_in_background(current["Id"], self.params["stop_timeout"])
                self.fault("old-stopped")
            self.docker.rename(self.app.name, self.app.previous)
            self.fault("old-renamed")
        self.docker.rename(self.app.candidate, self.app.name)

    def prune_images(self):
        keep = set()
        for name in (self.app.name, self.app.previous):
            container = self.docker.inspect(name)
            if container:
                keep.add(container.get("Image"))
        try:
            rows = self.docker.run("images", "--no-trunc", "--digests", "--format", "{{.ID}} {{.Digest}}",
                                   self.params["image"]).split("\n")
        except CommandError:
            return
        seen, order = {}, []
        for row in rows:
            parts = row.split()
            if len(parts) == 2:
                if parts[0] not in seen:
                    order.append(parts[0])
                seen.setdefault(parts[0], []).append(parts[1])
        others = [image for image in order if image not in keep]
        for image in others[max(self.params["keep_images"] - len(keep), 0):]:
            for digest in seen[image]:
                if digest.startswith("sha256:"):
                    try:
                        self.docker.run("rmi", "%s@%s" % (self.params["image"], digest))
                    except CommandError:
                        pass

    def prune_files(self):
        if not os.path.isdir(self.app.files_dir):
            return
        used = set()
        for name in (self.app.name, self.app.previous):
            used.add(labels(self.docker.inspect(name)).get(LABEL + "files", ""))
        for entry in os.listdir(self.app.files_dir):
            if entry not in used:
                shutil.rmtree(os.path.join(self.app.files_dir, entry), ignore_errors=True)

    def record(self, outcome, previous_digest):
        self.app.append_record({
            "time": now_utc(), "app": self.params["name"], "digest": self.params["digest"],
            "image": self.params["image"], "tags": self.params["tags"], "previous_digest": previous_digest,
            "outcome": outcome, "seconds": dict(self.timings, total=round(time.monotonic() - self.started, 3))})

    # --- the whole call ----------------------------------------------------------------------
    def answer(self, outcome, container, previous_digest, up_to_date, **extra):
        self.timings["total"] = round(time.monotonic() - self.started, 3)
        found = describe(container)
        result = dict(changed=self.changed or self.proxy.started, outcome=outcome, digest=found["digest"], tags=found["tags"],
                      previous_digest=previous_digest, health=found["health"], since=found["started_at"],
                      port=found["port"], up_to_date=up_to_date, pulled=self.pulled, timings=self.timings)
        result.update(extra)
        return result

    def diff(self, current):
        found = labels(current)
        return {"before": {"digest": found.get(LABEL + "digest", ""), "tags": found.get(LABEL + "tags", ""),
                           "settings": found.get(LABEL + "settings", "")},
                "after": {"digest": self.params["digest"], "tags": ",".join(self.params["tags"]),
                          "settings": self.fingerprint}}

    def run(self, pull_only=False):
        """Make the digest serve here; with `pull_only` (app_prepare) only make sure its image
        is on the host, unless it serves already."""
        current = self.docker.inspect(self.app.name)
        candidate = self.docker.inspect(self.app.candidate)
        if not self.module.check_mode:
            current = self.recover(current, candidate)
        running = bool(current and current["State"].get("Running"))
        previous_digest = labels(current).get(LABEL + "digest", "") if running else ""
        serves = running and self.matches(current) and self.proxy.sends_to(current, self.proxy.target())
        restart_policy_set = self.restart_policy_set(current)
        proxy_current = serves and self.proxy.is_current(current)
        up_to_date = serves and proxy_current and restart_policy_set
        diff = self.diff(current)

        if pull_only:
            if not up_to_date:
                self.pull()
            return self.answer(PULLED, current, previous_digest, up_to_date, diff=diff)
        if serves:
            if not self.module.check_mode:
                self.proxy.start()
                if not proxy_current:
                    self.proxy.point_at(container_port(current), current)
                    self.changed = True
                if not restart_policy_set:
                    self.docker.set_restart_policy(self.app.name, RESTART_POLICY)
                    self.changed = True
            return self.answer(UNCHANGED, current, previous_digest, up_to_date, diff=diff)
        if self.module.check_mode:
            self.pull()
            self.changed = True
            return self.answer(DEPLOYED, current, previous_digest, False, diff=diff)
        if not os.path.isdir(os.path.dirname(self.app.upstream_file)):
            raise Refused("The proxy is not set up on this host (no %s): apply the fragments.deploy.proxy role "
                          "first. Nothing was changed." % os.path.dirname(self.app.upstream_file))

        old_port = container_port(current) if running else None
        previous = self.docker.inspect(self.app.previous)
        if previous and previous["State"].get("Running"):
            # Still stopping (promote() does not wait), or started by hand: stopped before its
            # port is judged or the container reused (both read its labels, which stay as read).
            self.docker.stop(previous["Id"], self.params["stop_timeout"])
        port = self.choose_port(old_port, previous)
        self.pull()
        self.changed = True
        self.fault("pulled")
        reused = self.start_candidate(port, previous)
        self.fault("candidate-started")
        gated = time.monotonic()
        healthy, seen = self.gate(port)
        gated = time.monotonic() - gated
        if not healthy:
            self.put_back(reused)
            self.record(REFUSED, previous_digest)
            raise Refused("%s did not become healthy (%s, after %.1f s; the gate waits at most %d s); the running "
                          "version %s was left serving."
                          % (self.reference, seen, gated, self.params["health_timeout"],
                             previous_digest or "(none)"),
                          outcome=REFUSED)

        # From here on the candidate comes back after a reboot, as the version serving would:
        # whichever one nginx's configuration names then answers.
        self.docker.set_restart_policy(self.app.candidate, RESTART_POLICY)
        self.fault("gate-passed")
        started = time.monotonic()
        try:
            self.proxy.point_at(port, self.docker.inspect(self.app.candidate))
        except Refused:
            self.switch_back(old_port, current if running else None, reused)
            raise
        self.timed("switch", started)
        # The gate ran the HEALTHCHECK a moment ago: no need to run it again.
        healthy, seen = self.check_through_proxy(run_check=False)
        if not healthy:
            self.switch_back(old_port, current if running else None, reused)
            self.record(ROLLED_BACK, previous_digest)
            raise Refused("%s was healthy on its own address but not once it took the traffic (%s); the traffic "
                          "went back to %s, which never stopped." % (self.reference, seen, previous_digest or "(none)"),
                          outcome=ROLLED_BACK)
        self.fault("checked")
        if running:
            self.drain(old_port)
        started = time.monotonic()
        self.promote()
        self.timed("promote", started)
        self.fault("promoted")
        self.record(DEPLOYED, previous_digest)
        self.prune_files()
        self.prune_images()
        return self.answer(DEPLOYED, self.docker.inspect(self.app.name), previous_digest, False, diff=diff)
