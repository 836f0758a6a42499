#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: converge_stamp
short_description: Tell in one cheap call whether a role already converged this host
version_added: 0.3.0
description:
  - A role that installs and configures software (Docker, nginx) walks the package manager
    and a dozen files on every run, even when nothing changed. With this module it asks
    first, in one call, whether its last converge on this host had the same fingerprint
    (a hash of the role's inputs and its own files) and whether its services run; only
    when not does it walk everything, and then it writes the new fingerprint.
  - The stamp lives in O(dir)/O(name), readable by root only.
options:
  name:
    description: Name of the stamp (usually the role's).
    type: str
    required: true
  fingerprint:
    description: What the converge should have been done with.
    type: str
    required: true
  services:
    description: systemd services that must be active for the host to count as converged.
    type: list
    elements: str
    default: []
  state:
    description: C(check) only reads; C(present) records O(fingerprint) after a converge.
    type: str
    choices: [check, present]
    default: check
  dir:
    description: Folder of the stamps.
    type: path
    default: /var/lib/fragments-deploy/converged
attributes:
  check_mode:
    support: full
    description: C(check) reads in check mode too; C(present) writes nothing in check mode.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Ask whether Docker is already converged here
  fragments.deploy.converge_stamp:
    name: docker_engine
    fingerprint: "{{ inputs | to_json | hash('sha256') }}"
    services: [docker]
  register: stamp

- name: Record the converge
  fragments.deploy.converge_stamp:
    name: docker_engine
    fingerprint: "{{ inputs | to_json | hash('sha256') }}"
    state: present
"""

RETURN = r"""
current:
  description: The stamp holds O(fingerprint) and every service in O(services) is active.
  returned: always
  type: bool
stamped:
  description: The stamp holds O(fingerprint).
  returned: always
  type: bool
inactive:
  description: Services of O(services) that are not active.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fragments.deploy.plugins.module_utils.app_host import make_dir
from ansible_collections.fragments.deploy.plugins.module_utils.app_stamps import STAMP_DIR, inactive_services, read_stamp


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            fingerprint=dict(type="str", required=True),
            services=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["check", "present"], default="check"),
            dir=dict(type="path", default=STAMP_DIR),
        ),
        supports_check_mode=True,
    )
    name, fingerprint = module.params["name"], module.params["fingerprint"]
    if "/" in name or name in ("", ".", ".."):
        module.fail_json(msg="name must be a plain file name, not %r" % name)
    path = os.path.join(module.params["dir"], name)
    stamped = read_stamp(module.params["dir"], name) == fingerprint

    if module.params["state"] == "present":
        if not stamped and not module.check_mode:
            make_dir(module.params["dir"], 0o700)
            with open(path, "w") as handle:
                handle.write(fingerprint + "\n")
            os.chmod(path, 0o600)
        # The stamp is bookkeeping of a converge, not a change of the host.
        module.exit_json(changed=False, current=True, stamped=True, inactive=[])

    inactive = inactive_services(module.params["services"])
    module.exit_json(changed=False, current=stamped and not inactive, stamped=stamped, inactive=inactive)


if __name__ == "__main__":
    main()
