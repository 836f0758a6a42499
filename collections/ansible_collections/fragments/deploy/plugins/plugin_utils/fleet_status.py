# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The deploy role's status entry point on the control node (action fleet_status): the fleet's
report, the file for scripts, and one request to the app, through the load balancer or else the
first host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url

ANSWER_LIMIT = 2000  # characters of the app's answer shown; status is for a glance


def ask_app(url, ca_path="", timeout=10):
    """GET url; (status, text) for any HTTP answer, (None, the reason) when none came."""
    try:
        response = open_url(url, method="GET", ca_path=ca_path or None, timeout=timeout, follow_redirects="safe")
        status, body = response.getcode(), response.read()
    except HTTPError as error:
        status, body = error.code, error.read() or b""
    except (URLError, OSError, ValueError) as error:
        return None, str(getattr(error, "reason", error))
    text = body.decode("utf-8", "replace")
    try:
        text = json.dumps(json.loads(text), sort_keys=True)  # one line, whatever the app's layout
    except ValueError:
        text = " ".join(text.split())
    return status, text[:ANSWER_LIMIT]


def answer_line(who, status, text):
    if status is None:
        return "%s did not answer: %s" % (who, text)
    return "%s answered %d: %s" % (who, status, text)


def write_report(path, report):
    """The JSON report at path, whole or not at all (a script never reads half a file)."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".status-")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(report, stream, indent=4, sort_keys=True)
            stream.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
