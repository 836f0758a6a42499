# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""What the app modules share on a host: the docker CLI, the names and labels of an
app's containers, and its state folder (deploy record, lock, secret files, the path of the
proxy's upstream file).

The docker CLI is used rather than the Docker SDK for Python: it is on every host that
runs Docker (nothing more to install), and measured on a lab host a `docker inspect`
costs 34 ms against 130 ms for importing the SDK, which makes a no-op deploy cheaper.
Reads that a health gate repeats every 0.1 s (inspect) and the small changes of a switch
(rename, restart policy, start, stop, remove) ask the engine's socket directly when the CLI
would use it too: no process to start each time. Pulls, logins, runs and execs stay with the
CLI (its credential handling, its flags).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import socket
import subprocess
from http.client import HTTPConnection
from urllib.parse import quote
from datetime import datetime, timezone

LABEL = "fragments.deploy."
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}\Z")  # \Z: `$` would let a trailing newline through
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
UPSTREAM_LINE = re.compile(r"^\s*server\s+([0-9.]+|\[[0-9a-f:]+\]):([0-9]+)([^;]*);", re.M)


# What one change of the app on a host came to (app_deploy's outcome); a rollout's words for a host
# build on these (plugin_utils/rollout.py).
PULLED, UNCHANGED, DEPLOYED, REFUSED, ROLLED_BACK = "pulled", "unchanged", "deployed", "refused", "rolled-back"


class CommandError(Exception):
    """A command failed; the message is its error output."""


class Refused(Exception):
    """The change stops here; `outcome` tells how, the message what to do."""

    def __init__(self, message, outcome="failed"):
        super(Refused, self).__init__(message)
        self.outcome = outcome


def run_command(argv, data=None, timeout=600):
    """Run a command without a shell; return its standard output, or raise CommandError.
    `data` goes to its standard input (how a password reaches `docker login`)."""
    try:
        proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                              timeout=timeout, universal_newlines=True)
    except subprocess.TimeoutExpired:
        raise CommandError("%s %s did not finish within %d s" % (argv[0], argv[1], timeout))
    except OSError as exc:
        raise CommandError("cannot run %s: %s" % (argv[0], exc))
    if proc.returncode != 0:
        raise CommandError((proc.stderr or proc.stdout).strip() or "%s %s failed" % (argv[0], argv[1]))
    return proc.stdout


class EngineSocket(HTTPConnection):
    """HTTP to the Docker engine over its UNIX socket."""

    def __init__(self, path, timeout):
        HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def engine_socket(environ=None):
    """The engine's socket the CLI would talk to, or None when the CLI is pointed elsewhere
    (DOCKER_HOST not a local socket, or a context): then only the CLI knows where."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_CONTEXT"):
        return None
    host = environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        return None
    path = host[len("unix://"):]
    return path if os.path.exists(path) else None


class Docker:
    """The docker CLI on this host. `config` is a private client configuration folder
    (a login), used only for pulls. `socket_path` (default: found as the CLI would) is
    where the reads go without the CLI; None sends them through the CLI too."""

    def __init__(self, binary="docker", timeout=600, socket_path="find"):
        self.binary = binary
        self.timeout = timeout
        self.socket_path = engine_socket() if socket_path == "find" else socket_path

    def request(self, method, path, document=None, timeout=60):
        """Ask the engine over the socket: (status, the answer's body as text)."""
        connection = EngineSocket(self.socket_path, timeout=timeout)
        body = None if document is None else json.dumps(document)
        headers = {} if body is None else {"Content-Type": "application/json"}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read().decode("utf-8", "replace")
        except (OSError, ValueError) as exc:
            raise CommandError("cannot ask the Docker engine at %s: %s" % (self.socket_path, exc))
        finally:
            connection.close()
        return response.status, answer

    def get(self, path):
        """GET an engine API path over the socket: the JSON document, or None on 404."""
        status, answer = self.request("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise CommandError("the Docker engine answered %d to GET %s: %s" % (status, path, answer.strip()[:300]))
        return json.loads(answer)

    def change(self, cli_args, method, path, document=None, timeout=60):
        """A change to a container: over the socket when there is one (304, "already so", is
        fine), else `docker CLI_ARGS`. Raises CommandError with the engine's message."""
        if not self.socket_path:
            self.run(*cli_args)
            return
        status, answer = self.request(method, path, document, timeout)
        if status not in (200, 201, 204, 304):
            raise CommandError("the Docker engine answered %d to %s %s: %s"
                               % (status, method, path.split("?")[0], answer.strip()[:300]))

    def rename(self, name, new_name):
        self.change(("rename", name, new_name), "POST",
                    "/containers/%s/rename?name=%s" % (quote(name, safe=""), quote(new_name, safe="")))

    def set_restart_policy(self, name, policy):
        self.change(("update", "--restart", policy, name), "POST", "/containers/%s/update" % quote(name, safe=""),
                    {"RestartPolicy": {"Name": policy}})

    def start(self, name):
        self.change(("start", name), "POST", "/containers/%s/start" % quote(name, safe=""))

    def stop(self, name, seconds):
        """Stop it, giving its process `seconds` after SIGTERM before SIGKILL."""
        self.change(("stop", "--time", str(seconds), name), "POST",
                    "/containers/%s/stop?t=%d" % (quote(name, safe=""), seconds), timeout=seconds + 60)

    def stop_in_background(self, container_id, seconds):
        """stop() from a detached process of its own, without waiting for it: the caller's work
        is done once the stop is asked for, and the process outlives the caller (a module's
        run ends; a SIGTERM-ignoring app may take `seconds`). Takes the container's Id, which
        does not move when names do. Nothing is said of a failure: the next change stops a
        previous version still running before it uses that container or its port."""
        child = os.fork()
        if child:
            os.waitpid(child, 0)
            return
        try:
            os.setsid()  # its own session: nothing of the caller's ending (a closed SSH channel) reaches it
            if os.fork():
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDWR)
            for stream in (0, 1, 2):  # the caller's output ends when the caller does
                os.dup2(devnull, stream)
            self.stop(container_id, seconds)
        except BaseException:  # noqa: BLE001 - a detached process has nobody to tell
            pass
        os._exit(0)

    def remove(self, name):
        """Remove it, running or not, with its anonymous volumes kept as `docker rm --force` does."""
        self.change(("rm", "--force", name), "DELETE", "/containers/%s?force=1" % quote(name, safe=""))

    def run(self, *args, **kwargs):
        """Run `docker ARGS`; return its standard output, or raise CommandError."""
        config = kwargs.pop("config", None)
        argv = [self.binary] + (["--config", config] if config else []) + list(args)
        return run_command(argv, data=kwargs.pop("data", None), timeout=kwargs.pop("timeout", self.timeout))

    def inspect(self, name):
        """The container's inspect document, or None when there is no such container."""
        if self.socket_path:
            return self.get("/containers/%s/json" % quote(name, safe=""))
        try:
            return json.loads(self.run("container", "inspect", name))[0]
        except CommandError as exc:
            # "No such container" (or "object"); a missing docker binary is "No such file".
            if "no such container" in str(exc).lower() or "no such object" in str(exc).lower():
                return None
            raise

    def health_check(self, container, timeout):
        """Run the container's HEALTHCHECK command now, as Docker's own probe would, waiting at
        most the check's timeout or `timeout`: (passed, what it said when it did not)."""
        check = container.get("Config", {}).get("Healthcheck") or {}
        test = check.get("Test") or []
        if not test or test[0] == "NONE":
            return True, ""
        command = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
        limit = min((check.get("Timeout") or 30 * 10 ** 9) / 1e9, max(timeout, 1))
        try:
            self.run("exec", container["Id"], *command, timeout=limit)
        except CommandError as exc:
            return False, "health check: " + " ".join(str(exc).split())[:300]
        return True, ""

    def image_present(self, reference):
        if self.socket_path:
            return self.get("/images/%s/json" % quote(reference, safe="/:@")) is not None
        try:
            self.run("image", "inspect", "--format", "{{.Id}}", reference)
        except CommandError:
            return False
        return True


class App:
    """The containers of one app on this host and where it keeps its state."""

    def __init__(self, name, state_dir, upstream_file=None):
        self.name = name
        self.candidate = name + "-candidate"
        self.previous = name + "-previous"
        self.dir = os.path.join(state_dir, name)
        self.record_path = os.path.join(self.dir, "deploys.jsonl")
        self.lock_path = os.path.join(self.dir, "deploy.lock")
        self.files_dir = os.path.join(self.dir, "files")
        self.upstream_file = upstream_file or default_upstream_file(name)

    def upstream(self):
        """The host port the proxy sends this app's traffic to, or None."""
        try:
            with open(self.upstream_file) as handle:
                match = UPSTREAM_LINE.search(handle.read())
        except (IOError, OSError):
            return None
        if not match or "down" in match.group(3).split():
            return None
        return int(match.group(2))

    def records(self, last=None):
        try:
            with open(self.record_path) as handle:
                lines = [line for line in handle.read().splitlines() if line.strip()]
        except (IOError, OSError):
            return []
        out = []
        for line in lines[-last:] if last else lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def append_record(self, record):
        make_dir(self.dir, 0o755)
        with open(self.record_path, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        os.chmod(self.record_path, 0o644)


def default_upstream_file(name):
    return "/etc/nginx/fragments-deploy/%s.upstream.conf" % name


def make_dir(path, mode):
    if not os.path.isdir(path):
        os.makedirs(path, mode)
    os.chmod(path, mode)


def now_utc():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels(container):
    return (container or {}).get("Config", {}).get("Labels") or {}


def container_port(container):
    """The host port a container of ours was given (label, else its first binding)."""
    value = labels(container).get(LABEL + "port")
    if value and value.isdigit():
        return int(value)
    for bindings in ((container or {}).get("HostConfig", {}).get("PortBindings") or {}).values():
        for binding in bindings or []:
            if str(binding.get("HostPort", "")).isdigit():
                return int(binding["HostPort"])
    return None


def describe(container):
    """What status and rollback need to know of a container: exists, running, digest,
    tags, health, started_at, port."""
    if not container:
        return {"exists": False, "running": False, "digest": "", "tags": [], "health": "absent",
                "started_at": "", "port": None}
    state = container.get("State", {})
    running = bool(state.get("Running"))
    tags = labels(container).get(LABEL + "tags", "")
    return {
        "exists": True,
        "running": running,
        "digest": labels(container).get(LABEL + "digest", ""),
        "tags": [tag for tag in tags.split(",") if tag],
        "health": ((state.get("Health") or {}).get("Status") or "no check") if running else "stopped",
        "started_at": (state.get("StartedAt") or "")[:19] if running else "",
        "port": container_port(container),
    }
