"""aws-patterns: the table of contents.

Load and validate the stack config, build the provider, build what the config enables, export
the outputs. Everything AWS-specific lives in components/.
"""

import pulumi

from components import config
from components.naming import build_provider
from components.network import Network, NetworkArgs

cfg = config.load()  # raises ConfigError (no traceback) before any resource is registered
provider = build_provider(cfg)
with_provider = pulumi.ResourceOptions(providers=[provider])

network = Network("network", NetworkArgs.from_config(cfg), opts=with_provider) if cfg.needs_network else None

pulumi.export("environment", cfg.environment)
pulumi.export("region", cfg.region)
if network:
    pulumi.export(
        "network",
        {
            "vpcId": network.vpc.id,
            "availabilityZones": network.availability_zones,
            "publicSubnetIds": [s.id for s in network.public_subnets],
            "privateSubnetIds": [s.id for s in network.private_subnets],
            "isolatedSubnetIds": [s.id for s in network.isolated_subnets],
            "natPublicIps": [n.public_ip for n in network.nat_gateways],
        },
    )
