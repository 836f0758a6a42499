#!/usr/bin/env python3
"""Measure what the deploy role's batch loop costs Ansible as the fleet grows, on a model of
it that needs no lab: N hosts on the local connection, batches of one, each host's note a
`set_fact` and the tally a `run_once` `set_fact` after each batch, as in roles/deploy/tasks
(main.yml's loop, batch.yml, change.yml), with no module call in the change. Two ways to
loop, alternated in each round:

  every batch     each host includes every batch (the role until 842d14d)
  up to its own   each host includes the batches up to its own (filter batches, through=)

Each run also checks that the changes ran in the inventory's order. Medians of wall time
and of the CPU seconds of ansible-playbook and its processes, written to
docs/benchmarks/batches.md.

    .venv/bin/python bench/batches.py [--runs 3] [--hosts 4 8 16 32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import measured, publish

ROOT = Path(__file__).resolve().parents[1]
MODES = {"every batch": "", "up to its own": "inventory_hostname"}

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Note the prepare
      ansible.builtin.set_fact:
        note: {outcome: ""}
    - name: Tally the prepare
      ansible.builtin.set_fact:
        tally: {stopped: false, not_tried: "{{ ansible_play_hosts }}"}
      run_once: true
    - name: Change the hosts a batch at a time
      ansible.builtin.include_tasks: batch.yml
      loop: "{{ ansible_play_hosts | fragments.deploy.batches(1, through=(%(through)s)) }}"
      loop_control: {loop_var: batch, label: "{{ batch | join(', ') }}"}
      when:
        - not tally.stopped
        - batch | intersect(tally.not_tried) | length > 0
    - name: Write when each host changed
      ansible.builtin.copy:
        content: "{{ ansible_play_hosts | map('extract', hostvars, 'changed_at') | list | to_json }}"
        dest: changed_at.json
        mode: "0600"
      run_once: true
"""
BATCH = """
- name: "Change {{ batch | join(', ') }}"
  ansible.builtin.include_tasks: change.yml
  when:
    - inventory_hostname in batch
    - not note.outcome
    - not tally.stopped
- name: Tally the batch
  ansible.builtin.set_fact:
    tally: {stopped: false, not_tried: "{{ tally.not_tried | difference(batch) }}"}
  run_once: true
"""
CHANGE = """
- name: Note the change, and when
  ansible.builtin.set_fact:
    note: {outcome: updated}
    changed_at: "{{ now().timestamp() }}"
"""


def run(folder: Path, hosts: int, through: str) -> tuple[float, float]:
    """Wall and CPU seconds of one run; fails unless the hosts changed in inventory order."""
    inventory = {"all": {"hosts": {"h%03d" % i: None for i in range(hosts)},
                         "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}
    (folder / "inventory.json").write_text(json.dumps(inventory))
    (folder / "play.yml").write_text(PLAY % {"through": through or "''"})
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run([str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(folder / "inventory.json"),
                           str(folder / "play.yml")], cwd=folder, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    order = json.loads((folder / "changed_at.json").read_text())
    assert order == sorted(order, key=float), "changes out of inventory order: %s" % order
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, nargs="+", default=[4, 8, 16, 32])
    args = parser.parse_args()
    results: dict[tuple[int, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        (folder / "batch.yml").write_text(BATCH)
        (folder / "change.yml").write_text(CHANGE)
        for _ in range(args.runs):
            for hosts in args.hosts:
                for mode, through in MODES.items():
                    results.setdefault((hosts, mode), []).append(run(folder, hosts, through))
    lines = [
        "# The batch loop's cost as the fleet grows", "",
        f"{measured()}; medians of {args.runs} alternated runs. A model of the deploy role's batch "
        "loop on local hosts, batches of one, no module call in the change (see the script's "
        "docstring). Reproduce with:", "",
        f"    .venv/bin/python bench/batches.py --runs {args.runs} --hosts {' '.join(map(str, args.hosts))}", "",
        "| hosts | " + " | ".join(f"{mode}: wall, CPU" for mode in MODES) + " | wall, up to its own / every batch |",
        "| --- | " + " | ".join("---" for _ in MODES) + " | --- |",
    ]
    for hosts in args.hosts:
        medians = {mode: [statistics.median(r[i] for r in results[(hosts, mode)]) for i in (0, 1)] for mode in MODES}
        lines.append(f"| {hosts} | " + " | ".join(f"{medians[m][0]:.2f} s, {medians[m][1]:.2f} s" for m in MODES)
                     + f" | {medians['up to its own'][0] / medians['every batch'][0]:.2f} |")
    lines += ["", "Every run checked that the hosts changed in the inventory's order."]
    publish("batches.md", "\n".join(lines))


if __name__ == "__main__":
    main()
