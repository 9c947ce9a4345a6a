"""The MultiTier component, asserted on what the program registers (type and wiring).

Every AWS trap the component guards (GUIDE §5: 6, 7, 12, 13) has a test here that fails when the
guard goes. Wiring is read from `property_dependencies`, so it holds in preview, when ids are
unknown, as well as in up mode.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pulumi_aws as aws
import pytest

from components.config import ConfigError, validate
from components.identity import JwtSettings
from components.multi_tier import wheelhouse
from components.multi_tier.component import (
    APP_DB_USER,
    DB_PORT,
    LIVENESS_PATH,
    TLS_POLICY,
    MultiTier,
    MultiTierArgs,
    ami_architecture,
    env_list,
)
from components.network import Network, NetworkArgs
from components.observability import READINESS_NAMESPACE
from tests.conftest import run_with
from tools.offline import ACCOUNT, Registered, Run, run_cached, run_program, stack_config, wired

COMPONENT = "aws-patterns:multiTier:MultiTier"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SUBNET = "aws:ec2/subnet:Subnet"
ALB = "aws:lb/loadBalancer:LoadBalancer"
TG = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
POLICY = "aws:autoscaling/policy:Policy"
DB = "aws:rds/instance:Instance"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
FUNCTION = "aws:lambda/function:Function"
INVOCATION = "aws:lambda/invocation:Invocation"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ENABLED = {"multiTier": {"enabled": True}}


def _cfg(stack: str, overrides: dict[str, Any] | None = None) -> Any:
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("aws-patterns:")}
    decoded = {k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()}
    for key, value in (overrides or {}).items():
        decoded[key] = {**decoded.get(key, {}), **value}
    return validate(decoded, stack_config(stack)["aws:region"])


def _mine(run: Run, type_: str) -> list[Registered]:
    """Resources of `type_` that the MultiTier component itself created."""
    (component,) = run.by_type(COMPONENT)
    return [r for r in run.by_type(type_) if r.parent == component.urn]


def _one(run: Run, type_: str) -> Registered:
    (res,) = _mine(run, type_)
    return res


def _sg(run: Run, tier: str) -> Registered:
    (group,) = [g for g in _mine(run, SG) if g.name == f"multi-tier-{tier}"]
    return group


def _subnets(run: Run, tier: str) -> list[Registered]:
    return [s for s in run.by_type(SUBNET) if s.inputs["tags"]["tier"] == tier]


@pytest.fixture(params=[("staging", True), ("staging", False), ("prod", True), ("prod", False)], ids=str)
def run(request: pytest.FixtureRequest) -> Run:
    """The shipped stacks that enable multiTier, in preview and up modes."""
    return run_cached(*request.param)


@pytest.fixture(scope="module")
def dev_run() -> Run:
    """dev with multiTier switched on and network.enabled off: the pattern must bring its VPC."""
    return run_with("dev", {**ENABLED, "network": {"enabled": False}}, preview=True)


# --- which stacks build it ---------------------------------------------------------------------


def test_dev_does_not_enable_multi_tier_and_staging_and_prod_do() -> None:
    assert not _cfg("dev").multi_tier.enabled
    for stack in ("staging", "prod"):
        assert _cfg(stack).multi_tier.enabled
        assert len(run_cached(stack, True).by_type(COMPONENT)) == 1


def test_enabling_it_builds_the_network_even_when_network_is_off(dev_run: Run) -> None:
    assert dev_run.by_type(COMPONENT) and dev_run.by_type("aws:ec2/vpc:Vpc")


# --- the security-group chain ------------------------------------------------------------------


def test_each_tier_is_reachable_only_from_the_one_in_front(run: Run) -> None:
    cfg = _cfg(run.stack).multi_tier
    alb, app, db, migrate = (_sg(run, t) for t in ("alb", "app", "db", "migrate"))
    groups = {g.urn: g.name.removeprefix("multi-tier-") for g in (alb, app, db, migrate)}
    for group in (alb, app, db, migrate):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress"), "no inline rules"

    def rules(type_: str) -> set[tuple[str, str, int, int]]:
        found = set()
        for rule in _mine(run, type_):
            (owner,) = [u for u in rule.property_dependencies["securityGroupId"] if u in groups]
            refs = [groups[u] for u in rule.property_dependencies.get("referencedSecurityGroupId", [])]
            peer = refs[0] if refs else rule.inputs["cidrIpv4"]
            assert rule.inputs["ipProtocol"] == "tcp"
            found.add((groups[owner], peer, rule.inputs["fromPort"], rule.inputs["toPort"]))
        return found

    ports = [80, 443] if cfg.certificate_arn or cfg.hosted_zone_id else [80]
    assert rules(INGRESS) == {
        *(("alb", cidr, p, p) for cidr in cfg.allowed_cidrs for p in ports),
        ("app", "alb", cfg.app_port, cfg.app_port),
        ("db", "app", DB_PORT, DB_PORT),
        ("db", "migrate", DB_PORT, DB_PORT),
    }
    assert rules(EGRESS) == {
        ("alb", "app", cfg.app_port, cfg.app_port),
        ("app", "db", DB_PORT, DB_PORT),
        ("app", "0.0.0.0/0", 443, 443),
        ("migrate", "db", DB_PORT, DB_PORT),
        ("migrate", "0.0.0.0/0", 443, 443),
    }


def test_https_listener_with_modern_tls_and_http_redirect_when_a_certificate_is_set() -> None:
    run = run_with("dev", {"multiTier": {"enabled": True, "certificateArn": CERT}}, preview=True)
    listeners = {r.inputs["port"]: r for r in _mine(run, LISTENER)}
    assert sorted(listeners) == [80, 443]
    https = listeners[443]
    assert https.inputs["protocol"] == "HTTPS"
    assert https.inputs["sslPolicy"] == TLS_POLICY
    assert https.inputs["certificateArn"] == CERT
    (forward,) = https.inputs["defaultActions"]
    assert forward["type"] == "forward" and wired(https, "defaultActions", _one(run, TG))
    (redirect,) = listeners[80].inputs["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    ports = {r.inputs["fromPort"] for r in _mine(run, INGRESS) if wired(r, "securityGroupId", _sg(run, "alb"))}
    assert ports == {80, 443}


def test_plain_http_only_without_a_certificate() -> None:
    run = run_cached("staging", True)
    assert not _cfg("staging").multi_tier.certificate_arn and not _cfg("staging").multi_tier.hosted_zone_id
    (listener,) = _mine(run, LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert wired(listener, "defaultActions", _one(run, TG))


# --- load balancer and target group (GUIDE §5.6, §5.7) -------------------------------------------


def test_alb_is_internet_facing_in_public_subnets_over_two_or_more_azs(run: Run) -> None:
    alb = _one(run, ALB)
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["internal"] is False
    assert alb.inputs["dropInvalidHeaderFields"] is True
    subnets = [s for s in run.by_type(SUBNET) if wired(alb, "subnets", s)]
    assert {s.inputs["tags"]["tier"] for s in subnets} == {"public"}
    assert len({s.inputs["availabilityZone"] for s in subnets}) >= 2
    assert subnets == _subnets(run, "public")
    assert wired(alb, "securityGroups", _sg(run, "alb"))


def test_target_group_is_instance_type_and_checks_the_apps_health_path(run: Run) -> None:
    tg = _one(run, TG)
    assert tg.inputs["targetType"] == "instance"
    assert tg.inputs["port"] == _cfg(run.stack).multi_tier.app_port
    check = tg.inputs["healthCheck"]
    # Liveness, not readiness: tests/test_web_app.py proves the app answers 200 on LIVENESS_PATH
    # while its database is away, so a database failover never makes Auto Scaling replace the fleet.
    assert (check["path"], check["matcher"], check["port"]) == (LIVENESS_PATH, "200", "traffic-port")


# --- access logs (GUIDE §5.13) ---------------------------------------------------------------------


def _log_bucket(run: Run) -> Registered:
    (bucket,) = [b for b in _mine(run, BUCKET) if b.name == "multi-tier-alb-logs"]
    return bucket


def test_access_log_bucket_has_elb_delivery_policy_sse_s3_and_no_acl(run: Run) -> None:
    bucket, alb = _log_bucket(run), _one(run, ALB)
    assert wired(alb, "accessLogs", bucket)
    assert alb.inputs["accessLogs"]["enabled"] is True
    prefix = alb.inputs["accessLogs"]["prefix"]
    (policy,) = [p for p in _mine(run, BUCKET_POLICY) if wired(p, "bucket", bucket)]
    assert policy.urn in alb.dependencies, "ELB checks the bucket policy when logging is switched on"
    (sse,) = [
        r
        for r in run.by_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if wired(r, "bucket", bucket)
    ]
    assert [r["applyServerSideEncryptionByDefault"]["sseAlgorithm"] for r in sse.inputs["rules"]] == ["AES256"]
    (owner,) = [
        r for r in run.by_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls") if wired(r, "bucket", bucket)
    ]
    assert owner.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert run.by_type("aws:s3/bucketAcl:BucketAcl") == []
    assert all("acl" not in b.inputs for b in run.by_type(BUCKET))
    if not run.preview:
        statements = json.loads(policy.inputs["policy"])["Statement"]
        writers = [s for s in statements if s["Effect"] == "Allow"]
        principals = [s["Principal"] for s in writers]
        assert {"AWS": "arn:aws:iam::127311923021:root"} in principals
        assert {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"} in principals
        expected = f"{bucket.outputs['arn']}/{prefix}/AWSLogs/{ACCOUNT}/*"
        assert all(s["Action"] == "s3:PutObject" and s["Resource"] == expected for s in writers)
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_no_access_log_bucket_when_logs_are_off(dev_run: Run) -> None:
    assert _cfg("dev").multi_tier.access_logs is False
    assert [b.name for b in _mine(dev_run, BUCKET)] == ["multi-tier-artifacts"]
    assert not _one(dev_run, ALB).inputs.get("accessLogs")


# --- launch template and Auto Scaling (GUIDE §5.7) ---------------------------------------------------


def test_no_launch_configuration_anywhere(run: Run) -> None:
    assert run.by_type("aws:ec2/launchConfiguration:LaunchConfiguration") == []
    assert "launchConfiguration" not in _one(run, ASG).inputs


def test_launch_template_hardening(run: Run) -> None:
    lt = _one(run, LT)
    cfg = _cfg(run.stack).multi_tier.instances
    meta = lt.inputs["metadataOptions"]
    assert (meta["httpTokens"], meta["httpPutResponseHopLimit"], meta["httpEndpoint"]) == ("required", 1, "enabled")
    # A concrete AMI id (read from AWS's public parameter at deployment): automatic rollback of an
    # instance refresh is not available for `resolve:ssm:` image ids.
    assert lt.inputs["imageId"].startswith("ami-")
    assert lt.inputs["instanceType"] == cfg.instance_type
    assert "keyName" not in lt.inputs, "Session Manager, no SSH key"
    (nic,) = lt.inputs["networkInterfaces"]
    assert nic["associatePublicIpAddress"] == "false"
    assert wired(lt, "networkInterfaces", _sg(run, "app"))
    (root,) = lt.inputs["blockDeviceMappings"]
    assert (root["ebs"]["volumeType"], root["ebs"]["encrypted"]) == ("gp3", "true")
    # The user data names the artifact; the database only by its identifier (see the decoupling test).
    assert wired(lt, "userData", _one(run, "aws:s3/bucketObjectv2:BucketObjectv2"))
    assert not wired(lt, "userData", _one(run, DB))


def test_auto_scaling_group_wiring(run: Run) -> None:
    asg, cfg = _one(run, ASG), _cfg(run.stack).multi_tier.instances
    assert (asg.inputs["minSize"], asg.inputs["maxSize"]) == (cfg.min_size, cfg.max_size)
    assert "desiredCapacity" not in asg.inputs, "the scaling policy owns the desired capacity"
    assert asg.inputs["healthCheckType"] == "ELB"
    assert asg.inputs["healthCheckGracePeriod"] == cfg.health_check_grace_seconds
    assert wired(asg, "launchTemplate", _one(run, LT))
    assert wired(asg, "targetGroupArns", _one(run, TG))
    subnets = [s for s in run.by_type(SUBNET) if wired(asg, "vpcZoneIdentifiers", s)]
    assert subnets == _subnets(run, "private")
    refresh = asg.inputs["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"]["autoRollback"] is True
    # `pulumi up` waits for min_size healthy targets when it creates the group (a broken boot fails it).
    assert asg.inputs["minElbCapacity"] == cfg.min_size
    assert "waitForElbCapacity" not in asg.inputs, "would wait for exactly that many on every update"
    # Rollback needs a numbered template version, never $Latest or $Default.
    assert wired(asg, "launchTemplate", _one(run, LT))
    if not run.preview:
        assert asg.inputs["launchTemplate"]["version"] == str(_one(run, LT).outputs["latestVersion"])
    assert all(listener.urn in asg.dependencies for listener in _mine(run, LISTENER))
    names = [t["value"] for t in asg.inputs["tags"] if t["key"] == "Name" and t["propagateAtLaunch"]]
    assert names and names[0].startswith("aws-patterns-")


def test_desired_capacity_changes_are_ignored() -> None:
    (group,) = run_cached("staging", True).by_type(ASG)
    assert "desiredCapacity" in group.ignore_changes


def test_scaling_policy_tracks_the_configured_metric(run: Run) -> None:
    policy, cfg = _one(run, POLICY), _cfg(run.stack).multi_tier.instances
    assert policy.inputs["policyType"] == "TargetTrackingScaling"
    assert wired(policy, "autoscalingGroupName", _one(run, ASG))
    tracking = policy.inputs["targetTrackingConfiguration"]
    assert tracking["targetValue"] == cfg.scaling_target
    spec = tracking["predefinedMetricSpecification"]
    if cfg.scaling_metric == "cpu":
        assert spec["predefinedMetricType"] == "ASGAverageCPUUtilization"
    else:
        assert spec["predefinedMetricType"] == "ALBRequestCountPerTarget"
        assert wired(policy, "targetTrackingConfiguration", _one(run, ALB))
        assert wired(policy, "targetTrackingConfiguration", _one(run, TG))
        if not run.preview:
            alb, tg = _one(run, ALB), _one(run, TG)
            assert spec["resourceLabel"] == f"{alb.outputs['arnSuffix']}/{tg.outputs['arnSuffix']}"


def _policy(run: Run, name: str) -> Registered:
    (policy,) = [p for p in _mine(run, ROLE_POLICY) if p.name == name]
    return policy


def test_instance_role_reads_its_artifact_finds_its_database_and_reports_readiness(run: Run) -> None:
    (role,) = [r for r in _mine(run, "aws:iam/role:Role") if r.name == "multi-tier-web"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ec2.amazonaws.com"}]
    (attachment,) = [
        a for a in _mine(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment") if wired(a, "role", role)
    ]
    assert attachment.inputs["policyArn"].endswith(":iam::aws:policy/AmazonSSMManagedInstanceCore")
    policy = _policy(run, "multi-tier-web")
    assert wired(policy, "role", role)
    assert not wired(policy, "policy", _one(run, DB)), "the launch path must not wait for the database"
    (profile,) = _mine(run, "aws:iam/instanceProfile:InstanceProfile")
    assert {policy.urn, attachment.urn} <= set(profile.dependencies)
    if not run.preview:
        statements = json.loads(policy.inputs["policy"])["Statement"]
        db, obj = _one(run, DB), _one(run, "aws:s3/bucketObjectv2:BucketObjectv2")
        assert {(s["Action"], s["Resource"]) for s in statements} == {
            ("s3:GetObject", f"arn:aws:s3:::{obj.inputs['bucket']}/{obj.inputs['key']}"),
            # Built from the identifier, yet the very ARN the database gets.
            ("rds:DescribeDBInstances", db.outputs["arn"]),
            ("cloudwatch:PutMetricData", "*"),
        }
        (metrics,) = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
        assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": READINESS_NAMESPACE}}
        assert "secretsmanager" not in policy.inputs["policy"], "the web tier never reads the master secret"


def test_the_instances_may_log_in_only_as_the_application_role_of_this_database(run: Run) -> None:
    login, db = _policy(run, "multi-tier-web-db"), _one(run, DB)
    (role,) = [r for r in _mine(run, "aws:iam/role:Role") if r.name == "multi-tier-web"]
    assert wired(login, "role", role) and wired(login, "policy", db)
    # Attached on its own: nothing on the launch path waits for it (nor for the database).
    assert not [r for r in run.resources if login.urn in _direct(r)]
    if not run.preview:
        (statement,) = json.loads(login.inputs["policy"])["Statement"]
        assert statement["Action"] == "rds-db:connect"
        assert (
            statement["Resource"]
            == f"arn:aws:rds-db:us-east-1:{ACCOUNT}:dbuser:{db.outputs['resourceId']}/{APP_DB_USER}"
        )


def _direct(res: Registered) -> set[str]:
    return set(res.dependencies) | {u for urns in res.property_dependencies.values() for u in urns}


def _closure(run: Run, res: Registered) -> set[str]:
    by_urn = {r.urn: r for r in run.resources}
    seen: set[str] = set()
    todo = list(_direct(res))
    while todo:
        urn = todo.pop()
        if urn not in seen and urn in by_urn:
            seen.add(urn)
            todo += _direct(by_urn[urn])
    return seen


def test_nothing_on_the_web_tiers_launch_path_waits_for_the_database(run: Run) -> None:
    # Issue 17.6: the database takes ~15 minutes to create; the web tier must not queue behind it.
    db = _one(run, DB)
    launch_path = [_one(run, LT), _one(run, ASG), _one(run, "aws:iam/instanceProfile:InstanceProfile")]
    for res in launch_path:
        assert db.urn not in _closure(run, res), f"{res.name} ({res.type}) waits for the database"
    # The check sees dependencies at all: the migration's invocation does wait for the database.
    assert db.urn in _closure(run, _one(run, INVOCATION))


# --- database (GUIDE §5.6, §5.12) ------------------------------------------------------------------


def test_database_is_pinned_private_encrypted_and_password_managed(run: Run) -> None:
    db, cfg = _one(run, DB), _cfg(run.stack)
    settings = cfg.multi_tier.database
    assert db.inputs["engine"] == "postgres"
    # The major only, with AWS applying minors (docs/adr/0012-database-lifecycle.md).
    assert db.inputs["engineVersion"] == settings.engine_version and "." not in settings.engine_version
    assert db.inputs["autoMinorVersionUpgrade"] is True
    assert db.inputs["allowMajorVersionUpgrade"] is True
    assert db.inputs["applyImmediately"] is settings.apply_immediately
    assert db.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert db.delete_before_replace is True, "a fixed identifier: a replacement must delete first"
    assert db.inputs["instanceClass"] == settings.instance_class
    assert db.inputs["manageMasterUserPassword"] is True
    assert "password" not in db.inputs
    assert db.inputs["storageEncrypted"] is True
    assert db.inputs["publiclyAccessible"] is False
    assert db.inputs["multiAz"] is cfg.common.multi_az
    assert db.inputs["deletionProtection"] is cfg.common.deletion_protection
    assert db.inputs["backupRetentionPeriod"] == settings.backup_retention_days
    assert db.inputs["performanceInsightsEnabled"] is settings.performance_insights
    assert wired(db, "vpcSecurityGroupIds", _sg(run, "db"))
    (group,) = _mine(run, "aws:rds/subnetGroup:SubnetGroup")
    assert wired(db, "dbSubnetGroupName", group)
    subnets = [s for s in run.by_type(SUBNET) if wired(group, "subnetIds", s)]
    assert subnets == _subnets(run, "isolated")
    assert len({s.inputs["availabilityZone"] for s in subnets}) >= 2


def test_parameter_group_forces_ssl_for_the_pinned_major(run: Run) -> None:
    db = _one(run, DB)
    (params,) = _mine(run, "aws:rds/parameterGroup:ParameterGroup")
    assert wired(db, "parameterGroupName", params)
    assert params.inputs["family"] == "postgres" + db.inputs["engineVersion"]
    assert {"name": "rds.force_ssl", "value": "1"} in [
        {k: p[k] for k in ("name", "value")} for p in params.inputs["parameters"]
    ]


def test_exported_logs_land_in_groups_with_retention_created_first(run: Run) -> None:
    db, cfg = _one(run, DB), _cfg(run.stack)
    groups = [g for g in _mine(run, "aws:cloudwatch/logGroup:LogGroup") if g.name.startswith("multi-tier-db-")]
    assert db.inputs["enabledCloudwatchLogsExports"] == cfg.multi_tier.database.log_exports
    assert sorted(g.inputs["name"] for g in groups) == sorted(
        f"/aws/rds/instance/{db.inputs['identifier']}/{log}" for log in cfg.multi_tier.database.log_exports
    )
    assert all(g.inputs["retentionInDays"] == cfg.common.log_retention_days for g in groups)
    assert all(g.urn in db.dependencies for g in groups)


def test_prod_keeps_a_final_snapshot_and_protects_the_database() -> None:
    prod = _one(run_cached("prod", True), DB)
    assert prod.protect is True
    assert prod.inputs["skipFinalSnapshot"] is False
    up = run_cached("prod", False)
    db, (group,) = _one(up, DB), _mine(up, "aws:rds/subnetGroup:SubnetGroup")
    # Unique per incarnation: it carries the subnet group's name, which Pulumi suffixes randomly
    # when it creates it (a re-created stack gets a new one).
    assert wired(db, "finalSnapshotIdentifier", group)
    assert db.inputs["finalSnapshotIdentifier"] == f"{db.inputs['identifier']}-final-{group.outputs['name']}"
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", db.inputs["finalSnapshotIdentifier"])
    assert len(db.inputs["finalSnapshotIdentifier"]) <= 255
    assert prod.inputs["multiAz"] is True and prod.inputs["deletionProtection"] is True


def test_dev_skips_the_final_snapshot_and_can_be_destroyed(dev_run: Run) -> None:
    db = _one(dev_run, DB)
    assert db.protect is False
    assert db.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db.inputs
    assert db.inputs["multiAz"] is False and db.inputs["deletionProtection"] is False
    assert _one(dev_run, ALB).inputs["enableDeletionProtection"] is False


def test_profiles_size_dev_smaller_than_prod(dev_run: Run) -> None:
    prod = run_cached("prod", True)
    dev_cfg, prod_cfg = _cfg("dev").multi_tier, _cfg("prod").multi_tier
    assert _one(dev_run, LT).inputs["instanceType"] == dev_cfg.instances.instance_type == "t4g.micro"
    assert _one(prod, LT).inputs["instanceType"] == prod_cfg.instances.instance_type != "t4g.micro"
    assert _one(dev_run, DB).inputs["instanceClass"] == "db.t4g.micro"
    assert _one(prod, DB).inputs["instanceClass"] == prod_cfg.database.instance_class != "db.t4g.micro"
    assert _one(prod, ASG).inputs["minSize"] >= len(_subnets(prod, "private")), "one instance per AZ at least"
    assert _one(prod, ALB).inputs["enableDeletionProtection"] is True


# --- outputs and the contract with other components ---------------------------------------------------


def test_outputs_name_the_url_and_endpoint_but_no_password() -> None:
    run = run_cached("prod", False)
    exported = run.outputs["multiTier"]
    alb, db = _one(run, ALB), _one(run, DB)
    assert exported["url"] == f"https://{_cfg('prod').multi_tier.domain_name}"
    staging = run_cached("staging", False)
    assert staging.outputs["multiTier"]["url"] == f"http://{_one(staging, ALB).outputs['dnsName']}"
    assert exported["dbEndpoint"] == db.outputs["endpoint"] and alb.outputs["dnsName"]
    assert exported["dbSecretArn"] == db.outputs["masterUserSecrets"][0]["secretArn"]
    assert "password" not in json.dumps(exported).lower()


def _component(
    az_count: int = 2,
    name: str = "multi-tier",
    zones: int | None = None,
    preview: bool = True,
    with_log_bucket: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """Build Network + MultiTier directly; `zones` < az_count hands the component fewer subnets;
    `extra` are further MultiTierArgs fields; `with_log_bucket` passes a stack log bucket."""
    built: dict[str, Any] = {}

    def program() -> None:
        if with_log_bucket:
            extra["access_logs_bucket"] = aws.s3.Bucket("stack-access-logs")
        net = Network(
            "net", NetworkArgs(cidr="10.0.0.0/16", az_count=az_count, nat_strategy="single", region="us-east-1")
        )
        keep = zones or az_count
        ids = net.ids
        args = MultiTierArgs(
            network=dataclasses.replace(
                ids,
                public_subnet_ids=ids.public_subnet_ids[:keep],
                private_subnet_ids=ids.private_subnet_ids[:keep],
                isolated_subnet_ids=ids.isolated_subnet_ids[:keep],
                availability_zones=ids.availability_zones[:keep],
            ),
            region="us-east-1",
            **extra,
        )
        built["component"] = MultiTier(name, args)

    built["run"] = run_program("dev", preview, program=program)
    return built


def test_exposes_the_app_security_group_and_port_for_the_hybrid_pattern() -> None:
    built = _component()
    component = built["component"]
    assert isinstance(component.app_security_group, aws.ec2.SecurityGroup)
    assert isinstance(component.app_port, int) and component.app_port == 8080
    (app_sg,) = [g for g in built["run"].by_type(SG) if g.name == "multi-tier-app"]
    assert app_sg.parent == built["run"].by_type(COMPONENT)[0].urn


def test_one_az_is_refused_before_anything_is_registered() -> None:
    with pytest.raises(ValueError, match="at least two AZs"):
        _component(az_count=2, zones=1)


def test_a_name_too_long_for_the_alb_is_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        _component(name="a-name-far-too-long-for-an-alb")


# --- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "key", "mentions"),
    [
        ({"multiTier": {"instances": {"minSize": 5, "maxSize": 2}}}, "multiTier.instances.minSize", "maxSize"),
        ({"multiTier": {"instances": {"scalingTarget": 150}}}, "multiTier.instances.scalingTarget", "CPU"),
        ({"multiTier": {"database": {"instanceClass": "t4g.micro"}}}, "multiTier.database.instanceClass", "t4g"),
        ({"multiTier": {"database": {"engineVersion": "17.7"}}}, "multiTier.database.engineVersion", "major"),
        ({"multiTier": {"database": {"engineVersion": "12"}}}, "multiTier.database.engineVersion", "12"),
        (
            {"multiTier": {"database": {"monitoringIntervalSeconds": 45}}},
            "multiTier.database.monitoringIntervalSeconds",
            "60",
        ),
        ({"multiTier": {"hostedZoneId": "Z123ABC"}}, "multiTier.hostedZoneId", "domainName"),
        ({"multiTier": {"domainName": "app.example.org"}}, "multiTier.domainName", "hostedZoneId"),
        ({"multiTier": {"domainName": "App.Example.org", "certificateArn": CERT}}, "multiTier.domainName", "App"),
        ({"multiTier": {"domainName": "*.example.org", "certificateArn": CERT}}, "multiTier.domainName", "*"),
        ({"multiTier": {"domainName": "app.example.org", "hostedZoneId": "zone-1"}}, "multiTier.hostedZoneId", "zone"),
        ({"multiTier": {"database": {"logExports": ["audit"]}}}, "multiTier.database.logExports", "audit"),
        ({"multiTier": {"appPort": 80}}, "multiTier.appPort", "1024"),
        ({"multiTier": {"allowedCidrs": []}}, "multiTier.allowedCidrs", "1"),
        ({"multiTier": {"allowedCidrs": ["10.0.0.1/8"]}}, "multiTier.allowedCidrs", "10.0.0.0/8"),
        (
            {"multiTier": {"certificateArn": CERT.replace("us-east-1", "eu-west-1")}},
            "multiTier.certificateArn",
            "region",
        ),
        ({"multiTier": {"enabled": True}, "network": {"natStrategy": "none"}}, "network.natStrategy", "egress"),
    ],
)
def test_bad_multi_tier_config_names_the_key(overrides: dict, key: str, mentions: str) -> None:
    with pytest.raises(ConfigError) as info:
        run_with("dev", overrides, preview=True)
    (line,) = [li.strip() for li in str(info.value).splitlines() if li.strip().startswith(f"aws-patterns:{key}")]
    assert mentions in line


def _prod_with(multi_tier: dict[str, Any]) -> dict[str, str]:
    config = stack_config("prod")
    config["aws-patterns:multiTier"] = json.dumps(multi_tier)
    return config


def test_prod_without_a_certificate_or_a_domain_and_zone_is_refused_naming_the_keys() -> None:
    shipped = json.loads(stack_config("prod")["aws-patterns:multiTier"])
    for removed in (("domainName", "hostedZoneId"),):
        config = _prod_with({k: v for k, v in shipped.items() if k not in removed})
        with pytest.raises(ConfigError) as info:
            run_cached("prod", True, config=config)
        (line,) = [li.strip() for li in str(info.value).splitlines() if li.strip().startswith("aws-patterns:")]
        assert line.startswith("aws-patterns:multiTier.certificateArn:")
        assert "multiTier.domainName" in line and "multiTier.hostedZoneId" in line
    # A certificate alone satisfies prod (you manage the DNS record); dev and staging may serve HTTP.
    config = _prod_with({**{k: v for k, v in shipped.items() if k != "hostedZoneId"}, "certificateArn": CERT})
    run = run_cached("prod", True, config=config)
    assert {r.inputs.get("certificateArn") for r in _mine(run, LISTENER)} == {CERT, None}
    assert run.by_type("aws:acm/certificate:Certificate") == [] and _mine(run, RECORD) == []
    assert not _cfg("staging").multi_tier.certificate_arn and not _cfg("dev").multi_tier.domain_name


# --- HTTPS from a domain and an existing zone (prod's shape) -----------------------------------------


def test_prod_issues_its_certificate_in_the_given_zone_and_serves_https_only() -> None:
    for preview in (True, False):
        run, cfg = run_cached("prod", preview), _cfg("prod").multi_tier
        (certificate,) = _mine(run, "aws:acm/certificate:Certificate")
        assert (certificate.inputs["domainName"], certificate.inputs["validationMethod"]) == (cfg.domain_name, "DNS")
        validation_record, alias = sorted(_mine(run, RECORD), key=lambda r: r.name)[::-1]
        assert validation_record.name.endswith("-validation") and alias.name.endswith("-alias")
        assert {r.inputs["zoneId"] for r in (validation_record, alias)} == {cfg.hosted_zone_id}
        assert wired(validation_record, "name", certificate) and wired(validation_record, "records", certificate)
        (validation,) = _mine(run, "aws:acm/certificateValidation:CertificateValidation")
        assert wired(validation, "certificateArn", certificate)
        assert wired(validation, "validationRecordFqdns", validation_record)
        listeners = {r.inputs["port"]: r for r in _mine(run, LISTENER)}
        https = listeners[443]
        assert (https.inputs["protocol"], https.inputs["sslPolicy"]) == ("HTTPS", TLS_POLICY)
        # The listener takes the certificate from the validation: it waits until ACM issued it.
        assert wired(https, "certificateArn", validation)
        (redirect,) = listeners[80].inputs["defaultActions"]
        assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
        alb = _one(run, ALB)
        assert alias.inputs["name"] == cfg.domain_name and alias.inputs["type"] == "A"
        assert wired(alias, "aliases", alb)
        assert alb.inputs["dropInvalidHeaderFields"] is True
        assert run.by_type("aws:route53/zone:Zone") == [], "the zone is an input; nothing creates one"
        if not preview:
            (option,) = certificate.outputs["domainValidationOptions"]
            assert validation_record.inputs["name"] == option["resourceRecordName"]
            assert validation_record.inputs["records"] == [option["resourceRecordValue"]]
            assert alias.inputs["aliases"][0]["zoneId"] == alb.outputs["zoneId"]


# --- the stack's WAF web ACL and access-log bucket (contract with the security branch) ---------------


def test_a_web_acl_is_associated_with_the_alb_and_the_artifact_bucket_logs_to_the_stack_log_bucket() -> None:
    acl = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/stack/abcd"
    for preview in (True, False):
        run = _component(web_acl_arn=acl, with_log_bucket=True, preview=preview)["run"]
        (association,) = run.by_type("aws:wafv2/webAclAssociation:WebAclAssociation")
        assert association.inputs["webAclArn"] == acl
        assert wired(association, "resourceArn", _one(run, ALB))
        (logging,) = run.by_type("aws:s3/bucketLogging:BucketLogging")
        (artifacts,) = [b for b in _mine(run, BUCKET) if b.name == "multi-tier-artifacts"]
        log_bucket = run.one(BUCKET, "stack-access-logs")
        assert wired(logging, "bucket", artifacts) and wired(logging, "targetBucket", log_bucket)
        assert logging.inputs["targetPrefix"] == "multi-tier/artifacts/"
    plain = _component()["run"]
    assert plain.by_type("aws:wafv2/webAclAssociation:WebAclAssociation") == []
    assert plain.by_type("aws:s3/bucketLogging:BucketLogging") == []


# --- who may write: the stack's issuer, handed to the instances -----------------------------------


def _settings(run: Run) -> dict[str, str]:
    import base64
    import shlex

    text = base64.b64decode(_one(run, LT).inputs["userData"]).decode()
    return {k: shlex.split(v)[0] if v != "''" else "" for k, v in re.findall(r"^readonly ([A-Z_]+)=(.*)$", text, re.M)}


def test_the_instances_verify_tokens_of_the_stacks_issuer_when_one_is_given() -> None:
    jwt = JwtSettings(
        issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool",
        audience=["client-a", "client-b"],
        jwks_uri="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool/.well-known/jwks.json",
    )
    settings = _settings(_component(jwt=jwt, preview=False)["run"])
    assert settings["WRITE_AUTH"] == "jwt"
    assert settings["JWT_ISSUER"] == jwt.issuer and settings["JWT_JWKS_URI"] == jwt.jwks_uri
    assert settings["JWT_AUDIENCES"] == "client-a,client-b"
    # No identity (dev's documented default): writes are open.
    assert _settings(_component(preview=False)["run"])["WRITE_AUTH"] == "none"


@pytest.mark.parametrize("audiences", [["a,b"], [""], ["has space"]])
def test_audiences_that_would_split_the_environment_value_are_refused(audiences: list[str]) -> None:
    with pytest.raises(ValueError, match="audiences"):
        env_list(audiences)


# --- enhanced monitoring ------------------------------------------------------------------------------


def test_enhanced_monitoring_every_minute_with_its_own_role(run: Run) -> None:
    db = _one(run, DB)
    assert db.inputs["monitoringInterval"] == 60 == _cfg(run.stack).multi_tier.database.monitoring_interval_seconds
    (role,) = [r for r in _mine(run, "aws:iam/role:Role") if r.name == "multi-tier-db-monitoring"]
    assert wired(db, "monitoringRoleArn", role)
    (attachment,) = [
        a for a in _mine(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment") if wired(a, "role", role)
    ]
    assert attachment.inputs["policyArn"].endswith(":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
    assert attachment.urn in db.dependencies, "RDS checks the role when monitoring is switched on"
    if not run.preview:
        (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_no_monitoring_role_when_enhanced_monitoring_is_off() -> None:
    run = run_with("dev", {**ENABLED, "multiTier": {"enabled": True, "database": {"monitoringIntervalSeconds": 0}}})
    assert _one(run, DB).inputs["monitoringInterval"] == 0
    assert "monitoringRoleArn" not in _one(run, DB).inputs
    assert [r.name for r in _mine(run, "aws:iam/role:Role") if "monitoring" in r.name] == []


# --- the migration function: the only reader of the master secret ------------------------------------


def test_the_migration_function_reads_the_master_secret_from_inside_the_vpc_and_runs_on_deploy(run: Run) -> None:
    fn, db = _one(run, FUNCTION), _one(run, DB)
    cfg = _cfg(run.stack).multi_tier
    assert fn.inputs["handler"] == "migrate.handler"
    assert fn.inputs["runtime"] == f"python{wheelhouse.PYTHON}"
    assert fn.inputs["architectures"] == [ami_architecture(cfg.instances.instance_type)]
    subnets = [s for s in run.by_type(SUBNET) if wired(fn, "vpcConfig", s)]
    assert subnets == _subnets(run, "private") and wired(fn, "vpcConfig", _sg(run, "migrate"))
    assert fn.inputs["environment"]["variables"]["DB_USER"] == APP_DB_USER
    assert wired(fn, "environment", db)
    (invocation,) = _mine(run, INVOCATION)
    assert wired(invocation, "functionName", fn) and wired(invocation, "triggers", db)
    policy = _policy(run, "multi-tier-migrate")
    assert wired(policy, "policy", db)
    if not run.preview:
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        assert statements["MasterSecret"]["Resource"] == db.outputs["masterUserSecrets"][0]["secretArn"]
        assert statements["MasterSecret"]["Action"] == "secretsmanager:GetSecretValue"
        assert invocation.inputs["triggers"]["database"] == db.outputs["resourceId"]


def test_the_archives_are_named_by_content_and_the_offline_plan_never_downloads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the offline engine downloaded wheels")

    monkeypatch.setattr(wheelhouse, "_pip_download", forbidden)
    monkeypatch.setattr(wheelhouse, "wheelhouse", forbidden)
    run = _component(preview=False)["run"]
    obj = _one(run, "aws:s3/bucketObjectv2:BucketObjectv2")
    built = wheelhouse.web_artifact("arm64")
    assert obj.inputs["key"] == f"web/arm64-{built.digest[:32]}.tar"
    assert obj.inputs["source"].path == str(built.path)
    invocation = _one(run, INVOCATION)
    assert invocation.inputs["triggers"]["code"] == wheelhouse.migration_archive("arm64").digest


# --- readiness: a metric with an alarm, never a reason to replace instances ---------------------------


def test_readiness_is_published_where_the_alarm_watches(run: Run) -> None:
    settings = _settings(run_cached(run.stack, False))
    alarms = [a for a in run.by_type(ALARM) if a.inputs.get("namespace") == READINESS_NAMESPACE]
    (alarm,) = alarms
    assert alarm.inputs["metricName"] == "Ready"
    assert settings["READINESS_NAMESPACE"] == READINESS_NAMESPACE
    assert alarm.inputs["dimensions"] == {"WebTier": settings["WEB_TIER"]}
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("LessThanThreshold", 1)
    assert alarm.inputs["treatMissingData"] == "breaching"
    # The group replaces instances on the ALB's liveness check only.
    assert _one(run, ASG).inputs["healthCheckType"] == "ELB"
    assert _one(run, TG).inputs["healthCheck"]["path"] == LIVENESS_PATH
