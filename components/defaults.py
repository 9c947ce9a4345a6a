"""Every default the program applies, in one place.

`PROFILES` holds the per-environment defaults. They are written in the same shape and with
the same (camelCase) keys as the stack config, and the stack's own values are merged over
them key by key, so any single key can be overridden in `Pulumi.<stack>.yaml` without
restating the rest of its block. The README's configuration reference mirrors this file.
"""

from __future__ import annotations

import copy
from typing import Any

PROJECT = "aws-patterns"
NAMESPACE = PROJECT

# The only values CloudWatch Logs accepts for `retentionInDays` (0 means never expire and
# is deliberately not offered: logs that never expire are a cost nobody chose).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

ENVIRONMENTS = ("dev", "staging", "prod")

# Defaults per config block, per environment. Each block's dict is keyed by environment and
# written with the block's camelCase keys; BLOCKS below assembles them into PROFILES.

COMMON = {
    "dev": {"logRetentionDays": 7, "deletionProtection": False, "protectStatefulResources": False, "multiAz": False},
    "staging": {"logRetentionDays": 30, "deletionProtection": False, "protectStatefulResources": True, "multiAz": True},
    "prod": {"logRetentionDays": 365, "deletionProtection": True, "protectStatefulResources": True, "multiAz": True},
}

NETWORK = {
    "dev": {
        "enabled": False,
        "cidr": "10.10.0.0/16",
        "azCount": 2,
        "natStrategy": "single",
        "gatewayEndpoints": True,
        "flowLogs": {"enabled": True, "trafficType": "REJECT", "retentionDays": 7},
    },
    "staging": {
        "enabled": False,
        "cidr": "10.20.0.0/16",
        "azCount": 2,
        "natStrategy": "single",
        "gatewayEndpoints": True,
        "flowLogs": {"enabled": True, "trafficType": "ALL", "retentionDays": 30},
    },
    "prod": {
        "enabled": False,
        "cidr": "10.30.0.0/16",
        "azCount": 3,
        "natStrategy": "perAz",
        "gatewayEndpoints": True,
        "flowLogs": {"enabled": True, "trafficType": "ALL", "retentionDays": 365},
    },
}

# Every Lambda function of every pattern. The Powertools layer version is the public layer's
# version number (not the PyPI release); bump it together with aws-lambda-powertools in
# requirements-dev.txt, which the tests use.
_FUNCTIONS = {"runtime": "python3.13", "architecture": "arm64", "powertoolsLayerVersion": 27, "tracing": True}
FUNCTIONS = {env: dict(_FUNCTIONS) for env in ENVIRONMENTS}

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
HYBRID = {env: dict(_HYBRID) for env in ENVIRONMENTS}

# The upload pipeline. Upload records live as long as their objects (recordTtlDays equals the
# lifecycle's expirationDays); browsers may upload only from the origins listed (none outside
# dev until a stack names its front end).
_SERVERLESS = {
    "enabled": False,
    "allowedContentTypes": ["image/png", "image/jpeg", "application/pdf"],
    "uploadPrefix": "uploads/",
    "presignedUrlExpirySeconds": 900,
    "intake": {"memoryMb": 256, "timeoutSeconds": 10},
}
SERVERLESS = {
    "dev": {
        **_SERVERLESS,
        "maxUploadBytes": 10 * 1024**2,
        "recordTtlDays": 30,
        "corsOrigins": ["http://localhost:3000"],
        "lifecycle": {
            "abortIncompleteMultipartUploadDays": 1,
            "transitionToInfrequentAccessDays": None,
            "expirationDays": 30,
            "noncurrentVersionExpirationDays": 1,
        },
        "throttling": {"burstLimit": 20, "rateLimit": 10},
        "processor": {"memoryMb": 512, "timeoutSeconds": 60},
    },
    "staging": {
        **_SERVERLESS,
        "maxUploadBytes": 25 * 1024**2,
        "recordTtlDays": 90,
        "corsOrigins": [],
        "lifecycle": {
            "abortIncompleteMultipartUploadDays": 3,
            "transitionToInfrequentAccessDays": 30,
            "expirationDays": 90,
            "noncurrentVersionExpirationDays": 7,
        },
        "throttling": {"burstLimit": 50, "rateLimit": 25},
        "processor": {"memoryMb": 1024, "timeoutSeconds": 120},
    },
    "prod": {
        **_SERVERLESS,
        "maxUploadBytes": 25 * 1024**2,
        "recordTtlDays": 365,
        "corsOrigins": [],
        "lifecycle": {
            "abortIncompleteMultipartUploadDays": 7,
            "transitionToInfrequentAccessDays": 90,
            "expirationDays": 365,
            "noncurrentVersionExpirationDays": 30,
        },
        "throttling": {"burstLimit": 200, "rateLimit": 100},
        "processor": {"memoryMb": 1024, "timeoutSeconds": 120},
    },
}

# The event-driven flow the repo ships: the orders service's OrderCreated event goes to the
# order-processing queue (consumed by order_processor) and to a notifications topic. Dev gives
# up on an undeliverable event quickly so it shows in a dead-letter queue while you look;
# staging and prod keep EventBridge's own retry defaults (185 attempts within 24 hours).
_ORDER_FLOW = {
    "queues": {"orderProcessing": {}},
    "topics": {"orderNotifications": {}},
    "functions": {
        "orderProcessor": {
            "code": "order_processor",
            "memoryMb": 256,
            "timeoutSeconds": 30,
            "queue": "orderProcessing",
            "batchSize": 10,
            "table": True,
        }
    },
    "rules": {
        "orderCreated": {
            "description": "Orders created by the orders service",
            "eventPattern": {"source": ["aws-patterns.orders"], "detail-type": ["OrderCreated"]},
            "targets": [{"queue": "orderProcessing"}, {"topic": "orderNotifications"}],
        }
    },
}


def _event_driven(archive_days: int, retries: int, max_age: int, max_receives: int, window: int) -> dict[str, Any]:
    block = copy.deepcopy(_ORDER_FLOW)
    block["queues"]["orderProcessing"]["maxReceiveCount"] = max_receives
    block["functions"]["orderProcessor"]["maximumBatchingWindowSeconds"] = window
    retry = {"maximumRetryAttempts": retries, "maximumEventAgeSeconds": max_age}
    return {"enabled": False, "archiveRetentionDays": archive_days, "retryPolicy": retry, **block}


EVENT_DRIVEN = {
    "dev": _event_driven(archive_days=7, retries=3, max_age=3600, max_receives=3, window=0),
    "staging": _event_driven(archive_days=30, retries=185, max_age=86400, max_receives=5, window=5),
    "prod": _event_driven(archive_days=365, retries=185, max_age=86400, max_receives=5, window=5),
}

# Multi-tier: one small burstable instance and a single-AZ micro database in dev; a fleet over
# every AZ, request-count scaling and a general-purpose Multi-AZ database in prod. Graviton
# (arm64) sizes throughout. The PostgreSQL minor version is pinned: RDS would otherwise pick
# one at create time and every environment would differ.
MULTI_TIER = {
    env: {
        "enabled": False,
        "allowedCidrs": ["0.0.0.0/0"],
        "accessLogs": env != "dev",
        "appPort": 8080,
        "instances": instances,
        "database": database,
    }
    for env, instances, database in (
        (
            "dev",
            {"instanceType": "t4g.micro", "minSize": 1, "maxSize": 2, "healthCheckGraceSeconds": 300,
             "scalingMetric": "cpu", "scalingTarget": 60},
            {"engineVersion": "17.7", "instanceClass": "db.t4g.micro", "allocatedStorageGb": 20,
             "backupRetentionDays": 1, "performanceInsights": False, "logExports": ["postgresql"]},
        ),
        (
            "staging",
            {"instanceType": "t4g.small", "minSize": 2, "maxSize": 4, "healthCheckGraceSeconds": 300,
             "scalingMetric": "cpu", "scalingTarget": 60},
            {"engineVersion": "17.7", "instanceClass": "db.t4g.medium", "allocatedStorageGb": 20,
             "backupRetentionDays": 7, "performanceInsights": True, "logExports": ["postgresql", "upgrade"]},
        ),
        (
            "prod",
            {"instanceType": "m7g.large", "minSize": 3, "maxSize": 12, "healthCheckGraceSeconds": 300,
             "scalingMetric": "requestCount", "scalingTarget": 1000},
            {"engineVersion": "17.7", "instanceClass": "db.m7g.large", "allocatedStorageGb": 100,
             "backupRetentionDays": 30, "performanceInsights": True, "logExports": ["postgresql", "upgrade"]},
        ),
    )
}  # fmt: skip

# The microservices the repo ships: users and orders, each with its own table, function and
# routes. The key schemas are the handlers' contract (lambdas/users, lambdas/orders) and the
# handler tests build their tables from these same values. Stage logging is off by default:
# it needs the account-wide API Gateway CloudWatch role, which one stack per account and region
# should own (`apiGatewayAccountLogging: manage`).
_USERS_SERVICE = {
    "enabled": True,
    "partitionKey": {"name": "id", "type": "S"},
    "globalSecondaryIndexes": [],
    "tableActions": ["GetItem", "PutItem", "DeleteItem", "Scan"],
    "timeoutSeconds": 10,
    "publishesEvents": False,
    "routes": ["GET /users", "POST /users", "GET /users/{id}", "DELETE /users/{id}"],
}
_ORDERS_SERVICE = {
    "enabled": True,
    "partitionKey": {"name": "orderId", "type": "S"},
    "globalSecondaryIndexes": [
        {
            "name": "byUser",
            "partitionKey": {"name": "userId", "type": "S"},
            "sortKey": {"name": "createdAt", "type": "S"},
        }
    ],
    "tableActions": ["GetItem", "PutItem", "UpdateItem", "Query"],
    "timeoutSeconds": 10,
    "publishesEvents": True,
    "routes": ["GET /orders", "POST /orders", "GET /orders/{id}"],
}


def _microservices(memory: int, rate: int, burst: int, authorization: str, pitr: bool) -> dict[str, Any]:
    return {
        "enabled": False,
        "stageName": "v1",
        "authorization": authorization,
        "apiGatewayAccountLogging": "off",
        "executionLogLevel": "OFF",
        "throttling": {"rateLimit": rate, "burstLimit": burst},
        "pointInTimeRecovery": pitr,
        "services": {
            "users": {**copy.deepcopy(_USERS_SERVICE), "memoryMb": memory},
            "orders": {**copy.deepcopy(_ORDERS_SERVICE), "memoryMb": memory},
        },
    }


MICROSERVICES = {
    "dev": _microservices(memory=256, rate=50, burst=100, authorization="NONE", pitr=False),
    "staging": _microservices(memory=256, rate=200, burst=400, authorization="AWS_IAM", pitr=True),
    "prod": _microservices(memory=512, rate=1000, burst=2000, authorization="AWS_IAM", pitr=True),
}

# Observability: every stack gets the same alarms (an alarm that exists only in prod is never
# exercised before prod), dev with looser thresholds so that it stays quiet while people
# experiment. Nobody is subscribed by default: a stack lists its on-call addresses. The database
# connection alarms sit near 80 % of PostgreSQL's max_connections for the profile's instance
# class (RDS derives it from the class's memory); change them with multiTier.database.instanceClass.
OBSERVABILITY = {
    env: {
        "enabled": True,
        "alarmEmails": [],
        "alarmHttpsEndpoints": [],
        "thresholds": {
            "functionErrors": errors,
            "functionThrottles": errors,
            "functionDurationPercentOfTimeout": duration,
            "apiServerErrorPercent": server_errors,
            "apiLatencyP99Ms": latency_ms,
            "queueOldestMessageSeconds": queue_age,
            "ruleFailedInvocations": errors,
            "loadBalancerServerErrorPercent": server_errors,
            "targetResponseTimeP99Ms": latency_ms,
            "databaseCpuPercent": cpu,
            "databaseFreeStoragePercent": free_storage,
            "databaseConnections": connections,
            "tableThrottledRequests": throttles,
        },
    }
    for env, (errors, duration, server_errors, latency_ms, queue_age, cpu, free_storage, connections, throttles) in (
        ("dev", (5, 90, 10, 5000, 3600, 90, 10, 70, 50)),
        ("staging", (3, 80, 5, 3000, 900, 80, 15, 330, 10)),
        ("prod", (1, 80, 1, 2000, 300, 80, 20, 660, 1)),
    )
}

BLOCKS: dict[str, dict[str, dict[str, Any]]] = {
    "common": COMMON,
    "network": NETWORK,
    "functions": FUNCTIONS,
    "hybrid": HYBRID,
    "serverless": SERVERLESS,
    "eventDriven": EVENT_DRIVEN,
    "multiTier": MULTI_TIER,
    "microservices": MICROSERVICES,
    "observability": OBSERVABILITY,
}

PROFILES: dict[str, dict[str, Any]] = {
    env: {block: copy.deepcopy(values[env]) for block, values in BLOCKS.items()} for env in ENVIRONMENTS
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `override` merged over it; nested dicts merge, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
