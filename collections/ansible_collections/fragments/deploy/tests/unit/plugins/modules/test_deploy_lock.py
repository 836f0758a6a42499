"""The deploy_lock module, run by ansible itself on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[8]


def lock(path: Path, owner: str, *flags: str, **options) -> dict:
    args = json.dumps({"path": str(path), "owner": owner, **options})
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible"), "localhost", "-m", "fragments.deploy.deploy_lock", "-a", args, *flags],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                                                       "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                                                       "ANSIBLE_STDOUT_CALLBACK": "json"})
    assert proc.returncode in (0, 2), proc.stderr
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def path(tmp_path):
    return tmp_path / "app" / "deploy.lock"


def test_take_then_take_again_as_the_same_owner(path):
    first = lock(path, "alice")
    assert first["changed"] and first["acquired"] and first["holder"] is None
    assert json.loads(path.read_text())["owner"] == "alice"
    again = lock(path, "alice")
    assert again["acquired"] and not again["changed"]


def test_another_owner_is_told_who_holds_it(path):
    lock(path, "alice")
    bob = lock(path, "bob")
    assert bob["acquired"] is False and bob["changed"] is False
    assert bob["holder"]["owner"] == "alice"
    assert bob["holder"]["stale"] is False and bob["holder"]["since"].endswith("Z")
    assert json.loads(path.read_text())["owner"] == "alice"


def test_an_old_lock_is_reported_stale_not_broken(path):
    lock(path, "alice")
    data = json.loads(path.read_text())
    data["epoch"] = time.time() - 7200
    path.write_text(json.dumps(data))
    bob = lock(path, "bob", stale_after=1800)
    assert bob["acquired"] is False and bob["holder"]["stale"] is True and bob["holder"]["age"] >= 7200


def test_only_the_owner_gives_it_back_unless_forced(path):
    lock(path, "alice")
    assert lock(path, "bob", state="absent")["changed"] is False
    assert path.exists()
    forced = lock(path, "bob", state="absent", force=True)
    assert forced["changed"] and forced["holder"]["owner"] == "alice"
    assert not path.exists()
    assert lock(path, "bob", state="absent")["changed"] is False


def test_unreadable_lock_file_is_reported(path):
    path.parent.mkdir(parents=True)
    path.write_text("")
    bob = lock(path, "bob")
    assert bob["acquired"] is False and "unreadable" in bob["holder"]["owner"]


def test_check_mode_writes_nothing(path):
    result = lock(path, "alice", "--check")
    assert result["changed"] and result["acquired"]
    assert not path.exists()
