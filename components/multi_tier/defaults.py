"""The `multiTier` block's defaults per environment profile."""

from __future__ import annotations

# Multi-tier: one small burstable instance and a single-AZ micro database in dev; a fleet over
# every AZ, request-count scaling and a general-purpose Multi-AZ database in prod. Graviton
# (arm64) sizes throughout. The PostgreSQL minor version is pinned: RDS would otherwise pick
# one at create time and every environment would differ.
DEFAULTS = {
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
