"""The lab's stand-in for an Application Load Balancer. moto's elbv2 keeps a load balancer's
state (listeners, target groups, registrations) but forwards no traffic, so for each load
balancer the lab runs haproxy (Debian's package, image built by the lab role) on the lab
network, published on one port of the lab's loopback address. Whenever registrations,
listeners or health settings change in moto, the haproxy configuration is written again
and haproxy reloads gracefully (master-worker, SIGUSR2): it sends traffic to the
registered instances' lab hosts (their nginx, on the target group's port) and checks them
with the target group's path and codes, every second. moto's DescribeTargetHealth then
reports what those checks see, as AWS reports its own.

Unlike an ALB, the stand-in retries a request another target can answer (a refused
connection, a 502 or 503 while a host goes down): the lab shows the fleet's answer, not
the detection delay of a health check.
"""

from __future__ import annotations

import csv
import io
import tarfile
import threading
import time
import urllib.request

import docker
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

STATS_PORT = 8404


def expectation(codes: str) -> str:
    """haproxy's check expectation for a target group's codes, e.g. 200, 200-299 or 200,302."""
    wanted = []
    for part in codes.split(","):
        low, _, high = part.strip().partition("-")
        wanted += [str(code) for code in range(int(low), int(high or low) + 1)]
    return f"status {wanted[0]}" if len(wanted) == 1 else "rstatus ^(" + "|".join(wanted) + ")$"


def config(target_group, servers: list[tuple[str, str]]) -> str:
    """haproxy's configuration for one load balancer forwarding to `target_group`."""
    codes = str((target_group.matcher or {}).get("HttpCode", "200")) if target_group else "200"
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    option forwardfor",
        "    option redispatch",
        "    retries 3",
        "    retry-on conn-failure empty-response response-timeout 502 503 504",
        "frontend load_balancer",
        "    bind :80",
        "    http-request set-header X-Forwarded-Proto http",
        "    default_backend targets",
        "frontend stats",
        f"    bind :{STATS_PORT}",
        "    stats enable",
        "    stats uri /stats",
        "backend targets",
    ]
    if target_group is not None:
        lines += [f"    option httpchk GET {target_group.health_check_path or '/'}",
                  f"    http-check expect {expectation(codes)}",
                  "    default-server inter 1s fall 2 rise 2 init-addr last,libc,none"]
        lines += [f"    server {name} {address} check" for name, address in servers]
    return "\n".join(lines) + "\n"


class LabLoadBalancers:
    """One haproxy container per moto load balancer."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.client = docker.from_env()
        self.lock = threading.Lock()
        self.stats_ports: dict[str, str] = {}

    def name(self, balancer_name: str) -> str:
        return f"{self.settings['lab_name']}-lb-{balancer_name}"

    def boot(self, balancer) -> str:
        """Start the stand-in of `balancer`; return its address on the lab's loopback address."""
        bind = self.settings["bind_address"]
        with self.lock:
            try:
                container = self.client.containers.get(self.name(balancer.name))
                if container.status != "running":
                    # Left by an earlier life of the lab's cloud (dockerd restarted): start afresh.
                    container.remove(force=True)
                    container = None
            except docker.errors.NotFound:
                container = None
            if container is None:
                container = self.client.containers.run(
                    self.settings["lb_image"], detach=True, name=self.name(balancer.name),
                    labels={self.settings["label"]: self.settings["lab_name"]}, network=self.settings["network"],
                    ports={"80/tcp": (bind, None), f"{STATS_PORT}/tcp": (bind, None)},
                    restart_policy={"Name": "unless-stopped"})
            container.reload()
            ports = container.attrs["NetworkSettings"]["Ports"]
            self.stats_ports[balancer.arn] = ports[f"{STATS_PORT}/tcp"][0]["HostPort"]
            return f"http://{bind}:{ports['80/tcp'][0]['HostPort']}"

    def remove(self, balancer_name: str) -> None:
        with self.lock:
            try:
                self.client.containers.get(self.name(balancer_name)).remove(force=True)
            except docker.errors.NotFound:
                pass

    def sync(self, backend: ELBv2Backend) -> None:
        """Write every load balancer's configuration from moto's state and reload haproxy."""
        for balancer in list(backend.load_balancers.values()):
            group = forwarded_group(backend, balancer)
            servers = [] if group is None else [
                (target_id, f"{self.settings['lab_name']}-{target_id}:{target.get('Port', group.port)}")
                for target_id, target in group.targets.items()]
            self.write(balancer.name, config(group, servers))

    def write(self, balancer_name: str, text: str) -> None:
        with self.lock:
            try:
                container = self.client.containers.get(self.name(balancer_name))
            except docker.errors.NotFound:
                return
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w") as tar:
                data = text.encode()
                info = tarfile.TarInfo("haproxy.cfg")
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(data))
            container.put_archive("/etc/haproxy", archive.getvalue())
            container.kill(signal="SIGUSR2")  # master-worker: a graceful reload

    def server_states(self, balancer_arn: str) -> dict[str, str]:
        """haproxy's view of its targets: {instance id: UP, DOWN, ...}."""
        port = self.stats_ports.get(balancer_arn)
        if not port:
            return {}
        try:
            with urllib.request.urlopen(f"http://{self.settings['bind_address']}:{port}/stats;csv", timeout=3) as answer:
                text = answer.read().decode().lstrip("# ")
        except OSError:
            return {}
        return {row["svname"]: row["status"] for row in csv.DictReader(io.StringIO(text))
                if row.get("pxname") == "targets" and row["svname"] not in ("BACKEND", "FRONTEND")}


def forwarded_group(backend: ELBv2Backend, balancer) -> FakeTargetGroup | None:
    """The target group the load balancer's listeners forward to (the first one)."""
    for listener in balancer.listeners.values():
        for action in listener.default_actions:
            arn = action.data.get("TargetGroupArn") if action.data.get("Type") == "forward" else None
            if arn and arn in backend.target_groups:
                return backend.target_groups[arn]
    return None


def install(balancers: LabLoadBalancers) -> None:
    """Make moto's elbv2 start, re-sync and remove the stand-ins, and report their checks."""
    create_load_balancer = ELBv2Backend.create_load_balancer
    delete_load_balancer = ELBv2Backend.delete_load_balancer
    health_for = FakeTargetGroup.health_for

    def create(self, *args, **kwargs):
        balancer = create_load_balancer(self, *args, **kwargs)
        url = balancers.boot(balancer)
        # Where status asks the app through it (the tag a custom domain would set on AWS).
        self.add_tags([balancer.arn], [{"Key": "fragments-deploy:url", "Value": url}])
        balancers.sync(self)
        return balancer

    def delete(self, arn):
        balancer = self.load_balancers.get(arn)
        delete_load_balancer(self, arn)
        if balancer is not None:
            balancers.remove(balancer.name)

    def resynced(method):
        def call(self, *args, **kwargs):
            result = method(self, *args, **kwargs)
            balancers.sync(self)
            return result
        return call

    def health(self, target, ec2_backend):
        status = health_for(self, target, ec2_backend)
        if status.status != "healthy":
            return status
        states = {}
        for arn in self.load_balancer_arns:
            states.update(balancers.server_states(arn))
        seen = states.get(target["Id"], "")
        if seen.startswith("UP"):
            return status
        if seen.startswith("DOWN") and seen != "DOWN":  # "DOWN 1/2": on its way up
            return FakeHealthStatus(status.instance_id, status.port, status.health_check_port, "initial",
                                    "Elb.RegistrationInProgress", "Target registration is in progress")
        if seen.startswith("DOWN"):
            return FakeHealthStatus(status.instance_id, status.port, status.health_check_port, "unhealthy",
                                    "Target.FailedHealthChecks", "Health checks failed")
        return FakeHealthStatus(status.instance_id, status.port, status.health_check_port, "initial",
                                "Elb.RegistrationInProgress", "Target registration is in progress")

    ELBv2Backend.create_load_balancer = create
    ELBv2Backend.delete_load_balancer = delete
    for name in ("register_targets", "deregister_targets", "create_listener", "modify_listener", "delete_listener",
                 "modify_target_group", "delete_target_group"):
        setattr(ELBv2Backend, name, resynced(getattr(ELBv2Backend, name)))
    FakeTargetGroup.health_for = health
