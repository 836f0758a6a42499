"""Where the app modules' reads reach the Docker engine without the CLI: which socket the
CLI would use, and the answers of an HTTP server on a real UNIX socket in this process (the
engine itself answers in the project's Molecule and end-to-end tests)."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time

import pytest

from ansible_collections.fragments.deploy.plugins.module_utils.app_host import CommandError, Docker, engine_socket


@pytest.mark.parametrize("environ, expected", [
    ({}, "default"),
    ({"DOCKER_HOST": "unix://{sock}"}, "given"),
    ({"DOCKER_HOST": "tcp://10.0.0.5:2376"}, None),
    ({"DOCKER_HOST": "ssh://admin@host"}, None),
    ({"DOCKER_CONTEXT": "remote"}, None),
    ({"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, None),
])
def test_the_socket_is_the_one_the_cli_would_use_or_none(tmp_path, monkeypatch, environ, expected):
    sock = tmp_path / "docker.sock"
    sock.touch()
    environ = {key: value.format(sock=sock) for key, value in environ.items()}
    if expected == "default":
        monkeypatch.setattr("os.path.exists", lambda path: path == "/var/run/docker.sock")
        assert engine_socket(environ) == "/var/run/docker.sock"
    else:
        assert engine_socket(environ) == (str(sock) if expected == "given" else None)


class Engine(http.server.BaseHTTPRequestHandler):
    """Answers as the engine does: a document, a 404, or an error."""

    def do_GET(self):  # noqa: N802 (the handler's name is http.server's)
        answers = {
            "/containers/web/json": (200, {"Name": "/web", "State": {"Running": True}}),
            "/images/registry.lab:5000/team/web@sha256:aa/json": (200, {"Id": "sha256:bb"}),
            "/containers/broken/json": (500, {"message": "engine trouble"}),
        }
        status, document = answers.get(self.path, (404, {"message": "No such container"}))
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        self.change()

    def do_DELETE(self):  # noqa: N802
        self.change()

    def change(self):
        """Note the request; answer 204, 304 for a container already started, 404 for an unknown one."""
        length = int(self.headers.get("Content-Length") or 0)
        document = json.loads(self.rfile.read(length)) if length else None
        self.server.changes.append((self.command, self.path, document))
        name = self.path.split("/")[2].split("?")[0]
        if name == "slow":  # a container that takes its time to stop: answered once the test says
            self.server.release.wait(30)
            self.server.answered.set()
        status = {"web": 204, "running": 304, "slow": 204}.get(name, 404)
        body = b"" if status != 404 else json.dumps({"message": "No such container: %s" % name}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def engine(tmp_path):
    path = str(tmp_path / "engine.sock")
    server = socketserver.UnixStreamServer(path, Engine)
    # http.server reads the client address as a (host, port) pair.
    server.get_request = lambda: (server.socket.accept()[0], ("local", 0))
    server.changes = []
    server.release, server.answered = threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path, server.changes, server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_reads_go_over_the_socket(engine):
    engine, dummy, dummy = engine
    docker = Docker(binary="/nonexistent/docker", socket_path=engine)
    assert docker.inspect("web") == {"Name": "/web", "State": {"Running": True}}
    assert docker.inspect("gone") is None
    assert docker.image_present("registry.lab:5000/team/web@sha256:aa") is True
    assert docker.image_present("registry.lab:5000/team/web@sha256:cc") is False


def test_an_engine_error_is_a_command_error_with_its_message(engine):
    engine, dummy, dummy = engine
    with pytest.raises(CommandError, match="answered 500 to GET /containers/broken/json: .*engine trouble"):
        Docker(socket_path=engine).inspect("broken")


def test_an_engine_that_does_not_answer_is_named(tmp_path):
    with pytest.raises(CommandError, match="cannot ask the Docker engine at .*absent.sock"):
        Docker(socket_path=str(tmp_path / "absent.sock")).inspect("web")


def test_without_a_socket_the_cli_answers(tmp_path):
    with pytest.raises(CommandError, match="cannot run /nonexistent/docker"):
        Docker(binary="/nonexistent/docker", socket_path=None).inspect("web")


def test_a_switch_s_changes_go_over_the_socket(engine):
    path, changes, dummy = engine
    docker = Docker(binary="/nonexistent/docker", socket_path=path)
    docker.rename("web", "web-previous")
    docker.set_restart_policy("web", "unless-stopped")
    docker.stop("web", 10)
    docker.start("running")  # 304: started already, which is what was asked
    docker.remove("web")
    assert changes == [
        ("POST", "/containers/web/rename?name=web-previous", None),
        ("POST", "/containers/web/update", {"RestartPolicy": {"Name": "unless-stopped"}}),
        ("POST", "/containers/web/stop?t=10", None),
        ("POST", "/containers/running/start", None),
        ("DELETE", "/containers/web?force=1", None),
    ]


def test_a_refused_change_is_a_command_error_with_the_engine_s_message(engine):
    path, dummy, dummy = engine
    with pytest.raises(CommandError, match="answered 404 to POST /containers/gone/stop: .*No such container: gone"):
        Docker(socket_path=path).stop("gone", 5)


def test_without_a_socket_the_cli_makes_the_changes(tmp_path):
    with pytest.raises(CommandError, match="cannot run /nonexistent/docker"):
        Docker(binary="/nonexistent/docker", socket_path=None).rename("web", "web-previous")


def test_a_stop_in_the_background_is_asked_for_and_not_waited_for(engine):
    """The old version's stop after a switch: a detached process asks for it, the caller goes on."""
    path, changes, server = engine
    Docker(binary="/nonexistent/docker", socket_path=path).stop_in_background("slow", 10)
    # Back before the engine answered (it holds the answer until told): not waited for.
    assert not server.answered.is_set()
    for dummy in range(100):  # the detached process asks soon after
        if changes:
            break
        time.sleep(0.05)
    assert changes == [("POST", "/containers/slow/stop?t=10", None)]
    server.release.set()
    assert server.answered.wait(10)
