"""The `multiTier` config block: ALB, Auto Scaling web tier and PostgreSQL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from components.schema import CROSS_FIELD, Ipv4Cidr, Model, unique

# EC2 instance types such as t4g.small or m7i-flex.large; RDS classes are the same with `db.`.
_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
_CERTIFICATE_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
# A pinned major.minor PostgreSQL version RDS offers (the parameter group family follows the major).
_POSTGRES_VERSION = r"^1[3-8]\.\d{1,2}$"


class MultiTierInstances(Model):
    instance_type: Annotated[str, Field(pattern=_INSTANCE_TYPE)]
    """EC2 instance type; Graviton families (`t4g`, `m7g`, ...) get the arm64 AMI, others x86_64."""
    min_size: int = Field(ge=1, le=100)
    """Fewest instances in the group; not more than `maxSize`."""
    max_size: int = Field(ge=1, le=100)
    """Most instances in the group."""
    health_check_grace_seconds: int = Field(ge=0, le=7200)
    """Seconds a new instance has to boot and install the app before health checks count."""
    scaling_metric: Literal["cpu", "requestCount"]
    """Target-tracking metric: `cpu` (average CPU %) or `requestCount` (ALB requests per target per minute)."""
    scaling_target: int = Field(ge=1, le=100_000)
    """The metric's target value (1-100 for `cpu`)."""


class MultiTierDatabase(Model):
    engine_version: Annotated[str, Field(pattern=_POSTGRES_VERSION)]
    """Pinned PostgreSQL `major.minor` that RDS offers (13-18); the parameter group family follows the major;
    automatic minor upgrades are off, so upgrades are config changes."""
    instance_class: Annotated[str, Field(pattern=r"^db\." + _INSTANCE_TYPE[1:])]
    """RDS instance class (`db.` and an instance type)."""
    allocated_storage_gb: int = Field(ge=20, le=65536)
    """gp3 storage in GiB."""
    backup_retention_days: int = Field(ge=0, le=35)
    """Days automated backups are kept."""
    performance_insights: bool
    """Performance Insights (7 days, the free tier)."""
    log_exports: Annotated[list[Literal["postgresql", "upgrade", "iam-db-auth-error"]], AfterValidator(unique)]
    """Logs exported to CloudWatch, into log groups the program creates with `common.logRetentionDays`."""


class MultiTierConfig(Model):
    """ALB, Auto Scaling web tier and PostgreSQL on RDS (components/multi_tier/component.py)."""

    enabled: bool
    """Build the multi-tier pattern: ALB in the public subnets, Auto Scaling web tier (`apps/web`) in the private
    subnets, PostgreSQL on RDS in the isolated subnets (builds the network too; needs `network.natStrategy` other
    than `none`)."""
    allowed_cidrs: Annotated[list[Ipv4Cidr], Field(min_length=1, max_length=50), AfterValidator(unique)]
    """IPv4 CIDRs allowed to reach the ALB on 80 (and 443 with a certificate), canonical, no duplicates."""
    certificate_arn: Annotated[str, Field(pattern=_CERTIFICATE_ARN)] | None = None
    """ACM certificate ARN of the stack's region: HTTPS on 443 with `ELBSecurityPolicy-TLS13-1-2-2021-06` and 80
    redirecting to it; unset: plain HTTP on 80 (no certificate can be issued for the ALB's generated name)."""
    access_logs: bool
    """ALB access logs to a bucket of the stack (SSE-S3, ELB log-delivery policy, expiring after
    `common.logRetentionDays`)."""
    app_port: int = Field(ge=1024, le=65535)  # the app runs unprivileged
    """Port the app listens on behind the ALB (it runs unprivileged)."""
    instances: MultiTierInstances
    """The Auto Scaling web tier."""
    database: MultiTierDatabase
    """The PostgreSQL database."""

    @model_validator(mode="after")
    def _sizes(self) -> MultiTierConfig:
        inst = self.instances
        if inst.min_size > inst.max_size:
            raise ValueError(
                f"{CROSS_FIELD}instances.minSize: {inst.min_size} is more than instances.maxSize {inst.max_size}"
            )
        if inst.scaling_metric == "cpu" and inst.scaling_target > 100:
            raise ValueError(
                f"{CROSS_FIELD}instances.scalingTarget: {inst.scaling_target} is not a CPU percentage (1-100)"
            )
        return self


def fits_the_stack(cfg: Any) -> None:
    """What the multi-tier block needs from the rest of the stack (the network, the region)."""
    tier = cfg.multi_tier
    if tier.enabled and cfg.network.nat_strategy == "none":
        # Instances install Python packages and read their secret over the internet at boot.
        raise ValueError(
            f"{CROSS_FIELD}network.natStrategy: multiTier needs egress from the private subnets "
            "(single or perAz), not none"
        )
    if tier.certificate_arn and tier.certificate_arn.split(":")[3] != cfg.region:
        raise ValueError(
            f"{CROSS_FIELD}multiTier.certificateArn: an ALB can only use an ACM certificate of its own "
            f"region ({cfg.region})"
        )
