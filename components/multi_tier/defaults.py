"""The `multiTier` block's defaults per environment profile."""

from __future__ import annotations

# Multi-tier: one small burstable instance and a single-AZ micro database in dev; a fleet over
# every AZ, request-count scaling and a general-purpose Multi-AZ database in prod. Graviton
# (arm64) sizes throughout. PostgreSQL is pinned by major version: RDS applies minor upgrades in
# the maintenance window (docs/adr/0012-database-lifecycle.md). Changes reach the database at once
# in dev and staging and in the maintenance window in prod. Enhanced Monitoring every minute and the
# IAM-authentication error log everywhere: the web tier logs in with IAM tokens.
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
            {"engineVersion": "17", "instanceClass": "db.t4g.micro", "allocatedStorageGb": 20,
             "backupRetentionDays": 1, "performanceInsights": False,
             "logExports": ["postgresql", "iam-db-auth-error"], "applyImmediately": True,
             "monitoringIntervalSeconds": 60},
        ),
        (
            "staging",
            {"instanceType": "t4g.small", "minSize": 2, "maxSize": 4, "healthCheckGraceSeconds": 300,
             "scalingMetric": "cpu", "scalingTarget": 60},
            {"engineVersion": "17", "instanceClass": "db.t4g.medium", "allocatedStorageGb": 20,
             "backupRetentionDays": 7, "performanceInsights": True,
             "logExports": ["postgresql", "upgrade", "iam-db-auth-error"], "applyImmediately": True,
             "monitoringIntervalSeconds": 60},
        ),
        (
            "prod",
            {"instanceType": "m7g.large", "minSize": 3, "maxSize": 12, "healthCheckGraceSeconds": 300,
             "scalingMetric": "requestCount", "scalingTarget": 1000},
            {"engineVersion": "17", "instanceClass": "db.m7g.large", "allocatedStorageGb": 100,
             "backupRetentionDays": 30, "performanceInsights": True,
             "logExports": ["postgresql", "upgrade", "iam-db-auth-error"], "applyImmediately": False,
             "monitoringIntervalSeconds": 60},
        ),
    )
}  # fmt: skip
