"""The stack's web ACL (components/waf.py), asserted on what it registers, in both modes."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest

from components.config import ConfigError, StackConfig, validate
from components.waf import LOG_GROUP_PREFIX, WebAcl, WebAclArgs, metric_name
from tests.conftest import run_with
from tools.offline import ACCOUNT, Registered, Run, run_program, wired

ACL = "aws:wafv2/webAcl:WebAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LOG_POLICY = "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"


def _cfg(environment: str = "prod", **waf: Any) -> StackConfig:
    return validate({"environment": environment, "microservices": {"enabled": True}, "waf": waf}, "us-east-1")


def _run(cfg: StackConfig, preview: bool) -> Run:
    return run_program("prod", preview, program=lambda: WebAcl("waf", WebAclArgs.from_config(cfg)))


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def run(request: pytest.FixtureRequest) -> Run:
    return _run(_cfg(rateLimit=1500), request.param)


def _only(run: Run, type_: str) -> Registered:
    (res,) = run.by_type(type_)
    return res


def _rules(run: Run) -> dict[str, dict[str, Any]]:
    return {rule["name"]: rule for rule in _only(run, ACL).inputs["rules"]}


def test_web_acl_is_regional_and_allows_what_no_rule_blocks(run: Run) -> None:
    acl = _only(run, ACL).inputs
    assert acl["scope"] == "REGIONAL", "REST API stages and ALBs need a regional web ACL"
    assert acl["defaultAction"] == {"allow": {}}
    assert acl["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    assert acl["visibilityConfig"]["sampledRequestsEnabled"] is True


def test_managed_rule_groups_block_and_run_in_order(run: Run) -> None:
    rules = _rules(run)
    managed = {
        name: rule["statement"]["managedRuleGroupStatement"]
        for name, rule in rules.items()
        if "managedRuleGroupStatement" in rule["statement"]
    }
    assert {m["name"] for m in managed.values()} == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    assert all(m["vendorName"] == "AWS" for m in managed.values())
    # `none` keeps each group's own block actions; `count` would switch the group off.
    assert all(rules[name]["overrideAction"] == {"none": {}} for name in managed)
    priorities = [rule["priority"] for rule in rules.values()]
    assert len(set(priorities)) == len(priorities), "WAF refuses two rules with one priority"
    by_priority = sorted(rules.values(), key=lambda r: r["priority"])
    assert by_priority[0]["name"] == "ip-reputation" and by_priority[1]["name"] == "rate-per-ip"


def test_only_the_body_size_rule_of_the_common_set_counts(run: Run) -> None:
    common = _rules(run)["common"]["statement"]["managedRuleGroupStatement"]
    assert common["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    others = [
        r for name, r in _rules(run).items() if name != "common" and "managedRuleGroupStatement" in r["statement"]
    ]
    assert all(not r["statement"]["managedRuleGroupStatement"].get("ruleActionOverrides") for r in others)


def test_rate_limit_blocks_per_ip_over_five_minutes_from_config(run: Run) -> None:
    rate = _rules(run)["rate-per-ip"]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"] == {
        "aggregateKeyType": "IP",
        "limit": 1500,
        "evaluationWindowSec": 300,
    }


def _waf_shape(name: str) -> dict[str, Any]:
    """A WAFv2 API constraint as AWS's own service model (botocore) states it."""
    return botocore.session.get_session().get_service_model("wafv2").shape_for(name).metadata


def _accepts(shape: str, value: str) -> bool:
    meta = _waf_shape(shape)
    return meta["min"] <= len(value) <= meta["max"] and re.search(meta["pattern"], value) is not None


def test_every_rule_publishes_metrics_under_a_name_waf_accepts(run: Run) -> None:
    names = [rule["visibilityConfig"]["metricName"] for rule in _rules(run).values()]
    names.append(_only(run, ACL).inputs["visibilityConfig"]["metricName"])
    assert len(set(names)) == len(names)
    for rule in _rules(run).values():
        assert rule["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
        assert rule["visibilityConfig"]["sampledRequestsEnabled"] is True
    for name in names:
        assert _accepts("MetricName", name) and name not in ("All", "Default_Action"), name
    assert _accepts("MetricName", metric_name("a b", "c+d"))


def test_names_and_description_are_ones_waf_accepts(run: Run) -> None:
    acl = _only(run, ACL).inputs
    assert _accepts("EntityDescription", acl["description"]), acl["description"]
    for rule in acl["rules"]:
        assert _accepts("EntityName", rule["name"]), rule["name"]
    assert "name" not in acl, "auto-named: a replacement cannot collide with the web ACL it replaces"


def test_rate_limit_bounds_are_wafs() -> None:
    limit = _waf_shape("RateLimit")
    _cfg(rateLimit=limit["min"])
    _cfg(rateLimit=limit["max"])
    for outside in (limit["min"] - 1, limit["max"] + 1):
        with pytest.raises(ConfigError, match=r"aws-patterns:waf\.rateLimit: "):
            _cfg(rateLimit=outside)


def test_log_group_name_starts_with_aws_waf_logs_and_expires(run: Run) -> None:
    group = _only(run, LOG_GROUP).inputs
    assert group["namePrefix"].startswith(LOG_GROUP_PREFIX) and LOG_GROUP_PREFIX == "aws-waf-logs-"
    assert "name" not in group
    assert group["retentionInDays"] == 365


def test_log_group_has_its_own_delivery_policy_for_this_account(run: Run) -> None:
    group, policy = _only(run, LOG_GROUP), _only(run, LOG_POLICY)
    assert wired(policy, "resourceArn", group), "a policy on this group, not the account-wide AWSWAF-LOGS"
    assert "policyName" not in policy.inputs
    if run.preview:
        return
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    arn = group.outputs["arn"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == f"{arn}:log-stream:*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:*"},
    }


def test_logging_configuration_redacts_credentials_keeps_what_waf_acted_on_and_waits_for_the_policy(run: Run) -> None:
    acl, group, policy, logging = (_only(run, t) for t in (ACL, LOG_GROUP, LOG_POLICY, LOGGING))
    assert wired(logging, "resourceArn", acl) and wired(logging, "logDestinationConfigs", group)
    assert policy.urn in logging.dependencies
    headers = [field["singleHeader"]["name"] for field in logging.inputs["redactedFields"]]
    assert headers == ["authorization", "cookie"], "WAF compares header names in lower case"
    assert logging.inputs["loggingFilter"] == {
        "defaultBehavior": "DROP",
        "filters": [
            {
                "behavior": "KEEP",
                "requirement": "MEETS_ANY",
                "conditions": [{"actionCondition": {"action": "BLOCK"}}, {"actionCondition": {"action": "COUNT"}}],
            }
        ],
    }


def test_every_child_is_parented_and_tagged(run: Run) -> None:
    (component,) = run.by_type("aws-patterns:waf:WebAcl")
    children = run.children(component)
    assert {c.type for c in children} == {ACL, LOG_GROUP, LOG_POLICY, LOGGING}
    assert _only(run, ACL).inputs["tags"]["Name"].startswith("aws-patterns-prod-")


# --- the stack -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "overrides", "built"),
    [
        ("dev", {}, False),
        ("staging", {}, True),
        ("prod", {}, True),
        ("dev", {"waf": {"enabled": True}}, True),
        # An HTTP API cannot be associated with a web ACL: serverless alone builds none.
        ("prod", {"microservices": {"enabled": False}, "multiTier": {"enabled": False}}, False),
        ("prod", {"waf": {"enabled": False}}, False),
    ],
)
def test_web_acl_is_built_only_when_an_entry_point_can_use_it(
    stack: str, overrides: dict[str, Any], built: bool
) -> None:
    run = run_with(stack, overrides)
    assert bool(run.by_type("aws-patterns:waf:WebAcl")) is built
    assert ("waf" in run.outputs) is built
    if built:
        assert run.outputs["waf"]["webAclArn"] == _only(run, ACL).outputs["arn"]


@pytest.mark.parametrize(
    ("waf", "key"),
    [
        ({"rateLimit": 9}, "waf.rateLimit"),
        ({"rateLimit": 2_000_000_001}, "waf.rateLimit"),
        ({"rateLimit": "2000"}, "waf.rateLimit"),
        ({"logRetentionDays": 10}, "waf.logRetentionDays"),
        ({"enabled": "yes"}, "waf.enabled"),
        ({"blockCountries": ["XX"]}, "waf.blockCountries"),
    ],
)
def test_bad_waf_config_is_refused_naming_the_key(waf: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"aws-patterns:{key}: ")):
        _cfg(**waf)
