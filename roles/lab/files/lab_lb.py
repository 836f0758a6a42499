"""The lab's stand-in for an Application Load Balancer. moto's elbv2 keeps a load balancer's
state (listeners, target groups, registrations) but forwards no traffic, so for each load
balancer the lab runs haproxy (Debian's package, image built by the lab role) on the lab
network, published on one port of the lab's loopback address. Whenever registrations,
listeners or health settings change in moto, the haproxy configuration is written again
and haproxy reloads gracefully (master-worker, SIGUSR2): it sends traffic to the
registered instances' lab hosts (their nginx, on the target group's port) and checks them
with the target group's path and codes, every second. moto's DescribeTargetHealth then
reports what those checks see, as AWS reports its own.

Its listeners are the load balancer's: HTTP forwarding or redirecting (to the port the
stand-in publishes for the target port), and HTTPS with the certificate, chain and key of
the listener's ACM certificate, read from the lab cloud's ACM (the one the ec2_hosts role
imported). The tag fragments-deploy:url says where users reach it: https when it has an
HTTPS listener; lab:http-url names its plain-HTTP address.

Unlike an ALB, the stand-in retries a request another target can answer (a refused
connection, a 502 or 503 while a host goes down): the lab shows the fleet's answer, not
the detection delay of a health check.
"""

from __future__ import annotations

import csv
import io
import socket
import tarfile
import threading
import time
import urllib.request

import docker
from moto.acm.models import acm_backends
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

STATS_PORT = 8404
LISTENER_PORTS = (80, 443)  # what the stand-in publishes: an ALB's usual listeners


def container_prefix(lab_name: str) -> str:
    """How the container of every load balancer stand-in of the lab is named at its start."""
    return f"{lab_name}-lb-"


def expectation(codes: str) -> str:
    """haproxy's check expectation for a target group's codes, e.g. 200, 200-299 or 200,302."""
    wanted = []
    for part in codes.split(","):
        low, _, high = part.strip().partition("-")
        wanted += [str(code) for code in range(int(low), int(high or low) + 1)]
    return f"status {wanted[0]}" if len(wanted) == 1 else "rstatus ^(" + "|".join(wanted) + ")$"


def config(target_group, servers: list[tuple[str, str]], listeners: list[dict]) -> str:
    """haproxy's configuration for one load balancer forwarding to `target_group`. Each of
    `listeners`: {"port": 80, "tls": False, "redirect": "" or the URL prefix to redirect to,
    "code": 301}; a TLS listener serves /etc/haproxy/certs/<port>.pem."""
    codes = str((target_group.matcher or {}).get("HttpCode", "200")) if target_group else "200"
    lines = [
        "global",
        "    maxconn 4096",
        "    ssl-default-bind-options ssl-min-ver TLSv1.2",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    option forwardfor",
        "    option redispatch",
        "    retries 3",
        "    retry-on conn-failure empty-response response-timeout 502 503 504",
    ]
    for listener in listeners:
        port = listener["port"]
        lines += [f"frontend listener_{port}",
                  f"    bind :{port}" + (f" ssl crt /etc/haproxy/certs/{port}.pem" if listener["tls"] else "")]
        if listener["redirect"]:
            lines.append(f"    http-request redirect prefix {listener['redirect']} code {listener['code']}")
        else:
            lines += [f"    http-request set-header X-Forwarded-Proto {'https' if listener['tls'] else 'http'}",
                      "    default_backend targets"]
    lines += [
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


def certificate_pem(backend: ELBv2Backend, arn: str) -> bytes:
    """What haproxy serves for an ACM certificate: the certificate, the chain imported with
    it (moto_server.py keeps it as imported: the certificate itself when there was none) and
    the private key."""
    bundle = acm_backends[backend.account_id][backend.region_name].get_certificate(arn)
    cert, chain = bundle.cert.strip(), bundle.chain.strip()
    return b"\n".join([cert] + ([chain] if chain != cert else []) + [bundle.key.strip()]) + b"\n"


class LabLoadBalancers:
    """One haproxy container per moto load balancer."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.client = docker.from_env()
        self.lock = threading.Lock()
        self.stats_ports: dict[str, str] = {}
        self.published: dict[str, dict[int, str]] = {}  # balancer ARN -> listener port -> host port

    def name(self, balancer_name: str) -> str:
        return container_prefix(self.settings["lab_name"]) + balancer_name

    def boot(self, balancer) -> None:
        """Start the stand-in of `balancer`, publishing its listener ports on the lab's loopback address."""
        with self.lock:
            try:
                container = self.client.containers.get(self.name(balancer.name))
                if container.status != "running":
                    # Stopped by hand, or exited (an earlier cloud's are gone already:
                    # lab_cloud.remove_earlier_cloud): start afresh.
                    container.remove(force=True)
                    container = None
            except docker.errors.NotFound:
                container = None
            if container is None:
                # The lab's own ports for its first load balancer (its address is known before it
                # exists, as a domain pointing at it would be) in the first attempt; free ones for
                # any other, or when those are taken.
                given = iter([self.settings["lb_ports"]])
                container = run_on_free_ports(self.client, self.name(balancer.name),
                                              lambda: self.start(balancer.name, next(given, {})), attempts=6)
            container.reload()
            ports = container.attrs["NetworkSettings"]["Ports"]
            self.stats_ports[balancer.arn] = ports[f"{STATS_PORT}/tcp"][0]["HostPort"]
            self.published[balancer.arn] = {port: ports[f"{port}/tcp"][0]["HostPort"] for port in LISTENER_PORTS}

    def start(self, balancer_name: str, host_ports: dict[str, int]):
        """Run the stand-in's container, its listener ports published on `host_ports` (listener
        port -> host port; free ports where not given) of the lab's loopback address."""
        bind = self.settings["bind_address"]
        # Free ports chosen once, here, not by Docker at each start (as for the lab hosts): a
        # stand-in started again (by hand, by a restarted dockerd, haproxy exiting) keeps the
        # ports boot() read, where its statistics are asked and its addresses are tagged.
        ports = {f"{port}/tcp": (bind, int(host_ports[str(port)]) if str(port) in host_ports else free_port(bind))
                 for port in (*LISTENER_PORTS, STATS_PORT)}
        return self.client.containers.run(
            self.settings["lb_image"], detach=True, name=self.name(balancer_name),
            labels={self.settings["label"]: self.settings["lab_name"]}, network=self.settings["network"],
            ports=ports, restart_policy={"Name": "unless-stopped"})

    def address(self, balancer_arn: str, port: int, tls: bool) -> str:
        """Where the control node reaches the stand-in's listener on `port`."""
        published = self.published.get(balancer_arn, {}).get(int(port), str(port))
        return f"{'https' if tls else 'http'}://{self.settings['bind_address']}:{published}"

    def remove(self, balancer_name: str) -> None:
        with self.lock:
            remove_container(self.client, self.name(balancer_name))

    def sync(self, backend: ELBv2Backend) -> None:
        """Write every load balancer's configuration and certificates from moto's state,
        reload haproxy, and tag the load balancer with its addresses."""
        for balancer in list(backend.load_balancers.values()):
            group = forwarded_group(backend, balancer)
            servers = [] if group is None else [
                (target_id, f"{self.settings['lab_name']}-{target_id}:{target.get('Port', group.port)}")
                for target_id, target in group.targets.items()]
            listeners, certificates = [], {}
            for listener in balancer.listeners.values():
                port, tls = int(listener.port), listener.protocol == "HTTPS"
                if tls and listener.certificate:
                    certificates[port] = certificate_pem(backend, listener.certificate)
                redirect = next((action.data["RedirectConfig"] for action in listener.default_actions
                                 if action.type == "redirect"), None)
                listeners.append({
                    "port": port, "tls": tls,
                    "redirect": "" if redirect is None else self.address(
                        balancer.arn, int(redirect.get("Port") or port), redirect.get("Protocol", "HTTPS") == "HTTPS"),
                    "code": (redirect or {}).get("StatusCode", "HTTP_301").removeprefix("HTTP_")})
            self.write(balancer.name, config(group, servers, listeners), certificates)
            secure = [item["port"] for item in listeners if item["tls"] and not item["redirect"]]
            # Where status and users reach it (on AWS: a custom domain would be tagged here).
            backend.add_tags([balancer.arn], [
                {"Key": "fragments-deploy:url",
                 "Value": self.address(balancer.arn, secure[0], True) if secure else self.address(balancer.arn, 80, False)},
                {"Key": "lab:http-url", "Value": self.address(balancer.arn, 80, False)}])

    def write(self, balancer_name: str, text: str, certificates: dict[int, bytes]) -> None:
        with self.lock:
            try:
                container = self.client.containers.get(self.name(balancer_name))
            except docker.errors.NotFound:
                return
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w") as tar:
                folder = tarfile.TarInfo("certs")
                folder.type, folder.mtime, folder.mode = tarfile.DIRTYPE, int(time.time()), 0o700
                tar.addfile(folder)
                files = [(f"certs/{port}.pem", pem, 0o600) for port, pem in certificates.items()]
                for name, data, mode in [*files, ("haproxy.cfg", text.encode(), 0o644)]:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), int(time.time()), mode
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


def run_on_free_ports(client, name: str, run, attempts: int = 5):
    """run(), which starts the container `name` on free ports it chooses, again while Docker finds
    one of them taken (another process bound it between the choice and the start); the last
    attempt's error is raised."""
    for attempt in range(attempts):
        try:
            return run()
        except docker.errors.APIError as error:
            if "already" not in str(error) or attempt == attempts - 1:
                raise
            remove_container(client, name)


def remove_container(client, name: str) -> None:
    """Remove the container `name` (one created but not started), if there is one."""
    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass


def free_port(address: str) -> int:
    """A port nothing listens on at `address` now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


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
        balancers.boot(balancer)
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
