"""The collection as another project uses it: built, installed into a scratch project
outside this repository, and used by full role names, with only documented inputs, to
release an image that is not ours and deploy it."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import docker
import pytest
import yaml

from lab import ROOT

pytestmark = pytest.mark.e2e
VENV = ROOT / ".venv/bin"


def test_built_collection_releases_and_deploys_any_image_from_a_scratch_project(lab, tmp_path):
    built = tmp_path / "dist"
    subprocess.run([VENV / "ansible-galaxy", "collection", "build", ROOT / "collections/ansible_collections/fragments/deploy",
                    "--output-path", built], check=True, capture_output=True)
    [artifact] = built.glob("fragments-deploy-*.tar.gz")
    project = tmp_path / "project"
    project.mkdir()
    (project / "ansible.cfg").write_text("[defaults]\ncollections_path = ./collections\ninventory = inventory.yml\n")
    # Nothing of this repository's configuration: the scratch project sees only what it installed.
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_CONFIG": str(project / "ansible.cfg"), "PATH": f"{VENV}:{env['PATH']}"})
    subprocess.run([VENV / "ansible-galaxy", "collection", "install", "--offline", "-p", project / "collections",
                    artifact], check=True, capture_output=True, cwd=project, env=env)

    # An image that is not the fragments service: Python's http.server, with its own HEALTHCHECK
    # probed once a minute, in a git work tree of its own (release tags the commit).
    registry = f"127.0.0.1:{lab.registry_port}"
    context = project / "hello"
    context.mkdir()
    (context / "Dockerfile").write_text(textwrap.dedent("""\
        FROM fragments-base/python:bookworm
        CMD ["python3", "-m", "http.server", "8000"]
        HEALTHCHECK --interval=60s CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')"]
        """))
    git = ["git", "-c", "user.name=scratch", "-c", "user.email=scratch@example.com", "-C", str(project)]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "hello"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "hello"], check=True)
    password = lab.registry_password()

    [host] = lab.hosts()
    (project / "inventory.yml").write_text(yaml.safe_dump({"all": {"children": {"web": {"hosts": {"web1": {
        "ansible_host": host["ansible_host"], "ansible_port": host["ansible_port"], "ansible_user": "lab",
        "ansible_ssh_private_key_file": str(lab.state_dir / "id_ed25519"),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_python_interpreter": "/usr/bin/python3"}}}}}}))
    # Only inputs the roles' READMEs document; the release the first play makes is what the second deploys.
    (project / "site.yml").write_text(textwrap.dedent(f"""\
        - hosts: localhost
          gather_facts: false
          roles:
            - role: fragments.deploy.release
              vars:
                release_source_dir: "{{{{ playbook_dir }}}}/hello"
                release_registry: {registry}
                release_repository: scratch/hello
                release_labels: [v1]
                release_registry_username: fragments
                release_registry_password: "{{{{ lookup('env', 'HELLO_REGISTRY_PASSWORD') }}}}"
                release_registry_ca_path: {lab.state_dir / 'ca.crt'}
                release_record_dir: "{{{{ playbook_dir }}}}/releases"

        - hosts: web
          become: true
          gather_facts: false
          roles:
            - role: fragments.deploy.deploy
              vars:
                deploy_group: web
                docker_engine_registry_cas:
                  - registry: registry.lab:{lab.registry_port}
                    ca: "{{{{ lookup('file', '{lab.state_dir / 'ca.crt'}') }}}}"
                proxy_http_port: 8090
                container_app_name: hello
                container_app_image: registry.lab:{lab.registry_port}/scratch/hello
                container_app_port: 8000
                # Another app runs on this host: other loopback ports, its proxy on 8090.
                container_app_host_ports: [18090, 18091]
                container_app_registry: registry.lab:{lab.registry_port}
                container_app_registry_username: fragments
                container_app_registry_password: "{{{{ lookup('env', 'HELLO_REGISTRY_PASSWORD') }}}}"
        """))
    env["HELLO_REGISTRY_PASSWORD"] = password
    listed = subprocess.run([VENV / "ansible-galaxy", "collection", "list", "fragments.deploy", "--format", "json"],
                            cwd=project, env=env, capture_output=True, text=True, check=True)
    assert list(json.loads(listed.stdout)) == [str(project / "collections/ansible_collections")]

    run = subprocess.run([VENV / "ansible-playbook", "site.yml"], cwd=project, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert password not in run.stdout + run.stderr
    record = json.loads((project / "releases" / "scratch--hello.json").read_text())
    digest = record["current"]["digest"]
    inner = docker.from_env().containers.get(host["container"])
    status = inner.exec_run(["docker", "inspect", "-f", "{{.State.Health.Status}} {{.Config.Image}}", "hello"])
    health, image = status.output.decode().split()
    # The deploy ran the image's check itself and did not wait a minute for Docker's first probe;
    # what the deploy role's status reads runs the check too, and calls it healthy.
    assert health == "starting"
    assert image == f"registry.lab:{lab.registry_port}/scratch/hello@{digest}"
    info = subprocess.run([VENV / "ansible", "web", "--become", "-m", "fragments.deploy.app_deploy_info",
                           "-a", "name=hello records=0"], cwd=project, capture_output=True, text=True, timeout=120,
                          env=dict(env, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"))
    assert info.returncode == 0, info.stdout + info.stderr
    [task] = json.loads(info.stdout)["plays"][0]["tasks"]
    assert task["hosts"]["web1"]["app"]["health"] == "healthy"
    served = inner.exec_run(["python3", "-c", "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8090/').status)"])
    assert served.output.decode().strip() == "200", served.output
    inner.exec_run(["docker", "rm", "-f", "hello", "hello-previous"])
