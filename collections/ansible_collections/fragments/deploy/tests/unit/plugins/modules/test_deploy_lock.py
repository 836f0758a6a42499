"""The deploy_lock module, run in this process as Ansible runs it on a host."""

from __future__ import annotations

import json
import time

import pytest


@pytest.fixture
def lock(run_module):
    def run(path, owner: str, *flags: str, **options) -> dict:
        return run_module("deploy_lock", {"path": str(path), "owner": owner, **options}, *flags)
    return run


@pytest.fixture
def path(tmp_path):
    return tmp_path / "app" / "deploy.lock"


def test_take_then_take_again_as_the_same_owner(lock, path):
    first = lock(path, "alice")
    assert first["changed"] and first["acquired"] and first["holder"] is None
    assert json.loads(path.read_text())["owner"] == "alice"
    again = lock(path, "alice")
    assert again["acquired"] and not again["changed"]


def test_another_owner_is_told_who_holds_it(lock, path):
    lock(path, "alice")
    bob = lock(path, "bob")
    assert bob["acquired"] is False and bob["changed"] is False
    assert bob["holder"]["owner"] == "alice"
    assert bob["holder"]["stale"] is False and bob["holder"]["since"].endswith("Z")
    assert json.loads(path.read_text())["owner"] == "alice"


def test_an_old_lock_is_reported_stale_not_broken(lock, path):
    lock(path, "alice")
    data = json.loads(path.read_text())
    data["epoch"] = time.time() - 7200
    path.write_text(json.dumps(data))
    bob = lock(path, "bob", stale_after=1800)
    assert bob["acquired"] is False and bob["holder"]["stale"] is True and bob["holder"]["age"] >= 7200


def test_only_the_owner_gives_it_back_unless_forced(lock, path):
    lock(path, "alice")
    assert lock(path, "bob", state="absent")["changed"] is False
    assert path.exists()
    forced = lock(path, "bob", state="absent", force=True)
    assert forced["changed"] and forced["holder"]["owner"] == "alice"
    assert not path.exists()
    assert lock(path, "bob", state="absent")["changed"] is False


def test_unreadable_lock_file_is_reported(lock, path):
    path.parent.mkdir(parents=True)
    path.write_text("")
    bob = lock(path, "bob")
    assert bob["acquired"] is False and "unreadable" in bob["holder"]["owner"]


def test_check_mode_writes_nothing(lock, path):
    result = lock(path, "alice", "--check")
    assert result["changed"] and result["acquired"]
    assert not path.exists()
