"""The hybrid pattern: a site-to-site VPN between the VPC and an on-premises network.

AWS side: a virtual private gateway attached to the VPC. On-premises side: a customer gateway
(the device's public address and BGP ASN). Between them one VPN connection with two IPsec
tunnels, each ending on a different AWS endpoint, so the on-premises device should bring both
up. Routes to the on-premises CIDRs reach the private and isolated route tables by route
propagation (static VPN routes and BGP-learned routes alike), and the only thing opened to
on-premises clients is the app tier's port, for the on-premises CIDRs.

Direct Connect is not deployed here; a Direct Connect private virtual interface (or a Direct
Connect gateway association) would attach to this same virtual private gateway, and the same
propagation would carry its routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import pulumi
import pulumi_aws as aws

from components.naming import name_tag
from components.network import NetworkIds
from components.observability import Monitored

if TYPE_CHECKING:
    from components.config import StackConfig

# IKEv1 is kept by AWS for old devices only; every current device speaks IKEv2.
IKE_VERSIONS = ["ikev2"]


class AppTier(Protocol):
    """What the hybrid pattern needs of the multi-tier pattern: the app tier's group and port."""

    app_security_group: aws.ec2.SecurityGroup
    app_port: int


@dataclass(frozen=True)
class TunnelSettings:
    """What the stack chose for one tunnel; None lets AWS choose (a random PSK, a free /30)."""

    inside_cidr: str | None = None
    # Never part of a repr: Args objects end up in tracebacks and debug logs.
    preshared_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class HybridArgs:
    vpc_id: pulumi.Input[str]
    private_route_table_ids: tuple[pulumi.Input[str], ...]
    isolated_route_table_ids: tuple[pulumi.Input[str], ...]
    customer_gateway_ip: str
    on_premises_cidrs: tuple[str, ...]
    customer_gateway_asn: int = 65000
    amazon_side_asn: int = 64512
    static_routing: bool = False
    dpd_timeout_action: str = "restart"
    tunnels: tuple[TunnelSettings, TunnelSettings] = (TunnelSettings(), TunnelSettings())
    # Days to keep tunnel logs; None turns tunnel logging off.
    log_retention_days: int | None = None
    # The multi-tier app tier, when there is one: on-premises CIDRs may reach this port only.
    app_security_group: aws.ec2.SecurityGroup | None = None
    app_port: int | None = None

    @classmethod
    def from_config(
        cls,
        cfg: StackConfig,
        network: NetworkIds,
        app_tier: AppTier | None = None,
    ) -> HybridArgs:
        hybrid = cfg.hybrid
        assert hybrid.customer_gateway_ip is not None, "the config schema requires it when enabled"
        first, second = hybrid.tunnels or [None, None]
        return cls(
            vpc_id=network.vpc_id,
            private_route_table_ids=tuple(network.private_route_table_ids),
            isolated_route_table_ids=tuple(network.isolated_route_table_ids),
            customer_gateway_ip=hybrid.customer_gateway_ip,
            on_premises_cidrs=tuple(hybrid.on_premises_cidrs),
            customer_gateway_asn=hybrid.customer_gateway_asn,
            amazon_side_asn=hybrid.amazon_side_asn,
            static_routing=hybrid.routing == "static",
            dpd_timeout_action=hybrid.dpd_timeout_action,
            tunnels=(
                TunnelSettings(first.inside_cidr, first.preshared_key) if first else TunnelSettings(),
                TunnelSettings(second.inside_cidr, second.preshared_key) if second else TunnelSettings(),
            ),
            log_retention_days=cfg.common.log_retention_days if hybrid.tunnel_logging else None,
            app_security_group=app_tier.app_security_group if app_tier else None,
            app_port=app_tier.app_port if app_tier else None,
        )


def _resource_suffix(cidr: str) -> str:
    """A logical-name part per CIDR, so removing one CIDR never renames (replaces) the others."""
    return cidr.replace("/", "-")


class Hybrid(pulumi.ComponentResource):
    """Customer gateway, virtual private gateway, VPN connection, route propagation, SG rules."""

    customer_gateway: aws.ec2.CustomerGateway
    vpn_gateway: aws.ec2.VpnGateway
    attachment: aws.ec2.VpnGatewayAttachment
    vpn_connection: aws.ec2.VpnConnection
    static_routes: list[aws.ec2.VpnConnectionRoute]
    route_propagations: list[aws.ec2.VpnGatewayRoutePropagation]
    app_ingress_rules: list[aws.vpc.SecurityGroupIngressRule]
    log_group: aws.cloudwatch.LogGroup | None
    tunnel_outside_addresses: list[pulumi.Output[str]]
    customer_gateway_configuration: pulumi.Output[str]

    def __init__(self, name: str, args: HybridArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:hybrid:Hybrid", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.customer_gateway = aws.ec2.CustomerGateway(
            name,
            ip_address=args.customer_gateway_ip,
            bgp_asn=str(args.customer_gateway_asn),
            type="ipsec.1",
            tags=name_tag(name, "on-premises"),
            opts=child,
        )
        # Created unattached and attached by a resource of its own, so that whatever needs the
        # attachment (route propagation) can depend on exactly that.
        self.vpn_gateway = aws.ec2.VpnGateway(
            name, amazon_side_asn=str(args.amazon_side_asn), tags=name_tag(name), opts=child
        )
        self.attachment = aws.ec2.VpnGatewayAttachment(
            name, vpc_id=args.vpc_id, vpn_gateway_id=self.vpn_gateway.id, opts=child
        )

        self.log_group = None
        if args.log_retention_days is not None:
            self.log_group = aws.cloudwatch.LogGroup(
                f"{name}-tunnels",
                retention_in_days=args.log_retention_days,
                tags=name_tag(name, "tunnels"),
                opts=child,
            )

        tunnel_options = [self._tunnel_options(n, tunnel, args) for n, tunnel in enumerate(args.tunnels, start=1)]
        self.vpn_connection = aws.ec2.VpnConnection(
            name,
            customer_gateway_id=self.customer_gateway.id,
            vpn_gateway_id=self.vpn_gateway.id,
            type="ipsec.1",
            static_routes_only=args.static_routing,
            **tunnel_options[0],
            **tunnel_options[1],
            tags=name_tag(name),
            opts=child,
        )

        # With BGP the device advertises its networks itself; static routes would only shadow them.
        self.static_routes = []
        if args.static_routing:
            self.static_routes = [
                aws.ec2.VpnConnectionRoute(
                    f"{name}-{_resource_suffix(cidr)}",
                    vpn_connection_id=self.vpn_connection.id,
                    destination_cidr_block=cidr,
                    opts=child,
                )
                for cidr in args.on_premises_cidrs
            ]

        # AWS refuses to propagate from a gateway not yet attached to the table's VPC, and the
        # ids alone do not say so: the dependency on the attachment is what orders them. Routes
        # are propagated with these resources only (never `propagating_vgws` on the tables, which
        # would fight them over the same setting).
        after_attachment = pulumi.ResourceOptions(parent=self, depends_on=[self.attachment])
        tiers = (("private", args.private_route_table_ids), ("isolated", args.isolated_route_table_ids))
        self.route_propagations = [
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-{tier}-{i}",
                vpn_gateway_id=self.vpn_gateway.id,
                route_table_id=table_id,
                opts=after_attachment,
            )
            for tier, table_ids in tiers
            for i, table_id in enumerate(table_ids)
        ]

        self.app_ingress_rules = []
        if args.app_security_group is not None and args.app_port is not None:
            self.app_ingress_rules = [
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-app-{_resource_suffix(cidr)}",
                    security_group_id=args.app_security_group.id,
                    cidr_ipv4=cidr,
                    ip_protocol="tcp",
                    from_port=args.app_port,
                    to_port=args.app_port,
                    description=f"on-premises {cidr} to the app tier over the VPN",
                    tags=name_tag(name, "app", _resource_suffix(cidr)),
                    opts=child,
                )
                for cidr in args.on_premises_cidrs
            ]

        self.tunnel_outside_addresses = [self.vpn_connection.tunnel1_address, self.vpn_connection.tunnel2_address]
        # The device configuration carries both pre-shared keys in plain text.
        self.customer_gateway_configuration = pulumi.Output.secret(self.vpn_connection.customer_gateway_configuration)
        self.register_outputs(
            {
                "vpnConnectionId": self.vpn_connection.id,
                "vpnGatewayId": self.vpn_gateway.id,
                "customerGatewayId": self.customer_gateway.id,
                "tunnelOutsideAddresses": self.tunnel_outside_addresses,
                "customerGatewayConfiguration": self.customer_gateway_configuration,
            }
        )

    def monitored(self) -> Monitored:
        """What of this pattern gets alarms and a dashboard section (components/observability.py)."""
        return Monitored("Hybrid", vpn_connections={"vpn": self.vpn_connection})

    def _tunnel_options(self, n: int, tunnel: TunnelSettings, args: HybridArgs) -> dict[str, object]:
        """The `tunnel<n>_*` arguments of the VPN connection for one tunnel."""
        options: dict[str, object] = {
            f"tunnel{n}_ike_versions": IKE_VERSIONS,
            f"tunnel{n}_dpd_timeout_action": args.dpd_timeout_action,
        }
        if tunnel.inside_cidr is not None:
            options[f"tunnel{n}_inside_cidr"] = tunnel.inside_cidr
        if tunnel.preshared_key is not None:
            # The config arrives as plain text; pulumi-aws also marks this input secret, but the
            # key must not depend on a provider version to stay out of the state in clear.
            options[f"tunnel{n}_preshared_key"] = pulumi.Output.secret(tunnel.preshared_key)
        if self.log_group is not None:
            # The provider has one pair of option classes per tunnel number.
            log_options = getattr(aws.ec2, f"VpnConnectionTunnel{n}LogOptionsArgs")
            cloudwatch_options = getattr(aws.ec2, f"VpnConnectionTunnel{n}LogOptionsCloudwatchLogOptionsArgs")
            options[f"tunnel{n}_log_options"] = log_options(
                cloudwatch_log_options=cloudwatch_options(
                    log_enabled=True,
                    log_group_arn=self.log_group.arn,
                    log_output_format="json",
                    # BGP session logs exist only when BGP is in use.
                    bgp_log_enabled=not args.static_routing,
                    bgp_log_group_arn=None if args.static_routing else self.log_group.arn,
                    bgp_log_output_format=None if args.static_routing else "json",
                )
            )
        return options
