"""Faults while deploy.yml runs on the lab host, and bad input it must refuse. Each case
checks that what served kept serving and that the error says what to fix. Bounded: each
fault is injected once, and every wait has a deadline.

Tested once elsewhere: an invalid proxy configuration refused before any reload, the old
version serving (Molecule scenario `proxy`, side_effect.yml); the host's step killed at each
of its points (tests/test_interrupts.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import docker
import pytest
import requests
import yaml

from corpus import Corpus
from lab import APP_REPOSITORY, ROOT, Lab, flat, settled, start_playbook
from loops import RequestLoop

pytestmark = pytest.mark.e2e
STATE = "/var/lib/fragments-deploy/fragments"
LOCK = f"{STATE}/deploy.lock"


def image_vars(lab: Lab) -> dict:
    """deploy.yml's lab settings, with the tests' image instead of the released service."""
    return {"container_app_image": f"registry.lab:{lab.registry_port}/{APP_REPOSITORY}",
            "container_app_resolve_image": f"127.0.0.1:{lab.registry_port}/{APP_REPOSITORY}"}


def deploy(lab: Lab, tag: str, *args: str, **kwargs):
    extra = {**image_vars(lab), "deploy_digest": lab.manifest_digest(APP_REPOSITORY, tag)}
    return lab.play("deploy.yml", "-e", json.dumps(extra), *args, **kwargs)


def start_deploy(lab: Lab, tag: str, log: Path) -> subprocess.Popen:
    extra = {**image_vars(lab), "deploy_digest": lab.manifest_digest(APP_REPOSITORY, tag)}
    return start_playbook("deploy.yml", "-e", json.dumps(extra), inventories=lab.inventories, log=log)


def version(lab: Lab) -> str:
    return RequestLoop.ask(lab.app_urls()[0])


def wait_for(condition, what: str, timeout: float = 120):
    def holds() -> bool:
        try:
            return bool(condition())
        except (OSError, ValueError):  # not answering yet
            return False
    if not settled(holds, bool, timeout):
        raise AssertionError(f"gave up waiting {timeout:.0f} s for {what}")


def serving_digest(lab: Lab) -> str:
    return lab.on_host("docker inspect -f '{{index .Config.Labels \"fragments.deploy.digest\"}}' fragments")[1].strip()


def next_switch(lab: Lab, new: str | None = None) -> tuple[str, str]:
    """The version serving now and the one the next deploy switches to (`new`, else the
    other of v1 and v2): it is made absent from the host (so the deploy pulls it) and no
    deploy holds the lock. Tests chain: each starts from where the one before left the host."""
    try:
        old = version(lab)
    except OSError:  # nothing serves yet
        old = None
    if old is None or (new and serving_digest(lab) == lab.manifest_digest(APP_REPOSITORY, new)):
        run = deploy(lab, "v1")
        assert run.returncode == 0, run.output
        old = version(lab)
    new = new or ("v2" if old == "v1" else "v1")
    lab.forget_image(lab.manifest_digest(APP_REPOSITORY, new), "fragments-previous", "fragments-candidate")
    assert lab.on_host(f"test -e {LOCK}")[0] == 1
    return old, new


def app_container(lab: Lab) -> str:
    """The id of the app's container on the lab host; v1 deployed first if none runs yet (a
    test selected alone with `make e2e K=...`, on a lab that no earlier test deployed to)."""
    code, output = lab.on_host("docker inspect -f '{{.Id}}' fragments")
    if code != 0:
        run = deploy(lab, "v1")
        assert run.returncode == 0, run.output
        code, output = lab.on_host("docker inspect -f '{{.Id}}' fragments")
    assert code == 0, output
    return output


def containers(lab: Lab) -> set[str]:
    return set(lab.on_host("docker ps -a --format '{{.Names}}'")[1].split())


def test_registry_down_when_the_deploy_pulls(lab, app_images):
    """The digest is chosen (deploy_digest) with the registry up; it is down when the hosts
    pull, which they do in the same call that takes the lock."""
    old, new = next_switch(lab)
    registry = docker.from_env().containers.get(f"{lab.name}-registry")
    digest = lab.manifest_digest(APP_REPOSITORY, new)
    try:
        registry.stop(timeout=2)
        with RequestLoop(lab.app_urls()[0]) as loop:
            deploy_run = lab.play("deploy.yml", "-e", json.dumps({**image_vars(lab), "deploy_digest": digest}))
        output = flat(deploy_run.output)
        assert deploy_run.returncode != 0
        assert f"Could not pull registry.lab:{lab.registry_port}/{APP_REPOSITORY}@" in output
        assert "The running version was left as it was" in output
        assert loop.failures == [] and set(loop.versions) == {old}
        assert lab.on_host(f"test -e {LOCK}")[0] == 1, "the failed deploy gave its lock back"
    finally:
        registry.start()
    url = f"https://127.0.0.1:{lab.registry_port}/v2/"
    wait_for(lambda: requests.get(url, verify=str(lab.ca_file), timeout=2).status_code == 401,
             "the registry to answer again", timeout=30)
    again = deploy(lab, new)
    assert again.returncode == 0, again.output
    assert version(lab) == new


def test_new_container_killed_mid_rollout_then_a_rerun_converges(lab, app_images, tmp_path):
    """The new version (slow to start, so that it is still gated) is killed: refused, and the
    next run takes it up again from nothing left behind."""
    old, new = next_switch(lab, "slow")
    with RequestLoop(lab.app_urls()[0]) as loop:
        deploy_run = start_deploy(lab, new, tmp_path / "deploy.log")
        wait_for(lambda: "fragments-candidate" in containers(lab), "the candidate container")
        killed, output = lab.on_host("docker kill fragments-candidate")
        assert killed == 0, output
        deploy_run.wait(timeout=600)
    output = flat((tmp_path / "deploy.log").read_text())
    assert deploy_run.returncode != 0
    assert "did not become healthy" in output and "exited with code 137" in output
    assert "was left serving" in output
    assert loop.failures == [] and set(loop.versions) == {old}
    again = deploy(lab, new)
    assert again.returncode == 0, again.output
    assert version(lab) == "v2"  # slow is v2, slow to start
    assert "fragments-candidate" not in containers(lab)


def test_dockerd_restart_an_app_crash_and_a_reboot_heal_by_themselves(lab, app_images):
    """...and lose no fragment: 52 of every type posted before are read back the same after each."""
    serving, _ = next_switch(lab)
    kept = Corpus(*lab.app_credentials())
    kept.post(lab.app_urls()[0])
    started = "docker inspect -f '{{.Id}} {{.State.StartedAt}} {{.State.Running}}' fragments"
    before = lab.on_host(started)[1].split()
    with RequestLoop(lab.app_urls()[0]) as loop:
        code, output = lab.on_host("systemctl restart docker")
        assert code == 0, output
        wait_for(lambda: lab.on_host("docker info >/dev/null 2>&1")[0] == 0, "dockerd to answer", timeout=60)
        loop.settle(100)
    # docker_engine turns live-restore on: the same process serves through the daemon's
    # restart. Only while dockerd rewrites its NAT rules are a few connections refused
    # (10 to 20 requests at 20 ms measured here).
    assert lab.on_host(started)[1].split() == before
    assert len(loop.failures) < 100 and loop.versions.get(serving, 0) > 50, (loop.failures, loop.versions)
    print(f"dockerd restart: {len(loop.failures)} of {len(loop.failures) + sum(loop.versions.values())} "
          "requests failed; the container kept running")
    # The process dies (as by the OOM killer): the restart policy brings it back.
    with RequestLoop(lab.app_urls()[0]) as loop:
        code, output = lab.on_host("kill -9 $(docker inspect -f '{{.State.Pid}}' fragments)")
        assert code == 0, output
        wait_for(lambda: lab.on_host("docker inspect -f '{{.RestartCount}}' fragments")[1].strip() == "1",
                 "the restart policy to restart it", timeout=30)
        wait_for(lambda: version(lab) == serving, "the app to answer again", timeout=30)
    print(f"app killed: {len(loop.failures)} requests failed before the restart policy brought it back")
    assert kept.problems(lab.app_urls()[0]) == [], "fragments after a dockerd restart and an app crash"
    # The host reboots (EC2's RebootInstances): the app comes back by itself, its data with it.
    lab.reboot()
    wait_for(lambda: version(lab) == serving, "the app to answer after a reboot, with no deploy", timeout=60)
    assert kept.problems(lab.app_urls()[0]) == [], "fragments after a reboot"


def test_killed_playbook_leaves_a_lock_the_next_run_names(lab, app_images, tmp_path):
    """ansible-playbook killed while the new version (slow to start) is gated. The host's step
    is one process there: it goes on alone and ends either way, serving one version with no
    request dropped; the lock the dead run left refuses the next deploy until unlock.yml."""
    old, new = next_switch(lab, "slow")
    with RequestLoop(lab.app_urls()[0]) as loop:
        deploy_run = start_deploy(lab, new, tmp_path / "deploy.log")
        wait_for(lambda: "fragments-candidate" in containers(lab), "the candidate container")
        os.killpg(deploy_run.pid, signal.SIGKILL)
        deploy_run.wait(timeout=30)
        # The host's step ends by promoting the candidate or taking it away.
        wait_for(lambda: "fragments-candidate" not in containers(lab), "the host's step to end", timeout=90)
    assert loop.failures == []
    served = version(lab)
    print(f"killed run: the host's step ended serving {served} (it served {old} before)")
    refused = deploy(lab, new)
    assert refused.returncode != 0
    assert "Another deploy holds the lock on" in flat(refused.output)
    assert "ansible-playbook playbooks/unlock.yml" in flat(refused.output)
    assert version(lab) == served
    unlock = lab.play("unlock.yml")
    assert unlock.returncode == 0, unlock.output
    again = deploy(lab, new)
    assert again.returncode == 0, again.output
    assert version(lab) == "v2"
    assert "fragments-candidate" not in containers(lab)
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


def test_an_unreachable_host_stops_the_deploy_before_any_change(lab, app_images, tmp_path):
    old, new = next_switch(lab)
    ghost = tmp_path / "ghost.yml"
    ghost.write_text(json.dumps({"fragments_hosts": {"hosts": {"ghost-host": {
        "ansible_host": "127.0.0.1", "ansible_port": 1, "fragments_app_url": "http://127.0.0.1:1"}}}}))
    run = deploy(lab, new, inventories=[*lab.inventories, str(ghost)])
    assert run.returncode != 0
    assert "Could not reach ghost-host" in flat(run.output) and "nothing was changed" in flat(run.output)
    assert version(lab) == old
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


BAD_SETTINGS = [
    ({"deploy_batch_size": 0}, "deploy_batch_size is a number of hosts or a percentage"),
    ({"deploy_max_fail_percentage": 150}, "deploy_max_fail_percentage a whole number from 0 to 100"),
    ({"deploy_revert_on_failure": "maybe"}, "argument 'deploy_revert_on_failure' is of type str"),
    ({"deploy_digest": "sha256:abc"}, "deploy_digest must be sha256:<64 hex digits>"),
    ({"container_app_host_ports": [18080]}, "container_app_host_ports must be two or more different ports"),
]


def test_invalid_deploy_variables_are_refused_before_any_change(lab, app_images, tmp_path):
    """Each case through the plan, deploy.yml's first play on the control node, which runs
    before any host is locked; all cases in one playbook run (Lab.refusals)."""
    before = app_container(lab)
    cases = [{**image_vars(lab), "deploy_tag": "v2", **extra} for extra, _ in BAD_SETTINGS]
    said = lab.refusals("fragments.deploy.deploy", cases, tmp_path, tasks_from="plan")
    for (extra, message), refusal in zip(BAD_SETTINGS, said):
        assert message in refusal, (extra, refusal or "taken")
    assert app_container(lab) == before
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


@pytest.mark.parametrize(("origin", "refusal"), [
    ("ANSIBLE_STRATEGY", "not free: the batches, the stop rule and the refusals read every host's state between two "
                         "steps. To run it, unset ANSIBLE_STRATEGY or the strategy setting of ansible.cfg."),
    ("play keyword", "not host_pinned: the batches, the stop rule and the refusals read every host's state between "
                     "two steps. To run it, remove strategy: host_pinned from the play."),
])
def test_a_strategy_that_lets_hosts_run_ahead_is_refused_before_any_change(lab, app_images, tmp_path, origin, refusal):
    """The rollout reads every host's note between two steps: with ANSIBLE_STRATEGY=free a host
    would read the others' before they are taken (the deploy benchmark's free-strategy row failed
    so, at random, on 4 hosts). The play's own strategy keyword is refused the same way."""
    before = app_container(lab)
    extra = ["-e", json.dumps({**image_vars(lab), "deploy_tag": "v2"})]
    if origin == "ANSIBLE_STRATEGY":
        run = lab.play("deploy.yml", *extra, env={"ANSIBLE_STRATEGY": "free"})
    else:
        plays = yaml.safe_load((ROOT / "playbooks/deploy.yml").read_text())
        plays[-1]["strategy"] = "host_pinned"
        (tmp_path / "deploy.yml").write_text(yaml.safe_dump(plays))
        run = lab.play("deploy.yml", *extra, playbook_dir=tmp_path)
    assert run.returncode != 0
    assert refusal in flat(run.output), run.output[-2000:]
    assert app_container(lab) == before
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


@pytest.mark.parametrize(("inventory", "message"), [
    ("all:\n  hosts:\n    broken: [\n", "Completely failed to parse inventory source"),
    ('{"fragments_hosts": {"hosts": {"odd-port": {"ansible_host": "127.0.0.1", "ansible_port": "twenty-two"}}}}',
     "Could not reach odd-port"),
    ('{"all": {"hosts": {}}}', None),
])
def test_malformed_inventory_is_refused_before_any_change(lab, app_images, tmp_path, inventory, message):
    before = app_container(lab)
    extra = tmp_path / "extra.yml"
    extra.write_text(inventory)
    inventories = [*lab.inventories, str(extra)] if message else [str(extra)]
    run = lab.play("deploy.yml", "-e", json.dumps({**image_vars(lab), "deploy_tag": "v2"}),
                   inventories=inventories)
    assert run.returncode != 0
    assert (message or "The inventory has no host in the group fragments_hosts") in flat(run.output)
    assert app_container(lab) == before
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


def test_a_rerun_of_the_release_that_serves_says_so_and_ends_after_the_prepare(lab, app_images):
    """Every host runs the release already: the prepare call gives the lock back, the role says
    what runs and ends there (no batch, no lock task), and the same container serves on."""
    serving, _ = next_switch(lab)
    # The host may serve another image that answers the same version (after the lock test, the
    # slow image answers v2, not v2's own digest): this run settles it, the next is the re-run.
    settle = deploy(lab, serving)
    assert settle.returncode == 0, settle.output
    before = app_container(lab)
    run = deploy(lab, serving)
    assert run.returncode == 0, run.output
    [host] = lab.hosts()
    output = flat(run.output)
    assert f"runs on {host['name']}; changed on 0 of 1." in output
    assert "End the rollout there" in output
    assert "Change the hosts a batch at a time" not in output and "Give the deploy lock back" not in output
    assert app_container(lab) == before and version(lab) == serving
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


def test_a_stopped_proxy_is_named_and_started_again(lab, app_images):
    serving, _ = next_switch(lab)
    code, output = lab.on_host("systemctl stop nginx")
    assert code == 0, output
    with pytest.raises(OSError):
        version(lab)
    run = lab.play("deploy.yml", "-e", json.dumps({**image_vars(lab),
                                                   "deploy_digest": lab.manifest_digest(APP_REPOSITORY, serving)}))
    assert run.returncode == 0, run.output
    [host] = lab.hosts()
    assert f"nginx was not running on {host['name']}; starting it again" in flat(run.output)
    assert version(lab) == serving


def test_a_host_that_fails_in_the_docker_step_gets_its_lock_back(lab, app_images):
    """A broken apt source on the host and Docker's own repository asked for (docker-ce, not
    installed, so apt must read its sources): Docker's converge fails there. The host is named
    with the error, its lock is given back, the app serves on."""
    serving, new = next_switch(lab)
    # An index older than the role's hour, so that it refreshes it and meets the broken source.
    # (Docker's converge stamp needs no change: the other source is another fingerprint, and a
    # converge that fails writes none.)
    lab.on_host("rm -f /var/lib/apt/periodic/update-success-stamp;"
                " echo 'deb [broken' > /etc/apt/sources.list.d/broken.list; touch -d '3 hours ago' /var/lib/apt/lists")
    try:
        with RequestLoop(lab.app_urls()[0]) as loop:
            run = deploy(lab, new, "-e", "docker_engine_source=docker")
        assert run.returncode != 0
        [host] = lab.hosts()
        output = flat(run.output)
        assert f"Failed: {host['name']} (Install the tools that fetch Docker's signing key" in output
        assert "broken.list" in output
        assert loop.failures == [] and set(loop.versions) == {serving}
        assert lab.on_host(f"test -e {LOCK}")[0] == 1, "the failed host's lock was given back"
    finally:
        lab.on_host("rm -f /etc/apt/sources.list.d/broken.list")


def test_a_version_whose_storage_is_out_of_reach_is_refused_naming_the_bucket(lab, app_images):
    """The new container's bucket does not exist: its health path answers 503 naming it, the
    gate refuses it with the app's own words, and the running version serves on."""
    serving, new = next_switch(lab)
    storage = {"AWS_REGION": "us-east-1", "AWS_S3_BUCKET_NAME": "fragments-lab-missing",
               "AWS_DYNAMODB_TABLE_NAME": "fragments-lab-fragments", "AWS_S3_ENDPOINT_URL": "{{ lab_data_url }}",
               "AWS_DYNAMODB_ENDPOINT_URL": "{{ lab_data_url }}",
               "AWS_SHARED_CREDENTIALS_FILE": "/run/secrets/aws-credentials"}
    with RequestLoop(lab.app_urls()[0]) as loop:
        run = deploy(lab, new, "-e", json.dumps({"fragments_storage_env": storage, "container_app_health_timeout": 5}))
    assert run.returncode != 0
    output = flat(run.output)
    assert "did not become healthy (GET / answered 503: storage not ready: S3 bucket fragments-lab-missing" in output
    assert "was left serving" in output
    assert loop.failures == [] and set(loop.versions) == {serving}
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


def test_plain_http_to_a_public_address_is_refused_unless_allowed(lab, app_images, tmp_path):
    """A host whose app address is plain HTTP on the internet: users' passwords would cross it
    unencrypted. Refused before any lock; deployed when the user says so. (Nothing connects
    to that address: deploy.yml never asks the app through it.)"""
    serving, _ = next_switch(lab)
    public = tmp_path / "public.yml"
    # A host variable: group variables of an inventory file rank below the lab's group_vars/all.
    [host] = lab.hosts()
    public.write_text(json.dumps({"all": {"hosts": {host["name"]: {"deploy_app_url": "http://52.0.0.10"}}}}))
    extra = {**image_vars(lab), "deploy_digest": lab.manifest_digest(APP_REPOSITORY, serving)}
    refused = lab.play("deploy.yml", "-e", json.dumps(extra), inventories=[*lab.inventories, str(public)])
    assert refused.returncode != 0
    assert "http://52.0.0.10: plain HTTP to a public address" in flat(refused.output)
    assert "set deploy_plain_http_allowed to true. Nothing was changed." in flat(refused.output)
    assert lab.on_host(f"test -e {LOCK}")[0] == 1
    allowed = lab.play("deploy.yml", "-e", json.dumps({**extra, "deploy_plain_http_allowed": True}),
                       inventories=[*lab.inventories, str(public)])
    assert allowed.returncode == 0, allowed.output
    assert version(lab) == serving
