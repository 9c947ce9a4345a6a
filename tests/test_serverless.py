"""The serverless upload pipeline, asserted on what it registers (type and wiring), both modes."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi_aws as aws
import pytest

from components.config import ConfigError, StackConfig, validate
from components.defaults import deep_merge
from components.identity import JwtSettings
from components.serverless import Serverless, ServerlessArgs
from components.serverless.component import JWT_IDENTITY_SOURCE, ROUTES
from tests.conftest import run_with, skip_unless_enabled
from tools.offline import ACCOUNT, UNKNOWN, Registered, Run, run_program, stack_config, wired

ORIGINS = ["https://app.example.com", "http://localhost:3000"]
BUCKET = "aws:s3/bucket:Bucket"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"


def _cfg(environment: str = "dev", **serverless: Any) -> StackConfig:
    return validate({"environment": environment, "serverless": {"enabled": True, **serverless}}, "eu-west-1")


def _run(cfg: StackConfig, preview: bool) -> Run:
    return run_program("dev", preview, program=lambda: Serverless("serverless", ServerlessArgs.from_config(cfg)))


COGNITO = "https://cognito-idp.us-east-1.amazonaws.com"


def _run_with_stack_pieces(preview: bool) -> Run:
    """The pattern given what the stack builds for it: an identity provider and a log bucket."""

    def program() -> None:
        pool = aws.cognito.UserPool("pool")
        client = aws.cognito.UserPoolClient("client", user_pool_id=pool.id)
        jwt = JwtSettings(
            issuer=pool.id.apply(lambda i: f"{COGNITO}/{i}"),
            audience=[client.id],
            jwks_uri=pool.id.apply(lambda i: f"{COGNITO}/{i}/.well-known/jwks.json"),
        )
        logs = aws.s3.Bucket("access-logs")
        args = ServerlessArgs.from_config(_cfg("prod"), jwt=jwt, access_logs_bucket=logs)
        Serverless("serverless", args)

    return run_program("prod", preview, program=program)


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def guarded(request: pytest.FixtureRequest) -> Run:
    return _run_with_stack_pieces(request.param)


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def run(request: pytest.FixtureRequest) -> Run:
    return _run(_cfg(corsOrigins=ORIGINS), request.param)


@pytest.fixture
def stack_run(stack_run: Run) -> Run:
    """conftest's run of every shipped stack, skipped for those without serverless."""
    skip_unless_enabled(stack_run.stack, "serverless")
    return stack_run


def _only(run: Run, type_: str) -> Registered:
    (res,) = run.by_type(type_)
    return res


def _function(run: Run, name: str) -> Registered:
    return run.one(FUNCTION, f"serverless-{name}")


def _statements(run: Run, name: str) -> dict[str, dict[str, Any]]:
    policy = run.one("aws:iam/rolePolicy:RolePolicy", f"serverless-{name}")
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


# --- S3 bucket -------------------------------------------------------------------------------


def test_bucket_is_private_encrypted_versioned_and_never_uses_acls(run: Run) -> None:
    bucket = _only(run, BUCKET)
    assert "acl" not in bucket.inputs and "grants" not in bucket.inputs, "ACLs are disabled on new buckets"
    assert not run.by_type("aws:s3/bucketAcl:BucketAcl")
    ownership = _only(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    block = _only(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[flag] is True, flag
    sse = _only(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    versioning = _only(run, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    for res in (ownership, block, sse, versioning):
        assert wired(res, "bucket", bucket), res.type


def test_bucket_policy_denies_plain_http(run: Run) -> None:
    bucket = _only(run, BUCKET)
    policy = _only(run, "aws:s3/bucketPolicy:BucketPolicy")
    assert wired(policy, "bucket", bucket) and wired(policy, "policy", bucket)
    block = _only(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.urn in policy.dependencies
    if not run.preview:
        (statement,) = json.loads(policy.inputs["policy"])["Statement"]
        arn = bucket.outputs["arn"]
        assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "s3:*"
        assert statement["Resource"] == [arn, f"{arn}/*"]
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_lifecycle_rules_come_from_config(environment: str) -> None:
    cfg = _cfg(environment)
    lc = cfg.serverless.lifecycle
    run = _run(cfg, preview=True)
    rules = {
        r["id"]: r
        for r in _only(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    }
    uploads = rules["uploads"]
    assert uploads["status"] == "Enabled"
    assert uploads["filter"] == {"prefix": cfg.serverless.upload_prefix}
    assert uploads["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == lc.abort_incomplete_multipart_upload_days
    assert uploads["noncurrentVersionExpiration"]["noncurrentDays"] == lc.noncurrent_version_expiration_days
    assert uploads["expiration"]["days"] == lc.expiration_days
    moved = lc.transition_to_infrequent_access_days
    assert uploads.get("transitions") == (None if moved is None else [{"days": moved, "storageClass": "STANDARD_IA"}])
    assert rules["delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}


def test_no_expiration_when_configured_to_keep_objects() -> None:
    run = _run(_cfg(lifecycle={"expirationDays": None, "transitionToInfrequentAccessDays": 30}), preview=True)
    rules = _only(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert "expiration" not in next(r for r in rules if r["id"] == "uploads")


def test_cors_allows_exactly_the_configured_origins(run: Run) -> None:
    cors = _only(run, "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    (rule,) = cors.inputs["corsRules"]
    assert rule["allowedOrigins"] == ORIGINS
    assert sorted(rule["allowedMethods"]) == ["GET", "POST"], "the upload form is a POST, the download a GET"
    api = _only(run, "aws:apigatewayv2/api:Api")
    assert api.inputs["corsConfiguration"]["allowOrigins"] == ORIGINS
    assert sorted(api.inputs["corsConfiguration"]["allowMethods"]) == sorted({m for m, _ in ROUTES})
    assert "authorization" in api.inputs["corsConfiguration"]["allowHeaders"], "the bearer token's header"


def test_no_cors_without_origins() -> None:
    run = _run(_cfg(corsOrigins=[]), preview=True)
    assert not run.by_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    assert "corsConfiguration" not in _only(run, "aws:apigatewayv2/api:Api").inputs


@pytest.mark.parametrize(("environment", "protected"), [("dev", False), ("prod", True)])
def test_stateful_resources_follow_common(environment: str, protected: bool) -> None:
    run = _run(_cfg(environment), preview=True)
    bucket, table = _only(run, BUCKET), _only(run, "aws:dynamodb/table:Table")
    assert bucket.protect is table.protect is protected
    assert table.inputs["deletionProtectionEnabled"] is protected
    assert bucket.inputs["forceDestroy"] is not protected, "only an unprotected bucket is emptied on destroy"


# --- DynamoDB --------------------------------------------------------------------------------


def test_table_is_on_demand_with_pitr_and_ttl(run: Run) -> None:
    table = _only(run, "aws:dynamodb/table:Table")
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}, "a KMS key whose use CloudTrail records"
    # Only key attributes may be declared (GUIDE §5.11).
    assert table.inputs["attributes"] == [{"name": "id", "type": "S"}]
    assert table.inputs["hashKey"] == "id"


# --- Functions, notification and permissions (GUIDE §5.4, §5.10) ------------------------------


def test_functions_log_group_first_no_reserved_concurrency_current_runtime(run: Run) -> None:
    for name in ("intake", "processor"):
        fn = _function(run, name)
        group = run.one("aws:cloudwatch/logGroup:LogGroup", f"serverless-{name}")
        assert wired(fn, "loggingConfig", group), "the log group exists before the function"
        assert "reservedConcurrentExecutions" not in fn.inputs
        assert fn.inputs["runtime"] in ("python3.12", "python3.13")
    cfg = _cfg()
    assert _function(run, "intake").inputs["timeout"] == cfg.serverless.intake.timeout_seconds
    assert _function(run, "processor").inputs["memorySize"] == cfg.serverless.processor.memory_mb


def test_functions_get_their_settings_from_config(run: Run) -> None:
    sl = _cfg().serverless
    table = _only(run, "aws:dynamodb/table:Table")
    bucket = _only(run, BUCKET)
    intake, processor = _function(run, "intake"), _function(run, "processor")
    env = intake.inputs["environment"]["variables"]
    assert env["ALLOWED_CONTENT_TYPES"].split(",") == sl.allowed_content_types
    assert int(env["MAX_UPLOAD_BYTES"]) == sl.max_upload_bytes
    assert int(env["URL_EXPIRY_SECONDS"]) == sl.presigned_url_expiry_seconds
    assert int(env["RECORD_TTL_DAYS"]) == sl.record_ttl_days
    assert env["UPLOAD_PREFIX"] == processor.inputs["environment"]["variables"]["UPLOAD_PREFIX"] == sl.upload_prefix
    for fn in (intake, processor):
        assert wired(fn, "environment", table)
    assert wired(intake, "environment", bucket)


def test_s3_notification_is_scoped_and_waits_for_its_permission(run: Run) -> None:
    bucket = _only(run, BUCKET)
    processor = _function(run, "processor")
    notification = _only(run, "aws:s3/bucketNotification:BucketNotification")
    permission = run.one(PERMISSION, "serverless-processor-s3")
    assert wired(notification, "bucket", bucket)
    (target,) = notification.inputs["lambdaFunctions"]
    assert wired(notification, "lambdaFunctions", processor)
    assert target["events"] == ["s3:ObjectCreated:*"]
    assert target["filterPrefix"] == _cfg().serverless.upload_prefix
    assert permission.urn in notification.dependencies, "S3 validates the destination's permission on save"

    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceAccount"] == ACCOUNT
    assert wired(permission, "sourceArn", bucket) and wired(permission, "function", processor)
    if not run.preview:
        assert permission.inputs["sourceArn"] == bucket.outputs["arn"]
        assert target["lambdaFunctionArn"] == processor.outputs["arn"]


def test_routes_integrate_the_intake_function_with_payload_v2(run: Run) -> None:
    api = _only(run, "aws:apigatewayv2/api:Api")
    intake = _function(run, "intake")
    integration = _only(run, "aws:apigatewayv2/integration:Integration")
    assert api.inputs["protocolType"] == "HTTP"
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["integrationMethod"] == "POST"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert integration.inputs["timeoutMilliseconds"] > _cfg().serverless.intake.timeout_seconds * 1000
    assert wired(integration, "integrationUri", intake) and wired(integration, "apiId", api)
    routes = run.by_type("aws:apigatewayv2/route:Route")
    assert sorted(r.inputs["routeKey"] for r in routes) == ["GET /uploads/{id}", "POST /uploads"]
    for route in routes:
        assert wired(route, "target", integration) and wired(route, "apiId", api)
        if not run.preview:
            assert route.inputs["target"] == f"integrations/{integration.id}"


def test_each_route_has_a_permission_scoped_to_this_api_and_route(run: Run) -> None:
    api = _only(run, "aws:apigatewayv2/api:Api")
    intake = _function(run, "intake")
    expected = {"POST": "/*/POST/uploads", "GET": "/*/GET/uploads/*"}
    permissions = [p for p in run.by_type(PERMISSION) if p.inputs["principal"] == "apigateway.amazonaws.com"]
    assert len(permissions) == len(ROUTES)
    seen = set()
    for permission in permissions:
        assert wired(permission, "sourceArn", api), "built from this API's execution ARN"
        assert wired(permission, "function", intake)
        assert "sourceAccount" not in permission.inputs
        if run.preview:
            continue
        arn = permission.inputs["sourceArn"]
        prefix = api.outputs["executionArn"]
        assert arn.startswith(prefix + "/")
        seen.add(arn.removeprefix(prefix))
    if not run.preview:
        assert seen == set(expected.values())


def test_stage_logs_access_and_throttles_from_config(run: Run) -> None:
    sl = _cfg().serverless
    api = _only(run, "aws:apigatewayv2/api:Api")
    stage = _only(run, "aws:apigatewayv2/stage:Stage")
    group = run.one("aws:cloudwatch/logGroup:LogGroup", "serverless-api-access")
    assert stage.inputs["name"] == "$default" and stage.inputs["autoDeploy"] is True
    assert "deploymentId" not in stage.inputs and not run.by_type("aws:apigatewayv2/deployment:Deployment")
    assert wired(stage, "apiId", api)
    assert wired(stage, "accessLogSettings", group)
    assert json.loads(stage.inputs["accessLogSettings"]["format"])["requestId"] == "$context.requestId"
    assert group.inputs["retentionInDays"] == _cfg().common.log_retention_days
    settings = stage.inputs["defaultRouteSettings"]
    assert settings["throttlingBurstLimit"] == sl.throttling.burst_limit
    assert settings["throttlingRateLimit"] == sl.throttling.rate_limit


# --- Least privilege ------------------------------------------------------------------------


def test_roles_are_least_privilege(run: Run) -> None:
    table = _only(run, "aws:dynamodb/table:Table")
    bucket = _only(run, BUCKET)
    for name in ("intake", "processor"):
        policy = run.one("aws:iam/rolePolicy:RolePolicy", f"serverless-{name}")
        assert wired(policy, "policy", table) and wired(policy, "policy", bucket)
    if run.preview:
        return
    prefix = _cfg().serverless.upload_prefix
    uploads = f"{bucket.outputs['arn']}/{prefix}*"
    intake, processor = _statements(run, "intake"), _statements(run, "processor")
    assert set(intake) == {"OwnLogGroup", "XRay", "Records", "PresignUnderPrefix"}
    assert intake["Records"]["Action"] == ["dynamodb:PutItem", "dynamodb:GetItem"]
    assert intake["Records"]["Resource"] == table.outputs["arn"]
    assert sorted(intake["PresignUnderPrefix"]["Action"]) == ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    assert intake["PresignUnderPrefix"]["Resource"] == uploads
    assert set(processor) == {
        "OwnLogGroup",
        "XRay",
        "Records",
        "ReadUploads",
        "DeleteRejectedUploads",
        "TellMissingFromForbidden",
        "OnFailureDestination",
    }
    assert processor["Records"]["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert processor["Records"]["Resource"] == table.outputs["arn"]
    assert processor["ReadUploads"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert processor["ReadUploads"]["Resource"] == uploads
    # It deletes what it rejects, and only under the upload prefix.
    assert processor["DeleteRejectedUploads"]["Action"] == ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    assert processor["DeleteRejectedUploads"]["Resource"] == uploads
    # Listing (what turns S3's 403 for a missing object into a 404) is limited to the prefix too.
    listing = processor["TellMissingFromForbidden"]
    assert listing["Action"] == ["s3:ListBucket"] and listing["Resource"] == bucket.outputs["arn"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    for statement in [*intake.values(), *processor.values()]:
        assert statement["Effect"] == "Allow"
        assert not any(a.endswith(":*") for a in statement["Action"]), "no service-wide actions"
        if statement["Sid"] != "XRay":  # X-Ray writes have no resource-level scoping
            assert statement["Resource"] != "*"


# --- The whole program ------------------------------------------------------------------------


def test_every_stack_builds_the_pattern_and_exports_url_and_bucket(stack_run: Run) -> None:
    (component,) = stack_run.by_type("aws-patterns:serverless:Serverless")
    bucket = next(r for r in stack_run.children(component) if r.type == BUCKET)
    stage = next(r for r in stack_run.children(component) if r.type == "aws:apigatewayv2/stage:Stage")
    outputs = stack_run.outputs["serverless"]
    if stack_run.preview:
        assert outputs == {"apiUrl": UNKNOWN, "bucketName": UNKNOWN}
    else:
        assert outputs == {"apiUrl": stage.outputs["invokeUrl"], "bucketName": bucket.outputs["bucket"]}


def test_disabled_pattern_builds_nothing() -> None:
    run = run_with("dev", {"serverless": {"enabled": False}}, preview=True)
    assert not run.by_type("aws-patterns:serverless:Serverless")
    assert "serverless" not in run.outputs


# --- Config rules checked before any resource exists -------------------------------------------


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"intake": {"timeoutSeconds": 30}}, "serverless.intake.timeoutSeconds"),
        ({"recordTtlDays": 31}, "serverless.recordTtlDays"),
        (
            {"lifecycle": {"transitionToInfrequentAccessDays": 30, "expirationDays": 30}},
            "serverless.lifecycle.expirationDays",
        ),
        (
            {"lifecycle": {"transitionToInfrequentAccessDays": 29}},
            "serverless.lifecycle.transitionToInfrequentAccessDays",
        ),
        ({"corsOrigins": ["*"]}, "serverless.corsOrigins[0]"),
        ({"corsOrigins": ["https://app.example.com/"]}, "serverless.corsOrigins[0]"),
        ({"corsOrigins": ["http://app.example.com"]}, "serverless.corsOrigins[0]"),
        ({"uploadPrefix": "uploads"}, "serverless.uploadPrefix"),
        ({"uploadPrefix": "/uploads/"}, "serverless.uploadPrefix"),
        ({"allowedContentTypes": []}, "serverless.allowedContentTypes"),
        ({"allowedContentTypes": ["image/png", "image/png"]}, "serverless.allowedContentTypes"),
        ({"allowedContentTypes": ["Image/PNG"]}, "serverless.allowedContentTypes[0]"),
        ({"maxUploadBytes": 5 * 1024**3 + 1}, "serverless.maxUploadBytes"),
        ({"presignedUrlExpirySeconds": 7200}, "serverless.presignedUrlExpirySeconds"),
        ({"throttling": {"burstLimit": -1}}, "serverless.throttling.burstLimit"),
    ],
)
def test_bad_config_is_refused_naming_the_key(override: dict[str, Any], key: str) -> None:
    config = stack_config("dev")
    block = deep_merge(json.loads(config.get("aws-patterns:serverless", "{}")), override)
    config["aws-patterns:serverless"] = json.dumps(block)
    monitors: list = []
    with pytest.raises(ConfigError, match=re.escape(f"aws-patterns:{key}: ")):
        run_program("dev", preview=True, config=config, monitors=monitors)
    assert [req.type for req, _ in monitors[0].requests if req.type != "pulumi:pulumi:Stack"] == []


# --- asynchronous invocation: S3 -> processor (issue 13 point 4) -------------------------------


def test_the_processor_hands_failed_events_to_an_alarmed_queue_before_s3_sends_any(run: Run) -> None:
    processor = _function(run, "processor")
    (config,) = run.by_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    (queue,) = run.by_type("aws:sqs/queue:Queue")
    assert wired(config, "functionName", processor) and wired(config, "destinationConfig", queue)
    assert queue.inputs["sqsManagedSseEnabled"] is True
    notification = _only(run, "aws:s3/bucketNotification:BucketNotification")
    assert config.urn in notification.dependencies, "no event before failures have somewhere to go"
    intake = _function(run, "intake")
    assert not [
        c
        for c in run.by_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
        if wired(c, "functionName", intake)
    ], "the intake function is invoked synchronously"


def test_every_stack_alarms_on_the_processors_failures(stack_run: Run) -> None:
    (component,) = stack_run.by_type("aws-patterns:serverless:Serverless")
    inside = stack_run.within("aws-patterns:serverless:Serverless")
    (queue,) = inside.by_type("aws:sqs/queue:Queue")
    alarms = [a for a in stack_run.by_type("aws:cloudwatch/metricAlarm:MetricAlarm") if wired(a, "dimensions", queue)]
    assert [a.inputs["metricName"] for a in alarms] == ["ApproximateNumberOfMessagesVisible"], component.name
    assert alarms[0].inputs["threshold"] == 0 and alarms[0].inputs["comparisonOperator"] == "GreaterThanThreshold"


# --- who may call, and what is logged (issue 12 points 2 and 5) --------------------------------


def test_without_an_identity_provider_the_api_is_open(run: Run) -> None:
    assert run.by_type("aws:apigatewayv2/authorizer:Authorizer") == []
    for route in run.by_type("aws:apigatewayv2/route:Route"):
        assert route.inputs["authorizationType"] == "NONE", "open, as the dev profile documents"
        assert "authorizerId" not in route.inputs
    env = _function(run, "intake").inputs["environment"]["variables"]
    assert env["REQUIRE_AUTHENTICATED_CALLER"] == "false"
    assert run.by_type("aws:s3/bucketLogging:BucketLogging") == []


def test_every_route_needs_a_token_of_the_stacks_issuer(guarded: Run) -> None:
    api = _only(guarded, "aws:apigatewayv2/api:Api")
    (authorizer,) = guarded.by_type("aws:apigatewayv2/authorizer:Authorizer")
    pool = _only(guarded, "aws:cognito/userPool:UserPool")
    client = _only(guarded, "aws:cognito/userPoolClient:UserPoolClient")
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["identitySources"] == [JWT_IDENTITY_SOURCE]
    assert wired(authorizer, "apiId", api)
    assert wired(authorizer, "jwtConfiguration", pool) and wired(authorizer, "jwtConfiguration", client)
    routes = guarded.by_type("aws:apigatewayv2/route:Route")
    assert sorted(r.inputs["routeKey"] for r in routes) == sorted(f"{m} {p}" for m, p in ROUTES)
    for route in routes:
        assert route.inputs["authorizationType"] == "JWT", route.inputs["routeKey"]
        assert wired(route, "authorizerId", authorizer)
    env = _function(guarded, "intake").inputs["environment"]["variables"]
    assert env["REQUIRE_AUTHENTICATED_CALLER"] == "true", "the function refuses a request without a caller too"
    if not guarded.preview:
        jwt = authorizer.inputs["jwtConfiguration"]
        assert jwt == {"issuer": f"{COGNITO}/{pool.id}", "audiences": [client.id]}
        assert all(r.inputs["authorizerId"] == authorizer.id for r in routes)


def test_the_upload_bucket_logs_every_request_to_the_stacks_log_bucket(guarded: Run) -> None:
    bucket = guarded.one(BUCKET, "serverless-uploads")
    logs = guarded.one(BUCKET, "access-logs")
    (logging,) = guarded.by_type("aws:s3/bucketLogging:BucketLogging")
    assert wired(logging, "bucket", bucket) and wired(logging, "targetBucket", logs)
    assert logging.inputs["targetPrefix"] == "serverless/uploads/"
    assert "targetGrants" not in logging.inputs, "ACLs stay disabled"
    if not guarded.preview:
        assert logging.inputs["targetBucket"] == logs.id
