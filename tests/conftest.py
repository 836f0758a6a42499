"""One lab for the end-to-end tests with one host, brought up once per pytest worker and
taken down at the end. Workers (pytest-xdist) get labs of their own names and ports."""

from __future__ import annotations

import os
import subprocess

import docker
import pytest

from lab import APP_REPOSITORY, ROOT, Lab

# The two longest files whose tests bring up labs of their own form one unit of work, and the
# worker that takes it takes nothing else: that worker never brings up the shared session lab
# below (its lab_up, provision, Docker install, image builds and pushes), while the other worker
# takes every other file (tests/test_provision_refusals.py too, which has a lab of its own). The
# two lanes are about equally long (seconds per file in docs/benchmarks/tests.md).
OWN_LAB_LANE = ("tests/test_fleet.py", "tests/test_provision.py")


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LanesScheduling(LoadFileScheduling):
        def _assign_work_unit(self, node) -> None:
            # The lane first, so that the first worker takes it at once (pytest collects the
            # files in its own order, by path, whatever the order of the command line).
            if "own-lab-lane" in self.workqueue:
                self.workqueue.move_to_end("own-lab-lane", last=False)
            super()._assign_work_unit(node)

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "own-lab-lane" if path in OWN_LAB_LANE else super()._split_scope(nodeid)

        def _reschedule(self, node) -> None:
            # With one worker it takes everything, one unit after another.
            if "own-lab-lane" in self.assigned_work.get(node, {}) and len(self.nodes) > 1 and self.workqueue:
                return
            super()._reschedule(node)

    return LanesScheduling(config, log)


# `make e2e K=expr` keeps the worker's lab up between runs (a warm lab: the next run converges
# it in seconds); the full test command always starts from nothing and takes it down.
KEEP_LAB = os.environ.get("FRAGMENTS_E2E_KEEP_LAB") == "1"


@pytest.fixture(scope="session")
def lab():
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    # Ports 15443 + 30 N and 15500 + 30 N; the labs of single test files use others. The warm
    # lab of `make e2e K=...` has a name and ports of its own, so that it can stay up while
    # the whole test command runs.
    if KEEP_LAB:
        lab = Lab(name="fragments-e2e-warm", registry_port=15453, moto_port=15510)
    else:
        lab = Lab(name="fragments-e2e" + (f"-{worker}" if worker else ""),
                  registry_port=15443 + 30 * worker, moto_port=15500 + 30 * worker)
    if not KEEP_LAB:
        lab.down()  # what a run that died half-way left behind
    run = lab.up()
    assert run.returncode == 0, run.output
    run = lab.provision(1)
    assert run.returncode == 0, run.output
    yield lab
    if not KEEP_LAB:
        lab.down()


@pytest.fixture(scope="session")
def app_images(lab, tmp_path_factory) -> str:
    """v1 and v2 of the service, one whose HEALTHCHECK never passes and v2 slow to start
    (4 s before it listens, for faults injected while a candidate is gated), pushed to
    e2e/app in the lab registry; Docker installed on the lab host. Returns the repository
    as the control node pushes to it."""
    engine = lab.play("docker_engine.yml", playbook_dir=ROOT / "tests/playbooks")
    assert engine.returncode == 0, engine.output
    client = docker.from_env()
    password = lab.registry_password()
    base = f"127.0.0.1:{lab.registry_port}/{APP_REPOSITORY}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    for version in ("v1", "v2"):
        subprocess.run(["docker", "build", "-q", "-t", f"{base}:{version}", "--build-arg", f"VERSION={version}",
                        "--build-arg", "BASE_IMAGE=fragments-base/python:bookworm", str(ROOT / "service")],
                       check=True, capture_output=True, env=env)
    broken = tmp_path_factory.mktemp("broken")
    (broken / "Dockerfile").write_text(
        f'FROM {base}:v2\nHEALTHCHECK --interval=1s CMD ["python3", "-c", "raise SystemExit(1)"]\n')
    subprocess.run(["docker", "build", "-q", "-t", f"{base}:unhealthy", str(broken)], check=True,
                   capture_output=True, env=env)
    slow = tmp_path_factory.mktemp("slow")
    (slow / "Dockerfile").write_text(
        f'FROM {base}:v2\nCMD ["python3", "-c", "import runpy, time; time.sleep(4); '
        'runpy.run_module(\'fragments\', run_name=\'__main__\')"]\n')
    subprocess.run(["docker", "build", "-q", "-t", f"{base}:slow", str(slow)], check=True, capture_output=True, env=env)
    for tag in ("v1", "v2", "unhealthy", "slow"):
        for line in client.images.push(base, tag=tag, stream=True, decode=True,
                                       auth_config={"username": "fragments", "password": password}):
            assert "error" not in line, line
    return base
