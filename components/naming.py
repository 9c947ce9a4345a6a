"""Naming and tagging shared by every component.

Tags come from one place: the explicit AWS provider's `default_tags`, so every taggable
resource created through it carries project, stack, environment and managed-by without each
component repeating them. Components add only a `Name` tag, through `name_tag()`.

Physical names are usually left to Pulumi's auto-naming (logical name + 8 characters). Where a
component must pass a name or a name prefix, `physical_name()` keeps it inside the AWS limit
for that kind of resource, replacing the tail with a stable hash when it would not fit.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import pulumi
import pulumi.runtime.settings as pulumi_settings
import pulumi_aws as aws
from pulumi.runtime.mocks import MockMonitor

from components.defaults import PROJECT

if TYPE_CHECKING:
    from components.config import StackConfig

# Longest physical name AWS accepts, per kind of resource.
NAME_LIMITS = {
    "alb": 32,
    "target-group": 32,
    "lambda": 64,
    "iam-role": 64,
    "event-rule": 64,
    "rds": 63,
    "s3-bucket": 63,
    "sqs": 80,
    "log-group": 512,
}
# Shortest name AWS accepts, where that is more than one character.
MIN_LENGTHS = {"s3-bucket": 3}
# Kinds whose names AWS only accepts in lower case.
LOWERCASE_KINDS = {"rds", "s3-bucket"}
# What Pulumi appends when the name is used as an auto-naming prefix: "-" + 7 random chars.
AUTONAME_SUFFIX = 8
_HASH_LEN = 7
_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def physical_name(kind: str, *parts: str, autonamed: bool = False) -> str:
    """Join `parts` into a name AWS accepts for `kind`.

    With `autonamed=True` the result leaves room for Pulumi's random suffix. Names that would
    be too long keep their start and end in a 7-character hash of the full name, so distinct
    inputs stay distinct and the same input always gives the same name.
    """
    limit = NAME_LIMITS[kind] - (AUTONAME_SUFFIX if autonamed else 0)
    name = _UNSAFE.sub("-", "-".join(p for p in parts if p)).strip("-")
    name = re.sub("-{2,}", "-", name) or "x"
    if kind in LOWERCASE_KINDS:
        name = name.lower()
    if not name[0].isalpha():
        name = "n" + name  # RDS identifiers and many others must start with a letter.
    if len(name) < MIN_LENGTHS.get(kind, 1):
        name = f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:_HASH_LEN]}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LEN]
    return f"{name[: limit - _HASH_LEN - 1].rstrip('-')}-{digest}"


def standard_tags(cfg: StackConfig, stack: str) -> dict[str, str]:
    """The tags every resource gets through the provider's default_tags."""
    return {
        **cfg.tags,
        "project": PROJECT,
        "stack": stack,
        "environment": cfg.environment,
        "managed-by": "pulumi",
    }


def name_tag(*parts: str) -> dict[str, str]:
    """The console-friendly `Name` tag for a resource (default_tags add the rest)."""
    return {"Name": "-".join([PROJECT, pulumi.get_stack(), *parts])}


def log_group_prefix(service: str, *parts: str) -> str:
    """`name_prefix` of a log group the program creates for a service: `/aws/<service>/<project>-<stack>-<parts>-`."""
    return f"/aws/{service}/{'-'.join([PROJECT, pulumi.get_stack(), *parts])}-"


def under_mocks() -> bool:
    """Whether the program runs inside the offline engine (Pulumi's mocks, tools/offline.py).

    `pulumi.runtime.set_mocks` installs a MockMonitor where a deployment has the engine's gRPC
    monitor; the process that starts the program chooses it, so no config can fake either.
    """
    return isinstance(pulumi_settings.get_monitor(), MockMonitor)


def caller_account(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The id of the account the stack deploys to, through `parent`'s provider.

    The `_output` form on purpose: a synchronous invoke (`aws.get_caller_identity()`) inside the
    running program waits for everything registered so far, so one per function made
    registration time grow with the square of the number of functions.
    """
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id


def partition(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The AWS partition (`aws`, `aws-cn`, `aws-us-gov`) of `parent`'s provider (see caller_account)."""
    return aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition


def build_provider(cfg: StackConfig) -> aws.Provider:
    """The explicit AWS provider every component uses (region and default tags from config).

    An explicit provider does not read `aws:*` stack config, so the stack's other `aws:` keys
    (profile, assumeRoles, allowedAccountIds...) are passed to it (components/provider_config.py).
    """
    return aws.Provider(
        "aws",
        region=cfg.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=standard_tags(cfg, pulumi.get_stack())),
        **cfg.provider_settings,
    )
