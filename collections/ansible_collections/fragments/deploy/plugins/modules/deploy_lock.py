#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: deploy_lock
short_description: Take, inspect or give back a deploy lock file on a host
version_added: 0.2.0
description:
  - A deploy holds a lock file on every host it changes, so that two deploys against the
    same fleet cannot run at once. The file is created atomically (C(O_EXCL)) and holds
    who took it, from where and when.
  - Taking a lock someone else holds does not fail; it returns C(acquired=false) and
    the holder, so the play can give back the locks it took on other hosts first and
    then fail with one message. A lock older than O(stale_after) is reported as stale;
    it is never broken silently.
  - Giving a lock back removes it only if O(owner) holds it, unless O(force=true).
options:
  path:
    description: The lock file. Its folder is created if needed.
    type: path
    required: true
  owner:
    description: Identifies this deploy run, e.g. C(alice@laptop:12345:8f3a).
    type: str
    required: true
  state:
    description: C(present) takes the lock, C(absent) gives it back, C(inspect) only reads it.
    type: str
    choices: [present, absent, inspect]
    default: present
  force:
    description: With C(state=absent), remove the lock whoever holds it.
    type: bool
    default: false
  stale_after:
    description: Seconds after which a held lock is reported as stale.
    type: int
    default: 1800
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; C(acquired) tells whether it would be.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Take the deploy lock
  fragments.deploy.deploy_lock:
    path: /var/lib/fragments-deploy/fragments/deploy.lock
    owner: "alice@laptop:4242"
  register: lock

- name: Release a stale lock after checking no deploy runs
  fragments.deploy.deploy_lock:
    path: /var/lib/fragments-deploy/fragments/deploy.lock
    owner: "{{ lookup('env', 'USER') }}"
    state: absent
    force: true
"""

RETURN = r"""
acquired:
  description: Whether O(owner) holds the lock now (C(state=present)).
  returned: always
  type: bool
holder:
  description: The lock's content before this call, or null when there was none.
  returned: always
  type: dict
  contains:
    owner:
      description: Who took it.
      type: str
    since:
      description: When, ISO 8601 UTC.
      type: str
    age:
      description: Seconds since then.
      type: int
    stale:
      description: Older than O(stale_after).
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fragments.deploy.plugins.module_utils.app_lock import read_lock, remove_lock, take_lock


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            owner=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent", "inspect"], default="present"),
            force=dict(type="bool", default=False),
            stale_after=dict(type="int", default=1800),
        ),
        supports_check_mode=True,
    )
    path, owner, state = module.params["path"], module.params["owner"], module.params["state"]
    holder = read_lock(path, module.params["stale_after"])
    ours = bool(holder) and holder.get("owner") == owner

    if state == "inspect":
        module.exit_json(changed=False, acquired=ours, holder=holder)

    if state == "absent":
        if holder is None or not (ours or module.params["force"]):
            module.exit_json(changed=False, acquired=False, holder=holder)
        if not module.check_mode:
            remove_lock(path)
        module.exit_json(changed=True, acquired=False, holder=holder)

    if ours:
        module.exit_json(changed=False, acquired=True, holder=holder)
    if holder is not None:
        module.exit_json(changed=False, acquired=False, holder=holder)
    if module.check_mode:
        module.exit_json(changed=True, acquired=True, holder=None)
    acquired = take_lock(path, owner)
    module.exit_json(changed=acquired, acquired=acquired,
                     holder=None if acquired else read_lock(path, module.params["stale_after"]))


if __name__ == "__main__":
    main()
