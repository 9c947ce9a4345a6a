"""Every Well-Architected rule, on a resource that passes and one that fails.

The rules are plain functions (policy/wellarchitected.py); these tests call them the way both
the policy pack and the offline review do, on synthetic inputs shaped like the engine's
(camelCase). A rule added without a passing and a failing case here fails
`test_every_rule_has_a_passing_and_a_failing_case`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policy.wellarchitected import (
    ADVISORY,
    DISABLED,
    MANDATORY,
    PILLARS,
    RULES,
    UNKNOWN,
    Context,
    Resource,
    check_resource,
    check_stack,
    enforcement,
)

TAGS = {"project": "aws-patterns", "stack": "prod", "environment": "prod", "managed-by": "pulumi"}
PROD = Context(environment="prod", default_tags=TAGS)
DEV = Context(environment="dev", default_tags=TAGS)


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sqs:*",
    "Resource": "arn:aws:sqs:us-east-1:123456789012:q",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALLOW_EVENTS = {
    "Effect": "Allow",
    "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sqs:SendMessage",
    "Resource": "arn:aws:sqs:us-east-1:123456789012:q",
}
GOOD_EBS = [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeType": "gp3"}}]

# rule -> (type, passing inputs, failing inputs). Both are complete enough that only the rule
# under test can tell them apart.
RESOURCE_CASES: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {
    "rds-encrypted": [
        (
            "aws:rds/instance:Instance",
            {"storageEncrypted": True, "multiAz": True, "storageType": "gp3"},
            {"storageEncrypted": False, "multiAz": True, "storageType": "gp3"},
        ),
        ("aws:rds/cluster:Cluster", {"storageEncrypted": True}, {}),
    ],
    "dynamodb-encrypted-kms": [
        (
            "aws:dynamodb/table:Table",
            {"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": True}},
            {"pointInTimeRecovery": {"enabled": True}},
        )
    ],
    "sqs-encrypted": [
        ("aws:sqs/queue:Queue", {"sqsManagedSseEnabled": True}, {"sqsManagedSseEnabled": False}),
        ("aws:sqs/queue:Queue", {"kmsMasterKeyId": "alias/orders"}, {}),
    ],
    "sns-encrypted": [("aws:sns/topic:Topic", {"kmsMasterKeyId": "arn:aws:kms:us-east-1:1:key/k"}, {})],
    "ebs-encrypted": [
        ("aws:ec2/volume:Volume", {"encrypted": True, "type": "gp3"}, {"type": "gp3"}),
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"blockDeviceMappings": GOOD_EBS, "metadataOptions": {"httpTokens": "required"}},
            {"blockDeviceMappings": [{"ebs": {"volumeType": "gp3"}}], "metadataOptions": {"httpTokens": "required"}},
        ),
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"blockDeviceMappings": GOOD_EBS, "metadataOptions": {"httpTokens": "required"}},
            {"metadataOptions": {"httpTokens": "required"}},
        ),
        (
            "aws:ec2/instance:Instance",
            {"rootBlockDevice": {"encrypted": True}, "metadataOptions": {"httpTokens": "required"}},
            {"rootBlockDevice": {"volumeType": "gp3"}, "metadataOptions": {"httpTokens": "required"}},
        ),
    ],
    "rds-not-public": [
        (
            "aws:rds/instance:Instance",
            {"storageEncrypted": True, "multiAz": True, "storageType": "gp3", "publiclyAccessible": False},
            {"storageEncrypted": True, "multiAz": True, "storageType": "gp3", "publiclyAccessible": True},
        )
    ],
    "imdsv2-required": [
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"blockDeviceMappings": GOOD_EBS, "metadataOptions": {"httpTokens": "required"}},
            {"blockDeviceMappings": GOOD_EBS, "metadataOptions": {"httpTokens": "optional"}},
        ),
        (
            "aws:ec2/instance:Instance",
            {"rootBlockDevice": {"encrypted": True}, "metadataOptions": {"httpTokens": "required"}},
            {"rootBlockDevice": {"encrypted": True}},
        ),
    ],
    "least-privilege": [
        (
            "aws:iam/rolePolicy:RolePolicy",
            {
                "policy": _policy(
                    {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": "arn:aws:dynamodb:::table/t"},
                    {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"},
                )
            },
            {"policy": _policy({"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": "*"})},
        ),
        (
            "aws:iam/policy:Policy",
            {"policy": _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})},
            {"policy": _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})},
        ),
        (
            "aws:iam/role:Role",
            {"inlinePolicies": [{"name": "p", "policy": _policy({"Effect": "Deny", "Action": "*", "Resource": "*"})}]},
            {"inlinePolicies": [{"name": "p", "policy": _policy({"Effect": "Allow", "Action": "*", "Resource": "*"})}]},
        ),
        (
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
            {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
    ],
    "tls-only-resource-policy": [
        (
            "aws:sqs/queuePolicy:QueuePolicy",
            {"policy": _policy(ALLOW_EVENTS, TLS_DENY)},
            {"policy": _policy(ALLOW_EVENTS)},
        ),
        ("aws:s3/bucketPolicy:BucketPolicy", {"policy": _policy(TLS_DENY)}, {"policy": _policy(ALLOW_EVENTS)}),
        (
            "aws:sns/topicPolicy:TopicPolicy",
            {"policy": {"Statement": [TLS_DENY]}},
            {"policy": {"Statement": [{**TLS_DENY, "Effect": "Allow"}]}},
        ),
    ],
    "rds-multi-az": [
        (
            "aws:rds/instance:Instance",
            {"storageEncrypted": True, "multiAz": True, "storageType": "gp3"},
            {"storageEncrypted": True, "multiAz": False, "storageType": "gp3"},
        )
    ],
    "dynamodb-pitr": [
        (
            "aws:dynamodb/table:Table",
            {"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": True}},
            {"serverSideEncryption": {"enabled": True}},
        )
    ],
    "log-retention": [("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}, {"retentionInDays": 0})],
    "lambda-arm64": [
        ("aws:lambda/function:Function", {"architectures": ["arm64"]}, {"architectures": ["x86_64"]}),
        ("aws:lambda/function:Function", {"architectures": ["arm64"]}, {}),
    ],
    "gp3-volumes": [
        ("aws:ec2/volume:Volume", {"encrypted": True, "type": "gp3"}, {"encrypted": True}),
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"blockDeviceMappings": GOOD_EBS, "metadataOptions": {"httpTokens": "required"}},
            {
                "blockDeviceMappings": [{"ebs": {"encrypted": "true", "volumeType": "gp2"}}],
                "metadataOptions": {"httpTokens": "required"},
            },
        ),
        (
            "aws:rds/instance:Instance",
            {"storageEncrypted": True, "multiAz": True, "storageType": "gp3"},
            {"storageEncrypted": True, "multiAz": True},
        ),
    ],
    "required-tags": [
        ("aws:sqs/queue:Queue", {"sqsManagedSseEnabled": True, "tags": {"Name": "q"}}, {"sqsManagedSseEnabled": True}),
        (
            "aws:sqs/queue:Queue",
            {"sqsManagedSseEnabled": True, "tagsAll": {**TAGS, "Name": "q"}},
            {"sqsManagedSseEnabled": True, "tagsAll": {}},
        ),
        (
            "aws:autoscaling/group:Group",
            {"tags": [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in {**TAGS, "Name": "a"}.items()]},
            {"tags": [{"key": "Name", "value": "a", "propagateAtLaunch": True}]},
        ),
    ],
}


def _res(type_: str, name: str, props: dict[str, Any], **deps: list[str]) -> Resource:
    return Resource(type=type_, name=name, urn=f"urn:{name}", props=props, property_dependencies=deps)


def _tagged(props: dict[str, Any]) -> dict[str, Any]:
    return {"tags": {"Name": "x"}, **props}


BUCKET = _res("aws:s3/bucket:Bucket", "b", _tagged({}))
SSE = _res(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "b-sse",
    {"bucket": "b"},
    bucket=["urn:b"],
)
ALL_BLOCKED = dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
BLOCK = _res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "b-pab", ALL_BLOCKED, bucket=["urn:b"])
BUCKET_POLICY = _res("aws:s3/bucketPolicy:BucketPolicy", "b-policy", {"policy": _policy(TLS_DENY)}, bucket=["urn:b"])
SAFE_BUCKET = [BUCKET, SSE, BLOCK, BUCKET_POLICY]

ALB_SG = _res("aws:ec2/securityGroup:SecurityGroup", "alb-sg", _tagged({}))
APP_SG = _res("aws:ec2/securityGroup:SecurityGroup", "app-sg", _tagged({}))
ALB = _res("aws:lb/loadBalancer:LoadBalancer", "alb", _tagged({}), securityGroups=["urn:alb-sg"])


def _ingress(name: str, group: str, port: int) -> Resource:
    props = _tagged({"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": port, "toPort": port})
    return _res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name, props, securityGroupId=[group])


QUEUE = _res("aws:sqs/queue:Queue", "q", _tagged({"sqsManagedSseEnabled": True}))
FUNCTION_QUEUE_MAPPING = _res(
    "aws:lambda/eventSourceMapping:EventSourceMapping", "q-fn", {"functionName": "fn"}, eventSourceArn=["urn:q"]
)
SUBNETS = [
    _res("aws:ec2/subnet:Subnet", f"s{i}", _tagged({"availabilityZone": f"us-east-1{z}"})) for i, z in enumerate("aab")
]


def _asg(*subnets: str) -> Resource:
    tags = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in {**TAGS, "Name": "asg"}.items()]
    return _res("aws:autoscaling/group:Group", "asg", {"tags": tags}, vpcZoneIdentifiers=[f"urn:{s}" for s in subnets])


# rule -> (passing stack, failing stack, the failing resource's name)
STACK_CASES: dict[str, list[tuple[list[Resource], list[Resource], str]]] = {
    "s3-encrypted": [(SAFE_BUCKET, [BUCKET, BLOCK, BUCKET_POLICY], "b")],
    "s3-public-access-blocked": [
        (SAFE_BUCKET, [BUCKET, SSE, BUCKET_POLICY], "b"),
        (SAFE_BUCKET, [BUCKET, SSE, BUCKET_POLICY, _res(BLOCK.type, "b-pab", {}, bucket=["urn:b"])], "b"),
    ],
    "s3-tls-only": [(SAFE_BUCKET, [BUCKET, SSE, BLOCK], "b")],
    "no-open-ingress": [
        ([ALB_SG, ALB, _ingress("web", "urn:alb-sg", 443)], [ALB_SG, ALB, _ingress("ssh", "urn:alb-sg", 22)], "ssh"),
        (
            [ALB_SG, ALB, _ingress("web", "urn:alb-sg", 80)],
            [APP_SG, ALB_SG, ALB, _ingress("app", "urn:app-sg", 80)],
            "app",
        ),
        (
            [_res(APP_SG.type, "app-sg", _tagged({"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22}]}))],
            [
                _res(
                    APP_SG.type,
                    "app-sg",
                    _tagged(
                        {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}
                    ),
                )
            ],
            "app-sg",
        ),
    ],
    "dlq-for-function-queues": [
        (
            [
                _res(QUEUE.type, "q", _tagged({**QUEUE.props, "redrivePolicy": '{"maxReceiveCount": 5}'})),
                FUNCTION_QUEUE_MAPPING,
            ],
            [QUEUE, FUNCTION_QUEUE_MAPPING],
            "q",
        ),
        (
            [
                QUEUE,
                FUNCTION_QUEUE_MAPPING,
                _res("aws:sqs/redrivePolicy:RedrivePolicy", "q-redrive", {}, queueUrl=["urn:q"]),
            ],
            [QUEUE, FUNCTION_QUEUE_MAPPING],
            "q",
        ),
    ],
    "asg-multi-az": [([*SUBNETS, _asg("s0", "s2")], [*SUBNETS, _asg("s0", "s1")], "asg")],
}


def _ids(findings: list[Any]) -> set[str]:
    return {f.rule for f in findings}


def test_every_rule_has_a_passing_and_a_failing_case() -> None:
    assert set(RULES) == set(RESOURCE_CASES) | set(STACK_CASES)
    assert not set(RESOURCE_CASES) & set(STACK_CASES)


def test_every_rule_names_a_pillar_and_a_fix() -> None:
    for rule in RULES.values():
        assert rule.pillar in PILLARS, rule.id
        assert rule.fix and rule.description, rule.id


@pytest.mark.parametrize(
    ("rule", "type_", "good", "bad"),
    [(rule, *case) for rule, cases in RESOURCE_CASES.items() for case in cases],
    ids=lambda v: v if isinstance(v, str) and not v.startswith("aws:") else "",
)
def test_resource_rule(rule: str, type_: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
    if rule != "required-tags":
        good, bad = _tagged(good), _tagged(bad)
    assert check_resource(type_, good, PROD, "x") == [], "the passing resource has findings"
    found = check_resource(type_, bad, PROD, "x")
    assert _ids(found) == {rule}, f"expected only {rule}, got {found}"
    assert all(f.level == MANDATORY and f.pillar == RULES[rule].pillar and f.fix for f in found)


@pytest.mark.parametrize(
    ("rule", "good", "bad", "culprit"),
    [(rule, *case) for rule, cases in STACK_CASES.items() for case in cases],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_stack_rule(rule: str, good: list[Resource], bad: list[Resource], culprit: str) -> None:
    assert check_stack(good, PROD) == [], "the passing stack has findings"
    found = check_stack(bad, PROD)
    assert {(f.rule, f.resource_name) for f in found} == {(rule, culprit)}
    assert all(f.urn == f"urn:{culprit}" for f in found)


def test_rules_do_not_report_what_a_preview_cannot_see() -> None:
    unknown_everything = {
        "storageEncrypted": UNKNOWN,
        "multiAz": UNKNOWN,
        "storageType": UNKNOWN,
        "policy": UNKNOWN,
        "metadataOptions": UNKNOWN,
        "blockDeviceMappings": UNKNOWN,
        "tags": UNKNOWN,
    }
    for type_ in (
        "aws:rds/instance:Instance",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:ec2/launchTemplate:LaunchTemplate",
    ):
        assert check_resource(type_, unknown_everything, PROD) == []
    queue = _res(QUEUE.type, "q", _tagged({"sqsManagedSseEnabled": True, "redrivePolicy": UNKNOWN}))
    assert check_stack([queue, FUNCTION_QUEUE_MAPPING], PROD) == []


def test_prod_only_rules_are_silent_in_dev() -> None:
    single_az = _tagged({"storageEncrypted": True, "multiAz": False, "storageType": "gp3"})
    assert _ids(check_resource("aws:rds/instance:Instance", single_az, PROD)) == {"rds-multi-az"}
    assert check_resource("aws:rds/instance:Instance", single_az, DEV) == []
    assert check_stack([*SUBNETS, _asg("s0")], DEV) == []


def test_enforcement_is_mandatory_in_prod_and_advisory_elsewhere_unless_configured() -> None:
    assert enforcement("sqs-encrypted", "prod") == MANDATORY
    assert enforcement("sqs-encrypted", "dev") == ADVISORY
    assert enforcement("sqs-encrypted", "staging") == ADVISORY
    assert enforcement("sqs-encrypted", "dev", {"all": "mandatory"}) == MANDATORY
    assert enforcement("sqs-encrypted", "prod", {"all": "mandatory", "sqs-encrypted": "advisory"}) == ADVISORY
    assert enforcement("sqs-encrypted", "prod", {"sqs-encrypted": {"enforcementLevel": "disabled"}}) == DISABLED
    with pytest.raises(ValueError, match="sqs-encrypted"):
        enforcement("sqs-encrypted", "prod", {"sqs-encrypted": "sometimes"})


def test_findings_carry_the_configured_level_and_disabled_rules_report_nothing() -> None:
    bare_queue = _res(QUEUE.type, "q", _tagged({}))
    dev = check_stack([bare_queue], DEV)
    assert [(f.rule, f.level) for f in dev] == [("sqs-encrypted", ADVISORY)]
    off = Context(environment="prod", default_tags=TAGS, config={"sqs-encrypted": "disabled"})
    assert check_stack([bare_queue], off) == []


def test_required_tags_come_from_the_provider_and_are_configurable() -> None:
    queue = {"sqsManagedSseEnabled": True, "tags": {"Name": "q"}}
    assert check_resource("aws:sqs/queue:Queue", queue, PROD) == []
    no_defaults = check_resource("aws:sqs/queue:Queue", queue, Context(environment="prod"))
    assert [f.message for f in no_defaults] == ["missing tags: project, stack, environment, managed-by"]
    owner = Context(environment="prod", default_tags=TAGS, config={"required-tags": {"tags": ["Name", "owner"]}})
    assert [f.message for f in check_resource("aws:sqs/queue:Queue", queue, owner)] == ["missing tags: owner"]
    # Resources that take no tags are not asked for them.
    assert check_resource("aws:iam/rolePolicy:RolePolicy", {"policy": _policy()}, PROD) == []
