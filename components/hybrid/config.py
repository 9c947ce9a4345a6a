"""The `hybrid` config block: the site-to-site VPN's schema and the address rules it applies."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from components.defaults import NAMESPACE
from components.schema import CROSS_FIELD, Ipv4Cidr, Model

# Tunnel inside CIDRs AWS keeps for itself (CreateVpnConnection, TunnelInsideCidr).
VPN_INSIDE_RANGE = ipaddress.IPv4Network("169.254.0.0/16")
VPN_RESERVED_INSIDE_CIDRS = tuple(
    ipaddress.IPv4Network(c)
    for c in (
        "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30",
        "169.254.4.0/30", "169.254.5.0/30", "169.254.169.252/30",
    )
)  # fmt: skip
# Ranges a customer gateway's outside address cannot be in: it must be reachable from the
# internet. Documentation ranges (RFC 5737) are not listed: they are placeholders (see
# `documentation_address`), so the shipped stacks can carry an address that is obviously an example.
NOT_PUBLIC_RANGES = tuple(
    (ipaddress.IPv4Network(cidr), reason)
    for cidr, reason in (
        ("0.0.0.0/8", "'this network' (RFC 1122)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT space (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (RFC 1112), including broadcast"),
    )
)
DOCUMENTATION_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
# On-premises CIDRs become VPN routes and security-group rules; these can never be either.
_NOT_ROUTABLE = tuple(
    ipaddress.IPv4Network(c) for c in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
# Private ASNs the virtual private gateway accepts (16-bit and 32-bit ranges).
AMAZON_SIDE_ASN_RANGES = ((64512, 65534), (4200000000, 4294967294))
# `bgp_asn` of a customer gateway; 7224 and 9059 are Amazon's own and refused.
CUSTOMER_ASN_RANGE = (1, 2147483647)
CUSTOMER_ASN_RESERVED = (7224, 9059)
# A VPN connection's static routes and the app tier's security group (60 inbound rules by
# default, some used by the pattern itself) both bound how many on-premises CIDRs fit.
MAX_ON_PREMISES_CIDRS = 50
_PRESHARED_KEY = re.compile(r"[A-Za-z0-9._]{8,64}")
HYBRID_KEY = "hybrid"


def _public_address(value: str) -> str:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError("must be an IPv4 address (the device's static public address)") from None
    if str(address) != value:
        raise ValueError(f"is not in canonical form; did you mean {address}?")
    for network, reason in NOT_PUBLIC_RANGES:
        if address in network:
            raise ValueError(f"is {reason} ({network}); a customer gateway needs a public unicast address")
    return value


def _inside_cidr(value: str) -> str:
    net = ipaddress.IPv4Network(value)
    if net.prefixlen != 30 or not net.subnet_of(VPN_INSIDE_RANGE):
        raise ValueError(f"must be a /30 inside {VPN_INSIDE_RANGE}")
    if net in VPN_RESERVED_INSIDE_CIDRS:
        reserved = ", ".join(str(c) for c in VPN_RESERVED_INSIDE_CIDRS)
        raise ValueError(f"is reserved by AWS (reserved: {reserved})")
    return value


def _on_premises_cidr(value: str) -> str:
    net = ipaddress.IPv4Network(value)
    clash = next((r for r in _NOT_ROUTABLE if net.overlaps(r)), None)
    if clash is not None:
        raise ValueError(f"overlaps {clash}, which cannot be routed through a VPN")
    return value


def _amazon_side_asn(value: int) -> int:
    if not any(low <= value <= high for low, high in AMAZON_SIDE_ASN_RANGES):
        raise ValueError("must be a private ASN: 64512-65534 or 4200000000-4294967294")
    return value


def _customer_asn(value: int) -> int:
    low, high = CUSTOMER_ASN_RANGE
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}")
    if value in CUSTOMER_ASN_RESERVED:
        raise ValueError(f"is reserved by Amazon (reserved: {list(CUSTOMER_ASN_RESERVED)})")
    return value


def _preshared_key(value: str, info: ValidationInfo) -> str:
    # Messages here never repeat the value: `_describe` redacts anything under a secret key.
    if not _PRESHARED_KEY.fullmatch(value) or value.startswith("0"):
        raise ValueError("must be 8-64 letters, digits, '.' or '_' and must not start with 0")
    if HYBRID_KEY not in (info.context or {}).get("secret_keys", ()):
        raise ValueError(
            "must come from secret config: pulumi config set --secret --path "
            f"'{NAMESPACE}:{HYBRID_KEY}.tunnels[N].presharedKey' <key>"
        )
    return value


class VpnTunnel(Model):
    """Options of one of a VPN connection's two tunnels; AWS chooses whatever is left unset."""

    inside_cidr: Annotated[Ipv4Cidr, AfterValidator(_inside_cidr)] | None = None
    """The tunnel's inside CIDR: a /30 in 169.254.0.0/16, not AWS's reserved 169.254.0.0/30 to 169.254.5.0/30 or
    169.254.169.252/30, different per tunnel; unset: AWS picks one."""
    preshared_key: Annotated[str, AfterValidator(_preshared_key)] | None = None
    """8-64 letters, digits, `.` or `_`, not starting with `0`, and only as a secret (`pulumi config set --secret
    --path 'aws-patterns:hybrid.tunnels[0].presharedKey' <key>`); unset: AWS generates one."""


class HybridConfig(Model):
    """Site-to-site VPN between the VPC and an on-premises network (components/hybrid/component.py)."""

    enabled: bool
    """Build the site-to-site VPN to an on-premises network (builds the network too); needs `customerGatewayIp` and
    `onPremisesCidrs`."""
    customer_gateway_ip: Annotated[str, AfterValidator(_public_address)] | None = None
    """Static public IPv4 address of the on-premises VPN device; refused if private (RFC 1918), carrier-grade NAT
    (100.64.0.0/10), loopback, link-local, multicast, reserved, 0.0.0.0/8, 192.0.0.0/24 or 198.18.0.0/15;
    documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are accepted with a warning, as
    examples only."""
    customer_gateway_asn: Annotated[int, AfterValidator(_customer_asn)]
    """BGP ASN of the on-premises device, 1-2147483647 except Amazon's 7224 and 9059; must differ from
    `amazonSideAsn` (AWS requires one even with static routing)."""
    amazon_side_asn: Annotated[int, AfterValidator(_amazon_side_asn)]
    """Private BGP ASN of the virtual private gateway: 64512-65534 or 4200000000-4294967294."""
    routing: Literal["static", "bgp"]
    """`bgp` (the device advertises its networks; the tunnels fail over by themselves) or `static` (one VPN route per
    `onPremisesCidrs` entry)."""
    on_premises_cidrs: list[Annotated[Ipv4Cidr, AfterValidator(_on_premises_cidr)]] = Field(default_factory=list)
    """On-premises IPv4 CIDRs, 1-50, canonical, overlapping neither `network.cidr`, each other, 0.0.0.0/8, loopback,
    link-local, multicast nor reserved space; they get the static routes (static routing) and the only
    security-group rules (the app tier's port, with `multiTier`)."""
    dpd_timeout_action: Literal["clear", "none", "restart"]
    """What AWS does when dead-peer detection times out: `restart` (renegotiate), `clear` (end the session) or
    `none`."""
    tunnel_logging: bool
    """Tunnel logs (IKE/IPsec, and BGP with `bgp` routing) to a CloudWatch log group kept `common.logRetentionDays`."""
    tunnels: list[VpnTunnel] = Field(default_factory=list)
    """Options of the connection's two tunnels: both or none, each key optional (AWS chooses what is unset)."""

    @model_validator(mode="after")
    def _consistent(self) -> HybridConfig:
        if self.enabled and self.customer_gateway_ip is None:
            raise ValueError(f"{CROSS_FIELD}customerGatewayIp: required when hybrid is enabled")
        if self.enabled and not self.on_premises_cidrs:
            raise ValueError(f"{CROSS_FIELD}onPremisesCidrs: list at least one CIDR when hybrid is enabled")
        if len(self.on_premises_cidrs) > MAX_ON_PREMISES_CIDRS:
            raise ValueError(
                f"{CROSS_FIELD}onPremisesCidrs: at most {MAX_ON_PREMISES_CIDRS} CIDRs "
                f"(got {len(self.on_premises_cidrs)}); summarise them into larger blocks"
            )
        cidrs = [ipaddress.IPv4Network(c) for c in self.on_premises_cidrs]
        for i, a in enumerate(cidrs):
            for b in cidrs[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"{CROSS_FIELD}onPremisesCidrs: {a} overlaps {b}")
        if self.customer_gateway_asn == self.amazon_side_asn:
            raise ValueError(
                f"{CROSS_FIELD}customerGatewayAsn: {self.customer_gateway_asn} equals amazonSideAsn; "
                "the two BGP peers need different ASNs"
            )
        if self.tunnels:
            if len(self.tunnels) != 2:
                raise ValueError(
                    f"{CROSS_FIELD}tunnels: list both of the connection's 2 tunnels or none (got {len(self.tunnels)})"
                )
            inside = [t.inside_cidr for t in self.tunnels if t.inside_cidr is not None]
            if len(set(inside)) != len(inside):
                raise ValueError(f"{CROSS_FIELD}tunnels: both tunnels use inside CIDR {inside[0]}")
        return self


def on_premises_outside_the_vpc(cfg: Any) -> None:
    """On-premises CIDRs must not overlap the VPC: traffic to them would never leave it."""
    if cfg.network.existing is not None:
        return  # a borrowed VPC's CIDR is checked with the rest of it (components/schema.py: network_problems)
    vpc = ipaddress.IPv4Network(cfg.network.cidr)
    for cidr in cfg.hybrid.on_premises_cidrs:
        if ipaddress.IPv4Network(cidr).overlaps(vpc):
            raise ValueError(
                f"{CROSS_FIELD}hybrid.onPremisesCidrs: {cidr} overlaps the VPC's network.cidr {vpc}; "
                "traffic to it would never leave the VPC"
            )


def is_documentation_address(address: str) -> bool:
    return any(ipaddress.IPv4Address(address) in net for net in DOCUMENTATION_RANGES)


def documentation_address(cfg: Any) -> list[str]:
    """A placeholder: an RFC 5737 customer gateway address plans, but a VPN to it never comes up."""
    address = cfg.hybrid.customer_gateway_ip
    if not cfg.hybrid.enabled or address is None or not is_documentation_address(address):
        return []
    return [
        f"{NAMESPACE}:{HYBRID_KEY}.customerGatewayIp: {address} is a documentation address (RFC 5737), an "
        "example only: the tunnels will never come up; set it to your device's static public address"
    ]
