"""aws-patterns: the table of contents.

Load and validate the stack config, build the provider, build what the config enables, export
the outputs. Everything AWS-specific lives in components/.
"""

import gc

import pulumi

from components import config
from components.event_driven import EventDriven, EventDrivenArgs
from components.hybrid import Hybrid, HybridArgs
from components.microservices import Microservices, MicroservicesArgs
from components.multi_tier import MultiTier, MultiTierArgs
from components.naming import build_provider
from components.network import Network, NetworkArgs
from components.observability import Observability, ObservabilityArgs
from components.serverless import Serverless, ServerlessArgs

# Every registered resource lives until the run ends; CPython's default collector rescans them all
# ever more often, which made registration superlinear in the stack's size. Collecting the young
# generation less often keeps it linear (ADR 0021; tools/entry.py uses the same thresholds).
gc.set_threshold(50_000, 20, 10)

cfg = config.load()  # raises ConfigError (no traceback) before any resource is registered
provider = build_provider(cfg)
with_provider = pulumi.ResourceOptions(providers=[provider])

network = Network("network", NetworkArgs.from_config(cfg), opts=with_provider) if cfg.needs_network else None
# Before hybrid, which lets on-premises networks reach multi_tier.app_security_group.
multi_tier = (
    MultiTier("multi-tier", MultiTierArgs.from_config(cfg, network.ids), opts=with_provider)
    if network and cfg.multi_tier.enabled
    else None
)
hybrid = (
    Hybrid("hybrid", HybridArgs.from_config(cfg, network.ids, app_tier=multi_tier), opts=with_provider)
    if network and cfg.hybrid.enabled
    else None
)
# Before the patterns that publish to its bus (microservices passes event_driven.bus).
event_driven = (
    EventDriven("events", EventDrivenArgs.from_config(cfg), opts=with_provider) if cfg.event_driven.enabled else None
)
microservices = (
    Microservices(
        "microservices",
        MicroservicesArgs.from_config(cfg, event_bus=event_driven.bus if event_driven else None),
        opts=with_provider,
    )
    if cfg.microservices.enabled
    else None
)
serverless = (
    Serverless("serverless", ServerlessArgs.from_config(cfg), opts=with_provider) if cfg.serverless.enabled else None
)

# Last: alarms and the dashboard cover every pattern built above (None: not in this stack).
patterns = {
    "microservices": microservices,
    "eventDriven": event_driven,
    "serverless": serverless,
    "multiTier": multi_tier,
    "hybrid": hybrid,
}
observability = (
    Observability("observability", ObservabilityArgs.from_config(cfg, patterns), opts=with_provider)
    if cfg.observability.enabled
    else None
)

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
if hybrid:
    pulumi.export(
        "hybrid",
        {
            "vpnConnectionId": hybrid.vpn_connection.id,
            "vpnGatewayId": hybrid.vpn_gateway.id,
            "customerGatewayId": hybrid.customer_gateway.id,
            "tunnelOutsideAddresses": hybrid.tunnel_outside_addresses,
            "customerGatewayConfiguration": hybrid.customer_gateway_configuration,  # secret
        },
    )
if event_driven:
    pulumi.export(
        "eventDriven",
        {
            "busName": event_driven.bus.name,
            "busArn": event_driven.bus.arn,
            "queueUrls": {q: queue.url for q, queue in event_driven.queues.items()},
            "deadLetterQueueUrls": {q: queue.url for q, queue in event_driven.dead_letter_queues.items()},
            "topicArns": {t: topic.arn for t, topic in event_driven.topics.items()},
            "functionNames": {f: fn.function.name for f, fn in event_driven.functions.items()},
        },
    )
if multi_tier:
    pulumi.export(
        "multiTier",
        {
            "url": multi_tier.url,
            "dbEndpoint": multi_tier.db_endpoint,
            "dbSecretArn": multi_tier.db_secret_arn,  # where RDS keeps the password, not the password
        },
    )
if serverless:
    pulumi.export("serverless", {"apiUrl": serverless.api_url, "bucketName": serverless.bucket.bucket})
if microservices:
    pulumi.export(
        "microservices",
        {
            "apiUrl": microservices.url,
            "namespace": microservices.namespace.name,
            "services": {
                name: {
                    "url": microservices.service_urls[name],
                    "functionName": service.function.function.name,
                    "tableName": service.table.name,
                }
                for name, service in microservices.services.items()
            },
        },
    )
if observability:
    pulumi.export(
        "observability",
        {
            "alarmTopicArn": observability.topic.arn,
            "dashboardName": observability.dashboard.dashboard_name,
            "alarmCount": len(observability.alarms),
        },
    )
