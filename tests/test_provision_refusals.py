"""End to end: provision refuses bad settings before it makes anything, on a lab of its own
whose cloud holds nothing of ours (the other test worker runs these, beside tests/test_fleet.py
and tests/test_provision.py, whose labs the first one brings up)."""

from __future__ import annotations

import json

import pytest

from lab import assert_nothing_of_ours, own_lab

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def refusals_lab():
    with own_lab(name="fragments-e2e-refusals", registry_port=15493, moto_port=15550) as lab:
        yield lab


@pytest.fixture(scope="module")
def ec2(refusals_lab):
    return refusals_lab.aws("ec2")


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


def test_bad_input_is_refused_before_anything_is_created(refusals_lab, ec2, tmp_path):
    """Each case in a play of its own, all in one playbook run (Lab.refusals)."""
    said = refusals_lab.refusals("fragments.deploy.ec2_hosts", [overrides for overrides, _ in BAD_INPUTS], tmp_path)
    for (overrides, message), refusal in zip(BAD_INPUTS, said):
        assert message in refusal, (overrides, refusal or "taken")
    assert_nothing_of_ours(ec2)
    assert refusals_lab.host_states() == {}


@pytest.mark.parametrize("overrides, message", [
    ({"data_tier_table": "no"}, "data_tier_table must be a DynamoDB table name"),
    ({"ec2_hosts_admin_cidrs": []}, "ec2_hosts_admin_cidrs is empty"),
    # Known only from AWS: looked up before the data tier is made too.
    ({"ec2_hosts_instance_type": "t3.gigantic"}, "instance type(s) t3.gigantic do not exist in region us-east-1"),
])
def test_provision_checks_both_roles_before_it_makes_either(refusals_lab, ec2, overrides, message):
    """The data tier and the network are made side by side: a bad setting of either stops both,
    and so does an instance type the region lacks."""
    run = refusals_lab.provision(1, **overrides)
    assert run.returncode != 0 and message in run.output, run.output
    assert_nothing_of_ours(ec2)
    assert refusals_lab.aws("dynamodb").list_tables()["TableNames"] == []
    assert refusals_lab.aws("s3").list_buckets()["Buckets"] == []


def test_a_load_balancer_in_subnets_of_one_zone_is_refused_before_anything_is_created(refusals_lab, ec2):
    """Someone else's VPC whose two subnets share a zone: an ALB needs two zones."""
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{n}.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
               for n in (1, 2)]
    try:
        run = refusals_lab.play("provision.yml", "-e", json.dumps({
            "ec2_hosts_load_balancer": True, "ec2_hosts_vpc_id": vpc, "ec2_hosts_subnet_id": subnets[0],
            "ec2_hosts_lb_subnet_ids": [subnets[1]]}))
        assert run.returncode != 0
        assert "A load balancer needs subnets in two availability zones" in run.output
        assert "are in us-east-1a;" in " ".join(run.output.split())
        assert_nothing_of_ours(ec2)
        assert refusals_lab.host_states() == {}
    finally:
        for subnet in subnets:
            ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc)
