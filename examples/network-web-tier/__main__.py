"""A web tier in its own VPC, composed from the aws-patterns components directly in Python.

No stack-config layer: this program builds each component's Args itself. `Network` creates the
VPC (three subnet tiers over two AZs, one NAT gateway); `MultiTier` takes it by id
(`network.ids`) and puts an ALB in the public subnets, an Auto Scaling group running the web app
(shipped inside the package) in the private ones and PostgreSQL in the isolated ones.

    pulumi stack init dev
    pulumi config set aws:region eu-west-1
    pulumi config set --path 'allowedCidrs[0]' 198.51.100.0/24   # optional; default: anyone
    pulumi up
"""

import pulumi
import pulumi_aws as aws

from components.multi_tier import MultiTier, MultiTierArgs
from components.multi_tier.component import DatabaseSettings, InstanceSettings
from components.network import Network, NetworkArgs

config = pulumi.Config()
region = pulumi.Config("aws").require("region")
tags = {"project": pulumi.get_project(), "stack": pulumi.get_stack()}

# One explicit provider with default tags for both components; Auto Scaling groups do not pass
# provider default tags on to the instances they launch, so MultiTier gets them as well.
provider = aws.Provider("aws", region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
with_provider = pulumi.ResourceOptions(providers=[provider])

network = Network(
    "network",
    NetworkArgs(cidr="10.40.0.0/16", az_count=2, nat_strategy="single", region=region),
    opts=with_provider,
)
web = MultiTier(
    "web",
    MultiTierArgs(
        network=network.ids,
        region=region,
        allowed_cidrs=tuple(config.get_object("allowedCidrs") or ["0.0.0.0/0"]),
        instances=InstanceSettings(instance_type="t4g.small", min_size=2, max_size=4),
        database=DatabaseSettings(instance_class="db.t4g.small", backup_retention_days=7),
        instance_tags=tags,
    ),
    opts=with_provider,
)

pulumi.export("url", web.url)
pulumi.export("vpcId", network.vpc.id)
pulumi.export("dbEndpoint", web.db_endpoint)
