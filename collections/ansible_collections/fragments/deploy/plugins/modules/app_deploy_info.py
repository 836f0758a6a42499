#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_deploy_info
short_description: Say what an app deployed by app_deploy runs on this host
version_added: 0.3.0
description:
  - Reads, in one call, what status and rollback need of an app that
    M(fragments.deploy.app_deploy) deploys; changes nothing.
  - The serving container (digest, tags, health, since, port), the previous one, whether the
    proxy runs and where it sends the traffic, the deploy lock's holder and the newest
    entries of the host's deploy record.
options:
  name:
    description: Name of the app.
    type: str
    required: true
  state_dir:
    description: Folder of the apps' deploy records and locks.
    type: path
    default: /var/lib/fragments-deploy
  proxy_upstream_file:
    description: The app's nginx upstream file; empty for the proxy role's default.
    type: path
  proxy_check_url:
    description:
      - A URL of the app through the host's proxy, asked with the probe header the proxy answers with the
        upstream it used (as M(fragments.deploy.app_deploy) does after a switch).
    type: str
    default: http://127.0.0.1/
  lock_stale_after:
    description: Seconds after which a held lock is reported as stale.
    type: int
    default: 1800
  records:
    description: How many of the newest deploy records to return.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Read what runs
  fragments.deploy.app_deploy_info:
    name: fragments
  register: running

- name: Show it
  ansible.builtin.debug:
    msg: "{{ running.app.digest }} ({{ running.app.health }}) since {{ running.app.started_at }}"
"""

RETURN = r"""
app:
  description: The container C(<name>).
  returned: always
  type: dict
  contains:
    exists:
      description: Whether it exists.
      type: bool
    running:
      description: Whether it runs.
      type: bool
    digest:
      description: The digest it runs (from our label; empty when not deployed by us).
      type: str
    tags:
      description: Tags of that digest when it was deployed.
      type: list
      elements: str
    health:
      description:
        - C(healthy), C(unhealthy), C(starting), C(no check), C(stopped) or C(absent).
        - Docker says C(starting) until its first probe, which comes one interval of the HEALTHCHECK after the
          start (a deploy does not wait for it). For the serving container the module then runs the image's
          check itself, as Docker's probe would, and says C(healthy) when it passes.
      type: str
    started_at:
      description: When it started, UTC, to the second.
      type: str
    port:
      description: Its loopback port.
      type: int
previous:
  description: The container C(<name>-previous), with the same keys.
  returned: always
  type: dict
serving:
  description:
    - Whether the proxy, as loaded (a probe through it at O(proxy_check_url), not its upstream file),
      sends the traffic to C(<name>), and C(<name>) runs and is not unhealthy.
    - Without an answer naming the upstream (a proxy configuration older than the probe header), the
      upstream file decides.
  returned: always
  type: bool
proxy_running:
  description: Whether nginx runs.
  returned: always
  type: bool
lock:
  description: The deploy lock's holder (owner, since, age, stale), or null.
  returned: always
  type: dict
records:
  description: The newest entries of the deploy record, oldest first.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fragments.deploy.plugins.module_utils.app_host import App, CommandError, Docker, describe
from ansible_collections.fragments.deploy.plugins.module_utils.app_lock import read_lock
from ansible_collections.fragments.deploy.plugins.module_utils.app_proxy import Proxy, proxy_running


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state_dir=dict(type="path", default="/var/lib/fragments-deploy"),
            proxy_upstream_file=dict(type="path"),
            proxy_check_url=dict(type="str", default="http://127.0.0.1/"),
            lock_stale_after=dict(type="int", default=1800),
            records=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    app = App(module.params["name"], module.params["state_dir"], module.params["proxy_upstream_file"])
    docker = Docker()
    try:
        container = docker.inspect(app.name)
        current, previous = describe(container), describe(docker.inspect(app.previous))
        if current["health"] == "starting" and docker.health_check(container, 10)[0]:
            current["health"] = "healthy"
    except CommandError as exc:
        module.fail_json(msg="Cannot ask Docker on this host: %s" % exc)
    proxy = proxy_running() is not None
    # Where nginx, as loaded, sends the requests; the upstream file only when no probe says.
    switch = Proxy(app, None, None, module.params["proxy_check_url"], module.warn)
    sends = switch.sends_to(container, switch.target() if proxy else None)
    module.exit_json(
        changed=False,
        app=current,
        previous=previous,
        proxy_running=proxy,
        serving=bool(proxy and current["running"] and current["port"] and sends and current["health"] != "unhealthy"),
        lock=read_lock(app.lock_path, module.params["lock_stale_after"]),
        records=app.records(last=module.params["records"]),
    )


if __name__ == "__main__":
    main()
