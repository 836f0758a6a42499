"""The toolchain's cache of module payloads (scripts/fragments_ansiballz_cache.py, installed in
the venv by scripts/setup.sh): a second playbook run takes the payload the first one built; a
module_utils file changed in place, same size, makes a new build; a directory open to others
is not used."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lab import ROOT

MODULE = """#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.probe.cache.plugins.module_utils.words import WORD


def main():
    AnsibleModule(argument_spec={}).exit_json(changed=False, word=WORD)


if __name__ == "__main__":
    main()
"""
PLAYBOOK = """- hosts: localhost
  gather_facts: false
  tasks:
    - probe.cache.answer:
      register: answer
    - ansible.builtin.debug:
        msg: "word={{ answer.word }}"
"""
ENTRY = "ansible_collections.probe.cache.plugins.modules.answer-"


def collection(tmp_path: Path) -> Path:
    root = tmp_path / "collections/ansible_collections/probe/cache"
    (root / "plugins/modules").mkdir(parents=True)
    (root / "plugins/module_utils").mkdir(parents=True)
    (root / "galaxy.yml").write_text("namespace: probe\nname: cache\nversion: 1.0.0\nauthors: [t]\nreadme: README.md\n")
    (root / "plugins/modules/answer.py").write_text(MODULE)
    (root / "plugins/module_utils/words.py").write_text('WORD = "one"\n')
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    return root


def play(tmp_path: Path, store: Path) -> tuple[str, str]:
    """The word the module answered, and whether Ansible built its payload or found it."""
    env = {**os.environ, "FRAGMENTS_ANSIBALLZ_CACHE": str(store), "ANSIBLE_DEBUG": "1",
           "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"), "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    proc = subprocess.run([str(ROOT / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={ROOT / '.venv/bin/python'}", str(tmp_path / "site.yml")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if ENTRY in line and "ANSIBALLZ:" in line]
    source = "found" if any("using cached module" in line for line in lines) else "built"
    word = next(line.split("word=")[1].strip('"') for line in proc.stdout.splitlines() if '"msg": "word=' in line
                or "msg: word=" in line)
    return word, source


def test_a_kept_payload_is_served_until_a_file_in_it_changes(tmp_path):
    root = collection(tmp_path)
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    assert play(tmp_path, store) == ("one", "built")
    assert [entry.name.startswith(ENTRY) for entry in store.glob(f"*/{ENTRY}*")] == [True]
    assert play(tmp_path, store) == ("one", "found")
    # Changed in place, same size: only the modification time tells.
    words = root / "plugins/module_utils/words.py"
    words.write_text('WORD = "two"\n')
    assert play(tmp_path, store) == ("two", "built")
    assert play(tmp_path, store) == ("two", "found")


def test_a_directory_open_to_others_is_not_used(tmp_path):
    collection(tmp_path)
    store = tmp_path / "open"
    store.mkdir(mode=0o755)
    os.chmod(store, 0o755)
    assert play(tmp_path, store) == ("one", "built")
    assert play(tmp_path, store) == ("one", "built")
    assert list(store.iterdir()) == []
