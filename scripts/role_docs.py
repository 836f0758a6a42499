#!/usr/bin/env python3
"""Write the variables section of each role's README from its meta/argument_specs.yml, the
one source of every role input (type, default, choices, description).

    scripts/role_docs.py            rewrite the READMEs
    scripts/role_docs.py --check    fail, naming them, when a README is stale (the tests run this)

Everything above the marker line of a README is written by hand and kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES = ROOT / "collections/ansible_collections/fragments/deploy/roles"
MARKER = ("<!-- Everything below is written by scripts/role_docs.py from meta/argument_specs.yml: "
          "edit that file, then run the script. -->")


def cell(text: str) -> str:
    """One line of Markdown: Ansible's C(), O(), V() and I() markup as code and emphasis."""
    text = re.sub(r"\b[COV]\(([^()]*)\)", r"`\1`", " ".join(str(text).split()))
    return re.sub(r"\bI\(([^()]*)\)", r"*\1*", text).replace("|", "\\|")


def describe(option: dict) -> str:
    text = option.get("description", "")
    text = " ".join(text) if isinstance(text, list) else text
    if option.get("choices"):
        text += " One of " + ", ".join(f"`{json.dumps(choice) if choice == '' else choice}`" for choice in option["choices"]) + "."
    if option.get("no_log"):
        text += " Secret: never printed."
    return cell(text)


def kind(option: dict) -> str:
    if option.get("type") == "list" and option.get("elements"):
        return f"list of {option['elements']}"
    return option.get("type", "str")


def default(option: dict) -> str:
    if option.get("required"):
        return "**required**"
    value = option.get("default")
    return "`" + (value if isinstance(value, str) and value else json.dumps(value)).replace("|", "\\|") + "`"


def table(options: dict) -> list[str]:
    lines = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, option in options.items():
        lines.append(f"| `{name}` | {kind(option)} | {default(option)} | {describe(option)} |")
        for sub, suboption in (option.get("options") or {}).items():
            lines.append(f"| `{name}[].{sub}` | {kind(suboption)} | {default(suboption)} | {describe(suboption)} |")
    return lines


def generated(role: str, specs: dict) -> str:
    main = specs["main"]
    lines = ["## Variables", "",
             f"Every input, from `meta/argument_specs.yml` (also `ansible-doc -t role fragments.deploy.{role}`); "
             "`defaults/main.yml` holds the same defaults.", "",
             f"### Entry point `main`: {cell(main.get('short_description', ''))}", ""]
    for paragraph in main.get("description") or []:
        lines += [cell(paragraph), ""]
    lines += table(main.get("options", {}))
    others = [(name, spec) for name, spec in specs.items() if name != "main"]
    if others:
        lines += ["", "### Other entry points (`tasks_from`)", ""]
        for name, spec in others:
            same = spec.get("options", {}) == main.get("options", {})
            lines.append(f"- `{name}`: {cell(spec.get('short_description', ''))}"
                         + (" Takes the variables of `main`." if same else ""))
        for name, spec in others:
            if spec.get("options", {}) != main.get("options", {}):
                lines += ["", f"#### `{name}`", ""] + table(spec.get("options", {}))
    return "\n".join(lines) + "\n"


def readme(role_dir: Path) -> tuple[Path, str]:
    specs = yaml.safe_load((role_dir / "meta/argument_specs.yml").read_text())["argument_specs"]
    path = role_dir / "README.md"
    old = path.read_text() if path.exists() else f"# fragments.deploy.{role_dir.name}\n"
    by_hand = old.split(MARKER, 1)[0].rstrip("\n")
    return path, f"{by_hand}\n\n{MARKER}\n\n{generated(role_dir.name, specs)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say which READMEs are stale")
    args = parser.parse_args()
    stale = []
    for role_dir in sorted(p for p in ROLES.iterdir() if (p / "meta/argument_specs.yml").exists()):
        path, text = readme(role_dir)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(str(path.relative_to(ROOT)))
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print("stale, run scripts/role_docs.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    for name in stale if not args.check else []:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
