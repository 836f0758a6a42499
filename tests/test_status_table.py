"""The status table stays one line per host whatever the terminal's width (the callback
prints the message as a block, never folding it), and its JSON form parses."""

from __future__ import annotations

import json
import re

import pytest

from lab import ROOT, ansible_playbook


@pytest.mark.parametrize("columns", ["80", "200"])
def test_one_line_per_host_and_json_that_parses(columns):
    run = ansible_playbook("status_table.yml", inventories=["localhost,"], playbook_dir=ROOT / "tests/playbooks",
                           env={"COLUMNS": columns}, timeout=120)
    assert run.returncode == 0, run.output
    rows = [line for line in run.output.splitlines() if "fragments-production-i-0a1b2c3d4e5f6a7b" in line
            and "sha256:5c1e0a9b7f3d" in line]
    assert len(rows) == 3, run.output
    for row in rows:
        assert row.rstrip().endswith("DRIFT: wants sha256:9d8e7f6a5b4c (locked by alice@laptop)")
        assert len(row.strip()) > int(columns) or columns == "200"
    header = next(line for line in run.output.splitlines() if line.strip().startswith("HOST "))
    assert [header.index(word) for word in ("INSTANCE", "DIGEST", "TAGS")] == \
        [rows[0].index(value) for value in ("i-0a1b2c3d4e5f6a7b8", "sha256:5c1e0a9b7f3d", "latest,lab-6")]
    block = re.search(r"msg: \|-\n((?:        .*\n)+)", run.output[run.output.index("Print the same as JSON"):])
    document = json.loads("\n".join(line[8:] for line in block.group(1).splitlines()))
    assert len(document["hosts"]) == 3 and document["hosts"][0]["tags"] == ["latest", "lab-6", "4f1c2d3e5a6b"]
