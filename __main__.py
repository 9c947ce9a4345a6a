"""aws-patterns: the table of contents.

Load and validate the stack config, build the provider, build what the config enables, export
the outputs. Everything AWS-specific lives in components/.
"""

import gc

import pulumi

from components import config
from components.access_logs import AccessLogs, AccessLogsArgs, uses_access_logs
from components.event_driven import EventDriven, EventDrivenArgs
from components.hybrid import Hybrid, HybridArgs
from components.identity import Identity, IdentityArgs, uses_identity
from components.microservices import Microservices, MicroservicesArgs
from components.multi_tier import MultiTier, MultiTierArgs
from components.naming import build_provider
from components.network import Network, NetworkArgs, borrow
from components.observability import Observability, ObservabilityArgs
from components.references import StackReferences
from components.serverless import Serverless, ServerlessArgs
from components.waf import WebAcl, WebAclArgs, uses_waf

# Every registered resource lives until the run ends; CPython's default collector rescans them all
# ever more often, which made registration superlinear in the stack's size. Collecting the young
# generation less often keeps it linear (ADR 0021; tools/entry.py uses the same thresholds).
gc.set_threshold(50_000, 20, 10)

cfg = config.load()  # raises ConfigError (no traceback) before any resource is registered
# What the stack borrows (a network, a bus; by id or from another stack's outputs) is read and
# checked before it creates anything.
references = StackReferences()
borrowed = borrow(cfg, references) if cfg.network.existing else None
event_driven_args = EventDrivenArgs.from_config(cfg, references) if cfg.event_driven.enabled else None
provider = build_provider(cfg)
with_provider = pulumi.ResourceOptions(providers=[provider])

# First: choosing its zones can still refuse the config (too few offer the instance types).
network = borrowed or (
    Network("network", NetworkArgs.from_config(cfg), opts=with_provider) if cfg.needs_network else None
)
# Stack-level edge security, before the patterns that use it, and only when one of them does.
identity = Identity("identity", IdentityArgs.from_config(cfg), opts=with_provider) if uses_identity(cfg) else None
web_acl = WebAcl("waf", WebAclArgs.from_config(cfg), opts=with_provider) if uses_waf(cfg) else None
access_logs = (
    AccessLogs("access-logs", AccessLogsArgs.from_config(cfg), opts=with_provider) if uses_access_logs(cfg) else None
)
jwt = identity.jwt if identity else None
web_acl_arn = web_acl.arn if web_acl else None
access_logs_bucket = access_logs.bucket if access_logs else None

# Before hybrid, which lets on-premises networks reach multi_tier.app_security_group.
multi_tier = (
    MultiTier(
        "multi-tier",
        MultiTierArgs.from_config(
            cfg, network.ids, jwt=jwt, web_acl_arn=web_acl_arn, access_logs_bucket=access_logs_bucket
        ),
        opts=with_provider,
    )
    if network and cfg.multi_tier.enabled
    else None
)
hybrid = (
    Hybrid("hybrid", HybridArgs.from_config(cfg, network.ids, app_tier=multi_tier), opts=with_provider)
    if network and cfg.hybrid.enabled
    else None
)
# Before the patterns that publish to its bus, created or borrowed (microservices).
event_driven = EventDriven("events", event_driven_args, opts=with_provider) if event_driven_args else None
microservices = (
    Microservices(
        "microservices",
        MicroservicesArgs.from_config(
            cfg, event_bus=event_driven.bus_ref if event_driven else None, web_acl_arn=web_acl_arn
        ),
        opts=with_provider,
    )
    if cfg.microservices.enabled
    else None
)
serverless = (
    Serverless(
        "serverless",
        ServerlessArgs.from_config(cfg, jwt=jwt, access_logs_bucket=access_logs_bucket),
        opts=with_provider,
    )
    if cfg.serverless.enabled
    else None
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
    # What another stack borrows with network.existing.stackReference (components/network.py).
    pulumi.export("network", network.exports())
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
            # What another stack borrows with eventDriven.existingBus.stackReference.
            "busName": event_driven.bus_ref.name,
            "busArn": event_driven.bus_ref.arn,
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
if identity:
    pulumi.export(
        "identity",
        {
            "provider": cfg.identity.provider,
            "issuer": identity.jwt.issuer,
            "audiences": identity.jwt.audience,
            "jwksUri": identity.jwt.jwks_uri,
            **(
                {"userPoolId": identity.user_pool.id, "clientId": identity.client.id}
                if identity.user_pool and identity.client
                else {}
            ),
        },
    )
if web_acl:
    pulumi.export("waf", {"webAclArn": web_acl.arn, "logGroupName": web_acl.log_group.name})
if access_logs:
    pulumi.export("accessLogs", {"bucketName": access_logs.bucket.bucket})
if observability:
    pulumi.export(
        "observability",
        {
            "alarmTopicArn": observability.topic.arn,
            "dashboardName": observability.dashboard.dashboard_name,
            "alarmCount": len(observability.alarms),
        },
    )
