"""One source for every role input: each role's meta/argument_specs.yml declares every input
with its type, default and description; defaults/main.yml agrees with it; every entry point
anything calls is declared; each README's variables are written from the spec."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab import ROOT

COLLECTION = ROOT / "collections/ansible_collections/fragments/deploy"
ROLES = sorted(p for p in (COLLECTION / "roles").iterdir() if p.is_dir()) + [ROOT / "roles/lab"]


def specs(role: Path) -> dict:
    return yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_input_is_declared_with_its_default(role):
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    options = specs(role)["main"]["options"]
    # Inputs of other entry points only are declared there.
    everywhere = {name: option for spec in specs(role).values() for name, option in spec.get("options", {}).items()}
    assert sorted(set(defaults) - set(everywhere)) == [], "in defaults/main.yml but declared nowhere"
    for name, option in options.items():
        assert option.get("description"), f"{name} has no description"
        assert option.get("type"), f"{name} has no type"
        if option.get("required"):
            assert name not in defaults, f"{name} is required, yet has a default"
            continue
        assert "default" in option, f"{name} has no default in the spec"
        assert name in defaults, f"{name} is missing from defaults/main.yml"
        assert defaults[name] == option["default"], f"{name}: defaults/main.yml says {defaults[name]!r}"
    for name, value in defaults.items():
        if name not in options:
            assert everywhere[name].get("default") == value, f"{name}: defaults/main.yml says {value!r}"


def entry_points_called() -> set[tuple[str, str]]:
    """(role, tasks_from) of every include_role/import_role in the project."""
    calls = set()
    files = [p for folder in ("playbooks", "tests/playbooks", "molecule", "roles", "collections") for p in
             (ROOT / folder).rglob("*.yml")]
    pattern = re.compile(r"name:\s*(fragments\.deploy\.\w+|lab)\s*\n\s*tasks_from:\s*(\w+)")
    for path in files:
        for role, entry in pattern.findall(path.read_text()):
            calls.add((role.split(".")[-1], entry))
    return calls


def test_every_entry_point_that_is_called_is_declared():
    called = entry_points_called()
    assert ("container_app", "validate") in called and ("deploy", "plan") in called  # the search works
    for role, entry in sorted(called):
        folder = ROOT / "roles/lab" if role == "lab" else COLLECTION / "roles" / role
        assert entry in specs(folder), f"{role} has no argument spec for its entry point {entry}"
        assert (folder / "tasks" / f"{entry}.yml").exists()


def test_the_image_families_offered_are_the_ones_the_role_knows():
    families = yaml.safe_load((COLLECTION / "roles/ec2_hosts/vars/main.yml").read_text())["__ec2_hosts_ami_families"]
    assert specs(COLLECTION / "roles/ec2_hosts")["main"]["options"]["ec2_hosts_ami_family"]["choices"] == list(families)


def test_the_readmes_are_written_from_the_specs():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/role_docs.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_no_role_of_the_collection_knows_this_repository():
    for path in (COLLECTION / "roles").rglob("*"):
        if path.is_file() and path.suffix in (".yml", ".j2", ".md"):
            text = path.read_text()
            assert "playbook_dir" not in text, path
            assert "playbooks/" not in text, path
