"""HTTP API (payload 2.0) for the upload pipeline.

POST /uploads       validate the declared file, record it PENDING, return a presigned PUT URL
GET  /uploads/{id}  the record's status, and a presigned GET URL of the verified version when READY

Clients upload straight to S3; the processor function verifies what arrives. Every error is a
JSON body with a `message`: 404 for unknown ids and routes, 422 for invalid requests, 503 when
AWS is unavailable.
"""

# No `from __future__ import annotations`: the resolver reads the routes' parameter types at run time.
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

TABLE_NAME = os.environ["TABLE_NAME"]
BUCKET_NAME = os.environ["BUCKET_NAME"]
UPLOAD_PREFIX = os.environ["UPLOAD_PREFIX"]
ALLOWED_CONTENT_TYPES = tuple(os.environ["ALLOWED_CONTENT_TYPES"].split(","))
MAX_UPLOAD_BYTES = int(os.environ["MAX_UPLOAD_BYTES"])
URL_EXPIRY_SECONDS = int(os.environ["URL_EXPIRY_SECONDS"])
RECORD_TTL_SECONDS = int(os.environ["RECORD_TTL_DAYS"]) * 86400

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)

table = boto3.resource("dynamodb").Table(TABLE_NAME)
# SigV4 and the regional virtual-hosted endpoint: SigV2 URLs are refused in newer regions, and
# the global endpoint redirects, which breaks a browser's CORS preflight.
s3 = boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))


class UploadRequest(BaseModel):
    """What a client declares before uploading; the processor holds the object to it."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel)

    file_name: str = Field(min_length=1, max_length=255)
    content_type: str
    size: int = Field(ge=1)

    @field_validator("file_name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        # The name ends up in a Content-Disposition header: no paths, quotes or control characters.
        if any(c in value for c in '/\\"') or not value.isprintable() or value.strip() in ("", ".", ".."):
            raise ValueError("must be a plain file name without path separators, quotes or control characters")
        return value

    @field_validator("content_type")
    @classmethod
    def _allowed_type(cls, value: str) -> str:
        if value not in ALLOWED_CONTENT_TYPES:
            raise ValueError(f"must be one of {', '.join(ALLOWED_CONTENT_TYPES)}")
        return value

    @field_validator("size")
    @classmethod
    def _not_too_big(cls, value: int) -> int:
        if value > MAX_UPLOAD_BYTES:
            raise ValueError(f"must be at most {MAX_UPLOAD_BYTES} bytes")
        return value


class UploadNotFoundError(Exception):
    """No live record for the id (never created, malformed, or expired)."""


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


@app.post("/uploads")
@tracer.capture_method
def create_upload(request: Annotated[UploadRequest, Body()]) -> Response[dict[str, Any]]:
    upload_id = str(uuid.uuid4())
    key = f"{UPLOAD_PREFIX}{upload_id}"
    now = int(time.time())
    table.put_item(
        Item={
            "id": upload_id,
            "status": "PENDING",
            "fileName": request.file_name,
            "contentType": request.content_type,
            "declaredSize": request.size,
            "objectKey": key,
            "createdAt": datetime.fromtimestamp(now, UTC).isoformat(),
            "expiresAt": now + RECORD_TTL_SECONDS,
        },
        # A fresh id never exists; the condition makes a collision an error, not an overwrite.
        ConditionExpression="attribute_not_exists(id)",
    )
    url = s3.generate_presigned_url(
        "put_object",
        # Content-Type is signed: S3 refuses a PUT declaring any other type.
        Params={"Bucket": BUCKET_NAME, "Key": key, "ContentType": request.content_type},
        ExpiresIn=URL_EXPIRY_SECONDS,
    )
    metrics.add_metric(name="UploadsRequested", unit=MetricUnit.Count, value=1)
    logger.info("upload requested", extra={"upload_id": upload_id, "declared_size": request.size})
    return _json(
        201,
        {
            "id": upload_id,
            "status": "PENDING",
            "upload": {
                "url": url,
                "method": "PUT",
                "headers": {"Content-Type": request.content_type},
                "expiresInSeconds": URL_EXPIRY_SECONDS,
            },
        },
        headers={"Location": f"/uploads/{upload_id}"},
    )


@app.get("/uploads/<upload_id>")
@tracer.capture_method
def get_upload(upload_id: str) -> Response[dict[str, Any]]:
    record = _find(upload_id)
    body: dict[str, Any] = {
        "id": record["id"],
        "status": record["status"],
        "fileName": record["fileName"],
        "contentType": record["contentType"],
        "declaredSize": int(record["declaredSize"]),
        "createdAt": record["createdAt"],
    }
    if record["status"] == "REJECTED":
        body["reason"] = record["reason"]
    if record["status"] == "READY":
        body.update(size=int(record["size"]), sha256=record["sha256"], verifiedAt=record["verifiedAt"])
        params = {
            "Bucket": BUCKET_NAME,
            "Key": record["objectKey"],
            "ResponseContentType": record["contentType"],
            # RFC 5987 encoding keeps any file name a valid header value.
            "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(record['fileName'])}",
        }
        if record.get("versionId"):
            # The version the processor verified, not whatever was PUT with the URL since.
            params["VersionId"] = record["versionId"]
        body["download"] = {
            "url": s3.generate_presigned_url("get_object", Params=params, ExpiresIn=URL_EXPIRY_SECONDS),
            "expiresInSeconds": URL_EXPIRY_SECONDS,
        }
    return _json(200, body)


def _find(upload_id: str) -> dict[str, Any]:
    try:
        canonical = str(uuid.UUID(upload_id)) == upload_id
    except ValueError:
        canonical = False
    if not canonical:
        raise UploadNotFoundError
    record = table.get_item(Key={"id": upload_id}, ConsistentRead=True).get("Item")
    # DynamoDB deletes expired items eventually, not at the second; expired is gone.
    if record is None or int(record["expiresAt"]) <= time.time():
        raise UploadNotFoundError
    return record


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    # `loc` is ("body", field) for a field, ("body",) or ("body", <char offset>) for the whole body.
    errors = [
        {"field": ".".join(p for p in e["loc"][1:] if isinstance(p, str)) or "body", "problem": e["msg"]}
        for e in exc.errors()
    ]
    return _json(422, {"message": "invalid request", "errors": errors})


@app.exception_handler(UploadNotFoundError)
def _unknown_upload(_exc: UploadNotFoundError) -> Response:
    return _json(404, {"message": "upload not found"})


@app.not_found
def _no_route(_exc: NotFoundError) -> Response:
    return _json(404, {"message": "no such route"})


@app.exception_handler([ClientError, BotoCoreError])
def _aws_unavailable(exc: Exception) -> Response:
    logger.exception("AWS call failed")
    metrics.add_metric(name="AwsErrors", unit=MetricUnit.Count, value=1)
    return _json(503, {"message": "temporarily unavailable, retry later"}, headers={"Retry-After": "1"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
