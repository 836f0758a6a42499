"""Where a command's CPU goes on this machine, by part and by stage of the test command.

    .venv/bin/python bench/cpu_parts.py --json /tmp/parts.json -- bash .ci/run | tee /tmp/test.log
    .venv/bin/python bench/tests.py /tmp/test.log --parts /tmp/parts.json

Runs the command, passes its output through, and every second reads:
- each container's CPU from its cgroup (cgroup v1 cpuacct, /docker/<id>): the lab hosts, the
  Molecule instances, the registries and load balancers (named from Docker's own files), and
  the containers that run inside lab hosts (the apps: their engines are not the outer one, so
  Docker does not know their names);
- every other process's CPU from /proc, by what it is (ansible-playbook with its workers and
  the modules they run here, moto, pytest, dockerd, kernel threads...); one whose command
  line says nothing (a module's `python3` fed on stdin, a `sh -c`) counts with its parent.
  A process that ends between two reads is counted in the parent that reaps it (its
  children's times), as the kernel adds it there;
- the whole machine's busy time (/proc/stat), so that what no process or cgroup shows
  (interrupts, the sandbox) is the rest.
The stage is the last `=== NAME ===` line the command printed (scripts/test.sh's). Reading
costs about 1 % of a core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

CGROUPS = Path("/sys/fs/cgroup/cpuacct/docker")
CONTAINERS = Path("/var/lib/docker/containers")
TICK = os.sysconf("SC_CLK_TCK")
STAGE = re.compile(r"^=== (\w+) ===$")
OTHER = "other processes (shells, tools, and short-lived children of them)"
KERNEL = "kernel threads"


def container_part(container_id: str, names: dict[str, str]) -> str:
    """A container's part: what its name says it stands for, or an app inside a lab host."""
    if container_id not in names:
        try:
            config = json.loads((CONTAINERS / container_id / "config.v2.json").read_text())
            names[container_id] = config.get("Name", "").lstrip("/")
        except (OSError, ValueError):
            names[container_id] = ""
    name = names[container_id]
    if not name:
        return "containers inside lab hosts and instances (apps, builds)"
    if name.startswith("molecule-"):
        return "Molecule instances"
    if re.search(r"-i-[0-9a-f]+$", name):
        return "lab hosts (sshd, dockerd, modules run over SSH)"
    if name.endswith("-registry") or "registry" in name:
        return "registries"
    if "-lb-" in name:
        return "load balancer stand-ins"
    return "other containers"


def process_part(comm: str, cmdline: str) -> str:
    """A host process's part, from its name and command line."""
    if "ansible-playbook" in cmdline:
        return "ansible-playbook (workers, modules run here)"
    if "ansible-inventory" in cmdline:
        return "ansible-inventory"
    if "ansible-lint" in cmdline or "yamllint" in cmdline or "ansible-test" in cmdline:
        return "linters, ansible-test"
    if "molecule" in cmdline:
        return "molecule"
    if "lab_cloud.py" in cmdline or "moto" in cmdline:
        return "moto (the lab's cloud)"
    if "pytest" in cmdline or "exec(eval(sys.stdin.readline()))" in cmdline:  # pytest-xdist's workers (execnet)
        return "pytest (tests, their loops and clients)"
    if comm in ("dockerd", "containerd", "docker-proxy", "containerd-shim", "containerd-shim-runc-v2", "runc"):
        return "outer " + comm.split("-shim")[0]
    if comm == "docker" or comm.startswith("docker-"):
        return "docker CLI (builds, pushes)"
    if comm == "process_api":
        return "the sandbox (process_api)"
    return OTHER


def read_stat(pid: str) -> tuple[str, int, int, int] | None:
    """(comm, ppid, own ticks, reaped children's ticks) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return comm, int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def read_cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def in_container(pid: str) -> bool:
    try:
        return "/docker/" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return True


def machine_busy() -> float:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(fields[i]) for i in (0, 1, 2, 5, 6, 7)) / TICK


class Sampler:
    def __init__(self):
        self.stage = "set-up"
        self.parts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.machine: dict[str, float] = defaultdict(float)
        self.names: dict[str, str] = {}
        self.cgroups: dict[str, int] = {}
        self.procs: dict[str, tuple[int, int, int, str, str]] = {}  # pid: ppid, own, children, part, comm
        self.contained: set[str] = set()  # pids in containers' cgroups
        self.credit: dict[str, int] = defaultdict(int)  # ticks already counted of a parent's reaped children
        self.busy = machine_busy()
        self.stop = threading.Event()

    def add(self, part: str, seconds: float) -> None:
        if seconds > 0:
            self.parts[self.stage][part] += seconds

    def sample(self) -> None:
        for entry in os.scandir(CGROUPS) if CGROUPS.is_dir() else ():
            try:
                usage = int(Path(entry.path, "cpuacct.usage").read_text())
            except (OSError, ValueError):
                continue
            before = self.cgroups.get(entry.name, 0)
            self.cgroups[entry.name] = usage
            self.add(container_part(entry.name, self.names), (usage - before) / 1e9)
        seen = {}
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        alive = set(pids)
        self.contained &= alive
        # Those gone since the last read, before their parents' children's ticks are read.
        self.credit_ended(alive)
        for pid in pids:
            if pid in self.contained:
                continue
            stat = read_stat(pid)
            if stat is None:
                continue
            if pid in self.procs:
                _ppid, own, children, part, comm = self.procs[pid]
                if comm != stat[0]:  # it ran another program (exec): what it is now
                    part = self.part(pid, stat, seen)
            else:
                if in_container(pid):  # counted with its cgroup
                    self.contained.add(pid)
                    continue
                # All its ticks are new (the first read, before the command starts, is thrown away).
                own = children = 0
                part = self.part(pid, stat, seen)
            # A container's processes are counted with its cgroup, the shim that reaps its first
            # process (with all it reaped) is not told apart: none of a shim's children count.
            new_children = 0 if stat[0].startswith("containerd-shim") else stat[3] - children
            counted = min(self.credit.get(pid, 0), new_children)
            if counted:
                self.credit[pid] -= counted
            self.add(part, (stat[2] - own + new_children - counted) / TICK)
            seen[pid] = (stat[1], stat[2], stat[3], part, stat[0])
        # Those that ended during this read.
        self.procs = {**{pid: p for pid, p in self.procs.items() if pid not in seen}, **seen}
        self.credit_ended(set(seen))
        busy = machine_busy()
        self.machine[self.stage] += busy - self.busy
        self.busy = busy

    def part(self, pid: str, stat: tuple[str, int, int, int], seen: dict) -> str:
        """A process's part: kernel threads apart; one its command line does not place (a
        module's `python3` fed on stdin, a `sh -c`) takes its parent's, so that the modules
        an ansible-playbook runs count with it, whichever read sees them."""
        comm, ppid = stat[0], stat[1]
        if ppid == 2 or (ppid == 0 and comm == "kthreadd"):
            return KERNEL
        part = process_part(comm, read_cmdline(pid))
        if part == OTHER and ppid > 1:  # not one init adopted: its parent is gone
            parent = seen.get(str(ppid)) or self.procs.get(str(ppid))
            if parent:
                return parent[3]
        return part

    def credit_ended(self, alive: set[str]) -> None:
        """A process that ended: what was counted of it will be in its parent's children's
        ticks once reaped, so it is taken off there (in this read or a later one)."""
        ended = {}
        for pid in [pid for pid in self.procs if pid not in alive]:
            ppid, own, children, _part, _comm = self.procs.pop(pid)
            self.credit[str(ppid)] += own + children
            ended[pid] = str(ppid)
        # With what was counted of its own children that it reaped after its last read,
        # whichever order parents and children ended in.
        moved = True
        while moved:
            moved = False
            for pid, ppid in ended.items():
                if self.credit.get(pid):
                    self.credit[ppid] += self.credit.pop(pid)
                    moved = True

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.sample()
        self.sample()

    def report(self) -> dict:
        out = {}
        for stage, machine in self.machine.items():
            parts = dict(sorted(self.parts[stage].items(), key=lambda kv: -kv[1]))
            parts["the rest (kernel, interrupts, processes gone unseen)"] = max(machine - sum(parts.values()), 0)
            out[stage] = {"machine": round(machine, 1), "parts": {k: round(v, 1) for k, v in parts.items()}}
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", required=True, type=Path, help="where to write the CPU seconds by stage and part")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    sampler = Sampler()
    sampler.sample()  # the processes already running: from now on
    sampler.parts.clear()
    sampler.machine.clear()
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in child.stdout:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
        found = STAGE.match(line.decode(errors="replace").strip())
        if found:
            sampler.stage = found[1]
    code = child.wait()
    sampler.stop.set()
    thread.join()
    args.json.write_text(json.dumps(sampler.report(), indent=1) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
