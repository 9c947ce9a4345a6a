"""The Hybrid component, asserted on what the program registers (type and wiring)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.runtime.settings as pulumi_settings
import pulumi_aws as aws
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from components.config import ConfigError, StackConfig, validate
from components.defaults import deep_merge
from components.hybrid import Hybrid, HybridArgs
from components.naming import name_tag
from components.network import Network, NetworkArgs
from tests.conftest import run_with
from tools.offline import (
    UNKNOWN,
    Registered,
    Run,
    SecretConfigValue,
    mock_secret,
    run_cached,
    run_program,
    stack_config,
    wired,
)

CGW = "aws:ec2/customerGateway:CustomerGateway"
VGW = "aws:ec2/vpnGateway:VpnGateway"
ATTACHMENT = "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment"
VPN = "aws:ec2/vpnConnection:VpnConnection"
STATIC_ROUTE = "aws:ec2/vpnConnectionRoute:VpnConnectionRoute"
PROPAGATION = "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SUBNET = "aws:ec2/subnet:Subnet"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
COMPONENT = "aws-patterns:hybrid:Hybrid"
REGION = "us-east-1"
PSKS = ("FirstTunnel.key_1", "secondTunnelKey.2")


def _config(stack: str, config: dict[str, str] | None = None) -> StackConfig:
    values = config or stack_config(stack)
    raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("aws-patterns:")}
    decoded = {k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()}
    secret = [k.split(":", 1)[1] for k, v in values.items() if isinstance(v, SecretConfigValue)]
    return validate(decoded, values["aws:region"], secret)


def _mine(run: Run, type_: str) -> list[Registered]:
    (component,) = run.by_type(COMPONENT)
    return [r for r in run.children(component) if r.type == type_]


def _tables_of_tier(run: Run, tier: str) -> list[Registered]:
    subnets = [s for s in run.by_type(SUBNET) if s.inputs["tags"]["tier"] == tier]
    associations = [a for a in run.by_type(ASSOCIATION) if any(wired(a, "subnetId", s) for s in subnets)]
    return [t for t in run.by_type(ROUTE_TABLE) if any(wired(a, "routeTableId", t) for a in associations)]


def _component_run(hybrid: dict[str, Any]) -> Run:
    """Only the network and this component, for staging's hybrid block with `hybrid` merged in."""
    config = stack_config("staging")
    config["aws-patterns:hybrid"] = json.dumps(deep_merge(json.loads(config["aws-patterns:hybrid"]), hybrid))
    cfg = _config("staging", config)

    def program() -> None:
        Hybrid("hybrid", HybridArgs.from_config(cfg, Network("network", NetworkArgs.from_config(cfg)).ids))

    return run_program("staging", preview=True, config=config, program=program)


@pytest.fixture
def hybrid_run(stack_run: Run) -> Run:
    """A shipped stack's run, for the stacks that enable the pattern."""
    if not _config(stack_run.stack).hybrid.enabled:
        pytest.skip(f"{stack_run.stack} does not enable hybrid")
    return stack_run


def test_shipped_staging_and_prod_enable_hybrid_and_dev_does_not() -> None:
    assert [_config(s).hybrid.enabled for s in ("dev", "staging", "prod")] == [False, True, True]
    dev = run_cached("dev", preview=True)
    assert dev.by_type(COMPONENT) == [] and "hybrid" not in dev.outputs


def test_gateways_and_connection_from_config(hybrid_run: Run) -> None:
    cfg = _config(hybrid_run.stack).hybrid
    (cgw,) = _mine(hybrid_run, CGW)
    (vgw,) = _mine(hybrid_run, VGW)
    (attachment,) = _mine(hybrid_run, ATTACHMENT)
    (vpn,) = _mine(hybrid_run, VPN)
    (vpc,) = hybrid_run.by_type("aws:ec2/vpc:Vpc")
    assert cgw.inputs["ipAddress"] == cfg.customer_gateway_ip
    assert int(cgw.inputs["bgpAsn"]) == cfg.customer_gateway_asn
    assert cgw.inputs["type"] == vpn.inputs["type"] == "ipsec.1"
    assert int(vgw.inputs["amazonSideAsn"]) == cfg.amazon_side_asn
    # Attached by its own resource only, so the attachment is something others can wait for.
    assert "vpcId" not in vgw.inputs
    assert wired(attachment, "vpcId", vpc) and wired(attachment, "vpnGatewayId", vgw)
    assert wired(vpn, "customerGatewayId", cgw) and wired(vpn, "vpnGatewayId", vgw)
    assert "transitGatewayId" not in vpn.inputs


def test_propagation_into_every_private_and_isolated_table_after_the_attachment(hybrid_run: Run) -> None:
    (vgw,) = _mine(hybrid_run, VGW)
    (attachment,) = _mine(hybrid_run, ATTACHMENT)
    propagations = _mine(hybrid_run, PROPAGATION)
    wanted = _tables_of_tier(hybrid_run, "private") + _tables_of_tier(hybrid_run, "isolated")
    assert len(wanted) == _config(hybrid_run.stack).network.az_count + 1
    for table in wanted:
        (propagation,) = [p for p in propagations if wired(p, "routeTableId", table)]
        assert wired(propagation, "vpnGatewayId", vgw)
        # Neither input comes from the attachment, so only depends_on can order it after it.
        assert attachment.urn in propagation.dependencies
    assert len(propagations) == len(wanted), "no propagation into the public table"


def test_no_propagating_vgws_anywhere(stack_run: Run) -> None:
    for res in stack_run.aws_resources:
        assert "propagatingVgws" not in res.inputs, f"{res.type} {res.name} mixes propagating_vgws in"


def test_tunnel_options_per_tunnel(hybrid_run: Run) -> None:
    cfg = _config(hybrid_run.stack)
    (vpn,) = _mine(hybrid_run, VPN)
    (group,) = _mine(hybrid_run, LOG_GROUP)
    assert group.inputs["retentionInDays"] == cfg.common.log_retention_days
    chosen = cfg.hybrid.tunnels or []
    for n in (1, 2):
        assert vpn.inputs[f"tunnel{n}IkeVersions"] == ["ikev2"]
        assert vpn.inputs[f"tunnel{n}DpdTimeoutAction"] == cfg.hybrid.dpd_timeout_action
        inside = chosen[n - 1].inside_cidr if chosen else None
        assert vpn.inputs.get(f"tunnel{n}InsideCidr") == inside
        assert f"tunnel{n}PresharedKey" not in vpn.inputs, "shipped stacks let AWS generate the keys"
        logs = vpn.inputs[f"tunnel{n}LogOptions"]["cloudwatchLogOptions"]
        assert logs["logEnabled"] is True
        assert logs.get("bgpLogEnabled", False) is (cfg.hybrid.routing == "bgp")
        assert wired(vpn, f"tunnel{n}LogOptions", group)


@pytest.mark.parametrize("routing", ["static", "bgp"])
def test_static_routes_per_cidr_only_when_static(routing: str) -> None:
    cidrs = ["192.168.0.0/20", "172.20.0.0/16", "10.99.0.0/24"]
    run = _component_run({"routing": routing, "onPremisesCidrs": cidrs})
    (vpn,) = _mine(run, VPN)
    routes = _mine(run, STATIC_ROUTE)
    assert vpn.inputs["staticRoutesOnly"] is (routing == "static")
    if routing == "static":
        assert sorted(r.inputs["destinationCidrBlock"] for r in routes) == sorted(cidrs)
        assert all(wired(r, "vpnConnectionId", vpn) for r in routes)
    else:
        assert routes == []
    # Propagation carries static and BGP routes alike.
    assert len(_mine(run, PROPAGATION)) == 3


def test_removing_a_cidr_keeps_the_others_names() -> None:
    before = _component_run({"onPremisesCidrs": ["192.168.0.0/20", "172.20.0.0/16"]})
    after = _component_run({"onPremisesCidrs": ["172.20.0.0/16"]})
    kept = {r.name: r.inputs["destinationCidrBlock"] for r in _mine(after, STATIC_ROUTE)}
    assert kept.items() <= {r.name: r.inputs["destinationCidrBlock"] for r in _mine(before, STATIC_ROUTE)}.items()


def test_tunnel_logging_can_be_turned_off() -> None:
    run = _component_run({"tunnelLogging": False})
    (vpn,) = _mine(run, VPN)
    assert _mine(run, LOG_GROUP) == []
    assert "tunnel1LogOptions" not in vpn.inputs and "tunnel2LogOptions" not in vpn.inputs


# --- security groups ---------------------------------------------------------------------------


@pytest.mark.parametrize("preview", [True, False])
def test_on_premises_cidrs_reach_the_app_port_and_nothing_else(preview: bool) -> None:
    port = 9443  # not the default, so the rule must follow multi-tier's setting
    run = run_with("prod", {"multiTier": {"enabled": True, "appPort": port}}, preview=preview)
    cfg = _config("prod").hybrid
    # The app tier's group is the one its instances are launched with.
    (template,) = run.by_type("aws:ec2/launchTemplate:LaunchTemplate")
    groups = run.by_type("aws:ec2/securityGroup:SecurityGroup")
    (app_group,) = [g for g in groups if wired(template, "networkInterfaces", g)]
    rules = _mine(run, INGRESS)
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == sorted(cfg.on_premises_cidrs)
    for rule in rules:
        assert wired(rule, "securityGroupId", app_group)
        assert rule.inputs["ipProtocol"] == "tcp"
        assert rule.inputs["fromPort"] == rule.inputs["toPort"] == port
    assert _mine(run, "aws:ec2/securityGroup:SecurityGroup") == []
    assert _mine(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") == []
    assert _mine(run, "aws:ec2/securityGroupRule:SecurityGroupRule") == []


def test_no_security_group_rules_without_the_app_tier() -> None:
    run = run_with("prod", {"multiTier": {"enabled": False}}, preview=True)
    assert run.by_type(COMPONENT) and _mine(run, INGRESS) == []


@dataclass
class _AppTier:
    app_security_group: aws.ec2.SecurityGroup
    app_port: int


@pytest.mark.parametrize("port", [443, 8443])
def test_component_opens_exactly_the_given_port(port: int) -> None:
    cfg = _config("staging")

    def program() -> None:
        network = Network("network", NetworkArgs.from_config(cfg))
        group = aws.ec2.SecurityGroup("app", vpc_id=network.vpc.id, tags=name_tag("app"))
        Hybrid("hybrid", HybridArgs.from_config(cfg, network.ids, app_tier=_AppTier(group, port)))

    run = run_program("staging", preview=True, config=stack_config("staging"), program=program)
    (rule,) = _mine(run, INGRESS)
    assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["cidrIpv4"]) == (
        port,
        port,
        cfg.hybrid.on_premises_cidrs[0],
    )
    assert wired(rule, "securityGroupId", run.one("aws:ec2/securityGroup:SecurityGroup", "app"))


# --- secrets and outputs -----------------------------------------------------------------------


def _stack_with_secure_keys(tmp_path: Any, plain: bool = False) -> dict[str, str]:
    """A stack file as `pulumi config set --secret --path ...tunnels[N].presharedKey` writes it."""
    lines = [
        "config:",
        "  aws:region: us-east-1",
        "  aws-patterns:environment: staging",
        "  aws-patterns:hybrid:",
        "    enabled: true",
        "    customerGatewayIp: 52.95.110.1",
        "    onPremisesCidrs: [192.168.0.0/20]",
        "    tunnels:",
    ]
    for n, psk in enumerate(PSKS):
        value = psk if plain else f"{{secure: AAABAKc{n}ciphertext}}"
        lines += [f"      - insideCidr: 169.254.20.{4 * n}/30", f"        presharedKey: {value}"]
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text("\n".join(lines) + "\n")
    return stack_config("staging", path)


def _output_leaves(value: Any) -> list[pulumi.Output]:
    if isinstance(value, pulumi.Output):
        return [value]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _output_leaves(v)]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _output_leaves(v)]
    return []


def _plain_outputs(keys: list[str]) -> list[str]:
    """Stack outputs of the last run that hold one of `keys` without being marked secret."""
    root = pulumi_settings.get_root_resource()
    leaky = []
    for leaf in _output_leaves(root.outputs):  # type: ignore[union-attr]
        if _sync_await(leaf.is_secret()):
            continue
        text = json.dumps(_sync_await(leaf.future()), default=str)
        leaky += [text for key in keys if key in text]
    return leaky


def test_secure_stack_values_reach_the_tunnels_as_secrets(tmp_path: Any) -> None:
    config = _stack_with_secure_keys(tmp_path)
    assert isinstance(config["aws-patterns:hybrid"], SecretConfigValue)
    run = run_program("staging", preview=False, config=config)
    (vpn,) = _mine(run, VPN)
    keys = [mock_secret(f"AAABAKc{n}ciphertext") for n in range(2)]
    for n, key in enumerate(keys, start=1):
        psk = vpn.inputs[f"tunnel{n}PresharedKey"]
        assert rpc.is_rpc_secret(psk), "a pre-shared key must reach the engine as a secret"
        assert rpc.unwrap_rpc_secret(psk) == key
        assert vpn.inputs[f"tunnel{n}InsideCidr"] == f"169.254.20.{4 * (n - 1)}/30"
    assert _plain_outputs(keys) == []
    assert any(key in json.dumps(run.outputs["hybrid"]) for key in keys), "the mock embeds the keys"


def test_plain_text_keys_in_a_stack_file_are_refused_without_echo(tmp_path: Any) -> None:
    monitors: list = []
    with pytest.raises(ConfigError) as info:
        run_program("staging", preview=True, config=_stack_with_secure_keys(tmp_path, plain=True), monitors=monitors)
    message = str(info.value)
    assert "aws-patterns:hybrid.tunnels[0].presharedKey: must come from secret config" in message
    assert "aws-patterns:hybrid.tunnels[1].presharedKey: must come from secret config" in message
    assert not any(psk in message for psk in PSKS)
    assert [req.type for req, _ in monitors[0].requests if req.type != "pulumi:pulumi:Stack"] == []


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_customer_gateway_configuration_is_a_secret_output(stack: str) -> None:
    run_program(stack, preview=False)  # _plain_outputs reads the last run's stack outputs
    # The mock puts AWS-generated keys in the configuration, as AWS does.
    assert _plain_outputs(["awsgenerated.psk1", "awsgenerated.psk2"]) == [], "device configuration in plain text"


def test_tunnel_outside_addresses_exported(hybrid_run: Run) -> None:
    (vpn,) = _mine(hybrid_run, VPN)
    exported = hybrid_run.outputs["hybrid"]
    if hybrid_run.preview:
        assert exported["tunnelOutsideAddresses"] == [UNKNOWN, UNKNOWN]
        assert exported["customerGatewayConfiguration"] == UNKNOWN
    else:
        assert exported["tunnelOutsideAddresses"] == [vpn.outputs["tunnel1Address"], vpn.outputs["tunnel2Address"]]
        assert exported["vpnConnectionId"] == vpn.id
