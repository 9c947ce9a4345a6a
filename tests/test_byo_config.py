"""Config validation of a borrowed network (`network.existing`) and bus (`eventDriven.existingBus`).

Invalid combinations fail in `validate()`, before any resource exists, with the key named. The
property test drives the ids of a borrowed network through generated shapes and compares the
outcome with the rules written out here, independently of the schema's code.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, StackConfig, validate
from components.patterns import PATTERNS
from components.schema import NETWORK_NEEDS

REGION = "us-east-1"
HEADER = "invalid stack configuration:"
VPC = "vpc-0a1b2c3d4e5f60718"
SUBNETS = [f"subnet-{i:017x}" for i in range(1, 40)]
TABLES = [f"rtb-{i:017x}" for i in range(1, 10)]
ON_PREMISES = "192.168.0.0/20"  # what the tests' hybrid block routes over the VPN
HYBRID = {"enabled": True, "customerGatewayIp": "198.51.100.7", "onPremisesCidrs": [ON_PREMISES]}
# Prod serves the web tier over HTTPS only: a multi-tier block there names its domain.
MULTI_TIER = {"enabled": True, "domainName": "shop.acme.io", "hostedZoneId": "Z0123456789ABC"}


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(raw, REGION)
    lines = str(info.value).split("\n")
    return [line.strip() for line in (lines[1:] if lines[0] == HEADER else lines)]


def _line(raw: dict[str, Any], key: str) -> str:
    lines = _problems(raw)
    matches = [line for line in lines if line.startswith(f"aws-patterns:{key}:")]
    assert len(matches) == 1, f"expected one line about {key}, got {lines}"
    return matches[0]


def _ids(zones: int = 2, **overrides: Any) -> dict[str, Any]:
    return {
        "vpcId": VPC,
        "vpcCidr": "10.50.0.0/16",
        "availabilityZones": [f"{REGION}{c}" for c in "abcdef"[:zones]],
        "publicSubnetIds": SUBNETS[0:zones],
        "privateSubnetIds": SUBNETS[10 : 10 + zones],
        "isolatedSubnetIds": SUBNETS[20 : 20 + zones],
        "privateRouteTableIds": TABLES[:zones],
        "isolatedRouteTableIds": TABLES[8:9],
        **overrides,
    }


def _stack(existing: dict[str, Any], environment: str = "prod", **blocks: Any) -> dict[str, Any]:
    return {"environment": environment, "network": {"existing": existing}, **blocks}


def test_every_vpc_pattern_says_what_it_needs_of_a_network() -> None:
    assert set(NETWORK_NEEDS) == {p.key for p in PATTERNS if p.in_vpc}


def test_a_full_set_of_ids_is_accepted_for_every_vpc_pattern() -> None:
    cfg = validate(_stack(_ids(), multiTier=MULTI_TIER, hybrid=HYBRID), REGION)
    assert cfg.network.existing is not None and cfg.network.existing.vpc_id == VPC
    assert cfg.needs_network


def test_nat_strategy_shapes_a_created_network_only() -> None:
    """A borrowed network's egress belongs to its owner: the profile's natStrategy says nothing of it."""
    multi_tier = {"multiTier": MULTI_TIER}
    borrowed = _stack(_ids(), **multi_tier)
    borrowed["network"]["natStrategy"] = "none"
    assert validate(borrowed, REGION).network.existing is not None
    created = {"environment": "prod", "network": {"natStrategy": "none"}, **multi_tier}
    assert _line(created, "network.natStrategy").endswith("(single or perAz), not none")


# --- exactly one source ------------------------------------------------------------------------


def test_creating_and_borrowing_a_network_at_once_is_refused() -> None:
    raw = {"environment": "dev", "network": {"enabled": True, "existing": _ids()}}
    line = _line(raw, "network.enabled")
    assert "network.existing" in line


def test_a_stack_reference_and_ids_at_once_are_refused() -> None:
    line = _line(
        _stack({"stackReference": "acme/aws-patterns/network", "vpcId": VPC}), "network.existing.stackReference"
    )
    assert "vpcId" in line


def test_a_borrowed_network_needs_a_vpc_id_and_zones() -> None:
    _line(_stack({}), "network.existing.vpcId")
    _line(_stack({"vpcId": VPC}), "network.existing.availabilityZones")


def test_pinned_zones_belong_to_a_created_network_only() -> None:
    raw = {"environment": "dev", "network": {"existing": _ids(), "availabilityZones": ["us-east-1a", "us-east-1b"]}}
    assert "network.existing.availabilityZones" in _line(raw, "network.availabilityZones")


@pytest.mark.parametrize(
    ("existing", "key"),
    [
        ({"stackReference": "network"}, "network.existing.stackReference"),
        ({"stackReference": "acme/aws-patterns"}, "network.existing.stackReference"),
        (_ids(vpcId="vpc-xyz"), "network.existing.vpcId"),
        (_ids(publicSubnetIds=["sg-0123456789abcdef0", SUBNETS[1]]), "network.existing.publicSubnetIds[0]"),
        (_ids(privateRouteTableIds=["subnet-0123456789abcdef0"]), "network.existing.privateRouteTableIds[0]"),
        (_ids(availabilityZones=["us-east-1a", "us-east-1a"]), "network.existing.availabilityZones"),
        (_ids(isolatedSubnetIds=SUBNETS[0:2]), "network.existing.isolatedSubnetIds"),  # also public
        (_ids(isolatedRouteTableIds=TABLES[0:1]), "network.existing.isolatedRouteTableIds"),  # also private
        (_ids(vpcCidr="10.50.0.1/16"), "network.existing.vpcCidr"),
        ({**_ids(), "natGatewayIds": []}, "network.existing.natGatewayIds"),
    ],
    ids=[
        "bare-stack",
        "two-parts",
        "vpc-id",
        "subnet-prefix",
        "table-prefix",
        "zone-twice",
        "subnet-in-two-tiers",
        "table-in-two-tiers",
        "cidr-host-bits",
        "unknown-key",
    ],
)
def test_malformed_ids_are_named_by_key(existing: dict[str, Any], key: str) -> None:
    _line(_stack(existing), key)


# --- what the enabled patterns need -------------------------------------------------------------


def test_multi_tier_needs_two_zones_and_every_tier() -> None:
    one_zone = _ids(zones=1)
    assert "2" in _line(_stack(one_zone, multiTier={"enabled": True}), "network.existing.availabilityZones")
    _line(_stack(_ids(isolatedSubnetIds=[]), multiTier={"enabled": True}), "network.existing.isolatedSubnetIds")
    # Without multiTier, the same network is fine (hybrid needs no subnets at all).
    validate(_stack(_ids(zones=1, publicSubnetIds=[], isolatedSubnetIds=[]), hybrid=HYBRID), REGION)


def test_hybrid_needs_route_tables_and_the_vpc_cidr() -> None:
    no_tables = _ids(privateRouteTableIds=[], isolatedRouteTableIds=[])
    _line(_stack(no_tables, hybrid=HYBRID), "network.existing.privateRouteTableIds")
    no_cidr = {k: v for k, v in _ids().items() if k != "vpcCidr"}
    _line(_stack(no_cidr, hybrid=HYBRID), "network.existing.vpcCidr")


def test_on_premises_ranges_are_checked_against_the_borrowed_vpc_not_network_cidr() -> None:
    raw = _stack(_ids(vpcCidr="192.168.0.0/16"), hybrid=HYBRID)
    assert ON_PREMISES in _line(raw, "hybrid.onPremisesCidrs")
    # The profile's network.cidr (10.30.0.0/16 in prod) is not this stack's VPC when it borrows one.
    inside_profile_cidr = {**HYBRID, "onPremisesCidrs": ["10.30.0.0/24"]}
    validate(_stack(_ids(), hybrid=inside_profile_cidr), REGION)


def test_borrowed_zones_belong_to_the_stack_region() -> None:
    raw = _stack(_ids(availabilityZones=["eu-west-1a", "eu-west-1b"]))
    assert "us-east-1" in _line(raw, "network.existing.availabilityZones")


def test_a_stack_reference_is_checked_when_the_program_reads_it() -> None:
    """Its ids are not in the config; tests/test_byo.py checks what the program does with them."""
    raw = _stack({"stackReference": "acme/aws-patterns/network"}, multiTier=MULTI_TIER, hybrid=HYBRID)
    assert validate(raw, REGION).network.existing.stack_reference == "acme/aws-patterns/network"  # type: ignore[union-attr]


PROPERTY = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(
    zones=st.integers(min_value=1, max_value=4),
    # Per tier: no subnets, one per zone, or one too many (drawn so that each case is frequent).
    tiers=st.tuples(*[st.sampled_from([0, "per-zone", 1])] * 3),
    private_tables=st.sampled_from([0, 1, 2]),
    isolated_tables=st.sampled_from([0, 1]),
    cidr=st.sampled_from([None, "10.50.0.0/16", "192.168.0.0/16"]),
    multi_tier=st.booleans(),
    hybrid=st.booleans(),
)
def test_borrowed_ids_are_accepted_exactly_when_the_enabled_patterns_can_use_them(
    zones: int,
    tiers: tuple[int | str, int | str, int | str],
    private_tables: int,
    isolated_tables: int,
    cidr: str | None,
    multi_tier: bool,
    hybrid: bool,
) -> None:
    public, private, isolated = counts = [zones if t == "per-zone" else (zones + 1 if t == 1 else 0) for t in tiers]
    existing = _ids(
        zones=zones,
        publicSubnetIds=SUBNETS[0:public],
        privateSubnetIds=SUBNETS[10 : 10 + private],
        isolatedSubnetIds=SUBNETS[20 : 20 + isolated],
        privateRouteTableIds=TABLES[:private_tables],
        isolatedRouteTableIds=TABLES[8 : 8 + isolated_tables],
    )
    if cidr is None:
        del existing["vpcCidr"]
    else:
        existing["vpcCidr"] = cidr
    raw = _stack(existing, multiTier={**MULTI_TIER, "enabled": multi_tier}, hybrid={**HYBRID, "enabled": hybrid})

    shaped = all(n in (0, zones) for n in counts)
    fits_multi_tier = zones >= 2 and all(n == zones for n in counts)
    overlaps = cidr is not None and ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(ON_PREMISES))
    fits_hybrid = private_tables + isolated_tables > 0 and cidr is not None and not overlaps
    valid = shaped and (fits_multi_tier or not multi_tier) and (fits_hybrid or not hybrid)

    try:
        cfg: StackConfig | None = validate(raw, REGION)
    except ConfigError as exc:
        cfg = None
        lines = str(exc).split("\n")[1:]
        assert all(
            line.strip().startswith(("aws-patterns:network.existing.", "aws-patterns:hybrid.")) for line in lines
        )
    assert (cfg is not None) == valid, raw


# --- the event bus ------------------------------------------------------------------------------


def _bus(existing_bus: dict[str, Any]) -> dict[str, Any]:
    return {"environment": "dev", "eventDriven": {"enabled": True, "existingBus": existing_bus}}


@pytest.mark.parametrize(
    "existing_bus",
    [
        {"name": "orders"},
        {"name": "default"},
        {"name": "aws.partner/example.com/123/orders"},
        {"arn": "arn:aws:events:us-east-1:123456789012:event-bus/orders"},
        {"stackReference": "acme/aws-patterns/shared", "archive": True},
    ],
)
def test_a_bus_is_borrowed_by_name_arn_or_stack_reference(existing_bus: dict[str, Any]) -> None:
    bus = validate(_bus(existing_bus), REGION).event_driven.existing_bus
    assert bus is not None and bus.archive is existing_bus.get("archive", False)


@pytest.mark.parametrize(
    ("existing_bus", "key", "mentions"),
    [
        ({}, "eventDriven.existingBus", "exactly one"),
        (
            {"name": "orders", "arn": "arn:aws:events:us-east-1:123456789012:event-bus/orders"},
            "eventDriven.existingBus",
            "not 2",
        ),
        ({"arn": "arn:aws:events:eu-west-1:123456789012:event-bus/orders"}, "eventDriven.existingBus.arn", "eu-west-1"),
        ({"arn": "arn:aws:sqs:us-east-1:123456789012:orders"}, "eventDriven.existingBus.arn", "arn:aws:sqs"),
        ({"name": "orders bus"}, "eventDriven.existingBus.name", "orders bus"),
        ({"stackReference": "shared"}, "eventDriven.existingBus.stackReference", "shared"),
    ],
    ids=["none", "two", "other-region", "not-a-bus", "bad-name", "bad-stack"],
)
def test_bad_bus_sources_are_named_by_key(existing_bus: dict[str, Any], key: str, mentions: str) -> None:
    assert mentions in _line(_bus(existing_bus), key)
