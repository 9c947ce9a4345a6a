"""The orders microservice: POST /orders, GET /orders/{id}, GET /orders?userId= on its own table.

Idempotency: with an `Idempotency-Key` header the order id is derived from the user and the
key, and the order is written only if that id does not exist yet. A retry therefore finds the
order its first attempt wrote and returns it (201, header `Idempotent-Replayed: true`) instead of
writing again; the same key with a different body is refused (422). The check and the write are
one conditional put, so there is no window in which two attempts both write.

Events: when EVENT_BUS_NAME is set, a new order is stored with `eventStatus: PENDING` and an
`OrderCreated` event is published after the write, then the order is marked PUBLISHED. If
publishing fails the order is kept and still returned (201) with `eventStatus: PENDING`, the
failure is logged and counted (metric OrderEventPublishFailed), and a retry of the POST with the
same Idempotency-Key publishes it once. A short lease on the order (`eventLeaseUntil`) keeps two
concurrent retries from both publishing. Delivery is at least once in the rare case where the
event was sent but marking the order failed: consumers deduplicate on `orderId`.

Client mistakes are 4xx and write nothing: 400 for a body that is not a JSON object or a bad
header or query parameter, 404 for unknown ids (only ids this service hands out reach DynamoDB,
whose keys have size limits), 413 for an oversized body, 422 for invalid fields, a string where
a number goes (prices included) and an Idempotency-Key reused with another body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
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
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

MAX_BODY_BYTES = 64 * 1024
DEFAULT_PAGE = 25
MAX_PAGE = 100
# Must match microservices.services.orders.globalSecondaryIndexes (the tests build the table
# from that config).
USER_INDEX = "byUser"
EVENT_SOURCE = "aws-patterns.orders"
EVENT_DETAIL_TYPE = "OrderCreated"
# How long one invocation may hold the right to publish an order's event.
EVENT_LEASE_SECONDS = 60
# Idempotency keys are scoped to the user; the namespace makes the derived ids this API's own.
ORDER_ID_NAMESPACE = uuid.UUID("6f1c9a52-3d2e-4b8f-9a41-2c7d8e5b0f13")
THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
IDENTIFIER = r"^[A-Za-z0-9_-]{1,64}$"
TABLE_NAME = os.environ["TABLE_NAME"]
EVENT_BUS_NAME = os.environ.get("EVENT_BUS_NAME")
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
to_dynamodb, from_dynamodb = TypeSerializer().serialize, TypeDeserializer().deserialize


def traced(fn: F) -> F:
    """`fn` recorded as an X-Ray subsegment when tracing, unchanged otherwise."""
    return tracer.capture_method(fn) if tracer else fn


def traced_handler(fn: F) -> F:
    return tracer.capture_lambda_handler(fn) if tracer else fn


# Created on first use: a request refused before it needs the table never pays for a client.
@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


@cache
def events() -> Any:
    return boto3.client("events")


def _json_number(value: Any) -> Decimal:
    """A price exactly as the client wrote it (bodies parse decimals as Decimal); never a string."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError("must be a finite JSON number")
    return Decimal(value)


Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
Price = Annotated[Decimal, BeforeValidator(_json_number), Field(gt=0, le=1_000_000, decimal_places=2)]


class LineItem(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", validate_by_name=False, validate_by_alias=True)

    sku: Identifier
    quantity: int = Field(ge=1, le=1000)
    unit_price: Price = Field(alias="unitPrice")


class NewOrder(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", validate_by_name=False, validate_by_alias=True)

    user_id: Identifier = Field(alias="userId")
    items: list[LineItem] = Field(min_length=1, max_length=50)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _error(status: int, message: str, **extra: Any) -> Response:
    return _json(status, {"statusCode": status, "message": message, **extra})


def _location(item_id: str) -> str:
    """The new order's URL path as the caller sees it (with the stage, e.g. /v1/orders/<id>)."""
    return f"{app.current_event.request_context.path.rstrip('/')}/{item_id}"


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object (400 for anything else, 413 when too large).

    Decimals parse as Decimal: a price is never rounded through a float before it is checked.
    """
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
        value = json.loads(text, parse_float=Decimal)
        # Unpaired surrogates (\ud800) parse but cannot be stored.
        json.dumps(value, ensure_ascii=False, default=str).encode()
    except (ValueError, RecursionError):
        raise BadRequestError("request body must be a JSON object") from None
    if not isinstance(value, dict):
        raise BadRequestError("request body must be a JSON object")
    return value


def _is_order_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _read(order_id: str, consistent: bool = False) -> dict[str, Any] | None:
    item = dynamodb().get_item(TableName=TABLE_NAME, Key={"orderId": {"S": order_id}}, ConsistentRead=consistent)
    return {k: from_dynamodb(v) for k, v in item["Item"].items()} if "Item" in item else None


def _update(order_id: str, expression: str, values: dict[str, Any], condition: str | None = None) -> None:
    dynamodb().update_item(
        TableName=TABLE_NAME,
        Key={"orderId": {"S": order_id}},
        UpdateExpression=expression,
        ExpressionAttributeValues={k: to_dynamodb(v) for k, v in values.items()},
        **({"ConditionExpression": condition} if condition else {}),
    )


def _number(value: Any) -> Any:
    """DynamoDB returns numbers as Decimal; JSON wants int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _order(item: dict[str, Any]) -> dict[str, Any]:
    """The order as the API and the OrderCreated event show it."""
    return {
        "orderId": item["orderId"],
        "userId": item["userId"],
        "items": [
            {"sku": i["sku"], "quantity": _number(i["quantity"]), "unitPrice": _number(i["unitPrice"])}
            for i in item["items"]
        ],
        "total": _number(item["total"]),
        "status": item["status"],
        "createdAt": item["createdAt"],
    }


def _idempotency_key() -> str | None:
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 128 or not key.isascii() or not key.isprintable():
        raise BadRequestError("Idempotency-Key must be 1-128 printable ASCII characters")
    return key


@app.post("/orders")
@traced
def create_order() -> Response:
    new = NewOrder.model_validate(_json_object())
    key = _idempotency_key()
    order_id = str(uuid.uuid5(ORDER_ID_NAMESPACE, f"{new.user_id}\n{key}") if key else uuid.uuid4())
    request_hash = hashlib.sha256(new.model_dump_json(by_alias=True).encode()).hexdigest()
    total = sum((i.unit_price * i.quantity for i in new.items), Decimal(0)).quantize(Decimal("0.01"))
    item: dict[str, Any] = {
        "orderId": order_id,
        "userId": new.user_id,
        "items": [{"sku": i.sku, "quantity": i.quantity, "unitPrice": i.unit_price} for i in new.items],
        "total": total,
        "status": "CREATED",
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "requestHash": request_hash,
    }
    if EVENT_BUS_NAME:
        # Written with the lease held, so this invocation publishes without another write first.
        item |= {"eventStatus": "PENDING", "eventLeaseUntil": int(time.time()) + EVENT_LEASE_SECONDS}
    replayed = False
    try:
        dynamodb().put_item(
            TableName=TABLE_NAME,
            Item={k: to_dynamodb(v) for k, v in item.items()},
            ConditionExpression="attribute_not_exists(orderId)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        stored = _read(order_id, consistent=True)
        assert stored is not None, "the condition failed because it exists"
        item = stored
        if item["requestHash"] != request_hash:
            raise ServiceError(
                HTTPStatus.UNPROCESSABLE_ENTITY, "this Idempotency-Key was already used with a different request"
            ) from None
        replayed = True
    else:
        metrics.add_metric(name="OrderCreated", unit=MetricUnit.Count, value=1)

    body = _order(item)
    # An order written before the service had a bus has no eventStatus and publishes nothing.
    status = item.get("eventStatus")
    if EVENT_BUS_NAME and status == "PENDING":
        status = _publish(body, lease_held=not replayed)
    if status:
        body["eventStatus"] = status
    headers = {"Location": _location(order_id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(HTTPStatus.CREATED, body, headers=headers)


def _take_lease(order_id: str) -> bool:
    now = int(time.time())
    try:
        _update(
            order_id,
            "SET eventLeaseUntil = :until",
            {":until": now + EVENT_LEASE_SECONDS, ":pending": "PENDING", ":now": now},
            condition="eventStatus = :pending AND eventLeaseUntil < :now",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            logger.warning("could not take the event lease", order_id=order_id, error=str(error))
        return False
    return True


def _publish(order: dict[str, Any], lease_held: bool) -> str:
    """Publish OrderCreated for a stored order; the order's eventStatus after trying."""
    order_id = order["orderId"]
    if not lease_held and not _take_lease(order_id):
        return "PENDING"  # published already or being published by another attempt
    try:
        result = events().put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": EVENT_DETAIL_TYPE,
                    "Detail": json.dumps(order),
                    "EventBusName": EVENT_BUS_NAME,
                }
            ]
        )
        if result.get("FailedEntryCount"):
            entry = result["Entries"][0]
            raise RuntimeError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    except (ClientError, BotoCoreError, RuntimeError) as error:
        logger.error(
            "OrderCreated not published; a retry with the same Idempotency-Key publishes it",
            order_id=order_id,
            error=str(error),
        )
        metrics.add_metric(name="OrderEventPublishFailed", unit=MetricUnit.Count, value=1)
        try:
            # Give the lease back so a retry need not wait for it to expire.
            _update(order_id, "SET eventLeaseUntil = :zero", {":zero": 0})
        except ClientError:
            logger.warning("could not release the event lease; it expires by itself", order_id=order_id)
        return "PENDING"
    try:
        _update(order_id, "SET eventStatus = :published REMOVE eventLeaseUntil", {":published": "PUBLISHED"})
    except ClientError as error:
        # The event went out; a later retry may send it again, which consumers deduplicate.
        logger.warning("event published but the order is not marked", order_id=order_id, error=str(error))
    metrics.add_metric(name="OrderEventPublished", unit=MetricUnit.Count, value=1)
    return "PUBLISHED"


@app.get("/orders/<order_id>")
@traced
def get_order(order_id: str) -> Response:
    item = _read(order_id) if _is_order_id(order_id) else None
    if not item:
        raise ServiceError(HTTPStatus.NOT_FOUND, f"no order {order_id}")
    body = _order(item)
    if "eventStatus" in item:
        body["eventStatus"] = item["eventStatus"]
    return _json(HTTPStatus.OK, body)


def _limit() -> int:
    raw = app.current_event.get_query_string_value("limit", str(DEFAULT_PAGE))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_PAGE):
        raise BadRequestError(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def _encode_token(key: dict[str, Any]) -> str:
    plain = {k: v["S"] for k, v in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode_token(token: str, user_id: str) -> dict[str, Any]:
    """The query position a token stands for, checked field by field before DynamoDB sees it."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) if len(token) <= 1024 else None
    except (binascii.Error, ValueError, RecursionError):
        key = None
    valid = (
        isinstance(key, dict)
        and set(key) == {"orderId", "userId", "createdAt"}
        and all(isinstance(v, str) for v in key.values())
        and key["userId"] == user_id
        and _is_order_id(key["orderId"])
        and re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]{8,15}\+00:00", key["createdAt"]) is not None
    )
    if not valid:
        raise BadRequestError("nextToken is not a token this API returned for this userId")
    return {k: {"S": v} for k, v in key.items()}  # type: ignore[union-attr]


@app.get("/orders")
@traced
def list_orders() -> Response:
    user_id = app.current_event.get_query_string_value("userId")
    if not user_id:
        raise BadRequestError("the userId query parameter is required")
    if not re.fullmatch(IDENTIFIER, user_id):
        raise BadRequestError("userId must be 1-64 letters, digits, '_' or '-'")
    limit = _limit()
    kwargs: dict[str, Any] = {
        "TableName": TABLE_NAME,
        "IndexName": USER_INDEX,
        "KeyConditionExpression": "userId = :user",
        "ExpressionAttributeValues": {":user": {"S": user_id}},
        "ScanIndexForward": False,  # newest first
        "Limit": limit,
    }
    token = app.current_event.get_query_string_value("nextToken")
    if token:
        kwargs["ExclusiveStartKey"] = _decode_token(token, user_id)
    page = dynamodb().query(**kwargs)
    items = [{k: from_dynamodb(v) for k, v in i.items()} for i in page["Items"]]
    body: dict[str, Any] = {"orders": [_order(i) for i in items]}
    if "LastEvaluatedKey" in page:
        body["nextToken"] = _encode_token(page["LastEvaluatedKey"])
    return _json(HTTPStatus.OK, body)


@app.exception_handler(ValidationError)
def invalid_body(error: ValidationError) -> Response:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    fields = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in problems]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "request body is not valid", errors=fields)


@app.exception_handler(ClientError)
def aws_error(error: ClientError) -> Response:
    code = error.response["Error"]["Code"]
    if code in THROTTLING:
        # boto3 has already retried; a throttled write wrote nothing (orders writes single items).
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
