"""End to end: the container_app role on a lab host over SSH: first deploy, no-op
re-run, locked-down settings, a never-healthy version refused while the old one keeps
answering, bad pulls that touch nothing, check mode, pruning. (Molecule's container_app
scenario covers the version change and an image that exits, under a request loop.)"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
import docker
import pytest

from lab import ROOT

pytestmark = pytest.mark.e2e
REPOSITORY = "e2e/app"


@dataclass
class RequestLoop:
    """GET url every few ms from a thread; count answers by version and failures."""

    url: str
    interval: float = 0.02
    limit: float = 180.0
    versions: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + self.limit  # bounded even if the test forgets to stop it
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    version = json.loads(response.read())["version"]
                    self.versions[version] = self.versions.get(version, 0) + 1
            except Exception as exc:  # noqa: BLE001 - every failure counts
                self.failures.append(type(exc).__name__)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def images(lab, tmp_path_factory):
    """v1 and v2 of the service and one that never turns healthy; pushed.
    Docker is installed on the lab host once, here."""
    engine = lab.play("docker_engine.yml", playbook_dir=ROOT / "tests/playbooks")
    assert engine.returncode == 0, engine.output
    client = docker.from_env()
    password = lab.registry_password()
    registry = f"127.0.0.1:{lab.registry_port}"
    client.login(username="fragments", password=password, registry=registry, reauth=True,
                 dockercfg_path=str(tmp_path_factory.mktemp("docker") / "config.json"))
    base = f"{registry}/{REPOSITORY}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    for version in ("v1", "v2"):
        subprocess.run(["docker", "build", "-q", "-t", f"{base}:{version}", "--build-arg", f"VERSION={version}",
                        "--build-arg", "BASE_IMAGE=fragments-base/python:bookworm", str(ROOT / "service")],
                       check=True, capture_output=True, env=env)
    broken = tmp_path_factory.mktemp("broken")
    for tag, line in (("unhealthy", 'HEALTHCHECK --interval=1s CMD ["python3", "-c", "raise SystemExit(1)"]'),):
        (broken / "Dockerfile").write_text(f"FROM {base}:v2\n{line}\n")
        subprocess.run(["docker", "build", "-q", "-t", f"{base}:{tag}", str(broken)], check=True,
                       capture_output=True, env=env)
    for tag in ("v1", "v2", "unhealthy"):
        for line in client.images.push(f"{base}", tag=tag, stream=True, decode=True,
                                       auth_config={"username": "fragments", "password": password}):
            assert "error" not in line, line
    return base


def deploy(lab, tag, *args, **extra):
    return lab.play("deploy_app.yml", "-e", json.dumps({"container_app_tag": tag, **extra}), *args,
                    playbook_dir=ROOT / "tests/playbooks")


def host(lab):
    [only] = lab.hosts()
    return docker.from_env().containers.get(only["container"])


def inner(lab, command: str) -> str:
    result = host(lab).exec_run(["sh", "-c", command])
    return result.output.decode()


def version(lab) -> str:
    with urllib.request.urlopen(lab.app_urls()[0] + "/", timeout=5) as response:
        return json.loads(response.read())["version"]


def records(lab) -> list[dict]:
    out = inner(lab, "cat /var/lib/fragments-deploy/fragments/deploys.jsonl 2>/dev/null")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_first_deploy_then_no_change(lab, images):
    run = deploy(lab, "v1")
    assert run.returncode == 0, run.output
    assert version(lab) == "v1"
    assert records(lab)[-1]["outcome"] == "deployed"
    again = deploy(lab, "v1")
    assert again.returncode == 0, again.output
    assert again.changed == 0, again.output


def test_the_container_runs_locked_down(lab, images):
    assert deploy(lab, "v1").returncode == 0
    config = json.loads(inner(lab, "docker inspect fragments"))[0]
    host_config = config["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host_config["SecurityOpt"]
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    assert host_config["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}
    assert host_config["Memory"] == 512 * 1024 * 1024
    assert host_config["ReadonlyRootfs"] is True
    assert config["Config"]["User"] == "10001:10001"
    assert "@sha256:" in config["Config"]["Image"]


# The version change and an image that exits run in Molecule (molecule/container_app);
# here, an image whose HEALTHCHECK never passes.
@pytest.mark.parametrize(("tag", "health"), [("unhealthy", "health unhealthy, last check exit code 1")])
def test_broken_version_is_refused_while_the_old_one_answers(lab, images, tag, health):
    assert deploy(lab, "v2").returncode == 0
    with RequestLoop(lab.app_urls()[0] + "/") as loop:
        run = deploy(lab, tag)
        time.sleep(0.5)
    assert run.returncode != 0
    assert "did not become healthy" in run.output
    assert health in run.output
    assert "left serving" in run.output
    assert loop.failures == []
    assert set(loop.versions) == {"v2"}
    assert version(lab) == "v2"
    assert records(lab)[-1]["outcome"] == "refused"
    assert "fragments-candidate" not in inner(lab, "docker ps -a --format '{{.Names}}'")


def test_unknown_tag_is_refused_on_the_control_node(lab, images):
    assert deploy(lab, "v2").returncode == 0
    before = records(lab)
    run = deploy(lab, "no-such-tag")
    assert run.returncode != 0
    assert f"tag no-such-tag not found in repository {REPOSITORY}" in run.output
    assert version(lab) == "v2"
    assert records(lab) == before


def test_wrong_registry_password_touches_nothing(lab, images):
    assert deploy(lab, "v2").returncode == 0
    digest = json.loads(inner(lab, "docker inspect fragments"))[0]["Config"]["Image"].split("@")[1]
    run = deploy(lab, "v1", container_app_digest=lab.manifest_digest(REPOSITORY, "v1"),
                 container_app_registry_password="wrong-pw-77")
    assert run.returncode != 0
    assert "wrong-pw-77" not in run.output
    assert "running version was left as it was" in run.output
    assert version(lab) == "v2"
    assert json.loads(inner(lab, "docker inspect fragments"))[0]["Config"]["Image"].endswith(digest)


def test_check_mode_changes_nothing(lab, images):
    assert deploy(lab, "v2").returncode == 0
    run = deploy(lab, "v1", "--check")
    assert run.returncode == 0, run.output
    assert version(lab) == "v2"


def test_old_images_are_pruned(lab, images):
    for tag in ("v1", "v2", "v1"):
        assert deploy(lab, tag, container_app_keep_images=2).returncode == 0
    listed = inner(lab, f"docker images --format '{{{{.ID}}}}' registry.lab:{lab.registry_port}/{REPOSITORY}")
    assert len(set(listed.split())) <= 2, listed


def test_records_are_json_lines_with_the_fields_status_needs(lab, images):
    assert deploy(lab, "v2").returncode == 0
    for record in records(lab):
        assert {"time", "app", "digest", "image", "tags", "previous_digest", "outcome"} <= record.keys()
