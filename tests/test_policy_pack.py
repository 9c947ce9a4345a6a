"""The CrossGuard pack wraps every rule, at the environment's enforcement level.

The policies are driven the way the pulumi-policy analyzer drives them: validation args built
from (proxied) engine properties, a report_violation callback collecting what they report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.pack import build_policies, default_tags, engine_environment, plain
from policy.wellarchitected import RULES, UNKNOWN
from tools.offline import ROOT

TAGS = {"project": "aws-patterns", "stack": "prod", "environment": "prod", "managed-by": "pulumi"}
OPTS = PolicyResourceOptions(False, [], None, [], None, [], None)  # type: ignore[arg-type]
PROVIDER = PolicyProviderResource("pulumi:providers:aws", {"defaultTags": json.dumps({"tags": TAGS})}, "urn:p", "aws")


def _policies(environment: str) -> dict[str, Any]:
    return {p.name: p for p in build_policies(environment)}


def _validate(policy: ResourceValidationPolicy, type_: str, props: dict[str, Any]) -> list[str]:
    reported: list[str] = []
    args = ResourceValidationArgs(type_, unknown_checking_proxy(props), "urn:x", "x", OPTS, PROVIDER, {})
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_one_policy_per_rule_tagged_with_its_pillar() -> None:
    policies = _policies("prod")
    assert set(policies) == set(RULES)
    for rule in RULES.values():
        policy = policies[rule.id]
        assert isinstance(policy, StackValidationPolicy if rule.is_stack_rule else ResourceValidationPolicy)
        assert policy.tags == [rule.pillar]
        assert policy.remediation_steps == rule.fix


@pytest.mark.parametrize(
    ("environment", "level"),
    [("prod", EnforcementLevel.MANDATORY), ("staging", EnforcementLevel.ADVISORY), ("dev", EnforcementLevel.ADVISORY)],
)
def test_enforcement_follows_the_environment(environment: str, level: EnforcementLevel) -> None:
    assert {p.enforcement_level for p in build_policies(environment)} == {level}


def test_environment_comes_from_the_stack_config_then_the_stack_name() -> None:
    assert engine_environment({"aws-patterns:environment": "dev"}, "acme/prod") == "dev"
    assert engine_environment({}, "acme/staging") == "staging"
    assert engine_environment({}, "feature-x") == "prod", "an unknown environment gets the strictest level"


def test_resource_policy_reports_the_rule_with_pillar_and_fix() -> None:
    policy = _policies("prod")["rds-encrypted"]
    assert _validate(policy, "aws:rds/instance:Instance", {"storageEncrypted": True}) == []
    (message,) = _validate(policy, "aws:rds/instance:Instance", {"storageEncrypted": False})
    assert "[Security]" in message and RULES["rds-encrypted"].fix in message
    assert _validate(policy, "aws:sqs/queue:Queue", {}) == [], "a rule only looks at its own types"


def test_unknown_values_during_preview_are_not_violations() -> None:
    policy = _policies("prod")["rds-encrypted"]
    assert _validate(policy, "aws:rds/instance:Instance", {"storageEncrypted": UNKNOWN_STRING_VALUE}) == []
    assert plain(unknown_checking_proxy({"a": [UNKNOWN_STRING_VALUE, 1], "b": {"c": UNKNOWN_STRING_VALUE}})) == {
        "a": [UNKNOWN, 1],
        "b": {"c": UNKNOWN},
    }


def test_required_tags_see_the_provider_default_tags() -> None:
    policy = _policies("prod")["required-tags"]
    assert default_tags(PROVIDER.props) == TAGS
    assert _validate(policy, "aws:sqs/queue:Queue", {"tags": {"Name": "q"}}) == []
    (message,) = _validate(policy, "aws:sqs/queue:Queue", {})
    assert "missing tags: Name" in message


def test_prod_only_rule_is_silent_in_dev() -> None:
    single_az = {"storageEncrypted": True, "multiAz": False}
    assert _validate(_policies("prod")["rds-multi-az"], "aws:rds/instance:Instance", single_az)
    assert _validate(_policies("dev")["rds-multi-az"], "aws:rds/instance:Instance", single_az) == []


def test_stack_policy_relates_resources_through_property_dependencies() -> None:
    policy = _policies("prod")["dlq-for-function-queues"]
    queue = PolicyResource("aws:sqs/queue:Queue", unknown_checking_proxy({}), "urn:q", "q", OPTS, None, None, [], {})
    mapping = PolicyResource(
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        unknown_checking_proxy({"eventSourceArn": UNKNOWN_STRING_VALUE}),
        "urn:m",
        "m",
        OPTS,
        None,
        None,
        [queue],
        {"eventSourceArn": [queue]},
    )
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs([queue, mapping], {}), lambda m, urn=None: reported.append((m, urn)))
    assert [urn for _, urn in reported] == ["urn:q"]


def test_pack_metadata_points_at_the_project_virtualenv() -> None:
    meta = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert meta["runtime"]["name"] == "python"
    assert (ROOT / "policy" / meta["runtime"]["options"]["virtualenv"]).resolve() == (ROOT / ".venv").resolve()


def test_pack_entry_point_imports_without_the_engine() -> None:
    """__main__.py must at least import and build its policies; PolicyPack itself needs the CLI."""
    code = (
        "import runpy, pulumi_policy; pulumi_policy.PolicyPack = lambda **kw: print(len(kw['policies']));"
        f"runpy.run_path({str(ROOT / 'policy')!r}, run_name='__main__')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == str(len(RULES))


def test_pull_request_previews_run_the_pack() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pull-request.yml").read_text())
    previews = [
        step
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("pulumi/actions@") and step["with"]["command"] == "preview"
    ]
    assert previews and all(step["with"]["policyPacks"] == "policy" for step in previews)


def _policy_resource(type_: str, name: str, props: dict[str, Any], **deps: list[PolicyResource]) -> PolicyResource:
    dependencies = [d for ds in deps.values() for d in ds]
    return PolicyResource(
        type_, unknown_checking_proxy(props), f"urn:{name}", name, OPTS, None, None, dependencies, deps
    )


def _stack_report(rule: str, resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    reported: list[tuple[str, str | None]] = []
    _policies("prod")[rule].validate(StackValidationArgs(resources, {}), lambda m, urn=None: reported.append((m, urn)))
    return reported


def test_edge_rules_relate_entry_points_and_associations_through_property_dependencies() -> None:
    """The WAF rule sees an association by the URN its resource ARN was built from, ARN unknown or not."""
    alb = _policy_resource(
        "aws:lb/loadBalancer:LoadBalancer", "alb", {"internal": False, "dropInvalidHeaderFields": True}
    )
    association = _policy_resource(
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "alb-waf",
        {"resourceArn": UNKNOWN_STRING_VALUE},
        resourceArn=[alb],
    )
    assert _stack_report("waf-on-public-entry-points", [alb, association]) == []
    ((message, urn),) = _stack_report("waf-on-public-entry-points", [alb])
    assert urn == "urn:alb" and "[Security]" in message and RULES["waf-on-public-entry-points"].fix in message


def test_s3_access_logs_stay_silent_while_a_bucket_policy_is_unknown() -> None:
    bucket = _policy_resource("aws:s3/bucket:Bucket", "b", {"tags": {"Name": "b"}})
    unknown = _policy_resource(
        "aws:s3/bucketPolicy:BucketPolicy", "b", {"policy": UNKNOWN_STRING_VALUE}, bucket=[bucket]
    )
    assert _stack_report("s3-access-logs", [bucket, unknown]) == []
    assert [urn for _, urn in _stack_report("s3-access-logs", [bucket])] == ["urn:b"]


def test_resource_policy_of_an_edge_rule_reports_with_pillar_and_fix() -> None:
    policy = _policies("prod")["api-authorizer"]
    route = "aws:apigatewayv2/route:Route"
    assert _validate(policy, route, {"routeKey": "POST /uploads", "authorizationType": "JWT"}) == []
    (message,) = _validate(policy, route, {"routeKey": "POST /uploads", "authorizationType": "NONE"})
    assert "POST /uploads takes anonymous callers" in message and RULES["api-authorizer"].fix in message
    assert _validate(policy, route, {"routeKey": "POST /uploads", "authorizationType": UNKNOWN_STRING_VALUE}) == []


def test_prod_only_edge_rules_are_silent_in_dev() -> None:
    topic = _policy_resource("aws:sns/topic:Topic", "alarms", {"kmsMasterKeyId": "k"})
    alarm = _policy_resource("aws:cloudwatch/metricAlarm:MetricAlarm", "a", {}, alarmActions=[topic])
    assert [urn for _, urn in _stack_report("alarm-subscribers", [topic, alarm])] == ["urn:alarms"]
    reported: list[str] = []
    dev = {p.name: p for p in build_policies("dev")}["alarm-subscribers"]
    dev.validate(StackValidationArgs([topic, alarm], {}), lambda m, urn=None: reported.append(m))
    assert reported == []
