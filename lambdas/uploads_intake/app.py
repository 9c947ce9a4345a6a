"""HTTP API (payload 2.0) for the upload pipeline.

POST /uploads       validate the declared file, record it PENDING, return a presigned POST form
GET  /uploads/{id}  the record's status, and a presigned GET URL of the verified version when READY

Clients upload straight to S3: a multipart/form-data POST to `upload.url` with every field of
`upload.fields`, then the file (last). S3 itself enforces the form's signed policy: this key
only, this content type only, exactly the declared size, until `upload.expiresInSeconds`. The
processor function verifies what arrives.

Callers: behind the JWT authorizer (REQUIRE_AUTHENTICATED_CALLER=true) the caller is the token's
`sub` claim, recorded as `uploadedBy`; a record is shown to its uploader only (anyone else gets
the same 404 as for an unknown id). Without an authorizer (the dev profile) the API is open.

Every error is a JSON body with a `message`: 400 for a body that is not a JSON object, 401
without a caller where one is required, 404 for unknown ids and routes, 413 for an oversized
body, 422 for invalid fields, 503 when AWS is unavailable.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

TABLE_NAME = os.environ["TABLE_NAME"]
BUCKET_NAME = os.environ["BUCKET_NAME"]
UPLOAD_PREFIX = os.environ["UPLOAD_PREFIX"]
ALLOWED_CONTENT_TYPES = tuple(os.environ["ALLOWED_CONTENT_TYPES"].split(","))
MAX_UPLOAD_BYTES = int(os.environ["MAX_UPLOAD_BYTES"])
URL_EXPIRY_SECONDS = int(os.environ["URL_EXPIRY_SECONDS"])
RECORD_TTL_SECONDS = int(os.environ["RECORD_TTL_DAYS"]) * 86400
REQUIRE_AUTHENTICATED_CALLER = os.environ.get("REQUIRE_AUTHENTICATED_CALLER", "false") == "true"
# An upload request is a few hundred bytes; anything near this is not one.
MAX_BODY_BYTES = 16 * 1024
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
app = APIGatewayHttpResolver()
to_dynamodb, from_dynamodb = TypeSerializer().serialize, TypeDeserializer().deserialize


def traced(fn: F) -> F:
    """`fn` recorded as an X-Ray subsegment when tracing, unchanged otherwise."""
    return tracer.capture_method(fn) if tracer else fn


def traced_handler(fn: F) -> F:
    return tracer.capture_lambda_handler(fn) if tracer else fn


# Clients are created on first use: a request that fails validation never pays for one.
@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


@cache
def s3() -> Any:
    # SigV4 and the regional virtual-hosted endpoint: SigV2 is refused in newer regions, and the
    # global endpoint redirects, which breaks a browser's CORS preflight.
    return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))


class UploadRequest(BaseModel):
    """What a client declares before uploading; S3 and the processor hold the object to it."""

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


class RequestError(Exception):
    """A request this API refuses with a 4xx; nothing has been written."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _caller() -> str | None:
    """The authenticated caller (the token's `sub` as the JWT authorizer passes it), if any."""
    subject = app.current_event.request_context.authorizer.jwt_claim.get("sub")
    if isinstance(subject, str) and subject:
        return subject
    if REQUIRE_AUTHENTICATED_CALLER:
        raise RequestError(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    return None


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object (400 for anything else, 413 when too large)."""
    event = app.current_event
    if len(event.body or "") > 2 * MAX_BODY_BYTES:  # base64 makes a body a third longer
        raise RequestError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = event.decoded_body or ""
    except ValueError:  # not base64, or not UTF-8 once decoded
        raise RequestError(400, "request body must be a JSON object") from None
    if len(text.encode(errors="surrogatepass")) > MAX_BODY_BYTES:
        raise RequestError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        value = json.loads(text)
        # Unpaired surrogates (\ud800) parse but cannot be stored.
        json.dumps(value, ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        raise RequestError(400, "request body must be a JSON object") from None
    if not isinstance(value, dict):
        raise RequestError(400, "request body must be a JSON object")
    return value


@app.post("/uploads")
@traced
def create_upload() -> Response[dict[str, Any]]:
    caller = _caller()
    request = UploadRequest.model_validate(_json_object())
    upload_id = str(uuid.uuid4())
    key = f"{UPLOAD_PREFIX}{upload_id}"
    # Signed before anything is written: a request that fails here leaves no record behind.
    form = s3().generate_presigned_post(
        Bucket=BUCKET_NAME,
        Key=key,
        Fields={"Content-Type": request.content_type},
        # S3 refuses a POST that breaks any of these (boto3 adds the bucket and the exact key).
        Conditions=[
            {"Content-Type": request.content_type},
            ["content-length-range", request.size, request.size],
        ],
        ExpiresIn=URL_EXPIRY_SECONDS,
    )
    now = int(time.time())
    record = {
        "id": upload_id,
        "status": "PENDING",
        "fileName": request.file_name,
        "contentType": request.content_type,
        "declaredSize": request.size,
        "objectKey": key,
        "createdAt": datetime.fromtimestamp(now, UTC).isoformat(),
        "expiresAt": now + RECORD_TTL_SECONDS,
    }
    if caller is not None:
        record["uploadedBy"] = caller
    dynamodb().put_item(
        TableName=TABLE_NAME,
        Item={k: to_dynamodb(v) for k, v in record.items()},
        # A fresh id never exists; the condition makes a collision an error, not an overwrite.
        ConditionExpression="attribute_not_exists(id)",
    )
    metrics.add_metric(name="UploadsRequested", unit=MetricUnit.Count, value=1)
    logger.info("upload requested", extra={"upload_id": upload_id, "declared_size": request.size})
    return _json(
        201,
        {
            "id": upload_id,
            "status": "PENDING",
            "upload": {
                "url": form["url"],
                "method": "POST",
                "fields": form["fields"],
                "expiresInSeconds": URL_EXPIRY_SECONDS,
            },
        },
        headers={"Location": f"/uploads/{upload_id}"},
    )


@app.get("/uploads/<upload_id>")
@traced
def get_upload(upload_id: str) -> Response[dict[str, Any]]:
    record = _find(upload_id, _caller())
    body: dict[str, Any] = {
        "id": record["id"],
        "status": record["status"],
        "fileName": record["fileName"],
        "contentType": record["contentType"],
        "declaredSize": int(record["declaredSize"]),
        "createdAt": record["createdAt"],
    }
    if "uploadedBy" in record:
        body["uploadedBy"] = record["uploadedBy"]
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
            # The version the processor verified, not whatever was uploaded with the form since.
            params["VersionId"] = record["versionId"]
        body["download"] = {
            "url": s3().generate_presigned_url("get_object", Params=params, ExpiresIn=URL_EXPIRY_SECONDS),
            "expiresInSeconds": URL_EXPIRY_SECONDS,
        }
    return _json(200, body)


def _find(upload_id: str, caller: str | None) -> dict[str, Any]:
    """The live record of `upload_id` that `caller` may see; 404 for anything else."""
    try:
        canonical = str(uuid.UUID(upload_id)) == upload_id
    except ValueError:
        canonical = False
    # Only ids this API hands out reach DynamoDB (whose keys have size limits of their own).
    if not canonical:
        raise RequestError(404, "upload not found")
    item = dynamodb().get_item(TableName=TABLE_NAME, Key={"id": {"S": upload_id}}, ConsistentRead=True).get("Item")
    record = {k: from_dynamodb(v) for k, v in (item or {}).items()}
    # DynamoDB deletes expired items eventually, not at the second; expired is gone. Someone
    # else's upload looks exactly like a missing one.
    if not record or int(record["expiresAt"]) <= time.time() or record.get("uploadedBy", caller) != caller:
        raise RequestError(404, "upload not found")
    return record


@app.exception_handler(RequestError)
def _client_mistake(exc: RequestError) -> Response:
    return _json(exc.status, {"message": exc.message}, headers=exc.headers)


@app.exception_handler(ValidationError)
def _invalid_request(exc: ValidationError) -> Response:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return _json(422, {"message": "invalid request", "errors": errors})


@app.not_found
def _no_route(_exc: NotFoundError) -> Response:
    return _json(404, {"message": "no such route"})


@app.exception_handler([ClientError, BotoCoreError])
def _aws_unavailable(exc: Exception) -> Response:
    logger.exception("AWS call failed")
    metrics.add_metric(name="AwsErrors", unit=MetricUnit.Count, value=1)
    return _json(503, {"message": "temporarily unavailable, retry later"}, headers={"Retry-After": "1"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
