"""The Network component, asserted on what the program registers (type and wiring)."""

from __future__ import annotations

import json

import pytest

from components.config import StackConfig, validate
from components.network import subnet_cidrs
from tests.conftest import run_with
from tools.offline import STACKS, Registered, Run, stack_config, wired

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
