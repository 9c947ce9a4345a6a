"""The building blocks of the stack configuration schema, shared by every config block.

`Model` is the base of every block (camelCase keys, unknown keys rejected, no type coercion);
the shared types and validators live here; so do the blocks that are not a pattern (common,
network, functions, observability, and the stack-level edge security: identity, waf,
accessLogs) and `Pattern`, the record a pattern package registers
itself with (components/patterns.py). The whole stack's schema is assembled from these and the
patterns' own blocks in components/config.py.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components import assets
from components.defaults import LOG_RETENTION_DAYS

Environment = Literal["dev", "staging", "prod"]
NatStrategy = Literal["none", "single", "perAz"]

# Tags the provider sets on every resource; a stack may add tags but not redefine these.
RESERVED_TAG_KEYS = ("project", "stack", "environment", "managed-by")
TAG_CHARS = re.compile(r"[\w .:/=+\-@]*")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
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


def unique(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError(f"lists a value twice (got {value})")
    return value


class Model(BaseModel):
    """Base for every config block: camelCase keys, unknown keys rejected, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        strict=True,
        frozen=True,
        validate_by_name=False,
        validate_by_alias=True,
        # A field's docstring (the string literal under it) is its description: the generated
        # config reference and the JSON Schema that editors use read it from there.
        use_attribute_docstrings=True,
    )


class Common(Model):
    """Settings every pattern reads (log retention, safety switches for stateful resources)."""

    log_retention_days: RetentionDays
    """Days CloudWatch keeps the logs the patterns create: one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14,
    30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653); never-expiring logs
    are not offered."""
    deletion_protection: bool
    """Turn on AWS deletion protection where a service has it (databases, load balancers, DynamoDB tables)."""
    protect_stateful_resources: bool
    """Pulumi `protect` on stateful resources (tables, databases, buckets), so `pulumi destroy` refuses to delete
    them; off, dev can be torn down with its data."""
    multi_az: bool
    """Multi-AZ deployments for the services that offer them (RDS)."""


class FlowLogs(Model):
    enabled: bool
    """VPC flow logs to a CloudWatch log group of their own."""
    traffic_type: Literal["ACCEPT", "REJECT", "ALL"]
    """Which traffic the flow logs record: accepted, rejected or all."""
    retention_days: RetentionDays
    """Days the flow logs are kept; the same values as `common.logRetentionDays`."""


def _aws_id(prefix: str) -> Any:
    """An AWS resource id: the prefix and 8 (older resources) or 17 hexadecimal digits."""
    return Annotated[str, Field(pattern=rf"^{prefix}-[0-9a-f]{{8}}([0-9a-f]{{9}})?$")]


VpcId = _aws_id("vpc")
SubnetIds = Annotated[list[_aws_id("subnet")], AfterValidator(unique)]
RouteTableIds = Annotated[list[_aws_id("rtb")], AfterValidator(unique)]
AvailabilityZone = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}[a-z]$")]
# A fully qualified Pulumi stack name, `organization/project/stack` (self-managed backends use
# the organization `organization`).
StackName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")]
SUBNET_TIERS = ("public", "private", "isolated")


class ExistingNetwork(Model):
    """A VPC this stack uses but does not create: from another stack's `network` output, or by id.

    Give `stackReference`, or the ids (`vpcId`, `availabilityZones` and the subnets and route
    tables the enabled patterns use), not both. Without `stackReference` the keys are also the
    shape of the `network` output a referenced stack must export (components/network.py).
    """

    stack_reference: StackName | None = None
    """`organization/project/stack` whose `network` output provides the ids: a stack of this
    program (such as one from Pulumi.network.yaml) or any stack exporting the same shape, in the
    same account and region as this stack."""
    vpc_id: VpcId | None = None
    """The VPC's id."""
    vpc_cidr: Ipv4Cidr | None = None
    """The VPC's primary CIDR block; the hybrid pattern checks that on-premises ranges lie
    outside it."""
    availability_zones: Annotated[list[AvailabilityZone], AfterValidator(unique)] = Field(default_factory=list)
    """The zones of the subnets below; every subnet list has one subnet per zone, in this order."""
    public_subnet_ids: SubnetIds = Field(default_factory=list)
    """Subnets routed to an internet gateway (the multi-tier load balancer), one per zone."""
    private_subnet_ids: SubnetIds = Field(default_factory=list)
    """Subnets with egress to the internet, or to the endpoints the instances need (the
    multi-tier web tier), one per zone."""
    isolated_subnet_ids: SubnetIds = Field(default_factory=list)
    """Subnets with no route out of the VPC (the multi-tier database), one per zone."""
    private_route_table_ids: RouteTableIds = Field(default_factory=list)
    """Route tables of the private subnets; the hybrid pattern propagates on-premises routes
    to them."""
    isolated_route_table_ids: RouteTableIds = Field(default_factory=list)
    """Route tables of the isolated subnets; the hybrid pattern propagates on-premises routes
    to them."""

    @property
    def ids_given(self) -> list[str]:
        """The keys of the ids given (in camelCase, as written in the stack file)."""
        return [
            f.alias or name
            for name, f in type(self).model_fields.items()
            if name in self.model_fields_set - {"stack_reference"}
        ]

    def subnets(self, tier: str) -> list[str]:
        return getattr(self, f"{tier}_subnet_ids")

    @model_validator(mode="after")
    def _one_source(self) -> ExistingNetwork:
        if self.stack_reference is not None:
            if self.ids_given:
                raise ValueError(
                    f"{CROSS_FIELD}stackReference: the network comes from {self.stack_reference!r} or from the ids "
                    f"{self.ids_given}, not both; remove one"
                )
            return self
        if self.vpc_id is None:
            raise ValueError(f"{CROSS_FIELD}vpcId: required unless network.existing.stackReference is set")
        if not self.availability_zones:
            raise ValueError(f"{CROSS_FIELD}availabilityZones: list the zones of the VPC's subnets")
        zones = len(self.availability_zones)
        for tier in SUBNET_TIERS:
            subnets = self.subnets(tier)
            if subnets and len(subnets) != zones:
                raise ValueError(
                    f"{CROSS_FIELD}{tier}SubnetIds: lists {len(subnets)} subnets for {zones} availabilityZones; give "
                    "one subnet per zone, in the order of availabilityZones (or none for a tier nothing uses)"
                )
        seen: dict[str, str] = {}
        for tier in SUBNET_TIERS:
            for subnet in self.subnets(tier):
                if subnet in seen:
                    raise ValueError(f"{CROSS_FIELD}{tier}SubnetIds: {subnet} is also in {seen[subnet]}SubnetIds")
                seen[subnet] = tier
        shared = set(self.private_route_table_ids) & set(self.isolated_route_table_ids)
        if shared:
            # One table serving both tiers is listed once, so each gets one route propagation.
            raise ValueError(
                f"{CROSS_FIELD}isolatedRouteTableIds: {sorted(shared)} are also in privateRouteTableIds; "
                "list a table once"
            )
        return self


class Network(Model):
    enabled: bool
    """Build the VPC even when no enabled pattern needs one (multi-tier and hybrid build it regardless)."""
    cidr: VpcCidr
    """VPC IPv4 CIDR, /16 to /23, inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10, host bits zero.
    The subnets are carved from it by a fixed rule, so changing it renumbers everything: treat it as a new
    network."""
    az_count: int = Field(ge=2, le=6)
    """Availability zones to span; raising it adds subnets in the next slots and no existing subnet is renumbered."""
    availability_zones: list[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}[a-z]$")]] | None = None
    """Explicit zone names of `aws:region` (exactly `azCount`, no duplicates); unset: the region's first zones that
    need no opt-in."""
    nat_strategy: NatStrategy
    """Egress from the private subnets: `none` (no NAT gateway, no egress), `single` (one NAT gateway, cheapest) or
    `perAz` (one per AZ, survives the loss of an AZ)."""
    gateway_endpoints: bool
    """Free S3 and DynamoDB gateway endpoints on the private and isolated route tables."""
    flow_logs: FlowLogs
    """VPC flow logs."""
    existing: ExistingNetwork | None = None
    """Borrow a VPC instead of creating one: by id, or from another stack's `network` output.
    The keys that shape a created VPC (cidr, azCount, natStrategy, gatewayEndpoints, flowLogs)
    are then unused."""

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

    @model_validator(mode="after")
    def _one_source(self) -> Network:
        if self.existing is not None:
            if self.enabled:
                raise ValueError(
                    f"{CROSS_FIELD}enabled: true creates a VPC but network.existing borrows one; "
                    "set one of them (a stack has one network)"
                )
            if self.availability_zones is not None:
                raise ValueError(
                    f"{CROSS_FIELD}availabilityZones: pins the zones of a VPC this stack creates; a borrowed "
                    "network's zones are network.existing.availabilityZones"
                )
        return self

    @property
    def vpc_cidr(self) -> str | None:
        """The CIDR of the stack's VPC when the config knows it (None: read from another stack)."""
        if self.existing is None:
            return self.cidr
        return self.existing.vpc_cidr


@dataclass(frozen=True)
class NetworkNeeds:
    """What a VPC pattern needs of the network it lands in; a created network has all of it,
    a borrowed one is checked (`network_problems`)."""

    tiers: tuple[str, ...]  # subnet tiers it places resources in, one subnet per zone each
    min_zones: int
    route_tables: bool  # it propagates routes to the private and isolated route tables
    outside: str | None  # the key of CIDRs of its config that must lie outside the VPC
    why: str


# Keyed by the pattern's config block; every `in_vpc` pattern has an entry (tests/test_byo_config.py).
NETWORK_NEEDS = {
    "multiTier": NetworkNeeds(
        tiers=SUBNET_TIERS,
        min_zones=2,
        route_tables=False,
        outside=None,
        why="its load balancer, instances and database use a public, a private and an isolated subnet "
        "in each zone, and an ALB and an RDS subnet group need at least two zones",
    ),
    "hybrid": NetworkNeeds(
        tiers=(),
        min_zones=1,
        route_tables=True,
        outside="hybrid.onPremisesCidrs",
        why="the VPN propagates on-premises routes to the private and isolated route tables, and traffic "
        "to on-premises ranges inside the VPC's CIDR would never leave the VPC",
    ),
}


def block_attribute(key: str) -> str:
    """The StackConfig attribute of a config key (`multiTier` -> `multi_tier`)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _config_value(cfg: Any, key: str) -> Any:
    value = cfg
    for part in key.split("."):
        value = getattr(value, block_attribute(part))
    return value


def network_problems(cfg: Any, network: ExistingNetwork) -> list[tuple[str, str]]:
    """What the stack's enabled VPC patterns need of the borrowed `network` and it lacks.

    Each problem is (key relative to the stack, message); keys of the network's own values are
    `network.existing.<key>`, so a caller that read `network` from another stack can point at
    `network.existing.stackReference` instead.
    """
    found: list[tuple[str, str]] = []
    strangers = [z for z in network.availability_zones if z[:-1] != cfg.region]
    if strangers:
        found.append(("network.existing.availabilityZones", f"{strangers} are not zones of aws:region {cfg.region}"))
    for key, needs in NETWORK_NEEDS.items():
        if not _config_value(cfg, key).enabled:
            continue
        zones = len(network.availability_zones)
        if zones < needs.min_zones:
            found.append(
                (
                    "network.existing.availabilityZones",
                    f"{key} needs at least {needs.min_zones} zones, the network has {zones} ({needs.why})",
                )
            )
        for tier in needs.tiers:
            if not network.subnets(tier):
                found.append((f"network.existing.{tier}SubnetIds", f"{key} needs {tier} subnets ({needs.why})"))
        if needs.route_tables and not (network.private_route_table_ids or network.isolated_route_table_ids):
            found.append(
                ("network.existing.privateRouteTableIds", f"{key} needs route tables to propagate to ({needs.why})")
            )
        if needs.outside is None:
            continue
        if network.vpc_cidr is None:
            found.append(("network.existing.vpcCidr", f"{key} needs the VPC's CIDR ({needs.why})"))
            continue
        vpc = ipaddress.IPv4Network(network.vpc_cidr)
        for cidr in _config_value(cfg, needs.outside):
            if ipaddress.IPv4Network(cidr).overlaps(vpc):
                found.append((needs.outside, f"{cidr} overlaps the borrowed VPC's CIDR {vpc} ({needs.why})"))
    return found


def borrowed_network_fits(cfg: Any) -> None:
    """A stack-level rule (components/config.py): borrowed ids meet the enabled patterns' needs.

    A network read from another stack (`network.existing.stackReference`) is checked the same
    way when the program reads it (components/network.py), since its ids are not in the config.
    """
    existing = cfg.network.existing
    if existing is None or existing.stack_reference is not None:
        return
    for key, message in network_problems(cfg, existing):
        raise ValueError(f"{CROSS_FIELD}{key}: {message}")


class Functions(Model):
    """Settings shared by every Lambda function the patterns create."""

    runtime: Literal["python3.12", "python3.13"]
    """Lambda runtime of every function (AWS refuses deprecated runtimes)."""
    architecture: Literal["arm64", "x86_64"]
    """Architecture of every function: `arm64` (Graviton, cheaper per GB-second) or `x86_64`."""
    tracing: bool
    """X-Ray active tracing on every function (and on the REST API stage)."""


# Lambda function folders: a function's code is lambdas/<code>/app.py (entry point app.handler).
LAMBDAS_DIR = assets.LAMBDAS_DIR


def has_handler(code: str) -> bool:
    """Whether lambdas/<code>/app.py exists; a config naming a missing folder fails on it."""
    return (LAMBDAS_DIR / code / "app.py").is_file()


class ApiThrottling(Model):
    burst_limit: int = Field(ge=0, le=5000)
    """Requests the stage accepts at once above the steady rate (burst)."""
    rate_limit: int = Field(ge=0, le=10000)
    """Steady-state requests per second the stage accepts."""


class FunctionSize(Model):
    memory_mb: int = Field(ge=128, le=10240)
    """Memory in MB (Lambda gives CPU in proportion)."""
    timeout_seconds: int = Field(ge=1, le=900)
    """Timeout in seconds."""


EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
# Names reserved for documentation and tests (RFC 2606, RFC 6761): a stack file may carry them as
# placeholders, which plan but must never reach a production deployment.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org", "example", "test", "invalid", "localhost")


def is_example_domain(host: str) -> bool:
    """Whether `host` is, or lies under, a domain reserved for documentation and tests."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith(f".{d}") for d in EXAMPLE_DOMAINS)


class AlarmThresholds(Model):
    """When the observability alarms fire (components/observability.py); periods are 5 minutes."""

    function_errors: int = Field(ge=1)  # errors of one function in a period
    """Errors of one Lambda function in 5 minutes that raise its alarm."""
    function_throttles: int = Field(ge=1)  # throttled invocations of one function in a period
    """Throttled invocations of one function in 5 minutes."""
    function_duration_percent_of_timeout: int = Field(ge=10, le=100)  # slowest invocation vs its timeout
    """Alarm when a function's slowest invocation in 5 minutes reaches this share (%) of its timeout."""
    api_server_error_percent: int = Field(ge=1, le=100)  # share of an API stage's requests answered 5xx
    """Share (%) of an API stage's requests answered 5xx, two 5-minute periods in a row."""
    api_latency_p99_ms: int = Field(ge=10, le=60000)
    """p99 latency of an API stage for 15 minutes, in ms."""
    queue_oldest_message_seconds: int = Field(ge=60, le=1209600)  # up to SQS's longest retention
    """Age of the oldest message in a queue, in seconds (dead-letter queues alarm on any message instead)."""
    rule_failed_invocations: int = Field(ge=1)
    """Events EventBridge failed to deliver for one rule in 5 minutes."""
    load_balancer_server_error_percent: int = Field(ge=1, le=100)  # ALB and target 5xx, share of requests
    """Share (%) of the ALB's requests answered 5xx by the ALB or the app, two 5-minute periods in a row."""
    target_response_time_p99_ms: int = Field(ge=10, le=600000)
    """p99 of the app's response time behind the ALB for 15 minutes, in ms."""
    database_cpu_percent: int = Field(ge=1, le=100)
    """RDS CPU (average, %) for 15 minutes."""
    database_free_storage_percent: int = Field(ge=1, le=99)  # of the allocated storage
    """Alarm when free storage falls to this share (%) of `multiTier.database.allocatedStorageGb`."""
    database_connections: int = Field(ge=1)
    """Open database connections; the profiles use about 80 % of PostgreSQL's `max_connections` for their instance
    class (RDS derives it from the class's memory), so change it with `multiTier.database.instanceClass`."""
    table_throttled_requests: int = Field(ge=1)  # read + write throttle events of one table in a period
    """Read + write throttle events of one DynamoDB table in 5 minutes."""


class Observability(Model):
    """Alarm topic, alarms per resource and one dashboard per stack (components/observability.py)."""

    enabled: bool
    """Build the alarm topic, the alarms on every resource of the enabled patterns and the stack's dashboard."""
    alarm_emails: Annotated[list[Annotated[str, Field(pattern=EMAIL, max_length=254)]], AfterValidator(unique)]
    """Addresses subscribed to the alarm topic (each must confirm the email SNS sends); no duplicates."""
    # SNS POSTs a subscription confirmation the endpoint must answer before it receives alarms.
    alarm_https_endpoints: Annotated[
        list[Annotated[str, Field(pattern=r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$", max_length=2048)]],
        AfterValidator(unique),
    ]
    """`https://` URLs subscribed to the alarm topic (the endpoint must answer SNS's subscription confirmation); no
    duplicates."""
    thresholds: AlarmThresholds
    """When the alarms fire; the periods are 5 minutes."""


# --- stack-level edge security (components/identity.py, waf.py, access_logs.py) -------------------

IdentityProvider = Literal["none", "cognito", "oidc"]
# The discovery document lives under the issuer; pasting its URL instead of the issuer's is the
# commonest mistake, and every token would then fail the `iss` check.
_DISCOVERY_SUFFIX = "/.well-known/"


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL with a host name")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must not have a query string or a fragment")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain white space")
    return value


def _issuer(value: str) -> str:
    if _DISCOVERY_SUFFIX in urlsplit(value).path:
        base = value.split(_DISCOVERY_SUFFIX, 1)[0]
        raise ValueError(f"is a discovery or key URL, not the issuer; did you mean {base}?")
    return value


HttpsUrl = Annotated[str, Field(max_length=2048), AfterValidator(_https_url)]
Issuer = Annotated[HttpsUrl, AfterValidator(_issuer)]
Audience = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^\S+$")]


class CognitoSettings(Model):
    """The user pool and app client the stack creates with `identity.provider: cognito`."""

    mfa: Literal["optional", "required"]
    """`required`: every user enrols an authenticator app (TOTP) at first sign-in and uses it at
    every sign-in; `optional`: users may enrol one. SMS is not offered (no SNS role, spend or
    SMS sandbox to manage), nor is `off`, which would only stop users from protecting themselves."""
    threat_protection: Literal["off", "audit", "enforced"]
    """Cognito threat protection (adaptive authentication, compromised-credential checks, user
    event logs): `audit` records risk scores only, `enforced` also acts on them (what Security Hub
    control Cognito.1 asks for). Anything but `off` moves the pool to the Plus feature plan, billed
    per monthly active user at a higher rate than the default Essentials plan."""
    self_sign_up: bool
    """Whether anyone on the internet may create an account (`false`: administrators create users,
    who get a temporary password by email). With `true` any sign-up obtains tokens the APIs
    accept, so authorize by group or claim in the application."""


class OidcSettings(Model):
    """An external OpenID Connect issuer whose tokens the stack accepts with `identity.provider: oidc`."""

    issuer: Issuer | None
    """The issuer exactly as the tokens' `iss` claim spells it: `https://`, no query or fragment.
    A trailing `/` is kept as given, because some issuers (Auth0) put one in `iss` and others
    (Cognito, Entra ID, Okta) do not. Required with provider `oidc`."""
    audiences: Annotated[list[Audience], Field(max_length=50), AfterValidator(unique)]
    """Client ids or API identifiers a token's `aud` (ID tokens) or `client_id` (Cognito access
    tokens) must match, 1 to 50, no duplicates. Required with provider `oidc`."""
    jwks_uri: HttpsUrl | None
    """Where the issuer publishes its signing keys: the `jwks_uri` of its discovery document
    (`<issuer>/.well-known/openid-configuration`). Required with provider `oidc`."""


class Identity(Model):
    """Who may call the stack's APIs (components/identity.py): the JWT issuer and audiences the patterns trust."""

    provider: IdentityProvider
    """`none`: the APIs take anonymous callers (the serverless HTTP API and the multi-tier app are
    open: dev only); `cognito`: the stack creates a Cognito user pool and app client and trusts
    their tokens; `oidc`: it trusts an external OpenID Connect issuer (`identity.oidc`). Built
    only when serverless or multiTier is enabled."""
    cognito: CognitoSettings
    """Settings of the user pool; used with provider `cognito`."""
    oidc: OidcSettings
    """The external issuer; used with provider `oidc`."""

    @model_validator(mode="after")
    def _provider_settings(self) -> Identity:
        oidc = self.oidc
        given = (("issuer", oidc.issuer), ("audiences", oidc.audiences), ("jwksUri", oidc.jwks_uri))
        for key, value in given:
            if self.provider == "oidc" and not value:
                raise ValueError(f"{CROSS_FIELD}oidc.{key}: required when identity.provider is oidc")
            if self.provider != "oidc" and value:
                raise ValueError(
                    f"{CROSS_FIELD}oidc.{key}: only used with identity.provider oidc, "
                    f"but the provider is {self.provider}; remove it or change the provider"
                )
        return self


class Waf(Model):
    """One regional WAFv2 web ACL in front of the public entry points (components/waf.py)."""

    enabled: bool
    """Build the web ACL (AWS managed rule groups: common rule set, known bad inputs, Amazon IP
    reputation list; a per-IP rate limit) for the REST API stage and the internet-facing ALB.
    HTTP APIs cannot be associated with a web ACL. Built only when microservices or multiTier is
    enabled."""
    rate_limit: int = Field(ge=10, le=2_000_000_000)
    """Requests one client IP address may make in any 5 minutes; above it WAF blocks the address
    until its rate falls below the limit again. 10 to 2000000000 (WAF's range)."""
    log_retention_days: RetentionDays
    """Days CloudWatch keeps the WAF log (blocked and counted requests, credentials redacted);
    same allowed values as `common.logRetentionDays`."""


class AccessLogs(Model):
    """One S3 server-access-log bucket per stack (components/access_logs.py)."""

    enabled: bool
    """Build the stack's log bucket, into which the upload and artifact buckets write S3 server
    access logs. Built only when serverless or multiTier is enabled."""
    expiration_days: int = Field(ge=1, le=3650)
    """Days after which S3 deletes an access log object, 1 to 3650."""


@dataclass(frozen=True)
class Pattern:
    """What a pattern package tells the rest of the program about itself.

    `key` is its config block (`aws-patterns:<key>`), `model` the block's schema, `defaults`
    the block's value per environment profile. `in_vpc` patterns make the stack build the
    network. `checks` are rules that relate the block to the rest of the stack (the network,
    the region); each takes the validated StackConfig and raises ValueError(f"{CROSS_FIELD}<key
    relative to the stack>: ...") so the message names the key to change. `placeholders` find
    values that plan but must not reach production (an example address): each returns lines
    `<full key>: <why>`; a preview warns about them, a real update of a prod stack refuses them
    (components/config.py `guard_placeholders`).
    """

    key: str
    model: type[Model]
    defaults: Mapping[str, dict[str, Any]]
    title: str
    docs: str
    in_vpc: bool = False
    checks: tuple[Callable[[Any], None], ...] = field(default_factory=tuple)
    placeholders: tuple[Callable[[Any], list[str]], ...] = field(default_factory=tuple)

    @property
    def attribute(self) -> str:
        """The StackConfig attribute holding the block (`multiTier` -> `multi_tier`)."""
        return block_attribute(self.key)
