"""The status behind a load balancer: module fleet_status reads the target group's health and
the load balancer through the real AWS modules, from moto's server on 127.0.0.1, and asks the
app at the address the load balancer is tagged with; a target group that does not exist is
refused saying which, by the status and by the rollout's plan (module rollout_plan) before
anything is read or locked. A host joins the target group and waits until the group calls it
healthy (module target_group_join): at once where it is registered already, after registering
where it is not, and failing with the group's last word where it never is."""

from __future__ import annotations

import http.server
import json
import threading

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lab import ROOT, ansible_playbook, flat

DIGEST = "sha256:" + "c" * 64
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def app_url():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def cloud(app_url):
    """moto's server with one instance behind a load balancer tagged with the app's address."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://127.0.0.1:%d" % server.get_host_and_port()[1]
    ec2, elb = (boto3.client(name, endpoint_url=endpoint, region_name="us-east-1",
                             aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                             aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"]) for name in ("ec2", "elbv2"))
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=f"us-east-1{zone}")
               ["Subnet"]["SubnetId"] for n, zone in ((1, "a"), (2, "b"))]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance, joining, stopped = (ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnets[0])
                                  ["Instances"][0]["InstanceId"] for _ in range(3))
    balancer = elb.create_load_balancer(Name="fragments-test", Subnets=subnets,
                                        Tags=[{"Key": "fragments-deploy:url", "Value": app_url}])["LoadBalancers"][0]
    group = elb.create_target_group(Name="fragments-test", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}])
    elb.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": instance, "Port": 80}])
    # Registered while running (a stopped instance cannot be), then stopped: the group calls it unused.
    elb.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": stopped, "Port": 80}])
    ec2.stop_instances(InstanceIds=[stopped])
    health = elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
    yield {"endpoint": endpoint, "instance": instance, "joining": joining, "stopped": stopped,
           "dns_name": balancer["DNSName"],
           "health": health[0]["TargetHealth"]["State"]}
    server.stop()


def status(cloud, tmp_path, target_group):
    report = tmp_path / "status.json"
    extra = {"digest": DIGEST, "instance": cloud["instance"], "target_group": target_group, "report_file": str(report)}
    # The keys (moto's dummies) reach the local module runs through the environment, not the command line.
    run = ansible_playbook("fleet_status_aws.yml", "-e", json.dumps(extra), inventories=["localhost,"],
                           env={"AWS_ENDPOINT_URL": cloud["endpoint"], **KEYS},
                           playbook_dir=ROOT / "tests/playbooks", timeout=120)
    return run, report


def test_the_target_health_and_the_load_balancer_come_from_aws(cloud, app_url, tmp_path):
    run, report = status(cloud, tmp_path, "fragments-test")
    assert run.returncode == 0, run.output
    written = json.loads(report.read_text())
    assert [(host["host"], host["instance"], host["target"], host["state"]) for host in written["hosts"]] == [
        ("web-1", cloud["instance"], cloud["health"], "ok")]
    assert written["load_balancer"] == cloud["dns_name"]
    assert "LOAD BALANCER" in run.output and f"load balancer: {cloud['dns_name']} ({app_url})" in run.output
    assert 'The load balancer answered 200: {"status": "ok"}' in run.output


def test_a_target_group_that_does_not_exist_is_refused_saying_which(cloud, tmp_path):
    run, report = status(cloud, tmp_path, "fragments-missing")
    assert run.returncode != 0 and not report.exists()
    assert "No target group fragments-missing in us-east-1: check deploy_target_group" in run.output, run.output


def plan(cloud, target_group):
    extra = {"digest": DIGEST, "target_group": target_group}
    return ansible_playbook("rollout_plan_aws.yml", "-e", json.dumps(extra), inventories=["localhost,"],
                            env={"AWS_ENDPOINT_URL": cloud["endpoint"], **KEYS},
                            playbook_dir=ROOT / "tests/playbooks", timeout=120)


def test_a_rollout_behind_a_target_group_that_exists_is_planned(cloud):
    run = plan(cloud, "fragments-test")
    assert run.returncode == 0, run.output


def test_a_rollout_behind_a_target_group_that_does_not_exist_is_refused_before_anything(cloud):
    run = plan(cloud, "fragments-missing")
    assert run.returncode != 0
    assert ("No target group fragments-missing in us-east-1: check deploy_target_group and deploy_aws_region. "
            "Nothing was changed.") in flat(run.output), run.output


def join(cloud, target_group, instance, timeout=6):
    extra = {"target_group": target_group, "instance": instance, "join_timeout": timeout}
    return ansible_playbook("target_group_join_aws.yml", "-e", json.dumps(extra), inventories=["localhost,"],
                            env={"AWS_ENDPOINT_URL": cloud["endpoint"], **KEYS},
                            playbook_dir=ROOT / "tests/playbooks", timeout=120)


def test_a_host_in_the_target_group_already_is_called_healthy_without_a_change(cloud):
    run = join(cloud, "fragments-test", cloud["instance"])
    assert run.returncode == 0, run.output
    assert run.changed == 0, run.output


def test_a_host_not_in_the_target_group_is_registered_then_called_healthy(cloud):
    run = join(cloud, "fragments-test", cloud["joining"])
    assert run.returncode == 0, run.output
    assert run.changed == 1, run.output
    assert join(cloud, "fragments-test", cloud["joining"]).changed == 0


def test_a_host_never_called_healthy_fails_with_the_groups_last_word(cloud):
    run = join(cloud, "fragments-test", cloud["stopped"], timeout=3)
    assert run.returncode != 0
    assert (f"did not call {cloud['stopped']} healthy within 3 s: unused "
            "(Target.InvalidState: Target is in the stopped state)") in flat(run.output), run.output


def test_a_target_group_that_does_not_exist_cannot_be_joined(cloud):
    run = join(cloud, "fragments-missing", cloud["instance"])
    assert run.returncode != 0
    assert "No target group fragments-missing in us-east-1" in flat(run.output), run.output


def test_check_mode_says_whether_it_would_register(cloud):
    fresh = boto3.client("ec2", endpoint_url=cloud["endpoint"], region_name="us-east-1",
                         aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])
    subnet = fresh.describe_instances(InstanceIds=[cloud["instance"]])["Reservations"][0]["Instances"][0]["SubnetId"]
    image = fresh.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    outsider = fresh.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]["InstanceId"]
    extra = {"target_group": "fragments-test", "instance": outsider, "join_timeout": 6}
    run = ansible_playbook("target_group_join_aws.yml", "-e", json.dumps(extra), "--check", inventories=["localhost,"],
                           env={"AWS_ENDPOINT_URL": cloud["endpoint"], **KEYS},
                           playbook_dir=ROOT / "tests/playbooks", timeout=120)
    assert run.returncode == 0 and run.changed == 1, run.output
    assert f"check mode: {outsider} would join the target group fragments-test" in flat(run.output), run.output
    assert join(cloud, "fragments-test", outsider).changed == 1  # check mode registered nothing
