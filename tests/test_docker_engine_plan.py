"""Which packages, repository and service the docker_engine role picks on each platform
it supports (Molecule converges Debian 12 for real; the others cannot be reached here)."""

from __future__ import annotations

from lab import ROOT, ansible_playbook


def test_every_platform_gets_the_right_packages_repository_and_service():
    # Outside the project's inventory: the plan needs no lab.
    run = ansible_playbook("docker_engine_plan.yml", inventories=["localhost,"], playbook_dir=ROOT / "tests/playbooks")
    assert run.returncode == 0, run.output
    assert run.output.count("refused as expected") == 2, run.output
