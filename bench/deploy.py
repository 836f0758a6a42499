#!/usr/bin/env python3
"""Measure deploys on the lab with 1, 2 and 4 hosts against the bare minimum a person
would type, and the release's cold build and re-run. Medians of repeated runs, written
to docs/benchmarks/deploy.md.

    .venv/bin/python bench/deploy.py [--runs 3] [--hosts 1 2 4]

Per host count and run, every host starts empty (no app container, no app image):
  first deploy    deploy.yml of v1 (pull, candidate, health gate, switch, record)
  no-op           deploy.yml of v1 again
  rolling         deploy.yml of v2, batch 1 (the default: one host at a time)
  all at once     deploy.yml of v2, deploy_batch_size=100% (hosts empty, v1 put back first)
  bare minimum    in parallel on every host (hosts empty, v1 put back first):
                  ssh host 'docker pull IMAGE@DIGEST && docker rm -f fragments && docker run -d ...'
Release: build and push into a repository new to the registry with no build cache of
its own (the base image stays: it cannot come from Docker Hub here), then the same
release again; bytes the registry received are read from its network counters.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from lab import Lab  # noqa: E402
from machine import measured, publish  # noqa: E402

APP = "fragments"


def timed(run) -> float:
    start = time.monotonic()
    result = run()
    assert result.returncode == 0, result.output[-4000:]
    return time.monotonic() - start


def registry_received(lab: Lab) -> int:
    """Bytes the lab registry's container has received on its network interfaces."""
    registry = docker.from_env().containers.get(f"{lab.name}-registry")
    result = registry.exec_run(["sh", "-c", "cat /sys/class/net/eth*/statistics/rx_bytes"])
    assert result.exit_code == 0, result.output
    return sum(int(value) for value in result.output.split())


def release(lab: Lab, repository: str, label: str, source: Path | None = None):
    extra = {"release_repository": repository, "release_labels": [label]}
    if source:
        extra["release_source_dir"] = str(source)
    return lab.play("release.yml", "-e", json.dumps(extra))


def forget_local_images(repository_prefix: str) -> None:
    """Remove every local image of these repositories, and the untagged images the classic
    builder keeps as its cache (a multi-stage build leaves its first stage's behind)."""
    client = docker.from_env()
    for image in client.images.list():
        if any(tag.startswith(repository_prefix) for tag in image.tags):
            client.images.remove(image.id, force=True)
    client.images.prune(filters={"dangling": True})


def blob_uploads(lab: Lab, since: float) -> int:
    """Blob upload requests (PATCH or PUT under /blobs/uploads/) the registry logged since then."""
    logs = docker.from_env().containers.get(f"{lab.name}-registry").logs(since=int(since)).decode(errors="replace")
    return sum(1 for line in logs.splitlines() if re.search(r'"(PATCH|PUT) /v2/\S+/blobs/uploads/', line))


def empty_hosts(lab: Lab, hosts: list[dict]) -> None:
    """No app container and no app image on any host: every run starts from the same state."""
    client = docker.from_env()
    for host in hosts:
        result = client.containers.get(host["container"]).exec_run(["sh", "-c", (
            f"docker rm -f $(docker ps -aq --filter name=^{APP}) >/dev/null 2>&1;"
            f" docker image prune -af >/dev/null && docker images -q | wc -l")])
        assert result.output.decode().strip() == "0", result.output


def ssh(lab: Lab, host: dict, command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-p", str(host["ansible_port"]), "-i", str(lab.state_dir / "id_ed25519"),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
         "-o", "BatchMode=yes", f"lab@{host['ansible_host']}", command],
        input=stdin, capture_output=True, text=True, timeout=300)


def bare(lab: Lab, hosts: list[dict], image: str, replace: bool = True) -> float:
    """What a person types to roll `image` out: pull, remove, run, on every host at once."""
    run = f"sudo docker run -d --name {APP} --restart unless-stopped -p 8080:8080 {image}"
    command = f"sudo docker pull -q {image} && " + (f"sudo docker rm -f {APP} && {run}" if replace else run)
    start = time.monotonic()
    with ThreadPoolExecutor(len(hosts)) as pool:
        results = list(pool.map(lambda host: ssh(lab, host, command), hosts))
    elapsed = time.monotonic() - start
    for result in results:
        assert result.returncode == 0, result.stderr
    return elapsed


def bare_login(lab: Lab, hosts: list[dict]) -> None:
    """The bare minimum logs in once beforehand; not part of its timed rollout."""
    password = lab.registry_password()
    for host in hosts:
        # The password goes through stdin, never the command line.
        result = ssh(lab, host, f"sudo docker login -u fragments --password-stdin registry.lab:{lab.registry_port}",
                     stdin=password)
        assert result.returncode == 0, result.stderr


def deploy(lab: Lab, digest: str, **extra):
    return lab.play("deploy.yml", "-e", json.dumps({"deploy_digest": digest, **extra}))


def measure_hosts(lab: Lab, count: int, runs: int, v1: str, v2: str) -> dict[str, list[float]]:
    assert lab.provision(count).returncode == 0
    hosts = lab.hosts()
    assert len(hosts) == count
    times: dict[str, list[float]] = {name: [] for name in
                                      ("first deploy", "no-op", "rolling", "all at once", "bare minimum")}
    # New hosts have no Docker: the first deploy installs it (timed once, not part of the runs).
    with_docker_install = timed(lambda: deploy(lab, v1, deploy_batch_size="100%"))
    print(f"{count} hosts, Docker installed and first deploy: {with_docker_install:.1f} s", flush=True)
    bare_login(lab, hosts)
    image = f"registry.lab:{lab.registry_port}/{APP}@"
    for run in range(runs):
        print(f"{count} hosts, run {run + 1}/{runs}", flush=True)
        empty_hosts(lab, hosts)
        times["first deploy"].append(timed(lambda: deploy(lab, v1)))
        times["no-op"].append(timed(lambda: deploy(lab, v1)))
        times["rolling"].append(timed(lambda: deploy(lab, v2)))
        empty_hosts(lab, hosts)
        assert deploy(lab, v1, deploy_batch_size="100%").returncode == 0
        times["all at once"].append(timed(lambda: deploy(lab, v2, deploy_batch_size="100%")))
        empty_hosts(lab, hosts)
        bare(lab, hosts, image + v1, replace=False)
        times["bare minimum"].append(bare(lab, hosts, image + v2))
        print({name: round(values[-1], 1) for name, values in times.items()}, flush=True)
    empty_hosts(lab, hosts)
    times["Docker installed on the new hosts, then first deploy (once, all at once)"] = [with_docker_install]
    return times


def measure_release(lab: Lab, runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"cold build and push": [], "re-run": [], "bytes received, cold": [],
                                     "bytes received, re-run": [], "blob uploads, cold": [],
                                     "blob uploads, re-run": []}
    push_prefix = f"127.0.0.1:{lab.registry_port}/"
    # Every cold run then finds the base image's layers in the registry, as a real one would.
    assert release(lab, APP, "bench-warm-up").returncode == 0
    for run in range(runs):
        repository = f"bench-cold-{run}-{int(time.time())}"
        forget_local_images(push_prefix)
        before, since = registry_received(lab), time.time()
        times["cold build and push"].append(timed(lambda: release(lab, repository, "cold")))
        middle, since_middle = registry_received(lab), time.time()
        times["re-run"].append(timed(lambda: release(lab, repository, "cold")))
        after = registry_received(lab)
        times["bytes received, cold"].append(middle - before)
        times["bytes received, re-run"].append(after - middle)
        times["blob uploads, cold"].append(blob_uploads(lab, since) - blob_uploads(lab, since_middle))
        times["blob uploads, re-run"].append(blob_uploads(lab, since_middle))
        print({name: values[-1] for name, values in times.items()}, flush=True)
    forget_local_images(push_prefix)
    return times


def second_version(tmp: Path) -> Path:
    """A copy of the service whose image differs from the first in its last layers."""
    source = tmp / "service-v2"
    subprocess.run(["rm", "-rf", str(source)], check=True)
    subprocess.run(["cp", "-r", str(ROOT / "service"), str(source)], check=True)
    (source / "CHANGES").write_text("bench v2\n")
    git = ["git", "-C", str(source), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (source / ".gitignore").write_text("build-ca/*.crt\n__pycache__/\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "v2"], check=True)
    return source


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    lab = Lab(name="fragments-bench-deploy", registry_port=15663, moto_port=15720)
    lab.down()
    per_count: dict[int, dict[str, list[float]]] = {}
    try:
        assert lab.up().returncode == 0
        release_times = measure_release(lab, args.runs)
        assert release(lab, APP, "bench-v1").returncode == 0
        v1 = lab.manifest_digest(APP, "bench-v1")
        assert release(lab, APP, "bench-v2", second_version(lab.state_dir)).returncode == 0
        v2 = lab.manifest_digest(APP, "bench-v2")
        assert v1 and v2 and v1 != v2
        for count in args.hosts:
            per_count[count] = measure_hosts(lab, count, args.runs, v1, v2)
    finally:
        lab.down()
    write_page(args, release_times, per_count)


def write_page(args, release_times: dict[str, list[float]], per_count: dict[int, dict[str, list[float]]]) -> None:
    counts = sorted(per_count)
    lines = [
        "# Deploy benchmark", "",
        f"{measured()}, "
        f"the lab on this machine (lab hosts are containers reached over SSH on 127.0.0.1); "
        f"medians of {args.runs} runs, each run listed. Reproduce with:", "",
        f"    .venv/bin/python bench/deploy.py --runs {args.runs} --hosts {' '.join(map(str, args.hosts))}", "",
        "## Deploy, seconds (whole `ansible-playbook playbooks/deploy.yml` runs)", "",
        "| step | " + " | ".join(f"{count} host{'s' if count > 1 else ''}" for count in counts) + " |",
        "| --- |" + " --- |" * len(counts),
    ]
    for step in per_count[counts[0]]:
        cells = [f"{median(per_count[count][step]):.1f} ({', '.join(f'{v:.1f}' for v in per_count[count][step])})"
                 for count in counts]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", "## Ratios", "", "| ratio | " + " | ".join(f"{count} hosts" for count in counts) + " | goal |",
              "| --- |" + " --- |" * (len(counts) + 1)]
    for step in ("all at once", "rolling"):
        cells = [f"{median(per_count[c][step]) / median(per_count[c]['bare minimum']):.2f}" for c in counts]
        goal = "at most 2.0 for 4 hosts" if step == "all at once" else "(one host at a time, not parallel)"
        lines.append(f"| ours {step} / bare minimum | " + " | ".join(cells) + f" | {goal} |")
    first = counts[0]
    for step in ("first deploy", "no-op", "rolling", "all at once", "bare minimum"):
        cells = [f"{median(per_count[c][step]) / median(per_count[first][step]):.2f}" for c in counts]
        goal = "4 hosts at most 1.5" if step in ("first deploy", "no-op", "all at once") else ""
        lines.append(f"| growth of {step} against {first} host | " + " | ".join(cells) + f" | {goal} |")
    lines += ["", "## Release (`ansible-playbook playbooks/release.yml`)", "", "| step | median | runs |",
              "| --- | --- | --- |"]
    for step, values in release_times.items():
        if step.startswith("bytes"):
            lines.append(f"| {step} | {median(values):,.0f} B | {', '.join(f'{v:,.0f}' for v in values)} |")
        elif step.startswith("blob"):
            lines.append(f"| {step} (requests) | {median(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} |")
        else:
            lines.append(f"| {step} | {median(values):.1f} s | {', '.join(f'{v:.1f}' for v in values)} |")
    lines += ["", "## What is compared", "",
              "- *bare minimum*: `ssh host 'sudo docker pull -q IMAGE@DIGEST && sudo docker rm -f fragments &&",
              "  sudo docker run -d --name fragments --restart unless-stopped -p 8080:8080 IMAGE@DIGEST'` on every",
              "  host at once, logged in beforehand. It checks nothing: no health gate, no rollback, no lock, no",
              "  record, and the app is down on every host from `rm` until the new process listens.",
              "- *ours*: `deploy.yml` with the release's digest: deploy lock on every host, Docker checked, pull,",
              "  the new version started beside the old one and gated on its health, switch, health gate again",
              "  (rollback if it fails), deploy record, image pruning, locks given back. *rolling* changes one",
              "  host at a time (the default, so the fleet keeps answering); *all at once* is",
              "  `-e deploy_batch_size=100%`, the same parallelism as the bare minimum.",
              "- Every run starts from hosts with no app image, so each measured rollout pulls the new image.",
              "- Bytes received are the registry container's network counters (requests and blobs), before and",
              "  after each release run; a cold push uploads every layer except those already in the registry",
              "  under another repository (the base image layers, mounted across repositories)."]
    publish("deploy.md", "\n".join(lines))


if __name__ == "__main__":
    main()
