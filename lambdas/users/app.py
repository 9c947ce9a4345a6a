"""The users microservice: POST/GET /users, GET/DELETE /users/{id} on its own table.

Emails are unique. DynamoDB enforces uniqueness only on the key, so a user is written together
with an `email#<address>` item in one transaction, each conditional on not existing yet: two
concurrent sign-ups with the same email cannot both succeed, and a failed or throttled request
writes nothing. Listing skips those marker items (`kind` tells them apart).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any

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
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

MAX_BODY_BYTES = 16 * 1024
DEFAULT_PAGE = 25
MAX_PAGE = 100
# DynamoDB's "slow down" answers; after boto3's own retries they become a 503 for the caller.
THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


class NewUser(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _error(status: int, message: str, **extra: Any) -> Response:
    return _json(status, {"statusCode": status, "message": message, **extra})


def _location(item_id: str) -> str:
    """The new item's URL path as the caller sees it (with the stage, e.g. /v1/users/<id>)."""
    return f"{app.current_event.request_context.path.rstrip('/')}/{item_id}"


def _body(model: type[BaseModel]) -> Any:
    body = app.current_event.decoded_body or ""
    if len(body.encode()) > MAX_BODY_BYTES:
        raise RequestEntityTooLargeError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    return model.model_validate_json(body)


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], "name": item["name"], "email": item["email"], "createdAt": item["createdAt"]}


def _email_key(email: str) -> str:
    return f"email#{email}"


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise BadRequestError("nextToken is not a token this API returned") from None
    if not (isinstance(key, dict) and set(key) == {"id"} and isinstance(key["id"], str)):
        raise BadRequestError("nextToken is not a token this API returned")
    return key


def _limit() -> int:
    raw = app.current_event.get_query_string_value("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequestError(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def _reasons(error: ClientError) -> list[str]:
    return [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]


@app.post("/users")
@tracer.capture_method
def create_user() -> Response:
    new = _body(NewUser)
    email = new.email.lower()
    user = {
        "id": str(uuid.uuid4()),
        "kind": "user",
        "name": new.name,
        "email": email,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    name = table.name
    try:
        table.meta.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": user, "ConditionExpression": "attribute_not_exists(id)"}},
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"id": _email_key(email), "kind": "email", "userId": user["id"]},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
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
    return _json(HTTPStatus.CREATED, _public(user), headers={"Location": _location(user["id"])})


@app.get("/users")
@tracer.capture_method
def list_users() -> Response:
    limit = _limit()
    token = app.current_event.get_query_string_value("nextToken")
    start = _decode_token(token) if token else None
    users: list[dict[str, Any]] = []
    # Scan's Limit counts items read before the filter drops email markers, so read until the
    # page is full; the last read's key is exactly where the next page starts.
    while len(users) < limit:
        kwargs: dict[str, Any] = {"Limit": limit - len(users), "FilterExpression": Attr("kind").eq("user")}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = table.scan(**kwargs)
        users += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    body: dict[str, Any] = {"users": [_public(u) for u in users]}
    if start:
        body["nextToken"] = _encode_token(start)
    return _json(HTTPStatus.OK, body)


def _get(user_id: str) -> dict[str, Any]:
    item = table.get_item(Key={"id": user_id}).get("Item")
    if not item or item.get("kind") != "user":
        raise ServiceError(HTTPStatus.NOT_FOUND, f"no user {user_id}")
    return item


@app.get("/users/<user_id>")
@tracer.capture_method
def get_user(user_id: str) -> Response:
    return _json(HTTPStatus.OK, _public(_get(user_id)))


@app.delete("/users/<user_id>")
@tracer.capture_method
def delete_user(user_id: str) -> Response:
    user = _get(user_id)
    name = table.name
    try:
        # The email is freed in the same transaction, and only if this user still holds it.
        table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": name,
                        "Key": {"id": user_id},
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
                {
                    "Delete": {
                        "TableName": name,
                        "Key": {"id": _email_key(user["email"])},
                        "ConditionExpression": "userId = :id",
                        "ExpressionAttributeValues": {":id": user_id},
                    }
                },
            ]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "TransactionCanceledException":
            raise ServiceError(HTTPStatus.NOT_FOUND, f"no user {user_id}") from None
        raise
    metrics.add_metric(name="UserDeleted", unit=MetricUnit.Count, value=1)
    return Response(status_code=HTTPStatus.NO_CONTENT)


@app.exception_handler(ValidationError)
def invalid_body(error: ValidationError) -> Response:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    if any(p["type"] in ("json_invalid", "json_type") for p in problems):
        return _error(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
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
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
