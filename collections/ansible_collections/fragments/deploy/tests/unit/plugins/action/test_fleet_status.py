"""The status entry point's last step (action fleet_status): what it prints, writes and asks,
run as Ansible runs it, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import socket
import stat
import threading

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader
from ansible.template import Templar

from ansible_collections.fragments.deploy.plugins.action.fleet_status import ActionModule
from ansible_collections.fragments.deploy.plugins.plugin_utils.fleet_status import answer_line, ask_app

DIGEST = "sha256:" + "b" * 64
HOSTS = ["web-1", "web-2"]
INSTANCES = ["i-1", "i-2"]


def found(health):
    """What app_deploy_info finds on a host that serves DIGEST (v2) through its proxy."""
    return {"app": {"exists": True, "digest": DIGEST, "tags": ["v2"], "health": health, "started_at": "t"},
            "previous": {}, "proxy_running": True, "serving": True, "lock": None}


RUNNING = [found("healthy"), found("unhealthy")]


@pytest.fixture
def app():
    """An app answering GET / with the status and body set on it."""
    class Handler(http.server.BaseHTTPRequestHandler):
        answer = (200, b'{"status": "ok",\n "version": "v2"}')

        def do_GET(self):  # noqa: N802 (http.server's name)
            server.requests += 1
            self.send_response(Handler.answer[0])
            self.end_headers()
            self.wfile.write(Handler.answer[1])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.handler = Handler
    server.url = "http://127.0.0.1:%d" % server.server_address[1]
    yield server
    server.shutdown()


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % probe.getsockname()[1]


def run_action(args, check_mode=False):
    args = {"hosts": HOSTS, "running": RUNNING, "instances": INSTANCES, **args}
    task = Task.load({"action": {"module": "fragments.deploy.fleet_status", **args}})
    task.check_mode = check_mode
    loader = DataLoader()
    context = PlayContext()
    action = ActionModule(task=task, connection=connection_loader.get("local", context),
                          play_context=context, loader=loader,
                          templar=Templar(loader=loader), shared_loader_obj=None)
    return action.run(task_vars={})


def test_the_table_the_file_and_the_first_host_s_answer(app, tmp_path):
    report_file = tmp_path / "status.json"
    result = run_action({"wanted": {"digest": DIGEST, "tags": ["v2"]}, "first_host_url": app.url + "/",
                         "file": str(report_file)})
    assert not result.get("failed") and result["changed"] is False
    lines = result["msg"].splitlines()
    assert lines[0].split() == ["HOST", "INSTANCE", "DIGEST", "TAGS", "HEALTH", "SINCE", "(UTC)", "STATE"]
    assert lines[3] == "desired: %s (v2); 1 of 2 hosts run it healthy" % DIGEST
    # The app's JSON on one line, named after the first host.
    assert lines[4] == 'web-1 answered 200: {"status": "ok", "version": "v2"}'
    report = json.loads(report_file.read_text())
    assert (report["healthy"], report["desired"], [host["state"] for host in report["hosts"]]) == (
        1, {"digest": DIGEST, "tags": ["v2"]}, ["ok", "UNHEALTHY"])
    assert stat.S_IMODE(report_file.stat().st_mode) == 0o644
    assert [path.name for path in tmp_path.iterdir()] == ["status.json"]  # no temporary file left
    assert result["_ansible_verbose_always"] is True  # printed at any verbosity, as debug is


def test_json_format_prints_the_report_and_check_mode_writes_no_file(app, tmp_path):
    report_file = tmp_path / "status.json"
    result = run_action({"wanted": {"digest": DIGEST, "tags": []}, "format": "json",
                         "first_host_url": app.url, "file": str(report_file)}, check_mode=True)
    printed, rest = result["msg"].split("\n}\n")
    rows = json.loads(printed + "}")["hosts"]
    assert [(row["host"], row["instance"], row["state"], row["ok"]) for row in rows] == [
        ("web-1", "i-1", "ok", True), ("web-2", "i-2", "UNHEALTHY", False)]
    assert rest.splitlines() == ["(check mode: %s not written)" % report_file,
                                 'web-1 answered 200: {"status": "ok", "version": "v2"}']
    assert not report_file.exists()


def test_hosts_and_what_was_found_there_must_pair_up(app):
    with pytest.raises(AnsibleActionFail, match="same hosts in the same order \\(2, 1 and 2 given\\)"):
        run_action({"running": RUNNING[:1], "wanted": {"digest": DIGEST}, "first_host_url": app.url})
    assert app.requests == 0
    # Instances may be left out altogether (no EC2): the rows say none.
    result = run_action({"instances": [], "wanted": {"digest": DIGEST, "tags": []}, "format": "json"})
    assert [row["instance"] for row in json.loads(result["msg"])["hosts"]] == ["", ""]


@pytest.mark.parametrize("answer", [(503, b"draining"), (404, b"")])
def test_an_app_that_does_not_answer_200_fails_the_status_after_the_table(app, answer):
    app.handler.answer = answer
    result = run_action({"wanted": {"digest": DIGEST, "tags": []}, "first_host_url": app.url})
    assert result["failed"] is True and result["msg"].startswith("HOST")
    assert result["msg"].endswith("web-1 answered %d: %s" % (answer[0], answer[1].decode()))


def test_an_app_out_of_reach_fails_the_status_saying_so():
    result = run_action({"wanted": {"digest": "", "tags": []}, "first_host_url": closed_port_url()})
    assert result["failed"] is True and result["answer"]["status"] is None
    assert "web-1 did not answer: " in result["msg"] and "refused" in result["msg"]


def test_no_address_no_request():
    result = run_action({"wanted": {"digest": DIGEST, "tags": []}})
    assert "answer" not in result and not result.get("failed")


def test_bad_arguments_are_refused_before_any_request(app):
    # Ansible turns AnsibleActionFail into the task's failure with this message.
    with pytest.raises(AnsibleActionFail, match="value of format must be one of: table, json, got: yaml"):
        run_action({"wanted": {"digest": DIGEST}, "format": "yaml", "first_host_url": app.url})
    assert app.requests == 0


def test_an_answer_is_cut_to_a_glance(app):
    app.handler.answer = (200, b"x" * 5000)
    status, text = ask_app(app.url)
    assert (status, len(text)) == (200, 2000)
    assert answer_line("The app", None, "timed out") == "The app did not answer: timed out"
