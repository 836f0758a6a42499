"""The release_record module, run in this process as Ansible runs it on a host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


@pytest.fixture
def record(run_module):
    def run(path: Path, digest: str, *flags: str, tags=("latest", "v1")) -> dict:
        return run_module("release_record", {"path": str(path), "repository": "registry.lab:5443/app",
                                             "digest": digest, "tags": list(tags), "git_sha": "abc", "keep": 2},
                          *flags)
    return run


@pytest.fixture
def path(tmp_path):
    return tmp_path / "records" / "app.json"


def test_first_record_creates_the_file(record, path):
    result = record(path, DIGEST_A)
    assert result["changed"] is True
    data = json.loads(path.read_text())
    assert data["current"]["digest"] == DIGEST_A
    assert data["history"] == []
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_same_digest_and_tags_change_nothing(record, path):
    first = record(path, DIGEST_A)["record"]
    again = record(path, DIGEST_A)
    assert again["changed"] is False
    assert again["record"] == first


def test_new_digest_moves_the_old_one_to_history_and_keeps_only_n(record, path):
    record(path, DIGEST_A)
    record(path, DIGEST_B)
    record(path, DIGEST_A, tags=("latest", "v3"))
    result = record(path, DIGEST_B, tags=("latest", "v4"))
    data = json.loads(path.read_text())
    assert data["current"]["tags"] == ["latest", "v4"]
    assert [(item["digest"], item["tags"][1]) for item in data["history"]] == [(DIGEST_A, "v3"), (DIGEST_B, "v1")]
    assert result["previous"]["tags"] == ["latest", "v3"]


def test_check_mode_writes_nothing_and_shows_the_diff(record, path):
    result = record(path, DIGEST_A, "--check", "--diff")
    assert result["changed"] is True
    assert not path.exists()
    assert DIGEST_A in result["diff"]["after"]


def test_a_file_that_is_not_a_record_is_refused(record, path):
    path.parent.mkdir(parents=True)
    path.write_text("[]")
    result = record(path, DIGEST_A)
    assert result.get("failed") is True
    assert "not a release record file" in result["msg"]
