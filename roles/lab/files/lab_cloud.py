#!/usr/bin/env python3
"""The lab's cloud: moto's server as the AWS endpoint, where an EC2 instance is also a
machine, as on AWS. Creating an instance boots a lab host for it (a systemd + sshd
container, Docker not installed, unless its lab:image tag names the lab's image that has it,
as a baked AMI would); stopping, starting and terminating the instance stop,
start and remove it. Each running lab host publishes SSH and the app on free ports of the
lab's loopback address, which it writes into the instance's lab:ssh-port and lab:app-port
tags before the API call returns, so the lab's aws_ec2 inventory finds the host at once.
On the lab network's gateway it serves what apps on lab hosts reach of AWS: the Cognito user
pools' public keys, and the S3 and DynamoDB APIs (the data tier), nothing else; and it
stands haproxy in for each Application Load Balancer (lab_lb.py).

    lab_cloud.py --config CLOUD.json -H 127.0.0.1 -p PORT

The product's playbooks know nothing of this: they create, scale and delete instances
through the AWS API as they would on AWS.
"""

from __future__ import annotations

import argparse
import http
import ipaddress
import json
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

import docker
from docker.types import Mount
from moto import server
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instances import InstanceBackend
from werkzeug.serving import make_server

import lab_lb
import moto_server

KEYS_PATH = re.compile(r"^/[a-z0-9-]+_[0-9A-Za-z]+/\.well-known/jwks\.json$")


class LabHosts:
    """The lab hosts standing in for the instances, one container each."""

    def __init__(self, config: dict):
        self.config = config
        self.client = docker.from_env()
        self.lock = threading.Lock()
        # The lab's first instance that names no image boots from this one, if the lab gives it.
        self.first_image = config.get("first_image") or None

    def name(self, instance_id: str) -> str:
        return f"{self.config['lab_name']}-{instance_id}"

    def labels(self, instance_id: str) -> dict[str, str]:
        return {self.config["label"]: self.config["lab_name"], self.config["instance_label"]: instance_id}

    def image(self, tags: dict[str, str]) -> str:
        """The lab host image an instance's lab:image tag names (e.g. `docker`: Docker and
        nginx installed, as a baked AMI); None when it names none (untagged_image() then)."""
        name = tags.get("lab:image")
        if name is None:
            return None
        if name not in self.config["images"]:
            raise EC2ClientError("InvalidParameterValue", f"lab:image {name!r} is not one of the lab's images: "
                                 f"{', '.join(sorted(self.config['images']))}")
        return self.config["images"][name]

    def untagged_image(self) -> str:
        """The image of an instance whose tags name none: the lab's first image for the
        first such instance (test_fleet: one bare host, the rest baked), then the lab's."""
        with self.lock:
            image, self.first_image = self.first_image or self.config["image"], None
        return image

    def boot(self, instance_id: str, image: str | None = None) -> dict[str, str]:
        """Start the instance's lab host, creating it the first time (from `image`, else the
        lab's); return its port tags."""
        with self.lock:
            try:
                container = self.client.containers.get(self.name(instance_id))
                container.start()
            except docker.errors.NotFound:
                container = self.create(instance_id, image or self.config["image"])
            return self.port_tags(container)

    def port_tags(self, container) -> dict[str, str]:
        container.reload()
        ports = container.attrs["NetworkSettings"]["Ports"]
        return {"lab:ssh-port": ports["22/tcp"][0]["HostPort"],
                "lab:app-port": ports[f"{self.config['app_port']}/tcp"][0]["HostPort"]}

    def create(self, instance_id: str, image: str):
        volume = f"{self.name(instance_id)}-docker"
        self.client.volumes.create(volume, labels=self.labels(instance_id))
        return lab_lb.run_on_free_ports(self.client, self.name(instance_id), lambda: self.run(instance_id, image, volume))

    def run(self, instance_id: str, image: str, volume: str):
        bind = self.config["bind_address"]
        return self.client.containers.run(
            image, detach=True, name=self.name(instance_id), hostname=instance_id,
            labels=self.labels(instance_id), network=self.config["network"],
            # Free ports chosen once, here, not by Docker at each start: a lab host started
            # again by hand, or by a restarted dockerd, keeps the ports its tags name.
            ports={"22/tcp": (bind, lab_lb.free_port(bind)),
                   f"{self.config['app_port']}/tcp": (bind, lab_lb.free_port(bind))},
            # systemd as PID 1 and a Docker engine inside, without --privileged (refused here);
            # SYS_PTRACE lets the inner runc enter containers (docker exec, HEALTHCHECK).
            cap_add=["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"], cgroupns="host",
            tmpfs={"/run": "", "/run/lock": "", "/tmp": ""},
            mounts=[Mount("/sys/fs/cgroup", "/sys/fs/cgroup", type="bind"),
                    # overlay2 cannot stack on the container's own overlay root.
                    Mount("/var/lib/docker", volume, type="volume"),
                    # The login key, mounted the way cloud-init injects it.
                    Mount(f"/etc/ssh/authorized_keys/{self.config['user']}", self.config["ssh_public_key"],
                          type="bind", read_only=True)],
            restart_policy={"Name": "unless-stopped"})

    def reboot(self, instance_id: str) -> None:
        """Restart the instance's lab host as a reboot would: its disk and its ports (and so
        the instance's port tags) kept."""
        with self.lock:
            self.client.containers.get(self.name(instance_id)).restart(timeout=10)

    def stop(self, instance_id: str) -> None:
        with self.lock:
            try:
                self.client.containers.get(self.name(instance_id)).stop(timeout=10)
            except docker.errors.NotFound:
                pass

    def remove(self, instance_id: str) -> None:
        with self.lock:
            try:
                self.client.containers.get(self.name(instance_id)).remove(force=True)
            except docker.errors.NotFound:
                pass
            try:
                self.client.volumes.get(f"{self.name(instance_id)}-docker").remove(force=True)
            except docker.errors.NotFound:
                pass


def remove_earlier_cloud(config: dict) -> list[str]:
    """Remove the lab hosts and load balancers of this lab's earlier cloud; return their names.

    moto keeps its state in memory, so a cloud started again (the machine rebooted, the
    process killed) knows no instance or load balancer: what stood in for them would serve
    on, unknown to the API and to teardown, and hold the ports the lab's first load balancer
    takes. The registry and other labs are left alone."""
    client = docker.from_env()
    lab, balancers = config["lab_name"], lab_lb.container_prefix(config["lab_name"])
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{config['label']}={lab}"}):
        if config["instance_label"] in container.labels or container.name.startswith(balancers):
            container.remove(force=True)
            removed.append(container.name)
    for volume in client.volumes.list(filters={"label": [f"{config['label']}={lab}", config["instance_label"]]}):
        volume.remove(force=True)
        removed.append(volume.name)
    return removed


def refuse_a_taken_port(host: str, port: int) -> None:
    """Stop before touching anything when the port is taken (the cloud runs still, slow to
    answer): the hosts it knows must not be removed as an earlier cloud's."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SystemExit(f"{host}:{port} is taken ({error.strerror}): is the lab's cloud running already?")


def install(hosts: LabHosts) -> None:
    """Make moto's EC2 instances boot, reboot, stop and remove their lab hosts."""
    run_instances = InstanceBackend.run_instances
    reboot_instances = InstanceBackend.reboot_instances
    start_instances = InstanceBackend.start_instances
    stop_instances = InstanceBackend.stop_instances
    terminate_instances = InstanceBackend.terminate_instances

    def run(self, *args, **kwargs):
        # Chosen first, so that an unknown lab:image is refused before any instance exists.
        image = hosts.image(kwargs.get("tags", {}).get("instance", {}))
        reservation = run_instances(self, *args, **kwargs)
        for instance in reservation.instances:
            self.create_tags([instance.id], hosts.boot(instance.id, image or hosts.untagged_image()))
        return reservation

    def start(self, instance_ids):
        result = start_instances(self, instance_ids)
        for instance, _ in result:
            self.create_tags([instance.id], hosts.boot(instance.id))
        return result

    def reboot(self, instance_ids):
        result = reboot_instances(self, instance_ids)
        for instance in result:
            hosts.reboot(instance.id)
        return result

    def stop(self, instance_ids):
        result = stop_instances(self, instance_ids)
        for instance, _ in result:
            hosts.stop(instance.id)
        return result

    def terminate(self, instance_ids):
        result = terminate_instances(self, instance_ids)
        for instance, _ in result:
            hosts.remove(instance.id)
        return result

    InstanceBackend.run_instances = run
    InstanceBackend.reboot_instances = reboot
    InstanceBackend.start_instances = start
    InstanceBackend.stop_instances = stop
    InstanceBackend.terminate_instances = terminate


AWS_SERVICE = re.compile(r"Credential=[^/,]+/[0-9]{8}/[a-z0-9-]+/([a-z0-9-]+)/aws4_request")
# What an app on a lab host may call through the gateway: what the hosts' instance role
# allows (fragments.deploy.data_tier), nothing of EC2, IAM or the rest.
APP_SERVICES = ("s3", "dynamodb")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


def forward(environ, start_response, cloud: str):
    """One request to the lab's cloud, as the app sent it (its signature, its host), and
    the cloud's answer back."""
    query = environ.get("QUERY_STRING", "")
    # The path as the app sent it (still encoded: an S3 key may hold any character).
    raw = environ.get("RAW_URI") or urllib.parse.quote(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
    url = cloud + raw
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else None
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    request = urllib.request.Request(url, data=body, method=environ["REQUEST_METHOD"], headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, answer_headers, payload = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        status, answer_headers, payload = exc.code, exc.headers, exc.read()
    kept = [(key, value) for key, value in answer_headers.items() if key.lower() not in HOP_BY_HOP]
    start_response(f"{status} {http.HTTPStatus(status).phrase}", [*kept, ("Content-Length", str(len(payload)))])
    return [payload]


def serve_lab_network(config: dict, cloud: str) -> None:
    """On the lab network's gateway, what apps on lab hosts reach of AWS: the Cognito user
    pools' public keys (JWKS), as AWS publishes them on the internet, and the S3 and DynamoDB
    APIs, where the hosts' instance role sends the app (the data tier). Nothing else. Over
    HTTPS (a certificate of the lab CA) on keys_tls_port, and plain HTTP on keys_port."""
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and KEYS_PATH.match(path):
            with urllib.request.urlopen(cloud + path, timeout=10) as answer:
                body = answer.read()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        service = AWS_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if service and service.group(1) in APP_SERVICES:
            return forward(environ, start_response, cloud)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"only S3, DynamoDB and the user pools' public keys are served here\n"]

    address = config["keys_address"]
    servers = [make_server(address, int(config["keys_port"]), app, threaded=True),
               make_server(address, int(config["keys_tls_port"]), app, threaded=True,
                           ssl_context=(config["keys_certificate"], config["keys_certificate_key"]))]
    for served in servers:
        threading.Thread(target=served.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="the lab's cloud settings (JSON)")
    parser.add_argument("-H", "--host", required=True)
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    with open(args.config) as handle:
        config = json.load(handle)
    for address in (args.host, config["bind_address"]):
        if not ipaddress.ip_address(address).is_loopback:
            raise SystemExit(f"the lab binds only to loopback addresses, not {address}")
    keys = ipaddress.ip_address(config["keys_address"])
    if not keys.is_private or keys.is_unspecified:
        raise SystemExit(f"the lab serves keys only on its own network's gateway, not {keys}")
    refuse_a_taken_port(args.host, args.port)
    removed = remove_earlier_cloud(config)
    if removed:
        print(f"removed what stood in for the earlier cloud's instances and load balancers: {', '.join(removed)}",
              flush=True)
    # The cloud's API on loopback stands in for AWS's HTTPS endpoints: a TLS-only bucket
    # policy lets its calls through (molecule/data_tier checks the policy over real TLS).
    moto_server.install(secure_transport=True)
    install(LabHosts(config))
    lab_lb.install(lab_lb.LabLoadBalancers(config))
    serve_lab_network(config, f"http://{args.host}:{args.port}")
    server.main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
