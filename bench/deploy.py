#!/usr/bin/env python3
"""Measure deploys on the lab with 1, 2 and 4 hosts against the bare minimum a person would
type, in the same run, and count the requests a version change drops. Medians of repeated
runs, written to docs/benchmarks/deploy.md.

    .venv/bin/python bench/deploy.py [--runs 3] [--hosts 1 2 4] [--release]

Per host count and run, every host starts with no app container and no app image (Docker
and the proxy stay installed):
  first deploy    deploy.yml of v1, one host at a time (pull, candidate, gate, switch)
  no-op           deploy.yml of v1 again
  rolling         deploy.yml of v2, one host at a time (the default), a request loop on every host
  all at once     from v1 again with no v2 image: deploy.yml of v2, deploy_batch_size=100%, loops on every host
  rolling, quiet / all at once, quiet   from v1 with no v2 image, the same rollouts with no request
                  loop: the loops' own load grows with the hosts, all of them on this machine's cores
  bare minimum    in parallel on every host (logged in beforehand), from v1 with no v2 image:
                  ssh host 'docker pull IMAGE@DIGEST && docker rm -f APP && docker run -d ...'
  bare minimum with login   the same, logging in first in the same ssh command (password on stdin)
  bare no-op      the bare minimum again with the image already there
A request loop asks each host every 20 ms through its proxy during the rollouts above; the
module's own timings (gate, switch, ...) come from the hosts' deploy records.
--release also measures the release cold and re-run (bytes and blob uploads the registry saw).
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
from functools import partial
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from lab import Lab  # noqa: E402
from loops import RequestLoop  # noqa: E402
from machine import measured, publish  # noqa: E402

APP = "fragments"
STEPS = ("first deploy", "no-op", "rolling", "all at once", "rolling, quiet", "all at once, quiet", "bare minimum",
         "bare minimum with login", "bare no-op")


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


def on_hosts(hosts: list[dict], command: str) -> list[str]:
    client = docker.from_env()
    outputs = []
    for host in hosts:
        result = client.containers.get(host["container"]).exec_run(["sh", "-c", command])
        assert result.exit_code == 0, result.output
        outputs.append(result.output.decode())
    return outputs


def empty_hosts(hosts: list[dict]) -> None:
    """No app container and no app image on any host: every run starts from the same state."""
    on_hosts(hosts, f"docker rm -f $(docker ps -aq --filter name=^{APP}) >/dev/null 2>&1;"
                    " docker image prune -af >/dev/null; test $(docker images -q | wc -l) = 0")


def forget_image(hosts: list[dict], lab: Lab, digest: str) -> None:
    on_hosts(hosts, f"docker rmi -f registry.lab:{lab.registry_port}/{APP}@{digest} >/dev/null 2>&1; true")


def ssh(lab: Lab, host: dict, command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-p", str(host["ansible_port"]), "-i", str(lab.state_dir / "id_ed25519"),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
         "-o", "BatchMode=yes", f"lab@{host['ansible_host']}", command],
        input=stdin, capture_output=True, text=True, timeout=300)


def bare(lab: Lab, hosts: list[dict], image: str, replace: bool = True, login: bool = False) -> float:
    """What a person types to roll `image` out: (log in,) pull, remove, run, on every host at
    once. The app publishes 8080 directly (the host's proxy keeps 80)."""
    run = f"sudo docker run -d --name {APP}-bare --restart unless-stopped -p 8080:8080 {image}"
    command = f"sudo docker pull -q {image} && " + (f"sudo docker rm -f {APP}-bare && {run}" if replace else run)
    if login:
        command = f"sudo docker login -u fragments --password-stdin registry.lab:{lab.registry_port} >/dev/null && " + command
    password = lab.registry_password() if login else None
    start = time.monotonic()
    with ThreadPoolExecutor(len(hosts)) as pool:
        results = list(pool.map(lambda host: ssh(lab, host, command, stdin=password), hosts))
    elapsed = time.monotonic() - start
    for result in results:
        assert result.returncode == 0, result.stderr
    return elapsed


def bare_login(lab: Lab, hosts: list[dict]) -> None:
    for host in hosts:
        # The password goes through stdin, never the command line.
        result = ssh(lab, host, f"sudo docker login -u fragments --password-stdin registry.lab:{lab.registry_port}",
                     stdin=lab.registry_password())
        assert result.returncode == 0, result.stderr


def bare_logout(lab: Lab, hosts: list[dict]) -> None:
    for host in hosts:
        ssh(lab, host, f"sudo docker logout registry.lab:{lab.registry_port} >/dev/null")


def deploy(lab: Lab, digest: str, env: dict | None = None, **extra):
    return lab.play("deploy.yml", "-e", json.dumps({"deploy_digest": digest, **extra}), env=env)


def under_load(lab: Lab, run) -> tuple[float, list[int], int]:
    """Time `run` while every host is asked every 20 ms through its proxy: seconds, failed
    requests per host, requests in all."""
    loops = [RequestLoop(url) for url in lab.app_urls()]
    for loop in loops:
        loop.__enter__()
    try:
        seconds = timed(run)
        time.sleep(0.5)
    finally:
        for loop in loops:
            loop.__exit__(None, None, None)
    return (seconds, [len(loop.failures) for loop in loops],
            sum(len(loop.failures) + sum(loop.versions.values()) for loop in loops))


def gate_seconds(hosts: list[dict], digest: str) -> list[float]:
    """The module's own health gate time on each host for its last deploy of `digest`."""
    gates = []
    for text in on_hosts(hosts, f"cat /var/lib/fragments-deploy/{APP}/deploys.jsonl"):
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        last = [r for r in records if r["digest"] == digest and r["outcome"] == "deployed"][-1]
        gates.append(last["seconds"]["gate"] + last["seconds"].get("check", 0))
    return gates


def measure_hosts(lab: Lab, count: int, runs: int, v1: str, v2: str) -> dict:
    assert lab.provision(count).returncode == 0
    hosts = lab.hosts()
    assert len(hosts) == count
    times: dict[str, list[float]] = {name: [] for name in STEPS}
    failed: dict[str, list[list[int]]] = {"rolling": [], "all at once": []}
    asked: dict[str, list[int]] = {"rolling": [], "all at once": []}
    gates: list[float] = []
    # New hosts have no Docker and no proxy: the first deploy installs them (timed once).
    with_install = timed(lambda: deploy(lab, v1, deploy_batch_size="100%"))
    print(f"{count} hosts, Docker and the proxy installed, then first deploy: {with_install:.1f} s", flush=True)
    image = f"registry.lab:{lab.registry_port}/{APP}@"
    for run in range(runs):
        print(f"{count} hosts, run {run + 1}/{runs}", flush=True)
        empty_hosts(hosts)
        times["first deploy"].append(timed(lambda: deploy(lab, v1)))
        times["no-op"].append(timed(lambda: deploy(lab, v1)))
        seconds, failures, total = under_load(lab, lambda: deploy(lab, v2))
        times["rolling"].append(seconds)
        failed["rolling"].append(failures)
        asked["rolling"].append(total)
        gates.extend(gate_seconds(hosts, v2))
        # Each from v1 with no v2 image; those with a failed-request count under the loops.
        for step, batch_size in (("all at once", "100%"), ("rolling, quiet", 1), ("all at once, quiet", "100%")):
            empty_hosts(hosts)
            assert deploy(lab, v1, deploy_batch_size="100%").returncode == 0
            change = partial(deploy, lab, v2, deploy_batch_size=batch_size)
            if step in failed:
                seconds, failures, total = under_load(lab, change)
                failed[step].append(failures)
                asked[step].append(total)
            else:
                seconds = timed(change)
            times[step].append(seconds)
        empty_hosts(hosts)
        bare_login(lab, hosts)
        bare(lab, hosts, image + v1, replace=False)
        times["bare minimum"].append(bare(lab, hosts, image + v2))
        times["bare no-op"].append(bare(lab, hosts, image + v2))
        bare_logout(lab, hosts)
        forget_image(hosts, lab, v2)
        times["bare minimum with login"].append(bare(lab, hosts, image + v2, login=True))
        bare_logout(lab, hosts)
        print({name: round(values[-1], 1) for name, values in times.items()},
              {name: values[-1] for name, values in failed.items()}, flush=True)
    empty_hosts(hosts)
    return {"times": times, "failed": failed, "asked": asked, "gates": gates, "install": with_install}


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
    parser.add_argument("--release", action="store_true", help="also measure the release cold and re-run")
    args = parser.parse_args()
    lab = Lab(name="fragments-bench-deploy", registry_port=15663, moto_port=15720)
    lab.down()
    per_count: dict[int, dict] = {}
    release_times = None
    try:
        assert lab.up().returncode == 0
        if args.release:
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


def write_page(args, release_times, per_count: dict[int, dict]) -> None:
    counts = sorted(per_count)
    first, last = counts[0], counts[-1]
    med = {count: {step: median(values) for step, values in per_count[count]["times"].items()} for count in counts}
    lines = [
        "# Deploy benchmark", "",
        f"{measured()}, the lab on this machine (lab hosts are containers reached over SSH on 127.0.0.1); "
        f"medians of {args.runs} runs, each run listed. Reproduce with:", "",
        f"    .venv/bin/python bench/deploy.py --runs {args.runs} --hosts {' '.join(map(str, args.hosts))}"
        + (" --release" if args.release else ""), "",
        "## Seconds (whole `ansible-playbook playbooks/deploy.yml` runs against whole ssh runs)", "",
        "| step | " + " | ".join(f"{count} host{'s' if count > 1 else ''}" for count in counts) + " |",
        "| --- |" + " --- |" * len(counts),
    ]
    for step in STEPS:
        cells = [f"{med[c][step]:.1f} ({', '.join(f'{v:.1f}' for v in per_count[c]['times'][step])})" for c in counts]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines.append("| Docker and the proxy installed on new hosts, then first deploy (once, all at once) | "
                 + " | ".join(f"{per_count[c]['install']:.1f}" for c in counts) + " |")
    gate = median(per_count[last]["gates"])
    adds = {step: ((med[last][step] - med[first][step]) / (last - first)) if last > first else float("nan")
            for step in ("rolling", "rolling, quiet")}
    goals = [
        ("version change, all at once, ours / bare minimum", "all at once", "bare minimum", "<= 2.0"),
        ("version change, all at once, ours / bare minimum with login", "all at once", "bare minimum with login", ""),
        ("version change, all at once, quiet, ours / bare minimum", "all at once, quiet", "bare minimum", ""),
        ("no-op re-run, ours / bare no-op", "no-op", "bare no-op", "<= 1.5"),
        ("no-op re-run, ours / bare minimum (its change)", "no-op", "bare minimum", "<= 1.2"),
    ]
    lines += ["", "## Against the goals", "", "| figure | " + " | ".join(f"{c} hosts" for c in counts) + " | goal |",
              "| --- |" + " --- |" * (len(counts) + 1)]
    for name, ours, theirs, goal in goals:
        lines.append(f"| {name} | " + " | ".join(f"{med[c][ours] / med[c][theirs]:.2f}" for c in counts)
                     + f" | {goal} |")
    for step in ("all at once", "all at once, quiet", "no-op", "bare minimum"):
        goal = "<= 1.3 at 4 hosts" if step == "all at once" else ""
        lines.append(f"| growth of {step} against {first} host | "
                     + " | ".join(f"{med[c][step] / med[first][step]:.2f}" for c in counts) + f" | {goal} |")
    lines += [f"| rolling: seconds each host adds ({first} -> {last} hosts) | {adds['rolling']:.1f} | | "
              f"<= its gate + 1 s = {gate + 1:.1f} (gate median {gate:.1f} s: candidate healthy, then healthy "
              "behind the proxy) |",
              f"| rolling, quiet: seconds each host adds ({first} -> {last} hosts) | {adds['rolling, quiet']:.1f} | | |"]
    lines += ["", "## Requests that failed during a version change (a 20 ms loop on every host, through its proxy)", "",
              "| rollout | " + " | ".join(f"{c} hosts" for c in counts) + " | goal |", "| --- |" + " --- |" * (len(counts) + 1)]
    for step in ("rolling", "all at once"):
        cells = [f"{sum(map(sum, per_count[c]['failed'][step]))} of {sum(per_count[c]['asked'][step]):,}" for c in counts]
        lines.append(f"| {step} | " + " | ".join(cells) + " | 0 |")
    if release_times:
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
              "  sudo docker run -d ... IMAGE@DIGEST'` on every host at once, logged in beforehand; *with login* logs",
              "  in first in the same command (password on stdin), as our deploy does whenever it pulls. It checks",
              "  nothing: no health gate, no rollback, no lock, no record, and the app is down on every host from `rm`",
              "  until the new process listens.",
              "- *ours*: `deploy.yml` with the release's digest: on every host at once one call that takes the lock,",
              "  checks Docker and the proxy and pulls; then per host (a batch at a time) one call that starts the new",
              "  version beside the old one, gates it on its HEALTHCHECK (run by `docker exec`, not at Docker's first",
              "  probe) and health path, switches the proxy, checks it through the proxy (three answers, the container",
              "  still up and not called unhealthy), drains and stops the old one, records, prunes;",
              "  then the locks given back. *rolling* changes one host at a time (the default); *all at once* is",
              "  `-e deploy_batch_size=100%`, the same parallelism as the bare minimum.",
              "- *rolling* and *all at once* run while a request loop asks every host every 20 ms (the failed",
              "  requests above); their *quiet* twins run with no loop, as the bare minimum does. The loops and",
              "  every lab host share this machine's 2 cores, so their load grows with the host count, where",
              "  EC2 hosts would each have their own.",
              "- Every measured change starts from hosts without the new image, so each pulls it."]
    publish("deploy.md", "\n".join(lines))


if __name__ == "__main__":
    main()
