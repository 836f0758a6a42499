# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The app addresses a password or a token would cross the internet to unencrypted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: plain_http_to_public
short_description: The URLs of a list that are plain HTTP to a public address
version_added: 0.4.0
description:
  - Returns the entries that use C(http://) to an address on the internet, where HTTP Basic
    credentials or a bearer token would travel unencrypted; a deploy refuses them unless told
    otherwise.
  - Private (RFC 1918, unique local), loopback and link-local addresses, C(localhost) and
    names under C(.internal), C(.local), C(.lan), C(.home.arpa) or C(.lab) are not public. Any
    other name is taken as public (it may resolve anywhere). Empty entries are skipped.
options:
  _input:
    description: The app's URLs.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse plain HTTP to the internet
  ansible.builtin.assert:
    that: __plain | length == 0
  vars:
    __plain: "{{ ['http://52.0.0.10', 'https://app.example.com'] | fragments.deploy.plain_http_to_public }}"
"""

RETURN = r"""
_value:
  description: The plain-HTTP URLs to public addresses, in the order given.
  type: list
  elements: str
"""

import ipaddress
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

PRIVATE_SUFFIXES = (".internal", ".local", ".lan", ".home.arpa", ".lab")


def is_public_host(host):
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.lower().rstrip(".")
        return bool(name) and name != "localhost" and not name.endswith(PRIVATE_SUFFIXES)
    return address.is_global


def plain_http_to_public(urls):
    if isinstance(urls, str) or not isinstance(urls, (list, tuple)):
        raise AnsibleFilterError("plain_http_to_public: give a list of URLs, not %s" % type(urls).__name__)
    found = []
    for url in urls:
        text = str(url or "").strip()
        if not text:
            continue
        parts = urlsplit(text)
        if parts.scheme.lower() == "http" and is_public_host(parts.hostname or ""):
            found.append(text)
    return found


class FilterModule(object):
    def filters(self):
        return {"plain_http_to_public": plain_http_to_public}
