"""The release_record module, run by ansible itself on this machine."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[8]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def record(path: Path, digest: str, *flags: str, tags=("latest", "v1")) -> dict:
    args = json.dumps({"path": str(path), "repository": "registry.lab:5443/app", "digest": digest,
                       "tags": list(tags), "git_sha": "abc", "keep": 2})
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible"), "localhost", "-m", "fragments.deploy.release_record", "-a", args,
         *flags],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                                                       "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                                                       "ANSIBLE_STDOUT_CALLBACK": "json"})
    assert proc.returncode in (0, 2), proc.stderr
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def path(tmp_path):
    return tmp_path / "records" / "app.json"


def test_first_record_creates_the_file(path):
    result = record(path, DIGEST_A)
    assert result["changed"] is True
    data = json.loads(path.read_text())
    assert data["current"]["digest"] == DIGEST_A
    assert data["history"] == []
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_same_digest_and_tags_change_nothing(path):
    first = record(path, DIGEST_A)["record"]
    again = record(path, DIGEST_A)
    assert again["changed"] is False
    assert again["record"] == first


def test_new_digest_moves_the_old_one_to_history_and_keeps_only_n(path):
    record(path, DIGEST_A)
    record(path, DIGEST_B)
    record(path, DIGEST_A, tags=("latest", "v3"))
    result = record(path, DIGEST_B, tags=("latest", "v4"))
    data = json.loads(path.read_text())
    assert data["current"]["tags"] == ["latest", "v4"]
    assert [(item["digest"], item["tags"][1]) for item in data["history"]] == [(DIGEST_A, "v3"), (DIGEST_B, "v1")]
    assert result["previous"]["tags"] == ["latest", "v3"]


def test_check_mode_writes_nothing_and_shows_the_diff(path):
    result = record(path, DIGEST_A, "--check", "--diff")
    assert result["changed"] is True
    assert not path.exists()
    assert DIGEST_A in result["diff"]["after"]


def test_a_file_that_is_not_a_record_is_refused(path):
    path.parent.mkdir(parents=True)
    path.write_text("[]")
    result = record(path, DIGEST_A)
    assert result.get("failed") is True
    assert "not a release record file" in result["msg"]
