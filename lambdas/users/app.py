"""The users microservice: POST/GET /users, GET/DELETE /users/{id} on its own table.

Emails are unique. DynamoDB enforces uniqueness only on the key, so a user is written together
with an `email#<address>` item in one transaction, each conditional on not existing yet: two
concurrent sign-ups with the same email cannot both succeed, and a failed or throttled request
writes nothing. Listing skips those marker items (`kind` tells them apart).

Client mistakes are 4xx and write nothing: 400 for a body that is not a JSON object or a bad
query parameter, 404 for unknown ids (only ids this service hands out reach DynamoDB, whose
keys have size limits), 409 for a taken email, 413 for an oversized body, 422 for invalid fields.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    RequestEntityTooLargeError,
    ServiceError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

TABLE_NAME = os.environ["TABLE_NAME"]
MAX_BODY_BYTES = 16 * 1024
DEFAULT_PAGE = 25
MAX_PAGE = 100
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# DynamoDB's "slow down" answers; after boto3's own retries they become a 503 for the caller.
THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
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
app = APIGatewayRestResolver()


def traced(fn: F) -> F:
    """`fn` recorded as an X-Ray subsegment when tracing, unchanged otherwise."""
    return tracer.capture_method(fn) if tracer else fn


def traced_handler(fn: F) -> F:
    return tracer.capture_lambda_handler(fn) if tracer else fn


# Created on first use: a request refused before it needs the table never pays for a client.
@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


class NewUser(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL)]


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _error(status: int, message: str, **extra: Any) -> Response:
    return _json(status, {"statusCode": status, "message": message, **extra})


def _location(item_id: str) -> str:
    """The new item's URL path as the caller sees it (with the stage, e.g. /v1/users/<id>)."""
    return f"{app.current_event.request_context.path.rstrip('/')}/{item_id}"


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object (400 for anything else, 413 when too large)."""
    event = app.current_event
    if len(event.body or "") > 2 * MAX_BODY_BYTES:  # base64 makes a body a third longer
        raise RequestEntityTooLargeError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = event.decoded_body or ""
    except ValueError:  # not base64, or not UTF-8 once decoded
        raise BadRequestError("request body must be a JSON object") from None
    if len(text.encode(errors="surrogatepass")) > MAX_BODY_BYTES:
        raise RequestEntityTooLargeError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        value = json.loads(text)
        # Unpaired surrogates (\ud800) parse but cannot be stored.
        json.dumps(value, ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        raise BadRequestError("request body must be a JSON object") from None
    if not isinstance(value, dict):
        raise BadRequestError("request body must be a JSON object")
    return value


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k]["S"] for k in ("id", "name", "email", "createdAt")}


def _email_key(email: str) -> str:
    return f"email#{email}"


def _is_user_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": key["id"]["S"]}).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    """The scan position a token stands for: a user id or an email marker, nothing else."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) if len(token) <= 1024 else None
    except (binascii.Error, ValueError, RecursionError):
        key = None
    position = key.get("id") if isinstance(key, dict) and set(key) == {"id"} else None
    if not isinstance(position, str) or not (
        _is_user_id(position)
        or (position.startswith("email#") and len(position) <= 6 + 254 and re.fullmatch(EMAIL, position[6:]))
    ):
        raise BadRequestError("nextToken is not a token this API returned")
    return {"id": {"S": position}}


def _limit() -> int:
    raw = app.current_event.get_query_string_value("limit", str(DEFAULT_PAGE))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_PAGE):
        raise BadRequestError(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def _reasons(error: ClientError) -> list[str]:
    return [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]


@app.post("/users")
@traced
def create_user() -> Response:
    new = NewUser.model_validate(_json_object())
    email = new.email.lower()
    user = {
        "id": str(uuid.uuid4()),
        "kind": "user",
        "name": new.name,
        "email": email,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    marker = {"id": _email_key(email), "kind": "email", "userId": user["id"]}
    try:
        dynamodb().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE_NAME,
                        "Item": {k: {"S": v} for k, v in item.items()},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                }
                for item in (user, marker)
            ]
        )
    except ClientError as error:
        # The second item of the transaction is the email marker.
        if error.response["Error"]["Code"] == "TransactionCanceledException" and _reasons(error)[1:2] == [
            "ConditionalCheckFailed"
        ]:
            raise ServiceError(HTTPStatus.CONFLICT, f"a user with email {email} already exists") from None
        raise
    metrics.add_metric(name="UserCreated", unit=MetricUnit.Count, value=1)
    return _json(
        HTTPStatus.CREATED,
        {k: user[k] for k in ("id", "name", "email", "createdAt")},
        headers={"Location": _location(user["id"])},
    )


@app.get("/users")
@traced
def list_users() -> Response:
    limit = _limit()
    token = app.current_event.get_query_string_value("nextToken")
    start = _decode_token(token) if token else None
    users: list[dict[str, Any]] = []
    # Scan's Limit counts items read before the filter drops email markers, so read until the
    # page is full; the last read's key is exactly where the next page starts.
    while len(users) < limit:
        kwargs: dict[str, Any] = {
            "TableName": TABLE_NAME,
            "Limit": limit - len(users),
            "FilterExpression": "#kind = :user",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {":user": {"S": "user"}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = dynamodb().scan(**kwargs)
        users += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    body: dict[str, Any] = {"users": [_public(u) for u in users]}
    if start:
        body["nextToken"] = _encode_token(start)
    return _json(HTTPStatus.OK, body)


def _get(user_id: str) -> dict[str, Any]:
    item = (
        dynamodb().get_item(TableName=TABLE_NAME, Key={"id": {"S": user_id}}).get("Item")
        if _is_user_id(user_id)
        else None
    )
    if not item or item.get("kind", {}).get("S") != "user":
        raise ServiceError(HTTPStatus.NOT_FOUND, f"no user {user_id}")
    return item


@app.get("/users/<user_id>")
@traced
def get_user(user_id: str) -> Response:
    return _json(HTTPStatus.OK, _public(_get(user_id)))


@app.delete("/users/<user_id>")
@traced
def delete_user(user_id: str) -> Response:
    user = _get(user_id)
    try:
        # The email is freed in the same transaction, and only if this user still holds it.
        dynamodb().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": TABLE_NAME,
                        "Key": {"id": {"S": user_id}},
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
                {
                    "Delete": {
                        "TableName": TABLE_NAME,
                        "Key": {"id": {"S": _email_key(user["email"]["S"])}},
                        "ConditionExpression": "userId = :id",
                        "ExpressionAttributeValues": {":id": {"S": user_id}},
                    }
                },
            ]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "TransactionCanceledException" and "ThrottlingError" not in _reasons(
            error
        ):
            raise ServiceError(HTTPStatus.NOT_FOUND, f"no user {user_id}") from None
        raise
    metrics.add_metric(name="UserDeleted", unit=MetricUnit.Count, value=1)
    return Response(status_code=HTTPStatus.NO_CONTENT)


@app.exception_handler(ValidationError)
def invalid_body(error: ValidationError) -> Response:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    fields = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in problems]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "request body is not valid", errors=fields)


@app.exception_handler(ClientError)
def aws_error(error: ClientError) -> Response:
    code = error.response["Error"]["Code"]
    if code in THROTTLING or "ThrottlingError" in _reasons(error):
        # boto3 has already retried; a throttled write wrote nothing (single put or transaction).
        metrics.add_metric(name="Throttled", unit=MetricUnit.Count, value=1)
        return _json(
            HTTPStatus.SERVICE_UNAVAILABLE,
            {"statusCode": HTTPStatus.SERVICE_UNAVAILABLE, "message": "the service is busy; retry shortly"},
            headers={"Retry-After": "1"},
        )
    return unexpected(error)


@app.exception_handler(ServiceError)
def service_error(error: ServiceError) -> Response:
    return _error(error.status_code, error.msg)


# Only an unmatched route raises NotFoundError; the routes raise ServiceError(404) themselves.
@app.not_found
def no_route(_: NotFoundError) -> Response:
    event = app.current_event
    return _error(HTTPStatus.NOT_FOUND, f"no route for {event.http_method} {event.path}")


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response:
    logger.exception("unexpected error")
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@traced_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
