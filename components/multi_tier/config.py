"""The `multiTier` config block: ALB, Auto Scaling web tier and PostgreSQL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from components.defaults import NAMESPACE
from components.schema import CROSS_FIELD, Ipv4Cidr, Model, is_example_domain, unique

# EC2 instance types such as t4g.small or m7i-flex.large; RDS classes are the same with `db.`.
_INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
_CERTIFICATE_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
# A PostgreSQL major version RDS offers (the parameter group family follows it).
_POSTGRES_MAJOR = r"^1[3-8]$"
# A DNS name ACM can issue a public certificate for: lower-case labels, at least two, no wildcard.
_DOMAIN_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
_HOSTED_ZONE_ID = r"^Z[0-9A-Z]{1,31}$"


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


def _major_only(value: str) -> str:
    if "." in value:
        raise ValueError(
            f"pin the major version only, such as {value.split('.')[0]!r}: RDS applies minor upgrades "
            "itself, and a pinned minor fails every update once AWS retires it"
        )
    return value


class MultiTierDatabase(Model):
    engine_version: Annotated[str, AfterValidator(_major_only), Field(pattern=_POSTGRES_MAJOR)]
    """PostgreSQL major version (13-18); RDS applies minor versions in the maintenance window."""
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
    apply_immediately: bool
    """Apply database changes (class, storage, version) at once, not in the next maintenance window."""
    monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60]
    """Enhanced Monitoring granularity (OS metrics in CloudWatch Logs); 0 switches it off."""


class MultiTierConfig(Model):
    """ALB, Auto Scaling web tier and PostgreSQL on RDS (components/multi_tier/component.py)."""

    enabled: bool
    """Build the multi-tier pattern: ALB in the public subnets, Auto Scaling web tier (`apps/web`) in the private
    subnets, PostgreSQL on RDS in the isolated subnets (builds the network too; needs `network.natStrategy` other
    than `none`)."""
    allowed_cidrs: Annotated[list[Ipv4Cidr], Field(min_length=1, max_length=50), AfterValidator(unique)]
    """IPv4 CIDRs allowed to reach the ALB on 80 (and 443 with a certificate), canonical, no duplicates."""
    certificate_arn: Annotated[str, Field(pattern=_CERTIFICATE_ARN)] | None = None
    """ACM certificate ARN of the stack's region for the HTTPS listener (`ELBSecurityPolicy-TLS13-1-2-2021-06`, port
    80 redirecting to it); or let the stack issue one with `domainName` + `hostedZoneId`; with neither, plain HTTP
    on 80 (refused in prod)."""
    domain_name: Annotated[str, Field(pattern=_DOMAIN_NAME, max_length=253)] | None = None
    """The app's public name. With hostedZoneId the stack issues its certificate (DNS validation) and
    points the name at the load balancer; with certificateArn alone you manage the DNS record."""
    hosted_zone_id: Annotated[str, Field(pattern=_HOSTED_ZONE_ID)] | None = None
    """An existing Route 53 public hosted zone holding domainName (the stack never creates a zone)."""
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
    def _https_sources(self) -> MultiTierConfig:
        if self.hosted_zone_id and not self.domain_name:
            raise ValueError(f"{CROSS_FIELD}hostedZoneId: names the zone of domainName, which is not set")
        if self.domain_name and not (self.hosted_zone_id or self.certificate_arn):
            raise ValueError(
                f"{CROSS_FIELD}domainName: needs hostedZoneId (the stack issues the certificate and the "
                "record there) or certificateArn (a certificate you issued for it)"
            )
        return self

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
    # A borrowed network's egress is its owner's (documented, not checkable); natStrategy shapes a created one.
    if tier.enabled and cfg.network.existing is None and cfg.network.nat_strategy == "none":
        # Booting needs no internet, but the running tier calls AWS APIs (RDS, CloudWatch, Session
        # Manager), the token issuer's JWKS and the RDS CA bundle's site over HTTPS.
        raise ValueError(
            f"{CROSS_FIELD}network.natStrategy: multiTier needs egress from the private subnets "
            "(single or perAz), not none"
        )
    if (
        tier.enabled
        and cfg.environment == "prod"
        and not (tier.certificate_arn or (tier.domain_name and tier.hosted_zone_id))
    ):
        raise ValueError(
            f"{CROSS_FIELD}multiTier.certificateArn: prod serves the web tier over HTTPS only; set "
            "multiTier.certificateArn (an ACM certificate of this region) or multiTier.domainName and "
            "multiTier.hostedZoneId (the stack issues the certificate and the alias record)"
        )
    if tier.certificate_arn and tier.certificate_arn.split(":")[3] != cfg.region:
        raise ValueError(
            f"{CROSS_FIELD}multiTier.certificateArn: an ALB can only use an ACM certificate of its own "
            f"region ({cfg.region})"
        )


def example_domain(cfg: Any) -> list[str]:
    """A placeholder: a domain reserved for examples plans, but no certificate can be issued for it."""
    tier = cfg.multi_tier
    if not tier.enabled or tier.domain_name is None or not is_example_domain(tier.domain_name):
        return []
    return [
        f"{NAMESPACE}:multiTier.domainName: {tier.domain_name} is reserved for examples (RFC 2606); set your "
        "app's name and the Route 53 hosted zone that holds it (multiTier.hostedZoneId)"
    ]
