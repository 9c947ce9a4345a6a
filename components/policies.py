"""IAM and resource policy documents, built the same way by every component."""

from __future__ import annotations

from typing import Any

import pulumi

VERSION = "2012-10-17"


def document(statements: list[dict[str, Any]]) -> pulumi.Output[str]:
    """A policy document; statements may hold Outputs (ARNs of resources being created)."""
    return pulumi.Output.json_dumps({"Version": VERSION, "Statement": statements})


def trust(service: str, account: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """The assume-role policy letting an AWS service principal use a role.

    With `account`, only on behalf of that account (the confused-deputy guard); some services
    (EC2, API Gateway's account role) are documented without the condition.
    """
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return pulumi.Output.json_dumps({"Version": VERSION, "Statement": [statement]})


def tls_only(resource: pulumi.Input[str] | list[pulumi.Input[str]], actions: str) -> dict[str, Any]:
    """Deny any request to `resource` that does not use TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
