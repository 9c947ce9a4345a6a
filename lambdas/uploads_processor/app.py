"""S3 ObjectCreated (under the upload prefix): verify the object, settle its record, delete rejects.

A PENDING record becomes READY (size, SHA-256 and the verified version recorded) when the
object's size equals the declared size and its content type is the declared, allowed one, and
REJECTED with a reason otherwise; a rejected object version is deleted. S3 delivers events at
least once and a client may POST again with a still-valid form, so only a PENDING record is ever
settled, with a conditional update: duplicates are logged and skipped, and any other version of
a settled upload (a later upload, a rejected one) is deleted. Keys that match no record are
skipped.

A missing object (deleted before it was verified) is REJECTED: the function may list the upload
prefix, so S3 answers 404 for it rather than 403. Any other failing AWS call raises: Lambda
retries S3's asynchronous invocation twice, then hands the event to the function's on-failure
queue (alarmed), and the record stays PENDING until the event is replayed.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event, S3EventRecord
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

TABLE_NAME = os.environ["TABLE_NAME"]
UPLOAD_PREFIX = os.environ["UPLOAD_PREFIX"]
ALLOWED_CONTENT_TYPES = tuple(os.environ["ALLOWED_CONTENT_TYPES"].split(","))
MAX_UPLOAD_BYTES = int(os.environ["MAX_UPLOAD_BYTES"])
CHUNK = 1024 * 1024
S3_REQUEST_ID = 'Records[0].responseElements."x-amz-request-id"'
# What S3 answers for an object or version that is not there (HEAD has no body, hence "404").
MISSING = ("404", "NoSuchKey", "NoSuchVersion")
# X-Ray's SDK is the largest import of a cold start: load it only where traces are recorded,
# in Lambda with tracing on (the component sets POWERTOOLS_TRACE_DISABLED otherwise).
TRACING = "LAMBDA_TASK_ROOT" in os.environ and os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() not in (
    "1",
    "true",
)

F = TypeVar("F", bound=Callable[..., Any])
logger = Logger()
metrics = Metrics()
tracer = Tracer() if TRACING else None
to_dynamodb, from_dynamodb = TypeSerializer().serialize, TypeDeserializer().deserialize


def traced(fn: F) -> F:
    """`fn` recorded as an X-Ray subsegment when tracing, unchanged otherwise."""
    return tracer.capture_method(fn) if tracer else fn


def traced_handler(fn: F) -> F:
    return tracer.capture_lambda_handler(fn) if tracer else fn


# Clients are created on first use, once per container.
@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


@cache
def s3() -> Any:
    return boto3.client("s3")


def _upload_id(key: str) -> str | None:
    """The record id a key belongs to (`<prefix><uuid>`), or None for any other key."""
    rest = key.removeprefix(UPLOAD_PREFIX)
    if rest == key:
        return None
    try:
        return rest if str(uuid.UUID(rest)) == rest else None
    except ValueError:
        return None


def _record(upload_id: str) -> dict[str, Any] | None:
    item = dynamodb().get_item(TableName=TABLE_NAME, Key={"id": {"S": upload_id}}, ConsistentRead=True).get("Item")
    return {k: from_dynamodb(v) for k, v in item.items()} if item else None


@traced
def _verify(bucket: str, key: str, version: str | None, record: dict[str, Any]) -> dict[str, Any]:
    """The outcome for this object version: READY with its facts, or REJECTED with a reason."""
    where = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
    try:
        head = s3().head_object(**where)
        size, content_type = head["ContentLength"], head.get("ContentType", "")
        declared_size, declared_type = int(record["declaredSize"]), record["contentType"]
        if size != declared_size:
            return {"status": "REJECTED", "reason": f"size {size} bytes does not match the declared {declared_size}"}
        if size > MAX_UPLOAD_BYTES:
            return {"status": "REJECTED", "reason": f"size {size} bytes exceeds the maximum of {MAX_UPLOAD_BYTES}"}
        if content_type != declared_type or content_type not in ALLOWED_CONTENT_TYPES:
            return {
                "status": "REJECTED",
                "reason": f"content type {content_type!r} is not the declared, allowed {declared_type!r}",
            }
        digest = hashlib.sha256()
        for chunk in s3().get_object(**where)["Body"].iter_chunks(CHUNK):
            digest.update(chunk)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in MISSING:
            return {"status": "REJECTED", "reason": "the object no longer exists", "gone": True}
        raise
    return {"status": "READY", "size": size, "sha256": digest.hexdigest(), "etag": head["ETag"].strip('"')}


def _settle(upload_id: str, version: str | None, outcome: dict[str, Any]) -> bool:
    """Write the outcome if the record is still PENDING; False if something settled it first."""
    fields = {**outcome, "verifiedAt": datetime.now(UTC).isoformat(), "versionId": version or ""}
    try:
        dynamodb().update_item(
            TableName=TABLE_NAME,
            Key={"id": {"S": upload_id}},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames={f"#{k}": k for k in fields},
            ExpressionAttributeValues={
                **{f":{k}": to_dynamodb(v) for k, v in fields.items()},
                ":pending": {"S": "PENDING"},
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _delete(bucket: str, key: str, version: str | None) -> None:
    """Delete one version for good (without a version: the object, leaving a delete marker)."""
    try:
        s3().delete_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in MISSING:
            raise


@traced
def process(record: S3EventRecord) -> str:
    """Handle one event record; returns what happened (for logs and tests)."""
    obj = record.s3.get_object
    if not record.event_name.startswith("ObjectCreated:"):
        return "ignored"
    bucket = record.s3.bucket.name
    key = unquote_plus(obj.key)  # S3 URL-encodes keys in events
    version = obj.version_id
    upload_id = _upload_id(key)
    item = _record(upload_id) if upload_id else None
    if upload_id is None or item is None:
        logger.warning("object matches no upload record", extra={"key": key})
        metrics.add_metric(name="UnknownObjects", unit=MetricUnit.Count, value=1)
        return "unknown"
    if item["status"] != "PENDING":
        return _after_settlement(bucket, key, version, item)
    outcome = _verify(bucket, key, version, item)
    gone = outcome.pop("gone", False)
    if not _settle(upload_id, version, outcome):
        logger.info("upload settled concurrently", extra={"upload_id": upload_id})
        return _after_settlement(bucket, key, version, _record(upload_id) or item)
    if outcome["status"] == "REJECTED" and not gone:
        _delete(bucket, key, version)
    metrics.add_metric(name=f"Uploads{outcome['status'].title()}", unit=MetricUnit.Count, value=1)
    logger.info("upload settled", extra={"upload_id": upload_id, **outcome})
    return outcome["status"]


def _after_settlement(bucket: str, key: str, version: str | None, item: dict[str, Any]) -> str:
    """An event for an upload already settled: the same event again, or another version.

    The verified version of a READY upload stays. Every other version of a settled upload is
    one nobody will ever serve, so it is deleted; a rejected version is deleted again when its
    event comes back (its first delete may be what failed).
    """
    settled_version = version is None or version == item.get("versionId")
    if settled_version:
        if item["status"] == "REJECTED":
            _delete(bucket, key, version)
        logger.info("upload already settled", extra={"upload_id": item["id"], "status": item["status"]})
        return "duplicate"
    _delete(bucket, key, version)
    metrics.add_metric(name="UploadsDiscarded", unit=MetricUnit.Count, value=1)
    logger.info("unverified version deleted", extra={"upload_id": item["id"], "version": version})
    return "discarded"


# S3's request id of the request that created the object: it also names the request in
# CloudTrail and S3's access logs. S3 sends one record per notification.
@logger.inject_lambda_context(correlation_id_path=S3_REQUEST_ID)
@traced_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, list[str]]:
    return {"results": [process(record) for record in S3Event(event).records]}
