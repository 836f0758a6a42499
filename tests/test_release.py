"""End to end: the release role against the lab registry (TLS + htpasswd), a registry
behind a bearer-token server, and moto's ECR."""

from __future__ import annotations

import json
import subprocess

import docker
import pytest

from lab import ROOT, ansible_playbook, remove_local_tags
from token_registry import TokenServer, run_token_registry

pytestmark = pytest.mark.e2e
REPOSITORY = "e2e/sample"


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def head(repo) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def source(tmp_path):
    repo = tmp_path / "sample"
    repo.mkdir()
    (repo / "Dockerfile").write_text("FROM fragments-base/debian:bookworm\nCOPY message.txt /message.txt\n"
                                     'CMD ["cat", "/message.txt"]\n')
    (repo / "message.txt").write_text(f"hello from {tmp_path.name}\n")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first")
    # Never fetched: only its public address is labelled on the image, without the token.
    git(repo, "remote", "add", "origin", "https://alice:ghp_token123@github.com/alice/sample.git")
    return repo


@pytest.fixture
def release(lab, source, tmp_path):
    records = tmp_path / "records"

    def run(*args, **overrides):
        extra = {"release_source_dir": str(source), "release_repository": REPOSITORY, "release_labels": ["lab-6"],
                 "release_record_dir": str(records), "release_build_args": {}, **overrides}
        return lab.play("release.yml", "-e", json.dumps(extra), *args)

    run.records = records
    run.record_file = records / "e2e--sample.json"
    return run


def registry_digest(lab, tag: str) -> str | None:
    return lab.manifest_digest(REPOSITORY, tag)


def released_latest(lab, release) -> str:
    """The digest the registry serves as REPOSITORY:latest, from a release made here only when
    no earlier test of this file pushed one already (each release builds: seconds of CPU)."""
    if registry_digest(lab, "latest") is None:
        run = release()
        assert run.returncode == 0, run.output
    return registry_digest(lab, "latest")


def test_release_pushes_every_tag_and_records_the_digest(lab, release, source):
    run = release()
    assert run.returncode == 0, run.output
    record = json.loads(release.record_file.read_text())["current"]
    short = head(source)[:12]
    assert record["tags"] == ["latest", "lab-6", short]
    assert record["git_sha"] == head(source)
    assert record["repository"] == f"127.0.0.1:{lab.registry_port}/{REPOSITORY}"
    assert {registry_digest(lab, tag) for tag in record["tags"]} == {record["digest"]}
    assert record["build_args"]["GIT_SHA"] == head(source)
    assert record["build_args"]["SOURCE_URL"] == "https://github.com/alice/sample"
    assert "ghp_token123" not in release.record_file.read_text() and "ghp_token123" not in run.output
    assert lab.registry_password() not in run.output

    again = release()
    assert again.returncode == 0, again.output
    assert again.changed == 0, again.output
    assert json.loads(release.record_file.read_text())["current"] == record
    # Every tag already points at the digest: no push at all (bench/deploy.py counts 0 blob uploads).
    pushed = again.output.split("TASK [fragments.deploy.release : Push every tag]")
    assert len(pushed) == 1 or "skipping" in pushed[1].split("TASK")[0], again.output


def test_a_new_commit_shown_by_check_mode_then_released_keeps_the_previous(lab, release, source):
    """--check on a new commit says it would build it and touches neither the registry nor the
    record; the release then records it, the previous one first in the history."""
    assert release().returncode == 0
    before = release.record_file.read_text()
    first = json.loads(before)["current"]
    (source / "message.txt").write_text("second\n")
    git(source, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "second")
    checked = release("--check")
    assert checked.returncode == 0, checked.output
    assert "Would build" in checked.output and head(source)[:12] in checked.output
    assert registry_digest(lab, head(source)[:12]) is None
    assert release.record_file.read_text() == before
    run = release()
    assert run.returncode == 0, run.output
    data = json.loads(release.record_file.read_text())
    assert data["current"]["digest"] != first["digest"]
    assert data["history"][0] == first
    assert registry_digest(lab, "latest") == data["current"]["digest"]


def test_dirty_tree_is_refused_or_tagged_dirty(lab, release, source):
    (source / "message.txt").write_text("uncommitted\n")
    refused = release()
    assert refused.returncode != 0
    assert "uncommitted changes" in refused.output and "release_allow_dirty" in refused.output
    assert not release.record_file.exists()
    allowed = release("-e", '{"release_allow_dirty": true}')
    assert allowed.returncode == 0, allowed.output
    tags = json.loads(release.record_file.read_text())["current"]["tags"]
    assert f"{head(source)[:12]}-dirty" in tags and head(source)[:12] not in tags


BAD_INPUTS = [
    ({"release_labels": ["-bad"]}, "tag '-bad' does not follow Docker's reference grammar"),
    ({"release_labels": ["x" * 129]}, "does not follow Docker's reference grammar"),
    ({"release_repository": "Bad/Repo"}, "repository 'Bad/Repo' does not follow Docker's reference grammar"),
    ({"release_registry": "bad_host:5000"}, "registry 'bad_host:5000' is not a valid registry host"),
    ({"release_dockerfile": "Missing.Dockerfile"}, "No Dockerfile at"),
    ({"release_registry_password": ""}, "needs release_registry_username and release_registry_password"),
]


def test_bad_input_is_refused_before_anything_is_built(lab, source, tmp_path):
    """Each case in a play of its own, all in one playbook run (Lab.refusals): each refused
    with its message, nothing recorded or pushed."""
    records = tmp_path / "records"
    base = {"release_source_dir": str(source), "release_repository": "e2e/refused", "release_labels": ["lab-6"],
            "release_record_dir": str(records), "release_build_args": {}}
    said = lab.refusals("fragments.deploy.release", [{**base, **overrides} for overrides, _ in BAD_INPUTS], tmp_path)
    for (overrides, message), refusal in zip(BAD_INPUTS, said):
        assert message in refusal, (overrides, refusal or "taken")
    assert not records.exists()
    assert lab.manifest_digest("e2e/refused", "latest") is None


def test_failing_build_records_nothing(lab, release, source):
    (source / "Dockerfile").write_text("FROM fragments-base/debian:bookworm\nRUN exit 3\n")
    git(source, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "broken")
    run = release()
    assert run.returncode != 0
    assert "returned a non-zero code: 3" in run.output
    assert not release.record_file.exists()


def test_wrong_password_records_nothing_and_stays_secret(lab, release):
    run = release(release_registry_password="not-the-password-42")
    assert run.returncode != 0
    assert "not-the-password-42" not in run.output
    assert "unauthorized" in run.output.lower() or "refused the credentials" in run.output
    assert not release.record_file.exists()


def test_registry_down_records_nothing(lab, release):
    run = release(release_registry="127.0.0.1:1")
    remove_local_tags("127.0.0.1:1/")
    assert run.returncode != 0
    assert "127.0.0.1:1" in run.output
    assert not release.record_file.exists()


def test_resolving_an_unknown_tag_says_so(lab, release):
    released_latest(lab, release)
    run = ansible_playbook("resolve_digest.yml", "-e", json.dumps({
        "image": f"127.0.0.1:{lab.registry_port}/{REPOSITORY}:no-such-tag",
        "username": "fragments", "password_file": str(lab.state_dir / "registry-password"),
        "ca_path": str(lab.ca_file)}), playbook_dir=ROOT / "tests/playbooks")
    assert run.returncode != 0
    assert f"tag no-such-tag not found in repository {REPOSITORY} at registry 127.0.0.1:{lab.registry_port}" \
        in run.output


def test_bearer_token_flow_against_a_token_auth_registry(lab, release, tmp_path):
    expected = released_latest(lab, release)
    client = docker.from_env()
    with TokenServer(15461, "token-user", "token-pass") as tokens:
        (tmp_path / "token.crt").write_bytes(tokens.issuer.cert_pem())
        registry = run_token_registry(client, f"{lab.name}-token-registry", 15444, lab.state_dir,
                                      f"{lab.name}-registry-data", tmp_path, tokens.realm)
        try:
            def resolve(password):
                (tmp_path / "password").write_text(password)
                return ansible_playbook("resolve_digest.yml", "-e", json.dumps({
                    "image": f"127.0.0.1:15444/{REPOSITORY}:latest", "username": "token-user",
                    "password_file": str(tmp_path / "password"), "ca_path": str(lab.ca_file),
                    "retries": 20}), playbook_dir=ROOT / "tests/playbooks")

            run = resolve("token-pass")
            assert run.returncode == 0, run.output + registry.logs().decode()[-2000:]
            assert f"digest={expected}" in run.output
            assert "/token" in tokens.requests
            refused = resolve("wrong-pass")
            assert refused.returncode != 0
            assert "token service of 127.0.0.1:15444 refused the credentials of user 'token-user'" in refused.output
        finally:
            registry.remove(force=True)


def test_ecr_credentials_come_from_the_aws_api(lab):
    run = ansible_playbook("ecr_login.yml", playbook_dir=ROOT / "tests/playbooks",
                           env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{lab.moto_port}",
                                "AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab"})
    assert run.returncode == 0, run.output
    assert "user=AWS registry=123456789012.dkr.ecr.us-east-1.amazonaws.com" in run.output
    assert "auth-token" not in run.output
