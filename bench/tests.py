"""Where the test command's time goes, read from the log of one run of it, written to
docs/benchmarks/tests.md (notes by hand below the marker are kept).

    (export FRAGMENTS_TEST_PLAYS=/tmp/plays.jsonl; time bash .ci/run) 2>&1 | tee /tmp/test.log
    .venv/bin/python bench/tests.py /tmp/test.log [--plays /tmp/plays.jsonl] [--parts /tmp/parts.json]
        [--label "after, fresh clone"]

It reads the lines scripts/test.sh prints: each stage's seconds and the whole machine's CPU
seconds during it, each Molecule scenario's seconds and CPU, pytest's --durations=0 lines of
the e2e stage (set-up, call and tear-down of each test, summed per file), and the `real`
line of `time` for the whole run. With --plays, the e2e tests' playbook runs (one JSON line
each, written by tests/lab.py when FRAGMENTS_TEST_PLAYS names a file): count, wall and CPU
per test file and per playbook. With --parts, the CPU of each stage by part, from
bench/cpu_parts.py run around the same command.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from machine import measured, publish

STAGE = re.compile(r"^=== (\w+) passed in (\d+)s(?: \(machine CPU (\d+) s of (\d+)\))? ===$", re.M)
SCENARIO = re.compile(r"^molecule (\w+): (\d+) s(?: \(CPU (\d+) s\))?$", re.M)
DURATION = re.compile(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S+?)::(\S+)$", re.M)
REAL = re.compile(r"^real\s+(\d+)m([\d.]+)s$", re.M)


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {round(seconds % 60):02d} s"


def read(log: str) -> dict:
    per_file: dict[str, float] = defaultdict(float)
    per_test: dict[str, float] = defaultdict(float)
    for seconds, _, path, test in DURATION.findall(log):
        per_file[path] += float(seconds)
        per_test[f"{path}::{test}"] += float(seconds)
    real = REAL.search(log)
    return {
        "stages": {name: (int(seconds), cpu, of) for name, seconds, cpu, of in STAGE.findall(log)},
        "scenarios": {name: (int(seconds), cpu) for name, seconds, cpu in SCENARIO.findall(log)},
        "files": dict(sorted(per_file.items(), key=lambda item: -item[1])),
        "tests": sorted(per_test.items(), key=lambda item: -item[1])[:15],
        "wall": int(real[1]) * 60 + float(real[2]) if real else None,
    }


def read_plays(path: Path) -> dict:
    """Playbook runs summed per test file and per playbook: [count, wall, CPU]."""
    per_file: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    per_playbook: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for line in path.read_text().splitlines():
        play = json.loads(line)
        for row in (per_file[play["test"].split("::")[0] or "(no test)"], per_playbook[play["playbook"]]):
            row[0] += 1
            row[1] += play["wall"]
            row[2] += play["cpu"]

    def by_cpu(rows):
        return dict(sorted(rows.items(), key=lambda item: -item[1][2]))
    return {"files": by_cpu(per_file), "playbooks": by_cpu(per_playbook)}


def plays_section(plays: dict) -> list[str]:
    total = [sum(row[i] for row in plays["files"].values()) for i in range(3)]
    lines = [
        "## End-to-end playbook runs (ansible-playbook and its processes on the control node)", "",
        f"{total[0]} runs, {total[1]:.0f} s of wall time, {total[2]:.0f} s of CPU.", "",
        "| file | runs | wall s | CPU s |", "| --- | --- | --- | --- |",
        *(f"| {name} | {n} | {wall:.0f} | {cpu:.0f} |" for name, (n, wall, cpu) in plays["files"].items()), "",
        "| playbook | runs | wall s | CPU s | CPU s per run |", "| --- | --- | --- | --- | --- |",
        *(f"| {name} | {n} | {wall:.0f} | {cpu:.0f} | {cpu / n:.1f} |"
          for name, (n, wall, cpu) in plays["playbooks"].items()), "",
    ]
    return lines


def scenarios_section(scenarios: dict) -> list[str]:
    return [
        "## Molecule scenarios (side by side; the stage lasts as long as the slowest)", "",
        "CPU: the scenario's processes on the control node (its instances' own processes not included).", "",
        "| scenario | seconds | CPU s |", "| --- | --- | --- |",
        *(f"| {name} | {seconds} | {cpu or 'not measured'} |"
          for name, (seconds, cpu) in sorted(scenarios.items(), key=lambda i: -i[1][0])), "",
    ]


def parts_section(parts: dict) -> list[str]:
    """The CPU of each stage by part (bench/cpu_parts.py's JSON), one column per stage."""
    # Lint runs behind the other stages and prints its lines between two of them once it has
    # ended: what follows those lines is a second or two, left out like an empty set-up (its
    # CPU shows as "linters, ansible-test" in the stages it ran beside).
    stages = [stage for stage in parts if parts[stage]["machine"] >= 5]
    names = sorted({name for stage in stages for name in parts[stage]["parts"]},
                   key=lambda name: -sum(parts[stage]["parts"].get(name, 0) for stage in stages))
    return [
        "## Where the CPU goes (CPU seconds by part, read every second by bench/cpu_parts.py)", "",
        # Lint and unit print their lines when both have ended: their CPU is in set-up's column.
        "| part | " + " | ".join("set-up, lint and unit" if stage == "set-up" else stage for stage in stages) + " |",
        "| --- |" + " --- |" * len(stages),
        *(f"| {name} | " + " | ".join(f"{parts[stage]['parts'].get(name, 0):.0f}" for stage in stages) + " |"
          for name in names),
        "| **the whole machine** | " + " | ".join(f"**{parts[stage]['machine']:.0f}**" for stage in stages) + " |", "",
    ]


def page(figures: dict, label: str) -> str:
    lines = [
        "# Test command time", "",
        f"{measured()}. {label}. Written from the log of one run of `bash .ci/run` by:", "",
        "    .venv/bin/python bench/tests.py LOG --plays CLONE/.lab/test-plays.jsonl"
        + (" --parts PARTS.json" if figures.get("parts") else ""), "",
        f"Whole run: **{minutes(figures['wall'])}**." if figures["wall"] else "Whole run: not timed.", "",
        "## Stages (unit, then Molecule, then end to end; lint behind them at nice 19, its line printed between two stages once it ended)", "",
        "The machine's CPU: busy CPU seconds of the whole machine during the stage, of the most its cores "
        "could give in that time.", "",
        "| stage | seconds | machine CPU s |", "| --- | --- | --- |",
        *(f"| {name} | {seconds} | {f'{cpu} of {of}' if cpu else 'not measured'} |"
          for name, (seconds, cpu, of) in figures["stages"].items()), "",
        *(scenarios_section(figures["scenarios"]) if figures["scenarios"] else []),
        "## End-to-end files (two workers; seconds of set-up, calls and tear-down summed per file)", "",
        "| file | seconds |", "| --- | --- |",
        *(f"| {name} | {seconds:.0f} |" for name, seconds in figures["files"].items()), "",
        "## Slowest end-to-end tests", "", "| test | seconds |", "| --- | --- |",
        *(f"| {name} | {seconds:.1f} |" for name, seconds in figures["tests"]), "",
        *(plays_section(figures["plays"]) if figures.get("plays") else []),
        *(parts_section(figures["parts"]) if figures.get("parts") else []),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--plays", type=Path, help="the FRAGMENTS_TEST_PLAYS file of the same run")
    parser.add_argument("--parts", type=Path, help="bench/cpu_parts.py's JSON of the same run")
    parser.add_argument("--label", default="From a fresh clone, daemon running")
    args = parser.parse_args()
    figures = read(args.log.read_text(errors="replace"))
    if args.plays:
        figures["plays"] = read_plays(args.plays)
    if args.parts:
        figures["parts"] = json.loads(args.parts.read_text())
    if not figures["stages"]:
        raise SystemExit(f"{args.log} holds no '=== STAGE passed in Ns ===' line: is it a log of scripts/test.sh?")
    publish("tests.md", page(figures, args.label))


if __name__ == "__main__":
    main()
