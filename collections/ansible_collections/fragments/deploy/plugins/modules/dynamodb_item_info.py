#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dynamodb_item_info
short_description: Read one item of a DynamoDB table by its key
version_added: 0.3.0
description:
  - Reads one item with a consistent read (GetItem) and returns it as plain values (strings,
    numbers, booleans, lists and maps), or says it is not there. It never writes.
  - Neither amazon.aws nor community.aws reads items; this answers "is this fragment's
    metadata in the table?" for an operator or a check.
  - Credentials, region and endpoint come the usual amazon.aws ways (environment, profile,
    instance role; C(AWS_ENDPOINT_URL) for a test endpoint such as moto).
options:
  table:
    description: The table's name.
    type: str
    required: true
  key:
    description: The item's whole primary key, attribute name to value (strings and numbers).
    type: dict
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: It only reads.
  diff_mode:
    support: none
    description: The module shows no diff.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Read a fragment's metadata
  fragments.deploy.dynamodb_item_info:
    table: fragments-production-fragments
    key:
      ownerId: 11d4c22e42c8f61feaba154683dea407b101cfd90987dda9e342843263ca420a
      id: 30a84843-0cd4-4975-95ba-b96112aea189
  register: metadata
"""

RETURN = r"""
found:
  description: Whether the table holds an item with that key.
  returned: success
  type: bool
  sample: true
item:
  description: The item's attributes as plain values, empty when not found.
  returned: success
  type: dict
  sample: {"ownerId": "11d4...", "id": "30a8...", "type": "text/plain", "size": 12}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

try:
    import botocore
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
except ImportError:
    pass  # AnsibleAWSModule reports the missing library


def plain(value):
    """DynamoDB's Decimal numbers as int or float, the rest as it is."""
    if isinstance(value, dict):
        return dict((name, plain(inner)) for name, inner in value.items())
    if isinstance(value, (list, set)):
        return [plain(inner) for inner in value]
    if value.__class__.__name__ == "Decimal":
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(table=dict(type="str", required=True), key=dict(type="dict", required=True, no_log=False)),
        supports_check_mode=True,
    )
    serializer, deserializer = TypeSerializer(), TypeDeserializer()
    key = dict((name, serializer.serialize(value)) for name, value in module.params["key"].items())
    client = module.client("dynamodb")
    try:
        answer = client.get_item(TableName=module.params["table"], Key=key, ConsistentRead=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="cannot read the item from table {0}".format(module.params["table"]))
    item = dict((name, plain(deserializer.deserialize(value))) for name, value in answer.get("Item", {}).items())
    module.exit_json(changed=False, found=bool(item), item=item)


if __name__ == "__main__":
    main()
