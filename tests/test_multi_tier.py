"""The MultiTier component, asserted on what the program registers (type and wiring).

Every AWS trap the component guards (GUIDE §5: 6, 7, 12, 13) has a test here that fails when the
guard goes. Wiring is read from `property_dependencies`, so it holds in preview, when ids are
unknown, as well as in up mode.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi_aws as aws
import pytest

from components.config import ConfigError, validate
from components.multi_tier.component import (
    AMI_PARAMETERS,
    DB_PORT,
    HEALTH_PATH,
    TLS_POLICY,
    MultiTier,
    MultiTierArgs,
    ami_architecture,
)
from components.network import Network, NetworkArgs
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
    alb, app, db = (_sg(run, t) for t in ("alb", "app", "db"))
    groups = {g.urn: g.name.removeprefix("multi-tier-") for g in (alb, app, db)}
    for group in (alb, app, db):
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

    ports = [80, 443] if cfg.certificate_arn else [80]
    assert rules(INGRESS) == {
        *(("alb", cidr, p, p) for cidr in cfg.allowed_cidrs for p in ports),
        ("app", "alb", cfg.app_port, cfg.app_port),
        ("db", "app", DB_PORT, DB_PORT),
    }
    assert rules(EGRESS) == {
        ("alb", "app", cfg.app_port, cfg.app_port),
        ("app", "db", DB_PORT, DB_PORT),
        ("app", "0.0.0.0/0", 443, 443),
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


def test_plain_http_only_without_a_certificate(run: Run) -> None:
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
    # tests/test_web_app.py proves the app answers 200 on HEALTH_PATH only when the DB answers.
    assert (check["path"], check["matcher"], check["port"]) == (HEALTH_PATH, "200", "traffic-port")


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
    assert lt.inputs["imageId"] == f"resolve:ssm:{AMI_PARAMETERS[ami_architecture(cfg.instance_type)]}"
    assert lt.inputs["instanceType"] == cfg.instance_type
    assert "keyName" not in lt.inputs, "Session Manager, no SSH key"
    (nic,) = lt.inputs["networkInterfaces"]
    assert nic["associatePublicIpAddress"] == "false"
    assert wired(lt, "networkInterfaces", _sg(run, "app"))
    (root,) = lt.inputs["blockDeviceMappings"]
    assert (root["ebs"]["volumeType"], root["ebs"]["encrypted"]) == ("gp3", "true")
    # The user data names the database and the artifact, so it is built from both.
    assert wired(lt, "userData", _one(run, DB))
    assert wired(lt, "userData", _one(run, "aws:s3/bucketObjectv2:BucketObjectv2"))


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
    assert asg.inputs["instanceRefresh"]["strategy"] == "Rolling"
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


def test_instance_role_reads_only_its_secret_and_artifact(run: Run) -> None:
    (role,) = _mine(run, "aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ec2.amazonaws.com"}]
    (attachment,) = _mine(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"].endswith(":iam::aws:policy/AmazonSSMManagedInstanceCore")
    (policy,) = _mine(run, "aws:iam/rolePolicy:RolePolicy")
    assert wired(policy, "policy", _one(run, DB)), "the secret ARN comes from the database"
    (profile,) = _mine(run, "aws:iam/instanceProfile:InstanceProfile")
    assert {policy.urn, attachment.urn} <= set(profile.dependencies)
    if not run.preview:
        statements = json.loads(policy.inputs["policy"])["Statement"]
        db, obj = _one(run, DB), _one(run, "aws:s3/bucketObjectv2:BucketObjectv2")
        assert {(s["Action"], s["Resource"]) for s in statements} == {
            ("secretsmanager:GetSecretValue", db.outputs["masterUserSecrets"][0]["secretArn"]),
            ("s3:GetObject", f"arn:aws:s3:::{obj.inputs['bucket']}/{obj.inputs['key']}"),
        }


# --- database (GUIDE §5.6, §5.12) ------------------------------------------------------------------


def test_database_is_pinned_private_encrypted_and_password_managed(run: Run) -> None:
    db, cfg = _one(run, DB), _cfg(run.stack)
    settings = cfg.multi_tier.database
    assert db.inputs["engine"] == "postgres"
    assert db.inputs["engineVersion"] == settings.engine_version
    assert db.inputs["autoMinorVersionUpgrade"] is False
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
    assert params.inputs["family"] == "postgres" + db.inputs["engineVersion"].split(".")[0]
    assert {"name": "rds.force_ssl", "value": "1"} in [
        {k: p[k] for k in ("name", "value")} for p in params.inputs["parameters"]
    ]


def test_exported_logs_land_in_groups_with_retention_created_first(run: Run) -> None:
    db, cfg = _one(run, DB), _cfg(run.stack)
    groups = _mine(run, "aws:cloudwatch/logGroup:LogGroup")
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
    assert prod.inputs["finalSnapshotIdentifier"].startswith(prod.inputs["identifier"])
    assert len(prod.inputs["finalSnapshotIdentifier"]) <= 63
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
    assert exported["url"] == f"http://{alb.outputs['dnsName']}"
    assert exported["dbEndpoint"] == db.outputs["endpoint"]
    assert exported["dbSecretArn"] == db.outputs["masterUserSecrets"][0]["secretArn"]
    assert "password" not in json.dumps(exported).lower()


def _component(az_count: int = 2, name: str = "multi-tier", zones: int | None = None) -> dict[str, Any]:
    """Build Network + MultiTier directly; `zones` < az_count hands the component fewer subnets."""
    built: dict[str, Any] = {}

    def program() -> None:
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
        )
        built["component"] = MultiTier(name, args)

    built["run"] = run_program("dev", True, program=program)
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
        ({"multiTier": {"database": {"engineVersion": "17"}}}, "multiTier.database.engineVersion", "17"),
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
