#!/usr/bin/env python3
"""GET a URL every few milliseconds for a bounded time; write what answered as JSON.

    request_loop.py URL SECONDS OUT.json [--until-file PATH]

Counts answers by the `version` field of the JSON body, and failures. Stops after
SECONDS, or earlier once --until-file exists. Only for loopback targets.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.parse
import urllib.request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("seconds", type=float)
    parser.add_argument("out")
    parser.add_argument("--until-file")
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    host = urllib.parse.urlparse(args.url).hostname or ""
    if not host.startswith("127."):
        raise SystemExit(f"request_loop only targets 127.0.0.0/8, not {host}")
    versions: dict[str, int] = {}
    failures = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        if args.until_file and os.path.exists(args.until_file):
            break
        try:
            with urllib.request.urlopen(args.url, timeout=2) as response:
                version = str(json.loads(response.read()).get("version"))
                versions[version] = versions.get(version, 0) + 1
        except Exception:  # noqa: BLE001 - every failure counts
            failures += 1
        time.sleep(args.interval)
    with open(args.out, "w") as handle:
        json.dump({"versions": versions, "failures": failures}, handle)


if __name__ == "__main__":
    main()
