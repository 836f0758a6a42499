"""End to end: EC2 hosts through moto's server, each bound to a lab host that SSH reaches.

A lab of its own, so that scaling and teardown cannot touch the other tests' hosts.
The role's idempotence is Molecule's (scenario `ec2_hosts`); the whole job's, site.yml run
again, is tests/test_fleet.py's, and so are scaling up and down with the lab hosts in step and
the teardown (refused unconfirmed, deleting only ours, a second one changing nothing), on the
fleet's lab, which has both already."""

from __future__ import annotations

import json

import boto3
import pytest

from lab import LIVE_INSTANCES, ROOT, Lab

pytestmark = pytest.mark.e2e
OURS = [{"Name": "tag:Project", "Values": ["fragments"]}, {"Name": "tag:Environment", "Values": ["lab"]},
        {"Name": "tag:ManagedBy", "Values": ["fragments-deploy"]}]
NETWORK_STEP = "TASK [fragments.deploy.ec2_hosts : Create the VPC]"
KEY_PAIR_STEP = "TASK [fragments.deploy.ec2_hosts : Import the public key as the instances' key pair]"


@pytest.fixture(scope="module")
def ec2_lab():
    lab = Lab(name="fragments-e2e-ec2", registry_port=15463, moto_port=15520)
    lab.down()
    run = lab.up()
    assert run.returncode == 0, run.output
    yield lab
    lab.down()


@pytest.fixture(scope="module")
def ec2(ec2_lab):
    return boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{ec2_lab.moto_port}", region_name="us-east-1",
                        aws_access_key_id="lab", aws_secret_access_key="lab")


def instances(ec2, filters=OURS, states=LIVE_INSTANCES):
    reservations = ec2.describe_instances(Filters=[*filters, states])["Reservations"]
    return sorted((i for r in reservations for i in r["Instances"]), key=lambda i: i["LaunchTime"])


def ours(ec2) -> dict[str, list]:
    """Everything in moto that carries all our tags."""
    return {
        "instances": [i["InstanceId"] for i in instances(ec2)],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=OURS)["SecurityGroups"]],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs(Filters=OURS)["KeyPairs"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=OURS)["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=OURS)["Subnets"]],
        "gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=OURS)["InternetGateways"]],
        "route_tables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=OURS)["RouteTables"]],
    }


BAD_INPUTS = [
    ({"ec2_hosts_ami_family": "windows-2025"}, "value of ec2_hosts_ami_family must be one of: amazon-linux-2023"),
    ({"ec2_hosts_admin_cidrs": []}, "ec2_hosts_admin_cidrs is empty"),
    ({"ec2_hosts_admin_cidrs": ["0.0.0.0/0"]}, "'0.0.0.0/0' opens to every address"),
    ({"ec2_hosts_admin_cidrs": ["203.0.113.7"]}, "needs a prefix length"),
    ({"ec2_hosts_instance_type": "t3.gigantic"}, "instance type(s) t3.gigantic do not exist in region us-east-1"),
    ({"ec2_hosts_count": -1}, "ec2_hosts_count must be a whole number, 0 or more, not -1"),
    ({"ec2_hosts_ami_family": "debian-12"}, "No debian-12 image for x86_64 in us-east-1"),
    ({"ec2_hosts_vpc_id": "vpc-0123abcd"}, "set ec2_hosts_subnet_id"),
    # The lab gives the load balancer its certificate files; these cases take them away where they must.
    ({"ec2_hosts_load_balancer": True, "ec2_hosts_lb_certificate_arn": "arn:aws:iam::123456789012:server-certificate/web",
      "ec2_hosts_lb_certificate_file": "", "ec2_hosts_lb_certificate_key_file": ""},
     "ec2_hosts_lb_certificate_arn must be an ACM certificate ARN"),
    ({"ec2_hosts_load_balancer": True, "ec2_hosts_lb_health_timeout": 5, "ec2_hosts_lb_health_interval": 5},
     "waits ec2_hosts_lb_health_timeout (2 or more, less than the interval), not 5 and 5"),
    ({"ec2_hosts_load_balancer": True, "ec2_hosts_lb_health_path": "health"},
     "ec2_hosts_lb_health_path must start with a slash, not health"),
    ({"ec2_hosts_load_balancer": True, "ec2_hosts_vpc_id": "vpc-0123abcd", "ec2_hosts_subnet_id": "subnet-0123abcd"},
     "a load balancer needs two subnets in different zones"),
    ({"ec2_hosts_load_balancer": True, "ec2_hosts_lb_certificate_file": "", "ec2_hosts_lb_certificate_key_file": ""},
     "a load balancer without a certificate would carry every password in clear"),
    ({"ec2_hosts_load_balancer": True, "ec2_hosts_lb_certificate_file": "/nonexistent/lb.pem",
      "ec2_hosts_lb_certificate_key_file": "/nonexistent/lb.key"},
     "the certificate file /nonexistent/lb.pem does not exist on the control node; the certificate file "
     "/nonexistent/lb.key does not exist"),
    ({"ec2_hosts_load_balancer": True, "ec2_hosts_lb_certificate_file": "/nonexistent/lb.pem",
      "ec2_hosts_lb_certificate_key_file": ""},
     "give ec2_hosts_lb_certificate_file and ec2_hosts_lb_certificate_key_file together"),
]


def test_bad_input_is_refused_before_anything_is_created(ec2_lab, ec2, tmp_path):
    """Each case in a play of its own, all in one playbook run (Lab.refusals)."""
    said = ec2_lab.refusals("fragments.deploy.ec2_hosts", [overrides for overrides, _ in BAD_INPUTS], tmp_path)
    for (overrides, message), refusal in zip(BAD_INPUTS, said):
        assert message in refusal, (overrides, refusal or "taken")
    assert ours(ec2) == {kind: [] for kind in ours(ec2)}
    assert ec2_lab.host_states() == {}


@pytest.mark.parametrize("overrides, message", [
    ({"data_tier_table": "no"}, "data_tier_table must be a DynamoDB table name"),
    ({"ec2_hosts_admin_cidrs": []}, "ec2_hosts_admin_cidrs is empty"),
])
def test_provision_checks_both_roles_before_it_makes_either(ec2_lab, ec2, overrides, message):
    """The data tier and the network are made side by side: a bad setting of either stops both."""
    run = ec2_lab.provision(1, **overrides)
    assert run.returncode != 0 and message in run.output, run.output
    assert ours(ec2) == {kind: [] for kind in ours(ec2)}
    assert ec2_lab.aws("dynamodb").list_tables()["TableNames"] == []
    assert ec2_lab.aws("s3").list_buckets()["Buckets"] == []


def test_a_load_balancer_in_subnets_of_one_zone_is_refused_before_anything_is_created(ec2_lab, ec2):
    """Someone else's VPC whose two subnets share a zone: an ALB needs two zones."""
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{n}.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
               for n in (1, 2)]
    try:
        run = ec2_lab.play("provision.yml", "-e", json.dumps({
            "ec2_hosts_load_balancer": True, "ec2_hosts_vpc_id": vpc, "ec2_hosts_subnet_id": subnets[0],
            "ec2_hosts_lb_subnet_ids": [subnets[1]]}))
        assert run.returncode != 0
        assert "A load balancer needs subnets in two availability zones" in run.output
        assert "are in us-east-1a;" in " ".join(run.output.split())
        assert ours(ec2) == {kind: [] for kind in ours(ec2)}
        assert ec2_lab.host_states() == {}
    finally:
        for subnet in subnets:
            ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc)


def test_create_one_host_that_ssh_reaches(ec2_lab, ec2):
    run = ec2_lab.provision(1)
    assert run.returncode == 0, run.output
    # The network and key pair steps ran once, the key pair's on the data tier's host: the
    # instances step on localhost went on from both.
    assert run.output.count(NETWORK_STEP) == 1, run.output
    assert run.output.count(KEY_PAIR_STEP) == 1, run.output
    assert "ok: [fragments-data-tier -> localhost]" in run.output, run.output
    [instance] = instances(ec2)
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
    before = [i["InstanceId"] for i in instances(ec2)]
    run = ec2_lab.provision(2, data_tier_tags={"aws:reserved": "no"})
    assert run.returncode != 0
    assert "The data tier failed (above)" in run.output, run.output
    assert "no instance was created, started or stopped." in " ".join(run.output.split())
    assert [i["InstanceId"] for i in instances(ec2)] == before


def test_main_makes_the_network_and_key_pair_again_when_their_settings_differ_from_the_first_steps(ec2_lab, ec2):
    """Entry points network and key_pair then main in one play run, as provision.yml runs them,
    but with other app ports and key pair tags in the first two: main makes both again, so the
    security group and the key pair end as main's settings say. (With the same settings main goes
    on from them: every provision.yml run, test_create_one_host_that_ssh_reaches.)"""
    run = ec2_lab.play("ec2_network_then_main.yml", "-e", json.dumps({
        "network_app_ports": [8081], "key_pair_tags": {"Step": "key_pair"}, "ec2_hosts_count": 1}),
        playbook_dir=ROOT / "tests/playbooks")
    assert run.returncode == 0, run.output
    assert run.output.count(NETWORK_STEP) == 2, run.output
    assert run.output.count(KEY_PAIR_STEP) == 2, run.output
    [group] = ec2.describe_security_groups(Filters=OURS)["SecurityGroups"]
    assert sorted(p["FromPort"] for p in group["IpPermissions"] if p.get("FromPort") != 22) == [80]
    [key] = ec2.describe_key_pairs(KeyNames=["fragments-lab"])["KeyPairs"]
    tags = {tag["Key"]: tag["Value"] for tag in key.get("Tags", [])}
    assert tags["ManagedBy"] == "fragments-deploy" and "Step" not in tags, key


def test_check_mode_creates_nothing(ec2_lab, ec2):
    before = ours(ec2)
    run = ec2_lab.provision(3, "--check")
    assert run.returncode == 0, run.output
    assert ours(ec2) == before
    assert len(ec2_lab.host_states()) == 1


def test_stop_then_start(ec2_lab, ec2):
    """The same instance stops and starts again, its lab host with it."""
    [instance] = [i["InstanceId"] for i in instances(ec2)]
    stop = ec2_lab.play("provision.yml", "-e", '{"ec2_hosts_state": "stopped"}')
    assert stop.returncode == 0, stop.output
    assert {i["State"]["Name"] for i in instances(ec2)} == {"stopped"}
    assert set(ec2_lab.host_states().values()) == {"exited"}
    assert ec2_lab.hosts() == []

    start = ec2_lab.provision(1)
    assert start.returncode == 0, start.output
    assert [(i["InstanceId"], i["State"]["Name"]) for i in instances(ec2)] == [(instance, "running")]
    assert ec2_lab.host_states() == {instance: "running"}
    [host] = ec2_lab.hosts()
    assert start.recap[host["name"]]["ok"] == 1
