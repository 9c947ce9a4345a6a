"""The stack configuration: one pydantic schema, validated before any resource exists.

`load()` reads every `aws-patterns:*` key of the running stack, merges it over the defaults of
the stack's environment profile (`PROFILES`: the shared blocks in components/defaults.py and
each pattern's own in components/<pattern>/defaults.py) and validates the result against
`StackConfig`: the shared blocks (components/schema.py) plus one block per registered pattern
(components/patterns.py). Any problem raises `ConfigError`, a `pulumi.RunError`, so the CLI
prints the message without a traceback. Each line of the message names the full key
(`aws-patterns:network.cidr`), the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, BaseModel, Field, ValidationError, create_model, model_validator

from components.defaults import (
    ACCESS_LOGS,
    COMMON,
    ENVIRONMENTS,
    FUNCTIONS,
    IDENTITY,
    NAMESPACE,
    NETWORK,
    OBSERVABILITY,
    WAF,
    deep_merge,
)
from components.patterns import PATTERNS
from components.schema import (
    CROSS_FIELD,
    REGION,
    RESERVED_TAG_KEYS,
    TAG_CHARS,
    AccessLogs,
    Common,
    ConfigError,
    Environment,
    Functions,
    Identity,
    Model,
    Network,
    Observability,
    Waf,
    borrowed_network_fits,
)

__all__ = ["PROFILES", "ConfigError", "StackConfig", "load", "validate"]

# Every block's defaults per environment: the shared blocks, then one per pattern.
BLOCKS: dict[str, dict[str, dict[str, Any]]] = {
    "common": COMMON,
    "network": NETWORK,
    "functions": FUNCTIONS,
    **{p.key: dict(p.defaults) for p in PATTERNS},
    "observability": OBSERVABILITY,
    "identity": IDENTITY,
    "waf": WAF,
    "accessLogs": ACCESS_LOGS,
}
PROFILES: dict[str, dict[str, Any]] = {
    env: {block: copy.deepcopy(values[env]) for block, values in BLOCKS.items()} for env in ENVIRONMENTS
}


def _tags(value: dict[str, str]) -> dict[str, str]:
    for key, tag_value in value.items():
        if not 1 <= len(key) <= 128 or not TAG_CHARS.fullmatch(key):
            raise ValueError(f"tag key {key!r} must be 1-128 letters, digits, spaces or _.:/=+-@")
        if key.lower().startswith("aws:"):
            raise ValueError(f"tag key {key!r} uses the prefix 'aws:', which AWS reserves")
        if key in RESERVED_TAG_KEYS:
            raise ValueError(f"tag key {key!r} is set by the program; reserved keys: {list(RESERVED_TAG_KEYS)}")
        if len(tag_value) > 256 or not TAG_CHARS.fullmatch(tag_value):
            raise ValueError(f"tag value for {key!r} must be at most 256 letters, digits, spaces or _.:/=+-@")
    if len(value) > 40:
        raise ValueError("at most 40 extra tags (AWS allows 50 per resource and the program sets some)")
    return value


class _Stack(Model):
    """The blocks every stack has; StackConfig adds one block per registered pattern."""

    region: str
    """AWS region name, e.g. `us-east-1`; set as `aws:region` (the provider's key), not in this namespace."""
    environment: Environment
    """`dev`, `staging` or `prod`: the profile that supplies every default."""
    tags: Annotated[dict[str, str], AfterValidator(_tags)] = Field(default_factory=dict)
    """Extra tags for every resource: keys of 1-128 and values of at most 256 letters, digits, spaces and `_.:/=+-@`;
    no `aws:` prefix; not the reserved `project`, `stack`, `environment`, `managed-by`; at most 40."""
    common: Common
    """Settings every pattern reads: log retention and the safety switches for stateful resources."""
    network: Network
    """The VPC: CIDR, zones, NAT, endpoints and flow logs."""
    functions: Functions
    """Settings shared by every Lambda function the patterns create."""
    observability: Observability
    """Alarm topic, alarms on every resource of the enabled patterns and the stack's dashboard."""
    identity: Identity
    """Who may call the write routes: a Cognito user pool the stack creates, an external OIDC issuer or
    nobody (dev)."""
    waf: Waf
    """The regional WAFv2 web ACL in front of the REST API stage and the internet-facing ALB."""
    access_logs: AccessLogs
    """The stack's S3 server-access-log bucket, which the patterns' buckets log requests into."""

    @model_validator(mode="after")
    def _zones_in_region(self) -> _Stack:
        zones = self.network.availability_zones or []
        strangers = [z for z in zones if z[:-1] != self.region]
        if strangers:
            raise ValueError(
                f"{CROSS_FIELD}network.availabilityZones: {strangers} are not zones of aws:region {self.region}"
            )
        return self

    @model_validator(mode="after")
    def _borrowed_network_fits(self) -> _Stack:
        borrowed_network_fits(self)
        return self

    @model_validator(mode="after")
    def _pattern_checks(self) -> _Stack:
        for pattern in PATTERNS:
            for check in pattern.checks:
                check(self)
        return self

    @property
    def needs_network(self) -> bool:
        """Whether the stack builds the VPC: asked for, or required by an enabled pattern."""
        # The patterns that live in the VPC get it built rather than failing for want of it.
        return self.network.enabled or any(getattr(self, p.attribute).enabled for p in PATTERNS if p.in_vpc)


StackConfig = create_model(  # type: ignore[call-overload]
    "StackConfig",
    __base__=_Stack,
    __doc__="The whole `aws-patterns:` namespace of one stack, after profile defaults are merged in.",
    **{p.attribute: (p.model, ...) for p in PATTERNS},
)


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
    if not isinstance(region, str) or not REGION.fullmatch(region):
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
