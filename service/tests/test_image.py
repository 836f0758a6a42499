"""The image: built like release builds it, run like a host runs it, probed over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import bcrypt
import docker
import pytest

from support import basic

pytestmark = pytest.mark.e2e
SERVICE = Path(__file__).resolve().parents[1]
BASE = os.environ.get("FRAGMENTS_TEST_BASE_IMAGE", "fragments-base/python:bookworm")
TAG = "fragments-test/service:image-test"
PORT = 18999


@pytest.fixture(scope="module")
def image():
    subprocess.run(
        ["docker", "build", "-q", "-t", TAG, "--build-arg", f"BASE_IMAGE={BASE}",
         "--build-arg", "VERSION=9.9.9", "--build-arg", "GIT_SHA=feedbeef", str(SERVICE)],
        check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    return docker.from_env().images.get(TAG)


@pytest.fixture(scope="module")
def container(image, tmp_path_factory):
    secrets = tmp_path_factory.mktemp("secrets")
    htpasswd = secrets / "htpasswd"
    hashed = bcrypt.hashpw(b"password1", bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"user1@email.com:$2y${hashed[4:]}\n")
    htpasswd.chmod(0o644)
    client = docker.from_env()
    running = client.containers.run(
        image.id, detach=True, name="fragments-image-test", ports={"8080/tcp": ("127.0.0.1", PORT)},
        environment={"HTPASSWD_FILE": "/run/secrets/htpasswd"},
        volumes={str(htpasswd): {"bind": "/run/secrets/htpasswd", "mode": "ro"}},
        read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"],
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running.reload()
            if running.attrs["State"]["Health"]["Status"] == "healthy":
                break
            time.sleep(0.5)
        yield running
    finally:
        running.remove(force=True)


def request(method, path, body=None, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_container_becomes_healthy_and_reports_its_build(container):
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    status, headers, body = request("GET", "/")
    assert status == 200
    assert json.loads(body)["version"] == "9.9.9"
    assert json.loads(body)["gitSha"] == "feedbeef"


def test_post_then_get_round_trip(container):
    auth = basic("user1@email.com", "password1")
    status, headers, body = request("POST", "/v1/fragments", b"# hello", {**auth, "Content-Type": "text/markdown"})
    assert status == 201
    location = headers["Location"]
    fragment_id = json.loads(body)["fragment"]["id"]
    assert location.endswith(f"/v1/fragments/{fragment_id}")
    assert request("GET", f"/v1/fragments/{fragment_id}", headers=auth)[2] == b"# hello"
    assert request("GET", f"/v1/fragments/{fragment_id}.html", headers=auth)[2] == b"<h1>hello</h1>\n"


def test_every_native_extension_loads_and_works(image):
    """The extension modules are stripped in the build: each one is imported and used."""
    script = ("import io, uvloop, yaml, bcrypt, httptools, PIL.Image, cryptography.hazmat.primitives.asymmetric.ec as ec\n"
              "from fragments import convert\n"
              "out = io.BytesIO(); PIL.Image.new('RGB', (2, 2)).save(out, format='PNG')\n"
              "assert convert.convert(out.getvalue(), 'image/png', 'image/webp')[0][:4] == b'RIFF'\n"
              "ec.generate_private_key(ec.SECP256R1()); yaml.safe_load('a: 1'); uvloop.new_event_loop().close()\n"
              "assert bcrypt.checkpw(b'x', bcrypt.hashpw(b'x', bcrypt.gensalt(4)))\n"
              "print('ok')")
    output = docker.from_env().containers.run(image.id, ["python3", "-c", script], remove=True)
    assert output.decode().strip() == "ok"


def test_logs_are_json_lines(container):
    lines = [line for line in container.logs().decode().splitlines() if line.strip()]
    assert lines
    assert all(json.loads(line)["level"] for line in lines)


PUBLIC_BUNDLES = ("/opt/deps/botocore/cacert.pem", "/opt/deps/certifi/cacert.pem")


def test_image_runs_as_non_root_and_holds_no_build_leftovers(image):
    """No build leftovers, no CA file of this machine: the only certificates are the public
    bundles of certifi (the service's HTTPS calls) and botocore (S3 and DynamoDB), and only
    the AWS models it loads."""
    assert image.attrs["Config"]["User"] == "10001:10001"
    # The final stage is FROM scratch: list every file with the image's own Python.
    lister = "import os\nfor d, _, fs in os.walk('/'):\n    [print(os.path.join(d, f)) for f in fs]"
    files = docker.from_env().containers.run(image.id, ["python3", "-c", lister], remove=True).decode().split()
    files = [f for f in files if not f.startswith(("/proc/", "/sys/", "/dev/"))]
    assert files and "/opt/app/fragments/app.py" in files
    leftovers = [f for f in files if f.startswith(("/opt/app/tests", "/root/.cache", "/usr/local/share/ca-certificates",
                                                    "/etc/ssl", "/opt/deps/bin"))
                 or os.path.basename(f) in ("sh", "bash", "gcc", "cc", "pip", "pip3", "apt-get", "dpkg")
                 or (f.endswith((".crt", ".pem", ".key")) and f not in PUBLIC_BUNDLES)]
    assert leftovers == []
    # The public CAs are there (for a user pool's keys over HTTPS), from certifi, not this machine.
    count = "import certifi, ssl; print(len(ssl.create_default_context(cafile=certifi.where()).get_ca_certs()))"
    assert int(docker.from_env().containers.run(image.id, ["python3", "-c", count], remove=True)) > 100
    models = {f.split("/")[5] for f in files if f.startswith("/opt/deps/botocore/data/") and f.count("/") > 5}
    assert models == {"s3", "dynamodb", "sts"}


def test_sigterm_stops_an_idle_container_cleanly(image):
    # Killed after the 10 s grace period it would exit 137; bench/service.py times the stop.
    client = docker.from_env()
    running = client.containers.run(image.id, detach=True)
    try:
        time.sleep(2)
        running.stop(timeout=10)
        running.reload()
        assert running.attrs["State"]["ExitCode"] == 0
    finally:
        running.remove(force=True)


def test_sqlite_data_survives_a_new_container(image, tmp_path_factory):
    client = docker.from_env()
    secrets = tmp_path_factory.mktemp("sqlite-secrets")
    hashed = bcrypt.hashpw(b"password1", bcrypt.gensalt(rounds=4)).decode()
    (secrets / "htpasswd").write_text(f"user1@email.com:$2y${hashed[4:]}\n")
    (secrets / "htpasswd").chmod(0o644)
    volume = client.volumes.create("fragments-image-test-data")
    auth = basic("user1@email.com", "password1")
    try:
        def start():
            running = client.containers.run(
                image.id, detach=True, ports={"8080/tcp": ("127.0.0.1", PORT + 1)},
                environment={"HTPASSWD_FILE": "/run/secrets/htpasswd", "FRAGMENTS_STORAGE": "sqlite",
                             "FRAGMENTS_SQLITE_PATH": "/data/fragments.db"},
                volumes={str(secrets / "htpasswd"): {"bind": "/run/secrets/htpasswd", "mode": "ro"},
                         volume.name: {"bind": "/data", "mode": "rw"}})
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{PORT + 1}/", timeout=1)
                    return running
                except OSError:
                    time.sleep(0.3)
            raise AssertionError(running.logs().decode())

        first = start()
        req = urllib.request.Request(f"http://127.0.0.1:{PORT + 1}/v1/fragments", data=b"kept", method="POST",
                                     headers={**auth, "Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as response:
            fragment_id = json.loads(response.read())["fragment"]["id"]
        first.remove(force=True)
        second = start()
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{PORT + 1}/v1/fragments/{fragment_id}", headers=auth)
            with urllib.request.urlopen(req, timeout=10) as response:
                assert response.read() == b"kept"
        finally:
            second.remove(force=True)
    finally:
        volume.remove(force=True)
