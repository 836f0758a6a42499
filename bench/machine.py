"""What every benchmark page starts with: when, and on what machine."""

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
