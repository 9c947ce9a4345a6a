"""The Network component, asserted on what the program registers (type and wiring)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime.mocks import MockCallArgs

from components.config import ConfigError, StackConfig, validate
from components.network import subnet_cidrs
from tests.conftest import config_with, run_with
from tools.offline import STACKS, AwsMocks, RecordingMonitor, Registered, Run, run_program, stack_config, wired

NETWORK = "aws-patterns:network:Network"
# Every pattern but the network off, so these tests see the network's own choices (the VPC
# patterns add rules of their own, e.g. multiTier refuses natStrategy none).
ONLY_NETWORK = {"multiTier": {"enabled": False}, "hybrid": {"enabled": False}}

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"


@pytest.fixture(params=[(s, p) for s in STACKS for p in (True, False)], ids=lambda sp: f"{sp[0]}-{sp[1]}")
def stack_run(request: pytest.FixtureRequest) -> Run:
    """The network of every shipped stack (turned on where the stack does not need one)."""
    stack, preview = request.param
    return run_with(stack, {"network": {"enabled": True}}, preview=preview).within(NETWORK)


def _config(run: Run) -> StackConfig:
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(run.stack).items() if k.startswith("aws-patterns:")}
    decoded = {k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()}
    return validate(decoded, stack_config(run.stack)["aws:region"], secret_keys=())


def _subnets(run: Run, tier: str) -> list[Registered]:
    return sorted((s for s in run.by_type(SUBNET) if s.inputs["tags"]["tier"] == tier), key=lambda s: s.name)


def _table_of(run: Run, subnet: Registered) -> Registered:
    associations = [a for a in run.by_type(ASSOCIATION) if wired(a, "subnetId", subnet)]
    assert len(associations) == 1, f"{subnet.name} must be associated with exactly one route table"
    return next(t for t in run.by_type(ROUTE_TABLE) if wired(associations[0], "routeTableId", t))


def _default_routes(run: Run, table: Registered) -> list[Registered]:
    return [
        r
        for r in run.by_type(ROUTE)
        if wired(r, "routeTableId", table) and r.inputs["destinationCidrBlock"] == "0.0.0.0/0"
    ]


def test_three_tiers_one_subnet_per_az_with_the_documented_cidrs(stack_run: Run) -> None:
    cfg = _config(stack_run)
    expected = subnet_cidrs(cfg.network.cidr, cfg.network.az_count)
    for tier in ("public", "private", "isolated"):
        subnets = _subnets(stack_run, tier)
        assert [s.inputs["cidrBlock"] for s in subnets] == expected[tier]
        zones = [s.inputs["availabilityZone"] for s in subnets]
        assert len(set(zones)) == cfg.network.az_count >= 2
        assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)


def test_routes_per_tier(stack_run: Run) -> None:
    igw = stack_run.by_type("aws:ec2/internetGateway:InternetGateway")[0]
    for subnet in _subnets(stack_run, "public"):
        (route,) = _default_routes(stack_run, _table_of(stack_run, subnet))
        assert wired(route, "gatewayId", igw)
    for subnet in _subnets(stack_run, "isolated"):
        table = _table_of(stack_run, subnet)
        assert [r for r in stack_run.by_type(ROUTE) if wired(r, "routeTableId", table)] == []
    private_tables = [_table_of(stack_run, s) for s in _subnets(stack_run, "private")]
    assert len({t.urn for t in private_tables}) == len(private_tables), "one private route table per AZ"


@pytest.mark.parametrize(("strategy", "expected"), [("none", 0), ("single", 1), ("perAz", 3)])
def test_nat_strategy(strategy: str, expected: int) -> None:
    run = run_with("prod", {"network": {"natStrategy": strategy, "azCount": 3}, **ONLY_NETWORK}, preview=True)
    run = run.within(NETWORK)
    nats = run.by_type(NAT)
    assert len(nats) == expected
    public = _subnets(run, "public")
    for nat in nats:
        assert any(wired(nat, "subnetId", s) for s in public), "NAT gateways live in public subnets"
        igw = run.by_type("aws:ec2/internetGateway:InternetGateway")[0]
        assert igw.urn in nat.dependencies, "a NAT gateway must wait for the internet gateway"
    for subnet in _subnets(run, "private"):
        routes = _default_routes(run, _table_of(run, subnet))
        if strategy == "none":
            assert routes == []
            continue
        (route,) = routes
        (nat,) = [n for n in nats if wired(route, "natGatewayId", n)]
        if strategy == "perAz":
            (nat_subnet,) = [s for s in public if wired(nat, "subnetId", s)]
            assert nat_subnet.inputs["availabilityZone"] == subnet.inputs["availabilityZone"], "no cross-AZ NAT"


def test_default_security_group_has_no_rules(stack_run: Run) -> None:
    (default_sg,) = stack_run.by_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default_sg.inputs.get("ingress")
    assert not default_sg.inputs.get("egress")


def test_gateway_endpoints_serve_private_and_isolated_tables_only(stack_run: Run) -> None:
    endpoints = stack_run.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert sorted(e.inputs["serviceName"].rsplit(".", 1)[1] for e in endpoints) == ["dynamodb", "s3"]
    wanted = {_table_of(stack_run, s).urn for tier in ("private", "isolated") for s in _subnets(stack_run, tier)}
    for endpoint in endpoints:
        assert endpoint.inputs["vpcEndpointType"] == "Gateway"
        assert endpoint.inputs["serviceName"].startswith(f"com.amazonaws.{_config(stack_run).region}.")
        assert set(endpoint.property_dependencies["routeTableIds"]) == wanted


def test_flow_logs_wiring(stack_run: Run) -> None:
    cfg = _config(stack_run).network.flow_logs
    (flow_log,) = stack_run.by_type("aws:ec2/flowLog:FlowLog")
    (group,) = stack_run.by_type("aws:cloudwatch/logGroup:LogGroup")
    (role,) = [r for r in stack_run.by_type("aws:iam/role:Role") if wired(flow_log, "iamRoleArn", r)]
    (vpc,) = stack_run.by_type("aws:ec2/vpc:Vpc")
    assert wired(flow_log, "logDestination", group) and wired(flow_log, "vpcId", vpc)
    assert flow_log.inputs["trafficType"] == cfg.traffic_type
    assert group.inputs["retentionInDays"] == cfg.retention_days
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "vpc-flow-logs.amazonaws.com"}]
    assert all("aws:SourceAccount" in s["Condition"]["StringEquals"] for s in trust)
    (policy,) = [p for p in stack_run.by_type("aws:iam/rolePolicy:RolePolicy") if wired(p, "role", role)]
    assert wired(policy, "policy", group), "the role may only write to the flow-log group"


def test_flow_logs_can_be_turned_off() -> None:
    run = run_with("dev", {"network": {"enabled": True, "flowLogs": {"enabled": False}}}, preview=True)
    run = run.within(NETWORK)
    assert run.by_type("aws:ec2/flowLog:FlowLog") == []
    assert run.by_type("aws:cloudwatch/logGroup:LogGroup") == []


def test_adding_an_az_does_not_renumber_existing_subnets() -> None:
    two = run_with("staging", {"network": {"azCount": 2}}).within(NETWORK)
    three = run_with("staging", {"network": {"azCount": 3}}).within(NETWORK)
    for tier in ("public", "private", "isolated"):
        before = {s.name: (s.inputs["cidrBlock"], s.inputs["availabilityZone"]) for s in _subnets(two, tier)}
        after = {s.name: (s.inputs["cidrBlock"], s.inputs["availabilityZone"]) for s in _subnets(three, tier)}
        assert before.items() < after.items()


def test_explicit_availability_zones_are_used() -> None:
    zones = ["us-east-1c", "us-east-1d"]
    run = run_with("dev", {"network": {"enabled": True, "availabilityZones": zones}}, preview=True)
    assert sorted(s.inputs["availabilityZone"] for s in _subnets(run, "private")) == zones


def test_no_network_unless_enabled_or_needed() -> None:
    run = run_with("prod", {"network": {"enabled": False}, **ONLY_NETWORK}, preview=True)
    assert run.by_type(NETWORK) == [] and run.by_type("aws:ec2/vpc:Vpc") == []
    assert "network" not in run.outputs


@pytest.mark.parametrize("pattern", ["multiTier", "hybrid"])
def test_a_vpc_pattern_gets_its_network_built(pattern: str) -> None:
    others = {p: {"enabled": p == pattern} for p in ONLY_NETWORK}
    run = run_with("prod", {"network": {"enabled": False}, **others}, preview=True)
    assert len(run.by_type(NETWORK)) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_network_outputs_are_exported(stack: str) -> None:
    run = run_with(stack, {"network": {"enabled": True}}, preview=False)
    exported = run.outputs["network"]
    assert exported["vpcId"] == run.by_type("aws:ec2/vpc:Vpc")[0].id
    for tier in ("public", "private", "isolated"):
        assert exported[f"{tier}SubnetIds"] == [s.id for s in _subnets(run, tier)]
    assert len(exported["natPublicIps"]) == len(run.by_type(NAT))


# --- zones where the capacity is ---------------------------------------------------------------

GRAVITON = ("m7g.large", "db.m7g.large")
X86 = ("m7i.large", "db.m7i.large")


def _answer(token: str, **args: Any) -> dict[str, Any]:
    """What the mocks answer the program's lookup `token` (the same mocks the runs use)."""
    answer, _ = AwsMocks("us-east-1", preview=True).call(MockCallArgs(token, args, ""))
    return answer


def _usable_zones(instance_type: str, instance_class: str) -> list[str]:
    """The region's zones that, per the mocks, offer both; in the order the network uses them."""
    region = _answer("aws:index/getAvailabilityZones:getAvailabilityZones")["names"]
    offered = _answer(
        "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings",
        filters=[{"name": "instance-type", "values": [instance_type]}],
        locationType="availability-zone",
    )["locations"]
    orderable = _answer(
        "aws:rds/getOrderableDbInstance:getOrderableDbInstance",
        engine="postgres",
        preferredInstanceClasses=[instance_class],
    )["availabilityZones"]
    return sorted(set(region) & set(offered) & set(orderable))


# Only the network and the multi-tier pattern (whose types choose the zones): quicker runs.
OTHERS_OFF = {k: {"enabled": False} for k in ("hybrid", "eventDriven", "serverless", "microservices", "observability")}


def _with_types(instance_type: str, instance_class: str, **network: Any) -> dict[str, Any]:
    return {
        "network": network,
        "multiTier": {"instances": {"instanceType": instance_type}, "database": {"instanceClass": instance_class}},
        **OTHERS_OFF,
    }


def _zones(run: Run) -> list[str]:
    """The zones of the network's subnets, in slot order."""
    return [s.inputs["availabilityZone"] for s in sorted(_subnets(run, "private"), key=lambda s: s.name)]


@pytest.mark.parametrize(
    ("instance_type", "instance_class"),
    [(GRAVITON[0], X86[1]), (X86[0], GRAVITON[1]), GRAVITON],
    ids=["web-type", "db-class", "both"],
)
def test_a_zone_without_the_web_instance_type_or_db_class_is_skipped(instance_type: str, instance_class: str) -> None:
    region = _answer("aws:index/getAvailabilityZones:getAvailabilityZones")["names"]
    usable = _usable_zones(instance_type, instance_class)
    lacking = sorted(set(region) - set(usable))
    assert lacking, "the mocks offer these everywhere, so nothing would be skipped"

    run = run_with("prod", _with_types(instance_type, instance_class, azCount=len(usable)), preview=True).within(
        NETWORK
    )

    assert _zones(run) == usable  # every zone that offers both, in name order
    assert not set(_zones(run)) & set(lacking)


def test_where_everything_is_offered_every_zone_is_usable() -> None:
    """Guards the test above: the skipped zone is skipped for the type, not for its name."""
    region = sorted(_answer("aws:index/getAvailabilityZones:getAvailabilityZones")["names"])
    run = run_with("prod", _with_types(*X86, azCount=len(region)), preview=True).within(NETWORK)
    assert _zones(run) == region


def test_the_first_zones_in_name_order_are_used() -> None:
    run = run_with("prod", _with_types(*GRAVITON, azCount=3), preview=False).within(NETWORK)
    assert _zones(run) == _usable_zones(*GRAVITON)[:3]


def test_fewer_usable_zones_than_az_count_is_a_config_error_naming_the_types() -> None:
    usable = _usable_zones(*GRAVITON)
    monitors: list[RecordingMonitor] = []
    config = config_with("prod", _with_types(*GRAVITON, azCount=len(usable) + 1))
    with pytest.raises(ConfigError) as info:
        run_program("prod", preview=True, config=config, monitors=monitors)
    message = str(info.value)
    assert message.startswith("aws-patterns:network.azCount:")
    assert all(t in message for t in GRAVITON) and f"azCount is {len(usable) + 1}" in message
    assert [req.type for req, _ in monitors[0].requests if req.type.startswith("aws:")] == []


def test_pinned_zones_are_used_as_given() -> None:
    region = _answer("aws:index/getAvailabilityZones:getAvailabilityZones")["names"]
    lacking = sorted(set(region) - set(_usable_zones(*GRAVITON)))
    pinned = [lacking[0], _usable_zones(*GRAVITON)[0]]
    run = run_with("prod", _with_types(*GRAVITON, azCount=2, availabilityZones=pinned), preview=True)
    assert _zones(run.within(NETWORK)) == pinned


def test_a_network_without_a_multi_tier_pattern_uses_every_zone_the_region_offers() -> None:
    region = sorted(_answer("aws:index/getAvailabilityZones:getAvailabilityZones")["names"])
    run = run_with("prod", {"network": {"enabled": True, "azCount": len(region)}, **ONLY_NETWORK}, preview=True)
    assert _zones(run.within(NETWORK)) == region
