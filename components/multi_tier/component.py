"""The multi-tier pattern: internet → ALB (public) → Auto Scaling web tier (private) → RDS (isolated).

Each tier accepts traffic only from the tier in front of it, through security-group references
rather than CIDRs: the ALB from the configured CIDRs on 80/443, the instances from the ALB's group
on the app port, the database from the instances' group on 5432. Groups carry no inline rules, so
other components (the hybrid pattern) can add rules to `app_security_group` without the two
fighting over them.

What AWS needs and the mocks would not catch, derived here rather than left to chance:
- the ALB and the DB subnet group span at least two AZs (checked before anything is built);
- the target group is of type `instance`, as an Auto Scaling group registers instances, and its
  health check path is the one the app serves (`HEALTH_PATH`, tested against the real app);
- instances come from a launch template (launch configurations are refused in new accounts) with
  IMDSv2 required and a hop limit of 1, so containers or proxies on the host cannot reach it;
- the group's desired capacity is never set by the program, which would fight the scaling policy;
- the database's engine version and class are pinned, its master password is managed by RDS in
  Secrets Manager, a final snapshot is named unless the profile skips it, and its log groups exist
  (with retention) before RDS would create never-expiring ones;
- the access-log bucket has the ELB log-delivery policy and SSE-S3 (the only encryption ALB
  delivery supports) before the ALB is told to use it, and no ACL (ACLs are disabled).

The AMI is Amazon Linux 2023 through EC2's `resolve:ssm:` image id: EC2 reads the public SSM
parameter at every launch, so no AMI id is fixed in state, preview and tests need no lookup, and
each new instance (scale-out, instance refresh) boots the current patched image without a
deployment. The price is that instances launched on different days may run different AMI builds;
an instance refresh brings them level.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import shlex
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components import assets, policies
from components.defaults import PROJECT
from components.identity import JwtSettings
from components.naming import caller_account, name_tag, partition, physical_name, standard_tags
from components.network import NetworkIds
from components.observability import LoadBalancer, Monitored

if TYPE_CHECKING:
    from components.config import StackConfig

APP_DIR = assets.WEB_APP_DIR
# What the instances need from apps/web: the app, its pinned requirements and its unit file.
ARTIFACT_FILES = ("app.py", "requirements.txt", "web.service")
USER_DATA_TEMPLATE = APP_DIR / "user-data.sh"
SETTINGS_MARKER = "# @settings@"
HEALTH_PATH = "/health"  # served by apps/web/app.py (tests/test_web_app.py proves it)
DB_PORT = 5432
DB_NAME = "app"
DB_USERNAME = "app_admin"
AMI_PARAMETERS = {
    "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    "x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
}
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.3 and 1.2 with forward secrecy only
ALB_LOG_PREFIX = "alb"
# Load balancer and target group names are at most 32 characters and Pulumi appends 8.
MAX_NAME = 32 - 8 - len("-alb")


def ami_architecture(instance_type: str) -> str:
    """The AMI architecture an instance type needs: Graviton families (a1, t4g, m7g, c7gn...) are arm64."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if family == "a1" or re.fullmatch(r"[a-z]+\d+g[a-z]*", family) else "x86_64"


def build_artifact(app_dir: Path = APP_DIR) -> tuple[Path, str]:
    """The web app as a reproducible .tar.gz and its SHA-256.

    Same sources, same bytes (fixed mtimes and owners), so an unchanged app never shows as a
    change; a changed app gets a new object key, hence new user data, a new launch template
    version and a rolling instance refresh.
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name in ARTIFACT_FILES:
            data = (app_dir / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    content = buffer.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    path = Path(tempfile.gettempdir()) / PROJECT / f"web-{digest[:16]}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path, digest


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
    engine_version: str = "17.7"
    instance_class: str = "db.t4g.micro"
    allocated_storage_gb: int = 20
    backup_retention_days: int = 1
    performance_insights: bool = False
    log_exports: tuple[str, ...] = ("postgresql",)
    multi_az: bool = False


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
    # The stack's JWT issuer (components/identity.py); None: the app takes anonymous callers.
    jwt: JwtSettings | None = field(default=None, compare=False)
    # The stack's regional web ACL (components/waf.py), for the ALB; None: no WAF.
    web_acl_arn: pulumi.Input[str] | None = field(default=None, compare=False)
    # The stack's server-access-log bucket (components/access_logs.py); None: no access logs.
    access_logs_bucket: aws.s3.Bucket | None = field(default=None, compare=False)

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
            ),
            deletion_protection=common.deletion_protection,
            protect=common.protect_stateful_resources,
            log_retention_days=common.log_retention_days,
            instance_tags=standard_tags(cfg, pulumi.get_stack()),
            jwt=jwt,
            web_acl_arn=web_acl_arn,
            access_logs_bucket=access_logs_bucket,
        )


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


class MultiTier(pulumi.ComponentResource):
    """ALB, Auto Scaling web tier running apps/web, and a PostgreSQL RDS instance."""

    alb_security_group: aws.ec2.SecurityGroup
    app_security_group: aws.ec2.SecurityGroup
    db_security_group: aws.ec2.SecurityGroup
    app_port: int
    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    launch_template: aws.ec2.LaunchTemplate
    auto_scaling_group: aws.autoscaling.Group
    database: aws.rds.Instance
    url: pulumi.Output[str]

    def __init__(self, name: str, args: MultiTierArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(name, args)
        super().__init__("aws-patterns:multiTier:MultiTier", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        self.app_port = args.app_port
        self._account = caller_account(self)
        self._partition = partition(self)

        self._security_groups(args)
        self.database = self._database(args)
        secret_arn = self.database.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
        artifact = self._artifact()
        self.target_group = self._target_group(args)
        listeners = self._load_balancer(args)
        self.launch_template = self._launch_template(args, artifact, secret_arn)
        self.auto_scaling_group = self._auto_scaling(args, listeners)

        scheme = "https" if args.certificate_arn else "http"
        self.url = pulumi.Output.concat(f"{scheme}://", self.load_balancer.dns_name)
        self.db_endpoint = self.database.endpoint
        self.db_secret_arn = secret_arn
        self.register_outputs({"url": self.url, "dbEndpoint": self.db_endpoint, "dbSecretArn": secret_arn})

    def monitored(self) -> Monitored:
        """What of this pattern gets alarms and a dashboard section (components/observability.py)."""
        return Monitored(
            "Multi-tier",
            load_balancers={"web": LoadBalancer(self.load_balancer, self.target_group)},
            auto_scaling_groups={"web": self.auto_scaling_group},
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

        ports = [80, 443] if args.certificate_arn else [80]
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
        # Package repositories, PyPI, S3, Secrets Manager and SSM, all over HTTPS via NAT/endpoints.
        self._egress("app-https", self.app_security_group, 443, "HTTPS to AWS APIs and package repositories")
        self._ingress(
            "db-from-app", self.db_security_group, DB_PORT, "from the web instances", source=self.app_security_group
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
        controls = aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        sse = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="AES256"
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(apply_server_side_encryption_by_default=sse)],
            opts=child,
        )
        tls_only = policies.tls_only([bucket.arn, pulumi.Output.concat(bucket.arn, "/*")], "s3:*")
        policy = aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=policies.document([*statements(bucket), tls_only]),
            # S3 refuses a bucket policy while the public access block is being changed.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[public_block])),
        )
        return bucket, [controls, public_block, encryption, policy]

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

    def _artifact(self) -> aws.s3.BucketObjectv2:
        """The app, uploaded for the instances to fetch at boot (not stateful: re-uploaded on every up)."""
        bucket, ready = self._private_bucket("artifacts", lambda _: [], protect=False)
        path, digest = build_artifact()
        return aws.s3.BucketObjectv2(
            f"{self._name}-web",
            bucket=bucket.id,
            key=f"web/{digest[:16]}.tar.gz",
            source=pulumi.FileAsset(str(path)),
            content_type="application/gzip",
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
                path=HEALTH_PATH,
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
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)]
        if not args.certificate_arn:
            # Without a certificate the ALB serves plain HTTP; set multiTier.certificateArn for HTTPS.
            return [
                aws.lb.Listener(
                    f"{name}-http",
                    load_balancer_arn=self.load_balancer.arn,
                    port=80,
                    protocol="HTTP",
                    default_actions=forward,
                    tags=name_tag(name, "http"),
                    opts=child,
                )
            ]
        https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=args.certificate_arn,
            default_actions=forward,
            tags=name_tag(name, "https"),
            opts=child,
        )
        redirect = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            tags=name_tag(name, "http"),
            opts=child,
        )
        return [https, redirect]

    # --- web tier -------------------------------------------------------------------------------

    def _instance_profile(
        self, artifact: aws.s3.BucketObjectv2, secret_arn: pulumi.Output[str]
    ) -> aws.iam.InstanceProfile:
        name, child = f"{self._name}-web", self._child
        role = aws.iam.Role(
            name,
            assume_role_policy=policies.trust("ec2.amazonaws.com"),
            tags=name_tag(name),
            opts=child,
        )
        # Session Manager instead of SSH: no key pair, no port 22.
        ssm = aws.iam.RolePolicyAttachment(
            f"{name}-ssm",
            role=role.name,
            policy_arn=pulumi.Output.concat("arn:", self._partition, ":iam::aws:policy/AmazonSSMManagedInstanceCore"),
            opts=child,
        )
        bucket_arn = pulumi.Output.concat("arn:", self._partition, ":s3:::", artifact.bucket)
        own = aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=policies.document(
                [
                    {
                        "Sid": "DatabaseSecret",
                        "Effect": "Allow",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": secret_arn,
                    },
                    {
                        "Sid": "AppArtifact",
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": pulumi.Output.concat(bucket_arn, "/", artifact.key),
                    },
                ]
            ),
            opts=child,
        )
        return aws.iam.InstanceProfile(
            name,
            role=role.name,
            tags=name_tag(name),
            # Instances must not boot before they may read their secret and artifact.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ssm, own])),
        )

    def _launch_template(
        self, args: MultiTierArgs, artifact: aws.s3.BucketObjectv2, secret_arn: pulumi.Output[str]
    ) -> aws.ec2.LaunchTemplate:
        name = f"{self._name}-web"
        profile = self._instance_profile(artifact, secret_arn)
        user_data = pulumi.Output.all(
            bucket=artifact.bucket, key=artifact.key, host=self.database.address, secret=secret_arn
        ).apply(
            lambda v: base64.b64encode(
                render_user_data(
                    {
                        "REGION": args.region,
                        "ARTIFACT_BUCKET": v["bucket"],
                        "ARTIFACT_KEY": v["key"],
                        "RDS_CA_BUNDLE_URL": RDS_CA_BUNDLE_URL,
                        "APP_PORT": str(args.app_port),
                        "DB_HOST": v["host"],
                        "DB_PORT": str(DB_PORT),
                        "DB_NAME": DB_NAME,
                        "DB_SECRET_ARN": v["secret"],
                    }
                ).encode()
            ).decode()
        )
        instance_tags = {**args.instance_tags, **name_tag(name)}
        arch = ami_architecture(args.instances.instance_type)
        return aws.ec2.LaunchTemplate(
            name,
            image_id=f"resolve:ssm:{AMI_PARAMETERS[arch]}",
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
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version
            ),
            target_group_arns=[self.target_group.arn],
            health_check_type="ELB",  # replace instances the ALB finds unhealthy, not only dead ones
            health_check_grace_period=inst.health_check_grace_seconds,
            default_instance_warmup=inst.health_check_grace_seconds,
            # A new launch template version rolls the fleet, launching before terminating.
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=100, max_healthy_percentage=200
                ),
            ),
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

    # --- database -----------------------------------------------------------------------------

    def _database(self, args: MultiTierArgs) -> aws.rds.Instance:
        name, child, db = f"{self._name}-db", self._child, args.database
        identifier = physical_name("rds", PROJECT, pulumi.get_stack(), self._name)
        subnet_group = aws.rds.SubnetGroup(
            name,
            subnet_ids=args.network.isolated_subnet_ids,
            tags=name_tag(name),
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            name,
            family=f"postgres{db.engine_version.split('.')[0]}",
            parameters=[aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
            tags=name_tag(name),
            opts=child,
        )
        # RDS would create these on first export, with no retention; owning them sets one.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=args.log_retention_days,
                tags=name_tag(name, log),
                opts=child,
            )
            for log in db.log_exports
        ]
        return aws.rds.Instance(
            name,
            identifier=identifier,
            engine="postgres",
            engine_version=db.engine_version,
            # A pinned version must not move under the program's feet; upgrades are config changes.
            auto_minor_version_upgrade=False,
            instance_class=db.instance_class,
            allocated_storage=db.allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=DB_NAME,
            username=DB_USERNAME,
            manage_master_user_password=True,
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
            final_snapshot_identifier=physical_name("rds", identifier, "final") if args.protect else None,
            performance_insights_enabled=db.performance_insights,
            performance_insights_retention_period=7 if db.performance_insights else None,
            enabled_cloudwatch_logs_exports=list(db.log_exports),
            ca_cert_identifier="rds-ca-rsa2048-g1",
            tags=name_tag(name),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(protect=args.protect, depends_on=log_groups)
            ),
        )
