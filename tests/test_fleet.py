"""End to end, the way a user drives it, with an Application Load Balancer in front of the
hosts (the lab's haproxy stands in for it): site.yml to two hosts, one bare (it installs Docker
and nginx there) and one baked, the users, a rolling v1 -> v2 under load through the load balancer and every
host, a password rotated, rollback, a host's app stopped, a switch the load balancer never
calls healthy put back, 2 -> 3 -> 2 hosts with
registrations and lab hosts in step, teardown (refused unconfirmed, only ours), the lab taken
down. A lab of its own. Through all of it, 52
fragments posted once stay readable, the same, through every host (data in S3 and DynamoDB).
Every host but the first starts with Docker and nginx installed, as from a baked image:
installing them on a bare host is the first one's part, once (the rest is the Molecule
scenarios `docker_engine` and `proxy`).

Tested once elsewhere, in the cheaper place: a version refused by one host's gate, the
rollout stopped and the first host put back, the status's DRIFT, and a held lock refused
until unlock (Molecule scenario `deploy`, side_effect.yml)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request

import bcrypt

import docker
import pytest
import requests

from corpus import Corpus, call
from lab import LIVE_INSTANCES, ROOT, flat, own_lab, settled
from loops import FleetLoop, RequestLoop, WriteLoop

pytestmark = pytest.mark.e2e
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    # The first host bare, as a plain cloud image: site.yml installs Docker and nginx there, as
    # `make run` does; the others baked.
    with own_lab(name="fragments-e2e-fleet", registry_port=15483, moto_port=15540,
                 first_host_image="fragments-base/labhost:bookworm") as lab:
        source = tmp_path_factory.mktemp("fleet") / "service"
        shutil.copytree(ROOT / "service", source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "tests"))
        (source / ".gitignore").write_text("build-ca/*.crt\n")
        # The switch, from an inventory source whose group_vars/all come last (and so win).
        balanced = tmp_path_factory.mktemp("load-balancer")
        (balanced / "hosts.yml").write_text("all: {}\n")
        (balanced / "group_vars").mkdir()
        (balanced / "group_vars/all.yml").write_text("ec2_hosts_load_balancer: true\n")
        lab.extra_inventories = [str(balanced)]
        subprocess.run(["git", "init", "-q", str(source)], check=True)
        commit(source, "v1")
        lab.source = source
        yield lab


def commit(source, message):
    subprocess.run([*GIT, "-C", str(source), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(source), "commit", "-qm", message], check=True)


def play(lab, playbook, *args, **extra):
    return lab.play(playbook, "-e", json.dumps({"release_source_dir": str(lab.source), **extra}), *args)


def versions(lab) -> list[str]:
    return [FleetLoop.ask(url) for url in lab.app_urls()]


def running_digests(lab) -> set[str]:
    label = "docker inspect -f '{{index .Config.Labels \"fragments.deploy.digest\"}}' fragments"
    return {lab.on_host(label, host)[1].strip() for host in lab.hosts()}


def targets_of(lab):
    """A reader of the target group's health as the AWS API reports it, for settled()."""
    return lambda: lab.load_balancer()["targets"]


def load_balancer_stand_in(lab):
    """The lab's haproxy container standing in for its one load balancer."""
    [stand_in] = docker.from_env().containers.list(filters={"label": f"fragments.lab={lab.name}",
                                                            "name": f"{lab.name}-lb-"})
    return stand_in


def record(lab) -> dict:
    return json.loads((lab.state_dir / "releases" / "fragments.json").read_text())


def test_site_releases_provisions_deploys_and_shows_status(fleet):
    run = play(fleet, "site.yml", release_labels=["v1"])
    assert run.returncode == 0, run.output
    assert len(fleet.hosts()) == 2
    assert versions(fleet) == ["v1", "v1"]
    assert running_digests(fleet) == {record(fleet)["current"]["digest"]}
    assert "2 of 2 hosts run it healthy" in flat(run.output)
    # One of them started bare: the run installed Docker and nginx there.
    started_from = sorted(c.attrs["Config"]["Image"] for c in fleet.host_containers())
    assert started_from == ["fragments-base/labhost-docker:bookworm", "fragments-base/labhost:bookworm"]
    # One address for the fleet: status shows the load balancer and asks through it.
    balancer = fleet.load_balancer()
    assert f"load balancer: {balancer['dns_name']} ({balancer['url']})" in flat(run.output)
    assert "The load balancer answered 200" in flat(run.output)
    assert balancer["targets"] == {host["instance_id"]: "healthy" for host in fleet.hosts()}
    # HTTPS with the certificate provision imported into ACM (the lab CA's, checked by the
    # client; refused by one that trusts only the public CAs); plain HTTP only redirects.
    assert balancer["url"].startswith("https://") and FleetLoop.ask(balancer["url"]) == "v1"
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(balancer["url"] + "/", timeout=5, context=ssl.create_default_context())
    plain = requests.get(balancer["http_url"] + "/v1/fragments?expand=1", allow_redirects=False, timeout=5)
    assert (plain.status_code, plain.headers["Location"]) == (301, balancer["url"] + "/v1/fragments?expand=1")


def test_the_generated_user_works_through_every_host(fleet):
    """use.yml's round trip through the first host, then one through each host; a wrong password
    is refused; an upload over the service's limit gets the service's own 413 through the proxy,
    with urllib (which sends the whole body first) and with curl."""
    used = fleet.play("use.yml")
    assert used.returncode == 0, used.output
    # Through the load balancer, over HTTPS checked against the lab CA (as `make run` ends).
    balancer = fleet.load_balancer()["url"]
    assert f"POST {balancer}/v1/fragments as lab@fragments.test -> 201, {balancer}/v1/fragments/" in flat(used.output)
    assert "-> 200: Hello from" in flat(used.output)
    assert f'curl --cacert {fleet.ca_file} -u "$(cat ' in used.output and fleet.app_credentials()[1] not in used.output
    user, password = fleet.app_credentials()
    for url in fleet.app_urls():
        code, body, headers = call(url + "/v1/fragments", user, password, "POST", b"through " + url.encode())
        assert code == 201, body
        assert call(headers.get("Location"), user, password)[:2] == (200, b"through " + url.encode())
        assert call(url + "/v1/fragments", user, "wrong-" + password)[0] == 401
    url = fleet.app_urls()[0]
    code, body, _ = call(url + "/v1/fragments", user, password, "POST", b"x" * (6 * 1024 * 1024))
    assert code == 413 and json.loads(body)["error"]["code"] == 413
    upload = fleet.state_dir / "too-large"
    upload.write_bytes(b"x" * (6 * 1024 * 1024))
    curl = subprocess.run(["curl", "-sS", "-u", f"{user}:{password}", "-H", "Content-Type: text/plain", "--data-binary",
                           f"@{upload}", "-w", " %{http_code}", url + "/v1/fragments"], capture_output=True, text=True)
    assert curl.stdout.endswith(" 413") and '"code":413' in curl.stdout, curl.stdout + curl.stderr


def every_address(lab) -> list[str]:
    """Each host's address, and the load balancer's where there is one."""
    balancer = lab.load_balancer()["url"] if lab.aws("elbv2").describe_load_balancers()["LoadBalancers"] else None
    return lab.app_urls() + ([balancer] if balancer else [])


def assert_nothing_lost(lab, when: str) -> None:
    for url in every_address(lab):
        assert lab.corpus.problems(url) == [], f"{when}, through {url}"
    print(f"{when}: {len(lab.corpus.stored)} fragments read back identical through {len(every_address(lab))} addresses")


def test_fragments_live_in_s3_and_dynamodb_and_every_host_serves_them(fleet):
    """52 fragments (text, JSON, Markdown, PNG) posted through the first host: each read back,
    bytes and metadata, through every host and the load balancer; each one's bytes are the
    bucket's object <ownerId>/<id> and its metadata the table's item."""
    fleet.corpus = Corpus(*fleet.app_credentials())
    fleet.corpus.post(fleet.app_urls()[0])
    assert_nothing_lost(fleet, "posted through the first host")
    assert_in_storage(fleet)


def assert_in_storage(lab) -> None:
    """Each posted fragment's bytes are the bucket's object <ownerId>/<id>, its metadata the
    table's item: read from S3 and DynamoDB themselves, with or without hosts."""
    s3, dynamodb = lab.aws("s3"), lab.aws("dynamodb")
    assert lab.corpus.stored, "no fragments were posted to look for"
    for fragment_id, (data, created) in lab.corpus.stored.items():
        key = f"{created['ownerId']}/{fragment_id}"
        assert s3.get_object(Bucket="fragments-lab-data", Key=key)["Body"].read() == data
        item = dynamodb.get_item(TableName="fragments-lab-fragments",
                                 Key={"ownerId": {"S": created["ownerId"]}, "id": {"S": fragment_id}})["Item"]
        assert item["type"]["S"] == created["type"] and int(item["size"]["N"]) == created["size"]


def test_site_again_changes_nothing(fleet):
    run = play(fleet, "site.yml", release_labels=["v1"])
    assert run.returncode == 0, run.output
    assert run.changed == 0, run.output


def test_rolling_v2_keeps_the_fleet_answering(fleet):
    (fleet.source / "CHANGES").write_text("v2\n")
    commit(fleet.source, "v2")
    released = play(fleet, "release.yml", release_labels=["v2"])
    assert released.returncode == 0, released.output
    v2 = record(fleet)["current"]["digest"]
    balancer = fleet.load_balancer()["url"]
    with (FleetLoop(fleet.app_urls()) as loop, RequestLoop(balancer) as through_balancer,
          WriteLoop(balancer, *fleet.app_credentials()) as writes):
        run = play(fleet, "deploy.yml")
        loop.settle()
        through_balancer.settle()
        writes.settle(10)
    assert run.returncode == 0, run.output
    print(f"rollout through the load balancer: {sum(through_balancer.versions.values())} answered, "
          f"{len(through_balancer.failures)} failed, {through_balancer.versions}; POST + GET as the user: "
          f"{len(writes.written)} round trips, {len(writes.failures)} failed {writes.failures[:5]}")
    assert through_balancer.failures == [] and set(through_balancer.versions) == {"v1", "v2"}
    assert writes.failures == [] and len(writes.written) > 20
    user, password = fleet.app_credentials()
    for url in fleet.app_urls():  # what was written during the change, read back through every host
        unreadable = [key for key, data in writes.written.items()
                      if call(f"{url}/v1/fragments/{key}", user, password)[1] != data]
        assert unreadable == [], (url, len(unreadable))
    print(f"rollout under load: {loop.requests} requests, fleet failures {loop.fleet_failures}, "
          f"per host {list(loop.host_failures.values())}, versions {loop.versions}")
    assert loop.fleet_failures == 0
    # Each host's proxy switches without dropping a request.
    assert list(loop.host_failures.values()) == [0, 0]
    assert set(loop.versions) == {"v1", "v2"}
    assert versions(fleet) == ["v2", "v2"]
    assert running_digests(fleet) == {v2}
    status = play(fleet, "status.yml")
    assert status.returncode == 0, status.output
    assert "2 of 2 hosts run it healthy" in flat(status.output) and "DRIFT" not in status.output
    assert_nothing_lost(fleet, "after the rolling version change")


def test_a_new_password_takes_effect_through_the_health_gate(fleet):
    """The user's password rotated in the deploy's variables: a redeploy of the same release
    under a request loop drops no request; then the old password is refused and the new one
    taken. The lab's own users come back afterwards."""
    user, old = fleet.app_credentials()
    new = "rotated-" + old[:12]
    hashed = bcrypt.hashpw(new.encode(), bcrypt.gensalt(rounds=6)).decode()
    rotated = {"htpasswd": [{"name": "htpasswd", "content": f"{user}:{hashed}\n", "target": "/run/secrets/htpasswd"}]}
    with FleetLoop(fleet.app_urls()) as loop:
        run = fleet.play("deploy.yml", "-e", json.dumps({"fragments_auth_files": rotated}))
        loop.settle()
    assert run.returncode == 0, run.output
    assert loop.fleet_failures == 0 and list(loop.host_failures.values()) == [0, 0]
    for url in fleet.app_urls():
        assert call(url + "/v1/fragments", user, old)[0] == 401
        assert call(url + "/v1/fragments", user, new)[0] == 200
    back = fleet.play("deploy.yml")
    assert back.returncode == 0, back.output
    assert call(fleet.app_urls()[0] + "/v1/fragments", user, old)[0] == 200


def test_rollback_goes_to_the_release_before_the_running_one(fleet):
    history = record(fleet)["history"]
    v1 = next(r["digest"] for r in history if "v1" in r["tags"])
    run = fleet.play("rollback.yml")
    assert run.returncode == 0, run.output
    assert versions(fleet) == ["v1", "v1"]
    assert running_digests(fleet) == {v1}
    assert_nothing_lost(fleet, "after the rollback")


def test_a_host_whose_app_stops_leaves_the_rest_answering(fleet):
    """One host's app stopped by hand: requests through the load balancer keep succeeding
    through the other, and the target group calls that host unhealthy; started again, healthy."""
    first, second = fleet.hosts()
    balancer = fleet.load_balancer()
    with RequestLoop(balancer["url"]) as loop:
        assert fleet.on_host("docker stop fragments", second)[0] == 0
        targets = settled(targets_of(fleet), lambda targets: targets[second["instance_id"]] == "unhealthy")
        loop.settle(100)
    assert targets == {first["instance_id"]: "healthy", second["instance_id"]: "unhealthy"}
    assert loop.failures == [] and sum(loop.versions.values()) > 50
    assert fleet.on_host("docker start fragments", second)[0] == 0
    targets = settled(targets_of(fleet), lambda targets: targets[second["instance_id"]] == "healthy")
    assert targets[second["instance_id"]] == "healthy"


def test_the_lab_load_balancer_restarted_still_reports_its_targets(fleet):
    """The lab's stand-in for the load balancer started again (by hand, or by a restarted
    dockerd) keeps the ports chosen when it was made: the health the AWS API reports, read
    from its statistics, comes back instead of staying "initial"."""
    stand_in = load_balancer_stand_in(fleet)
    stand_in.restart(timeout=5)
    hosts = {host["instance_id"] for host in fleet.hosts()}
    all_healthy = dict.fromkeys(hosts, "healthy")
    assert settled(targets_of(fleet), all_healthy.__eq__) == all_healthy


def test_a_switch_the_load_balancer_never_calls_healthy_is_put_back(fleet):
    """The second host's new version passes its own gate and the check through its proxy, but
    the load balancer cannot reach the host (its firewall refuses the load balancer's address):
    the deploy waits deploy_target_timeout for the target group to call it healthy, fails there,
    and puts the host back on the version it ran; a host changed before it goes back too (the
    rollout stopped). The lock is given back: once the firewall lets the load balancer in
    again, the same deploy goes through."""
    v1 = next(r["digest"] for r in record(fleet)["history"] if "v1" in r["tags"])
    v2 = record(fleet)["current"]["digest"]
    assert running_digests(fleet) == {v1} and v1 != v2  # after the rollback
    first, second = fleet.hosts()
    stand_in = load_balancer_stand_in(fleet)
    [network] = stand_in.attrs["NetworkSettings"]["Networks"].values()
    refuse = f"INPUT -p tcp --dport 80 -s {network['IPAddress']} -j REJECT --reject-with tcp-reset"
    assert fleet.on_host(f"iptables -I {refuse}", second)[0] == 0
    try:
        targets = settled(targets_of(fleet), lambda targets: targets[second["instance_id"]] == "unhealthy")
        assert targets[second["instance_id"]] == "unhealthy"
        run = fleet.play("deploy.yml", "-e", json.dumps({"deploy_target_timeout": 6}))
    finally:
        assert fleet.on_host(f"iptables -D {refuse}", second)[0] == 0
    assert run.returncode != 0, run.output
    said = flat(run.output)
    assert f"did not call {second['instance_id']} healthy within 6 s: unhealthy" in said, said[-3000:]
    assert f"put back on {v1}" in said, said[-3000:]
    assert running_digests(fleet) == {v1}
    assert versions(fleet) == ["v1", "v1"]
    all_healthy = dict.fromkeys((host["instance_id"] for host in fleet.hosts()), "healthy")
    assert settled(targets_of(fleet), all_healthy.__eq__) == all_healthy
    again = fleet.play("deploy.yml")
    assert again.returncode == 0, again.output
    assert running_digests(fleet) == {v2}
    assert_nothing_lost(fleet, "after a switch put back")


def test_scaling_keeps_the_registrations_in_step(fleet):
    """2 -> 3 -> 2 hosts: a new host joins the target group only once it serves (the deploy
    puts it in); a host that goes leaves it, drained, before it is terminated."""
    grown = fleet.provision(3)
    assert grown.returncode == 0, grown.output
    hosts = fleet.hosts()
    assert len(hosts) == 3
    assert fleet.host_states() == {host["instance_id"]: "running" for host in hosts}
    assert set(fleet.load_balancer()["targets"]) == {host["instance_id"] for host in hosts[:2]}  # not the new one yet
    assert fleet.on_host("command -v dockerd nginx", hosts[2])[0] == 0  # baked: nothing to install
    deploy = fleet.play("deploy.yml")
    assert deploy.returncode == 0, deploy.output
    assert fleet.load_balancer()["targets"] == {host["instance_id"]: "healthy" for host in hosts}
    assert_nothing_lost(fleet, "with a third host")
    shrunk = fleet.provision(2)
    assert shrunk.returncode == 0, shrunk.output
    left = fleet.hosts()
    # One of the two oldest went (they started together); the newest stays.
    assert len(left) == 2 and hosts[2]["instance_id"] in {host["instance_id"] for host in left}
    # The lab host of the terminated instance went with it.
    assert fleet.host_states() == {host["instance_id"]: "running" for host in left}
    assert fleet.load_balancer()["targets"] == {host["instance_id"]: "healthy" for host in left}
    assert_nothing_lost(fleet, "back to two hosts")


def test_teardown_needs_confirmation_and_leaves_nothing_of_ours_and_all_else(fleet):
    """Refused without the confirmation; then the load balancer, its target group and security
    group go with the rest, in order; someone else's instance (of the same project, another
    environment), security group and key pair and the default VPC stay; the data stays; again,
    nothing to do."""
    elb, ec2 = fleet.aws("elbv2"), fleet.aws("ec2")
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    foreign_group = ec2.create_security_group(GroupName="someone-elses", Description="not ours",
                                              VpcId=default_vpc)["GroupId"]
    ec2.create_key_pair(KeyName="someone-elses")
    image = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*"]}])
    [foreign] = ec2.run_instances(ImageId=image["Images"][0]["ImageId"], MinCount=1, MaxCount=1,
                                  InstanceType="t3.micro", TagSpecifications=[{
                                      "ResourceType": "instance",
                                      "Tags": [{"Key": "Project", "Value": "fragments"},
                                               {"Key": "Environment", "Value": "staging"}]}])["Instances"]
    foreign_id = foreign["InstanceId"]
    ours = [{"Name": "tag:ManagedBy", "Values": ["fragments-deploy"]}]

    def live_instances(filters):
        reservations = ec2.describe_instances(Filters=[*filters, LIVE_INSTANCES])["Reservations"]
        return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])

    before = live_instances(ours)
    try:
        refused = fleet.play("teardown.yml")
        assert refused.returncode != 0
        assert "set ec2_hosts_confirm=fragments-lab" in refused.output
        assert live_instances(ours) == before and len(before) == 2

        run = fleet.play("teardown.yml", "-e", "ec2_hosts_confirm=fragments-lab")
        assert run.returncode == 0, run.output
        assert elb.describe_load_balancers()["LoadBalancers"] == []
        assert elb.describe_target_groups()["TargetGroups"] == []
        assert ec2.describe_security_groups(Filters=ours)["SecurityGroups"] == []
        assert ec2.describe_key_pairs(Filters=ours)["KeyPairs"] == []
        assert ec2.describe_vpcs(Filters=ours)["Vpcs"] == []
        assert ec2.describe_subnets(Filters=ours)["Subnets"] == []
        assert ec2.describe_internet_gateways(Filters=ours)["InternetGateways"] == []
        assert ec2.describe_route_tables(Filters=ours)["RouteTables"] == []
        assert live_instances(ours) == []
        assert fleet.hosts() == []
        assert live_instances([]) == [foreign_id]
        assert foreign_group in [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]
        assert "someone-elses" in [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
        assert default_vpc in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
        # The foreign instance has a lab host of its own (every moto instance does); ours are gone.
        assert set(fleet.host_states()) == {foreign_id}
        # The data stays, and says so: every fragment's object and item, with no host left.
        assert "Kept the bucket fragments-lab-data and the table fragments-lab-fragments" in flat(run.output)
        assert_in_storage(fleet)

        again = fleet.play("teardown.yml", "-e", "ec2_hosts_confirm=fragments-lab")
        assert again.returncode == 0, again.output
        assert again.changed == 0, again.output
    finally:
        ec2.terminate_instances(InstanceIds=[foreign_id])
        ec2.delete_security_group(GroupId=foreign_group)
        ec2.delete_key_pair(KeyName="someone-elses")


def test_new_hosts_after_a_teardown_serve_the_same_fragments(fleet):
    """Every host replaced (teardown, then provision and deploy of the recorded release)."""
    run = play(fleet, "provision.yml")
    assert run.returncode == 0, run.output
    run = play(fleet, "deploy.yml")
    assert run.returncode == 0, run.output
    assert_nothing_lost(fleet, "on new hosts after a teardown")


def test_lab_down_removes_the_lab_and_nothing_else(fleet):
    """The lab's containers (registry, the load balancer's stand-in), volumes, network and
    state go; a container and a volume that only share the name prefix stay."""
    client = docker.from_env()
    bystander = client.containers.create("fragments-base/debian:bookworm", ["sleep", "60"],
                                         name=f"{fleet.name}-bystander", labels={"fragments.lab": "someone-else"})
    bystander_volume = client.volumes.create(f"{fleet.name}-bystander", labels={"fragments.lab": "someone-else"})
    try:
        run = fleet.down()
        assert run.returncode == 0, run.output
        assert [c.name for c in client.containers.list(all=True) if c.name.startswith(f"{fleet.name}-")] == \
            [bystander.name]
        assert [v.name for v in client.volumes.list() if v.name.startswith(f"{fleet.name}-")] == \
            [bystander_volume.name]
        assert [n.name for n in client.networks.list() if n.name == fleet.name] == []
        assert not fleet.state_dir.exists()
    finally:
        bystander.remove(force=True)
        bystander_volume.remove(force=True)
