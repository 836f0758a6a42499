# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The public web address of a git remote, without credentials."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: public_source_url
short_description: The public web address of a git remote, without credentials
version_added: 0.3.0
description:
  - Turns what C(git remote get-url origin) prints into the https address a person opens,
    for an image's C(org.opencontainers.image.source) label and the service's C(githubUrl).
  - C(git@host:owner/repo.git), C(ssh://git@host/owner/repo.git) and
    C(https://user:token@host/owner/repo.git) all give C(https://host/owner/repo); a user name
    or token in the address is never kept. A local path or C(file://) remote gives "".
options:
  _input:
    description: The remote's address.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Label the image with where its source is published
  ansible.builtin.debug:
    msg: "{{ 'git@github.com:alice/fragments.git' | fragments.deploy.public_source_url }}"
"""

RETURN = r"""
_value:
  description: The https address, or "" when the remote is not a public one.
  type: str
"""

import re

SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,}):(?!//)(.+)$")
URL = re.compile(r"^(?:https?|ssh|git)://(?:[^@/]+@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,})(?::\d+)?/(.+)$")


def public_source_url(remote):
    remote = (remote or "").strip()
    found = URL.match(remote) or SCP_LIKE.match(remote)
    if not found:
        return ""
    host, path = found.group(1), found.group(2).strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return "https://%s/%s" % (host.lower(), path) if path else ""


class FilterModule(object):
    def filters(self):
        return {"public_source_url": public_source_url}
