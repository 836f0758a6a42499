"""What every benchmark page shares: when and on what machine it was measured, and how
it is written to docs/benchmarks/."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path


def measured() -> str:
    """'Measured <UTC time> on <N> cores (<CPU model>)'."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    return f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu})"


# A page may end with notes written by hand after a run, below this line; writing the page
# again keeps them (review them against the new figures).
BY_HAND = "<!-- written by hand below -->"
PAGES = Path(__file__).resolve().parents[1] / "docs/benchmarks"


def publish(name: str, text: str) -> None:
    """Write docs/benchmarks/<name>, keeping its notes by hand, and print it."""
    out = PAGES / name
    old = out.read_text() if out.exists() else ""
    notes = BY_HAND + old.split(BY_HAND, 1)[1] if BY_HAND in old else ""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.rstrip("\n") + "\n" + (f"\n{notes}" if notes else ""))
    print(out.read_text())
