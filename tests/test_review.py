"""The offline Well-Architected review of the shipped stacks, and how `make plan` reports it."""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from policy.wellarchitected import ADVISORY, MANDATORY, PILLARS, RULES
from tools import review
from tools.offline import PROGRAM, ROOT, STACKS, Run, run_cached, run_program, stack_config

GUARDRAILS = (ROOT / "docs" / "guardrails.md").read_text()


def _section(title: str) -> str:
    """The text under a heading of docs/guardrails.md, up to the next heading."""
    return re.split(r"\n#+ ", re.split(rf"^#+ {re.escape(title)}\n", GUARDRAILS, flags=re.MULTILINE)[1], maxsplit=1)[0]


@pytest.fixture(scope="module", params=STACKS)
def stack_review(request: pytest.FixtureRequest) -> tuple[str, str, list]:
    stack = request.param
    environment = stack_config(stack)["aws-patterns:environment"]
    return stack, environment, review.review(run_cached(stack, preview=False), environment)


def test_prod_passes_every_mandatory_rule(stack_review: tuple[str, str, list]) -> None:
    """Prod as shipped (and every other stack) has no mandatory finding; elsewhere findings advise."""
    _, _, findings = stack_review
    details = [f"{f.rule}: {f.resource_type} {f.resource_name}: {f.message}" for f in findings]
    assert [f for f in findings if f.level == MANDATORY] == [], "\n".join(details)


def test_dev_findings_are_the_documented_trade_offs(stack_review: tuple[str, str, list]) -> None:
    _, environment, findings = stack_review
    if environment != "dev":
        pytest.skip("only dev's trade-offs are documented")
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", _section("Intended trade-offs in dev"), re.MULTILINE))
    undocumented = sorted({f.rule for f in findings} - documented)
    assert undocumented == [], "document these in docs/guardrails.md's dev trade-offs, or fix them"
    assert all(f.level == ADVISORY for f in findings)


def test_readme_lists_every_rule_with_its_pillar() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| ([A-Za-z ]+) \|", _section("Rules and enforcement"), re.MULTILINE))
    assert rows == {rule.id: rule.pillar for rule in RULES.values()}


def test_review_sees_the_provider_default_tags() -> None:
    run = run_cached("dev", preview=False)
    tags = review.provider_tags(run)
    assert tags["environment"] == "dev" and tags["managed-by"] == "pulumi"


def test_render_groups_findings_by_pillar_with_resource_and_fix() -> None:
    from policy.wellarchitected import Finding

    findings = [
        Finding("sqs-encrypted", "Security", MANDATORY, "aws:sqs/queue:Queue", "orders", "not encrypted", "set sse"),
        Finding("dynamodb-pitr", "Reliability", ADVISORY, "aws:dynamodb/table:Table", "t", "no pitr", "set pitr"),
    ]
    text = review.render(findings, "prod", "prod")
    assert "2 finding(s), 1 mandatory" in text.splitlines()[0]
    headers = [line.split(" (")[0] for line in text.splitlines() if line and not line.startswith(" ")][1:]
    assert headers == list(PILLARS)
    security = text.split("Security", 1)[1].split("Reliability", 1)[0]
    assert "[mandatory] sqs-encrypted: aws:sqs/queue:Queue orders: not encrypted" in security
    assert "fix: set sse" in security


def test_exit_status_is_one_exactly_when_a_finding_is_mandatory(tmp_path: Path, capsys) -> None:
    everything_mandatory = tmp_path / "strict.json"
    everything_mandatory.write_text(json.dumps({"all": "mandatory"}))
    nothing = tmp_path / "off.json"
    nothing.write_text(json.dumps({"all": "disabled"}))
    dev_findings = review.review(run_cached("dev", preview=False), "dev")
    assert review.main(["dev", "--policy-config", str(everything_mandatory)]) == (1 if dev_findings else 0)
    assert review.main(["prod", "--policy-config", str(nothing)]) == 0
    prod_header = capsys.readouterr().out.split("Well-Architected review of stack 'prod'")[-1].splitlines()[0]
    assert prod_header.endswith("0 finding(s), 0 mandatory")


def test_plan_report_has_review_diagram_and_cost_side_by_side() -> None:
    config = stack_config("staging")
    run: Run = run_program("staging", preview=False, config=config)
    text, status = review.plan_report("staging", config, run)
    assert text.startswith("Well-Architected review of stack 'staging'")
    assert "flowchart LR" in text
    cost_header = next(line for line in text.splitlines() if "qty, USD/month" in line)
    assert re.findall(r"(\w+): qty", cost_header) == ["dev", "staging", "prod"]
    assert status == 0, "staging findings are advisory"


# --- the review names every control that goes missing ---------------------------------------------
#
# Each case rebuilds the prod stack with one control taken out by a stack transformation (the
# legacy in-process kind: the SDK's mock monitor does not run `register_resource_transform`
# callbacks) and asserts the review reports it, mandatory, on the resource that lost it: the
# controls the stack-level components build and those of every pattern (issue 12). A resource
# cannot be dropped by a transformation, so a wiring resource (an association, a subscription,
# bucket logging) is pointed elsewhere instead, which is what losing it looks like to the rule.


@dataclass(frozen=True)
class Removal:
    control: str
    type_: str
    name: str | None  # logical name; None edits every resource of the type
    edit: Callable[[dict[str, Any]], dict[str, Any]]  # the resource's input properties, snake_case
    rule: str
    culprit: str  # the resource the review must name


def _set(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda props: {**props, **changes}


def _drop_waf_rule(rule: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda props: {**props, "rules": [r for r in props["rules"] if r.name != rule]}


def _without_metrics(props: dict[str, Any]) -> dict[str, Any]:
    old = props["visibility_config"]
    config = aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=False, sampled_requests_enabled=True, metric_name=old.metric_name
    )
    return {**props, "visibility_config": config}


def _without_upload_bound(props: dict[str, Any]) -> dict[str, Any]:
    variables = {k: v for k, v in props["environment"].variables.items() if k != "MAX_UPLOAD_BYTES"}
    return {**props, "environment": aws.lambda_.FunctionEnvironmentArgs(variables=variables)}


WEB_ACL, POOL = "aws:wafv2/webAcl:WebAcl", "aws:cognito/userPool:UserPool"
REMOVALS = [
    Removal("WAF: AWS common rule set", WEB_ACL, "waf", _drop_waf_rule("common"), "waf-baseline-rules", "waf"),
    Removal("WAF: per-IP rate limit", WEB_ACL, "waf", _drop_waf_rule("rate-per-ip"), "waf-baseline-rules", "waf"),
    Removal("WAF: CloudWatch metrics", WEB_ACL, "waf", _without_metrics, "waf-baseline-rules", "waf"),
    Removal(
        "WAF: logging configuration",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "waf",
        _set(resource_arn="arn:aws:wafv2:us-east-1:123456789012:regional/webacl/elsewhere/1"),
        "waf-logging",
        "waf",
    ),
    Removal(
        "WAF: credentials redacted from its log",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "waf",
        _set(redacted_fields=None),
        "waf-logging",
        "waf",
    ),
    Removal(
        "WAF: log group named aws-waf-logs-",
        "aws:cloudwatch/logGroup:LogGroup",
        "waf-logs",
        _set(name_prefix="/aws/waf/"),
        "waf-logging",
        "waf",
    ),
    Removal("user pool: MFA", POOL, "identity-users", _set(mfa_configuration="OFF"), "cognito-mfa", "identity-users"),
    Removal(
        "user pool: password policy",
        POOL,
        "identity-users",
        _set(password_policy=aws.cognito.UserPoolPasswordPolicyArgs(minimum_length=6)),
        "cognito-password-policy",
        "identity-users",
    ),
    Removal(
        "user pool: threat protection enforced",
        POOL,
        "identity-users",
        _set(user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(advanced_security_mode="AUDIT")),
        "cognito-threat-protection",
        "identity-users",
    ),
    Removal(
        "user pool: deletion protection",
        POOL,
        "identity-users",
        _set(deletion_protection="INACTIVE"),
        "cognito-deletion-protection",
        "identity-users",
    ),
    Removal(
        "access-log bucket: default encryption",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "access-logs",
        _set(bucket="some-other-bucket"),
        "s3-encrypted",
        "access-logs",
    ),
    Removal(
        "REST API: SigV4 on every method",
        "aws:apigateway/method:Method",
        None,
        _set(authorization="NONE"),
        "api-authorizer",
        "post-orders",
    ),
    Removal(
        "HTTP API: access log",
        "aws:apigatewayv2/stage:Stage",
        "serverless",
        _set(access_log_settings=None),
        "api-access-logs",
        "serverless",
    ),
    Removal(
        "ALB: invalid header fields dropped",
        "aws:lb/loadBalancer:LoadBalancer",
        "multi-tier-alb",
        _set(drop_invalid_header_fields=False),
        "alb-drop-invalid-headers",
        "multi-tier-alb",
    ),
    Removal(
        "ALB: HTTPS listener",
        "aws:lb/listener:Listener",
        "multi-tier-https",
        _set(protocol="HTTP", port=8443, ssl_policy=None, certificate_arn=None),
        "https-listeners",
        "multi-tier-https",
    ),
    Removal(
        "ALB: HTTP only redirects",
        "aws:lb/listener:Listener",
        "multi-tier-http",
        _set(default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn="arn:aws:tg")]),
        "https-listeners",
        "multi-tier-http",
    ),
    Removal(
        "ALB: web ACL",
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "multi-tier-alb",
        _set(resource_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/other/1"),
        "waf-on-public-entry-points",
        "multi-tier-alb",
    ),
    Removal(
        "REST API stage: web ACL",
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "microservices-waf",
        _set(resource_arn="arn:aws:apigateway:us-east-1::/restapis/other/stages/v1"),
        "waf-on-public-entry-points",
        "microservices",
    ),
    Removal(
        "REST API stage: access log",
        "aws:apigateway/stage:Stage",
        "microservices",
        _set(access_log_settings=None),
        "api-access-logs",
        "microservices",
    ),
    Removal(
        "HTTP API: JWT authorizer on uploads",
        "aws:apigatewayv2/route:Route",
        "serverless-post-uploads",
        _set(authorization_type="NONE", authorizer_id=None),
        "api-authorizer",
        "serverless-post-uploads",
    ),
    Removal(
        "upload bucket: server access logs",
        "aws:s3/bucketLogging:BucketLogging",
        "serverless-uploads",
        _set(bucket="some-other-bucket"),
        "s3-access-logs",
        "serverless-uploads",
    ),
    Removal(
        "artifact bucket: server access logs",
        "aws:s3/bucketLogging:BucketLogging",
        "multi-tier-artifacts",
        _set(bucket="some-other-bucket"),
        "s3-access-logs",
        "multi-tier-artifacts",
    ),
    Removal(
        "database: enhanced monitoring",
        "aws:rds/instance:Instance",
        "multi-tier-db",
        _set(monitoring_interval=0, monitoring_role_arn=None),
        "rds-enhanced-monitoring",
        "multi-tier-db",
    ),
    Removal(
        "database: IAM authentication",
        "aws:rds/instance:Instance",
        "multi-tier-db",
        _set(iam_database_authentication_enabled=False),
        "rds-iam-auth",
        "multi-tier-db",
    ),
    Removal(
        "alarms: a subscriber",
        "aws:sns/topicSubscription:TopicSubscription",
        None,
        _set(topic="arn:aws:sns:us-east-1:123456789012:elsewhere"),
        "alarm-subscribers",
        "observability",
    ),
    Removal(
        "upload intake: MAX_UPLOAD_BYTES",
        "aws:lambda/function:Function",
        "serverless-intake",
        _without_upload_bound,
        "upload-size-bound",
        "serverless-intake",
    ),
]


def _prod_without(removal: Removal) -> Run:
    edited: list[str] = []

    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if args.type_ != removal.type_ or removal.name not in (None, args.name):
            return None
        edited.append(args.name)
        return pulumi.ResourceTransformationResult(removal.edit(dict(args.props)), args.opts)

    def program() -> None:
        pulumi.runtime.register_stack_transformation(transformation)
        runpy.run_path(str(PROGRAM), run_name="__main__")

    run = run_program("prod", preview=False, program=program)
    assert edited, f"prod has no {removal.type_} {removal.name}: the control to remove is not there"
    return run


@pytest.mark.parametrize("removal", REMOVALS, ids=lambda r: r.control)
def test_review_names_each_control_removed_from_prod(removal: Removal) -> None:
    before = review.review(run_cached("prod", preview=False), "prod")
    assert (removal.rule, removal.culprit) not in {(f.rule, f.resource_name) for f in before}, "prod already lacks it"
    after = review.review(_prod_without(removal), "prod")
    named = [f for f in after if (f.rule, f.resource_name) == (removal.rule, removal.culprit)]
    assert named, f"removing '{removal.control}' went unnoticed"
    assert all(f.level == MANDATORY and f.message and f.fix == RULES[removal.rule].fix for f in named)
