# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Lay rows out as a table of aligned columns."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: status_table
short_description: Lay rows out as a text table of aligned columns, one line per row
version_added: 0.3.0
description:
  - Turns a list of dicts into the lines of a table, a header of the column titles, then one
    line per row, each column as wide as its widest cell. Lines carry no line break, so a
    callback that prints the result as a block keeps one line per row.
options:
  _input:
    description: The rows.
    type: list
    elements: dict
    required: true
  columns:
    description: The columns, each C([key, title]).
    type: list
    elements: list
    required: true
"""

EXAMPLES = r"""
- name: Show the hosts
  ansible.builtin.debug:
    msg: "{{ rows | fragments.deploy.status_table([['host', 'HOST'], ['health', 'HEALTH']]) | join('\n') }}"
"""

RETURN = r"""
_value:
  description: The table's lines, header first.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def cell(value):
    if isinstance(value, (list, tuple)):
        value = ",".join(str(item) for item in value)
    text = "-" if value is None or value == "" else str(value)
    return " ".join(text.split())  # a line break or tab in a value would break the row


def status_table(rows, columns):
    if not all(isinstance(column, (list, tuple)) and len(column) == 2 for column in columns):
        raise AnsibleFilterError("status_table: columns must be pairs [key, title], not %r" % (columns,))
    keys = [column[0] for column in columns]
    titles = [column[1] for column in columns]
    cells = [[cell(row.get(key)) for key in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells + [titles]) for i in range(len(keys))]
    return ["  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
            for line in [titles] + cells]


class FilterModule(object):
    def filters(self):
        return {"status_table": status_table}
