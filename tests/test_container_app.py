"""End to end: the proxy and container_app roles on a lab host over SSH: first deploy, no-op
re-run, locked-down settings published on loopback only, a never-healthy version refused
while the old one keeps answering, bad pulls that touch nothing, check mode, pruning.
(Molecule's container_app scenario covers the version change, an image that exits and the
switch back when a version fails once it takes the traffic, under a request loop.)"""

from __future__ import annotations

import json
import pytest

from lab import APP_REPOSITORY as REPOSITORY, ROOT, settled
from loops import RequestLoop

pytestmark = pytest.mark.e2e


def deploy(lab, tag, *args, **extra):
    return lab.play("deploy_app.yml", "-e", json.dumps({"container_app_tag": tag, **extra}), *args,
                    playbook_dir=ROOT / "tests/playbooks")


def inner(lab, command: str) -> str:
    return lab.on_host(command)[1]


def version(lab) -> str:
    return RequestLoop.ask(lab.app_urls()[0])


def records(lab) -> list[dict]:
    out = inner(lab, "cat /var/lib/fragments-deploy/fragments/deploys.jsonl 2>/dev/null")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_first_deploy_records_runs_locked_down_then_no_change(lab, app_images):
    run = deploy(lab, "v1")
    assert run.returncode == 0, run.output
    assert version(lab) == "v1"
    assert records(lab)[-1]["outcome"] == "deployed"
    for record in records(lab):
        assert {"time", "app", "digest", "image", "tags", "previous_digest", "outcome"} <= record.keys()
    again = deploy(lab, "v1")
    assert again.returncode == 0, again.output
    assert again.changed == 0, again.output
    config = json.loads(inner(lab, "docker inspect fragments"))[0]
    host_config = config["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host_config["SecurityOpt"]
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    assert host_config["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}
    assert host_config["Memory"] == 512 * 1024 * 1024
    assert host_config["ReadonlyRootfs"] is True
    assert config["Config"]["User"] == "10001:10001"
    assert "@sha256:" in config["Config"]["Image"]
    # Only the proxy reaches the app: it publishes on loopback, on one of the two ports.
    [binding] = host_config["PortBindings"]["8080/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and binding["HostPort"] in ("18080", "18081")


# The version change and an image that exits run in Molecule (molecule/container_app);
# here, an image whose HEALTHCHECK never passes.
@pytest.mark.parametrize(("tag", "health"), [("unhealthy", "health unhealthy, last check exit code 1")])
def test_broken_version_is_refused_while_the_old_one_answers(lab, app_images, tag, health):
    assert deploy(lab, "v2").returncode == 0
    with RequestLoop(lab.app_urls()[0]) as loop:
        run = deploy(lab, tag)
        loop.settle(25)
    assert run.returncode != 0
    assert "did not become healthy" in run.output
    assert health in run.output
    assert "left serving" in run.output
    assert loop.failures == []
    assert set(loop.versions) == {"v2"}
    assert version(lab) == "v2"
    assert records(lab)[-1]["outcome"] == "refused"
    assert "fragments-candidate" not in inner(lab, "docker ps -a --format '{{.Names}}'")


def test_unknown_tag_is_refused_on_the_control_node(lab, app_images):
    assert deploy(lab, "v2").returncode == 0
    before = records(lab)
    run = deploy(lab, "no-such-tag")
    assert run.returncode != 0
    assert f"tag no-such-tag not found in repository {REPOSITORY}" in run.output
    assert version(lab) == "v2"
    assert records(lab) == before


def test_wrong_registry_password_touches_nothing(lab, app_images):
    assert deploy(lab, "v2").returncode == 0
    digest = json.loads(inner(lab, "docker inspect fragments"))[0]["Config"]["Image"].split("@")[1]
    v1 = lab.manifest_digest(REPOSITORY, "v1")
    # An image already on the host needs no login: take v1 away so the deploy must log in.
    lab.forget_image(v1, "fragments-previous")
    run = deploy(lab, "v1", container_app_digest=v1, container_app_registry_password="wrong-pw-77")
    assert run.returncode != 0
    assert "wrong-pw-77" not in run.output
    assert "running version was left as it was" in run.output
    assert version(lab) == "v2"
    assert json.loads(inner(lab, "docker inspect fragments"))[0]["Config"]["Image"].endswith(digest)


def test_check_mode_changes_nothing(lab, app_images):
    assert deploy(lab, "v2").returncode == 0
    run = deploy(lab, "v1", "--check")
    assert run.returncode == 0, run.output
    assert version(lab) == "v2"


def test_old_images_are_pruned(lab, app_images):
    """Three images of the repository on the host (v1, the refused unhealthy one, v2):
    keeping two leaves the running version and the previous one."""
    def listed() -> set[str]:
        return set(inner(lab, "docker images --digests --format '{{.Digest}}' "
                              f"registry.lab:{lab.registry_port}/{REPOSITORY}").split())

    unhealthy = lab.manifest_digest(REPOSITORY, "unhealthy")
    assert deploy(lab, "v1").returncode == 0
    # test_broken_version_is_refused_while_the_old_one_answers pulled it already, unless run alone.
    if unhealthy not in listed():
        assert deploy(lab, "unhealthy").returncode != 0
    assert listed() >= {lab.manifest_digest(REPOSITORY, "v1"), unhealthy}
    assert deploy(lab, "v2", container_app_keep_images=2).returncode == 0
    assert listed() == {lab.manifest_digest(REPOSITORY, "v1"), lab.manifest_digest(REPOSITORY, "v2")}


def test_a_previous_version_left_running_is_stopped_and_reused(lab, app_images):
    """The change does not wait for the old version to stop (a detached process stops it). A
    previous version still running when the next change comes (still stopping, or started by
    hand) is stopped first and then reused as the candidate: no second container of it, no
    port of its own taken from the new version."""
    assert deploy(lab, "v1").returncode == 0
    assert deploy(lab, "v2").returncode == 0
    inner(lab, "docker start fragments-previous")
    previous_id = json.loads(inner(lab, "docker inspect fragments-previous"))[0]["Id"]
    run = deploy(lab, "v1")
    assert run.returncode == 0, run.output
    assert version(lab) == "v1"
    assert json.loads(inner(lab, "docker inspect fragments"))[0]["Id"] == previous_id
    # v2, drained, stops in the background: settled within its stop timeout.
    def states() -> dict:
        listed = inner(lab, "docker ps -a --filter name=^fragments --format '{{.Names}} {{.State}}'")
        return dict(line.split() for line in listed.splitlines() if line.strip())
    found = settled(states, lambda found: found.get("fragments-previous") == "exited")
    assert found == {"fragments": "running", "fragments-previous": "exited"}, found
