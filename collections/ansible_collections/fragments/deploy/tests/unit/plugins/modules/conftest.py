"""Run one of the collection's modules through ansible itself on this machine."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[8]


@pytest.fixture
def run_module():
    def run(module: str, args: dict, *flags: str) -> dict:
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/ansible"), "localhost", "-m", f"fragments.deploy.{module}", "-a", json.dumps(args),
             *flags],
            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                                                           "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                                                           "ANSIBLE_STDOUT_CALLBACK": "json"})
        assert proc.returncode in (0, 2), proc.stderr
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return run
