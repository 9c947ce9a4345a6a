"""The stack's S3 server-access-log bucket (components/access_logs.py), asserted on what it registers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.access_logs import LOGGING_SERVICE, AccessLogs, AccessLogsArgs
from components.config import ConfigError, StackConfig, validate
from tests.conftest import run_with
from tools.offline import ACCOUNT, Registered, Run, run_program, wired

BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"


def _cfg(environment: str = "prod", **access_logs: Any) -> StackConfig:
    return validate(
        {"environment": environment, "serverless": {"enabled": True}, "accessLogs": access_logs}, "us-east-1"
    )


def _run(cfg: StackConfig, preview: bool) -> Run:
    return run_program("prod", preview, program=lambda: AccessLogs("access-logs", AccessLogsArgs.from_config(cfg)))


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def run(request: pytest.FixtureRequest) -> Run:
    return _run(_cfg(expirationDays=400), request.param)


def _only(run: Run, type_: str) -> Registered:
    (res,) = run.by_type(type_)
    return res


def test_bucket_is_owner_enforced_private_and_sse_s3(run: Run) -> None:
    bucket = _only(run, BUCKET)
    assert "acl" not in bucket.inputs and "grants" not in bucket.inputs, "ACLs stay disabled"
    assert not run.by_type("aws:s3/bucketAcl:BucketAcl")
    ownership = _only(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    block = _only(run, BLOCK)
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[flag] is True, flag
    sse = _only(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = sse.inputs["rules"]
    # Server access logging documents SSE-S3 as the only default encryption of its destinations.
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    for res in (ownership, block, sse):
        assert wired(res, "bucket", bucket), res.type
    # Log delivery fails into a bucket with Object Lock default retention; no versioning either.
    assert "objectLockEnabled" not in bucket.inputs
    assert not run.by_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert not run.by_type("aws:s3/bucketVersioning:BucketVersioning")


def test_policy_lets_s3_deliver_logs_from_this_account_only_and_denies_plain_http(run: Run) -> None:
    bucket, policy, block = _only(run, BUCKET), _only(run, POLICY), _only(run, BLOCK)
    assert wired(policy, "bucket", bucket) and wired(policy, "policy", bucket)
    assert block.urn in policy.dependencies, "S3 refuses a policy while the public access block changes"
    if run.preview:
        return
    arn = bucket.outputs["arn"]
    delivery, tls = json.loads(policy.inputs["policy"])["Statement"]
    assert delivery == {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"},
        },
    }
    assert LOGGING_SERVICE == "logging.s3.amazonaws.com"
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert tls["Resource"] == [arn, f"{arn}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_logs_expire_after_the_configured_days(run: Run) -> None:
    bucket = _only(run, BUCKET)
    lifecycle = _only(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert wired(lifecycle, "bucket", bucket)
    (rule,) = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
    assert rule["expiration"] == {"days": 400}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}


@pytest.mark.parametrize(("environment", "protected"), [("dev", False), ("staging", True), ("prod", True)])
def test_bucket_is_protected_like_other_stateful_resources(environment: str, protected: bool) -> None:
    bucket = _only(_run(_cfg(environment), preview=True), BUCKET)
    assert bucket.protect is protected
    assert bucket.inputs["forceDestroy"] is (not protected)


@pytest.mark.parametrize(
    ("stack", "overrides", "built"),
    [
        ("dev", {}, False),
        ("staging", {}, True),
        ("prod", {}, True),
        ("dev", {"accessLogs": {"enabled": True}}, True),
        # No pattern with buckets to log.
        ("prod", {"serverless": {"enabled": False}, "multiTier": {"enabled": False}}, False),
        ("prod", {"accessLogs": {"enabled": False}}, False),
    ],
)
def test_log_bucket_is_built_only_when_a_pattern_has_buckets_to_log(
    stack: str, overrides: dict[str, Any], built: bool
) -> None:
    run = run_with(stack, overrides)
    components = run.by_type("aws-patterns:accessLogs:AccessLogs")
    assert bool(components) is built
    assert ("accessLogs" in run.outputs) is built
    if built:
        (bucket,) = [r for r in run.children(components[0]) if r.type == BUCKET]
        assert run.outputs["accessLogs"]["bucketName"] == bucket.outputs["bucket"]


@pytest.mark.parametrize(
    ("access_logs", "key"),
    [
        ({"expirationDays": 0}, "accessLogs.expirationDays"),
        ({"expirationDays": 3651}, "accessLogs.expirationDays"),
        ({"enabled": 1}, "accessLogs.enabled"),
        ({"bucket": "x"}, "accessLogs.bucket"),
    ],
)
def test_bad_access_log_config_is_refused_naming_the_key(access_logs: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"aws-patterns:{key}: ")):
        _cfg(**access_logs)
