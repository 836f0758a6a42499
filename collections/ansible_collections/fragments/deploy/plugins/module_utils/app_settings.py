# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The options of fragments.deploy.app_deploy and the checks they get before anything is
touched: one source for the module on the host and for the filter that checks a role's
inputs on the control node before a rollout locks any host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import json
import re

from ansible_collections.fragments.deploy.plugins.module_utils.app_host import DIGEST, NAME

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    image=dict(type="str", required=True),
    digest=dict(type="str", required=True),
    tags=dict(type="list", elements="str", default=[]),
    registry=dict(type="str", default=""),
    registry_username=dict(type="str", default=""),
    registry_password=dict(type="str", default="", no_log=True),
    port=dict(type="int", default=8080),
    bind_address=dict(type="str", default="127.0.0.1"),
    host_ports=dict(type="list", elements="int", default=[18080, 18081, 18082]),
    env=dict(type="dict", default={}),
    # The files' contents are the secrets (no_log below), not their names and targets.
    secret_files=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
        name=dict(type="str", required=True),
        content=dict(type="str", required=True, no_log=True),
        target=dict(type="str", required=True),
        mode=dict(type="str", default="0400"),
        owner=dict(type="int"),
        group=dict(type="int"),
    )),
    volumes=dict(type="list", elements="str", default=[]),
    command=dict(type="list", elements="str", default=[]),
    user=dict(type="str", default=""),
    read_only=dict(type="bool", default=False),
    capabilities=dict(type="list", elements="str", default=[]),
    memory=dict(type="str", default="512m"),
    cpus=dict(type="float", default=1.0),
    log_max_size=dict(type="str", default="10m"),
    log_max_file=dict(type="int", default=3),
    healthcheck=dict(type="dict", default={}),
    health_path=dict(type="str", default="/"),
    health_timeout=dict(type="int", default=60),
    proxy_upstream_file=dict(type="path"),
    proxy_check_url=dict(type="str", default="http://127.0.0.1/"),
    drain_timeout=dict(type="int", default=30),
    stop_timeout=dict(type="int", default=10),
    keep_images=dict(type="int", default=3),
    state_dir=dict(type="path", default="/var/lib/fragments-deploy"),
)

HEALTH_KEYS = ("test", "interval", "timeout", "retries", "start_period")
DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"
# Settings that, changed, need a new container (the digest and the secret contents aside).
SETTINGS = ("image", "port", "bind_address", "env", "volumes", "command", "user", "read_only", "capabilities",
            "memory", "cpus", "log_max_size", "log_max_file", "healthcheck")


def problems(params, prefix="", digest_required=True):
    """What is wrong with the parameters, checked before anything is touched. Messages name
    each option with `prefix` in front (a role's variables are its prefix + the option).
    Without `digest_required` (a check on the control node before the tag is pinned) an
    empty digest passes."""
    def o(option):
        return prefix + option

    found = []
    if not NAME.match(params["name"]):
        found.append("%s must be letters, digits, '_', '.' or '-' (not %r)" % (o("name"), params["name"]))
    last = params["image"].rsplit("/", 1)[-1]
    if not params["image"] or ":" in last or "@" in last:
        found.append("%s must be a repository without tag or digest, e.g. docker.io/alice/app (not %r)"
                     % (o("image"), params["image"]))
    if (params["digest"] or digest_required) and not DIGEST.match(params["digest"]):
        found.append("%s must be sha256:<64 hex digits> (not %r)" % (o("digest"), params["digest"]))
    ports = params["host_ports"]
    if len(ports) < 2 or len(set(ports)) != len(ports) or not all(0 < p < 65536 for p in ports):
        found.append("%s must be two or more different ports (not %r)" % (o("host_ports"), ports))
    if not 0 < params["port"] < 65536:
        found.append("%s must be a port number (not %r)" % (o("port"), params["port"]))
    try:
        if not ipaddress.ip_address(params["bind_address"]).is_loopback:
            found.append("%s must be a loopback address: only the proxy reaches the app (not %s)"
                         % (o("bind_address"), params["bind_address"]))
    except ValueError:
        found.append("%s must be an IP address (not %r)" % (o("bind_address"), params["bind_address"]))
    health = params["healthcheck"]
    unknown = sorted(set(health) - set(HEALTH_KEYS))
    if unknown:
        found.append("%s takes %s, not %s" % (o("healthcheck"), ", ".join(HEALTH_KEYS), ", ".join(unknown)))
    for key in ("interval", "timeout", "start_period"):
        if health.get(key) is not None and not re.match(DURATION, str(health[key])):
            found.append("%s.%s must be a duration such as 2s or 500ms (not %r)" % (o("healthcheck"), key, health[key]))
    test = health.get("test")
    if test is not None and not isinstance(test, str) and list(test)[:1] not in (["NONE"], ["CMD-SHELL"]):
        found.append("%s.test must be a shell command string or NONE: the docker CLI cannot set an exec-form test. "
                     "Leave test out to keep the image's own HEALTHCHECK command and change only its timing"
                     % o("healthcheck"))
    if params["health_path"] and not params["health_path"].startswith("/"):
        found.append("%s must start with / (not %r)" % (o("health_path"), params["health_path"]))
    for key, low in (("health_timeout", 1), ("keep_images", 2), ("drain_timeout", 0), ("stop_timeout", 0),
                     ("log_max_file", 1)):
        if params[key] < low:
            found.append("%s must be at least %d (not %r)" % (o(key), low, params[key]))
    if params["cpus"] <= 0:
        found.append("%s must be above 0 (not %r)" % (o("cpus"), params["cpus"]))
    if params["user"] and not re.match(r"^[0-9]+(:[0-9]+)?$", params["user"]):
        found.append("%s must be uid or uid:gid, numbers (not %r)" % (o("user"), params["user"]))
    for item in params["secret_files"]:
        if "/" in item["name"] or item["name"] in ("", ".", ".."):
            found.append("%s: name %r must be a plain file name" % (o("secret_files"), item["name"]))
        if not item["target"].startswith("/"):
            found.append("%s: target %r must be an absolute path" % (o("secret_files"), item["target"]))
        if not re.match(r"^0?[0-7]{3}$", item["mode"]):
            found.append("%s: mode %r must be octal, e.g. 0400" % (o("secret_files"), item["mode"]))
    names = [item["name"] for item in params["secret_files"]]
    if len(set(names)) != len(names):
        found.append("%s: the names must differ" % o("secret_files"))
    if not params["proxy_check_url"].startswith(("http://", "https://")):
        found.append("%s must be an http:// or https:// URL (not %r)" % (o("proxy_check_url"), params["proxy_check_url"]))
    return found


def settings_of(params):
    """The settings that need a new container when they change, as canonical data."""
    settings = {key: params[key] for key in SETTINGS}
    settings["env"] = {str(k): str(v) for k, v in settings["env"].items()}
    settings["secret_targets"] = sorted((item["name"], item["target"]) for item in params["secret_files"])
    return settings


def fingerprint(params):
    text = json.dumps(settings_of(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_owner(item, user):
    uid, dummy, gid = user.partition(":")
    owner = item["owner"] if item["owner"] is not None else int(uid or 0)
    group = item["group"] if item["group"] is not None else int(gid or uid or 0)
    return owner, group
