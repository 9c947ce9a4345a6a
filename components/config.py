"""The stack configuration: one pydantic schema, validated before any resource exists.

`load()` reads every `aws-patterns:*` key of the running stack, merges it over the defaults of
the stack's environment profile (components/defaults.py) and validates the result. Any problem
raises `ConfigError`, a `pulumi.RunError`, so the CLI prints the message without a traceback.
Each line of the message names the full key (`aws-patterns:network.cidr`), the bad value and
what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.defaults import LOG_RETENTION_DAYS, NAMESPACE, PROFILES, deep_merge

Environment = Literal["dev", "staging", "prod"]
NatStrategy = Literal["none", "single", "perAz"]

# Tags the provider sets on every resource; a stack may add tags but not redefine these.
RESERVED_TAG_KEYS = ("project", "stack", "environment", "managed-by")
_TAG_CHARS = re.compile(r"[\w .:/=+\-@]*")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
# RFC 1918 plus the shared address space AWS also accepts for VPCs.
_PRIVATE_RANGES = tuple(
    ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
# The subnet layout (components/network.py) carves the VPC into 32 equal blocks; the smallest
# subnet AWS allows is a /28, so the VPC can be at most a /23. AWS's largest VPC is a /16.
VPC_PREFIX_RANGE = (16, 23)


# Rules that compare several keys raise ValueError(f"{CROSS_FIELD}<key relative to the block>: ...")
# so the message can name the key the user should change rather than the whole block.
CROSS_FIELD = "@key "


class ConfigError(pulumi.RunError):
    """A stack configuration mistake the user can fix; printed without a traceback."""


def _ipv4_network(value: str) -> str:
    if "/" not in value:
        raise ValueError("must be a CIDR block with a prefix length, such as 10.0.0.0/16")
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError("must be an IPv4 CIDR block such as 10.0.0.0/16") from None
    if str(net) != value:
        raise ValueError(f"has host bits set or is not in canonical form; did you mean {net}?")
    return value


def _vpc_cidr(value: str) -> str:
    net = ipaddress.IPv4Network(value)
    low, high = VPC_PREFIX_RANGE
    if not low <= net.prefixlen <= high:
        raise ValueError(f"prefix length must be between /{low} and /{high}")
    if not any(net.subnet_of(r) for r in _PRIVATE_RANGES):
        allowed = ", ".join(str(r) for r in _PRIVATE_RANGES)
        raise ValueError(f"must lie inside a private range ({allowed})")
    return value


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of the values CloudWatch Logs accepts: {list(LOG_RETENTION_DAYS)}")
    return value


Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_network)]
VpcCidr = Annotated[Ipv4Cidr, AfterValidator(_vpc_cidr)]
RetentionDays = Annotated[int, AfterValidator(_retention)]


class Model(BaseModel):
    """Base for every config block: camelCase keys, unknown keys rejected, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        strict=True,
        frozen=True,
        validate_by_name=False,
        validate_by_alias=True,
    )


class Common(Model):
    """Settings every pattern reads (log retention, safety switches for stateful resources)."""

    log_retention_days: RetentionDays
    deletion_protection: bool
    protect_stateful_resources: bool
    multi_az: bool


class FlowLogs(Model):
    enabled: bool
    traffic_type: Literal["ACCEPT", "REJECT", "ALL"]
    retention_days: RetentionDays


class Network(Model):
    enabled: bool
    cidr: VpcCidr
    az_count: int = Field(ge=2, le=6)
    availability_zones: list[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}[a-z]$")]] | None = None
    nat_strategy: NatStrategy
    gateway_endpoints: bool
    flow_logs: FlowLogs

    @model_validator(mode="after")
    def _zones_match_count(self) -> Network:
        zones = self.availability_zones
        if zones is not None:
            if len(set(zones)) != len(zones):
                raise ValueError(f"{CROSS_FIELD}availabilityZones: lists a zone twice (got {zones})")
            if len(zones) != self.az_count:
                raise ValueError(
                    f"{CROSS_FIELD}availabilityZones: lists {len(zones)} zones but azCount is {self.az_count}"
                )
        return self


class Functions(Model):
    """Settings shared by every Lambda function the patterns create."""

    runtime: Literal["python3.12", "python3.13"]
    architecture: Literal["arm64", "x86_64"]
    powertools_layer_version: int = Field(ge=1)
    tracing: bool


# Lambda function folders: a function's code is lambdas/<code>/app.py (entry point app.handler).
LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"


def has_handler(code: str) -> bool:
    """Whether lambdas/<code>/app.py exists; a config naming a missing folder fails on it."""
    return (LAMBDAS_DIR / code / "app.py").is_file()


# Largest object one presigned PUT can create (S3's single-PUT limit, 5 GiB).
S3_MAX_PUT_BYTES = 5 * 1024**3
# HTTP APIs end an integration after 30 s; the intake function must answer before that.
HTTP_API_INTEGRATION_TIMEOUT_S = 30
_MIME_TYPE = r"^[a-z]+/[a-z0-9][a-z0-9.+-]*$"
# Exact origins only (no wildcard, no path); plain http only for a developer's own machine.
_ORIGIN = r"^(https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?|http://(localhost|127\.0\.0\.1))(:\d{1,5})?$"


def _unique(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError(f"lists a value twice (got {value})")
    return value


class UploadLifecycle(Model):
    """S3 lifecycle of the upload bucket (days counted from the object's creation)."""

    abort_incomplete_multipart_upload_days: int = Field(ge=1)
    # S3 refuses a transition to STANDARD_IA earlier than 30 days after creation.
    transition_to_infrequent_access_days: int | None = Field(ge=30)
    expiration_days: int | None = Field(ge=1)
    noncurrent_version_expiration_days: int = Field(ge=1)

    @model_validator(mode="after")
    def _expire_after_transition(self) -> UploadLifecycle:
        moved, expired = self.transition_to_infrequent_access_days, self.expiration_days
        if moved is not None and expired is not None and expired <= moved:
            raise ValueError(
                f"{CROSS_FIELD}expirationDays: {expired} must be later than "
                f"transitionToInfrequentAccessDays ({moved}); S3 rejects the rule otherwise"
            )
        return self


class ApiThrottling(Model):
    burst_limit: int = Field(ge=0, le=5000)
    rate_limit: int = Field(ge=0, le=10000)


class FunctionSize(Model):
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)


class Serverless(Model):
    """The upload pipeline: HTTP API + Lambda + DynamoDB + S3 (components/serverless.py)."""

    enabled: bool
    allowed_content_types: Annotated[
        list[Annotated[str, Field(pattern=_MIME_TYPE)]], Field(min_length=1), AfterValidator(_unique)
    ]
    max_upload_bytes: int = Field(ge=1, le=S3_MAX_PUT_BYTES)
    # A URL signed with the function's temporary credentials dies with them; an hour is safe.
    presigned_url_expiry_seconds: int = Field(ge=60, le=3600)
    upload_prefix: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*/$", max_length=100)
    record_ttl_days: int = Field(ge=1, le=3650)
    cors_origins: Annotated[list[Annotated[str, Field(pattern=_ORIGIN)]], AfterValidator(_unique)]
    lifecycle: UploadLifecycle
    throttling: ApiThrottling
    intake: FunctionSize
    processor: FunctionSize

    @model_validator(mode="after")
    def _limits(self) -> Serverless:
        if self.intake.timeout_seconds >= HTTP_API_INTEGRATION_TIMEOUT_S:
            raise ValueError(
                f"{CROSS_FIELD}intake.timeoutSeconds: {self.intake.timeout_seconds} must be below "
                f"{HTTP_API_INTEGRATION_TIMEOUT_S}, the HTTP API's integration timeout"
            )
        expires = self.lifecycle.expiration_days
        if expires is not None and self.record_ttl_days > expires:
            raise ValueError(
                f"{CROSS_FIELD}recordTtlDays: {self.record_ttl_days} outlives the objects "
                f"(lifecycle.expirationDays is {expires}); a READY record would point at a deleted object"
            )
        return self


# Tunnel inside CIDRs AWS keeps for itself (CreateVpnConnection, TunnelInsideCidr).
VPN_INSIDE_RANGE = ipaddress.IPv4Network("169.254.0.0/16")
VPN_RESERVED_INSIDE_CIDRS = tuple(
    ipaddress.IPv4Network(c)
    for c in (
        "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30",
        "169.254.4.0/30", "169.254.5.0/30", "169.254.169.252/30",
    )
)  # fmt: skip
# Ranges a customer gateway's outside address cannot be in: it must be reachable from the
# internet. Documentation ranges (RFC 5737) are not listed: they are accepted with a warning
# (components/hybrid.py) so the shipped stacks can carry an address that is obviously an example.
NOT_PUBLIC_RANGES = tuple(
    (ipaddress.IPv4Network(cidr), reason)
    for cidr, reason in (
        ("0.0.0.0/8", "'this network' (RFC 1122)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT space (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (RFC 1112), including broadcast"),
    )
)
DOCUMENTATION_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
# On-premises CIDRs become VPN routes and security-group rules; these can never be either.
_NOT_ROUTABLE = tuple(
    ipaddress.IPv4Network(c) for c in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
# Private ASNs the virtual private gateway accepts (16-bit and 32-bit ranges).
AMAZON_SIDE_ASN_RANGES = ((64512, 65534), (4200000000, 4294967294))
# `bgp_asn` of a customer gateway; 7224 and 9059 are Amazon's own and refused.
CUSTOMER_ASN_RANGE = (1, 2147483647)
CUSTOMER_ASN_RESERVED = (7224, 9059)
# A VPN connection's static routes and the app tier's security group (60 inbound rules by
# default, some used by the pattern itself) both bound how many on-premises CIDRs fit.
MAX_ON_PREMISES_CIDRS = 50
_PRESHARED_KEY = re.compile(r"[A-Za-z0-9._]{8,64}")
HYBRID_KEY = "hybrid"


def _public_address(value: str) -> str:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError("must be an IPv4 address (the device's static public address)") from None
    if str(address) != value:
        raise ValueError(f"is not in canonical form; did you mean {address}?")
    for network, reason in NOT_PUBLIC_RANGES:
        if address in network:
            raise ValueError(f"is {reason} ({network}); a customer gateway needs a public unicast address")
    return value


def _inside_cidr(value: str) -> str:
    net = ipaddress.IPv4Network(value)
    if net.prefixlen != 30 or not net.subnet_of(VPN_INSIDE_RANGE):
        raise ValueError(f"must be a /30 inside {VPN_INSIDE_RANGE}")
    if net in VPN_RESERVED_INSIDE_CIDRS:
        reserved = ", ".join(str(c) for c in VPN_RESERVED_INSIDE_CIDRS)
        raise ValueError(f"is reserved by AWS (reserved: {reserved})")
    return value


def _on_premises_cidr(value: str) -> str:
    net = ipaddress.IPv4Network(value)
    clash = next((r for r in _NOT_ROUTABLE if net.overlaps(r)), None)
    if clash is not None:
        raise ValueError(f"overlaps {clash}, which cannot be routed through a VPN")
    return value


def _amazon_side_asn(value: int) -> int:
    if not any(low <= value <= high for low, high in AMAZON_SIDE_ASN_RANGES):
        raise ValueError("must be a private ASN: 64512-65534 or 4200000000-4294967294")
    return value


def _customer_asn(value: int) -> int:
    low, high = CUSTOMER_ASN_RANGE
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}")
    if value in CUSTOMER_ASN_RESERVED:
        raise ValueError(f"is reserved by Amazon (reserved: {list(CUSTOMER_ASN_RESERVED)})")
    return value


def _preshared_key(value: str, info: ValidationInfo) -> str:
    # Messages here never repeat the value: `_describe` redacts anything under a secret key.
    if not _PRESHARED_KEY.fullmatch(value) or value.startswith("0"):
        raise ValueError("must be 8-64 letters, digits, '.' or '_' and must not start with 0")
    if HYBRID_KEY not in (info.context or {}).get("secret_keys", ()):
        raise ValueError(
            "must come from secret config: pulumi config set --secret --path "
            f"'{NAMESPACE}:{HYBRID_KEY}.tunnels[N].presharedKey' <key>"
        )
    return value


class VpnTunnel(Model):
    """Options of one of a VPN connection's two tunnels; AWS chooses whatever is left unset."""

    inside_cidr: Annotated[Ipv4Cidr, AfterValidator(_inside_cidr)] | None = None
    preshared_key: Annotated[str, AfterValidator(_preshared_key)] | None = None


class Hybrid(Model):
    """Site-to-site VPN between the VPC and an on-premises network (components/hybrid.py)."""

    enabled: bool
    customer_gateway_ip: Annotated[str, AfterValidator(_public_address)] | None = None
    customer_gateway_asn: Annotated[int, AfterValidator(_customer_asn)]
    amazon_side_asn: Annotated[int, AfterValidator(_amazon_side_asn)]
    routing: Literal["static", "bgp"]
    on_premises_cidrs: list[Annotated[Ipv4Cidr, AfterValidator(_on_premises_cidr)]] = Field(default_factory=list)
    dpd_timeout_action: Literal["clear", "none", "restart"]
    tunnel_logging: bool
    tunnels: list[VpnTunnel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Hybrid:
        if self.enabled and self.customer_gateway_ip is None:
            raise ValueError(f"{CROSS_FIELD}customerGatewayIp: required when hybrid is enabled")
        if self.enabled and not self.on_premises_cidrs:
            raise ValueError(f"{CROSS_FIELD}onPremisesCidrs: list at least one CIDR when hybrid is enabled")
        if len(self.on_premises_cidrs) > MAX_ON_PREMISES_CIDRS:
            raise ValueError(
                f"{CROSS_FIELD}onPremisesCidrs: at most {MAX_ON_PREMISES_CIDRS} CIDRs "
                f"(got {len(self.on_premises_cidrs)}); summarise them into larger blocks"
            )
        cidrs = [ipaddress.IPv4Network(c) for c in self.on_premises_cidrs]
        for i, a in enumerate(cidrs):
            for b in cidrs[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"{CROSS_FIELD}onPremisesCidrs: {a} overlaps {b}")
        if self.customer_gateway_asn == self.amazon_side_asn:
            raise ValueError(
                f"{CROSS_FIELD}customerGatewayAsn: {self.customer_gateway_asn} equals amazonSideAsn; "
                "the two BGP peers need different ASNs"
            )
        if self.tunnels:
            if len(self.tunnels) != 2:
                raise ValueError(
                    f"{CROSS_FIELD}tunnels: list both of the connection's 2 tunnels or none (got {len(self.tunnels)})"
                )
            inside = [t.inside_cidr for t in self.tunnels if t.inside_cidr is not None]
            if len(set(inside)) != len(inside):
                raise ValueError(f"{CROSS_FIELD}tunnels: both tunnels use inside CIDR {inside[0]}")
        return self


# EventBridge's own limits: five targets per rule; retries up to 185 attempts within 1 min-24 h.
EVENT_RULE_MAX_TARGETS = 5
# Names of event-driven queues, topics, functions and rules become logical (and, with Pulumi's
# suffix, physical) names; 24 characters keeps "<rule>-function-<name>-dlq" inside SQS's 80.
_EVENT_NAME = r"^[a-z][a-zA-Z0-9]{0,23}$"
EventName = Annotated[str, Field(pattern=_EVENT_NAME)]
_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


def _event_pattern(value: dict[str, Any], path: str = "") -> dict[str, Any]:
    """EventBridge accepts only objects whose leaves are non-empty arrays; a bare string fails at deploy."""
    if not value:
        raise ValueError(f"{path or 'the pattern'} must not be empty")
    for key, inner in value.items():
        where = f"{path}.{key}" if path else key
        if isinstance(inner, dict):
            _event_pattern(inner, where)
        elif not isinstance(inner, list) or not inner:
            raise ValueError(f"{where} must be a non-empty list of values or matchers (got {inner!r:.60})")
    return value


def _without_removed(value: dict[str, Any]) -> dict[str, Any]:
    """A stack removes a profile's queue, topic, function or rule by setting it to null."""
    return {k: v for k, v in value.items() if v is not None}


class EventRetryPolicy(Model):
    maximum_retry_attempts: int = Field(ge=0, le=185)
    maximum_event_age_seconds: int = Field(ge=60, le=86400)


class EventRuleTarget(Model):
    """Exactly one of a queue, a topic or a function of this block."""

    queue: EventName | None = None
    topic: EventName | None = None
    function: EventName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EventRuleTarget:
        if sum(x is not None for x in (self.queue, self.topic, self.function)) != 1:
            raise ValueError("set exactly one of queue, topic or function")
        return self

    @property
    def kind_and_name(self) -> tuple[str, str]:
        for kind in ("queue", "topic", "function"):
            name = getattr(self, kind)
            if name is not None:
                return kind, name
        raise AssertionError("validated to have one target")


class EventRule(Model):
    description: str = Field(default="", max_length=512)
    event_pattern: Annotated[dict[str, Any], AfterValidator(_event_pattern)]
    targets: list[EventRuleTarget] = Field(min_length=1, max_length=EVENT_RULE_MAX_TARGETS)


class EventQueue(Model):
    # Receives before SQS moves a message to the queue's dead-letter queue.
    max_receive_count: int = Field(ge=1, le=1000)


class EventTopic(Model):
    # Queues subscribed with raw delivery (they receive the event itself, not an SNS envelope).
    queues: Annotated[list[EventName], AfterValidator(_unique)] = Field(default_factory=list)
    emails: Annotated[list[Annotated[str, Field(pattern=_EMAIL, max_length=254)]], AfterValidator(_unique)] = Field(
        default_factory=list
    )


class EventFunction(Model):
    """A function of lambdas/<code>/; with `queue` it consumes that queue in batches."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    queue: EventName | None = None
    batch_size: int = Field(default=10, ge=1, le=10000)
    maximum_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    table: bool = False

    @model_validator(mode="after")
    def _batching(self) -> EventFunction:
        # Lambda refuses an SQS batch size above 10 unless a batching window is set.
        if self.batch_size > 10 and self.maximum_batching_window_seconds < 1:
            raise ValueError(
                f"{CROSS_FIELD}batchSize: {self.batch_size} needs maximumBatchingWindowSeconds of at least 1 "
                "(Lambda allows batches above 10 SQS messages only with a batching window)"
            )
        return self


class EventDriven(Model):
    """EventBridge bus, rules, SQS queues, SNS topics and Lambda consumers (components/event_driven.py)."""

    enabled: bool
    # 0 (keep forever) is deliberately not offered: an archive that never expires is a cost nobody chose.
    archive_retention_days: int = Field(ge=1, le=3653)
    retry_policy: EventRetryPolicy
    queues: Annotated[dict[EventName, EventQueue | None], AfterValidator(_without_removed)]
    topics: Annotated[dict[EventName, EventTopic | None], AfterValidator(_without_removed)]
    functions: Annotated[dict[EventName, EventFunction | None], AfterValidator(_without_removed)]
    rules: Annotated[dict[EventName, EventRule | None], AfterValidator(_without_removed)]

    @model_validator(mode="after")
    def _references(self) -> EventDriven:
        kinds = {"queue": self.queues, "topic": self.topics, "function": self.functions}
        names = [n for group in kinds.values() for n in group]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ValueError(f"{CROSS_FIELD}queues: {clashes} name more than one queue, topic or function")
        for rule_name, rule in self.rules.items():
            seen = set()
            for i, target in enumerate(rule.targets):
                kind, name = target.kind_and_name
                if name not in kinds[kind]:
                    raise ValueError(
                        f"{CROSS_FIELD}rules.{rule_name}.targets: target {i + 1} names {kind} {name!r}, "
                        f"which is not in eventDriven.{kind}s ({sorted(kinds[kind])})"
                    )
                if (kind, name) in seen:
                    raise ValueError(f"{CROSS_FIELD}rules.{rule_name}.targets: {kind} {name!r} is listed twice")
                seen.add((kind, name))
        for topic_name, topic in self.topics.items():
            strangers = [q for q in topic.queues if q not in self.queues]
            if strangers:
                raise ValueError(
                    f"{CROSS_FIELD}topics.{topic_name}.queues: {strangers} are not in eventDriven.queues "
                    f"({sorted(self.queues)})"
                )
        consumed: dict[str, str] = {}
        for fn_name, fn in self.functions.items():
            if self.enabled and not has_handler(fn.code):
                raise ValueError(
                    f"{CROSS_FIELD}functions.{fn_name}.code: lambdas/{fn.code}/app.py does not exist (got {fn.code!r})"
                )
            if fn.queue is None:
                continue
            if fn.queue not in self.queues:
                raise ValueError(
                    f"{CROSS_FIELD}functions.{fn_name}.queue: {fn.queue!r} is not in eventDriven.queues "
                    f"({sorted(self.queues)})"
                )
            if fn.queue in consumed:
                # The queue's visibility timeout is derived from its one consumer's timeout.
                raise ValueError(
                    f"{CROSS_FIELD}functions.{fn_name}.queue: {fn.queue!r} is already consumed by "
                    f"{consumed[fn.queue]!r}; a queue has one consumer"
                )
            consumed[fn.queue] = fn_name
        return self


# EC2 instance types such as t4g.small or m7i-flex.large; RDS classes are the same with `db.`.
_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
_CERTIFICATE_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
# A pinned major.minor PostgreSQL version RDS offers (the parameter group family follows the major).
_POSTGRES_VERSION = r"^1[3-8]\.\d{1,2}$"


class MultiTierInstances(Model):
    instance_type: Annotated[str, Field(pattern=_INSTANCE_TYPE)]
    min_size: int = Field(ge=1, le=100)
    max_size: int = Field(ge=1, le=100)
    health_check_grace_seconds: int = Field(ge=0, le=7200)
    scaling_metric: Literal["cpu", "requestCount"]
    scaling_target: int = Field(ge=1, le=100_000)


class MultiTierDatabase(Model):
    engine_version: Annotated[str, Field(pattern=_POSTGRES_VERSION)]
    instance_class: Annotated[str, Field(pattern=r"^db\." + _INSTANCE_TYPE[1:])]
    allocated_storage_gb: int = Field(ge=20, le=65536)
    backup_retention_days: int = Field(ge=0, le=35)
    performance_insights: bool
    log_exports: Annotated[list[Literal["postgresql", "upgrade", "iam-db-auth-error"]], AfterValidator(_unique)]


class MultiTier(Model):
    enabled: bool
    allowed_cidrs: Annotated[list[Ipv4Cidr], Field(min_length=1, max_length=50), AfterValidator(_unique)]
    certificate_arn: Annotated[str, Field(pattern=_CERTIFICATE_ARN)] | None = None
    access_logs: bool
    app_port: int = Field(ge=1024, le=65535)  # the app runs unprivileged
    instances: MultiTierInstances
    database: MultiTierDatabase

    @model_validator(mode="after")
    def _sizes(self) -> MultiTier:
        inst = self.instances
        if inst.min_size > inst.max_size:
            raise ValueError(
                f"{CROSS_FIELD}instances.minSize: {inst.min_size} is more than instances.maxSize {inst.max_size}"
            )
        if inst.scaling_metric == "cpu" and inst.scaling_target > 100:
            raise ValueError(
                f"{CROSS_FIELD}instances.scalingTarget: {inst.scaling_target} is not a CPU percentage (1-100)"
            )
        return self


# REST APIs end a Lambda integration after 29 s; a longer function timeout is never waited for.
REST_API_INTEGRATION_TIMEOUT_S = 29
# What the REST API routes; a greedy `{proxy+}` is left out on purpose (one method per route).
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_ROUTE = re.compile(rf"({'|'.join(HTTP_METHODS)}) ((/([A-Za-z0-9._-]+|\{{[A-Za-z_][A-Za-z0-9_]*\}}))+)")
# Table actions a service may be granted; the Query and Scan ones also apply to its indexes.
DYNAMODB_ACTIONS = (
    "GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem",
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
)  # fmt: skip
DynamoDbAction = Literal[DYNAMODB_ACTIONS]  # type: ignore[valid-type]


def _route(value: str) -> str:
    if not _ROUTE.fullmatch(value):
        raise ValueError(
            f"must be 'METHOD /path' with METHOD one of {list(HTTP_METHODS)} and path segments of "
            "letters, digits, '.', '_', '-' or a {parameter}, e.g. 'GET /users/{id}'"
        )
    return value


Route = Annotated[str, AfterValidator(_route)]


class KeyAttribute(Model):
    """A table or index key: its attribute name and DynamoDB scalar type."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,255}$")
    type: Literal["S", "N", "B"]


class SecondaryIndex(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None


class Microservice(Model):
    """One service: its own table, function, role and routes (components/microservices.py).

    Fields with defaults here are the ones a new service may leave out; the shipped services'
    values come from the profiles in components/defaults.py.
    """

    enabled: bool = True
    code: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}$")  # lambdas/<code>; default: the name
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    global_secondary_indexes: list[SecondaryIndex] = Field(default_factory=list, max_length=20)
    table_actions: Annotated[list[DynamoDbAction], Field(min_length=1)]
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1)
    reserved_concurrency: int | None = Field(default=None, ge=1)
    publishes_events: bool = False
    routes: Annotated[list[Route], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Microservice:
        if self.timeout_seconds > REST_API_INTEGRATION_TIMEOUT_S:
            raise ValueError(
                f"{CROSS_FIELD}timeoutSeconds: {self.timeout_seconds} exceeds the REST API's integration "
                f"timeout ({REST_API_INTEGRATION_TIMEOUT_S} s); the caller would get a 504 first"
            )
        if len(set(self.routes)) != len(self.routes):
            raise ValueError(f"{CROSS_FIELD}routes: lists a route twice (got {self.routes})")
        names = [i.name for i in self.global_secondary_indexes]
        if len(set(names)) != len(names):
            raise ValueError(f"{CROSS_FIELD}globalSecondaryIndexes: two indexes share a name (got {names})")
        types: dict[str, str] = {}
        for key in self.key_attributes_with_duplicates():
            if types.setdefault(key.name, key.type) != key.type:
                raise ValueError(
                    f"{CROSS_FIELD}globalSecondaryIndexes: attribute {key.name!r} is used as type "
                    f"{types[key.name]} and as type {key.type}; DynamoDB gives an attribute one type"
                )
        return self

    def key_attributes_with_duplicates(self) -> list[KeyAttribute]:
        keys = [self.partition_key, self.sort_key]
        for index in self.global_secondary_indexes:
            keys += [index.partition_key, index.sort_key]
        return [k for k in keys if k is not None]


class Microservices(Model):
    """The REST API in front of independent services (components/microservices.py)."""

    enabled: bool
    stage_name: str = Field(pattern=r"^[A-Za-z0-9_]{1,128}$")
    authorization: Literal["NONE", "AWS_IAM"]
    # The API Gateway CloudWatch role is one setting per account and region: "manage" makes this
    # stack own it, "existing" trusts that another stack or a person set it, "off" logs nothing.
    api_gateway_account_logging: Literal["off", "manage", "existing"]
    execution_log_level: Literal["OFF", "ERROR", "INFO"]
    throttling: ApiThrottling
    point_in_time_recovery: bool
    services: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=24)], Microservice]

    @model_validator(mode="after")
    def _consistent(self) -> Microservices:
        if self.execution_log_level != "OFF" and self.api_gateway_account_logging == "off":
            raise ValueError(
                f"{CROSS_FIELD}executionLogLevel: {self.execution_log_level} needs the account's API Gateway "
                "CloudWatch role; set apiGatewayAccountLogging to 'manage' (this stack creates it) or "
                "'existing' (it is already set in this account and region)"
            )
        enabled = {name: s for name, s in self.services.items() if s.enabled}
        if self.enabled and not enabled:
            raise ValueError(f"{CROSS_FIELD}services: no enabled service; a REST API without methods cannot deploy")
        owners: dict[str, str] = {}
        # API Gateway allows one {parameter} name per level of the resource tree.
        parameters: dict[str, tuple[str, str]] = {}
        for name, service in enabled.items():
            code = service.code or name.replace("-", "_")
            if self.enabled and not has_handler(code):
                raise ValueError(
                    f"{CROSS_FIELD}services.{name}.code: the service's code lambdas/{code}/app.py does not exist"
                )
            for route in service.routes:
                method, path = route.split(" ")
                key = f"{method} {path}"
                if key in owners:
                    raise ValueError(
                        f"{CROSS_FIELD}services.{name}.routes: {route!r} is already served by service {owners[key]!r}"
                    )
                owners[key] = name
                segments = path.strip("/").split("/")
                for depth, segment in enumerate(segments):
                    if not segment.startswith("{"):
                        continue
                    parent = "/" + "/".join(segments[:depth])
                    seen, where = parameters.setdefault(parent, (segment, name))
                    if seen != segment:
                        raise ValueError(
                            f"{CROSS_FIELD}services.{name}.routes: {route!r} names the parameter under "
                            f"{parent!r} {segment} but service {where!r} names it {seen}; API Gateway "
                            "allows one parameter name per path level"
                        )
        return self


class AlarmThresholds(Model):
    """When the observability alarms fire (components/observability.py); periods are 5 minutes."""

    function_errors: int = Field(ge=1)  # errors of one function in a period
    function_throttles: int = Field(ge=1)  # throttled invocations of one function in a period
    function_duration_percent_of_timeout: int = Field(ge=10, le=100)  # slowest invocation vs its timeout
    api_server_error_percent: int = Field(ge=1, le=100)  # share of an API stage's requests answered 5xx
    api_latency_p99_ms: int = Field(ge=10, le=60000)
    queue_oldest_message_seconds: int = Field(ge=60, le=1209600)  # up to SQS's longest retention
    rule_failed_invocations: int = Field(ge=1)
    load_balancer_server_error_percent: int = Field(ge=1, le=100)  # ALB and target 5xx, share of requests
    target_response_time_p99_ms: int = Field(ge=10, le=600000)
    database_cpu_percent: int = Field(ge=1, le=100)
    database_free_storage_percent: int = Field(ge=1, le=99)  # of the allocated storage
    database_connections: int = Field(ge=1)
    table_throttled_requests: int = Field(ge=1)  # read + write throttle events of one table in a period


class Observability(Model):
    """Alarm topic, alarms per resource and one dashboard per stack (components/observability.py)."""

    enabled: bool
    alarm_emails: Annotated[list[Annotated[str, Field(pattern=_EMAIL, max_length=254)]], AfterValidator(_unique)]
    # SNS POSTs a subscription confirmation the endpoint must answer before it receives alarms.
    alarm_https_endpoints: Annotated[
        list[Annotated[str, Field(pattern=r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$", max_length=2048)]],
        AfterValidator(_unique),
    ]
    thresholds: AlarmThresholds


def _tags(value: dict[str, str]) -> dict[str, str]:
    for key, tag_value in value.items():
        if not 1 <= len(key) <= 128 or not _TAG_CHARS.fullmatch(key):
            raise ValueError(f"tag key {key!r} must be 1-128 letters, digits, spaces or _.:/=+-@")
        if key.lower().startswith("aws:"):
            raise ValueError(f"tag key {key!r} uses the prefix 'aws:', which AWS reserves")
        if key in RESERVED_TAG_KEYS:
            raise ValueError(f"tag key {key!r} is set by the program; reserved keys: {list(RESERVED_TAG_KEYS)}")
        if len(tag_value) > 256 or not _TAG_CHARS.fullmatch(tag_value):
            raise ValueError(f"tag value for {key!r} must be at most 256 letters, digits, spaces or _.:/=+-@")
    if len(value) > 40:
        raise ValueError("at most 40 extra tags (AWS allows 50 per resource and the program sets some)")
    return value


class StackConfig(Model):
    """The whole `aws-patterns:` namespace of one stack, after profile defaults are merged in."""

    region: str
    environment: Environment
    tags: Annotated[dict[str, str], AfterValidator(_tags)] = Field(default_factory=dict)
    common: Common
    network: Network
    functions: Functions
    hybrid: Hybrid
    serverless: Serverless
    event_driven: EventDriven
    microservices: Microservices
    multi_tier: MultiTier
    observability: Observability

    @model_validator(mode="after")
    def _zones_in_region(self) -> StackConfig:
        zones = self.network.availability_zones or []
        strangers = [z for z in zones if z[:-1] != self.region]
        if strangers:
            raise ValueError(
                f"{CROSS_FIELD}network.availabilityZones: {strangers} are not zones of aws:region {self.region}"
            )
        return self

    @model_validator(mode="after")
    def _on_premises_outside_the_vpc(self) -> StackConfig:
        vpc = ipaddress.IPv4Network(self.network.cidr)
        for cidr in self.hybrid.on_premises_cidrs:
            if ipaddress.IPv4Network(cidr).overlaps(vpc):
                raise ValueError(
                    f"{CROSS_FIELD}hybrid.onPremisesCidrs: {cidr} overlaps the VPC's network.cidr {vpc}; "
                    "traffic to it would never leave the VPC"
                )
        return self

    @model_validator(mode="after")
    def _multi_tier_fits_the_stack(self) -> StackConfig:
        tier = self.multi_tier
        if tier.enabled and self.network.nat_strategy == "none":
            # Instances install Python packages and read their secret over the internet at boot.
            raise ValueError(
                f"{CROSS_FIELD}network.natStrategy: multiTier needs egress from the private subnets "
                "(single or perAz), not none"
            )
        if tier.certificate_arn and tier.certificate_arn.split(":")[3] != self.region:
            raise ValueError(
                f"{CROSS_FIELD}multiTier.certificateArn: an ALB can only use an ACM certificate of its own "
                f"region ({self.region})"
            )
        return self

    @property
    def needs_network(self) -> bool:
        """Whether the stack builds the VPC: asked for, or required by an enabled pattern."""
        # The patterns that live in the VPC get it built rather than failing for want of it.
        return self.network.enabled or self.multi_tier.enabled or self.hybrid.enabled


# ---------------------------------------------------------------------------------------------
# Reading the stack's config and turning validation errors into messages a person can act on.


def _raw_namespace() -> dict[str, Any]:
    """Every `aws-patterns:*` key the engine passed to this program, structured values decoded."""
    merged = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    values: dict[str, Any] = {}
    for full_key, value in merged.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        values[key] = _decode(value)
    return values


def _decode(value: Any) -> Any:
    """Structured YAML values reach the program as JSON text; scalars arrive as plain strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
            return value
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = f"{NAMESPACE}:"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            # Keys come from the user: repr() keeps a hostile one (newlines) on its line.
            text = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else repr(part)
            path += ("." if i else "") + text
    return path


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the schema accepts at the block that contains `loc`."""
    model: Any = StackConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        annotation = field.annotation if field else None
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return sorted(f.alias for name, f in model.model_fields.items() if f.alias and name != "region")


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    # The environment's region comes from `aws:region`, not from this namespace.
    path = "aws:region" if loc == ("region",) else _key_path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{path}: unknown key; allowed keys here: {', '.join(_allowed_keys(loc))}"
    if kind == "missing":
        return f"{path}: required but not set"
    message = error["msg"].removeprefix("Value error, ")
    if message.startswith(CROSS_FIELD):
        relative, _, message = message.removeprefix(CROSS_FIELD).partition(": ")
        return f"{_key_path((*loc, *relative.split('.')))}: {message}"
    got = "a value that is not shown" if _holds_secret(loc, error["input"]) else _short(error["input"])
    return f"{path}: {message} (got {got})"


# Keys whose values are secrets: an error message names the key but never repeats the value,
# nor any block that holds one.
SECRET_FIELDS = ("presharedKey",)


def _holds_secret(loc: tuple[int | str, ...], value: Any) -> bool:
    if any(part in SECRET_FIELDS for part in loc):
        return True
    if isinstance(value, dict):
        return any(k in SECRET_FIELDS or _holds_secret((), v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_secret((), v) for v in value)
    return False


def validate(raw: dict[str, Any], region: Any, secret_keys: Collection[str] = ()) -> StackConfig:
    """Merge `raw` (the stack's own keys) over its environment profile and validate the result.

    `secret_keys` are the keys of `raw` the engine marks secret (set with `--secret`); values
    that must be secret, such as pre-shared keys, are refused anywhere else.
    """
    environment = raw.get("environment")
    if not isinstance(environment, str) or environment not in PROFILES:
        got = "nothing" if environment is None else _short(environment)
        raise ConfigError(
            f"{NAMESPACE}:environment: must be one of {sorted(PROFILES)} (got {got}); "
            "it selects the profile that supplies every default"
        )
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ConfigError(f"aws:region: must be an AWS region name such as us-east-1 (got {_short(region)})")
    if "region" in raw:
        raise ConfigError(f"{NAMESPACE}:region: unknown key; the region is set with aws:region")
    merged = deep_merge(PROFILES[environment], raw)
    try:
        return StackConfig.model_validate({**merged, "region": region}, context={"secret_keys": frozenset(secret_keys)})
    except ValidationError as exc:
        lines = sorted({_describe(e) for e in exc.errors()})
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(lines)) from None


def load() -> StackConfig:
    """Read and validate the running stack's configuration (raises ConfigError)."""
    raw = _raw_namespace()
    from_env = set(pulumi.runtime.get_config_secret_keys_env())
    secret_keys = [
        key for key in raw if f"{NAMESPACE}:{key}" in from_env or pulumi.runtime.is_config_secret(f"{NAMESPACE}:{key}")
    ]
    return validate(raw, pulumi.Config("aws").get("region"), secret_keys)
