#!/usr/bin/env python3
"""Benchmark the fragments service image: size against a naive single-stage build,
requests per second under wrk (the memory backend, and the aws one against moto's server
beside it), time from start to a healthy answer, and time to stop on SIGTERM. Medians of
repeated runs, written to docs/benchmarks/service.md.

    .venv/bin/python bench/service.py [--runs 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import threading
import ipaddress
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import bcrypt
import docker
from machine import measured, publish
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "service"
BASE = os.environ.get("FRAGMENTS_BENCH_BASE_IMAGE", "fragments-base/python:bookworm")
PORT = 18998
CGROUPS = Path("/sys/fs/cgroup/cpuacct/docker")
MOTO_PORT = 18997
USER, PASSWORD = "bench@example.com", "bench-password"
WRK_SCRIPT = """
local body = string.rep("x", 1024)
local auth = os.getenv("BENCH_AUTH")
local path = os.getenv("BENCH_GET_PATH")
local n = 0
request = function()
  n = n + 1
  if n % 2 == 1 then
    return wrk.format("POST", "/v1/fragments", {["Content-Type"] = "text/plain", ["Authorization"] = auth}, body)
  end
  return wrk.format("GET", path, {["Authorization"] = auth})
end
"""


def build(tag: str, dockerfile: Path) -> float:
    start = time.monotonic()
    subprocess.run(["docker", "build", "-q", "-t", tag, "-f", str(dockerfile), "--build-arg", f"BASE_IMAGE={BASE}",
                    str(SERVICE)], check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return time.monotonic() - start


def wrk(url: str, seconds: int, script: Path | None = None, env: dict | None = None) -> float:
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    out = subprocess.run(command + [url], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors[1]} failed responses:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])


def latencies(url: str, seconds: float, rate: float) -> list[float]:
    """GET url `rate` times a second for `seconds`, one at a time: each answer's milliseconds."""
    found, start = [], time.monotonic()
    for number in range(int(seconds * rate)):
        time.sleep(max(start + number / rate - time.monotonic(), 0))
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
        found.append((time.perf_counter() - began) * 1000)
    return found


def flood(url: str, rate: float, seconds: float, addresses: int, answers: dict) -> None:
    """Wrong passwords at `rate` a second for `seconds`, from `addresses` client addresses in
    turn (X-Forwarded-For, as the host's nginx would pass them): counts the answers by status."""
    def one(number: int) -> None:
        auth = "Basic " + base64.b64encode(f"{USER}:wrong-{number}".encode()).decode()
        client = number % addresses
        request = urllib.request.Request(url, headers={"Authorization": auth,
                                                       "X-Forwarded-For": f"10.{client // 256}.{client % 256}.9"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        answers[status] = answers.get(status, 0) + 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        start = time.monotonic()
        for number in range(int(rate * seconds)):
            time.sleep(max(start + number / rate - time.monotonic(), 0))
            pool.submit(one, number)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def cpu_of(starts: list) -> str:
    cpu = [used for _, used in starts if used is not None]
    return f"the container's CPU {statistics.median(cpu):.2f} s" if cpu else "the container's CPU not measured"


def answer_counts(answers: dict) -> str:
    return ", ".join(f"{count} x {status or 'no answer'}" for status, count in sorted(answers.items()))


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def start_to_healthy(client, environment: dict, volumes: dict) -> tuple[float, float | None]:
    """Seconds from `docker start` to the first 200 on GET /, and the container's CPU seconds
    until then (cgroup v1; None where there is none)."""
    container = client.containers.create("bench/fragments:final", ports={"8080/tcp": ("127.0.0.1", PORT)},
                                         volumes=volumes, environment=environment)
    try:
        start = time.monotonic()
        container.start()
        deadline = start + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the container did not answer within 30 s") from None
                time.sleep(0.01)
        seconds = time.monotonic() - start
        usage = CGROUPS / container.id / "cpuacct.usage"
        return seconds, int(usage.read_text()) / 1e9 if usage.exists() else None
    finally:
        container.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    client = docker.from_env()

    build("bench/fragments:final", SERVICE / "Dockerfile")
    build("bench/fragments:naive", ROOT / "bench/naive.Dockerfile")
    final = client.images.get("bench/fragments:final").attrs["Size"]
    naive = client.images.get("bench/fragments:naive").attrs["Size"]
    rebuild = statistics.median(build("bench/fragments:final", SERVICE / "Dockerfile") for _ in range(args.runs))

    work = Path(tempfile.mkdtemp(prefix="fragments-bench."))
    htpasswd = work / "htpasswd"
    htpasswd.write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt()).decode()}\n")
    htpasswd.chmod(0o644)
    script = work / "post-get.lua"
    script.write_text(WRK_SCRIPT)
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    secrets = {str(htpasswd): {"bind": "/run/secrets/htpasswd", "mode": "ro"}}

    def under_flood(addresses: int) -> tuple[list[float], dict]:
        """GET / latencies (20 a second, 10 s) while 50 wrong passwords a second arrive."""
        answers: dict[int, int] = {}
        flooding = threading.Thread(target=flood, args=(url + "/v1/fragments", 50, 10, addresses, answers))
        flooding.start()
        found = latencies(url + "/", 10, 20)
        flooding.join()
        return found, answers

    def measure(environment: dict, health: bool) -> tuple[list[float], list[float]]:
        """GET / (when `health`) and POST + GET rates of the final image with this environment."""
        container = client.containers.run(
            "bench/fragments:final", detach=True, ports={"8080/tcp": ("127.0.0.1", PORT)}, volumes=secrets,
            environment={"HTPASSWD_FILE": "/run/secrets/htpasswd", "LOG_LEVEL": "warning", **environment})
        try:
            wait_healthy(url + "/")
            request = urllib.request.Request(url + "/v1/fragments", data=b"x" * 1024, method="POST",
                                             headers={"Authorization": auth, "Content-Type": "text/plain"})
            with urllib.request.urlopen(request) as response:
                get_path = "/v1/fragments/" + json.loads(response.read())["fragment"]["id"]
            wrk(url + "/", 1)  # warm-up
            health_rps = [wrk(url + "/", args.seconds) for _ in range(args.runs)] if health else []
            mixed_rps = [wrk(url, args.seconds, script, {"BENCH_AUTH": auth, "BENCH_GET_PATH": get_path})
                         for _ in range(args.runs)]
            if health:
                quiet.extend(latencies(url + "/", 10, 20))
                flooded.update(zip(("many", "one"), (under_flood(1000), under_flood(1))))
        finally:
            container.remove(force=True)
        return health_rps, mixed_rps

    url = f"http://127.0.0.1:{PORT}"
    quiet: list[float] = []
    flooded: dict[str, tuple[list[float], dict]] = {}
    health_rps, mixed_rps = measure({}, health=True)
    cost = int(htpasswd.read_text().split("$")[2])
    # The aws backend against moto's server on the Docker bridge's gateway (a local address the
    # container reaches), as the lab's hosts reach its cloud; moto in this process costs CPU too.
    ipam = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    moto = ThreadedMotoServer(ip_address=gateway, port=MOTO_PORT, verbose=False)
    moto.start()
    try:
        endpoint = f"http://{gateway}:{MOTO_PORT}"
        fake = {"region_name": "us-east-1", "aws_access_key_id": "bench", "aws_secret_access_key": "bench",
                "endpoint_url": endpoint}
        boto3.client("s3", **fake).create_bucket(Bucket="bench-data")
        boto3.client("dynamodb", **fake).create_table(
            TableName="bench-fragments", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "ownerId", "AttributeType": "S"},
                                  {"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "ownerId", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}])
        aws = {"AWS_REGION": "us-east-1", "AWS_S3_BUCKET_NAME": "bench-data", "AWS_DYNAMODB_TABLE_NAME": "bench-fragments",
               "AWS_S3_ENDPOINT_URL": endpoint, "AWS_DYNAMODB_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench"}
        _, aws_rps = measure(aws, health=False)
        # As a deploy's health gate sees it: the lab's settings (htpasswd users, the aws backend).
        starts = [start_to_healthy(client, {"HTPASSWD_FILE": "/run/secrets/htpasswd", "LOG_LEVEL": "warning", **aws},
                                   secrets) for _ in range(max(args.runs, 5))]
    finally:
        moto.stop()
    stops = []
    for _ in range(args.runs):
        idle = client.containers.run("bench/fragments:final", detach=True)
        time.sleep(2)
        start = time.monotonic()
        idle.stop(timeout=10)
        stops.append(time.monotonic() - start)
        idle.remove(force=True)
    shutil.rmtree(work)

    mb = 1000 * 1000
    page = f"""# Service benchmark

{measured()}, Docker
{client.version()["Version"]}, base image `{BASE}`; medians of {args.runs} runs. Reproduce with:

    .venv/bin/python bench/service.py --runs {args.runs} --seconds {args.seconds}

| measure | result |
| --- | --- |
| final image (`service/Dockerfile`, multi-stage, FROM scratch) | {final / mb:.1f} MB |
| naive single-stage image (`bench/naive.Dockerfile`) | {naive / mb:.1f} MB |
| final / naive | 1 / {naive / final:.1f} |
| rebuild with an unchanged source (cache) | {rebuild:.2f} s |
| `GET /`, wrk 2 threads, 32 connections, {args.seconds} s | {statistics.median(health_rps):,.0f} req/s (runs: {", ".join(f"{r:,.0f}" for r in health_rps)}) |
| POST 1 KB + GET, alternating, same load | {statistics.median(mixed_rps):,.0f} req/s (runs: {", ".join(f"{r:,.0f}" for r in mixed_rps)}) |
| same, `aws` backend against moto's server on this machine (S3 + DynamoDB) | {statistics.median(aws_rps):,.0f} req/s (runs: {", ".join(f"{r:,.0f}" for r in aws_rps)}); aws / memory = {statistics.median(aws_rps) / statistics.median(mixed_rps):.3f} |
| `GET /` p99 at 20 a second, quiet | {p99(quiet):.1f} ms (median {statistics.median(quiet):.1f} ms) |
| same, while 50 wrong passwords a second arrive from 1,000 addresses (bcrypt cost {cost}; goal p99 <= 50 ms) | {p99(flooded["many"][0]):.1f} ms; the wrong ones answered {answer_counts(flooded["many"][1])} |
| same, the 50 a second from one address (20 failures a minute allowed) | {p99(flooded["one"][0]):.1f} ms; answered {answer_counts(flooded["one"][1])} |
| start to the first 200 on `GET /` (`docker start` included; htpasswd users, `aws` backend against moto) | {statistics.median(s for s, _ in starts):.2f} s, {cpu_of(starts)} (runs: {", ".join(f"{s:.2f}" for s, _ in starts)}) |
| `docker stop` of an idle container (SIGTERM) | {statistics.median(stops):.2f} s (runs: {", ".join(f"{s:.2f}" for s in stops)}) |

wrk and the container share the machine's cores, so the request rates are a floor
for a host that only serves. The `aws` row measures moto (a Python server sharing the same
two cores) as much as the service: it says what the backend costs here, not what S3 and
DynamoDB would answer; there is no goal for it on the lab.
"""
    publish("service.md", page)


if __name__ == "__main__":
    main()
