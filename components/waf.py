"""One regional WAFv2 web ACL per stack, for the patterns' public entry points.

The patterns associate it with what they expose (`web_acl_arn` in their Args, an
`aws.wafv2.WebAclAssociation` each): the microservices REST API stage and the multi-tier ALB.
HTTP APIs (API Gateway v2, the serverless pattern) cannot be associated with a web ACL; they
rely on their JWT authorizer and stage throttling (docs/security.md#http-apis-and-waf says what to put in
front of one that needs WAF).

What it does, in evaluation order (lowest priority number first):
1. AWS's Amazon IP reputation list: sources Amazon's threat intelligence has seen attacking.
2. A per-IP rate limit over 5 minutes (`waf.rateLimit`): one client cannot flood the APIs.
3. AWS's common rule set (OWASP-style: cross-site scripting, path traversal, bad user agents...).
   Its `SizeRestrictions_BODY` rule only counts: it blocks bodies over 8 KB, smaller than what
   the services document and enforce themselves (413 above 16 KiB for users, 64 KiB for orders).
4. AWS's known-bad-inputs rule set (Log4Shell, Java deserialization, ...).
Anything else is allowed. Every rule publishes CloudWatch metrics and sampled requests.

What AWS needs and mocks never check, guarded here:
- WAF logs only to a log group whose name starts with `aws-waf-logs-`.
- Log delivery writes as `delivery.logs.amazonaws.com`, which needs a resource policy on the log
  group. Left to itself WAF adds the group to an account-wide policy (`AWSWAF-LOGS`) that grows
  with every web ACL until it exceeds CloudWatch Logs' policy size; this stack attaches its own
  policy to its own log group instead (scoped to this account's log deliveries), and the logging
  configuration waits for it.
- Logs keep the request headers: the `authorization` and `cookie` headers are redacted, so
  bearer tokens and SigV4 signatures never land in a log group. Only requests WAF blocked or
  counted are logged; the APIs' own access logs record the allowed ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components import policies
from components.defaults import PROJECT
from components.naming import caller_account, name_tag, partition

if TYPE_CHECKING:
    from components.config import StackConfig

# WAF refuses any other log destination name.
LOG_GROUP_PREFIX = "aws-waf-logs-"
RATE_WINDOW_SECONDS = 300
# (rule name, AWS managed rule group) in evaluation order around the rate limit (see above).
REPUTATION = ("ip-reputation", "AWSManagedRulesAmazonIpReputationList")
MANAGED_AFTER_RATE = (
    ("common", "AWSManagedRulesCommonRuleSet"),
    ("known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
)
RATE_RULE = "rate-per-ip"
# Rules of a managed group that only count (see the module docstring).
COUNT_ONLY = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}
# Headers that carry credentials: bearer tokens, SigV4 signatures, session cookies.
REDACTED_HEADERS = ("authorization", "cookie")
LOGGED_ACTIONS = ("BLOCK", "COUNT")


@dataclass(frozen=True)
class WebAclArgs:
    region: str
    rate_limit: int = 2000
    log_retention_days: int = 30

    @classmethod
    def from_config(cls, cfg: StackConfig) -> WebAclArgs:
        return cls(region=cfg.region, rate_limit=cfg.waf.rate_limit, log_retention_days=cfg.waf.log_retention_days)


def uses_waf(cfg: StackConfig) -> bool:
    """Whether the stack builds the web ACL: enabled, and a pattern with a WAF-capable entry point is on."""
    return cfg.waf.enabled and (cfg.microservices.enabled or cfg.multi_tier.enabled)


def metric_name(*parts: str) -> str:
    """A CloudWatch metric name WAF accepts (letters, digits and `_#:.-/`), unique to this stack."""
    return re.sub(r"[^\w#:.\-/]", "-", "-".join([PROJECT, pulumi.get_stack(), *parts]))[:255]


def _visibility(*parts: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, sampled_requests_enabled=True, metric_name=metric_name(*parts)
    )


def _managed(priority: int, rule: str, group: str) -> aws.wafv2.WebAclRuleArgs:
    overrides = [
        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=name,
            action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
        for name in COUNT_ONLY.get(group, ())
    ]
    return aws.wafv2.WebAclRuleArgs(
        name=rule,
        priority=priority,
        # `none` keeps the group's own actions (block); `count` would turn the whole group off.
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_visibility(rule),
    )


def _rate(priority: int, limit: int) -> aws.wafv2.WebAclRuleArgs:
    return aws.wafv2.WebAclRuleArgs(
        name=RATE_RULE,
        priority=priority,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP", limit=limit, evaluation_window_sec=RATE_WINDOW_SECONDS
            )
        ),
        visibility_config=_visibility(RATE_RULE),
    )


class WebAcl(pulumi.ComponentResource):
    """The stack's regional web ACL, its log group, that group's delivery policy and the logging configuration."""

    web_acl: aws.wafv2.WebAcl
    log_group: aws.cloudwatch.LogGroup
    log_policy: aws.cloudwatch.LogResourcePolicy
    logging: aws.wafv2.WebAclLoggingConfiguration
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: WebAclArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:waf:WebAcl", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rules = [_managed(0, *REPUTATION), _rate(1, args.rate_limit)]
        rules += [_managed(priority, rule, group) for priority, (rule, group) in enumerate(MANAGED_AFTER_RATE, 2)]
        self.web_acl = aws.wafv2.WebAcl(
            name,
            scope="REGIONAL",
            # WAF accepts only letters, digits, white space and +=:#@/-,. in a description.
            description=f"{PROJECT} {pulumi.get_stack()}: REST API stage and ALB of the stack",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=rules,
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, sampled_requests_enabled=True, metric_name=metric_name("web-acl")
            ),
            tags=name_tag(name),
            opts=child,
        )
        self.arn = self.web_acl.arn

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name_prefix=f"{LOG_GROUP_PREFIX}{PROJECT}-{pulumi.get_stack()}-",
            retention_in_days=args.log_retention_days,
            tags=name_tag(name, "logs"),
            opts=child,
        )
        account = caller_account(self)
        self.log_policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-logs",
            # Attached to this log group alone: no account-wide policy to grow or to share.
            resource_arn=self.log_group.arn,
            policy_document=policies.document(
                [
                    {
                        "Sid": "WafLogDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "delivery.logs.amazonaws.com"},
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": pulumi.Output.concat(self.log_group.arn, ":log-stream:*"),
                        # Only log deliveries of this account (the confused-deputy guard).
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {
                                "aws:SourceArn": pulumi.Output.concat(
                                    "arn:", partition(self), f":logs:{args.region}:", account, ":*"
                                )
                            },
                        },
                    }
                ]
            ),
            opts=child,
        )
        condition = aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionArgs
        action = aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionActionConditionArgs
        self.logging = aws.wafv2.WebAclLoggingConfiguration(
            name,
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
                )
                for header in REDACTED_HEADERS
            ],
            logging_filter=aws.wafv2.WebAclLoggingConfigurationLoggingFilterArgs(
                default_behavior="DROP",
                filters=[
                    aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterArgs(
                        behavior="KEEP",
                        requirement="MEETS_ANY",
                        conditions=[condition(action_condition=action(action=a)) for a in LOGGED_ACTIONS],
                    )
                ],
            ),
            # Without the policy in place WAF would fall back to editing the account-wide one.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_policy]),
        )
        self.register_outputs({"webAclArn": self.web_acl.arn, "logGroupName": self.log_group.name})
