"""The building blocks of the stack configuration schema, shared by every config block.

`Model` is the base of every block (camelCase keys, unknown keys rejected, no type coercion);
the shared types and validators live here; so do the blocks that are not a pattern (common,
network, functions, observability) and `Pattern`, the record a pattern package registers
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
        return re.sub(r"(?<!^)([A-Z])", r"_\1", self.key).lower()
