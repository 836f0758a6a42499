"""Where the test command's time goes, read from the log of one run of it, written to
docs/benchmarks/tests.md (notes by hand below the marker are kept).

    (time bash .ci/run) 2>&1 | tee /tmp/test.log
    .venv/bin/python bench/tests.py /tmp/test.log [--label "after, fresh clone"]

It reads the lines scripts/test.sh prints: each stage's seconds, each Molecule scenario's
seconds, and pytest's --durations=0 lines of the e2e stage (set-up, call and tear-down of
each test, summed per file), and the `real` line of `time` for the whole run.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

from machine import measured, publish

STAGE = re.compile(r"^=== (\w+) passed in (\d+)s ===$", re.M)
SCENARIO = re.compile(r"^molecule (\w+): (\d+) s$", re.M)
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
        "stages": {name: int(seconds) for name, seconds in STAGE.findall(log)},
        "scenarios": {name: int(seconds) for name, seconds in SCENARIO.findall(log)},
        "files": dict(sorted(per_file.items(), key=lambda item: -item[1])),
        "tests": sorted(per_test.items(), key=lambda item: -item[1])[:15],
        "wall": int(real[1]) * 60 + float(real[2]) if real else None,
    }


def page(figures: dict, label: str) -> str:
    lines = [
        "# Test command time", "",
        f"{measured()}. {label}. Written from the log of one run of `bash .ci/run` by:", "",
        "    .venv/bin/python bench/tests.py LOG", "",
        f"Whole run: **{minutes(figures['wall'])}**." if figures["wall"] else "Whole run: not timed.", "",
        "## Stages (lint and unit side by side, then Molecule, then end to end)", "",
        "| stage | seconds |", "| --- | --- |",
        *(f"| {name} | {seconds} |" for name, seconds in figures["stages"].items()), "",
        "## Molecule scenarios (side by side; the stage lasts as long as the slowest)", "",
        "| scenario | seconds |", "| --- | --- |",
        *(f"| {name} | {seconds} |" for name, seconds in sorted(figures["scenarios"].items(), key=lambda i: -i[1])), "",
        "## End-to-end files (two workers; seconds of set-up, calls and tear-down summed per file)", "",
        "| file | seconds |", "| --- | --- |",
        *(f"| {name} | {seconds:.0f} |" for name, seconds in figures["files"].items()), "",
        "## Slowest end-to-end tests", "", "| test | seconds |", "| --- | --- |",
        *(f"| {name} | {seconds:.1f} |" for name, seconds in figures["tests"]),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--label", default="From a fresh clone, daemon running")
    args = parser.parse_args()
    figures = read(args.log.read_text(errors="replace"))
    if not figures["stages"]:
        raise SystemExit(f"{args.log} holds no '=== STAGE passed in Ns ===' line: is it a log of scripts/test.sh?")
    publish("tests.md", page(figures, args.label))


if __name__ == "__main__":
    main()
