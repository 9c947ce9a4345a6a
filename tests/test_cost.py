"""The monthly cost estimate: arithmetic on a small fixture, and no unpriced type in any stack."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import yaml

from tools.cost import ALWAYS_ON, EXAMPLES, FREE, PRICES_FILE, USAGE, Prices, estimate, render, unclassified
from tools.offline import STACKS, Registered, Run, run_cached

TABLE = {
    "region": "us-east-1",
    "currency": "USD",
    "hours_per_month": 100,
    "always_on": {
        "nat_gateway_hour": {"price": 0.5},
        "public_ipv4_hour": {"price": 0.01},
        "alb_hour": {"price": 0.2},
        "interface_endpoint_az_hour": {"price": 0.1},
        "vpn_connection_hour": {"price": 0.3},
        "kms_key_month": {"price": 1.0},
        "secret_month": {"price": 0.4},
        "alarm_month": {"price": 0.1},
        "dashboard_month": {"price": 3.0},
        "ebs_gp3_gb_month": {"price": 0.08},
        "rds_gp3_gb_month": {"price": 0.1},
    },
    "ec2_hour": {"t4g.small": {"price": 0.02}},
    "rds_hour": {"db.t4g.medium": {"price": 0.07}},
    "usage": {key: {"price": 1.0, "unit": key} for keys in USAGE.values() for key in keys}
    | {"nat_data_processed": {"price": 1.0, "unit": "GB"}},
}
PRICES = Prices(TABLE)


def _res(type_: str, name: str, inputs: dict[str, Any], **deps: list[str]) -> Registered:
    return Registered(
        type=type_,
        name=name,
        urn=f"urn:{name}",
        id=None,
        custom=True,
        inputs=inputs,
        outputs={},
        parent="",
        provider="",
        dependencies=[],
        property_dependencies=deps,
        protect=False,
        aliases=[],
    )


def _run(*resources: Registered) -> Run:
    return Run(stack="fixture", preview=False, resources=list(resources))


def _lines(run: Run) -> dict[str, tuple[float, float]]:
    return {line.item: (line.quantity, round(line.monthly, 6)) for line in estimate(run, PRICES)}


def test_hourly_resources_are_priced_per_hour_and_summed() -> None:
    run = _run(
        _res("aws:ec2/natGateway:NatGateway", "nat-0", {}),
        _res("aws:ec2/natGateway:NatGateway", "nat-1", {}),
        _res("aws:ec2/eip:Eip", "eip-0", {}),
        _res("aws:ec2/vpnConnection:VpnConnection", "vpn", {}),
        _res("aws:kms/key:Key", "key", {}),
    )
    assert _lines(run) == {
        "NAT gateway": (2, 2 * 0.5 * 100),
        "Public IPv4 address": (1, 0.01 * 100),
        "Site-to-Site VPN connection": (1, 0.3 * 100),
        "KMS customer-managed key": (1, 1.0),
    }


def test_internet_facing_alb_pays_a_public_address_per_az() -> None:
    public = _run(_res("aws:lb/loadBalancer:LoadBalancer", "alb", {"subnets": ["a", "b", "c"]}))
    assert _lines(public) == {"Application Load Balancer": (1, 20.0), "Public IPv4 address": (3, 3.0)}
    internal = _run(_res("aws:lb/loadBalancer:LoadBalancer", "alb", {"subnets": ["a", "b"], "internal": True}))
    assert _lines(internal) == {"Application Load Balancer": (1, 20.0)}


def test_multi_az_database_costs_two_instances_and_two_copies_of_storage() -> None:
    inputs = {"instanceClass": "db.t4g.medium", "allocatedStorage": 20, "manageMasterUserPassword": True}
    single = _lines(_run(_res("aws:rds/instance:Instance", "db", inputs)))
    multi = _lines(_run(_res("aws:rds/instance:Instance", "db", {**inputs, "multiAz": True})))
    assert single == {
        "RDS db.t4g.medium": (1, 7.0),
        "RDS gp3 GB": (20, 2.0),
        "Secrets Manager secret": (1, 0.4),
    }
    assert multi == {
        "RDS db.t4g.medium Multi-AZ": (1, 14.0),
        "RDS gp3 GB": (40, 4.0),
        "Secrets Manager secret": (1, 0.4),
    }


def test_auto_scaling_group_pays_for_its_minimum_from_its_launch_template() -> None:
    template = _res(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "lt",
        {"instanceType": "t4g.small", "blockDeviceMappings": [{"ebs": {"volumeSize": 10}}]},
    )
    group = _res("aws:autoscaling/group:Group", "asg", {"minSize": 3, "maxSize": 6}, launchTemplate=["urn:lt"])
    assert _lines(_run(template, group)) == {
        "EC2 t4g.small (Auto Scaling minimum)": (3, 3 * 0.02 * 100),
        "EBS gp3 GB": (30, 30 * 0.08),
    }


def test_interface_endpoints_pay_per_az_and_gateway_endpoints_are_free() -> None:
    run = _run(
        _res("aws:ec2/vpcEndpoint:VpcEndpoint", "ssm", {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]}),
        _res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"}),
    )
    assert _lines(run) == {"Interface endpoint AZ": (2, 20.0)}


def test_an_instance_type_without_a_price_is_an_error_naming_it() -> None:
    template = _res("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": "x9.huge"})
    group = _res("aws:autoscaling/group:Group", "asg", {"minSize": 1}, launchTemplate=["urn:lt"])
    with pytest.raises(KeyError, match=r"x9\.huge"):
        estimate(_run(template, group), PRICES)


def test_a_new_type_is_reported_until_it_is_classified() -> None:
    run = _run(_res("aws:ec2/transitGateway:TransitGateway", "tgw", {}), _res("aws:ec2/vpc:Vpc", "vpc", {}))
    assert unclassified(run) == ["aws:ec2/transitGateway:TransitGateway"]


def test_classification_is_unambiguous() -> None:
    assert not set(ALWAYS_ON) & set(USAGE)
    assert not (set(ALWAYS_ON) | set(USAGE)) & FREE


@pytest.mark.parametrize("stack", STACKS)
def test_every_type_the_program_creates_is_priced_or_known_free(stack: str) -> None:
    run = run_cached(stack, preview=False)
    assert unclassified(run) == [], "classify these in tools/cost.py (ALWAYS_ON with a price, USAGE or FREE)"
    lines = estimate(run, Prices.load())  # raises when an instance type or class has no price
    assert all(line.monthly >= 0 for line in lines)


def test_price_table_entries_name_unit_source_and_date() -> None:
    table = yaml.safe_load(PRICES_FILE.read_text())
    entries = [*table["always_on"].values(), *table["usage"].values()]
    entries += [*table["ec2_hour"].values(), *table["rds_hour"].values()]
    for entry in entries:
        assert entry["price"] > 0
        assert entry["source"].startswith("https://aws.amazon.com/"), entry
        seen = entry["seen"]
        assert seen is None or datetime.date.fromisoformat(seen) <= datetime.date.today(), entry
    for entry in [*table["always_on"].values(), *table["usage"].values()]:
        assert entry["unit"]
    assert table["region"] and table["currency"] == "USD" and table["hours_per_month"] == 730


def test_every_price_key_the_code_uses_is_in_the_table() -> None:
    table = yaml.safe_load(PRICES_FILE.read_text())
    used = {key for keys in USAGE.values() for key in keys} | {k for keys, _, _ in EXAMPLES for k in keys}
    assert used | {"nat_data_processed"} <= set(table["usage"])
    template = _res("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"instanceType": next(iter(table["ec2_hour"]))})
    inputs = {
        "aws:autoscaling/group:Group": {"minSize": 1},
        "aws:ec2/instance:Instance": {"instanceType": next(iter(table["ec2_hour"]))},
        "aws:rds/instance:Instance": {"instanceClass": next(iter(table["rds_hour"])), "manageMasterUserPassword": True},
        "aws:ec2/vpcEndpoint:VpcEndpoint": {"vpcEndpointType": "Interface", "subnetIds": ["a"]},
    }
    one_of_each = [_res(t, f"r{i}", inputs.get(t, {}), launchTemplate=["urn:lt"]) for i, t in enumerate(ALWAYS_ON)]
    lines = estimate(_run(template, *one_of_each), Prices.load())  # a missing key raises KeyError
    assert sum(line.monthly for line in lines) > 0


def test_side_by_side_totals_are_the_sums_of_each_stack() -> None:
    small = _run(_res("aws:ec2/natGateway:NatGateway", "nat", {}))
    big = _run(
        *[_res("aws:ec2/natGateway:NatGateway", f"nat-{i}", {}) for i in range(3)], _res("aws:kms/key:Key", "k", {})
    )
    text = render({"dev": small, "prod": big}, PRICES)
    total = next(line for line in text.splitlines() if line.startswith("Total"))
    assert [float(v.replace(",", "")) for v in re.findall(r"\$([\d,]+\.\d\d)", total)] == [50.0, 151.0]
    assert "Priced per use" in text


def test_usage_examples_follow_the_stated_volume() -> None:
    prices = Prices.load()
    (lambda_example,) = [cost_ for keys, volume, cost_ in EXAMPLES if "lambda_requests" in keys]
    # 1M requests + 1M invocations of 0.1 s at 0.25 GB of compute.
    expected = prices.usage("lambda_requests") + 25_000 * prices.usage("lambda_arm_gb_second")
    assert lambda_example(prices) == pytest.approx(expected)
