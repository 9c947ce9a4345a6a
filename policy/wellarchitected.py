"""Well-Architected guardrails as plain functions, shared by the CrossGuard pack and `make plan`.

Nothing here imports pulumi-policy: a rule is a function that takes a resource type and its
inputs (camelCase, as the engine and the mocks both see them) and yields messages, so the same
rules run in `pulumi preview --policy-pack policy` (policy/__main__.py wraps them) and offline
over the mocked program (tools/review.py).

Adding a rule for a new resource type is one decorated function:

    @resource_rule("queue-retention", SECURITY, ["aws:sqs/queue:Queue"], fix="set message_retention_seconds")
    def queue_retention(type_, props, ctx):
        if props.get("messageRetentionSeconds", 345600) > 345600:
            yield "keeps messages longer than four days"

Rules that need to relate resources (a queue and the function that consumes it, a bucket and
its public-access block) are `stack_rule`s; they see every resource with its property
dependencies (URNs), which are known even during a preview, when ARNs are not.

Values a preview cannot know yet arrive as UNKNOWN; a rule never reports on what it cannot see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SECURITY = "Security"
RELIABILITY = "Reliability"
PERFORMANCE = "Performance efficiency"
COST = "Cost optimization"
OPERATIONS = "Operational excellence"
SUSTAINABILITY = "Sustainability"
PILLARS = (OPERATIONS, SECURITY, RELIABILITY, PERFORMANCE, COST, SUSTAINABILITY)

ENVIRONMENTS = ("dev", "staging", "prod")
MANDATORY = "mandatory"
ADVISORY = "advisory"
DISABLED = "disabled"
LEVELS = (MANDATORY, ADVISORY, DISABLED)
# What a violation does, per environment, unless the pack's config says otherwise: prod is
# blocked, the cheaper environments are told (their findings are documented trade-offs).
DEFAULT_ENFORCEMENT = {"dev": ADVISORY, "staging": ADVISORY, "prod": MANDATORY}

# Tags every taggable resource must carry; the provider's default_tags add all but Name.
REQUIRED_TAGS = ("Name", "project", "stack", "environment", "managed-by")


class _Unknown:
    """A value the engine does not know yet (preview); rules skip what they cannot see."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


@dataclass(frozen=True)
class Context:
    """What a rule may know beyond the resource itself."""

    environment: str = "prod"
    default_tags: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def rule_config(self, rule_id: str) -> Mapping[str, Any]:
        """A rule's own settings from the pack config (a bare level string carries none)."""
        value = self.config.get(rule_id)
        return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Resource:
    """One resource as a stack rule sees it, whoever registered it (engine or mocks)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    parent: str = ""

    def depends_on(self, other: Resource, prop: str | None = None) -> bool:
        props = [prop] if prop else list(self.property_dependencies)
        return any(other.urn in self.property_dependencies.get(p, ()) for p in props)


@dataclass(frozen=True)
class Finding:
    rule: str
    pillar: str
    level: str
    resource_type: str
    resource_name: str
    message: str
    fix: str
    urn: str = ""


ResourceCheck = Callable[[str, Mapping[str, Any], Context], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Context], Iterable[tuple[Resource, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    pillar: str
    description: str
    fix: str
    types: tuple[str, ...]  # empty for stack rules; ANY for every resource type
    check: ResourceCheck | StackCheck
    environments: tuple[str, ...] = ENVIRONMENTS
    # JSON-schema properties of the rule's own settings in the pack config.
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def is_stack_rule(self) -> bool:
        return not self.types

    def applies_to(self, environment: str) -> bool:
        return environment in self.environments

    def checks_type(self, type_: str) -> bool:
        return ANY in self.types or type_ in self.types


ANY = "*"
RULES: dict[str, Rule] = {}


def _register(rule: Rule) -> None:
    if rule.id in RULES:
        raise ValueError(f"rule {rule.id} is defined twice")
    if rule.pillar not in PILLARS:
        raise ValueError(f"rule {rule.id}: {rule.pillar!r} is not a Well-Architected pillar")
    RULES[rule.id] = rule


def resource_rule(
    rule_id: str,
    pillar: str,
    types: Sequence[str],
    fix: str,
    environments: Sequence[str] = ENVIRONMENTS,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register a check of one resource's inputs; its docstring's first line is the description."""

    def wrap(fn: ResourceCheck) -> ResourceCheck:
        description = (fn.__doc__ or rule_id).strip().splitlines()[0]
        _register(Rule(rule_id, pillar, description, fix, tuple(types), fn, tuple(environments), settings or {}))
        return fn

    return wrap


def stack_rule(
    rule_id: str, pillar: str, fix: str, environments: Sequence[str] = ENVIRONMENTS
) -> Callable[[StackCheck], StackCheck]:
    """Register a check over every resource of the stack (relations between resources)."""

    def wrap(fn: StackCheck) -> StackCheck:
        description = (fn.__doc__ or rule_id).strip().splitlines()[0]
        _register(Rule(rule_id, pillar, description, fix, (), fn, tuple(environments)))
        return fn

    return wrap


# ---------------------------------------------------------------------------------------------
# Enforcement


def enforcement(rule_id: str, environment: str, config: Mapping[str, Any] | None = None) -> str:
    """The level of `rule_id` in `environment`, with pack config (`{"all": ..., "<rule>": ...}`) on top.

    The config has the shape of `pulumi preview --policy-pack-config` files: a level string or
    `{"enforcementLevel": level, ...}` per rule, and `all` for every rule.
    """
    level = DEFAULT_ENFORCEMENT.get(environment, MANDATORY)
    for key in ("all", rule_id):
        value = (config or {}).get(key)
        if isinstance(value, Mapping):
            value = value.get("enforcementLevel")
        if value is not None:
            if value not in LEVELS:
                raise ValueError(f"policy config {key}: enforcement level {value!r} is not one of {list(LEVELS)}")
            level = value
    return level


# ---------------------------------------------------------------------------------------------
# Evaluation


def check_resource(type_: str, props: Mapping[str, Any], ctx: Context | None = None, name: str = "") -> list[Finding]:
    """Every resource rule for `type_` over these inputs."""
    ctx = ctx or Context()
    findings = []
    for rule in RULES.values():
        if rule.is_stack_rule or not rule.checks_type(type_) or not rule.applies_to(ctx.environment):
            continue
        for message in rule.check(type_, props, ctx):  # type: ignore[call-arg]
            findings.append(_finding(rule, ctx, type_, name, message))
    return findings


def check_stack(resources: Sequence[Resource], ctx: Context | None = None) -> list[Finding]:
    """Every rule, resource and stack, over a whole stack."""
    ctx = ctx or Context()
    findings = []
    for res in resources:
        for finding in check_resource(res.type, res.props, ctx, res.name):
            findings.append(_with_urn(finding, res.urn))
    for rule in RULES.values():
        if rule.is_stack_rule and rule.applies_to(ctx.environment):
            for res, message in rule.check(resources, ctx):  # type: ignore[call-arg]
                findings.append(_with_urn(_finding(rule, ctx, res.type, res.name, message), res.urn))
    return [f for f in findings if f.level != DISABLED]


def _finding(rule: Rule, ctx: Context, type_: str, name: str, message: str) -> Finding:
    level = enforcement(rule.id, ctx.environment, ctx.config)
    return Finding(rule.id, rule.pillar, level, type_, name, message, rule.fix)


def _with_urn(finding: Finding, urn: str) -> Finding:
    return Finding(**{**finding.__dict__, "urn": urn})


# ---------------------------------------------------------------------------------------------
# Helpers the rules share


def _get(value: Any, *path: str) -> Any:
    """Nested lookup that returns None for a missing key and UNKNOWN for an unknown one."""
    for key in path:
        if is_unknown(value):
            return UNKNOWN
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _truthy(value: Any) -> bool:
    """Launch templates carry some booleans as strings ("true")."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _document(value: Any) -> dict[str, Any] | None:
    """A policy document given as JSON text or as a dict; None when unknown or unparsable."""
    if is_unknown(value) or value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def _statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not document:
        return []
    statements = document.get("Statement", [])
    return [s for s in ([statements] if isinstance(statements, Mapping) else statements) if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _by_type(resources: Sequence[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def _attached(resources: Sequence[Resource], target: Resource, types: Sequence[str], prop: str) -> list[Resource]:
    """Resources of `types` whose `prop` is built from `target` (e.g. the access block of a bucket)."""
    return [r for r in _by_type(resources, *types) if r.depends_on(target, prop)]


# ---------------------------------------------------------------------------------------------
# Security: encryption at rest

RDS_TYPES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ec2/volume:Volume"


@resource_rule("rds-encrypted", SECURITY, RDS_TYPES, fix="set storage_encrypted=True (it cannot be added later)")
def rds_encrypted(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """RDS storage is encrypted at rest."""
    value = props.get("storageEncrypted")
    if not is_unknown(value) and value is not True:
        yield "storage is not encrypted (RDS defaults to unencrypted)"


@resource_rule(
    "dynamodb-encrypted-kms",
    SECURITY,
    ["aws:dynamodb/table:Table"],
    fix="set server_side_encryption={'enabled': True} (the AWS-managed key aws/dynamodb has no monthly fee)",
)
def dynamodb_encrypted(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """DynamoDB tables are encrypted with a KMS key whose use CloudTrail records."""
    enabled = _get(props, "serverSideEncryption", "enabled")
    if not is_unknown(enabled) and enabled is not True:
        yield "uses the AWS-owned key, whose use is not visible in CloudTrail"


@resource_rule(
    "sqs-encrypted",
    SECURITY,
    ["aws:sqs/queue:Queue"],
    fix="set sqs_managed_sse_enabled=True (or kms_master_key_id to a key the producers may use)",
)
def sqs_encrypted(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """SQS queues are encrypted at rest (SSE-SQS or KMS)."""
    sse, key = props.get("sqsManagedSseEnabled"), props.get("kmsMasterKeyId")
    if is_unknown(sse) or is_unknown(key):
        return
    if sse is not True and not key:
        yield "server-side encryption is not set explicitly"


@resource_rule(
    "sns-encrypted",
    SECURITY,
    ["aws:sns/topic:Topic"],
    fix="set kms_master_key_id (a customer-managed key if EventBridge or CloudWatch publish to the topic)",
)
def sns_encrypted(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """SNS topics are encrypted at rest with KMS."""
    key = props.get("kmsMasterKeyId")
    if not is_unknown(key) and not key:
        yield "messages are stored without server-side encryption"


def _ebs_mappings(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    mappings = props.get("blockDeviceMappings")
    if is_unknown(mappings):
        return []
    return [m.get("ebs") or {} for m in _as_list(mappings) if isinstance(m, Mapping)]


@resource_rule(
    "ebs-encrypted",
    SECURITY,
    [EBS_VOLUME, LAUNCH_TEMPLATE, EC2_INSTANCE],
    fix="set encrypted=True on the volume (launch templates: block_device_mappings[].ebs.encrypted='true')",
)
def ebs_encrypted(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """EBS volumes are encrypted at rest."""
    if type_ == EBS_VOLUME:
        if not is_unknown(props.get("encrypted")) and not _truthy(props.get("encrypted")):
            yield "volume is not encrypted"
    elif type_ == LAUNCH_TEMPLATE:
        mappings = _ebs_mappings(props)
        if not mappings and not is_unknown(props.get("blockDeviceMappings")):
            yield "no block device mapping: the root volume is encrypted only if the AMI's snapshot is"
        for ebs in mappings:
            if not is_unknown(ebs.get("encrypted")) and not _truthy(ebs.get("encrypted")):
                yield "a block device mapping leaves its volume unencrypted"
    else:
        root = props.get("rootBlockDevice")
        if not is_unknown(root) and not _truthy(_get(root, "encrypted")):
            yield "the root volume is not encrypted"


@stack_rule("s3-encrypted", SECURITY, fix="add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket")
def s3_encrypted(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """S3 buckets state their default encryption explicitly."""
    sse_types = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",)
    sse_types += ("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",)
    for bucket in _by_type(resources, *BUCKET_TYPES):
        inline = bucket.props.get("serverSideEncryptionConfiguration")
        if not inline and not _attached(resources, bucket, sse_types, "bucket"):
            yield bucket, "no server-side encryption configuration"


# ---------------------------------------------------------------------------------------------
# Security: exposure


@resource_rule("rds-not-public", SECURITY, ["aws:rds/instance:Instance"], fix="set publicly_accessible=False")
def rds_not_public(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Databases are not reachable from the internet."""
    if props.get("publiclyAccessible") is True:
        yield "the instance gets a public address"


@stack_rule(
    "s3-public-access-blocked",
    SECURITY,
    fix="add an aws.s3.BucketPublicAccessBlock for the bucket with all four settings True",
)
def s3_public_access_blocked(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Every S3 bucket blocks public access."""
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in _by_type(resources, *BUCKET_TYPES):
        blocks = _attached(resources, bucket, ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",), "bucket")
        if not blocks:
            yield bucket, "no public access block"
        for block in blocks:
            off = [f for f in flags if block.props.get(f) is not True and not is_unknown(block.props.get(f))]
            if off:
                yield bucket, f"public access block leaves {', '.join(off)} off"


SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
WEB_PORTS = (80, 443)


def _open_ingress(res: Resource) -> list[tuple[Any, Any, Any]]:
    """(protocol, from, to) of every ingress this resource opens to the whole internet."""
    props = res.props
    if res.type == SECURITY_GROUP:
        rules = props.get("ingress")
        rules = [] if is_unknown(rules) else _as_list(rules)
        return [
            (r.get("protocol"), r.get("fromPort"), r.get("toPort"))
            for r in rules
            if isinstance(r, Mapping)
            and any(c in OPEN_CIDRS for c in _as_list(r.get("cidrBlocks")) + _as_list(r.get("ipv6CidrBlocks")))
        ]
    if res.type == INGRESS_RULE:
        if props.get("cidrIpv4") in OPEN_CIDRS or props.get("cidrIpv6") in OPEN_CIDRS:
            return [(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))]
        return []
    if res.type == SG_RULE and props.get("type") == "ingress":
        cidrs = _as_list(props.get("cidrBlocks")) + _as_list(props.get("ipv6CidrBlocks"))
        if any(c in OPEN_CIDRS for c in cidrs):
            return [(props.get("protocol"), props.get("fromPort"), props.get("toPort"))]
    return []


@stack_rule(
    "no-open-ingress",
    SECURITY,
    fix="allow the internet only to an ALB on 80/443; reach instances from the ALB's security group",
)
def no_open_ingress(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """No ingress from 0.0.0.0/0 or ::/0, except TCP 80/443 to an application load balancer."""
    albs = [
        lb
        for lb in _by_type(resources, *LOAD_BALANCER_TYPES)
        if lb.props.get("loadBalancerType", "application") == "application"
    ]
    alb_groups = {sg.urn for sg in _by_type(resources, SECURITY_GROUP) if any(lb.depends_on(sg) for lb in albs)}
    for res in _by_type(resources, SECURITY_GROUP, INGRESS_RULE, SG_RULE):
        group = res.urn if res.type == SECURITY_GROUP else None
        if group is None:
            prop = "securityGroupId"
            group = next((u for u in res.property_dependencies.get(prop, ()) if u in alb_groups), None)
        for protocol, low, high in _open_ingress(res):
            web = str(protocol) in ("tcp", "6") and low == high and low in WEB_PORTS
            if not (web and group in alb_groups):
                yield res, f"opens {protocol} {low}-{high} to the internet"


# ---------------------------------------------------------------------------------------------
# Security: instances and identities


@resource_rule(
    "imdsv2-required",
    SECURITY,
    [LAUNCH_TEMPLATE, EC2_INSTANCE],
    fix="set metadata_options={'http_tokens': 'required', 'http_endpoint': 'enabled'}",
)
def imdsv2_required(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Instances require IMDSv2 session tokens."""
    tokens = _get(props, "metadataOptions", "httpTokens")
    if not is_unknown(tokens) and tokens != "required":
        yield f"metadata service accepts IMDSv1 (httpTokens={tokens or 'optional'})"


# Services whose actions support resource-level permissions: a `*` resource on them grants
# every table, queue, bucket or key in the account. X-Ray, CloudWatch metrics and EC2 describe
# calls support no resource scoping and are allowed on `*`.
DATA_PLANE_SERVICES = frozenset(
    {"dynamodb", "s3", "sqs", "sns", "events", "lambda", "secretsmanager", "kms", "ssm", "rds-data", "states"}
    | {"kinesis", "logs", "execute-api", "rds-db"}
)
ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy")
POLICY_TYPES += ("aws:iam/groupPolicy:GroupPolicy",)
ATTACHMENT_TYPES = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment")


def _least_privilege_problems(document: Mapping[str, Any] | None) -> Iterator[str]:
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        resources = [str(r) for r in _as_list(statement.get("Resource"))]
        wild = [a for a in actions if a == "*" or a.endswith(":*")]
        if wild:
            yield f"allows every action of {', '.join(wild)}"
        if "*" in resources:
            data = [a for a in actions if a.split(":")[0] in DATA_PLANE_SERVICES]
            if data:
                yield f"allows {', '.join(data)} on every resource (*)"


@resource_rule(
    "least-privilege",
    SECURITY,
    [*POLICY_TYPES, "aws:iam/role:Role", *ATTACHMENT_TYPES],
    fix="name the actions and the ARNs the code uses; no `*` actions, no `*` resources on data actions",
)
def least_privilege(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """IAM policies name their actions and, for data-plane actions, their resources."""
    if type_ in ATTACHMENT_TYPES:
        arn = props.get("policyArn")
        if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in ADMIN_POLICIES:
            yield f"attaches {arn.rsplit('/', 1)[-1]}"
        return
    if type_ == "aws:iam/role:Role":
        inline = props.get("inlinePolicies")
        documents = [] if is_unknown(inline) else [_document(p.get("policy")) for p in _as_list(inline) if p]
    else:
        documents = [_document(props.get("policy"))]
    for document in documents:
        yield from _least_privilege_problems(document)


RESOURCE_POLICY_TYPES = (
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sns/topicPolicy:TopicPolicy",
)


def _denies_insecure_transport(document: Mapping[str, Any] | None) -> bool:
    for statement in _statements(document):
        condition = statement.get("Condition") or {}
        secure = _get(condition, "Bool", "aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


@resource_rule(
    "tls-only-resource-policy",
    SECURITY,
    RESOURCE_POLICY_TYPES,
    fix='add {"Effect": "Deny", "Principal": "*", "Action": "<service>:*", "Condition": '
    '{"Bool": {"aws:SecureTransport": "false"}}} to the policy',
)
def tls_only_resource_policy(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Resource policies deny requests that do not use TLS."""
    document = _document(props.get("policy"))
    if document is not None and not _denies_insecure_transport(document):
        yield "the policy does not deny aws:SecureTransport=false"


@stack_rule("s3-tls-only", SECURITY, fix="add an aws.s3.BucketPolicy that denies aws:SecureTransport=false")
def s3_tls_only(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Every S3 bucket has a policy that refuses plain HTTP."""
    for bucket in _by_type(resources, *BUCKET_TYPES):
        if not _attached(resources, bucket, ("aws:s3/bucketPolicy:BucketPolicy",), "bucket"):
            yield bucket, "no bucket policy, so requests over plain HTTP are accepted"


# ---------------------------------------------------------------------------------------------
# Reliability

EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"


@stack_rule(
    "dlq-for-function-queues",
    RELIABILITY,
    fix="give the queue a redrive_policy to a dead-letter queue (maxReceiveCount a few times the retries)",
)
def dlq_for_function_queues(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Every queue a function consumes has a dead-letter queue."""
    redrives = _by_type(resources, "aws:sqs/redrivePolicy:RedrivePolicy")
    for queue in _by_type(resources, QUEUE):
        consumers = [m for m in _by_type(resources, EVENT_SOURCE_MAPPING) if m.depends_on(queue, "eventSourceArn")]
        if not consumers:
            continue
        inline = queue.props.get("redrivePolicy")
        if inline or is_unknown(inline) or any(r.depends_on(queue, "queueUrl") for r in redrives):
            continue
        yield queue, "consumed by a function but has no dead-letter queue; a poison message is retried until it expires"


@resource_rule(
    "rds-multi-az", RELIABILITY, ["aws:rds/instance:Instance"], fix="set multi_az=True", environments=["prod"]
)
def rds_multi_az(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Production databases run a standby in a second AZ."""
    if not is_unknown(props.get("multiAz")) and props.get("multiAz") is not True:
        yield "single-AZ: an AZ outage takes the database down"


@stack_rule(
    "asg-multi-az",
    RELIABILITY,
    fix="give the group subnets (vpc_zone_identifiers) in at least two AZs",
    environments=["prod"],
)
def asg_multi_az(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Production Auto Scaling groups span at least two AZs."""
    subnets = _by_type(resources, "aws:ec2/subnet:Subnet")
    for group in _by_type(resources, "aws:autoscaling/group:Group"):
        zones = {z for z in _as_list(group.props.get("availabilityZones")) if not is_unknown(z)}
        own = [s for s in subnets if group.depends_on(s, "vpcZoneIdentifiers")]
        for subnet in own:
            zone = subnet.props.get("availabilityZone") or subnet.props.get("availabilityZoneId")
            zones.add(UNKNOWN if is_unknown(zone) else zone)
        if not own:
            # Subnets of a borrowed network (network.existing) are no resources of this stack; the
            # program refuses a borrowed tier that is not one subnet per zone, so each is a zone.
            zones.update(s for s in _as_list(group.props.get("vpcZoneIdentifiers")) if not is_unknown(s))
        if len(zones) < 2:
            yield group, f"spans {len(zones)} AZ(s)"


@resource_rule(
    "dynamodb-pitr",
    RELIABILITY,
    ["aws:dynamodb/table:Table"],
    fix="set point_in_time_recovery={'enabled': True}",
)
def dynamodb_pitr(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """DynamoDB tables keep point-in-time recovery (35 days of restores)."""
    enabled = _get(props, "pointInTimeRecovery", "enabled")
    if not is_unknown(enabled) and enabled is not True:
        yield "no point-in-time recovery: a bad write or delete cannot be undone"


# ---------------------------------------------------------------------------------------------
# Operational excellence, cost, performance, sustainability


@resource_rule(
    "log-retention",
    COST,
    ["aws:cloudwatch/logGroup:LogGroup"],
    fix="set retention_in_days (common.logRetentionDays)",
)
def log_retention(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Log groups expire their logs."""
    days = props.get("retentionInDays")
    if not is_unknown(days) and not days:
        yield "logs never expire: a cost nobody chose"


@resource_rule(
    "lambda-arm64",
    SUSTAINABILITY,
    ["aws:lambda/function:Function"],
    fix="set architectures=['arm64'] (functions.architecture)",
)
def lambda_arm64(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Lambda functions run on Graviton (arm64): less energy and 20% cheaper per GB-second."""
    architectures = props.get("architectures")
    if not is_unknown(architectures) and _as_list(architectures) != ["arm64"]:
        yield f"runs on {_as_list(architectures) or ['x86_64']}"


@resource_rule(
    "gp3-volumes",
    PERFORMANCE,
    [EBS_VOLUME, LAUNCH_TEMPLATE, "aws:rds/instance:Instance"],
    fix="use gp3: 3,000 IOPS baseline whatever the size, and cheaper per GB than gp2",
)
def gp3_volumes(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Block storage is gp3 (or provisioned-IOPS), not gp2 or magnetic."""
    good = ("gp3", "io1", "io2")
    if type_ == LAUNCH_TEMPLATE:
        kinds = [ebs.get("volumeType") for ebs in _ebs_mappings(props)]
    elif type_ == EBS_VOLUME:
        kinds = [props.get("type") or "gp2"]
    else:
        # RDS picks gp2 when storage_type is not given (io1 when iops is).
        kinds = [props.get("storageType") or ("io1" if props.get("iops") else "gp2")]
    for kind in kinds:
        if not is_unknown(kind) and kind not in good:
            yield f"uses {kind or 'the default (gp2)'} volumes"


@cache
def accepts_tags(type_: str) -> bool:
    """Whether the pulumi_aws resource behind a type token takes `tags` (imported only when asked)."""
    import importlib
    import inspect
    import keyword

    try:
        _, module, cls = type_.split(":")
        package = module.split("/")[0].replace("-", "_")
        # Python keywords get a trailing underscore as module names (aws:lambda/... -> pulumi_aws.lambda_).
        package += "_" if keyword.iskeyword(package) else ""
        resource = getattr(importlib.import_module(f"pulumi_aws.{package}"), cls)
        return "tags" in inspect.signature(resource._internal_init).parameters
    except (ImportError, AttributeError, ValueError):
        return False


# The AWS provider's default_tags do not reach these types; they must carry every tag themselves.
NO_DEFAULT_TAGS = ("aws:autoscaling/group:Group",)


def _tag_map(tags: Any) -> dict[str, Any]:
    """Tags as a dict; Auto Scaling groups give them as a list of {key, value, propagateAtLaunch}."""
    if isinstance(tags, Mapping):
        return dict(tags)
    return {t.get("key"): t.get("value") for t in _as_list(tags) if isinstance(t, Mapping)}


def effective_tags(type_: str, props: Mapping[str, Any], ctx: Context) -> dict[str, Any] | None:
    """The tags AWS will see: tagsAll when the engine computed it, else provider defaults + tags."""
    tags_all = props.get("tagsAll")
    if isinstance(tags_all, Mapping):
        return dict(tags_all)
    tags = props.get("tags")
    if is_unknown(tags) or is_unknown(tags_all):
        return None
    defaults = {} if type_ in NO_DEFAULT_TAGS else ctx.default_tags
    return {**defaults, **_tag_map(tags)}


@resource_rule(
    "required-tags",
    OPERATIONS,
    [ANY],
    fix="tag it with name_tag(...) and create it through the stack's provider (default_tags)",
    settings={"tags": {"type": "array", "items": {"type": "string"}, "default": list(REQUIRED_TAGS)}},
)
def required_tags(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Every taggable resource carries the tags cost reports and operators rely on."""
    if not type_.startswith("aws:") or not accepts_tags(type_):
        return
    tags = effective_tags(type_, props, ctx)
    if tags is None:
        return
    required = ctx.rule_config("required-tags").get("tags", REQUIRED_TAGS)
    missing = [t for t in required if not tags.get(t)]
    if missing:
        yield f"missing tags: {', '.join(missing)}"


# ---------------------------------------------------------------------------------------------
# Security: the edge (issue 12). Public entry points speak TLS, authenticate callers, sit behind
# WAF and log what reaches them; the stack's identity provider is hardened like an auditor asks.

LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
REST_STAGE = "aws:apigateway/stage:Stage"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
REST_API = "aws:apigateway/restApi:RestApi"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET_LOGGING_TYPES = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
USER_POOL = "aws:cognito/userPool:UserPool"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
# ELB security policies whose oldest protocol is TLS 1.2 (TLS13-1-2/1-3, TLS-1-2, FS-1-2 families).
MODERN_TLS_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-")
# Service principals that write logs into buckets: S3 server access logging, ALB/NLB access logs
# (newer regions), vended logs (CloudFront, WAF, flow logs...).
LOG_DELIVERY_SERVICES = frozenset(
    {"logging.s3.amazonaws.com", "logdelivery.elasticloadbalancing.amazonaws.com", "delivery.logs.amazonaws.com"}
)
# The AWS managed rule groups every web ACL runs (components/waf.py).
BASELINE_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
S3_MAX_SINGLE_UPLOAD_BYTES = 5 * 1024**3


def _internet_facing_albs(resources: Sequence[Resource]) -> list[Resource]:
    return [
        lb
        for lb in _by_type(resources, *LOAD_BALANCER_TYPES)
        if lb.props.get("loadBalancerType", "application") == "application"
        and lb.props.get("internal") is not True
        and not is_unknown(lb.props.get("internal"))
    ]


def _depended_on(resources: Sequence[Resource], res: Resource, prop: str, *types: str) -> list[Resource]:
    """The resources of `types` that `res.prop` is built from."""
    urns = set(res.property_dependencies.get(prop, ()))
    return [r for r in _by_type(resources, *types) if r.urn in urns]


@stack_rule(
    "https-listeners",
    SECURITY,
    fix="listen with protocol HTTPS, a certificate and ssl_policy ELBSecurityPolicy-TLS13-1-2-2021-06; "
    "an HTTP listener's only default action redirects to HTTPS (redirect protocol HTTPS, HTTP_301)",
)
def https_listeners(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Internet-facing ALB listeners serve HTTPS with a TLS 1.2+ policy; HTTP only redirects to HTTPS."""
    albs = _internet_facing_albs(resources)
    for listener in _by_type(resources, *LISTENER_TYPES):
        if not any(listener.depends_on(lb, "loadBalancerArn") for lb in albs):
            continue
        protocol, port = listener.props.get("protocol"), listener.props.get("port")
        port_text = "" if port is None or is_unknown(port) else f" on port {int(port)}"
        if protocol == "HTTPS":
            policy = listener.props.get("sslPolicy")
            if not is_unknown(policy) and not MODERN_TLS_POLICY.match(str(policy or "")):
                shown = policy or "ELB's default ELBSecurityPolicy-2016-08"
                yield listener, f"HTTPS{port_text} uses {shown}, which still accepts TLS 1.0/1.1"
        elif protocol == "HTTP":
            actions = listener.props.get("defaultActions")
            if is_unknown(actions):
                continue
            actions = [a for a in _as_list(actions) if isinstance(a, Mapping)]
            redirects = actions and all(
                a.get("type") == "redirect" and _get(a, "redirect", "protocol") == "HTTPS" for a in actions
            )
            if not redirects:
                kinds = ", ".join(str(a.get("type")) for a in actions) or "none"
                yield listener, f"plain HTTP{port_text} to the internet ({kinds}), not a redirect to HTTPS"


@resource_rule(
    "alb-drop-invalid-headers",
    SECURITY,
    list(LOAD_BALANCER_TYPES),
    fix="set drop_invalid_header_fields=True on the load balancer",
)
def alb_drop_invalid_headers(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Application load balancers drop requests with invalid HTTP header fields (request smuggling)."""
    if props.get("loadBalancerType", "application") != "application":
        return
    value = props.get("dropInvalidHeaderFields")
    if not is_unknown(value) and value is not True:
        yield "forwards headers with invalid field names to the targets"


@resource_rule(
    "api-authorizer",
    SECURITY,
    ["aws:apigateway/method:Method", "aws:apigatewayv2/route:Route"],
    fix="REST methods: authorization AWS_IAM, COGNITO_USER_POOLS or CUSTOM; HTTP API routes: "
    "authorization_type JWT with the stack's authorizer (identity.provider), or AWS_IAM/CUSTOM",
)
def api_authorizer(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Every API route authenticates its callers (CORS preflight OPTIONS excepted)."""
    if type_ == "aws:apigateway/method:Method":
        method, auth = props.get("httpMethod"), props.get("authorization")
        if is_unknown(method) or is_unknown(auth) or method == "OPTIONS":
            return
        if auth in (None, "", "NONE"):
            yield f"{method} takes anonymous callers (authorization NONE)"
    else:
        route, auth = props.get("routeKey"), props.get("authorizationType")
        if is_unknown(route) or is_unknown(auth) or str(route).startswith("OPTIONS "):
            return
        if auth in (None, "", "NONE"):
            yield f"{route} takes anonymous callers (no authorizer)"


@stack_rule(
    "waf-on-public-entry-points",
    SECURITY,
    fix="turn on waf.enabled and give each REST API stage and internet-facing ALB an "
    "aws.wafv2.WebAclAssociation (resource_arn = the stage's or load balancer's ARN)",
)
def waf_on_public_entry_points(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Every public REST API stage and internet-facing ALB is behind a WAF web ACL (HTTP APIs cannot be)."""
    associations = _by_type(resources, WEB_ACL_ASSOCIATION)
    stages = []
    for stage in _by_type(resources, REST_STAGE):
        apis = _depended_on(resources, stage, "restApi", REST_API)
        types = [t for api in apis for t in _as_list(_get(api.props, "endpointConfiguration", "types"))]
        if "PRIVATE" not in types:
            stages.append(stage)
    for entry in [*stages, *_internet_facing_albs(resources)]:
        if not any(a.depends_on(entry, "resourceArn") for a in associations):
            kind = "REST API stage" if entry.type == REST_STAGE else "internet-facing load balancer"
            yield entry, f"{kind} without a WAF web ACL association"


@resource_rule(
    "api-access-logs",
    SECURITY,
    [REST_STAGE, HTTP_STAGE],
    fix="set access_log_settings (destination_arn: a log group; format with $context.requestId); REST "
    "stages also need the account's API Gateway CloudWatch role (microservices.apiGatewayAccountLogging)",
)
def api_access_logs(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """API stages write access logs (who called what, when, with which result)."""
    destination = _get(props, "accessLogSettings", "destinationArn")
    if not is_unknown(destination) and not destination:
        yield "writes no access log"


def _log_destinations(resources: Sequence[Resource]) -> set[str]:
    """URNs of buckets that receive logs, or may: logging and load-balancer targets, buckets whose
    policy grants a log-delivery service, and (during a preview) buckets whose policy is unknown."""
    targets = {
        urn
        for r in _by_type(resources, *BUCKET_LOGGING_TYPES)
        for urn in r.property_dependencies.get("targetBucket", ())
    }
    targets |= {
        urn
        for lb in _by_type(resources, *LOAD_BALANCER_TYPES)
        for urn in lb.property_dependencies.get("accessLogs", ())
    }
    for policy in _by_type(resources, BUCKET_POLICY):
        if is_unknown(policy.props.get("policy")):
            targets |= set(policy.property_dependencies.get("bucket", ()))
        for statement in _statements(_document(policy.props.get("policy"))):
            services = _as_list(_get(statement.get("Principal"), "Service"))
            if statement.get("Effect") == "Allow" and LOG_DELIVERY_SERVICES & set(map(str, services)):
                targets |= set(policy.property_dependencies.get("bucket", ()))
    return targets


@stack_rule(
    "s3-access-logs",
    SECURITY,
    fix="create an aws.s3.BucketLogging for the bucket with target_bucket = the stack's access-log bucket "
    "(accessLogs.enabled) and target_prefix '<component>/<purpose>/'",
)
def s3_access_logs(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Buckets that hold data or artifacts write S3 server access logs (log buckets themselves excepted)."""
    destinations = _log_destinations(resources)
    loggings = _by_type(resources, *BUCKET_LOGGING_TYPES)
    for bucket in _by_type(resources, *BUCKET_TYPES):
        if bucket.urn in destinations:
            continue
        inline = bucket.props.get("logging")
        if (
            is_unknown(inline)
            or _get(inline, "targetBucket")
            or any(lg.depends_on(bucket, "bucket") for lg in loggings)
        ):
            continue
        yield bucket, "writes no server access log"


@resource_rule(
    "rds-enhanced-monitoring",
    SECURITY,
    ["aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance"],
    fix="set monitoring_interval=60 and monitoring_role_arn to a role that monitoring.rds.amazonaws.com "
    "may assume, with the AmazonRDSEnhancedMonitoringRole managed policy",
)
def rds_enhanced_monitoring(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Databases publish enhanced (OS-level) monitoring."""
    interval, role = props.get("monitoringInterval"), props.get("monitoringRoleArn")
    if is_unknown(interval) or is_unknown(role):
        return
    if not interval:
        yield "no enhanced monitoring (monitoring_interval 0)"
    elif not role:
        yield f"monitoring_interval {interval} without a monitoring_role_arn"


@resource_rule(
    "rds-iam-auth",
    SECURITY,
    RDS_TYPES,
    fix="set iam_database_authentication_enabled=True; the app connects as its own database user with an "
    "IAM auth token (rds-db:connect on that user of this instance)",
)
def rds_iam_auth(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Databases accept IAM authentication, so applications need no long-lived database password."""
    enabled = props.get("iamDatabaseAuthenticationEnabled")
    if not is_unknown(enabled) and enabled is not True:
        yield "IAM database authentication is off"


@stack_rule(
    "alarm-subscribers",
    OPERATIONS,
    fix="list on-call addresses in observability.alarmEmails or observability.alarmHttpsEndpoints "
    "(each an aws.sns.TopicSubscription on the alarm topic)",
    environments=["prod"],
)
def alarm_subscribers(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Every topic production alarms notify has at least one subscriber."""
    alarms = _by_type(resources, "aws:cloudwatch/metricAlarm:MetricAlarm")
    subscriptions = _by_type(resources, "aws:sns/topicSubscription:TopicSubscription")
    for topic in _by_type(resources, "aws:sns/topic:Topic"):
        notified = [a for a in alarms if a.depends_on(topic, "alarmActions") or a.depends_on(topic, "okActions")]
        if notified and not any(s.depends_on(topic, "topic") for s in subscriptions):
            yield topic, f"{len(notified)} alarm(s) notify it but nobody is subscribed"


def _allows(document: Mapping[str, Any] | None, action: str) -> bool:
    service = action.split(":")[0]
    for statement in _statements(document):
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        if statement.get("Effect") == "Allow" and any(a in (action, f"{service}:*", "*") for a in actions):
            return True
    return False


def _role_documents(resources: Sequence[Resource], role: Resource) -> list[dict[str, Any] | None]:
    inline = role.props.get("inlinePolicies")
    documents = [] if is_unknown(inline) else [_document(p.get("policy")) for p in _as_list(inline) if p]
    documents += [_document(p.props.get("policy")) for p in _attached(resources, role, POLICY_TYPES, "role")]
    return documents


@stack_rule(
    "upload-size-bound",
    SECURITY,
    fix="set MAX_UPLOAD_BYTES (1 to 5 GiB) in the function's environment and sign uploads as a presigned POST "
    "whose policy has a content-length-range condition up to it (a presigned PUT cannot bound the size)",
)
def upload_size_bound(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Functions that sign S3 uploads for API callers declare the largest upload they sign for."""
    integrations = [
        *[(i, "integrationUri") for i in _by_type(resources, "aws:apigatewayv2/integration:Integration")],
        *[(i, "uri") for i in _by_type(resources, "aws:apigateway/integration:Integration")],
    ]
    for fn in _by_type(resources, LAMBDA_FUNCTION):
        if not any(i.depends_on(fn, prop) for i, prop in integrations):
            continue
        documents = [
            d
            for role in _depended_on(resources, fn, "role", "aws:iam/role:Role")
            for d in _role_documents(resources, role)
        ]
        if any(d is None for d in documents) or not any(_allows(d, "s3:PutObject") for d in documents):
            continue  # unknown during a preview, or the function writes no objects
        variables = _get(fn.props, "environment", "variables")
        if is_unknown(variables):
            continue
        bound = (variables or {}).get("MAX_UPLOAD_BYTES")
        if is_unknown(bound):
            continue
        if bound is None:
            yield fn, "signs S3 uploads for API callers but declares no MAX_UPLOAD_BYTES"
        elif not str(bound).isdigit() or not 1 <= int(bound) <= S3_MAX_SINGLE_UPLOAD_BYTES:
            yield fn, f"MAX_UPLOAD_BYTES {bound!r} is not a size from 1 byte to 5 GiB"


def _managed_groups(rules: list[Any]) -> dict[str, Mapping[str, Any]]:
    """AWS managed rule groups of a web ACL by name, each with its rule."""
    groups = {}
    for rule in rules:
        statement = _get(rule, "statement", "managedRuleGroupStatement")
        if isinstance(statement, Mapping) and statement.get("vendorName") == "AWS":
            groups[str(statement.get("name"))] = rule
    return groups


@resource_rule(
    "waf-baseline-rules",
    SECURITY,
    [WEB_ACL],
    fix="run AWSManagedRulesCommonRuleSet, AWSManagedRulesKnownBadInputsRuleSet and "
    "AWSManagedRulesAmazonIpReputationList with override_action none, a rate_based_statement rule that "
    "blocks, and visibility_config.cloudwatch_metrics_enabled (components/waf.py)",
)
def waf_baseline_rules(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Web ACLs run AWS's baseline managed rule groups and a per-client rate limit, with metrics on."""
    rules = props.get("rules")
    if is_unknown(rules):
        return
    rules = [r for r in _as_list(rules) if isinstance(r, Mapping)]
    groups = _managed_groups(rules)
    for name in BASELINE_RULE_GROUPS:
        if name not in groups:
            yield f"does not run the AWS managed rule group {name}"
        elif _get(groups[name], "overrideAction", "count") is not None:
            yield f"runs {name} in count mode only (override_action count)"
    rate_rules = [r for r in rules if _get(r, "statement", "rateBasedStatement")]
    if not any(_get(r, "action", "block") is not None for r in rate_rules):
        yield "has no rate-based rule that blocks"
    metrics = _get(props, "visibilityConfig", "cloudwatchMetricsEnabled")
    if not is_unknown(metrics) and metrics is not True:
        yield "publishes no CloudWatch metrics"


@stack_rule(
    "waf-logging",
    SECURITY,
    fix="add an aws.wafv2.WebAclLoggingConfiguration to a log group whose name starts with aws-waf-logs-, "
    "with redacted_fields for the authorization and cookie headers (components/waf.py)",
)
def waf_logging(resources: Sequence[Resource], ctx: Context) -> Iterator[tuple[Resource, str]]:
    """Web ACLs log what they block to a log group WAF accepts, with credentials redacted."""
    configurations = _by_type(resources, WEB_ACL_LOGGING)
    for acl in _by_type(resources, WEB_ACL):
        mine = [c for c in configurations if c.depends_on(acl, "resourceArn")]
        if not mine:
            yield acl, "has no logging configuration"
        for config in mine:
            redacted = config.props.get("redactedFields")
            if not is_unknown(redacted):
                headers = {str(_get(f, "singleHeader", "name")).lower() for f in _as_list(redacted)}
                if "authorization" not in headers:
                    yield acl, "its log keeps the authorization header (bearer tokens, SigV4 signatures)"
            for group in _depended_on(resources, config, "logDestinationConfigs", LOG_GROUP):
                name = group.props.get("name") or group.props.get("namePrefix")
                if isinstance(name, str) and not name.startswith("aws-waf-logs-"):
                    yield acl, f"logs to {name}, a name WAF refuses (it must start with aws-waf-logs-)"


@resource_rule(
    "cognito-mfa",
    SECURITY,
    [USER_POOL],
    fix="set mfa_configuration ON (identity.cognito.mfa: required) or OPTIONAL, with "
    "software_token_mfa_configuration enabled",
)
def cognito_mfa(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """User pools let users protect their accounts with a second factor."""
    mfa = props.get("mfaConfiguration")
    if not is_unknown(mfa) and mfa not in ("ON", "OPTIONAL"):
        yield "multi-factor authentication is off"


@resource_rule(
    "cognito-password-policy",
    SECURITY,
    [USER_POOL],
    fix="set password_policy: minimum_length >= 8, require lower case, upper case, numbers and symbols, "
    "temporary_password_validity_days <= 7",
)
def cognito_password_policy(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """User pools require strong passwords and short-lived temporary ones."""
    policy = props.get("passwordPolicy")
    if is_unknown(policy):
        return
    policy = policy if isinstance(policy, Mapping) else {}
    length = policy.get("minimumLength")
    if not is_unknown(length) and (length or 8) < 8:
        yield f"passwords may be {length} characters long"
    # Cognito requires every class unless told otherwise.
    weak = [c for c in ("Lowercase", "Uppercase", "Numbers", "Symbols") if policy.get(f"require{c}") is False]
    if weak:
        yield f"passwords need no {', '.join(c.lower() for c in weak)}"
    days = policy.get("temporaryPasswordValidityDays")
    if not is_unknown(days) and days is not None and days > 7:
        yield f"temporary passwords stay valid {days} days"


@resource_rule(
    "cognito-threat-protection",
    SECURITY,
    [USER_POOL],
    fix="set user_pool_add_ons.advanced_security_mode ENFORCED with user_pool_tier PLUS "
    "(identity.cognito.threatProtection: enforced)",
)
def cognito_threat_protection(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """User pools act on sign-in risk (threat protection enforced, Security Hub Cognito.1)."""
    mode = _get(props, "userPoolAddOns", "advancedSecurityMode")
    if not is_unknown(mode) and mode != "ENFORCED":
        yield f"threat protection is {str(mode or 'OFF').lower()}, not enforced"


@resource_rule(
    "cognito-deletion-protection",
    RELIABILITY,
    [USER_POOL],
    fix="set deletion_protection ACTIVE (common.deletionProtection)",
    environments=["prod"],
)
def cognito_deletion_protection(type_: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    """Production user pools cannot be deleted in one call (the users and their MFA go with them)."""
    value = props.get("deletionProtection")
    if not is_unknown(value) and value != "ACTIVE":
        yield "deletion protection is off"
