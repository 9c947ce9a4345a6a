"""The multi-tier pattern: internet → ALB (public) → Auto Scaling web tier (private) → RDS (isolated).

Each tier accepts traffic only from the tier in front of it, through security-group references
rather than CIDRs: the ALB from the configured CIDRs on 80/443, the instances from the ALB's group
on the app port, the database from the instances' group (and the migration function's) on 5432.
Groups carry no inline rules, so other components (the hybrid pattern) can add rules to
`app_security_group` without the two fighting over them.

Who may do what (docs/adr/0013-web-tier-tls-authentication-database-least-privilege.md):
- the internet reaches the ALB only; with a certificate (required in prod) it serves HTTPS with
  a TLS 1.2/1.3 policy and port 80 only redirects; with `web_acl_arn` a WAF web ACL filters it;
- reads are open; writes need a bearer token of the stack's issuer (`jwt`), checked by the app;
- the instances log in to PostgreSQL as the application role with IAM tokens (`rds-db:connect`
  for that user on that database only), which can read and write the app's tables and nothing
  else; the master secret is read only by the migration function, which creates that role.

What AWS needs and the mocks would not catch, derived here rather than left to chance:
- the ALB and the DB subnet group span at least two AZs (checked before anything is built);
- the target group is of type `instance`, as an Auto Scaling group registers instances, and it
  checks the app's liveness path (no database call: a database failover must not make Auto
  Scaling replace the fleet); readiness is a metric with an alarm instead;
- `pulumi up` waits for `min_size` healthy targets when it creates the group, so a broken boot
  fails the deployment (and a broken migration fails its invocation); a new launch template
  version rolls the fleet with automatic rollback, which AWS offers only for a numbered template
  version with a concrete AMI id (not `resolve:ssm:`);
- instances come from a launch template with IMDSv2 required and a hop limit of 1;
- the group's desired capacity is never set by the program, which would fight the scaling policy;
- nothing the instances need at launch waits for the database (~15 minutes to create): the
  launch template names the database by its identifier, fixed before creation, and the one
  policy that needs the database's resource id is attached on its own, with nothing waiting on it;
- the database is pinned by major version with automatic minor upgrades, its master password is
  managed by RDS, its fixed identifier is replaced delete-first, each incarnation's final snapshot
  has its own name, and its log groups exist (with retention) before RDS would create them
  (docs/adr/0012-database-lifecycle.md);
- the access-log bucket has the ELB log-delivery policy and SSE-S3 (the only encryption ALB
  delivery supports) before the ALB is told to use it, and no ACL (ACLs are disabled).

Instances boot from the artifact bucket and the distribution's repositories only (both on S3,
through the VPC's gateway endpoint): the app's wheels ship inside the artifact
(components/multi_tier/wheelhouse.py, docs/adr/0014-offline-boot-from-a-wheelhouse.md).
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components import buckets, policies
from components.defaults import PROJECT
from components.functions import role_statements
from components.identity import JwtSettings
from components.multi_tier import wheelhouse
from components.naming import (
    caller_account,
    log_group_prefix,
    name_tag,
    partition,
    physical_name,
    standard_tags,
    under_mocks,
)
from components.network import NetworkIds
from components.observability import READINESS_NAMESPACE, LoadBalancer, Monitored, Readiness

if TYPE_CHECKING:
    from components.config import StackConfig

APP_DIR = wheelhouse.APP_DIR
USER_DATA_TEMPLATE = APP_DIR / "user-data.sh"
SETTINGS_MARKER = "# @settings@"
LIVENESS_PATH = "/health/live"  # served by apps/web/app.py without touching the database
DB_PORT = 5432
DB_NAME = "app"
DB_USERNAME = "app_admin"  # the master user: only the migration function logs in as it
APP_DB_USER = "web_app"  # the application role the migration creates and the instances log in as
AMI_PARAMETERS = {
    "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    "x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
}
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.3 and 1.2 with forward secrecy only
ALB_LOG_PREFIX = "alb"
# Load balancer and target group names are at most 32 characters and Pulumi appends 8.
MAX_NAME = 32 - 8 - len("-alb")
MIGRATION_TIMEOUT_S = 120


def ami_architecture(instance_type: str) -> str:
    """The AMI architecture an instance type needs: Graviton families (a1, t4g, m7g, c7gn...) are arm64."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if family == "a1" or re.fullmatch(r"[a-z]+\d+g[a-z]*", family) else "x86_64"


def render_user_data(settings: dict[str, str], template: Path = USER_DATA_TEMPLATE) -> str:
    """The user-data script with this stack's settings as quoted shell assignments."""
    text = template.read_text()
    if text.count(SETTINGS_MARKER) != 1:
        raise ValueError(f"{template} must contain the line {SETTINGS_MARKER!r} exactly once")
    lines = []
    for key, value in settings.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            raise ValueError(f"user-data setting {key!r} is not a shell variable name")
        lines.append(f"readonly {key}={shlex.quote(value)}")
    return text.replace(SETTINGS_MARKER, "\n".join(lines))


def env_list(values: list[str]) -> str:
    """`values` as one comma-separated environment value (refusing what would split it)."""
    bad = [v for v in values if not v or "," in v or any(c.isspace() for c in v)]
    if bad:
        raise ValueError(f"JWT audiences must be non-empty, without commas or spaces (got {bad})")
    return ",".join(values)


@dataclass(frozen=True)
class InstanceSettings:
    instance_type: str = "t4g.micro"
    min_size: int = 1
    max_size: int = 2
    health_check_grace_seconds: int = 300
    scaling_metric: str = "cpu"  # or "requestCount" (ALB requests per target)
    scaling_target: int = 60
    root_volume_gb: int = 16


@dataclass(frozen=True)
class DatabaseSettings:
    engine_version: str = "17"  # the major version; RDS applies minor upgrades
    instance_class: str = "db.t4g.micro"
    allocated_storage_gb: int = 20
    backup_retention_days: int = 1
    performance_insights: bool = False
    log_exports: tuple[str, ...] = ("postgresql", "iam-db-auth-error")
    multi_az: bool = False
    apply_immediately: bool = True
    monitoring_interval_seconds: int = 60


@dataclass(frozen=True)
class MultiTierArgs:
    network: NetworkIds
    region: str
    allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    app_port: int = 8080
    certificate_arn: str | None = None
    access_logs: bool = False
    instances: InstanceSettings = field(default_factory=InstanceSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    deletion_protection: bool = False  # ALB and database
    protect: bool = False  # Pulumi `protect`, a final snapshot and kept backups for the database
    log_retention_days: int = 7
    # Auto Scaling groups and launched instances do not receive the provider's default tags.
    instance_tags: dict[str, str] = field(default_factory=dict)
    # With hosted_zone_id: the stack issues the certificate for it and points it at the ALB.
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    # Who may write (None: anyone; dev's documented default).
    jwt: JwtSettings | None = None
    # The stack's regional WAF web ACL, associated with the ALB.
    web_acl_arn: pulumi.Input[str] | None = None
    # The stack's server-access-log bucket; the artifact bucket logs into it.
    access_logs_bucket: aws.s3.Bucket | None = None
    # X-Ray tracing of the migration function, like every function of the stack (functions.tracing).
    function_tracing: bool = True

    @classmethod
    def from_config(
        cls,
        cfg: StackConfig,
        network: NetworkIds,
        jwt: JwtSettings | None = None,
        web_acl_arn: pulumi.Input[str] | None = None,
        access_logs_bucket: aws.s3.Bucket | None = None,
    ) -> MultiTierArgs:
        tier, common = cfg.multi_tier, cfg.common
        inst, db = tier.instances, tier.database
        return cls(
            network=network,
            region=cfg.region,
            allowed_cidrs=tuple(tier.allowed_cidrs),
            app_port=tier.app_port,
            certificate_arn=tier.certificate_arn,
            access_logs=tier.access_logs,
            instances=InstanceSettings(
                instance_type=inst.instance_type,
                min_size=inst.min_size,
                max_size=inst.max_size,
                health_check_grace_seconds=inst.health_check_grace_seconds,
                scaling_metric=inst.scaling_metric,
                scaling_target=inst.scaling_target,
            ),
            database=DatabaseSettings(
                engine_version=db.engine_version,
                instance_class=db.instance_class,
                allocated_storage_gb=db.allocated_storage_gb,
                backup_retention_days=db.backup_retention_days,
                performance_insights=db.performance_insights,
                log_exports=tuple(db.log_exports),
                multi_az=common.multi_az,
                apply_immediately=db.apply_immediately,
                monitoring_interval_seconds=db.monitoring_interval_seconds,
            ),
            deletion_protection=common.deletion_protection,
            protect=common.protect_stateful_resources,
            log_retention_days=common.log_retention_days,
            instance_tags=standard_tags(cfg, pulumi.get_stack()),
            domain_name=tier.domain_name,
            hosted_zone_id=tier.hosted_zone_id,
            jwt=jwt,
            web_acl_arn=web_acl_arn,
            access_logs_bucket=access_logs_bucket,
            function_tracing=cfg.functions.tracing,
        )

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn or self.hosted_zone_id)


def _check(name: str, args: MultiTierArgs) -> None:
    """Refuse what AWS would refuse half-way through an update."""
    if len(name) > MAX_NAME:
        raise ValueError(f"{name}: at most {MAX_NAME} characters, so the ALB and target group names fit in 32")
    zones = args.network.availability_zones
    if len(set(zones)) < 2:
        raise ValueError(f"{name}: an ALB and an RDS subnet group need subnets in at least two AZs (got {zones})")
    for tier, subnets in (
        ("public", args.network.public_subnet_ids),
        ("private", args.network.private_subnet_ids),
        ("isolated", args.network.isolated_subnet_ids),
    ):
        if len(subnets) != len(zones):
            raise ValueError(f"{name}: expected one {tier} subnet per AZ ({len(zones)}), got {len(subnets)}")
    inst = args.instances
    if not 1 <= inst.min_size <= inst.max_size:
        raise ValueError(f"{name}: need 1 <= min_size <= max_size (got {inst.min_size}, {inst.max_size})")
    if args.hosted_zone_id and not args.domain_name:
        raise ValueError(f"{name}: hosted_zone_id needs the domain_name to issue a certificate for")


class MultiTier(pulumi.ComponentResource):
    """ALB, Auto Scaling web tier running apps/web, a PostgreSQL RDS instance and its migration function."""

    alb_security_group: aws.ec2.SecurityGroup
    app_security_group: aws.ec2.SecurityGroup
    db_security_group: aws.ec2.SecurityGroup
    migration_security_group: aws.ec2.SecurityGroup
    app_port: int
    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    launch_template: aws.ec2.LaunchTemplate
    auto_scaling_group: aws.autoscaling.Group
    instance_role: aws.iam.Role
    database: aws.rds.Instance
    migration: aws.lambda_.Function
    url: pulumi.Output[str]

    def __init__(self, name: str, args: MultiTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(name, args)
        super().__init__("aws-patterns:multiTier:MultiTier", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        self.app_port = args.app_port
        self._account = caller_account(self)
        self._partition = partition(self)
        self._arch = ami_architecture(args.instances.instance_type)
        self._offline = under_mocks()
        # Known before the database exists: what the instances need to find and reach it.
        self._db_identifier = physical_name("rds", PROJECT, pulumi.get_stack(), name)
        self._web_tier = f"{PROJECT}-{pulumi.get_stack()}-{name}"

        self._security_groups(args)
        self.database = self._database(args)
        secret_arn = self.database.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
        artifact = self._artifact(args)
        self.target_group = self._target_group(args)
        listeners = self._load_balancer(args)
        self.launch_template = self._launch_template(args, artifact)
        self.auto_scaling_group = self._auto_scaling(args, listeners)
        self._database_login()
        self.migration = self._migration(args, secret_arn)

        host = args.domain_name or self.load_balancer.dns_name
        self.url = pulumi.Output.concat("https://" if args.https else "http://", host)
        self.db_endpoint = self.database.endpoint
        self.db_secret_arn = secret_arn
        self.register_outputs({"url": self.url, "dbEndpoint": self.db_endpoint, "dbSecretArn": secret_arn})

    def monitored(self) -> Monitored:
        """What of this pattern gets alarms and a dashboard section (components/observability.py)."""
        return Monitored(
            "Multi-tier",
            functions={"migrate": self.migration},
            load_balancers={"web": LoadBalancer(self.load_balancer, self.target_group)},
            auto_scaling_groups={"web": self.auto_scaling_group},
            readiness={"web": Readiness({"WebTier": self._web_tier})},
            databases={"db": self.database},
        )

    # --- the security-group chain -------------------------------------------------------------

    def _security_groups(self, args: MultiTierArgs) -> None:
        name, child = self._name, self._child

        def group(tier: str, description: str) -> aws.ec2.SecurityGroup:
            # No inline rules: an SG with inline rules overwrites rules other resources add.
            return aws.ec2.SecurityGroup(
                f"{name}-{tier}",
                vpc_id=args.network.vpc_id,
                description=description,
                tags=name_tag(name, tier),
                opts=child,
            )

        self.alb_security_group = group("alb", "ALB: HTTP(S) from the allowed CIDRs")
        self.app_security_group = group("app", "Web instances: the app port from the ALB only")
        self.db_security_group = group("db", "Database: PostgreSQL from the web instances only")
        self.migration_security_group = group("migrate", "Migration function: to the database and AWS APIs")

        ports = [80, 443] if args.https else [80]
        for port in ports:
            for i, cidr in enumerate(args.allowed_cidrs):
                self._ingress(f"alb-{port}-{i}", self.alb_security_group, port, f"HTTP(S) from {cidr}", cidr=cidr)
        self._egress(
            "alb-to-app", self.alb_security_group, args.app_port, "to the web instances", self.app_security_group
        )
        self._ingress(
            "app-from-alb", self.app_security_group, args.app_port, "from the ALB", source=self.alb_security_group
        )
        self._egress("app-to-db", self.app_security_group, DB_PORT, "to the database", self.db_security_group)
        # S3 (artifact, OS packages) through the gateway endpoint; RDS, CloudWatch, Session Manager,
        # the token issuer and the RDS CA bundle through NAT.
        self._egress("app-https", self.app_security_group, 443, "HTTPS to AWS APIs and the token issuer")
        self._ingress(
            "db-from-app", self.db_security_group, DB_PORT, "from the web instances", source=self.app_security_group
        )
        self._egress("migrate-to-db", self.migration_security_group, DB_PORT, "to the database", self.db_security_group)
        self._egress("migrate-https", self.migration_security_group, 443, "HTTPS to Secrets Manager")
        self._ingress(
            "db-from-migrate",
            self.db_security_group,
            DB_PORT,
            "from the migration function",
            source=self.migration_security_group,
        )

    def _ingress(
        self,
        rule: str,
        group: aws.ec2.SecurityGroup,
        port: int,
        description: str,
        cidr: str | None = None,
        source: aws.ec2.SecurityGroup | None = None,
    ) -> None:
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-{rule}",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr,
            referenced_security_group_id=source.id if source else None,
            description=description,
            tags=name_tag(self._name, rule),
            opts=self._child,
        )

    def _egress(
        self,
        rule: str,
        group: aws.ec2.SecurityGroup,
        port: int,
        description: str,
        target: aws.ec2.SecurityGroup | None = None,
    ) -> None:
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-{rule}",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=None if target else "0.0.0.0/0",
            referenced_security_group_id=target.id if target else None,
            description=description,
            tags=name_tag(self._name, rule),
            opts=self._child,
        )

    # --- buckets --------------------------------------------------------------------------------

    def _private_bucket(
        self, purpose: str, statements: Callable[[aws.s3.Bucket], list[dict[str, Any]]], protect: bool
    ) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        """A bucket with no public access, owner-enforced objects (no ACLs), SSE-S3 and TLS only.

        Returns the bucket and the resources that must exist before anything writes to it.
        """
        name, child = f"{self._name}-{purpose}", self._child
        bucket = aws.s3.Bucket(
            name,
            force_destroy=not protect,
            tags=name_tag(name),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=protect)),
        )
        locked = buckets.lock_down(name, bucket, child)
        tls_only = policies.tls_only([bucket.arn, pulumi.Output.concat(bucket.arn, "/*")], "s3:*")
        policy = aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=policies.document([*statements(bucket), tls_only]),
            # S3 refuses a bucket policy while the public access block is being changed.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[locked.public_access])),
        )
        return bucket, [*locked.all, policy]

    def _access_log_bucket(self, args: MultiTierArgs) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        elb_account = aws.elb.get_service_account_output(
            region=args.region, opts=pulumi.InvokeOutputOptions(parent=self)
        )

        def delivery(bucket: aws.s3.Bucket) -> list[dict[str, Any]]:
            logs = pulumi.Output.concat(bucket.arn, f"/{ALB_LOG_PREFIX}/AWSLogs/", self._account, "/*")
            # Regions opened before August 2022 deliver as the regional ELB account, newer ones as
            # the log-delivery service principal; granting both keeps the bucket right everywhere.
            return [
                {
                    "Sid": "ElbAccountDelivery",
                    "Effect": "Allow",
                    "Principal": {"AWS": elb_account.arn},
                    "Action": "s3:PutObject",
                    "Resource": logs,
                },
                {
                    "Sid": "ElbServiceDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": logs,
                },
            ]

        bucket, ready = self._private_bucket("alb-logs", delivery, args.protect)
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-alb-logs",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=f"{ALB_LOG_PREFIX}/"),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.log_retention_days),
                )
            ],
            opts=self._child,
        )
        return bucket, ready

    def _artifact(self, args: MultiTierArgs) -> aws.s3.BucketObjectv2:
        """The app and its wheels, uploaded for the instances to fetch at boot (re-uploaded when changed)."""
        bucket, ready = self._private_bucket("artifacts", lambda _: [], protect=False)
        if args.access_logs_bucket is not None:
            aws.s3.BucketLogging(
                f"{self._name}-artifacts",
                bucket=bucket.id,
                target_bucket=args.access_logs_bucket.id,
                target_prefix=f"{self._name}/artifacts/",
                opts=self._child,
            )
        wheels = None if self._offline else wheelhouse.wheelhouse(self._arch)
        built = wheelhouse.web_artifact(self._arch, wheels=wheels)
        return aws.s3.BucketObjectv2(
            f"{self._name}-web",
            bucket=bucket.id,
            key=f"web/{self._arch}-{built.digest[:32]}.tar",
            source=pulumi.FileAsset(str(built.path)),
            content_type="application/x-tar",
            tags=name_tag(self._name, "web"),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=ready)),
        )

    # --- load balancer ------------------------------------------------------------------------

    def _target_group(self, args: MultiTierArgs) -> aws.lb.TargetGroup:
        return aws.lb.TargetGroup(
            f"{self._name}-web",
            vpc_id=args.network.vpc_id,
            target_type="instance",  # an Auto Scaling group registers instances, not IPs
            port=args.app_port,
            protocol="HTTP",
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=LIVENESS_PATH,
                port="traffic-port",
                protocol="HTTP",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=name_tag(self._name, "web"),
            opts=self._child,
        )

    def _certificate(self, args: MultiTierArgs) -> pulumi.Input[str] | None:
        """The listener's certificate: the configured one, or one the stack issues for domain_name."""
        if args.certificate_arn or not args.hosted_zone_id:
            return args.certificate_arn
        name, child = f"{self._name}-cert", self._child
        certificate = aws.acm.Certificate(
            name,
            domain_name=args.domain_name,
            validation_method="DNS",
            key_algorithm="RSA_2048",
            tags=name_tag(name),
            # The listener moves to the new certificate before the old one is deleted.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=False)),
        )
        # One domain, so one validation record (known before the certificate exists, no apply needed
        # to create it). ACM gives the same record to every certificate of a name in an account, so a
        # replaced certificate finds it in place and overwriting it is harmless.
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            name,
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        # The listener takes the ARN from the validation, so it waits until ACM has issued it.
        return validation.certificate_arn

    def _load_balancer(self, args: MultiTierArgs) -> list[aws.lb.Listener]:
        name, child = self._name, self._child
        access_logs = None
        ready: list[pulumi.Resource] = []
        if args.access_logs:
            bucket, ready = self._access_log_bucket(args)
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.bucket, prefix=ALB_LOG_PREFIX, enabled=True)
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.network.public_subnet_ids,
            security_groups=[self.alb_security_group.id],
            drop_invalid_header_fields=True,  # header smuggling protection
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            tags=name_tag(name, "alb"),
            # ELB checks that it may write to the bucket when logging is switched on.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=ready)),
        )
        if args.web_acl_arn is not None:
            aws.wafv2.WebAclAssociation(
                f"{name}-alb", resource_arn=self.load_balancer.arn, web_acl_arn=args.web_acl_arn, opts=child
            )
        if args.domain_name and args.hosted_zone_id:
            aws.route53.Record(
                f"{name}-alias",
                zone_id=args.hosted_zone_id,
                name=args.domain_name,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=self.load_balancer.dns_name,
                        zone_id=self.load_balancer.zone_id,
                        evaluate_target_health=True,
                    )
                ],
                opts=child,
            )
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)]
        certificate = self._certificate(args)
        listeners = []
        if certificate is not None:
            listeners.append(
                aws.lb.Listener(
                    f"{name}-https",
                    load_balancer_arn=self.load_balancer.arn,
                    port=443,
                    protocol="HTTPS",
                    ssl_policy=TLS_POLICY,
                    certificate_arn=certificate,
                    default_actions=forward,
                    tags=name_tag(name, "https"),
                    opts=child,
                )
            )
        redirect = aws.lb.ListenerDefaultActionArgs(
            type="redirect",
            redirect=aws.lb.ListenerDefaultActionRedirectArgs(protocol="HTTPS", port="443", status_code="HTTP_301"),
        )
        # Port 80 only redirects once there is HTTPS; dev and staging may serve plain HTTP (an
        # ALB's own DNS name can have no certificate); config validation refuses that in prod.
        listeners.append(
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.load_balancer.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward if certificate is None else [redirect],
                tags=name_tag(name, "http"),
                opts=child,
            )
        )
        return listeners

    # --- web tier -------------------------------------------------------------------------------

    def _db_arn(self, region: str) -> pulumi.Output[str]:
        """The database's ARN, from its identifier: known before (and without waiting for) the database."""
        return pulumi.Output.concat(
            "arn:", self._partition, ":rds:", region, ":", self._account, ":db:", self._db_identifier
        )

    def _instance_profile(self, args: MultiTierArgs, artifact: aws.s3.BucketObjectv2) -> aws.iam.InstanceProfile:
        name, child = f"{self._name}-web", self._child
        self.instance_role = aws.iam.Role(
            name,
            assume_role_policy=policies.trust("ec2.amazonaws.com"),
            tags=name_tag(name),
            opts=child,
        )
        # Session Manager instead of SSH: no key pair, no port 22.
        ssm = aws.iam.RolePolicyAttachment(
            f"{name}-ssm",
            role=self.instance_role.name,
            policy_arn=pulumi.Output.concat("arn:", self._partition, ":iam::aws:policy/AmazonSSMManagedInstanceCore"),
            opts=child,
        )
        bucket_arn = pulumi.Output.concat("arn:", self._partition, ":s3:::", artifact.bucket)
        own = aws.iam.RolePolicy(
            name,
            role=self.instance_role.id,
            policy=policies.document(
                [
                    {
                        "Sid": "AppArtifact",
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": pulumi.Output.concat(bucket_arn, "/", artifact.key),
                    },
                    {
                        # The endpoint, looked up at run time from the identifier fixed in advance.
                        "Sid": "FindTheDatabase",
                        "Effect": "Allow",
                        "Action": "rds:DescribeDBInstances",
                        "Resource": self._db_arn(args.region),
                    },
                    {
                        # PutMetricData has no resource to scope; the namespace condition narrows it.
                        "Sid": "ReportReadiness",
                        "Effect": "Allow",
                        "Action": "cloudwatch:PutMetricData",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"cloudwatch:namespace": READINESS_NAMESPACE}},
                    },
                ]
            ),
            opts=child,
        )
        return aws.iam.InstanceProfile(
            name,
            role=self.instance_role.name,
            tags=name_tag(name),
            # Instances must not boot before they may read their artifact.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ssm, own])),
        )

    def _database_login(self) -> None:
        """`rds-db:connect` as the application role on this database: the one grant that needs the
        database's resource id. Attached on its own, so the launch path does not wait for the
        database; instances retry (readiness 503) until IAM has it."""
        user = pulumi.Output.concat(
            "arn:",
            self._partition,
            ":rds-db:",
            self.database.arn.apply(lambda arn: arn.split(":")[3]),
            ":",
            self._account,
            ":dbuser:",
            self.database.resource_id,
            f"/{APP_DB_USER}",
        )
        aws.iam.RolePolicy(
            f"{self._name}-web-db",
            role=self.instance_role.id,
            policy=policies.document(
                [{"Sid": "LogInAsTheApplicationRole", "Effect": "Allow", "Action": "rds-db:connect", "Resource": user}]
            ),
            opts=self._child,
        )

    def _launch_template(self, args: MultiTierArgs, artifact: aws.s3.BucketObjectv2) -> aws.ec2.LaunchTemplate:
        name = f"{self._name}-web"
        profile = self._instance_profile(args, artifact)
        jwt = args.jwt
        auth = (
            pulumi.Output.all(
                issuer=jwt.issuer, jwks=jwt.jwks_uri, audiences=pulumi.Output.all(*jwt.audience).apply(env_list)
            )
            if jwt
            else pulumi.Output.from_input({"issuer": "", "jwks": "", "audiences": ""})
        )
        user_data = pulumi.Output.all(bucket=artifact.bucket, key=artifact.key, auth=auth).apply(
            lambda v: base64.b64encode(
                render_user_data(
                    {
                        "REGION": args.region,
                        "ARTIFACT_BUCKET": v["bucket"],
                        "ARTIFACT_KEY": v["key"],
                        "APP_PORT": str(args.app_port),
                        "DB_INSTANCE_ID": self._db_identifier,
                        "DB_PORT": str(DB_PORT),
                        "DB_NAME": DB_NAME,
                        "DB_USER": APP_DB_USER,
                        "RDS_CA_BUNDLE_URL": RDS_CA_BUNDLE_URL,
                        "WRITE_AUTH": "jwt" if jwt else "none",
                        "JWT_ISSUER": v["auth"]["issuer"],
                        "JWT_AUDIENCES": v["auth"]["audiences"],
                        "JWT_JWKS_URI": v["auth"]["jwks"],
                        "READINESS_NAMESPACE": READINESS_NAMESPACE,
                        "WEB_TIER": self._web_tier,
                    }
                ).encode()
            ).decode()
        )
        # A concrete AMI id, read at deployment from AWS's public parameter: automatic rollback of
        # an instance refresh is not offered for `resolve:ssm:` image ids. A new AMI is picked up by
        # the next `pulumi up`, as a new template version rolled out (and rolled back) like any other.
        image = aws.ssm.get_parameter_output(
            name=AMI_PARAMETERS[self._arch], opts=pulumi.InvokeOutputOptions(parent=self)
        ).insecure_value
        instance_tags = {**args.instance_tags, **name_tag(name)}
        return aws.ec2.LaunchTemplate(
            name,
            image_id=image,
            instance_type=args.instances.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",  # IMDSv2 only
                http_put_response_hop_limit=1,  # the credentials never leave the host
            ),
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    associate_public_ip_address="false",
                    delete_on_termination="true",
                    security_groups=[self.app_security_group.id],
                )
            ],
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # the AL2023 root device
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.instances.root_volume_gb,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            user_data=user_data,
            update_default_version=True,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume")
            ],
            tags=name_tag(name),
            opts=self._child,
        )

    def _auto_scaling(self, args: MultiTierArgs, listeners: list[aws.lb.Listener]) -> aws.autoscaling.Group:
        name, inst = f"{self._name}-web", args.instances
        group = aws.autoscaling.Group(
            name,
            vpc_zone_identifiers=args.network.private_subnet_ids,
            min_size=inst.min_size,
            max_size=inst.max_size,
            # A numbered version (never $Latest/$Default), so a refresh can roll back to the previous one.
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)
            ),
            target_group_arns=[self.target_group.arn],
            health_check_type="ELB",  # replace instances whose app stops answering, not only dead ones
            health_check_grace_period=inst.health_check_grace_seconds,
            default_instance_warmup=inst.health_check_grace_seconds,
            # A new launch template version rolls the fleet, launching before terminating, and
            # rolls back by itself when new instances never turn healthy.
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=100, max_healthy_percentage=200, auto_rollback=True
                ),
            ),
            # Creating the group waits until min_size instances pass the ALB's health check, so a
            # broken boot fails `pulumi up` instead of the first user. (wait_for_elb_capacity would
            # make every later update wait for exactly that many, which the scaling policy defeats.)
            min_elb_capacity=inst.min_size,
            wait_for_capacity_timeout="15m",
            # Group metrics (free) exist only when collected; the observability alarm watches this one.
            enabled_metrics=["GroupInServiceInstances"],
            metrics_granularity="1Minute",
            tags=[
                aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True)
                for k, v in {**args.instance_tags, **name_tag(name)}.items()
            ],
            opts=pulumi.ResourceOptions.merge(
                self._child,
                pulumi.ResourceOptions(
                    # The scaling policy owns the desired capacity once the group exists.
                    ignore_changes=["desiredCapacity"],
                    # Targets only pass health checks once a listener sends the ALB's traffic.
                    depends_on=listeners,
                ),
            ),
        )
        if inst.scaling_metric == "cpu":
            metric = aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                predefined_metric_type="ASGAverageCPUUtilization"
            )
        else:
            metric = aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                predefined_metric_type="ALBRequestCountPerTarget",
                resource_label=pulumi.Output.concat(self.load_balancer.arn_suffix, "/", self.target_group.arn_suffix),
            )
        aws.autoscaling.Policy(
            name,
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=metric, target_value=inst.scaling_target
            ),
            opts=self._child,
        )
        return group

    # --- migration function ---------------------------------------------------------------------

    def _migration(self, args: MultiTierArgs, secret_arn: pulumi.Output[str]) -> aws.lambda_.Function:
        """The function that migrates the schema and creates the application role, invoked once per
        deployment that changes it (or the database); the only reader of the master secret."""
        name, child = f"{self._name}-migrate", self._child
        log_group = aws.cloudwatch.LogGroup(
            name,
            name_prefix=log_group_prefix("lambda", name),
            retention_in_days=args.log_retention_days,
            tags=name_tag(name),
            opts=child,
        )
        role = aws.iam.Role(
            name,
            assume_role_policy=policies.trust("lambda.amazonaws.com", self._account),
            tags=name_tag(name),
            opts=child,
        )
        # Network interfaces in the VPC (EC2's ENI actions cannot be scoped to a resource).
        vpc_access = aws.iam.RolePolicyAttachment(
            f"{name}-vpc",
            role=role.name,
            policy_arn=pulumi.Output.concat(
                "arn:", self._partition, ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=policies.document(
                role_statements(
                    log_group,
                    args.function_tracing,
                    [
                        {
                            "Sid": "MasterSecret",
                            "Effect": "Allow",
                            "Action": "secretsmanager:GetSecretValue",
                            "Resource": secret_arn,
                        }
                    ],
                )
            ),
            opts=child,
        )
        wheels = None if self._offline else wheelhouse.wheelhouse(self._arch)
        archive = wheelhouse.migration_archive(self._arch, wheels=wheels)
        function = aws.lambda_.Function(
            name,
            description="Migrates the web tier's schema and grants its application role (run by pulumi up)",
            runtime=f"python{wheelhouse.PYTHON}",  # the wheels in its archive are built for it
            architectures=[self._arch],
            handler="migrate.handler",
            code=pulumi.FileArchive(str(archive.path)),
            role=role.arn,
            memory_size=256,
            timeout=MIGRATION_TIMEOUT_S,
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.network.private_subnet_ids,
                security_group_ids=[self.migration_security_group.id],
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "DB_SECRET_ARN": secret_arn,
                    "DB_HOST": self.database.address,
                    "DB_PORT": str(DB_PORT),
                    "DB_NAME": DB_NAME,
                    "DB_USER": APP_DB_USER,
                    "RDS_CA_BUNDLE_URL": RDS_CA_BUNDLE_URL,
                }
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(
                mode="Active" if args.function_tracing else "PassThrough"
            ),
            tags=name_tag(name),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy, vpc_access])),
        )
        # Runs when created and whenever a trigger changes; an error fails the `pulumi up`.
        aws.lambda_.Invocation(
            name,
            function_name=function.name,
            input=json.dumps({"reason": "deployment"}),
            triggers={
                "code": archive.digest,
                "database": self.database.resource_id,
                "role": APP_DB_USER,
            },
            opts=child,
        )
        return function

    # --- database -----------------------------------------------------------------------------

    def _database(self, args: MultiTierArgs) -> aws.rds.Instance:
        name, child, db = f"{self._name}-db", self._child, args.database
        identifier = self._db_identifier
        subnet_group = aws.rds.SubnetGroup(
            name,
            subnet_ids=args.network.isolated_subnet_ids,
            tags=name_tag(name),
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            name,
            family=f"postgres{db.engine_version}",
            parameters=[aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
            tags=name_tag(name),
            opts=child,
        )
        # RDS would create these on first export, with no retention; owning them sets one.
        ready: list[pulumi.Resource] = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=args.log_retention_days,
                tags=name_tag(name, log),
                opts=child,
            )
            for log in db.log_exports
        ]
        monitoring_role = None
        if db.monitoring_interval_seconds:
            monitoring_role = aws.iam.Role(
                f"{name}-monitoring",
                assume_role_policy=policies.trust("monitoring.rds.amazonaws.com", self._account),
                tags=name_tag(name, "monitoring"),
                opts=child,
            )
            # RDS checks at create time that it may assume the role and write OS metrics.
            ready.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-monitoring",
                    role=monitoring_role.name,
                    policy_arn=pulumi.Output.concat(
                        "arn:", self._partition, ":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
                    ),
                    opts=child,
                )
            )
        # Pulumi names the subnet group with a random suffix when it creates it: every incarnation
        # of the database (a re-created stack) gets a final snapshot name of its own, where a fixed
        # one fails the second destroy with DBSnapshotAlreadyExists.
        final_snapshot = pulumi.Output.concat(identifier, "-final-", subnet_group.name) if args.protect else None
        return aws.rds.Instance(
            name,
            identifier=identifier,
            engine="postgres",
            # The major only: RDS applies minor upgrades (a pinned minor breaks updates once retired).
            engine_version=db.engine_version,
            auto_minor_version_upgrade=True,
            # Changing engineVersion to the next major upgrades in place (with a new parameter group).
            allow_major_version_upgrade=True,
            apply_immediately=db.apply_immediately,
            instance_class=db.instance_class,
            allocated_storage=db.allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=DB_NAME,
            username=DB_USERNAME,
            manage_master_user_password=True,
            iam_database_authentication_enabled=True,
            port=DB_PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[self.db_security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=db.multi_az,
            backup_retention_period=db.backup_retention_days,
            copy_tags_to_snapshot=True,
            delete_automated_backups=not args.protect,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.protect,
            final_snapshot_identifier=final_snapshot,
            performance_insights_enabled=db.performance_insights,
            performance_insights_retention_period=7 if db.performance_insights else None,
            monitoring_interval=db.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            enabled_cloudwatch_logs_exports=list(db.log_exports),
            ca_cert_identifier="rds-ca-rsa2048-g1",
            tags=name_tag(name),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    protect=args.protect,
                    depends_on=ready,
                    # The identifier is fixed (the instances find the database by it, and changing
                    # it would replace existing databases): a replacement must delete first, or the
                    # new instance collides with the old one's name.
                    delete_before_replace=True,
                ),
            ),
        )
