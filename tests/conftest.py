"""One lab for the end-to-end tests with one host, brought up once and taken down at the end."""

from __future__ import annotations

import pytest

from lab import Lab


@pytest.fixture(scope="session")
def lab():
    lab = Lab()
    lab.down()  # what a run that died half-way left behind
    run = lab.up()
    assert run.returncode == 0, run.output
    run = lab.provision(1)
    assert run.returncode == 0, run.output
    yield lab
    lab.down()
