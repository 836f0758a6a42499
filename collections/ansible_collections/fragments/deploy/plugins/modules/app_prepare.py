#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_prepare
short_description: Take an app's deploy lock on this host and say, in the same call, what a rollout must do here
version_added: 0.3.0
description:
  - The first host step of a rollout, in one SSH round trip. It takes the app's deploy lock
    (C(<state_dir>/<name>/deploy.lock), created atomically); when another deploy holds it,
    it does nothing else and returns the holder.
  - Holding the lock, it reads the convergence stamps of the roles that prepare a host
    (O(stamps), see M(fragments.deploy.converge_stamp)). When they are all current and their
    services run, it checks whether the digest already serves with these settings and, if
    not, pulls it (as M(fragments.deploy.app_deploy) with C(state=pulled)), touching
    nothing that runs.
  - Where the digest already serves with these settings, a rollout has nothing left to do on
    this host, so the call gives the lock back before it returns (C(released)), and a rollout
    with nothing to do costs this one call per host.
  - Takes every option of M(fragments.deploy.app_deploy) (but C(state)).
options:
  lock_owner:
    description: Identifies this rollout, e.g. C(alice@laptop 2026-11-28T10:00:00Z 4242).
    type: str
    required: true
  lock_stale_after:
    description: Seconds after which a lock another deploy holds is reported as stale.
    type: int
    default: 1800
  stamps:
    description: Convergence stamps to check.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The stamp's name.
        type: str
        required: true
      fingerprint:
        description: What the role's converge must have been done with.
        type: str
        required: true
      services:
        description: systemd services that must be active.
        type: list
        elements: str
        default: []
  stamp_dir:
    description: Folder of the stamps.
    type: path
    default: /var/lib/fragments-deploy/converged
extends_documentation_fragment:
  - fragments.deploy.app_options
attributes:
  check_mode:
    support: full
    description: Takes no lock and pulls nothing; says what it would do.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Lock the host and learn what it needs
  fragments.deploy.app_prepare:
    name: fragments
    image: docker.io/alice/fragments
    digest: "{{ digest }}"
    lock_owner: "{{ owner }}"
    stamps:
      - name: docker_engine
        fingerprint: "{{ docker_engine_fingerprint }}"
        services: [docker]
  register: prepared
"""

RETURN = r"""
acquired:
  description: Whether this rollout holds the lock now.
  returned: always
  type: bool
holder:
  description: Who holds the lock when another deploy does (owner, since, age, stale); else null.
  returned: always
  type: dict
lock_path:
  description: The lock file, to give the lock back with M(fragments.deploy.deploy_lock).
  returned: always
  type: str
released:
  description: The lock was given back in this call, since the digest serves here already (C(up_to_date)).
  returned: always
  type: bool
converged:
  description: Every stamp is current and its services run.
  returned: when acquired
  type: bool
stamps:
  description: Per stamp name, C(current), C(stamped) and the C(inactive) services.
  returned: when acquired
  type: dict
app_running:
  description:
    - Whether a container of the app runs on this host now (false where Docker is not installed), so that
      a rollout can converge hosts with nothing to keep serving all at once, and the others in their batch.
  returned: when acquired
  type: bool
up_to_date:
  description: The digest already serves with these settings (only known when converged).
  returned: when acquired
  type: bool
pulled:
  description: Whether the image was pulled.
  returned: when acquired
  type: bool
previous_digest:
  description: What serves now.
  returned: when acquired
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fragments.deploy.plugins.module_utils.app_deployer import Deployer
from ansible_collections.fragments.deploy.plugins.module_utils.app_host import App, CommandError, Docker, Refused
from ansible_collections.fragments.deploy.plugins.module_utils.app_lock import give_back_lock, read_lock, take_lock
from ansible_collections.fragments.deploy.plugins.module_utils.app_stamps import STAMP_DIR, inactive_services, read_stamp
from ansible_collections.fragments.deploy.plugins.module_utils.app_settings import ARGUMENT_SPEC, problems


def argument_spec():
    spec = dict(ARGUMENT_SPEC)
    spec.update(
        lock_owner=dict(type="str", required=True),
        lock_stale_after=dict(type="int", default=1800),
        stamps=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            fingerprint=dict(type="str", required=True),
            services=dict(type="list", elements="str", default=[]),
        )),
        stamp_dir=dict(type="path", default=STAMP_DIR),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    found = problems(params)
    if found:
        module.fail_json(msg="; ".join(found) + ". Nothing was changed.", acquired=False, holder=None)
    app = App(params["name"], params["state_dir"], params["proxy_upstream_file"])
    result = dict(changed=False, lock_path=app.lock_path, released=False)

    holder = read_lock(app.lock_path, params["lock_stale_after"])
    if holder and holder.get("owner") != params["lock_owner"]:
        module.exit_json(acquired=False, holder=holder, **result)
    if holder is None and not module.check_mode and not take_lock(app.lock_path, params["lock_owner"]):
        module.exit_json(acquired=False, holder=read_lock(app.lock_path, params["lock_stale_after"]), **result)

    stamps = {}
    for stamp in params["stamps"]:
        stamped = read_stamp(params["stamp_dir"], stamp["name"]) == stamp["fingerprint"]
        inactive = inactive_services(stamp["services"])
        stamps[stamp["name"]] = dict(current=stamped and not inactive, stamped=stamped, inactive=inactive)
    converged = all(stamp["current"] for stamp in stamps.values())
    result.update(acquired=True, holder=None, stamps=stamps, converged=converged, up_to_date=False, pulled=False,
                  previous_digest="")
    try:
        result["app_running"] = bool((Docker().inspect(app.name) or {}).get("State", {}).get("Running"))
    except CommandError:  # no Docker yet
        result["app_running"] = False
    if not converged:
        # Docker may not even be there yet: the rollout converges the host first.
        module.exit_json(**result)

    deployer = Deployer(module)
    try:
        answer = deployer.run(pull_only=True)
    except (Refused, CommandError) as exc:
        result["msg"] = str(exc)
        module.fail_json(**result)
    result.update(changed=answer["pulled"], up_to_date=answer["up_to_date"], pulled=answer["pulled"],
                  previous_digest=answer["previous_digest"])
    if answer["up_to_date"] and not module.check_mode:
        result["released"] = give_back_lock(app.lock_path, params["lock_owner"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
