#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: release_record
short_description: Record a released image (repository, tags, digest, commit) in a JSON file
version_added: 0.1.0
description:
  - Keeps one JSON file per image repository with the current release and the ones before
    it, newest first. Deploys read C(current); rollbacks read C(history).
  - Recording the same digest with the same tags again changes nothing, so re-running a
    release with no change to the source reports no change.
options:
  path:
    description: The JSON file. Its folder is created if needed.
    type: path
    required: true
  repository:
    description: Image repository with its registry, e.g. C(docker.io/alice/fragments).
    type: str
    required: true
  digest:
    description: Manifest digest that was pushed (C(sha256:...)).
    type: str
    required: true
  tags:
    description: Tags that point at the digest.
    type: list
    elements: str
    required: true
  git_sha:
    description: Commit the image was built from.
    type: str
    default: ""
  build_args:
    description: Build arguments (keep secrets out of build arguments).
    type: dict
    default: {}
  keep:
    description: How many earlier releases to keep in C(history).
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    description: Says whether the record would change; writes nothing.
  diff_mode:
    support: full
    description: Shows the record before and after.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Record what was pushed
  fragments.deploy.release_record:
    path: releases/alice--fragments.json
    repository: docker.io/alice/fragments
    digest: "{{ pushed.digest }}"
    tags: [latest, lab-6, 3f2a9c1d0b7e]
    git_sha: 3f2a9c1d0b7e5a4c3b2a1f0e9d8c7b6a5f4e3d2c
"""

RETURN = r"""
record:
  description: The current release, as written.
  returned: success
  type: dict
  sample:
    repository: docker.io/alice/fragments
    digest: sha256:0f1e...
    tags: [latest, lab-6, 3f2a9c1d0b7e]
    git_sha: 3f2a9c1d0b7e5a4c3b2a1f0e9d8c7b6a5f4e3d2c
    released_at: "2026-11-27T21:00:00Z"
    build_args: {}
previous:
  description: The release before it, or null.
  returned: success
  type: dict
"""

import json
import os
import tempfile
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule


def load(path):
    if not os.path.exists(path):
        return {"current": None, "history": []}
    with open(path) as handle:
        data = json.load(handle)
    if not isinstance(data, dict) or "history" not in data:
        raise ValueError("%s is not a release record file (no 'history' key)" % path)
    return data


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            repository=dict(type="str", required=True),
            digest=dict(type="str", required=True),
            tags=dict(type="list", elements="str", required=True),
            git_sha=dict(type="str", default=""),
            build_args=dict(type="dict", default={}),
            keep=dict(type="int", default=20),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    try:
        data = load(path)
    except (ValueError, OSError) as exc:
        module.fail_json(msg="cannot read the release record: %s" % exc)
    current = data.get("current")
    same = bool(current) and all(current.get(key) == params[key] for key in ("repository", "digest", "tags", "git_sha"))
    if same:
        module.exit_json(changed=False, record=current, previous=(data["history"] or [None])[0], path=path)

    record = {
        "repository": params["repository"],
        "digest": params["digest"],
        "tags": params["tags"],
        "git_sha": params["git_sha"],
        "released_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "build_args": params["build_args"],
    }
    history = ([current] if current else []) + data["history"]
    new = {"current": record, "history": history[: params["keep"]]}
    before = json.dumps(data, indent=2, sort_keys=True) + "\n"
    after = json.dumps(new, indent=2, sort_keys=True) + "\n"
    if not module.check_mode:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".release-record.")
        with os.fdopen(handle, "w") as out:
            out.write(after)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    module.exit_json(changed=True, record=record, previous=current, path=path,
                     diff={"before": before, "after": after, "before_header": path, "after_header": path})


if __name__ == "__main__":
    main()
