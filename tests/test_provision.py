"""End to end: EC2 hosts through moto's server, each bound to a lab host that SSH reaches.

A lab of its own, so that scaling and teardown cannot touch the other tests' hosts. The
refusals before anything is made are tests/test_provision_refusals.py's, on a lab of their own.
The role's idempotence is Molecule's (scenario `ec2_hosts`); the whole job's, site.yml run
again, is tests/test_fleet.py's, and so are scaling up and down with the lab hosts in step and
the teardown (refused unconfirmed, deleting only ours, a second one changing nothing), on the
fleet's lab, which has both already."""

from __future__ import annotations

import json

import pytest

from lab import OURS, ROOT, our_instances, ours, own_lab

pytestmark = pytest.mark.e2e
NETWORK_STEP = "TASK [fragments.deploy.ec2_hosts : Create the VPC]"
LOOKUP_STEP = "TASK [fragments.deploy.ec2_hosts : Check that the region offers the instance type]"


@pytest.fixture(scope="module")
def ec2_lab():
    with own_lab(name="fragments-e2e-ec2", registry_port=15463, moto_port=15520) as lab:
        yield lab


@pytest.fixture(scope="module")
def ec2(ec2_lab):
    return ec2_lab.aws("ec2")


def test_create_one_host_that_ssh_reaches(ec2_lab, ec2):
    run = ec2_lab.provision(1)
    assert run.returncode == 0, run.output
    # The lookups ran once, before anything was made, and the network step once: each step
    # after them went on from them.
    assert run.output.count(LOOKUP_STEP) == 1, run.output
    assert run.output.count(NETWORK_STEP) == 1, run.output
    [instance] = our_instances(ec2)
    assert instance["State"]["Name"] == "running"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["Name"] == ec2_lab.name and tags["fragments-deploy:ssh-user"] == "ec2-user"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    # The app reaches the instance role from its container, one hop behind the host.
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2 and instance["IamInstanceProfile"]["Arn"]
    image = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"][0]
    assert image["Name"].startswith("al2023-ami-2023.") and image["Architecture"] == "x86_64"
    [root] = [m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"]]
    volume = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["Encrypted"] and volume["VolumeType"] == "gp3"
    [group] = ec2.describe_security_groups(Filters=OURS)["SecurityGroups"]
    ssh = [p for p in group["IpPermissions"] if p.get("FromPort") == 22]
    assert [r["CidrIp"] for p in ssh for r in p["IpRanges"]] == ["127.0.0.1/32"]
    assert instance["KeyName"] == "fragments-lab"
    built = ours(ec2)
    assert all(len(built[kind]) == 1 for kind in built), built
    # The inventory finds it, through its lab host, and SSH answered in the playbook's last play.
    [host] = ec2_lab.hosts()
    assert host["instance_id"] == instance["InstanceId"]
    assert host["name"] == f"{ec2_lab.name}-{instance['InstanceId']}"
    assert ec2_lab.host_states() == {instance["InstanceId"]: "running"}
    assert run.recap[host["name"]]["failed"] == 0


def test_a_data_tier_that_fails_leaves_the_instances_as_they_are(ec2_lab, ec2):
    """The instances wait for the data tier, made beside the network: here AWS refuses its tags."""
    before = [i["InstanceId"] for i in our_instances(ec2)]
    run = ec2_lab.provision(2, data_tier_tags={"aws:reserved": "no"})
    assert run.returncode != 0
    assert "The data tier failed (above)" in run.output, run.output
    assert "no instance was created, started or stopped." in " ".join(run.output.split())
    assert [i["InstanceId"] for i in our_instances(ec2)] == before


def test_main_makes_the_network_again_when_its_settings_differ_from_the_network_step_s(ec2_lab, ec2):
    """Entry point network then main in one play run, as provision.yml runs them, but with other
    app ports in the first: main makes the network step again, so the security group ends as
    main's settings say. (With the same settings main goes on from it: every provision.yml run,
    test_create_one_host_that_ssh_reaches.)"""
    run = ec2_lab.play("ec2_network_then_main.yml", "-e", json.dumps({"network_app_ports": [8081], "ec2_hosts_count": 1}),
                       playbook_dir=ROOT / "tests/playbooks")
    assert run.returncode == 0, run.output
    assert run.output.count(NETWORK_STEP) == 2, run.output
    [group] = ec2.describe_security_groups(Filters=OURS)["SecurityGroups"]
    assert sorted(p["FromPort"] for p in group["IpPermissions"] if p.get("FromPort") != 22) == [80]


def test_check_mode_creates_nothing(ec2_lab, ec2):
    before = ours(ec2)
    run = ec2_lab.provision(3, "--check")
    assert run.returncode == 0, run.output
    assert ours(ec2) == before
    assert len(ec2_lab.host_states()) == 1


def test_stop_then_start(ec2_lab, ec2):
    """The same instance stops and starts again, its lab host with it."""
    [instance] = [i["InstanceId"] for i in our_instances(ec2)]
    stop = ec2_lab.play("provision.yml", "-e", '{"ec2_hosts_state": "stopped"}')
    assert stop.returncode == 0, stop.output
    assert {i["State"]["Name"] for i in our_instances(ec2)} == {"stopped"}
    assert set(ec2_lab.host_states().values()) == {"exited"}
    assert ec2_lab.hosts() == []

    start = ec2_lab.provision(1)
    assert start.returncode == 0, start.output
    assert [(i["InstanceId"], i["State"]["Name"]) for i in our_instances(ec2)] == [(instance, "running")]
    assert ec2_lab.host_states() == {instance: "running"}
    [host] = ec2_lab.hosts()
    assert start.recap[host["name"]]["ok"] == 1
