"""app_deploy and app_prepare in this process: every bad option refused before anything is
touched, check mode's word on a host with no Docker, and the pieces
of a deploy that need no host (docker run arguments, the proxy's upstream file, drain)."""

from __future__ import annotations

import pytest

from ansible_collections.fragments.deploy.plugins.module_utils import (
    app_deployer, app_host, app_lock, app_ports, app_proxy, app_settings)

DIGEST = "sha256:" + "a" * 64
BASE = {"name": "web", "image": "registry.example:5000/team/web", "digest": DIGEST}


def params(**changes) -> dict:
    """Every option with its default, as AnsibleModule would hand them over."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    result = ArgumentSpecValidator(app_settings.ARGUMENT_SPEC).validate({**BASE, **changes})
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": "web app"}, "name must be letters"),
    ({"image": "docker.io/alice/web:latest"}, "image must be a repository without tag or digest"),
    ({"image": "docker.io/alice/web@sha256:" + "b" * 64}, "image must be a repository without tag or digest"),
    ({"digest": "sha256:abc"}, "digest must be sha256:<64 hex digits>"),
    ({"digest": "sha256:" + "a" * 64 + "\n"}, "digest must be sha256:<64 hex digits>"),
    ({"host_ports": [18080]}, "host_ports must be two or more different ports"),
    ({"host_ports": [18080, 18080]}, "host_ports must be two or more different ports"),
    ({"port": 70000}, "port must be a port number"),
    ({"bind_address": "0.0.0.0"}, "bind_address must be a loopback address"),
    ({"bind_address": "localhost"}, "bind_address must be an IP address"),
    ({"healthcheck": {"every": "2s"}}, "healthcheck takes test, interval"),
    ({"healthcheck": {"interval": "2 s"}}, "healthcheck.interval must be a duration"),
    ({"healthcheck": {"test": ["CMD", "true"]}}, "healthcheck.test must be a shell command string or NONE"),
    ({"health_path": "health"}, "health_path must start with /"),
    ({"keep_images": 1}, "keep_images must be at least 2"),
    ({"health_timeout": 0}, "health_timeout must be at least 1"),
    ({"cpus": 0}, "cpus must be above 0"),
    ({"user": "app"}, "user must be uid or uid:gid"),
    ({"secret_files": [{"name": "a/b", "content": "x", "target": "/run/a"}]}, "must be a plain file name"),
    ({"secret_files": [{"name": "a", "content": "x", "target": "run/a"}]}, "must be an absolute path"),
    ({"secret_files": [{"name": "a", "content": "x", "target": "/a", "mode": "rw"}]}, "must be octal"),
    ({"secret_files": [{"name": "a", "content": "x", "target": "/a"}, {"name": "a", "content": "y", "target": "/b"}]},
     "the names must differ"),
    ({"proxy_check_url": "127.0.0.1/"}, "proxy_check_url must be an http:// or https:// URL"),
])
def test_each_bad_option_is_named(changes, message):
    found = app_settings.problems(params(**changes))
    assert len(found) == 1 and message in found[0], found


def test_good_options_have_no_problem():
    assert app_settings.problems(params(healthcheck={"interval": "1s", "test": "curl -f localhost"})) == []
    assert app_settings.problems(params(healthcheck={"test": ["NONE"]}, user="10001:10001")) == []


def test_messages_name_a_role_s_variables_with_its_prefix():
    found = app_settings.problems(params(keep_images=1), prefix="container_app_")
    assert found == ["container_app_keep_images must be at least 2 (not 1)"]


def test_the_fingerprint_follows_the_settings_not_the_version():
    base = app_settings.fingerprint(params())
    assert base == app_settings.fingerprint(params(digest="sha256:" + "b" * 64, tags=["v2"]))
    assert base != app_settings.fingerprint(params(env={"LOG_LEVEL": "debug"}))
    assert base != app_settings.fingerprint(params(secret_files=[{"name": "a", "content": "x", "target": "/a"}]))
    # A secret's content is compared on the host, never hashed into a label.
    assert app_settings.fingerprint(params(secret_files=[{"name": "a", "content": "x", "target": "/a"}])) == \
        app_settings.fingerprint(params(secret_files=[{"name": "a", "content": "y", "target": "/a"}]))


def test_run_arguments_publish_on_loopback_only_and_keep_env_values_off_the_command_line():
    options = params(env={"TOKEN_FILE": "/run/x"}, read_only=True, user="10001:10001", capabilities=["NET_BIND_SERVICE"],
                     healthcheck={"interval": "1s", "retries": 2}, command=["python3", "-m", "web"])
    args = app_deployer.run_arguments(options, "web-candidate", 18081, "r/web@" + DIGEST, "f00d", "files-1", "/tmp/env",
                                      ["/state/a:/run/a:ro"])
    joined = " ".join(args)
    assert "--publish 127.0.0.1:18081:8080" in joined
    assert "--env-file /tmp/env" in joined and "TOKEN_FILE" not in joined
    assert "--cap-drop ALL" in joined and "--cap-add NET_BIND_SERVICE" in joined
    assert "--security-opt no-new-privileges" in joined and "--read-only --tmpfs /tmp" in joined
    assert "--health-interval 1s" in joined and "--health-retries 2" in joined and "--health-cmd" not in joined
    assert "--volume /state/a:/run/a:ro" in joined
    assert f"--label fragments.deploy.digest={DIGEST}" in joined and "--label fragments.deploy.port=18081" in joined
    assert args[-4:] == ["r/web@" + DIGEST, "python3", "-m", "web"]


def test_the_upstream_file_names_the_port_or_nothing(tmp_path):
    path = tmp_path / "web.upstream.conf"
    app = app_host.App("web", str(tmp_path), str(path))
    assert app.upstream() is None
    path.write_text(app_proxy.render_upstream("web", "127.0.0.1", 18081))
    assert app.upstream() == 18081 and "max_fails=0" in path.read_text()
    path.write_text(app_proxy.render_upstream("web", "127.0.0.1", None))
    assert app.upstream() is None  # a server marked down serves nothing
    # The container's own address as backup: the first server line is still the one that counts.
    container = {"NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.5"}}}}
    backup = app_proxy.direct_address(container, 8080)
    path.write_text(app_proxy.render_upstream("web", "127.0.0.1", 18080, backup))
    assert backup == "172.17.0.5:8080" and app.upstream() == 18080
    assert path.read_text().splitlines()[-1] == "server 172.17.0.5:8080 backup max_fails=0;"
    assert app_proxy.direct_address({"NetworkSettings": {"Networks": {}}}, 8080) is None


def test_drain_counts_only_established_connections_to_the_old_port():
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    rows = [
        "0: 0100007F:D431 0100007F:46A0 01 00000000:00000000 00:00000000 00000000 0 0 1",  # to 18080, established
        "1: 0100007F:D432 0100007F:46A0 06 00000000:00000000 00:00000000 00000000 0 0 2",  # to 18080, time-wait
        "2: 0100007F:D433 0100007F:46A1 01 00000000:00000000 00:00000000 00000000 0 0 3",  # to 18081
        "3: 0100007F:46A0 0100007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 4",  # from 18080 (the other end)
    ]
    assert app_ports.established_to(18080, [header + "\n".join(rows)]) == 1


def test_only_the_masters_workers_that_still_accept_are_waited_for(tmp_path):
    def process(pid, ppid, title, comm="nginx"):
        folder = tmp_path / str(pid)
        folder.mkdir()
        (folder / "stat").write_text("%d (%s) S %d 1 1 0 -1\n" % (pid, comm, ppid))
        (folder / "cmdline").write_bytes(title.encode() + b"\0")

    process(10, 1, "nginx: master process /usr/sbin/nginx")
    process(11, 10, "nginx: worker process")
    process(12, 10, "nginx: worker process is shutting down")
    process(13, 10, "nginx: cache manager process")
    process(14, 99, "nginx: worker process")  # another master's
    process(15, 10, "nginx: worker process", comm="odd) name")
    (tmp_path / "self").mkdir()
    assert sorted(app_proxy.accepting_workers(10, proc=str(tmp_path))) == [11, 15]


def test_the_upstream_nginx_names_is_matched_to_a_container():
    """What a probe through the proxy says ($upstream_addr) decides which container serves."""
    container = {"Config": {"Labels": {"fragments.deploy.port": "18081"}},
                 "NetworkSettings": {"Networks": {"lab": {"IPAddress": "172.18.0.7"}}}}
    assert app_proxy.names_container("127.0.0.1:18081", container)
    assert app_proxy.names_container("[::1]:18081", container)
    assert app_proxy.names_container("172.18.0.7:8080", container)  # the backup server
    assert not app_proxy.names_container("127.0.0.1:18080", container)
    assert not app_proxy.names_container("10.0.0.9:18081", container)  # not loopback, not its own
    assert not app_proxy.names_container("fragments_deploy_web", container)  # every server down: 502
    assert not app_proxy.names_container("127.0.0.1:18081", None)
    assert not app_proxy.names_container(None, container)


def test_a_held_port_is_skipped_and_its_holder_named():
    """A real listening socket of this process: the port is not free, and the refusal names us."""
    import os
    import socket

    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    try:
        port = held.getsockname()[1]
        assert not app_ports.port_free("127.0.0.1", port)
        with open("/proc/net/tcp") as handle:
            inodes = app_ports.listening_inodes(port, [handle.read()])
        assert len(inodes) == 1
        assert app_ports.socket_holders(inodes) == ["%s (pid %d)" % (open("/proc/self/comm").read().strip(),
                                                                     os.getpid())]
    finally:
        held.close()
    assert app_ports.port_free("127.0.0.1", port)


def test_the_new_version_takes_a_free_port_or_the_refusal_names_who_holds_them():
    import socket

    held = [socket.socket(), socket.socket()]
    for one in held:
        one.bind(("127.0.0.1", 0))
        one.listen(1)
    try:
        first, second = (one.getsockname()[1] for one in held)
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            spare = free.getsockname()[1]
        deployer = app_deployer.Deployer.__new__(app_deployer.Deployer)
        deployer.params = params(host_ports=[first, second, spare])
        assert deployer.choose_port(None, None) == spare
        assert deployer.choose_port(first, None) == spare
        with pytest.raises(app_host.Refused) as refused:
            deployer.choose_port(spare, None)  # the running version holds the only free one
        message = str(refused.value)
        assert "127.0.0.1:%d by " % first in message and "127.0.0.1:%d by " % second in message
        assert "(pid " in message and "the running version was left serving" in message
    finally:
        for one in held:
            one.close()


def test_refusal_lists_every_problem_and_says_nothing_changed(run_module):
    result = run_module("app_deploy", {**BASE, "digest": "sha256:abc", "host_ports": [1]})
    assert result["failed"] and result["outcome"] == "refused" and result["changed"] is False
    assert "digest must be" in result["msg"] and "host_ports must be" in result["msg"]
    assert result["msg"].endswith("Nothing was changed.")


def test_the_password_never_comes_back(run_module):
    result = run_module("app_deploy", {**BASE, "digest": "sha256:abc", "registry_password": "hunter2-secret"})
    assert "hunter2-secret" not in str(result)


def test_prepare_refuses_bad_options_before_taking_the_lock(run_module, tmp_path):
    result = run_module("app_prepare", {**BASE, "image": "alice/web:1", "lock_owner": "me", "state_dir": str(tmp_path)})
    assert result["failed"] and result["acquired"] is False
    assert not (tmp_path / "web" / "deploy.lock").exists()


def test_prepare_leaves_a_lock_held_by_another_alone(run_module, tmp_path):
    assert app_lock.take_lock(str(tmp_path / "web" / "deploy.lock"), "carol")
    result = run_module("app_prepare", {**BASE, "lock_owner": "me", "state_dir": str(tmp_path)})
    assert result["acquired"] is False and result["holder"]["owner"] == "carol" and result["changed"] is False


def test_prepare_takes_the_lock_and_reports_stamps_it_cannot_vouch_for(run_module, tmp_path):
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    (stamps / "docker_engine").write_text("old\n")
    result = run_module("app_prepare", {**BASE, "lock_owner": "me", "state_dir": str(tmp_path),
                                        "stamp_dir": str(stamps),
                                        "stamps": [{"name": "docker_engine", "fingerprint": "new"}]})
    assert result["acquired"] is True and result["converged"] is False
    assert result["stamps"]["docker_engine"] == {"current": False, "stamped": False, "inactive": []}
    assert (tmp_path / "web" / "deploy.lock").exists()
    assert result["lock_path"] == str(tmp_path / "web" / "deploy.lock")


@pytest.mark.parametrize(("status", "definite"), [
    (404, True), (401, True), (405, True), (400, True),
    (408, False), (425, False), (429, False), (500, False), (502, False), (503, False), (200, False), (301, False),
])
def test_the_gate_gives_up_at_once_only_on_a_refusal_time_will_not_change(status, definite):
    assert app_proxy.is_definite_refusal(status) is definite


@pytest.mark.parametrize(("body", "said"), [
    (b'{"status": "error", "error": {"code": 503, "message": "storage not ready: S3 bucket b: 403 (HeadBucket)"}}',
     "storage not ready: S3 bucket b: 403 (HeadBucket)"),
    (b"<html>\n  <h1>Not Found</h1>\n</html>", "<html> <h1>Not Found</h1> </html>"),
    (b"", ""),
    (b"x" * 500, "x" * 197 + "..."),
])
def test_a_refusal_says_what_the_app_said(body, said):
    assert app_proxy.what_it_said(body) == said
