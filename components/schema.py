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
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

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


def unique(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError(f"lists a value twice (got {value})")
    return value


class ApiThrottling(Model):
    burst_limit: int = Field(ge=0, le=5000)
    rate_limit: int = Field(ge=0, le=10000)


class FunctionSize(Model):
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)


EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


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
    alarm_emails: Annotated[list[Annotated[str, Field(pattern=EMAIL, max_length=254)]], AfterValidator(unique)]
    # SNS POSTs a subscription confirmation the endpoint must answer before it receives alarms.
    alarm_https_endpoints: Annotated[
        list[Annotated[str, Field(pattern=r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$", max_length=2048)]],
        AfterValidator(unique),
    ]
    thresholds: AlarmThresholds


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
    relative to the stack>: ...") so the message names the key to change.
    """

    key: str
    model: type[Model]
    defaults: Mapping[str, dict[str, Any]]
    title: str
    docs: str
    in_vpc: bool = False
    checks: tuple[Callable[[Any], None], ...] = field(default_factory=tuple)

    @property
    def attribute(self) -> str:
        """The StackConfig attribute holding the block (`multiTier` -> `multi_tier`)."""
        return re.sub(r"(?<!^)([A-Z])", r"_\1", self.key).lower()
