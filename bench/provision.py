#!/usr/bin/env python3
"""Measure provisioning on the lab (moto + lab hosts): create 1 and 4 instances from
nothing (network, security group, key pair, instances, lab hosts, SSH answering), re-run
with no change, and tear down. Medians of repeated runs, written to
docs/benchmarks/provision.md.

    .venv/bin/python bench/provision.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from lab import Lab  # noqa: E402
from machine import measured, publish  # noqa: E402


def timed(lab: Lab, playbook: str, **extra) -> float:
    start = time.monotonic()
    run = lab.play(playbook, "-e", json.dumps(extra))
    assert run.returncode == 0, run.output
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lab = Lab(name="fragments-bench-ec2", registry_port=15653, moto_port=15710)
    lab.down()
    results: dict[str, list[float]] = {}
    try:
        assert lab.up().returncode == 0
        for count in (1, 4):
            for _ in range(args.runs):
                results.setdefault(f"create {count} from nothing", []).append(
                    timed(lab, "provision.yml", ec2_hosts_count=count))
                results.setdefault(f"re-run with {count}, no change", []).append(
                    timed(lab, "provision.yml", ec2_hosts_count=count))
                results.setdefault(f"teardown of {count}", []).append(
                    timed(lab, "teardown.yml", ec2_hosts_confirm="fragments-lab"))
    finally:
        lab.down()
    lines = [
        "# Provisioning benchmark", "",
        f"{measured()} against the "
        f"lab (moto's EC2 server, one lab host container per instance); medians of {args.runs} runs. "
        "Reproduce with:", "",
        f"    .venv/bin/python bench/provision.py --runs {args.runs}", "",
        "| run (playbook, whole ansible-playbook process) | median | runs |", "| --- | --- | --- |",
    ]
    for name, runs in results.items():
        lines.append(f"| {name} | {statistics.median(runs):.1f} s | {', '.join(f'{r:.1f}' for r in runs)} |")
    lines += ["", "Against real AWS the instance boot (about 10-40 s) and the first SSH login add to the",
              "create times; moto answers at once and a lab host starts in about a second."]
    publish("provision.md", "\n".join(lines))


if __name__ == "__main__":
    main()
