"""Property tests: hostile config values, the subnet layout, and decoding of config text."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.config import PROFILES, ConfigError, StackConfig, _decode, validate, validate_stack
from components.defaults import LOG_RETENTION_DAYS, NAMESPACE
from components.network import TIERS, subnet_cidrs
from components.provider_config import SETTINGS as PROVIDER_SETTINGS
from tools.offline import StackFileError, config_values

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
HEADER = "invalid stack configuration:"
REGION = "us-east-1"
ENVIRONMENTS = sorted(PROFILES)

# Anything a YAML stack file could decode to, and then some.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=12), inner, max_size=5),
    ),
    max_leaves=20,
)
# Values that look almost right, so validation gets past type checks into the value checks.
near_miss = st.one_of(
    st.sampled_from(["dev", "prod", "10.0.0.0/16", "10.0.0.1/16", "8.8.0.0/16", "perAz", "ALL", "us-east-1a"]),
    st.integers(min_value=-2, max_value=4000),
    st.lists(st.sampled_from(["us-east-1a", "us-east-1b", "us-east-1c", "eu-west-1a"]), max_size=7),
)
hostile = st.one_of(json_like, near_miss)

NETWORK_KEYS = sorted({*PROFILES["dev"]["network"], "availabilityZones"})
FLOW_LOG_KEYS = sorted(PROFILES["dev"]["network"]["flowLogs"])
COMMON_KEYS = sorted(PROFILES["dev"]["common"])
PRIVATE_RANGES = [ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]


def check_outcome(raw: dict, region: object) -> StackConfig | None:
    """validate() returns a sound StackConfig or raises a ConfigError made only of key-path lines."""
    try:
        cfg = validate(raw, region)
    except ConfigError as exc:
        lines = str(exc).split("\n")
        problem_lines = lines[1:] if lines[0] == HEADER else lines
        assert problem_lines, "no problem reported"
        if lines[0] == HEADER:
            assert all(line.startswith("  ") for line in problem_lines), lines
        for line in problem_lines:
            assert line.removeprefix("  ").startswith((f"{NAMESPACE}:", "aws:region")), lines
        return None
    # Whatever was accepted satisfies the invariants the rest of the program relies on.
    assert isinstance(cfg, StackConfig)
    assert cfg.environment in PROFILES
    assert cfg.region == region
    net = ipaddress.IPv4Network(cfg.network.cidr)
    assert str(net) == cfg.network.cidr
    assert 16 <= net.prefixlen <= 23
    assert any(net.subnet_of(r) for r in PRIVATE_RANGES)
    assert 2 <= cfg.network.az_count <= 6
    zones = cfg.network.availability_zones
    assert zones is None or (len(zones) == cfg.network.az_count and len(set(zones)) == len(zones))
    assert cfg.common.log_retention_days in LOG_RETENTION_DAYS
    assert cfg.network.flow_logs.retention_days in LOG_RETENTION_DAYS
    for flag in (cfg.network.enabled, cfg.common.multi_az, cfg.common.deletion_protection):
        assert type(flag) is bool
    assert all(type(k) is str and type(v) is str for k, v in cfg.tags.items())
    return cfg


# --- (a) hostile values ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["tags", "common", "network", "region", "netwrok"])
@SETTINGS
@given(environment=st.sampled_from(ENVIRONMENTS), value=hostile)
def test_hostile_value_at_a_top_level_key(key: str, environment: str, value: object) -> None:
    check_outcome({"environment": environment, key: value}, REGION)


@SETTINGS
@given(value=hostile)
@example(value=["dev"])
@example(value={"dev": True})
def test_hostile_environment(value: object) -> None:
    check_outcome({"environment": value}, REGION)


@SETTINGS
@given(environment=st.sampled_from(ENVIRONMENTS), key=st.sampled_from(NETWORK_KEYS), value=hostile)
def test_hostile_value_inside_network(environment: str, key: str, value: object) -> None:
    check_outcome({"environment": environment, "network": {key: value}}, REGION)


@SETTINGS
@given(environment=st.sampled_from(ENVIRONMENTS), key=st.sampled_from(FLOW_LOG_KEYS), value=hostile)
def test_hostile_value_inside_flow_logs(environment: str, key: str, value: object) -> None:
    check_outcome({"environment": environment, "network": {"flowLogs": {key: value}}}, REGION)


@SETTINGS
@given(environment=st.sampled_from(ENVIRONMENTS), key=st.sampled_from(COMMON_KEYS), value=hostile)
def test_hostile_value_inside_common(environment: str, key: str, value: object) -> None:
    check_outcome({"environment": environment, "common": {key: value}}, REGION)


@SETTINGS
@given(
    environment=st.sampled_from(ENVIRONMENTS),
    blocks=st.dictionaries(st.sampled_from(["tags", "common", "network"]), json_like, max_size=3),
    network=st.dictionaries(st.sampled_from([*NETWORK_KEYS, "natStratgy"]), hostile, max_size=4),
    extra=st.dictionaries(st.text(max_size=12), json_like, max_size=3),
)
@example(environment="dev", blocks={}, network={}, extra={"net\nwork": 1})
def test_hostile_whole_namespace(environment: str, blocks: dict, network: dict, extra: dict) -> None:
    raw = {**extra, **blocks, "environment": environment}
    if "network" not in blocks:
        raw["network"] = network
    check_outcome(raw, REGION)


@SETTINGS
@given(
    region=st.one_of(
        st.text(max_size=30),
        json_like,
        # Real region names with something stuck to either end.
        st.builds(
            lambda before, region, after: before + region + after,
            st.text(max_size=2),
            st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-1"]),
            st.text(max_size=2),
        ),
    )
)
@example(region="us-east-1\n")
def test_arbitrary_region(region: object) -> None:
    cfg = check_outcome({"environment": "dev"}, region)
    if cfg is not None:
        assert cfg.region == cfg.region.strip().lower(), "accepted a region AWS would not recognise"


@SETTINGS
@given(environment=st.text(max_size=30))
def test_arbitrary_environment_text(environment: str) -> None:
    cfg = check_outcome({"environment": environment}, REGION)
    assert (cfg is not None) == (environment in PROFILES)


# --- (b) subnet layout -----------------------------------------------------------------------


@st.composite
def vpc_cidrs(draw: st.DrawFn) -> str:
    """A private network between /16 and /23, anywhere inside one of the private ranges."""
    private = draw(st.sampled_from(PRIVATE_RANGES))
    prefix = draw(st.integers(min_value=max(16, private.prefixlen), max_value=23))
    address = draw(st.integers(min_value=int(private.network_address), max_value=int(private.broadcast_address)))
    return str(ipaddress.IPv4Network((address, prefix), strict=False))


@SETTINGS
@given(cidr=vpc_cidrs(), az_count=st.integers(min_value=2, max_value=6))
def test_subnets_fit_inside_the_vpc_without_overlapping(cidr: str, az_count: int) -> None:
    # Every CIDR generated here is one the schema accepts, so the layout must work for it.
    assert validate({"environment": "dev", "network": {"cidr": cidr, "azCount": az_count}}, REGION)
    vpc = ipaddress.IPv4Network(cidr)

    layout = subnet_cidrs(cidr, az_count)

    assert set(layout) == set(TIERS)
    subnets = []
    for tier in TIERS:
        assert len(layout[tier]) == az_count
        subnets += [ipaddress.IPv4Network(s) for s in layout[tier]]
    for subnet in subnets:
        assert subnet.subnet_of(vpc)
        assert subnet.prefixlen <= 28, f"{subnet} is smaller than the /28 AWS allows"
    for i, a in enumerate(subnets):
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b), f"{a} overlaps {b}"


@SETTINGS
@given(cidr=vpc_cidrs(), az_count=st.integers(min_value=2, max_value=5))
def test_adding_an_az_never_renumbers_existing_subnets(cidr: str, az_count: int) -> None:
    smaller = subnet_cidrs(cidr, az_count)
    larger = subnet_cidrs(cidr, az_count + 1)
    largest = subnet_cidrs(cidr, 6)

    for tier in TIERS:
        assert larger[tier][:az_count] == smaller[tier]
        assert largest[tier][:az_count] == smaller[tier]
        assert larger[tier][az_count] not in smaller[tier]


# --- (c) decoding config text ----------------------------------------------------------------


@SETTINGS
@given(
    text=st.one_of(
        st.text(),
        st.builds(lambda start, rest: start + rest, st.sampled_from(["[", "{"]), st.text()),
        st.builds(lambda depth: "[" * depth, st.integers(min_value=1, max_value=100_000)),
    )
)
@example(text="[" + "1" * 5000 + "]")  # an integer longer than Python converts by default
@example(text='{"a": ' + "9" * 5000 + "}")
def test_decode_never_raises(text: str) -> None:
    decoded = _decode(text)

    if text[:1] not in ("[", "{") or isinstance(decoded, str):
        assert decoded is text  # scalars and text that is not JSON pass through as the engine sent them
    else:
        assert isinstance(decoded, (list, dict))


finite_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=12), inner, max_size=5),
    ),
    max_leaves=20,
)


@SETTINGS
@given(value=st.one_of(st.lists(finite_json, max_size=5), st.dictionaries(st.text(max_size=12), finite_json)))
def test_decode_round_trips_structured_values_the_engine_encodes(value: object) -> None:
    assert _decode(json.dumps(value)) == value


# --- every namespace, as the engine passes it ---------------------------------------------------------

AWS_KEYS = sorted(PROVIDER_SETTINGS)
engine_text = st.one_of(st.text(max_size=30), json_like.map(json.dumps))


def check_stack_outcome(values: dict[str, str], secret_keys: list[str]) -> None:
    """validate_stack() accepts or raises one ConfigError whose every line names a key; never crashes."""
    try:
        cfg = validate_stack(values, secret_keys)
    except ConfigError as exc:
        lines = str(exc).split("\n")
        assert lines[0] == HEADER and len(lines) > 1, lines
        assert all(line.startswith("  ") and ": " in line for line in lines[1:]), lines
        return
    # Only known keys got through, and only the provider's arguments reach the provider.
    assert all(k.partition(":")[0] in ("aws-patterns", "aws", "pulumi") for k in values)
    assert set(cfg.provider_settings) <= {s.argument for s in PROVIDER_SETTINGS.values()}


@SETTINGS
@given(key=st.sampled_from(AWS_KEYS), value=engine_text, secret=st.booleans())
@example(key="endpoints", value='[{"\\n": null}]', secret=False)
def test_hostile_value_of_a_provider_key(key: str, value: str, secret: bool) -> None:
    values = {"aws:region": REGION, f"{NAMESPACE}:environment": "dev", f"aws:{key}": value}
    check_stack_outcome(values, [f"aws:{key}"] if secret else [])


@SETTINGS
@given(keys=st.dictionaries(st.text(min_size=1, max_size=30), engine_text, max_size=4))
def test_arbitrary_keys_are_accepted_only_when_known(keys: dict[str, str]) -> None:
    values = {"aws:region": REGION, f"{NAMESPACE}:environment": "dev", **keys}
    check_stack_outcome(values, [])


@SETTINGS
@given(text=st.text(max_size=200))
def test_reading_any_text_as_a_stack_file_is_a_result_or_a_stack_file_error(text: str, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("stack") / "Pulumi.any.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        values = config_values(path)
    except StackFileError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
