#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fragments-deploy contributors
# MIT License (see https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dynamodb_point_in_time_recovery
short_description: Turn a DynamoDB table's point-in-time recovery on or off
version_added: 0.3.0
description:
  - Reads the table's continuous backups (DescribeContinuousBackups) and changes them
    (UpdateContinuousBackups) only where they differ, so a second run changes nothing.
  - C(community.aws.dynamodb_table) creates the table but has no option for point-in-time
    recovery, which lets the table be restored to any second of the last 35 days.
  - Credentials, region and endpoint come the usual amazon.aws ways (environment, profile,
    instance role; C(AWS_ENDPOINT_URL) for a test endpoint such as moto).
options:
  table:
    description: The table's name.
    type: str
    required: true
  enabled:
    description: Whether point-in-time recovery is on.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: In check mode it reads and says whether it would change the setting.
  diff_mode:
    support: full
    description: The setting before and after.
author:
  - fragments-deploy maintainers (@fragments-deploy)
"""

EXAMPLES = r"""
- name: Keep 35 days of point-in-time recovery for the fragments table
  fragments.deploy.dynamodb_point_in_time_recovery:
    table: fragments
    region: us-east-1
"""

RETURN = r"""
enabled:
  description: Whether point-in-time recovery is on after the call (in check mode, would be).
  returned: success
  type: bool
  sample: true
earliest_restorable:
  description: The earliest time the table can be restored to, where AWS says it.
  returned: when enabled and known
  type: str
  sample: "2026-12-02T10:00:00+00:00"
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library


def current(client, table):
    """(enabled, earliest restorable time or None) as AWS reports them now."""
    description = client.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    recovery = description.get("PointInTimeRecoveryDescription", {})
    earliest = recovery.get("EarliestRestorableDateTime")
    return recovery.get("PointInTimeRecoveryStatus") == "ENABLED", (str(earliest) if earliest else None)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(table=dict(type="str", required=True), enabled=dict(type="bool", default=True)),
        supports_check_mode=True,
    )
    table, wanted = module.params["table"], module.params["enabled"]
    client = module.client("dynamodb")
    try:
        enabled, earliest = current(client, table)
        before = enabled
        changed = enabled != wanted
        if changed and not module.check_mode:
            client.update_continuous_backups(
                TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": wanted}
            )
            enabled, earliest = current(client, table)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("TableNotFoundException", "ResourceNotFoundException"):
            module.fail_json(msg="no DynamoDB table {0} in {1}: create it first".format(table, module.region))
        module.fail_json_aws(exc, msg="cannot read or change the point-in-time recovery of table {0}".format(table))
    except botocore.exceptions.BotoCoreError as exc:
        module.fail_json_aws(exc, msg="cannot reach DynamoDB for table {0}".format(table))
    result = dict(changed=changed, enabled=wanted if module.check_mode else enabled)
    if earliest and result["enabled"]:
        result["earliest_restorable"] = earliest
    if module._diff:
        result["diff"] = dict(before=dict(point_in_time_recovery=before), after=dict(point_in_time_recovery=wanted))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
