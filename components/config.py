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
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
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


# Config blocks (field names) of the patterns that live in the VPC: enabling one builds the
# network even when `network.enabled` is false, rather than failing for want of it.
VPC_PATTERNS = ("multi_tier", "hybrid")


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

    @model_validator(mode="after")
    def _zones_in_region(self) -> StackConfig:
        zones = self.network.availability_zones or []
        strangers = [z for z in zones if z[:-1] != self.region]
        if strangers:
            raise ValueError(
                f"{CROSS_FIELD}network.availabilityZones: {strangers} are not zones of aws:region {self.region}"
            )
        return self

    @property
    def needs_network(self) -> bool:
        """Whether the stack builds the VPC: asked for, or required by an enabled pattern."""
        return self.network.enabled or any(
            getattr(getattr(self, pattern, None), "enabled", False) for pattern in VPC_PATTERNS
        )


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
    return f"{path}: {message} (got {_short(error['input'])})"


def validate(raw: dict[str, Any], region: Any) -> StackConfig:
    """Merge `raw` (the stack's own keys) over its environment profile and validate the result."""
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
        return StackConfig.model_validate({**merged, "region": region})
    except ValidationError as exc:
        lines = sorted({_describe(e) for e in exc.errors()})
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(lines)) from None


def load() -> StackConfig:
    """Read and validate the running stack's configuration (raises ConfigError)."""
    return validate(_raw_namespace(), pulumi.Config("aws").get("region"))
