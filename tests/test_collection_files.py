"""What a published collection carries: a LICENSE matching galaxy.yml, a changelog kept
with antsibull-changelog fragments, meta/runtime.yml, and an execution environment
definition that ansible-builder accepts."""

from __future__ import annotations

import subprocess

import yaml

from lab import ROOT

COLLECTION = ROOT / "collections/ansible_collections/fragments/deploy"
BIN = ROOT / ".venv/bin"


def test_the_license_is_the_one_galaxy_yml_names():
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    assert galaxy["license"] == ["MIT"]
    assert (COLLECTION / "LICENSE").read_text().startswith("MIT License")


def test_runtime_metadata_says_which_ansible_and_groups_the_app_modules():
    runtime = yaml.safe_load((COLLECTION / "meta/runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.19.0"
    for module in runtime["action_groups"]["app"]:
        assert (COLLECTION / "plugins/modules" / f"{module}.py").exists()


def test_the_changelog_fragments_lint_and_the_changelog_is_generated_from_them(tmp_path):
    lint = subprocess.run([BIN / "antsibull-changelog", "lint"], cwd=COLLECTION, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert list((COLLECTION / "changelogs/fragments").glob("*.yml"))
    assert "## v0\\.2\\.0" in (COLLECTION / "CHANGELOG.md").read_text()


def test_ansible_builder_accepts_the_execution_environment(tmp_path):
    proc = subprocess.run([BIN / "ansible-builder", "create", "-f", ROOT / "execution-environment.yml", "-c",
                           tmp_path / "context"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = tmp_path / "context/_build"
    assert (build / "requirements.yml").read_text() == (ROOT / "requirements.yml").read_text()
    assert "boto3" in (build / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (COLLECTION / "bindep.txt").read_text()
    assert yaml.safe_load((build / "fragments-deploy/galaxy.yml").read_text())["name"] == "deploy"
    assert "fragments/deploy" in (tmp_path / "context/Dockerfile").read_text()


def test_the_example_vault_file_holds_htpasswd_lines(tmp_path):
    """docs/examples/users.vault.yml, encrypted with the documented example password."""
    import bcrypt

    password_file = tmp_path / "pass"
    password_file.write_text("example\n")
    view = subprocess.run([BIN / "ansible-vault", "view", "--vault-password-file", password_file,
                           ROOT / "docs/examples/users.vault.yml"], capture_output=True, text=True)
    assert view.returncode == 0, view.stderr
    [line] = yaml.safe_load(view.stdout)["vault_fragments_htpasswd"].splitlines()
    user, hashed = line.split(":", 1)
    assert user == "alice@example.com"
    assert bcrypt.checkpw(b"example-password", ("$2b$" + hashed[4:]).encode())
