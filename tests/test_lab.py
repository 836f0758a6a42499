"""End to end: the lab comes up with its parts and refuses anything but loopback. (site.yml
on the lab, and the lab taken down: test_fleet.py.)"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import docker
import pytest

from lab import ROOT, Lab, ansible_playbook

pytestmark = pytest.mark.e2e
LABEL = "fragments.lab"


def _get(url: str, *, cafile: str | None = None, auth: tuple[str, str] | None = None):
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize(
    ("env", "extra", "message"),
    [
        ({"AWS_ENDPOINT_URL": "https://ec2.us-east-1.amazonaws.com"}, "", "unset AWS_ENDPOINT_URL"),
        ({}, "lab_bind_address=0.0.0.0", "127.x address"),
    ],
)
def test_lab_refuses_anything_but_loopback(env, extra, message):
    refused = Lab(name="fragments-e2e-refused")
    run = ansible_playbook("lab_up.yml", *refused.extra_vars, "-e", extra or "lab_name=fragments-e2e-refused", env=env)
    assert run.returncode != 0
    assert message in run.output
    assert not refused.state_dir.exists()
    client = docker.from_env()
    assert [c.name for c in client.containers.list(all=True) if c.name.startswith(refused.name)] == []


def test_lab_parts_carry_the_lab_label(lab):
    client = docker.from_env()
    [host] = lab.hosts()
    labelled = {c.name for c in client.containers.list(all=True, filters={"label": f"{LABEL}={lab.name}"})}
    assert labelled == {f"{lab.name}-registry", host["container"]}
    volumes = {v.name for v in client.volumes.list(filters={"label": f"{LABEL}={lab.name}"})}
    assert volumes == {f"{lab.name}-registry-data", f"{host['container']}-docker"}


def test_a_lab_host_keeps_its_ports_when_started_again(lab):
    """The ports are fixed when the lab host is made, not left to Docker at each start: a
    host started again by hand, or by a restarted dockerd, is where its instance says."""
    [host] = lab.hosts()
    bindings = docker.from_env().containers.get(host["container"]).attrs["HostConfig"]["PortBindings"]
    assert bindings["22/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(host["ansible_port"])}]
    assert [binding["HostPort"] for binding in bindings["80/tcp"]] == [host["fragments_app_url"].rsplit(":", 1)[1]]


def test_lab_up_again_changes_nothing(lab):
    run = lab.up()
    assert run.returncode == 0, run.output
    assert run.changed == 0, run.output
    # The app's users in the form Apache's `htpasswd -B` writes, which every reader takes.
    user, _ = lab.app_credentials()
    assert (lab.state_dir / "app-htpasswd").read_text().startswith(f"{user}:$2y$")


def test_registry_speaks_tls_and_wants_the_password(lab):
    cafile = str(lab.ca_file)
    url = f"https://127.0.0.1:{lab.registry_port}/v2/"
    assert _get(url, cafile=cafile)[0] == 401
    password = (lab.state_dir / "registry-password").read_text().strip()
    assert _get(url, cafile=cafile, auth=("fragments", "wrong" + password))[0] == 401
    assert _get(url, cafile=cafile, auth=("fragments", password))[0] == 200
    assert (lab.state_dir / "registry-password").stat().st_mode & 0o077 == 0


def test_an_unknown_lab_image_tag_is_refused_before_an_instance_exists(lab):
    """An instance's lab:image tag picks its lab host's image among the lab's (test_fleet's
    later hosts start from `docker`); a name the lab does not have is an AWS error."""
    ec2 = lab.aws("ec2")
    [image, *_] = ec2.describe_images(Owners=["amazon"])["Images"]
    tagged = [{"ResourceType": "instance", "Tags": [{"Key": "lab:image", "Value": "windows"}]}]
    refused = "lab:image 'windows' is not one of the lab's images: bare, docker"
    with pytest.raises(botocore.exceptions.ClientError, match=refused):
        ec2.run_instances(ImageId=image["ImageId"], MinCount=1, MaxCount=1, TagSpecifications=tagged)
    assert ec2.describe_instances(Filters=[{"Name": "tag:lab:image", "Values": ["windows"]}])["Reservations"] == []


def test_moto_is_the_aws_endpoint(lab):
    ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{lab.moto_port}", region_name="us-east-1",
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    assert any(r["RegionName"] == "us-east-1" for r in ec2.describe_regions()["Regions"])
    env = (lab.state_dir / "env.sh").read_text()
    assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{lab.moto_port}" in env


LAB_FILES = ROOT / "roles" / "lab" / "files"


def _lab_cloud(*args: str, code: str = "") -> subprocess.CompletedProcess:
    """lab_cloud.py run as the lab starts it (its arguments), or `code` run beside it."""
    command = [sys.executable, "-c", code] if code else [sys.executable, str(LAB_FILES / "lab_cloud.py"), *args]
    return subprocess.run(command, cwd=LAB_FILES, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(LAB_FILES)})


def test_a_cloud_started_again_removes_the_stand_ins_of_the_earlier_one():
    """moto forgets everything when it stops: the lab hosts and load balancers of its earlier
    life go with it, not the registry and nothing of another lab."""
    client = docker.from_env()
    lab, other = "fragments-e2e-earlier", "fragments-e2e-other"
    config = {"lab_name": lab, "label": LABEL, "instance_label": f"{LABEL}.instance"}

    def stand_in(name: str, labels: dict[str, str]) -> None:
        client.containers.run("fragments-base/debian:bookworm", ["sleep", "600"], name=name, labels=labels,
                              detach=True)

    host_labels = {LABEL: lab, f"{LABEL}.instance": "i-0123"}
    kept = [f"{lab}-registry", f"{other}-i-0456", f"{other}-lb-web"]
    try:
        stand_in(f"{lab}-i-0123", host_labels)
        client.volumes.create(f"{lab}-i-0123-docker", labels=host_labels)
        stand_in(f"{lab}-lb-web", {LABEL: lab})
        stand_in(kept[0], {LABEL: lab})
        stand_in(kept[1], {LABEL: other, f"{LABEL}.instance": "i-0456"})
        stand_in(kept[2], {LABEL: other})
        run = _lab_cloud(code=f"import lab_cloud; print(sorted(lab_cloud.remove_earlier_cloud({config!r})))")
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == str(sorted([f"{lab}-i-0123", f"{lab}-i-0123-docker", f"{lab}-lb-web"]))
        left = {c.name for c in client.containers.list(all=True) if c.name.startswith((lab, other))}
        assert left == set(kept)
        assert not client.volumes.list(filters={"label": f"{LABEL}={lab}"})
    finally:
        for name in [f"{lab}-i-0123", f"{lab}-lb-web", *kept]:
            try:
                client.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        for volume in client.volumes.list(filters={"label": f"{LABEL}={lab}"}):
            volume.remove(force=True)


def test_a_load_balancer_whose_ports_are_taken_starts_on_free_ones(lab):
    """The lab's first load balancer publishes on the lab's own ports; where another process holds
    one, its stand-in starts on free ports instead, and chooses again when a port it chose is
    taken before Docker binds it (as the lab hosts do)."""
    client, name = docker.from_env(), "fragments-e2e-lbports"
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        settings = {"lab_name": name, "label": LABEL, "network": "bridge", "bind_address": "127.0.0.1",
                    "lb_image": "fragments-lab/lb:haproxy", "lb_ports": {"80": taken}}
        # The first three free ports chosen are the taken one too (two in the attempt on the lab's
        # ports, which fixes only 80, and the first in the attempt on free ones): it must choose again.
        code = (f"import types, lab_lb\n"
                f"real, picks = lab_lb.free_port, iter([{taken}] * 3)\n"
                f"lab_lb.free_port = lambda address: next(picks, None) or real(address)\n"
                f"balancers = lab_lb.LabLoadBalancers({settings!r})\n"
                f"balancers.boot(types.SimpleNamespace(name='web', arn='arn:web'))\n"
                f"print(balancers.published['arn:web'][80], balancers.stats_ports['arn:web'])")
        try:
            run = _lab_cloud(code=code)
            assert run.returncode == 0, run.stderr
            published, stats = (int(port) for port in run.stdout.split())
            assert taken not in (published, stats)
            container = client.containers.get(f"{name}-lb-web")
            assert container.status == "running"
            assert container.attrs["HostConfig"]["PortBindings"]["80/tcp"] == [
                {"HostIp": "127.0.0.1", "HostPort": str(published)}]
        finally:
            try:
                client.containers.get(f"{name}-lb-web").remove(force=True)
            except docker.errors.NotFound:
                pass


def test_a_cloud_refuses_a_taken_port_before_it_removes_anything(lab, tmp_path):
    """A second cloud on the lab's port (the first one slow to answer) must not take the
    first one's hosts for an earlier life's: it stops at once and the host still runs."""
    config = tmp_path / "cloud.json"
    config.write_text(json.dumps({"lab_name": lab.name, "label": LABEL, "instance_label": f"{LABEL}.instance",
                                  "bind_address": "127.0.0.1", "keys_address": "172.16.0.1"}))
    run = _lab_cloud("--config", str(config), "-H", "127.0.0.1", "-p", str(lab.moto_port))
    assert run.returncode != 0
    assert f"127.0.0.1:{lab.moto_port} is taken" in run.stderr
    [host] = lab.hosts()
    assert docker.from_env().containers.get(host["container"]).status == "running"
