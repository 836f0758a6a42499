"""The image's HEALTHCHECK (fragments.healthcheck) against the service itself, served by
uvicorn on a loopback port, against a server that answers 503, and against a closed port;
and what the service imports before it can answer."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import uvicorn

import fragments
from fragments import healthcheck
from fragments.app import create_app

from support import free_port, make_settings


@pytest.fixture
def service_port(htpasswd):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(make_settings(htpasswd)), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(timeout=10)


class Sick(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sick_port():
    server = HTTPServer(("127.0.0.1", 0), Sick)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_a_serving_service_is_healthy(service_port, monkeypatch):
    monkeypatch.setenv("PORT", str(service_port))
    assert healthcheck.main() == 0


def test_an_answer_other_than_200_is_unhealthy_and_named(sick_port, monkeypatch, capsys):
    monkeypatch.setenv("PORT", str(sick_port))
    assert healthcheck.main() == 1
    assert f"127.0.0.1:{sick_port}: answered 'HTTP/1.0 503" in capsys.readouterr().err


def test_nothing_listening_is_unhealthy_and_named(monkeypatch, capsys):
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    assert healthcheck.main() == 1
    assert f"healthcheck: 127.0.0.1:{port}:" in capsys.readouterr().err


def test_the_service_starts_without_the_libraries_only_some_requests_need(htpasswd):
    """The health check answers before Pillow, markdown-it, PyYAML (conversions) and PyJWT
    (Cognito's tokens) are imported: together 0.2 s of every start, in a fresh process."""
    code = ("import sys\nfrom fragments.app import create_app\nfrom fragments.config import Settings\n"
            f"create_app(Settings.from_env({{'HTPASSWD_FILE': {str(htpasswd)!r}}}))\n"
            "print(sorted({name.split('.')[0] for name in sys.modules} & {'PIL', 'markdown_it', 'yaml', 'jwt'}))")
    source = str(Path(fragments.__file__).parent.parent)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": source, "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
