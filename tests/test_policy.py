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
# What every database in these cases has besides the property under test.
RDS_CONTROLS = {
    "monitoringInterval": 60,
    "monitoringRoleArn": "arn:aws:iam::123456789012:role/rds-monitoring",
    "iamDatabaseAuthenticationEnabled": True,
}
GOOD_RDS = {"storageEncrypted": True, "multiAz": True, "storageType": "gp3", **RDS_CONTROLS}

# A web ACL as components/waf.py builds it, and a user pool as components/identity.py does.
ACL_RULES = [
    {
        "name": name,
        "priority": i,
        "overrideAction": {"none": {}},
        "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": group}},
        "visibilityConfig": {"cloudwatchMetricsEnabled": True, "sampledRequestsEnabled": True, "metricName": name},
    }
    for i, (name, group) in enumerate(
        (
            ("reputation", "AWSManagedRulesAmazonIpReputationList"),
            ("common", "AWSManagedRulesCommonRuleSet"),
            ("bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
        )
    )
] + [
    {
        "name": "rate",
        "priority": 3,
        "action": {"block": {}},
        "statement": {"rateBasedStatement": {"aggregateKeyType": "IP", "limit": 2000}},
        "visibilityConfig": {"cloudwatchMetricsEnabled": True, "sampledRequestsEnabled": True, "metricName": "rate"},
    }
]
GOOD_ACL = {
    "scope": "REGIONAL",
    "rules": ACL_RULES,
    "visibilityConfig": {"cloudwatchMetricsEnabled": True, "sampledRequestsEnabled": True, "metricName": "acl"},
}
GOOD_POOL = {
    "mfaConfiguration": "ON",
    "passwordPolicy": {"minimumLength": 12, "temporaryPasswordValidityDays": 3},
    "userPoolAddOns": {"advancedSecurityMode": "ENFORCED"},
    "deletionProtection": "ACTIVE",
}

# rule -> (type, passing inputs, failing inputs). Both are complete enough that only the rule
# under test can tell them apart.
RESOURCE_CASES: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {
    "rds-encrypted": [
        ("aws:rds/instance:Instance", GOOD_RDS, {**GOOD_RDS, "storageEncrypted": False}),
        (
            "aws:rds/cluster:Cluster",
            {"storageEncrypted": True, "iamDatabaseAuthenticationEnabled": True},
            {"iamDatabaseAuthenticationEnabled": True},
        ),
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
            {**GOOD_RDS, "publiclyAccessible": False},
            {**GOOD_RDS, "publiclyAccessible": True},
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
    "rds-multi-az": [("aws:rds/instance:Instance", GOOD_RDS, {**GOOD_RDS, "multiAz": False})],
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
            GOOD_RDS,
            {k: v for k, v in GOOD_RDS.items() if k != "storageType"},
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
    "alb-drop-invalid-headers": [
        (
            "aws:lb/loadBalancer:LoadBalancer",
            {"dropInvalidHeaderFields": True},
            {"dropInvalidHeaderFields": False},
        ),
        ("aws:alb/loadBalancer:LoadBalancer", {"dropInvalidHeaderFields": True}, {}),
    ],
    "api-authorizer": [
        (
            "aws:apigateway/method:Method",
            {"httpMethod": "POST", "authorization": "AWS_IAM"},
            {"httpMethod": "POST", "authorization": "NONE"},
        ),
        (
            "aws:apigatewayv2/route:Route",
            {"routeKey": "POST /uploads", "authorizationType": "JWT", "authorizerId": "jwt"},
            {"routeKey": "POST /uploads"},
        ),
        (
            "aws:apigatewayv2/route:Route",
            {"routeKey": "$default", "authorizationType": "AWS_IAM"},
            {"routeKey": "$default", "authorizationType": "NONE"},
        ),
    ],
    "api-access-logs": [
        (
            "aws:apigateway/stage:Stage",
            {"accessLogSettings": {"destinationArn": "arn:aws:logs:us-east-1:1:log-group:a", "format": "{}"}},
            {"stageName": "v1"},
        ),
        (
            "aws:apigatewayv2/stage:Stage",
            {"accessLogSettings": {"destinationArn": "arn:aws:logs:us-east-1:1:log-group:a", "format": "{}"}},
            {"accessLogSettings": {"format": "{}"}},
        ),
    ],
    "rds-enhanced-monitoring": [
        ("aws:rds/instance:Instance", GOOD_RDS, {**GOOD_RDS, "monitoringInterval": 0}),
        ("aws:rds/instance:Instance", GOOD_RDS, {**GOOD_RDS, "monitoringRoleArn": None}),
    ],
    "rds-iam-auth": [
        ("aws:rds/instance:Instance", GOOD_RDS, {**GOOD_RDS, "iamDatabaseAuthenticationEnabled": False}),
        (
            "aws:rds/cluster:Cluster",
            {"storageEncrypted": True, "iamDatabaseAuthenticationEnabled": True},
            {"storageEncrypted": True},
        ),
    ],
    "waf-baseline-rules": [
        ("aws:wafv2/webAcl:WebAcl", GOOD_ACL, {**GOOD_ACL, "rules": [r for r in ACL_RULES if r["name"] != "common"]}),
        (
            "aws:wafv2/webAcl:WebAcl",
            GOOD_ACL,
            {
                **GOOD_ACL,
                "rules": [{**r, "overrideAction": {"count": {}}} if r["name"] == "common" else r for r in ACL_RULES],
            },
        ),
        ("aws:wafv2/webAcl:WebAcl", GOOD_ACL, {**GOOD_ACL, "rules": [r for r in ACL_RULES if r["name"] != "rate"]}),
        ("aws:wafv2/webAcl:WebAcl", GOOD_ACL, {**GOOD_ACL, "visibilityConfig": {"cloudwatchMetricsEnabled": False}}),
    ],
    "cognito-mfa": [
        ("aws:cognito/userPool:UserPool", GOOD_POOL, {**GOOD_POOL, "mfaConfiguration": "OFF"}),
        (
            "aws:cognito/userPool:UserPool",
            {**GOOD_POOL, "mfaConfiguration": "OPTIONAL"},
            {**GOOD_POOL, "mfaConfiguration": None},
        ),
    ],
    "cognito-password-policy": [
        ("aws:cognito/userPool:UserPool", GOOD_POOL, {**GOOD_POOL, "passwordPolicy": {"minimumLength": 6}}),
        ("aws:cognito/userPool:UserPool", GOOD_POOL, {**GOOD_POOL, "passwordPolicy": {"requireSymbols": False}}),
        (
            "aws:cognito/userPool:UserPool",
            {**GOOD_POOL, "passwordPolicy": {"temporaryPasswordValidityDays": 7}},
            {**GOOD_POOL, "passwordPolicy": {"temporaryPasswordValidityDays": 30}},
        ),
    ],
    "cognito-threat-protection": [
        (
            "aws:cognito/userPool:UserPool",
            GOOD_POOL,
            {**GOOD_POOL, "userPoolAddOns": {"advancedSecurityMode": "AUDIT"}},
        ),
        ("aws:cognito/userPool:UserPool", GOOD_POOL, {k: v for k, v in GOOD_POOL.items() if k != "userPoolAddOns"}),
    ],
    "cognito-deletion-protection": [
        ("aws:cognito/userPool:UserPool", GOOD_POOL, {**GOOD_POOL, "deletionProtection": "INACTIVE"}),
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
BUCKET_LOGGING = _res(
    "aws:s3/bucketLogging:BucketLogging",
    "b-logging",
    {"targetPrefix": "p/"},
    bucket=["urn:b"],
    targetBucket=["urn:logs"],
)
SAFE_BUCKET = [BUCKET, SSE, BLOCK, BUCKET_POLICY, BUCKET_LOGGING]

ALB_SG = _res("aws:ec2/securityGroup:SecurityGroup", "alb-sg", _tagged({}))
APP_SG = _res("aws:ec2/securityGroup:SecurityGroup", "app-sg", _tagged({}))
ALB = _res(
    "aws:lb/loadBalancer:LoadBalancer", "alb", _tagged({"dropInvalidHeaderFields": True}), securityGroups=["urn:alb-sg"]
)
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ALB_WAF = _res(ASSOCIATION, "alb-waf", {}, resourceArn=["urn:alb"], webAclArn=["urn:acl"])


def _ingress(name: str, group: str, port: int) -> Resource:
    props = _tagged({"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": port, "toPort": port})
    return _res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name, props, securityGroupId=[group])


QUEUE = _res("aws:sqs/queue:Queue", "q", _tagged({"sqsManagedSseEnabled": True}))
FUNCTION_QUEUE_MAPPING = _res(
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "q-fn",
    _tagged({"functionName": "fn"}),
    eventSourceArn=["urn:q"],
)
SUBNETS = [
    _res("aws:ec2/subnet:Subnet", f"s{i}", _tagged({"availabilityZone": f"us-east-1{z}"})) for i, z in enumerate("aab")
]


def _asg(*subnets: str) -> Resource:
    tags = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in {**TAGS, "Name": "asg"}.items()]
    return _res("aws:autoscaling/group:Group", "asg", {"tags": tags}, vpcZoneIdentifiers=[f"urn:{s}" for s in subnets])


LISTENER = "aws:lb/listener:Listener"
LOG_GROUP_TYPE = "aws:cloudwatch/logGroup:LogGroup"
TLS13 = "ELBSecurityPolicy-TLS13-1-2-2021-06"
REDIRECT = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]


def _listener(name: str, lb: str = "alb", **props: Any) -> Resource:
    return _res(LISTENER, name, _tagged(props), loadBalancerArn=[f"urn:{lb}"])


INTERNAL_ALB = _res(
    "aws:lb/loadBalancer:LoadBalancer", "inner", _tagged({"internal": True, "dropInvalidHeaderFields": True})
)
EDGE = [ALB, ALB_WAF]

REST_API = _res("aws:apigateway/restApi:RestApi", "api", _tagged({"endpointConfiguration": {"types": "REGIONAL"}}))
PRIVATE_API = _res("aws:apigateway/restApi:RestApi", "api", _tagged({"endpointConfiguration": {"types": ["PRIVATE"]}}))
LOGGED = {"accessLogSettings": {"destinationArn": "arn:aws:logs:us-east-1:1:log-group:a", "format": "{}"}}
STAGE = _res("aws:apigateway/stage:Stage", "v1", _tagged({"stageName": "v1", **LOGGED}), restApi=["urn:api"])
STAGE_WAF = _res(ASSOCIATION, "v1-waf", {}, resourceArn=["urn:v1"], webAclArn=["urn:acl"])


def _bucket_policy(name: str, bucket: str, *statements: dict[str, Any]) -> Resource:
    return _res(
        "aws:s3/bucketPolicy:BucketPolicy", name, {"policy": _policy(*statements, TLS_DENY)}, bucket=[f"urn:{bucket}"]
    )


def _safe_bucket(name: str) -> list[Resource]:
    """A bucket with encryption, a public access block and a TLS-only policy, but no logging."""
    return [
        _res("aws:s3/bucket:Bucket", name, _tagged({})),
        _res(SSE.type, f"{name}-sse", {}, bucket=[f"urn:{name}"]),
        _res(BLOCK.type, f"{name}-pab", ALL_BLOCKED, bucket=[f"urn:{name}"]),
    ]


LOG_DELIVERY = {
    "Effect": "Allow",
    "Principal": {"Service": "logging.s3.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": "arn:aws:s3:::sal/*",
    "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
}

TOPIC = _res("aws:sns/topic:Topic", "alarms", _tagged({"kmsMasterKeyId": "arn:aws:kms:us-east-1:1:key/k"}))
ALARM = _res("aws:cloudwatch/metricAlarm:MetricAlarm", "errors", _tagged({}), alarmActions=["urn:alarms"])
SUBSCRIPTION = _res(
    "aws:sns/topicSubscription:TopicSubscription", "oncall", {"protocol": "email"}, topic=["urn:alarms"]
)


def _signer(environment: dict[str, str]) -> list[Resource]:
    """A function behind an HTTP API whose role may put objects: it signs uploads."""
    statement = {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::uploads/in/*"}
    return [
        _res("aws:iam/role:Role", "intake-role", _tagged({})),
        _res(
            "aws:iam/rolePolicy:RolePolicy", "intake-policy", {"policy": _policy(statement)}, role=["urn:intake-role"]
        ),
        _res(
            "aws:lambda/function:Function",
            "intake",
            _tagged({"architectures": ["arm64"], "environment": {"variables": environment}}),
            role=["urn:intake-role"],
        ),
        _res("aws:apigatewayv2/integration:Integration", "intake-api", {}, integrationUri=["urn:intake"]),
    ]


ACL = _res("aws:wafv2/webAcl:WebAcl", "acl", _tagged(GOOD_ACL))
WAF_LOGS = _res(
    "aws:cloudwatch/logGroup:LogGroup", "waf-logs", _tagged({"namePrefix": "aws-waf-logs-x-", "retentionInDays": 30})
)
REDACTED = [{"singleHeader": {"name": "authorization"}}, {"singleHeader": {"name": "cookie"}}]


def _acl_logging(redacted: list[dict[str, Any]] = REDACTED, group: str = "waf-logs") -> Resource:
    return _res(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "acl-logging",
        {"redactedFields": redacted},
        resourceArn=["urn:acl"],
        logDestinationConfigs=[f"urn:{group}"],
    )


# rule -> (passing stack, failing stack, the failing resource's name)
STACK_CASES: dict[str, list[tuple[list[Resource], list[Resource], str]]] = {
    "s3-encrypted": [(SAFE_BUCKET, [BUCKET, BLOCK, BUCKET_POLICY, BUCKET_LOGGING], "b")],
    "s3-public-access-blocked": [
        (SAFE_BUCKET, [BUCKET, SSE, BUCKET_POLICY, BUCKET_LOGGING], "b"),
        (
            SAFE_BUCKET,
            [BUCKET, SSE, BUCKET_POLICY, BUCKET_LOGGING, _res(BLOCK.type, "b-pab", {}, bucket=["urn:b"])],
            "b",
        ),
    ],
    "s3-tls-only": [(SAFE_BUCKET, [BUCKET, SSE, BLOCK, BUCKET_LOGGING], "b")],
    "no-open-ingress": [
        (
            [ALB_SG, ALB, ALB_WAF, _ingress("web", "urn:alb-sg", 443)],
            [ALB_SG, ALB, ALB_WAF, _ingress("ssh", "urn:alb-sg", 22)],
            "ssh",
        ),
        (
            [ALB_SG, ALB, ALB_WAF, _ingress("web", "urn:alb-sg", 80)],
            [APP_SG, ALB_SG, ALB, ALB_WAF, _ingress("app", "urn:app-sg", 80)],
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
    "https-listeners": [
        (
            [*EDGE, _listener("https", protocol="HTTPS", port=443, sslPolicy=TLS13)],
            [*EDGE, _listener("https", protocol="HTTPS", port=443, sslPolicy="ELBSecurityPolicy-2016-08")],
            "https",
        ),
        (
            [*EDGE, _listener("https", protocol="HTTPS", port=443, sslPolicy=TLS13)],
            [*EDGE, _listener("https", protocol="HTTPS", port=443)],
            "https",
        ),
        (
            [*EDGE, _listener("http", protocol="HTTP", port=80, defaultActions=REDIRECT)],
            [*EDGE, _listener("http", protocol="HTTP", port=80, defaultActions=[{"type": "forward"}])],
            "http",
        ),
        (
            # An internal load balancer may speak plain HTTP inside the VPC.
            [
                *EDGE,
                INTERNAL_ALB,
                _listener("http", "inner", protocol="HTTP", port=80, defaultActions=[{"type": "forward"}]),
            ],
            [*EDGE, _listener("http", protocol="HTTP", port=80, defaultActions=[*REDIRECT, {"type": "forward"}])],
            "http",
        ),
    ],
    "waf-on-public-entry-points": [
        ([REST_API, STAGE, STAGE_WAF], [REST_API, STAGE], "v1"),
        ([ALB, ALB_WAF], [ALB], "alb"),
        # A private REST API is reachable only through VPC endpoints.
        ([PRIVATE_API, STAGE], [REST_API, STAGE, _res(ASSOCIATION, "other", {}, resourceArn=["urn:alb"])], "v1"),
    ],
    "s3-access-logs": [
        (SAFE_BUCKET, [BUCKET, SSE, BLOCK, BUCKET_POLICY], "b"),
        # A log bucket (its policy lets S3 deliver server access logs into it) is not logged itself.
        (
            [*_safe_bucket("sal"), _bucket_policy("sal-policy", "sal", LOG_DELIVERY)],
            [*_safe_bucket("sal"), _bucket_policy("sal-policy", "sal", {**LOG_DELIVERY, "Effect": "Deny"})],
            "sal",
        ),
        # Nor is a load balancer's access-log bucket.
        (
            [
                *_safe_bucket("alb-logs"),
                _bucket_policy("alb-logs-policy", "alb-logs"),
                _res(
                    ALB.type,
                    "alb",
                    _tagged({"dropInvalidHeaderFields": True, "internal": True}),
                    accessLogs=["urn:alb-logs"],
                ),
            ],
            [*_safe_bucket("alb-logs"), _bucket_policy("alb-logs-policy", "alb-logs")],
            "alb-logs",
        ),
    ],
    "alarm-subscribers": [([TOPIC, ALARM, SUBSCRIPTION], [TOPIC, ALARM], "alarms")],
    "upload-size-bound": [
        (_signer({"MAX_UPLOAD_BYTES": "26214400"}), _signer({"TABLE_NAME": "t"}), "intake"),
        (_signer({"MAX_UPLOAD_BYTES": "5368709120"}), _signer({"MAX_UPLOAD_BYTES": "5368709121"}), "intake"),
        (_signer({"MAX_UPLOAD_BYTES": "1"}), _signer({"MAX_UPLOAD_BYTES": "25MB"}), "intake"),
    ],
    "waf-logging": [
        ([ACL, WAF_LOGS, _acl_logging()], [ACL, WAF_LOGS], "acl"),
        ([ACL, WAF_LOGS, _acl_logging()], [ACL, WAF_LOGS, _acl_logging(redacted=REDACTED[1:])], "acl"),
        (
            [ACL, WAF_LOGS, _acl_logging()],
            [
                ACL,
                _res(LOG_GROUP_TYPE, "plain-logs", _tagged({"name": "/aws/waf/acl", "retentionInDays": 30})),
                _acl_logging(group="plain-logs"),
            ],
            "acl",
        ),
    ],
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
        "monitoringInterval": UNKNOWN,
        "monitoringRoleArn": UNKNOWN,
        "iamDatabaseAuthenticationEnabled": UNKNOWN,
        "dropInvalidHeaderFields": UNKNOWN,
        "httpMethod": UNKNOWN,
        "authorization": UNKNOWN,
        "routeKey": UNKNOWN,
        "authorizationType": UNKNOWN,
        "accessLogSettings": UNKNOWN,
        "rules": UNKNOWN,
        "visibilityConfig": UNKNOWN,
        "mfaConfiguration": UNKNOWN,
        "passwordPolicy": UNKNOWN,
        "userPoolAddOns": UNKNOWN,
        "deletionProtection": UNKNOWN,
    }
    for type_ in (
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:apigateway/method:Method",
        "aws:apigatewayv2/route:Route",
        "aws:apigateway/stage:Stage",
        "aws:apigatewayv2/stage:Stage",
        "aws:wafv2/webAcl:WebAcl",
        "aws:cognito/userPool:UserPool",
    ):
        assert check_resource(type_, unknown_everything, PROD) == [], type_
    queue = _res(QUEUE.type, "q", _tagged({"sqsManagedSseEnabled": True, "redrivePolicy": UNKNOWN}))
    assert check_stack([queue, FUNCTION_QUEUE_MAPPING], PROD) == []


def test_stack_rules_do_not_report_what_a_preview_cannot_see() -> None:
    # A listener whose protocol, policy or actions are not known yet.
    for props in (
        {"protocol": UNKNOWN},
        {"protocol": "HTTPS", "sslPolicy": UNKNOWN},
        {"protocol": "HTTP", "defaultActions": UNKNOWN},
    ):
        assert check_stack([*EDGE, _listener("l", **props)], PROD) == [], props
    # Until its policy is known a bucket may be a log destination (which is not logged itself).
    unknown_policy = _res(BUCKET_POLICY.type, "sal-policy", {"policy": UNKNOWN}, bucket=["urn:sal"])
    assert check_stack([*_safe_bucket("sal"), unknown_policy], PROD) == []
    # A function whose role policy or environment is not known yet.
    signer = _signer({})
    role_policy = _res(signer[1].type, signer[1].name, {"policy": UNKNOWN}, role=["urn:intake-role"])
    assert check_stack([signer[0], role_policy, *signer[2:]], PROD) == []
    function = _res(
        signer[2].type,
        "intake",
        _tagged({"architectures": ["arm64"], "environment": UNKNOWN}),
        role=["urn:intake-role"],
    )
    assert check_stack([*signer[:2], function, signer[3]], PROD) == []
    # A logging configuration whose redactions are not known yet.
    assert check_stack([ACL, WAF_LOGS, _acl_logging(redacted=UNKNOWN)], PROD) == []


def test_prod_only_rules_are_silent_in_dev() -> None:
    single_az = _tagged({**GOOD_RDS, "multiAz": False})
    assert _ids(check_resource("aws:rds/instance:Instance", single_az, PROD)) == {"rds-multi-az"}
    assert check_resource("aws:rds/instance:Instance", single_az, DEV) == []
    assert check_stack([*SUBNETS, _asg("s0")], DEV) == []
    unprotected = _tagged({**GOOD_POOL, "deletionProtection": "INACTIVE"})
    assert _ids(check_resource("aws:cognito/userPool:UserPool", unprotected, PROD)) == {"cognito-deletion-protection"}
    assert check_resource("aws:cognito/userPool:UserPool", unprotected, DEV) == []
    assert check_stack([TOPIC, ALARM], DEV) == []


def test_edge_rules_leave_alone_what_they_do_not_govern() -> None:
    # CORS preflight needs no credentials; network load balancers have no HTTP headers to drop.
    assert (
        check_resource("aws:apigateway/method:Method", {"httpMethod": "OPTIONS", "authorization": "NONE"}, PROD) == []
    )
    assert check_resource("aws:apigatewayv2/route:Route", {"routeKey": "OPTIONS /uploads"}, PROD) == []
    assert check_resource("aws:lb/loadBalancer:LoadBalancer", _tagged({"loadBalancerType": "network"}), PROD) == []
    # A function that serves an API but writes no objects signs no uploads.
    reader = _signer({})
    statement = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::uploads/in/*"}
    reader[1] = _res(reader[1].type, reader[1].name, {"policy": _policy(statement)}, role=["urn:intake-role"])
    assert check_stack(reader, PROD) == []
    # Nor does one that no API reaches (the S3-triggered processor, say).
    assert check_stack(_signer({})[:3], PROD) == []
    # Topics no alarm notifies need no subscriber.
    assert check_stack([TOPIC], PROD) == []


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
