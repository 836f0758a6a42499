"""bench/cpu_parts.py against real processes: the command's output and exit code pass
through, each stage gets what ran in it, a process its command line does not place counts
with its parent, and a process that ends between two reads is counted once, never again in
the shells that reaped it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lab import ROOT

# Burns CPU for about argv[1] seconds, then prints what it used. Its command line places it
# nowhere, so it counts with its parent: "molecule" in the command lines of the shells above
# it puts them all in the molecule part, which nothing else running on the machine (lint,
# beside the unit tests) falls into.
BURN = """import sys, time
end = time.process_time() + float(sys.argv[1])
while time.process_time() < end:
    pass
print('burnt', time.process_time())
"""


def test_a_nested_short_lived_burn_is_counted_once_in_its_stage(tmp_path):
    # Not under tmp_path: "pytest" in the burn's path would place it in pytest's part.
    burn_dir = Path(tempfile.mkdtemp(prefix="burn-"))
    parts_file, burn_file = tmp_path / "parts.json", burn_dir / "burn.py"
    burn_file.write_text(BURN)
    # sh -> sh -> python; the inner shell reaps the burn and lives on past the next read.
    script = (f"echo '=== quiet ==='; sleep 1.1; echo '=== burn ==='; "
              f"sh -c '{sys.executable} {burn_file} 2; sleep 1.1 # molecule-probe'; exit 3 # molecule-probe")
    try:
        run = subprocess.run([sys.executable, str(ROOT / "bench/cpu_parts.py"), "--json", str(parts_file), "--",
                              "sh", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    finally:
        shutil.rmtree(burn_dir)
    assert run.returncode == 3, run.stderr
    assert "=== burn ===" in run.stdout
    burnt = float(run.stdout.split("burnt ")[1].split()[0])
    report = json.loads(parts_file.read_text())
    burn = report["burn"]["parts"]
    # Counted once: counted again in each shell that reaped it, it would be two or three times.
    assert 0.85 * burnt <= burn["molecule"] <= 1.15 * burnt + 0.2, report
    assert report["quiet"]["parts"].get("molecule", 0) == 0, report
    for stage in report.values():
        # The parts never add up to more than the machine was busy (but for the reads' rounding).
        assert sum(v for k, v in stage["parts"].items() if not k.startswith("the rest")) <= stage["machine"] + 0.5
