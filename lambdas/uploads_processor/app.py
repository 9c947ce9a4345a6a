"""S3 ObjectCreated (under the upload prefix): verify the object and settle its upload record.

A PENDING record becomes READY (size, SHA-256 and the verified version recorded) when the
object's size equals the declared size and its content type is the declared, allowed one, and
REJECTED with a reason otherwise. S3 delivers events at least once and a client may PUT again
with a still-valid URL, so only a PENDING record is ever settled, with a conditional update:
duplicates and later uploads are logged and skipped. Keys that match no record are skipped too.

A failing AWS call raises: Lambda retries S3's asynchronous invocation, and the record, still
PENDING, is settled by the retry.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3Model, S3RecordModel
from botocore.exceptions import ClientError

TABLE_NAME = os.environ["TABLE_NAME"]
UPLOAD_PREFIX = os.environ["UPLOAD_PREFIX"]
ALLOWED_CONTENT_TYPES = tuple(os.environ["ALLOWED_CONTENT_TYPES"].split(","))
MAX_UPLOAD_BYTES = int(os.environ["MAX_UPLOAD_BYTES"])
CHUNK = 1024 * 1024
S3_REQUEST_ID = 'Records[0].responseElements."x-amz-request-id"'

logger = Logger()
tracer = Tracer()
metrics = Metrics()
table = boto3.resource("dynamodb").Table(TABLE_NAME)
s3 = boto3.client("s3")


def _upload_id(key: str) -> str | None:
    """The record id a key belongs to (`<prefix><uuid>`), or None for any other key."""
    rest = key.removeprefix(UPLOAD_PREFIX)
    if rest == key:
        return None
    try:
        return rest if str(uuid.UUID(rest)) == rest else None
    except ValueError:
        return None


@tracer.capture_method
def _verify(bucket: str, key: str, version: str | None, record: dict[str, Any]) -> dict[str, Any]:
    """The outcome for this object version: READY with its facts, or REJECTED with a reason."""
    where = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
    try:
        head = s3.head_object(**where)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NoSuchVersion"):
            return {"status": "REJECTED", "reason": "the object no longer exists"}
        raise
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
    for chunk in s3.get_object(**where)["Body"].iter_chunks(CHUNK):
        digest.update(chunk)
    return {"status": "READY", "size": size, "sha256": digest.hexdigest(), "etag": head["ETag"].strip('"')}


def _settle(upload_id: str, version: str | None, outcome: dict[str, Any]) -> bool:
    """Write the outcome if the record is still PENDING; False if something settled it first."""
    fields = {**outcome, "verifiedAt": datetime.now(UTC).isoformat(), "versionId": version or ""}
    names = {f"#{k}": k for k in fields}
    values = {f":{k}": v for k, v in fields.items()}
    try:
        table.update_item(
            Key={"id": upload_id},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":pending": "PENDING"},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


@tracer.capture_method
def process(record: S3RecordModel) -> str:
    """Handle one event record; returns what happened (for logs and tests)."""
    if not record.eventName.startswith("ObjectCreated:") or record.s3.object is None:
        return "ignored"
    bucket = record.s3.bucket.name
    key = unquote_plus(record.s3.object.key)  # S3 URL-encodes keys in events
    version = record.s3.object.versionId
    upload_id = _upload_id(key)
    item = table.get_item(Key={"id": upload_id}, ConsistentRead=True).get("Item") if upload_id else None
    if item is None:
        logger.warning("object matches no upload record", extra={"key": key})
        metrics.add_metric(name="UnknownObjects", unit=MetricUnit.Count, value=1)
        return "unknown"
    if item["status"] != "PENDING":
        # The same event again, or a later PUT with the same URL: the verified version stands.
        logger.info(
            "upload already settled",
            extra={"upload_id": upload_id, "status": item["status"], "duplicate": item.get("versionId") == version},
        )
        return "duplicate"
    outcome = _verify(bucket, key, version, item)
    if not _settle(upload_id, version, outcome):
        logger.info("upload settled concurrently", extra={"upload_id": upload_id})
        return "duplicate"
    metrics.add_metric(name=f"Uploads{outcome['status'].title()}", unit=MetricUnit.Count, value=1)
    logger.info("upload settled", extra={"upload_id": upload_id, **outcome})
    return outcome["status"]


# S3's request id of the PUT that created the object: it also names the request in CloudTrail
# and S3's access logs. S3 sends one record per notification.
@logger.inject_lambda_context(correlation_id_path=S3_REQUEST_ID)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=S3Model)
def handler(event: S3Model, context: Any) -> dict[str, list[str]]:
    return {"results": [process(record) for record in event.Records]}
