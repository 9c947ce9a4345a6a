"""The CrossGuard wrapping of the rules in wellarchitected.py: one policy per rule.

Each rule becomes a `ResourceValidationPolicy` (rules about one resource) or a
`StackValidationPolicy` (rules relating resources), named after the rule, tagged with its
pillar, with the fix as remediation steps. The enforcement level comes from the stack's
environment (`aws-patterns:environment`, which the CLI hands to policy packs with the rest of
the stack config): mandatory in prod, advisory elsewhere. `--policy-pack-config` overrides it
per rule or for `all`, as usual.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi.runtime
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policy.wellarchitected import (
    ENVIRONMENTS,
    RULES,
    UNKNOWN,
    Context,
    Resource,
    Rule,
    enforcement,
)

PACK_NAME = "aws-patterns-well-architected"
NAMESPACE = "aws-patterns"


def engine_environment(config: Mapping[str, str] | None = None, stack: str | None = None) -> str:
    """The environment of the stack being previewed; unknown means prod, the strictest."""
    config = pulumi.runtime.get_config_env() if config is None else config
    stack = os.environ.get("PULUMI_STACK", "") if stack is None else stack
    environment = config.get(f"{NAMESPACE}:environment") or stack.rsplit("/", 1)[-1]
    return environment if environment in ENVIRONMENTS else "prod"


def plain(value: Any) -> Any:
    """The engine's proxied values as plain dicts and lists, with unknowns as UNKNOWN."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        out = {}
        for key in list(value):
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def default_tags(provider_props: Mapping[str, Any] | None) -> dict[str, str]:
    """The provider's default_tags (a JSON string or an object, depending on who serialized it)."""
    value = plain(provider_props or {}).get("defaultTags")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    tags = value.get("tags") if isinstance(value, Mapping) else None
    return dict(tags) if isinstance(tags, Mapping) else {}


def _message(message: str, rule: Rule) -> str:
    return f"[{rule.pillar}] {message}. Fix: {rule.fix}"


def _context(environment: str, rule: Rule, config: Mapping[str, Any], tags: Mapping[str, str]) -> Context:
    return Context(environment=environment, default_tags=tags, config={rule.id: dict(config)})


def _resource_policy(rule: Rule, environment: str) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.checks_type(args.resource_type) or not rule.applies_to(environment):
            return
        props = plain(args.props)
        tags = default_tags(args.provider.props if args.provider else None)
        ctx = _context(environment, rule, args.get_config(), tags)
        for message in rule.check(args.resource_type, props, ctx):  # type: ignore[call-arg]
            report_violation(_message(message, rule), None)

    return ResourceValidationPolicy(
        name=rule.id,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel(enforcement(rule.id, environment)),
        config_schema=PolicyConfigSchema(properties=dict(rule.settings)) if rule.settings else None,
        tags=[rule.pillar],
        remediation_steps=rule.fix,
    )


def _stack_policy(rule: Rule, environment: str) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(environment):
            return
        resources = [
            Resource(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=plain(r.props),
                property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
                parent=r.parent.urn if r.parent else "",
            )
            for r in args.resources
        ]
        ctx = _context(environment, rule, args.get_config(), {})
        for res, message in rule.check(resources, ctx):  # type: ignore[call-arg]
            report_violation(_message(message, rule), res.urn)

    return StackValidationPolicy(
        name=rule.id,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel(enforcement(rule.id, environment)),
        tags=[rule.pillar],
        remediation_steps=rule.fix,
    )


def build_policies(environment: str) -> list[Policy]:
    """One CrossGuard policy per rule, at the enforcement level of `environment`."""
    return [
        _stack_policy(rule, environment) if rule.is_stack_rule else _resource_policy(rule, environment)
        for rule in RULES.values()
    ]
