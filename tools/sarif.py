"""The Well-Architected review's findings as SARIF 2.1.0, for GitHub code scanning.

Every finding of the head of a diff (tools/diff.py) becomes a result located at the line that
declares the resource (the Pulumi SDK reports where each resource was constructed), so code
scanning shows it on the pull request's lines. The workflow that uploads it never checks out the
code, so each result carries its own fingerprint (stack, rule, resource, message) rather than
one computed from the file. Mandatory findings are errors, advisory ones warnings.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from policy.wellarchitected import MANDATORY, RULES, Finding

if TYPE_CHECKING:
    from tools.diff import Report, StackPlan

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL = "aws-patterns well-architected review"
FINGERPRINT = "awsPatternsFinding/v1"


def _rule(rule_id: str) -> dict[str, Any]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.description},
        "help": {"text": f"Fix: {rule.fix}"},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["well-architected", rule.pillar]},
    }


def _location(stack: str, finding: Finding, plan: StackPlan | None) -> dict[str, Any]:
    source = (plan.meta.get(finding.urn, {}).get("source") if plan else None) or {
        "path": f"Pulumi.{stack}.yaml",
        "line": 1,
    }
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": source["path"], "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(1, int(source["line"]))},
        },
        "logicalLocations": [{"fullyQualifiedName": finding.urn, "kind": "resource"}],
    }


def result(stack: str, finding: Finding, plan: StackPlan | None, rule_index: int, new: bool) -> dict[str, Any]:
    identity = "|".join((stack, finding.rule, finding.urn, finding.message))
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": "error" if finding.level == MANDATORY else "warning",
        "message": {
            "text": f"[{stack}] {finding.resource_type} {finding.resource_name}: {finding.message}. Fix: {finding.fix}"
        },
        "locations": [_location(stack, finding, plan)],
        "partialFingerprints": {FINGERPRINT: hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {"stack": stack, "pillar": finding.pillar, "enforcement": finding.level, "newInThisChange": new},
    }


def log(report: Report, head: dict[str, StackPlan]) -> dict[str, Any]:
    """One SARIF run with every head finding of every reviewed stack."""
    used = sorted({f.rule for s in report.stacks for f in s.head_findings})
    index = {rule_id: i for i, rule_id in enumerate(used)}
    results = []
    for s in report.stacks:
        new = {id(f) for f in s.new_findings}
        results += [result(s.stack, f, head.get(s.stack), index[f.rule], id(f) in new) for f in s.head_findings]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": TOOL, "rules": [_rule(r) for r in used]}},
                "automationDetails": {"id": "aws-patterns-review/"},
                "results": results,
            }
        ],
    }
