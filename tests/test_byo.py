"""Bring your own network and event bus, run as whole programs under the mocks.

Each source of a network (created by the stack, borrowed by id, borrowed from another stack's
`network` output) and of an event bus (created, by name, by ARN, from another stack's
`eventDriven` output) is run in both preview modes. A borrowed network or bus registers nothing
network- or bus-shaped, and every consumer uses exactly the borrowed ids; ids read from another
stack reach their consumers through the StackReference (so they depend on it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError
from components.network import OUTPUT_KEYS
from tests.conftest import config_with, run_with
from tools import review
from tools.offline import (
    ACCOUNT,
    PROJECT,
    STACK_REFERENCE,
    RecordingMonitor,
    Registered,
    Run,
    run_cached,
    run_program,
    wired,
)

NETWORK_STACK = f"acme/{PROJECT}/network"
ZONES = ["us-east-1a", "us-east-1b"]
# A VPC created elsewhere, as a stack file would name it (network.existing).
IDS = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "vpcCidr": "10.50.0.0/16",
    "availabilityZones": ZONES,
    "publicSubnetIds": ["subnet-0aa0000000000000a", "subnet-0aa0000000000000b"],
    "privateSubnetIds": ["subnet-0bb0000000000000a", "subnet-0bb0000000000000b"],
    "isolatedSubnetIds": ["subnet-0cc0000000000000a", "subnet-0cc0000000000000b"],
    "privateRouteTableIds": ["rtb-0dd0000000000000a", "rtb-0dd0000000000000b"],
    "isolatedRouteTableIds": ["rtb-0ee0000000000000a"],
}
SOURCES = {
    "created": {},
    "ids": {"network": {"enabled": False, "existing": IDS}},
    "stackReference": {"network": {"enabled": False, "existing": {"stackReference": NETWORK_STACK}}},
}
# Everything a network is made of; a stack that borrows its network registers none of it.
NETWORK_TYPES = {
    "aws-patterns:network:Network",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/route:Route",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/flowLog:FlowLog",
}
# Inputs that hold a VPC, subnet or route table id, wherever a pattern puts one.
NETWORK_INPUTS = ("vpcId", "subnetId", "subnetIds", "subnets", "vpcZoneIdentifiers", "routeTableId", "routeTableIds")
ALB = "aws:lb/loadBalancer:LoadBalancer"
ASG = "aws:autoscaling/group:Group"
DB_SUBNETS = "aws:rds/subnetGroup:SubnetGroup"
ATTACHMENT = "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment"
PROPAGATION = "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation"
BUS = "aws:cloudwatch/eventBus:EventBus"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _app(source: str, preview: bool) -> Run:
    """Staging (multi-tier and hybrid, so every kind of network consumer) on the network of `source`."""
    return run_with("staging", SOURCES[source], preview=preview)


def _expected(source: str, run: Run) -> dict[str, Any]:
    """The ids the consumers must use, from outside the run under test where there is an outside."""
    if source == "ids":
        return IDS
    if source == "stackReference":
        return run_cached("network", preview=False).outputs["network"]
    tables = sorted(run.by_type("aws:ec2/routeTable:RouteTable"), key=lambda t: t.name)
    return {
        "vpcId": run.by_type("aws:ec2/vpc:Vpc")[0].id,
        "privateRouteTableIds": [t.id for t in tables if t.name.startswith("network-private-")],
        "isolatedRouteTableIds": [t.id for t in tables if t.name == "network-isolated"],
        **{
            f"{tier}SubnetIds": [
                s.id
                for s in sorted(run.by_type("aws:ec2/subnet:Subnet"), key=lambda s: s.name)
                if s.inputs["tags"]["tier"] == tier
            ]
            for tier in ("public", "private", "isolated")
        },
    }


def _network_inputs(run: Run) -> list[tuple[Registered, str, Any]]:
    return [(r, prop, r.inputs[prop]) for r in run.aws_resources for prop in NETWORK_INPUTS if prop in r.inputs]


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
@pytest.mark.parametrize("source", ["ids", "stackReference"])
def test_a_borrowed_network_creates_nothing_network_shaped(source: str, preview: bool) -> None:
    run = _app(source, preview)
    assert sorted({r.type for r in run.resources} & NETWORK_TYPES) == []
    # The patterns that need a VPC are still there, on the borrowed one.
    assert run.by_type(ALB) and run.by_type(ATTACHMENT)


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
@pytest.mark.parametrize("source", ["created", "ids", "stackReference"])
def test_every_consumer_uses_the_network_of_its_source(source: str, preview: bool) -> None:
    run = _app(source, preview)
    consumers = [(r, prop, value) for r, prop, value in _network_inputs(run) if r.type not in NETWORK_TYPES]
    assert len(consumers) > 5
    if preview and source == "created":
        # The created network's ids are unknown in a preview; its resources are known.
        network = {r.urn for r in run.resources if r.type in NETWORK_TYPES}
        for res, prop, _ in consumers:
            assert set(res.property_dependencies[prop]) & network, f"{res.type} {res.name}.{prop}"
        return
    ids = _expected(source, run)
    (alb,) = run.by_type(ALB)
    (group,) = run.by_type(ASG)
    (db_subnets,) = run.by_type(DB_SUBNETS)
    assert alb.inputs["subnets"] == ids["publicSubnetIds"]
    assert group.inputs["vpcZoneIdentifiers"] == ids["privateSubnetIds"]
    assert db_subnets.inputs["subnetIds"] == ids["isolatedSubnetIds"]
    assert run.by_type(ATTACHMENT)[0].inputs["vpcId"] == ids["vpcId"]
    known = {ids["vpcId"], *(i for key in ids if key.endswith(("SubnetIds", "RouteTableIds")) for i in ids[key])}
    for res, prop, value in consumers:
        assert set(value if isinstance(value, list) else [value]) <= known, f"{res.type} {res.name}.{prop}"


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_borrowed_route_tables_each_get_the_vpn_routes(preview: bool) -> None:
    run = _app("ids", preview)
    tables = [p.inputs["routeTableId"] for p in run.by_type(PROPAGATION)]
    assert sorted(tables) == sorted(IDS["privateRouteTableIds"] + IDS["isolatedRouteTableIds"])
    (attachment,) = run.by_type(ATTACHMENT)
    assert all(attachment.urn in p.dependencies for p in run.by_type(PROPAGATION))


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_ids_from_another_stack_reach_every_consumer_through_the_stack_reference(preview: bool) -> None:
    run = _app("stackReference", preview)
    (reference,) = run.by_type(STACK_REFERENCE)
    assert reference.inputs["name"] == NETWORK_STACK
    consumers = [(r, prop) for r, prop, _ in _network_inputs(run)]
    assert consumers
    for res, prop in consumers:
        assert wired(res, prop, reference), f"{res.type} {res.name}.{prop} does not come from the stack reference"


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_the_network_stack_plans_a_network_and_nothing_else(preview: bool) -> None:
    run = run_cached("network", preview)
    assert len(run.by_type("aws:ec2/vpc:Vpc")) == 1
    assert {run.owner(r).type for r in run.aws_resources} == {"aws-patterns:network:Network"}  # type: ignore[union-attr]
    assert "network" in run.outputs


def test_the_network_output_carries_every_key_a_borrowing_stack_reads() -> None:
    run = run_cached("network", preview=False)
    exported = run.outputs["network"]
    assert set(OUTPUT_KEYS) <= set(exported)
    tables = {t.name: t.id for t in run.by_type("aws:ec2/routeTable:RouteTable")}
    zones = len(exported["availabilityZones"])
    assert exported["privateRouteTableIds"] == [tables[f"network-private-{i}"] for i in range(zones)]
    assert exported["isolatedRouteTableIds"] == [tables["network-isolated"]]
    (vpc,) = run.by_type("aws:ec2/vpc:Vpc")
    assert exported["vpcCidr"] == vpc.inputs["cidrBlock"]


@pytest.mark.parametrize("source", ["ids", "stackReference"])
def test_a_borrowing_stack_exports_the_network_it_uses(source: str) -> None:
    run = _app(source, preview=False)
    expected = _expected(source, run)
    exported = run.outputs["network"]
    for key in OUTPUT_KEYS:
        if key in expected:
            assert exported[key] == expected[key], key


# --- stack references that do not fit ---------------------------------------------------------


def _failing(stack: str, overrides: dict[str, Any], references: dict[str, Any] | None = None) -> tuple[str, list]:
    """The ConfigError message of a run, and the resource types it registered before failing."""
    monitors: list[RecordingMonitor] = []
    with pytest.raises(ConfigError) as info:
        run_program(stack, preview=True, config=config_with(stack, overrides), monitors=monitors, references=references)
    registered = [req.type for req, _ in monitors[0].requests if req.type != "pulumi:pulumi:Stack"]
    return str(info.value), registered


def _borrowing(stack_name: str) -> dict[str, Any]:
    return {"network": {"enabled": False, "existing": {"stackReference": stack_name}}}


@pytest.mark.parametrize(
    ("network_output", "mentions"),
    [
        ({**IDS, "availabilityZones": ["us-east-1a"], **{k: IDS[k][:1] for k in IDS if k.endswith("SubnetIds")}}, "2"),
        ({k: v for k, v in IDS.items() if k != "isolatedSubnetIds"}, "isolatedSubnetIds"),
        ({k: v for k, v in IDS.items() if not k.endswith("RouteTableIds")}, "route tables"),
        ({k: v for k, v in IDS.items() if k != "vpcCidr"}, "vpcCidr"),
        ({**IDS, "availabilityZones": ["eu-west-1a", "eu-west-1b"]}, "not zones of aws:region us-east-1"),
        ({**IDS, "privateSubnetIds": IDS["privateSubnetIds"][:1]}, "one subnet per zone"),
        ({**IDS, "vpcId": "not-a-vpc"}, "vpcId"),
        ({k: v for k, v in IDS.items() if k != "vpcId"}, "vpcId"),
        ("vpc-0a1b2c3d4e5f60718", "not an object"),
    ],
    ids=[
        "one-zone",
        "no-isolated",
        "no-route-tables",
        "no-cidr",
        "other-region",
        "short-tier",
        "bad-id",
        "no-vpc",
        "str",
    ],
)
def test_a_referenced_network_that_does_not_fit_is_a_config_error(network_output: Any, mentions: str) -> None:
    message, registered = _failing(
        "staging", _borrowing("acme/platform/net"), references={"acme/platform/net": {"network": network_output}}
    )
    assert "aws-patterns:network.existing.stackReference" in message
    assert "acme/platform/net" in message and mentions in message
    assert registered == [STACK_REFERENCE], "nothing of this stack is created before the check"


def test_on_premises_ranges_must_lie_outside_a_referenced_vpc() -> None:
    output = {**IDS, "vpcCidr": "192.168.0.0/16"}  # staging routes 192.168.0.0/20 over the VPN
    message, registered = _failing(
        "staging", _borrowing("acme/platform/net"), references={"acme/platform/net": {"network": output}}
    )
    assert "aws-patterns:hybrid.onPremisesCidrs" in message and "192.168.0.0/20" in message
    assert registered == [STACK_REFERENCE]


@pytest.mark.parametrize(
    ("stack_name", "mentions"),
    [(f"acme/{PROJECT}/dev", "exports no 'network' output"), (f"acme/{PROJECT}/staging", "is this stack")],
    ids=["no-network-output", "itself"],
)
def test_a_reference_to_a_stack_without_a_network_is_a_config_error(stack_name: str, mentions: str) -> None:
    message, _ = _failing("staging", _borrowing(stack_name))
    assert message.startswith("aws-patterns:network.existing.stackReference:") and mentions in message


def test_only_the_keys_a_network_needs_are_read_from_the_output() -> None:
    """A foreign stack may export more than the contract; extra keys are not errors."""
    output = {**IDS, "flowLogGroup": "/vpc/flow", "natPublicIps": ["198.51.100.1"]}
    config = config_with("staging", _borrowing("acme/platform/net"))
    run = run_program("staging", True, config=config, references={"acme/platform/net": {"network": output}})
    assert run.by_type(ALB)[0].inputs["subnets"] == IDS["publicSubnetIds"]


# --- the event bus ------------------------------------------------------------------------------

BUS_NAME = "shared-orders"
BUS_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{BUS_NAME}"
BUS_SOURCES = {
    "name": {"name": BUS_NAME},
    "arn": {"arn": BUS_ARN},
    "stackReference": {"stackReference": f"acme/{PROJECT}/staging"},
}


def _with_bus(source: str, preview: bool, **extra: Any) -> Run:
    """Dev (event-driven, microservices publishing to the bus, observability) on the bus of `source`."""
    return run_with("dev", {"eventDriven": {"existingBus": {**BUS_SOURCES[source], **extra}}}, preview=preview)


def _bus_of(source: str) -> tuple[str, str]:
    if source == "stackReference":
        exported = run_cached("staging", preview=False).outputs["eventDriven"]
        return exported["busName"], exported["busArn"]
    return BUS_NAME, BUS_ARN


def _publish_statements(run: Run) -> list[dict[str, Any]]:
    return [
        statement
        for policy in run.by_type(ROLE_POLICY)
        for statement in json.loads(policy.inputs["policy"])["Statement"]
        if "events:PutEvents" in statement["Action"]
    ]


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
@pytest.mark.parametrize("source", sorted(BUS_SOURCES))
def test_a_borrowed_bus_is_not_created_nor_archived(source: str, preview: bool) -> None:
    run = _with_bus(source, preview)
    assert run.by_type(BUS) == []
    assert run.by_type(ARCHIVE) == [], "a borrowed bus is archived only when asked"
    assert run.by_type(RULE) and run.by_type(TARGET)


@pytest.mark.parametrize("source", sorted(BUS_SOURCES))
def test_rules_targets_and_publishers_use_the_borrowed_bus(source: str) -> None:
    run = _with_bus(source, preview=False)
    name, arn = _bus_of(source)
    assert {r.inputs["eventBusName"] for r in run.by_type(RULE)} == {name}
    assert {t.inputs["eventBusName"] for t in run.by_type(TARGET)} == {name}
    statements = _publish_statements(run)
    assert statements, "the orders service publishes events"
    assert all(s["Resource"] == arn for s in statements), "PutEvents on the borrowed bus only"
    publishers = [f for f in run.by_type(FUNCTION) if "EVENT_BUS_NAME" in f.inputs["environment"]["variables"]]
    assert publishers and all(f.inputs["environment"]["variables"]["EVENT_BUS_NAME"] == name for f in publishers)
    assert run.outputs["eventDriven"]["busName"] == name and run.outputs["eventDriven"]["busArn"] == arn
    for alarm in [a for a in run.by_type(ALARM) if a.inputs.get("namespace") == "AWS/Events"]:
        assert alarm.inputs["dimensions"]["EventBusName"] == name


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_a_bus_from_another_stack_reaches_its_consumers_through_the_stack_reference(preview: bool) -> None:
    run = _with_bus("stackReference", preview)
    (reference,) = run.by_type(STACK_REFERENCE)
    for res in run.by_type(RULE) + run.by_type(TARGET):
        assert wired(res, "eventBusName", reference)
    (publisher,) = [p for p in run.by_type(ROLE_POLICY) if wired(p, "policy", reference)]
    if not preview:
        assert _publish_statements(run) == [
            s for s in json.loads(publisher.inputs["policy"])["Statement"] if "events:PutEvents" in s["Action"]
        ]


def test_a_borrowed_bus_is_archived_when_asked() -> None:
    run = _with_bus("name", preview=False, archive=True)
    (archive,) = run.by_type(ARCHIVE)
    assert archive.inputs["eventSourceArn"] == BUS_ARN


def test_rules_on_the_default_bus_alarm_on_the_rule_name_alone() -> None:
    """CloudWatch reports rules of the default bus under RuleName only; with EventBusName the
    alarm would watch a metric that never exists."""
    run = run_with("dev", {"eventDriven": {"existingBus": {"name": "default"}}}, preview=False)
    alarms = [a for a in run.by_type(ALARM) if a.inputs.get("namespace") == "AWS/Events"]
    assert alarms
    assert all(set(a.inputs["dimensions"]) == {"RuleName"} for a in alarms)


@pytest.mark.parametrize(
    ("event_driven_output", "mentions"),
    [
        ({"busName": "other", "busArn": BUS_ARN}, "busArn of that bus"),
        ({"busName": BUS_NAME}, "busArn of that bus"),
        ({"busName": BUS_NAME, "busArn": BUS_ARN.replace("us-east-1", "eu-west-1")}, "eu-west-1"),
    ],
    ids=["name-mismatch", "no-arn", "other-region"],
)
def test_a_referenced_bus_that_does_not_fit_is_a_config_error(event_driven_output: dict, mentions: str) -> None:
    overrides = {"eventDriven": {"existingBus": {"stackReference": "acme/platform/bus"}}}
    message, registered = _failing(
        "dev", overrides, references={"acme/platform/bus": {"eventDriven": event_driven_output}}
    )
    assert message.startswith("aws-patterns:eventDriven.existingBus.stackReference:") and mentions in message
    assert registered == [STACK_REFERENCE]


def test_one_stack_referenced_twice_is_read_once() -> None:
    """Network and bus from the same stack share one StackReference."""
    overrides = {
        **_borrowing("acme/platform/shared"),
        "eventDriven": {"enabled": True, "existingBus": {"stackReference": "acme/platform/shared"}},
    }
    config = config_with("staging", overrides)
    shared = {"network": IDS, "eventDriven": {"busName": BUS_NAME, "busArn": BUS_ARN}}
    run = run_program("staging", True, config=config, references={"acme/platform/shared": shared})
    assert len(run.by_type(STACK_REFERENCE)) == 1
    assert run.by_type(BUS) == [] and not set(r.type for r in run.resources) & NETWORK_TYPES


@pytest.mark.parametrize("source", ["ids", "stackReference"])
def test_prod_on_a_borrowed_network_passes_the_mandatory_review(source: str) -> None:
    """The Well-Architected rules see the borrowed subnets by id (their zones are not in the stack)."""
    run = run_with("prod", SOURCES[source], preview=True)
    assert [f for f in review.review(run, "prod") if f.level == "mandatory"] == []
