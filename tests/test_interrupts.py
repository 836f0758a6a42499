"""The host's step of a change (fragments.deploy.app_deploy) killed at each of its points,
through the module's fault seam, under a 20 ms request loop: the host answers at once from a
healthy version and the next deploy converges with nothing left behind; after the last one, a
reboot finds the app answering again with no deploy. The lab and its helpers are test_faults.py's."""

from __future__ import annotations

import re

import pytest

from ansible_collections.fragments.deploy.plugins.module_utils.app_deployer import FAULT_FILE, FAULT_STEPS
from lab import Lab
from loops import RequestLoop
from test_faults import LOCK, STATE, containers, deploy, next_switch, version, wait_for

pytestmark = pytest.mark.e2e


def serving_state(lab: Lab) -> dict:
    """What a converged host shows: its containers, the port nginx's upstream file names, the
    upstream nginx as loaded uses, the app's port and its restart policy."""
    upstream = lab.on_host("cat /etc/nginx/fragments-deploy/fragments.upstream.conf")[1]
    app = lab.on_host("docker inspect -f '{{index .Config.Labels \"fragments.deploy.port\"}} "
                      "{{.HostConfig.RestartPolicy.Name}}' fragments")[1].split()
    # Where nginx, as loaded, sends a request: the upstream it names to a probe from the host.
    loaded = lab.on_host(
        "python3 -c \"import urllib.request as u; print(u.urlopen(u.Request('http://127.0.0.1/', headers="
        "{'X-Fragments-Deploy-Probe': '1'})).headers['X-Fragments-Deploy-Upstream'])\"")[1].strip()
    return {"containers": sorted(containers(lab)), "upstream": re.search(r"server 127\.0\.0\.1:(\d+)", upstream)[1],
            "loaded": loaded, "port": app[0], "restart": app[1]}


@pytest.mark.parametrize("step", FAULT_STEPS)
def test_a_change_killed_at_each_step_keeps_serving_and_the_next_run_converges(lab, app_images, step):
    """The host's process (app_deploy) dies at `step` of a change (the module's fault seam): the
    host answers 200 from a healthy version at once; the next deploy converges with nothing
    left behind, the same state whatever the step (so one reboot, below, covers them all)."""
    old, new = next_switch(lab)
    url = lab.app_urls()[0]
    lab.on_host(f"echo {step} > {STATE}/{FAULT_FILE}")
    with RequestLoop(url) as loop:
        killed = deploy(lab, new)
        assert killed.returncode != 0 and "Module result deserialization failed" in killed.output, killed.output
        assert lab.on_host(f"test -e {STATE}/{FAULT_FILE}")[0] == 1, "the seam fired, once"
        right_after = version(lab)
        loop.settle()
        again = deploy(lab, new)
        assert again.returncode == 0, again.output
        loop.settle()
    print(f"killed at {step}: served {right_after} at once; {len(loop.failures)} of "
          f"{len(loop.failures) + sum(loop.versions.values())} requests failed across the kill and the recovery")
    assert loop.failures == [], (step, loop.failures[:5])
    assert right_after in (old, new)
    assert version(lab) == new
    state = serving_state(lab)
    assert state["containers"] == ["fragments", "fragments-previous"], state
    assert state["upstream"] == state["port"] and state["restart"] == "unless-stopped", state
    assert state["loaded"] == f"127.0.0.1:{state['port']}", state
    assert lab.on_host(f"test -e {LOCK}")[0] == 1


def test_after_the_interrupted_changes_a_reboot_serves_with_no_deploy(lab):
    """The host as the converging deploys above left it (the same state after every step)
    comes back from a reboot serving the same version, with no deploy."""
    before = version(lab)
    lab.reboot()
    wait_for(lambda: version(lab) == before, "the app to answer after a reboot, with no deploy", timeout=60)
    assert serving_state(lab)["restart"] == "unless-stopped"
