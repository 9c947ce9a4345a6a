"""The project's constants and the defaults of the blocks every stack has.

Defaults are written per environment profile, in the same shape and with the same (camelCase)
keys as the stack config; the stack's own values are merged over them key by key, so any
single key can be overridden in `Pulumi.<stack>.yaml` without restating the rest of its block.
Each pattern keeps its block's defaults in components/<pattern>/defaults.py; components/config.py
assembles them all into `PROFILES`.
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
# written with the block's camelCase keys; components/config.py assembles them into PROFILES.

COMMON = {
    "dev": {"logRetentionDays": 7, "deletionProtection": False, "protectStatefulResources": False, "multiAz": False},
    "staging": {"logRetentionDays": 30, "deletionProtection": False, "protectStatefulResources": True, "multiAz": True},
    "prod": {"logRetentionDays": 365, "deletionProtection": True, "protectStatefulResources": True, "multiAz": True},
}

# No profile borrows a network (`existing`): a stack names the VPC or the stack it borrows.
NETWORK = {
    "dev": {
        "enabled": False,
        "existing": None,
        "cidr": "10.10.0.0/16",
        "azCount": 2,
        "natStrategy": "single",
        "gatewayEndpoints": True,
        "flowLogs": {"enabled": True, "trafficType": "REJECT", "retentionDays": 7},
    },
    "staging": {
        "enabled": False,
        "existing": None,
        "cidr": "10.20.0.0/16",
        "azCount": 2,
        "natStrategy": "single",
        "gatewayEndpoints": True,
        "flowLogs": {"enabled": True, "trafficType": "ALL", "retentionDays": 30},
    },
    "prod": {
        "enabled": False,
        "existing": None,
        "cidr": "10.30.0.0/16",
        "azCount": 3,
        "natStrategy": "perAz",
        "gatewayEndpoints": True,
        "flowLogs": {"enabled": True, "trafficType": "ALL", "retentionDays": 365},
    },
}

# Every Lambda function of every pattern. Powertools is the public layer of the release
# lambdas/requirements.txt pins (components/functions.py), not a config value.
_FUNCTIONS = {"runtime": "python3.13", "architecture": "arm64", "tracing": True}
FUNCTIONS = {env: dict(_FUNCTIONS) for env in ENVIRONMENTS}

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


# Stack-level edge security (components/identity.py, waf.py, access_logs.py; ADR 0017). Dev is
# open and unlogged on purpose: no user pool to sign in to, no web ACL, no access-log bucket, so
# experiments stay cheap and quick to tear down. Staging is shaped like prod, so every control is
# exercised before prod, with the two differences that keep test automation working: MFA is
# optional and threat protection only audits (AWS advises auditing before enforcing).
IDENTITY = {
    env: {
        "provider": provider,
        "cognito": {"mfa": mfa, "threatProtection": threat_protection, "selfSignUp": False},
        "oidc": {"issuer": None, "audiences": [], "jwksUri": None},
    }
    for env, (provider, mfa, threat_protection) in (
        ("dev", ("none", "optional", "off")),
        ("staging", ("cognito", "optional", "audit")),
        ("prod", ("cognito", "required", "enforced")),
    )
}

# 2000 requests per IP in 5 minutes (about 7 per second sustained) is the starting point AWS's
# own examples use; the APIs' stage throttling still caps the total.
WAF = {
    "dev": {"enabled": False, "rateLimit": 2000, "logRetentionDays": 7},
    "staging": {"enabled": True, "rateLimit": 2000, "logRetentionDays": 30},
    "prod": {"enabled": True, "rateLimit": 2000, "logRetentionDays": 365},
}

ACCESS_LOGS = {
    "dev": {"enabled": False, "expirationDays": 7},
    "staging": {"enabled": True, "expirationDays": 90},
    "prod": {"enabled": True, "expirationDays": 365},
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
