"""Run one of the collection's modules in this process, as Ansible would on a host: its
arguments through patch_module_args, its answer read from what it prints."""

from __future__ import annotations

import importlib
import json

import pytest
from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run_module(capsys):
    def run(module: str, args: dict, *flags: str) -> dict:
        code = importlib.import_module(f"ansible_collections.fragments.deploy.plugins.modules.{module}")
        args = dict(args, _ansible_check_mode="--check" in flags, _ansible_diff="--diff" in flags)
        capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit):
            code.main()
        return json.loads(capsys.readouterr().out)
    return run
