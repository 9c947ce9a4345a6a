"""The stack configuration: one pydantic schema, validated before any resource exists.

`load()` reads every key of the running stack, as the engine passes it, and accounts for each
(`validate_stack`): the `aws-patterns:*` keys are merged over the defaults of the stack's
environment profile (`PROFILES`: the shared blocks in components/defaults.py and each pattern's
own in components/<pattern>/defaults.py) and validated against `StackConfig`: the shared blocks
(components/schema.py) plus one block per registered pattern (components/patterns.py). The
`aws:*` keys are checked against the AWS provider's own settings and forwarded to the program's
explicit provider (components/provider_config.py); the engine's `pulumi:*` keys pass; any other
key is a mistake, reported with the key it most likely meant. Any problem raises `ConfigError`,
a `pulumi.RunError`, so the CLI prints the message without a traceback. Each line of the message
names the full key (`aws-patterns:network.cidr`), the bad value and what is allowed.

Then `guard_placeholders()`: values that plan but must not be deployed to production (an
example VPN address, alarms that notify nobody) are a warning in a preview and refuse a real
update of a prod stack.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

import pulumi
from pulumi.runtime import settings as pulumi_settings
from pydantic import AfterValidator, BaseModel, Field, PrivateAttr, ValidationError, create_model, model_validator

from components import provider_config
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
from components.naming import under_mocks
from components.patterns import PATTERNS
from components.provider_config import YAML11_BOOLEANS, YAML12_HINT, unknown_key
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
    is_example_domain,
)

__all__ = [
    "PROFILES",
    "PULUMI_KEYS",
    "ConfigError",
    "StackConfig",
    "guard_placeholders",
    "load",
    "validate",
    "validate_stack",
]

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
    # The stack's `aws:*` settings as `aws.Provider` arguments (validate_stack); not a config block.
    _provider_settings: dict[str, Any] = PrivateAttr(default_factory=dict)

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

    @property
    def provider_settings(self) -> dict[str, Any]:
        """The stack's `aws:*` keys (other than the region) as `aws.Provider` keyword arguments."""
        return dict(self._provider_settings)


StackConfig = create_model(  # type: ignore[call-overload]
    "StackConfig",
    __base__=_Stack,
    __doc__="The whole `aws-patterns:` namespace of one stack, after profile defaults are merged in.",
    **{p.attribute: (p.model, ...) for p in PATTERNS},
)


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
        parent = _key_path(loc[:-1]) + ("." if len(loc) > 1 else "")
        return unknown_key(path, str(loc[-1]), _allowed_keys(loc), prefix=parent)
    if kind == "missing":
        return f"{path}: required but not set"
    message = error["msg"].removeprefix("Value error, ")
    if message.startswith(CROSS_FIELD):
        relative, _, message = message.removeprefix(CROSS_FIELD).partition(": ")
        return f"{_key_path((*loc, *relative.split('.')))}: {message}"
    got = "a value that is not shown" if _holds_secret(loc, error["input"]) else _short(error["input"])
    yaml11 = kind == "bool_type" and isinstance(error["input"], str) and error["input"] in YAML11_BOOLEANS
    hint = f"; {YAML12_HINT}" if yaml11 else ""
    return f"{path}: {message} (got {got}){hint}"


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


HEADER = "invalid stack configuration:"
# The engine's own keys (`pulumi:`), read by the Pulumi CLI rather than the program; a stack file
# may set them like any other key.
PULUMI_KEYS = {
    "disable-default-providers": "Packages for which the engine creates no default provider ('*': all).",
    "tags": "Stack tags, as a map of names to values.",
    "autonaming": "How the engine names resources whose physical name the program leaves to auto-naming.",
}
NAMESPACES = (NAMESPACE, provider_config.NAMESPACE, "pulumi")


def validate(raw: dict[str, Any], region: Any, secret_keys: Collection[str] = ()) -> StackConfig:
    """Merge `raw` (the stack's own `aws-patterns:` keys) over its environment profile and validate the result.

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
    problems = []
    if not isinstance(region, str) or not REGION.fullmatch(region):
        problems.append(f"aws:region: must be an AWS region name such as us-east-1 (got {_short(region)})")
    if "region" in raw:
        problems.append(f"{NAMESPACE}:region: unknown key; the region is set with aws:region")
    merged = deep_merge(PROFILES[environment], {k: v for k, v in raw.items() if k != "region"})
    try:
        cfg = StackConfig.model_validate({**merged, "region": region}, context={"secret_keys": frozenset(secret_keys)})
    except ValidationError as exc:
        # A bad region is reported once, above; the rest of the stack is still checked.
        problems += [_describe(e) for e in exc.errors() if not (problems and tuple(e["loc"]) == ("region",))]
    if problems:
        raise ConfigError(HEADER + "\n  " + "\n  ".join(sorted(set(problems))))
    return cfg


def _problems(error: ConfigError) -> list[str]:
    lines = str(error).split("\n")
    return [line.removeprefix("  ") for line in lines[1:]] if lines[0] == HEADER else lines


def _known_keys() -> list[str]:
    """Every top-level key a stack file may set, with its namespace."""
    project = [f"{NAMESPACE}:{f.alias}" for name, f in StackConfig.model_fields.items() if f.alias and name != "region"]
    return project + [f"aws:{key}" for key in provider_config.SETTINGS] + [f"pulumi:{key}" for key in PULUMI_KEYS]


def validate_stack(values: Mapping[str, str], secret_keys: Collection[str] = ()) -> StackConfig:
    """Validate a stack's whole configuration as the engine passes it to the program.

    `values` maps full keys (`aws:region`, `aws-patterns:network`) to strings, structured values
    as JSON; `secret_keys` are the full keys set with `--secret`. Every key is accounted for: the
    project's against StackConfig, the provider's against what pulumi-aws accepts, the engine's
    by name; anything else is reported with the known key it most likely meant. All problems are
    raised together, as one ConfigError.
    """
    raw: dict[str, Any] = {}
    provider_values: dict[str, str] = {}
    problems: list[str] = []
    for full_key, value in values.items():
        namespace, _, key = full_key.partition(":")
        if namespace == NAMESPACE:
            raw[key] = _decode(value)
        elif namespace == provider_config.NAMESPACE and key in provider_config.SETTINGS:
            provider_values[key] = value
        elif not (namespace == "pulumi" and key in PULUMI_KEYS):
            # Keys come from the user: repr() keeps a hostile one (newlines) on its line.
            shown = full_key if re.fullmatch(r"[\w.:-]+", full_key, re.ASCII) else repr(full_key)
            problems.append(
                unknown_key(shown, full_key, _known_keys(), listed=False)
                + ("" if namespace in NAMESPACES else f" (a stack file's namespaces: {', '.join(NAMESPACES)})")
            )
    provider_settings, provider_problems = provider_config.read(
        provider_values, [k.partition(":")[2] for k in secret_keys if k.startswith("aws:")]
    )
    problems += provider_problems
    cfg = None
    try:
        cfg = validate(raw, values.get("aws:region"), [k for k in raw if f"{NAMESPACE}:{k}" in secret_keys])
    except ConfigError as exc:
        problems += _problems(exc)
    if problems or cfg is None:
        raise ConfigError(HEADER + "\n  " + "\n  ".join(sorted(set(problems))))
    cfg._provider_settings = provider_settings
    return cfg


def is_update() -> bool:
    """Whether this run is a real `pulumi up`: not a preview, and not a run under mocks.

    The offline engine (tools/offline.py) also runs the program in up mode, under
    `pulumi.runtime.set_mocks`, to compute outputs for the review and the tests; that installs a
    MockMonitor where a deployment has the engine's gRPC monitor (and code that merely loads the
    config, with no engine at all, has none). The monitor is chosen by the process that starts
    the program, so no config key, file or flag of this project can make one look like the other.
    """
    return not pulumi.runtime.is_dry_run() and pulumi_settings.get_monitor() is not None and not under_mocks()


def placeholders(cfg: StackConfig) -> list[str]:
    """Values that plan but must not reach production, one line each naming the key."""
    found = []
    alarms = cfg.observability
    deaf = alarms.enabled and not alarms.alarm_emails and not alarms.alarm_https_endpoints
    if cfg.environment == "prod" and deaf:
        found.append(
            f"{NAMESPACE}:observability.alarmEmails: prod alarms notify nobody; list on-call addresses "
            "in observability.alarmEmails or observability.alarmHttpsEndpoints"
        )
    if alarms.enabled:
        for key, subscribers in (
            ("alarmEmails", alarms.alarm_emails),
            ("alarmHttpsEndpoints", alarms.alarm_https_endpoints),
        ):
            for subscriber in subscribers:
                host = urlsplit(subscriber).hostname if "://" in subscriber else subscriber.rpartition("@")[2]
                if host and is_example_domain(host):
                    found.append(
                        f"{NAMESPACE}:observability.{key}: {subscriber} is at a domain reserved for examples "
                        "(RFC 2606); alarms sent there reach nobody"
                    )
    for pattern in PATTERNS:
        for check in pattern.placeholders:
            found += check(cfg)
    return found


def guard_placeholders(cfg: StackConfig) -> None:
    """Warn about placeholders, once per program run and naming the stack; refuse them in a
    real update of a prod stack (raises ConfigError before any resource is registered)."""
    found = placeholders(cfg)
    stack = pulumi.get_stack()
    if found and cfg.environment == "prod" and is_update():
        raise ConfigError(
            f"stack '{stack}': a prod update refuses placeholders; replace them before `pulumi up`:\n  "
            + "\n  ".join(found)
        )
    for line in found:
        pulumi.log.warn(f"stack '{stack}': {line}")


def load() -> StackConfig:
    """Read, validate and guard the running stack's configuration (raises ConfigError)."""
    values = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    secret_keys = set(pulumi.runtime.get_config_secret_keys_env())
    secret_keys.update(key for key in values if pulumi.runtime.is_config_secret(key))
    cfg = validate_stack(values, secret_keys)
    guard_placeholders(cfg)
    return cfg
