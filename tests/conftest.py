"""One lab for the end-to-end tests with one host, brought up once per pytest worker and
taken down at the end. Workers (pytest-xdist) get labs of their own names and ports."""

from __future__ import annotations

import os

import pytest

from lab import Lab


@pytest.fixture(scope="session")
def lab():
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    # Ports 15443 + 30 N and 15500 + 30 N; the labs of single test files use others.
    lab = Lab(name="fragments-e2e" + (f"-{worker}" if worker else ""),
              registry_port=15443 + 30 * worker, moto_port=15500 + 30 * worker)
    lab.down()  # what a run that died half-way left behind
    run = lab.up()
    assert run.returncode == 0, run.output
    run = lab.provision(1)
    assert run.returncode == 0, run.output
    yield lab
    lab.down()
