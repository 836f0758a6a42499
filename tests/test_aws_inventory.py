"""The AWS inventory's addresses, rendered by Ansible for a made-up instance (no AWS needed):
by default a host's address is plain HTTP to its public IP, which a deploy refuses; with a
domain it is HTTPS; behind the load balancer the hosts are addressed privately."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from lab import ROOT

INSTANCE = {"public_ip_address": "54.210.3.9", "private_ip_address": "10.42.1.7",
            "fragments_app_url": "http://54.210.3.9"}


def addresses(tmp_path, **extra) -> dict:
    fake = tmp_path / "instance.yml"
    fake.write_text(json.dumps({"all": {"children": {"fragments_hosts": {"hosts": {"web-1": INSTANCE}}}}}))
    expression = ("{{ {'host': deploy_app_url, 'public': fragments_public_url, "
                  "'refused': [deploy_app_url, fragments_public_url] | fragments.deploy.plain_http_to_public} }}")
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible"), "web-1", "-i", str(ROOT / "inventory/aws/hosts.yml"), "-i", str(fake),
         "-c", "local", "-m", "ansible.builtin.debug", "-a", f"msg={expression}", "-e", json.dumps(extra), "-o"],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})
    # -o: one line, "web-1 | SUCCESS => {...}"
    return json.loads(proc.stdout.split(" => ", 1)[1])["msg"]


@pytest.mark.parametrize(("extra", "host", "public", "refused"), [
    ({}, "http://54.210.3.9", "http://54.210.3.9", ["http://54.210.3.9", "http://54.210.3.9"]),
    ({"fragments_domain": "fragments.example.com"}, "https://fragments.example.com",
     "https://fragments.example.com", []),
    ({"ec2_hosts_load_balancer": True, "fragments_domain": "fragments.example.com"}, "http://10.42.1.7",
     "https://fragments.example.com", []),
])
def test_the_addresses_users_reach_are_https_or_refused(tmp_path, extra, host, public, refused):
    assert addresses(tmp_path, **extra) == {"host": host, "public": public, "refused": refused}
