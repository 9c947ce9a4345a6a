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

BLOCKS: dict[str, dict[str, dict[str, Any]]] = {
    "common": COMMON,
    "network": NETWORK,
    "functions": FUNCTIONS,
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
