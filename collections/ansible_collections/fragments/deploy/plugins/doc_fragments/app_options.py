# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The options fragments.deploy.app_deploy and fragments.deploy.app_prepare share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  name:
    description: Name of the app; its containers are C(<name>), C(<name>-candidate), C(<name>-previous).
    type: str
    required: true
  image:
    description: Repository as this host pulls it, with its registry, without tag or digest.
    type: str
    required: true
  digest:
    description: The image digest to run, C(sha256:<64 hex>).
    type: str
    required: true
  tags:
    description: Tags known to point at O(digest), kept in a label and the deploy record.
    type: list
    elements: str
    default: []
  registry:
    description: Registry to log in to before a pull; empty pulls anonymously.
    type: str
    default: ""
  registry_username:
    description: Registry user.
    type: str
    default: ""
  registry_password:
    description: Registry password or access token.
    type: str
    default: ""
  port:
    description: Port the app listens on inside the container.
    type: int
    default: 8080
  bind_address:
    description: Loopback address the app's containers publish O(port) on; only the proxy reaches them.
    type: str
    default: 127.0.0.1
  host_ports:
    description:
      - Host ports for the app's containers on O(bind_address). The running version keeps its
        own, a new version takes the first other one that no process listens on. Two or more;
        a third lets a deploy go on while some other process holds one of them.
    type: list
    elements: int
    default: [18080, 18081, 18082]
  env:
    description: Environment variables (no secrets; they show in C(docker inspect)).
    type: dict
    default: {}
  secret_files:
    description:
      - Files written on the host and mounted read-only, the way to hand secrets over.
      - Each version gets its own copy, so new contents reach a new container through the health gate.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: File name on the host (no slash).
        type: str
        required: true
      content:
        description: The file's content.
        type: str
        required: true
      target:
        description: Absolute path inside the container.
        type: str
        required: true
      mode:
        description: File mode.
        type: str
        default: "0400"
      owner:
        description: Numeric owner; default the uid of O(user), else 0.
        type: int
      group:
        description: Numeric group; default the gid of O(user), else 0.
        type: int
  volumes:
    description: Other mounts, as C(docker run -v) takes them.
    type: list
    elements: str
    default: []
  command:
    description: Command and arguments replacing the image's C(CMD); empty keeps it.
    type: list
    elements: str
    default: []
  user:
    description: C(uid:gid) the process runs as; empty keeps the image's.
    type: str
    default: ""
  read_only:
    description: Read-only root filesystem, with a tmpfs on C(/tmp).
    type: bool
    default: false
  capabilities:
    description: Capabilities given back after dropping all of them (C(no-new-privileges) is always set).
    type: list
    elements: str
    default: []
  memory:
    description: Memory limit, as C(docker run --memory) takes it.
    type: str
    default: 512m
  cpus:
    description: CPU limit.
    type: float
    default: 1.0
  log_max_size:
    description: Size of a json-file log before rotation.
    type: str
    default: 10m
  log_max_file:
    description: Rotated log files kept.
    type: int
    default: 3
  healthcheck:
    description:
      - Changes the image's HEALTHCHECK timing (C(interval), C(timeout), C(retries), C(start_period), as C(2s) or C(500ms)).
      - C(test) replaces its command; the docker CLI can only set a shell command (a string, needing C(/bin/sh) in the
        image) or C(NONE). Leave C(test) out to keep the image's own command, exec form included.
    type: dict
    default: {}
  health_path:
    description: HTTP path that must answer 2xx on the candidate's own address, and through the proxy after the switch; empty for none.
    type: str
    default: /
  health_timeout:
    description: Seconds the new version gets to become healthy, before and again after the switch.
    type: int
    default: 60
  proxy_upstream_file:
    description: The nginx upstream file of this app, written by the proxy role and switched here; empty for the role's default.
    type: path
  proxy_check_url:
    description: URL that reaches the app through the proxy on this host, for the check after the switch.
    type: str
    default: http://127.0.0.1/
  drain_timeout:
    description: Seconds the old version gets to finish its in-flight requests after the switch, before it is stopped.
    type: int
    default: 30
  stop_timeout:
    description: Seconds C(docker stop) waits after SIGTERM before SIGKILL.
    type: int
    default: 10
  keep_images:
    description: Images of the repository kept on the host (the running and the previous one always are).
    type: int
    default: 3
  state_dir:
    description: Folder of the apps' deploy records, locks and secret files.
    type: path
    default: /var/lib/fragments-deploy
"""
