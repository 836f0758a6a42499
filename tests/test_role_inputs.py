"""Every role refuses invalid variables with a message naming them, before its first
change: each case applied in check mode on localhost, outside any inventory (nothing is
reached), all cases in one playbook run (lab.refusals). The release and ec2_hosts roles
are also tried against the lab registry and moto in test_release and test_provision."""

from __future__ import annotations

import pytest

from lab import refusals

CASES = [
    ("fragments.deploy.docker_engine", {"docker_engine_live_restore": "maybe"}, "docker_engine_live_restore"),
    ("fragments.deploy.docker_engine", {"docker_engine_source": "snap"}, "docker_engine_source"),
    ("fragments.deploy.docker_engine", {"docker_engine_registry_cas": [{"registry": "registry.example:5000"}]},
     "missing required arguments: ca"),
    ("fragments.deploy.container_app", {"container_app_image": "docker.io/alice/app:latest"},
     "container_app_image must be a repository without tag or digest"),
    ("fragments.deploy.container_app", {"container_app_image": "docker.io/alice/app", "container_app_keep_images": 1},
     "container_app_keep_images must be at least 2"),
    ("fragments.deploy.container_app", {"container_app_image": "docker.io/alice/app",
                                        "container_app_healthcheck": {"test": ["CMD", "true"]}},
     "container_app_healthcheck.test must be a shell command string or NONE"),
    ("fragments.deploy.container_app", {"container_app_image": "docker.io/alice/app",
                                        "container_app_bind_address": "0.0.0.0"},
     "container_app_bind_address must be a loopback address"),
    ("fragments.deploy.container_app", {"container_app_image": "docker.io/alice/app", "container_app_cpus": "many"},
     "container_app_cpus"),
    ("fragments.deploy.release", {"release_source_dir": "/nonexistent", "release_repository": "Bad/Repo"},
     "repository 'Bad/Repo' does not follow Docker's reference grammar"),
    ("fragments.deploy.ec2_hosts", {"ec2_hosts_count": "two"}, "ec2_hosts_count"),
    ("fragments.deploy.proxy", {"proxy_tls_certificate": "-----BEGIN CERTIFICATE-----"},
     "Give proxy_tls_certificate (PEM, BEGIN CERTIFICATE) and proxy_tls_certificate_key together"),
    ("fragments.deploy.proxy", {"proxy_http_port": "eighty"}, "proxy_http_port"),
    ("fragments.deploy.deploy", {"deploy_batch_size": "0%", "container_app_image": "docker.io/alice/app"},
     "deploy_batch_size is a number of hosts or a percentage"),
    ("fragments.deploy.deploy", {"deploy_status_format": "yaml"}, "deploy_status_format"),
    ("lab", {"lab_registry_port": "https"}, "lab_registry_port"),
    ("lab", {"lab_bind_address": "0.0.0.0"}, "The lab binds only to 127.0.0.0/8"),
]


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """What each case got, all of them in one playbook run, and the changes beyond the
    answers' one write (outside check mode)."""
    said, run = refusals("{{ role_under_test }}", [{"role_under_test": role, **variables} for role, variables, _ in CASES],
                         tmp_path_factory.mktemp("refusals"), check=True, inventories=["localhost,"], timeout=120)
    assert run.returncode == 0, run.output
    return said, run.changed - 1


@pytest.mark.parametrize("index", range(len(CASES)),
                         ids=[f"{role.split('.')[-1]}-{next(iter(v))}" for role, v, _ in CASES])
def test_invalid_variables_are_refused_before_any_change(answers, index):
    said, changed = answers
    role, variables, message = CASES[index]
    assert message in said[index], said[index]
    assert changed == 0
