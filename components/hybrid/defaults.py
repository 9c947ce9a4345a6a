"""The `hybrid` block's defaults per environment profile."""

from __future__ import annotations

from components.defaults import ENVIRONMENTS

# Site-to-site VPN. The customer gateway's address and the on-premises CIDRs describe the
# user's own network, so no profile supplies them: a stack that enables the pattern sets them.
# The ASNs are AWS's own defaults for each side; BGP lets the two tunnels fail over without
# anyone editing routes, and "restart" makes AWS renegotiate a tunnel whose peer went silent.
_HYBRID = {
    "enabled": False,
    "customerGatewayAsn": 65000,
    "amazonSideAsn": 64512,
    "routing": "bgp",
    "dpdTimeoutAction": "restart",
    "tunnelLogging": True,
}
DEFAULTS = {env: dict(_HYBRID) for env in ENVIRONMENTS}
