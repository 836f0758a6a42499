#!/usr/bin/env python3
"""Measure the README's run command on a lab of 2 hosts (lab up + site.yml, cold and
warm), a v1 -> v2 rollout under a request loop, and what each ansible.cfg connection
setting buys: a no-op deploy.yml with the repository's settings and with each one
switched off in turn, plus fact gathering (full against the `min` subset the roles use).
Medians of repeated runs for the settings, written to docs/benchmarks/ansible-cfg.md.

    .venv/bin/python bench/ansible_cfg.py [--runs 3] [--hosts 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from lab import Lab, ansible_playbook  # noqa: E402
from machine import measured, publish  # noqa: E402
from loops import FleetLoop  # noqa: E402

VARIANTS = {
    "repository settings (pipelining, ControlPersist 60s, forks 10)": {},
    "pipelining off": {"ANSIBLE_PIPELINING": "False"},
    "ControlPersist off (a new SSH connection per task)": {"ANSIBLE_SSH_ARGS": "-o ControlMaster=no"},
    "forks 1 (hosts one after another)": {"ANSIBLE_FORKS": "1"},
}


def timed(run) -> float:
    start = time.monotonic()
    result = run()
    assert result.returncode == 0, result.output
    return time.monotonic() - start


def adhoc_setup(lab: Lab, subset: str) -> float:
    command = [str(ROOT / ".venv/bin/ansible"), "fragments_hosts", "-m", "ansible.builtin.setup",
               "-a", f"gather_subset={subset}"]
    for inventory in lab.inventories:
        command += ["-i", inventory]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    start = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=2)
    args = parser.parse_args()
    lab = Lab(name="fragments-bench-cfg", registry_port=15643, moto_port=15700)
    lab.down()
    rows = []
    try:
        count = json.dumps({"ec2_hosts_count": args.hosts})
        rows.append(("lab up, cold (make lab-up)", [timed(lab.up)]))
        rows.append(("site.yml, cold (first release, provision, deploy, status)",
                     [timed(lambda: lab.play("site.yml", "-e", count))]))
        rows.append(("site.yml, warm (nothing to change)", [timed(lambda: lab.play("site.yml", "-e", count))]))
        for name, env in VARIANTS.items():
            runs = [timed(lambda: ansible_playbook("deploy.yml", inventories=lab.inventories, env=env))
                    for _ in range(args.runs)]
            rows.append((f"no-op deploy.yml, {name}", runs))
        for subset in ("all", "min"):
            runs = [adhoc_setup(lab, subset) for _ in range(args.runs)]
            rows.append((f"`setup` gather_subset={subset}", runs))
        assert lab.play("release.yml", "-e", json.dumps({"release_labels": ["bench-v2"]})).returncode == 0
        with FleetLoop(lab.app_urls()) as loop:
            rows.append(("rolling v1 -> v2 (deploy.yml, batch 1)",
                         [timed(lambda: ansible_playbook("deploy.yml", inventories=lab.inventories))]))
        rollout = (f"During the rollout a loop asked each host in turn every 20 ms: {loop.requests} requests, "
                   f"{loop.fleet_failures} failed for the fleet (no host answered), failed per host "
                   f"{list(loop.host_failures.values())}, answers {loop.versions}.")
    finally:
        lab.down()
    lines = [
        "# ansible.cfg benchmark", "",
        f"{measured()}, "
        f"a lab of {args.hosts} hosts on this machine; medians of {args.runs} runs. Reproduce with:", "",
        f"    .venv/bin/python bench/ansible_cfg.py --runs {args.runs} --hosts {args.hosts}", "",
        "| run | median | runs |", "| --- | --- | --- |",
    ]
    baseline = statistics.median(next(runs for name, runs in rows if name.startswith("no-op")))
    for name, runs in rows:
        median = statistics.median(runs)
        ratio = f" ({median / baseline:.2f}x)" if name.startswith("no-op") else ""
        lines.append(f"| {name} | {median:.1f} s{ratio} | {', '.join(f'{r:.1f}' for r in runs)} |")
    lines += ["", rollout, "", "The lab hosts are containers on this machine, so SSH round trips cost far less than to",
              "EC2 across a network: every setting that saves round trips saves more there."]
    publish("ansible-cfg.md", "\n".join(lines))


if __name__ == "__main__":
    main()
