"""Security checks on the lab: secrets stay out of output, logs, process lists, container
environments and images; containers run as non-root; the EC2 side allows SSH only from
the admin CIDRs and requires IMDSv2."""

from __future__ import annotations

import base64
import io
import json
import re
import stat
import subprocess
import tarfile
from pathlib import Path

import boto3
import docker
import pytest

from lab import APP_REPOSITORY, ROOT, Lab
from loops import Loop

pytestmark = pytest.mark.e2e
SECRET_FILE_CONTENT = "file-secret-7f3a9c"
# The public CA bundles of certifi (the service's HTTPS calls) and botocore (S3, DynamoDB).
PUBLIC_CA_BUNDLES = ("opt/deps/botocore/cacert.pem", "opt/deps/certifi/cacert.pem")


class ProcessWatch(Loop):
    """Sample the process lists of the control node and of the lab host until stopped."""

    def __init__(self, lab: Lab):
        super().__init__(interval=0.02, limit=900.0)
        [host] = lab.hosts()
        self.host = docker.from_env().containers.get(host["container"])
        self.lines: set[str] = set()
        self.samples = 0

    def tick(self):
        # -ww: whole command lines (without it ps cuts them at 80 columns when not on a terminal).
        local = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
        remote = self.host.exec_run(["ps", "-ww", "-eo", "args"]).output.decode()
        self.lines.update((local + remote).splitlines())
        self.samples += 1


@pytest.fixture(scope="module")
def verbose_runs(lab, app_images, tmp_path_factory):
    """A release and a deploy that logs in on the host, at -vvv (where Ansible prints module
    arguments unless no_log hides them), while the process lists are sampled."""
    source = tmp_path_factory.mktemp("sample")
    (source / "Dockerfile").write_text("FROM fragments-base/debian:bookworm\nCMD [\"true\"]\n")
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "sample"], check=True)
    v2 = lab.manifest_digest(APP_REPOSITORY, "v2")
    # v2 not on the host, so the deploy logs in and pulls.
    lab.forget_image(v2, "fragments", "fragments-previous", "fragments-candidate")
    with ProcessWatch(lab) as watch:
        release = lab.play("release.yml", "-vvv", "-e", json.dumps({
            "release_source_dir": str(source), "release_repository": "e2e/security",
            "release_record_dir": str(tmp_path_factory.mktemp("records")), "release_build_args": {}}))
        # The secret goes in a vars file only its owner reads, never on a command line.
        secret_vars = tmp_path_factory.mktemp("vars") / "deploy.json"
        secret_vars.write_text(json.dumps({
            "container_app_image": f"registry.lab:{lab.registry_port}/{APP_REPOSITORY}",
            "container_app_resolve_image": f"127.0.0.1:{lab.registry_port}/{APP_REPOSITORY}",
            "deploy_digest": v2,
            # The app's users and storage credentials stay; one more secret file beside them.
            "container_app_secret_files": "{{ fragments_auth_files.htpasswd + fragments_storage_files + [{'name': 'api-token', 'content': '"
                                          + SECRET_FILE_CONTENT + "', 'target': '/run/secrets/api-token'}] }}"}))
        secret_vars.chmod(0o600)
        deploy = lab.play("deploy.yml", "-vvv", "-e", f"@{secret_vars}")
    assert release.returncode == 0, release.output[-3000:]
    assert deploy.returncode == 0, deploy.output[-3000:]
    # Both logged in: the release's task ran with its arguments hidden; the host pulled (and
    # so logged in) in the rollout's first call.
    assert "TASK [fragments.deploy.release : Log in to the registry]" in release.output
    assert "pulled: true" in deploy.output
    return {"output": release.output + deploy.output, "processes": watch}


def secrets(lab: Lab) -> list[str]:
    return [lab.registry_password(), SECRET_FILE_CONTENT]


def test_no_secret_in_task_output_even_at_vvv(lab, verbose_runs):
    for secret in secrets(lab):
        assert secret not in verbose_runs["output"]


def test_no_secret_in_the_process_lists_during_login(lab, verbose_runs):
    watch = verbose_runs["processes"]
    assert watch.samples > 20 and any("ansible" in line for line in watch.lines)
    for secret in secrets(lab):
        assert not [line for line in watch.lines if secret in line]


def dockerd_log() -> str:
    """What the control node's dockerd logged: the file its output goes to (scripts/setup.sh
    starts it so), else its journal. Read through /proc, since the file may have been
    removed meanwhile with the clone that started dockerd (it still writes to it)."""
    pids = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        output = Path(f"/proc/{pid}/fd/1")
        try:
            if stat.S_ISREG(output.stat().st_mode):
                return output.read_text(errors="replace")
        except OSError:
            continue
    return subprocess.run(["journalctl", "-u", "docker", "--no-pager", "-q"], capture_output=True, text=True).stdout


def test_no_secret_in_the_logs(lab, verbose_runs):
    logs = {
        "control node dockerd": dockerd_log(),
        "registry": docker.from_env().containers.get(f"{lab.name}-registry").logs().decode(errors="replace"),
        "host journal": lab.on_host("journalctl --no-pager -q 2>/dev/null")[1],
        "host /var/log": lab.on_host("cat /var/log/*.log /var/log/*/*.log 2>/dev/null")[1],
        "app": lab.on_host("docker logs fragments 2>&1")[1],
    }
    assert len(logs["host journal"]) > 1000 and len(logs["control node dockerd"]) > 1000  # they were read
    for secret in secrets(lab):
        assert [name for name, text in logs.items() if secret in text] == []


def test_secrets_reach_the_container_as_files_only(lab, verbose_runs):
    config = json.loads(lab.on_host("docker inspect fragments")[1])[0]
    text = json.dumps(config)
    for secret in secrets(lab):
        assert secret not in text  # not in Env, labels, command or anything else inspect shows
    mount = next(m for m in config["Mounts"] if m["Destination"] == "/run/secrets/api-token")
    assert mount["RW"] is False
    code, mode = lab.on_host(f"stat -c '%a %u' {mount['Source']}")
    assert code == 0 and mode.split() == ["400", "10001"]
    code, folder = lab.on_host(f"stat -c '%a %U' $(dirname {mount['Source']})")
    assert folder.split() == ["700", "root"]


def test_containers_run_as_non_root(lab, verbose_runs):
    config = json.loads(lab.on_host("docker inspect fragments")[1])[0]
    assert config["Config"]["User"] == "10001:10001"
    code, uid = lab.on_host(f"ps -o uid= -p {config['State']['Pid']}")
    assert code == 0 and uid.strip() == "10001"


def test_the_service_image_holds_no_ca_files_keys_or_credentials(lab, app_images):
    """The build stage trusts this machine's CA files (service/build-ca); the final image
    must carry none of them, no private key and no registry credential."""
    ca_bodies = []
    for crt in (ROOT / "service/build-ca").glob("*.crt"):
        body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END", crt.read_text(), re.S)
        ca_bodies.append(body.group(1).split()[1].encode())  # a line from the middle of the body
    assert ca_bodies, "setup puts this machine's CA files into service/build-ca"
    client = docker.from_env()
    container = client.containers.create(f"{app_images}:v1")
    try:
        archive = io.BytesIO(b"".join(container.export()))
    finally:
        container.remove()
    names = []
    forbidden_content = [*ca_bodies, lab.registry_password().encode()]
    # A private key's PEM block: the header and a base64 body (libraries name the header in their code).
    private_key = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=\s]{64,}")
    with tarfile.open(fileobj=archive) as tar:
        for member in tar:
            names.append(member.name)
            if member.isfile():
                data = tar.extractfile(member).read()
                hits = [pattern for pattern in forbidden_content if pattern in data]
                assert not hits, f"{member.name} holds {hits}"
                assert not private_key.search(data), f"{member.name} holds a private key"
    assert any(name.endswith("fragments/__init__.pyc") or "fragments/" in name for name in names)
    bad_names = re.compile(r"(build-ca|\.pem$|\.key$|\.crt$|id_rsa|id_ed25519|\.docker/config\.json|\.netrc|pip\.conf)")
    # The CA files allowed: the public bundles, for HTTPS from a FROM scratch image.
    assert [name for name in names if bad_names.search(name) and name not in PUBLIC_CA_BUNDLES] == []
    history = json.dumps(client.api.history(f"{app_images}:v1")) + json.dumps(client.images.get(f"{app_images}:v1").attrs)
    assert lab.registry_password() not in history
    assert not [body for body in ca_bodies if body.decode() in history]


def test_ssh_is_open_only_to_the_admin_cidrs_and_imdsv2_is_required(lab):
    ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{lab.moto_port}", region_name="us-east-1",
                       aws_access_key_id="lab", aws_secret_access_key="lab")
    ours = [{"Name": "tag:ManagedBy", "Values": ["fragments-deploy"]}]
    groups = ec2.describe_security_groups(Filters=ours)["SecurityGroups"]
    assert groups
    for group in groups:
        for rule in group["IpPermissions"]:
            if rule.get("FromPort", 0) <= 22 <= rule.get("ToPort", 65535) or rule["IpProtocol"] == "-1":
                cidrs = [r["CidrIp"] for r in rule.get("IpRanges", [])] + \
                        [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])]
                assert "0.0.0.0/0" not in cidrs and "::/0" not in cidrs, group
    instances = [i for r in ec2.describe_instances(Filters=ours)["Reservations"] for i in r["Instances"]
                 if i["State"]["Name"] != "terminated"]
    assert instances
    for instance in instances:
        assert instance["MetadataOptions"]["HttpTokens"] == "required", instance["InstanceId"]
        assert instance["MetadataOptions"]["HttpEndpoint"] == "enabled"


def test_a_host_without_a_load_balancer_serves_https_and_only_redirects_plain_http(lab, app_images):
    """Each host's nginx with a certificate (the lab CA's, for 127.0.0.1, as a domain's would
    be): the app over HTTPS with HSTS, checked against the CA; plain HTTP answers only 301.
    Asked on the host (the lab publishes its port 80 only); the host is put back after."""
    deploy = {"deploy_digest": lab.manifest_digest(APP_REPOSITORY, "v2"), "deploy_app_url": "",
              "container_app_image": f"registry.lab:{lab.registry_port}/{APP_REPOSITORY}",
              "container_app_resolve_image": f"127.0.0.1:{lab.registry_port}/{APP_REPOSITORY}"}
    tls = {"proxy_tls_certificate": (lab.state_dir / "server.crt").read_text(),
           "proxy_tls_certificate_key": (lab.state_dir / "server.key").read_text()}
    user, password = lab.app_credentials()
    try:
        run = lab.play("deploy.yml", "-e", json.dumps({**deploy, **tls}))
        assert run.returncode == 0, run.output
        assert tls["proxy_tls_certificate_key"] not in run.output
        # printf is the shell's own: the token never shows in the host's process list.
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        lab.on_host(f"printf '%s' '{lab.ca_file.read_text()}' > /tmp/lab-ca.crt && printf '%s' '{token}' > /tmp/lab-auth")
        plain = ("import http.client; c = http.client.HTTPConnection('127.0.0.1'); c.request('GET', '/v1/fragments'); "
                 "r = c.getresponse(); print(r.status, r.getheader('Location'))")
        assert lab.on_host(f'python3 -c "{plain}"') == (0, "301 https://127.0.0.1/v1/fragments\n")
        secure = ("import ssl, sys, urllib.request; "
                  "trust = ssl.create_default_context(cafile=sys.argv[1] or None); "
                  "ask = urllib.request.Request('https://127.0.0.1/v1/fragments', "
                  "headers={'Authorization': 'Basic ' + open('/tmp/lab-auth').read()}); "
                  "r = urllib.request.urlopen(ask, context=trust); "
                  "print(r.status, r.headers['Server'], r.headers['Strict-Transport-Security'], r.read().decode())")
        code, answer = lab.on_host(f'python3 -c "{secure}" /tmp/lab-ca.crt')
        # Server without its version (server_tokens off), HSTS, and the app's own answer.
        assert code == 0 and answer.startswith('200 nginx max-age=31536000 {"status":"ok"'), answer
        code, answer = lab.on_host(f'python3 -c "{secure}" "" 2>&1')
        assert code != 0 and "CERTIFICATE_VERIFY_FAILED" in answer, answer  # never without the CA
    finally:
        back = lab.play("deploy.yml", "-e", json.dumps(deploy))
        assert back.returncode == 0, back.output
