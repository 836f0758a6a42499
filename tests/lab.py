"""Drive the project's playbooks against a lab of the tests' own."""

from __future__ import annotations

import json
import os
import re
import resource
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import docker
import requests

ROOT = Path(__file__).resolve().parents[1]
# The tests' app images (fixture app_images in conftest.py).
APP_REPOSITORY = "e2e/app"
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")
# An EC2 filter: the instances that are not gone (terminated or on their way).
LIVE_INSTANCES = {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
# EC2 filters: what carries all three tags provision gives the lab's resources.
OURS = [{"Name": "tag:Project", "Values": ["fragments"]}, {"Name": "tag:Environment", "Values": ["lab"]},
        {"Name": "tag:ManagedBy", "Values": ["fragments-deploy"]}]
# Playbooks after which the lab's hosts may be others (Lab.hosts() asks the inventory again).
FLEET_CHANGING = frozenset({"provision.yml", "teardown.yml", "site.yml", "lab_up.yml", "lab_down.yml"})
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


# The tests' clients (urllib.request.urlopen) check HTTPS against the system's CAs and the
# CA of each lab brought up in this process (the load balancer's certificate is a lab's).
_TRUSTED = ssl.create_default_context()


def our_instances(ec2) -> list[dict]:
    """The lab's instances that are not gone, oldest first."""
    reservations = ec2.describe_instances(Filters=[*OURS, LIVE_INSTANCES])["Reservations"]
    return sorted((i for r in reservations for i in r["Instances"]), key=lambda i: i["LaunchTime"])


def ours(ec2) -> dict[str, list]:
    """Everything in the lab's cloud that carries all our tags, by kind."""
    return {
        "instances": [i["InstanceId"] for i in our_instances(ec2)],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=OURS)["SecurityGroups"]],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs(Filters=OURS)["KeyPairs"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=OURS)["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=OURS)["Subnets"]],
        "gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=OURS)["InternetGateways"]],
        "route_tables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=OURS)["RouteTables"]],
    }


def assert_nothing_of_ours(ec2) -> None:
    """No kind of resource in the lab's cloud holds anything that carries all our tags."""
    found = ours(ec2)
    assert found == {kind: [] for kind in found}, found


def settled(read, done, timeout: float = 30, pause: float = 0.2):
    """read() again until done(what it read) or `timeout` seconds have passed; the last reading,
    for the caller's assertion to show."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(pause)
        value = read()
    return value


def trust(ca_file: Path) -> None:
    _TRUSTED.load_verify_locations(cafile=str(ca_file))
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.HTTPSHandler(context=_TRUSTED)))


@dataclass
class Run:
    returncode: int
    output: str
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(host["changed"] for host in self.recap.values())


def ansible_playbook(playbook: str, *args: str, inventories: list[str] | None = None,
                     env: dict[str, str] | None = None, timeout: int = 900,
                     playbook_dir: Path = ROOT / "playbooks") -> Run:
    """Run a playbook of this project; return its exit code, output and recap."""
    command = [str(ROOT / ".venv/bin/ansible-playbook"), str(playbook_dir / playbook), *args]
    for inventory in inventories or []:
        command += ["-i", inventory]
    full_env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0", **(env or {})}
    wall, cpu = time.monotonic(), _children_cpu()
    proc = subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)
    _note_play(playbook, time.monotonic() - wall, _children_cpu() - cpu, proc.returncode)
    output = proc.stdout + proc.stderr
    recap = {m[1]: {"ok": int(m[2]), "changed": int(m[3]), "unreachable": int(m[4]), "failed": int(m[5])}
             for m in RECAP.finditer(proc.stdout)}
    return Run(proc.returncode, output, recap)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _note_play(playbook: str, wall: float, cpu: float, returncode: int) -> None:
    """With FRAGMENTS_TEST_PLAYS set to a file, one JSON line per playbook run: the test, the
    playbook, its wall and CPU seconds (ansible-playbook and its processes on the control
    node, the modules run locally included). bench/tests.py sums them per test file."""
    if path := os.environ.get("FRAGMENTS_TEST_PLAYS"):
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        with open(path, "a") as log:
            log.write(json.dumps({"test": test, "playbook": playbook, "wall": round(wall, 2),
                                  "cpu": round(cpu, 2), "rc": returncode}) + "\n")


def start_playbook(playbook: str, *args: str, inventories: list[str], log: Path) -> subprocess.Popen:
    """Start a playbook of this project in its own process group (to be killed whole),
    its output going to `log`."""
    command = [str(ROOT / ".venv/bin/ansible-playbook"), str(ROOT / "playbooks" / playbook), *args]
    for inventory in inventories:
        command += ["-i", inventory]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def refusals(role: str, cases: list[dict], workdir: Path, tasks_from: str | None = None, check: bool = False,
             play=ansible_playbook, **play_args) -> tuple[list[str], Run]:
    """Apply `role` (its entry point `tasks_from`) on the control node once per case, the
    case's variables as play variables, all in one playbook run (block/rescue per case):
    what each refusal said, or "" where the role took the case, and the run. One run
    instead of one a case (~0.5-3 s each). The answers are written once at the end, the
    run's one change of its own; with `check` the role runs in check mode, so
    run.changed == 1 unless the role changed something before refusing."""
    include = {"name": role, **({"tasks_from": tasks_from} if tasks_from else {}),
               **({"apply": {"check_mode": True}} if check else {})}
    plays = [{
        "name": f"Case {index}", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "environment": "{{ aws_environment | default({}) }}",
        # The control node's own Python, also where localhost is named in no inventory.
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", **variables},
        "tasks": [{"name": "Apply the role", "block": [
            {"name": "Apply it", "ansible.builtin.include_role": include},
            {"name": "Note it took the case", "ansible.builtin.set_fact": {f"refusal_{index}": ""}},
        ], "rescue": [
            {"name": "Note the refusal", "ansible.builtin.set_fact": {
                f"refusal_{index}": "{{ ansible_failed_result.msg }}"}},
        ]}]} for index, variables in enumerate(cases)]
    answers = workdir / "answers.json"
    plays.append({
        "name": "Write the answers", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [{"name": "Write them", "check_mode": False, "ansible.builtin.copy": {
            "dest": str(answers),
            "content": "{{ [" + ", ".join(f"refusal_{index} | default(None)" for index in range(len(cases)))
                       + "] | to_json }}"}}]})
    playbook = workdir / "refusals.yml"
    playbook.write_text(json.dumps(plays))
    run = play(playbook.name, playbook_dir=workdir, **play_args)
    said = json.loads(answers.read_text()) if answers.exists() else [None] * len(cases)
    return ["(no answer)" if text is None else flat(text) for text in said], run


def remove_local_tags(prefix: str) -> None:
    """Untag the images of the control node's engine whose names start with `prefix` (a
    registry's address): tags the tests' releases made, which would pile up run after run."""
    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(prefix):
                client.images.remove(tag, force=True)  # a tag only: the image stays while a container uses it


def flat(output: str) -> str:
    """Playbook output with YAML line folding undone, for matching messages."""
    return " ".join(output.split())


def _plain(value: dict):
    """ansible-inventory marks values from plugins as {"__ansible_unsafe": value}."""
    return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else value


@dataclass
class Lab:
    """A lab of the tests' own: its own name, network and loopback ports."""

    name: str = "fragments-e2e"
    registry_port: int = 15443
    moto_port: int = 15500
    # Hosts that ship Docker and nginx, as a baked cloud image: the roles converge them without
    # installing. The fleet's lab makes its first host bare, so that one e2e flow installs both.
    host_image: str = "fragments-base/labhost-docker:bookworm"
    first_host_image: str = ""
    # More inventory sources after the lab's (e.g. variables for every run).
    extra_inventories: list[str] = field(default_factory=list)
    # The hosts as the inventory last saw them: asking again costs an ansible-inventory run
    # against the lab's cloud (~1.7 s), so only a change of the fleet asks again.
    _hosts: list[dict] | None = field(default=None, init=False, repr=False)

    @property
    def state_dir(self) -> Path:
        return ROOT / ".lab" / self.name

    @property
    def extra_vars(self) -> list[str]:
        return ["-e", json.dumps({
            "lab_name": self.name, "lab_registry_port": self.registry_port, "lab_moto_port": self.moto_port,
            "lab_host_image": self.host_image, "lab_first_host_image": self.first_host_image})]

    @property
    def inventories(self) -> list[str]:
        return [str(ROOT / "inventory/lab"), str(self.state_dir / "inventory"), *self.extra_inventories]

    def up(self) -> Run:
        self.forget_hosts()
        run = ansible_playbook("lab_up.yml", *self.extra_vars)
        if run.returncode == 0:
            trust(self.ca_file)
        return run

    @property
    def ca_file(self) -> Path:
        return self.state_dir / "ca.crt"

    def down(self) -> Run:
        self.forget_hosts()
        run = ansible_playbook("lab_down.yml", *self.extra_vars)
        # The releases' tags on the control node's engine name a registry that is gone now.
        remove_local_tags(f"127.0.0.1:{self.registry_port}/")
        return run

    def play(self, playbook: str, *args: str, **kwargs) -> Run:
        if playbook in FLEET_CHANGING:
            self.forget_hosts()
        kwargs.setdefault("inventories", self.inventories)
        return ansible_playbook(playbook, *args, **kwargs)

    def refusals(self, role: str, cases: list[dict], workdir: Path, tasks_from: str | None = None) -> list[str]:
        """refusals() against this lab: its inventory (variables, cloud) for every case."""
        said, run = refusals(role, cases, workdir, tasks_from=tasks_from, play=self.play)
        assert run.returncode == 0, run.output
        return said

    def forget_hosts(self) -> None:
        """The next hosts() asks the inventory again (the fleet changed)."""
        self._hosts = None

    def provision(self, count: int, *args: str, **extra) -> Run:
        return self.play("provision.yml", "-e", json.dumps({"ec2_hosts_count": count, **extra}), *args)

    def hosts(self) -> list[dict]:
        """The lab's hosts as the inventory sees them (moto's running instances), oldest
        first, each with its variables and its lab host container's name; asked again only
        after a playbook that changes the fleet (FLEET_CHANGING) or forget_hosts()."""
        if self._hosts is None:
            self._hosts = self._ask_inventory()
        return [dict(host) for host in self._hosts]

    def _ask_inventory(self) -> list[dict]:
        command = [str(ROOT / ".venv/bin/ansible-inventory"), "--list"]
        for inventory in self.inventories:
            command += ["-i", inventory]
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
        data = json.loads(proc.stdout, object_hook=_plain)
        names = data.get("fragments_hosts", {}).get("hosts", [])
        hosts = [{"name": name, **data["_meta"]["hostvars"][name]} for name in names]
        for host in hosts:
            host["container"] = f"{self.name}-{host['instance_id']}"
        return sorted(hosts, key=lambda host: host["launch_time"])

    def on_host(self, command: str, host: dict | None = None) -> tuple[int, str]:
        """Run a shell command on a lab host (the only one if not named): exit code, output."""
        if host is None:
            [host] = self.hosts()
        result = docker.from_env().containers.get(host["container"]).exec_run(["sh", "-c", command])
        return result.exit_code, result.output.decode()

    def reboot(self, host: dict | None = None) -> None:
        """Reboot a lab host (the only one if not named) through the EC2 API, as on AWS: its
        container restarts with its disk and its ports, so the inventory is not asked again."""
        if host is None:
            [host] = self.hosts()
        self.aws("ec2").reboot_instances(InstanceIds=[host["instance_id"]])

    def host_containers(self) -> list:
        """The containers standing in for this lab's instances, running or not (roles/lab's labels)."""
        return docker.from_env().containers.list(
            all=True, filters={"label": [f"fragments.lab={self.name}", "fragments.lab.instance"]})

    def host_states(self) -> dict[str, str]:
        """The lab hosts of this lab's instances: instance id -> container status."""
        return {c.labels["fragments.lab.instance"]: c.status for c in self.host_containers()}

    def forget_image(self, digest: str, *containers: str) -> None:
        """Remove these containers and the tests' app image of this digest from the only
        host, so that the next deploy of it must log in and pull."""
        remove = f"docker rm -f {' '.join(containers)}; " if containers else ""
        self.on_host(f"{remove}docker rmi -f registry.lab:{self.registry_port}/{APP_REPOSITORY}@{digest}")

    def aws(self, service: str):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{self.moto_port}", region_name="us-east-1",
                            aws_access_key_id="lab", aws_secret_access_key="lab")

    def load_balancer(self) -> dict:
        """The lab's load balancer: its addresses (the stand-in's HTTPS and plain HTTP ones, from
        its tags), its targets' health as the AWS API reports it."""
        elb = self.aws("elbv2")
        [balancer] = elb.describe_load_balancers()["LoadBalancers"]
        tags = {t["Key"]: t["Value"] for t in
                elb.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]}
        [group] = elb.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])["TargetGroups"]
        health = elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
        return {"url": tags["fragments-deploy:url"], "http_url": tags["lab:http-url"], "dns_name": balancer["DNSName"],
                "targets": {t["Target"]["Id"]: t["TargetHealth"]["State"] for t in health}}

    def app_urls(self) -> list[str]:
        return [host["fragments_app_url"] for host in self.hosts()]

    def app_credentials(self) -> tuple[str, str]:
        """The lab's app user and password (its app-credentials file, user:password)."""
        user, password = (self.state_dir / "app-credentials").read_text().strip().split(":", 1)
        return user, password

    def registry_password(self) -> str:
        return (self.state_dir / "registry-password").read_text().strip()

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        """What the lab registry says repository:tag points at, asked with plain HTTP
        calls (not with the collection's own client), or None if it has no such tag."""
        response = requests.head(f"https://127.0.0.1:{self.registry_port}/v2/{repository}/manifests/{tag}",
                                 headers={"Accept": MANIFEST_TYPES}, auth=("fragments", self.registry_password()),
                                 verify=str(self.ca_file), timeout=10)
        return response.headers.get("Docker-Content-Digest") if response.status_code == 200 else None


@contextmanager
def own_lab(**settings) -> Iterator[Lab]:
    """A lab of a test file's own (Lab's settings): what a run that died half-way left taken
    down, brought up, and taken down when the file's tests are done."""
    lab = Lab(**settings)
    lab.down()
    run = lab.up()
    assert run.returncode == 0, run.output
    try:
        yield lab
    finally:
        lab.down()
