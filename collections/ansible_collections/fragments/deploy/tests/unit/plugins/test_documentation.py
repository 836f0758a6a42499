"""Every plugin documents itself: DOCUMENTATION, EXAMPLES and RETURN parse, and the
documented options match what the code accepts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
FILES = sorted(p for kind in ("modules", "filter") for p in (PLUGINS / kind).glob("*.py"))


def docs(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN")}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_plugin_documentation_parses(path):
    found = docs(path)
    assert set(found) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    documentation = yaml.safe_load(found["DOCUMENTATION"])
    assert documentation["short_description"]
    assert isinstance(yaml.safe_load(found["EXAMPLES"]), list)
    assert yaml.safe_load(found["RETURN"])
    if path.parent.name == "modules":
        assert documentation["attributes"]["check_mode"]["support"] in ("full", "partial", "none")
        source = path.read_text()
        for option in documentation.get("options", {}):
            assert f"{option}=dict(" in source, f"{path.name}: option {option} is documented but not accepted"
