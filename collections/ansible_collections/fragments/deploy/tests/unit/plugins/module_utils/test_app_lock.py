"""The deploy lock's file operations, on real files."""

from __future__ import annotations

from ansible_collections.fragments.deploy.plugins.module_utils.app_lock import give_back_lock, read_lock, take_lock


def test_only_the_holder_gives_the_lock_back(tmp_path):
    path = str(tmp_path / "app" / "deploy.lock")
    assert take_lock(path, "alice")
    assert give_back_lock(path, "bob") is False
    assert read_lock(path, 1800)["owner"] == "alice"
    assert give_back_lock(path, "alice") is True
    assert read_lock(path, 1800) is None
    assert give_back_lock(path, "alice") is False, "no lock left to give back"
