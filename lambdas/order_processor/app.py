"""Order processor: consumes the orders service's OrderCreated events from its SQS queue.

Each SQS message is one EventBridge event (the rule's SQS target and raw SNS delivery both put
the event itself in the body). Messages are handled one by one; a message that fails (malformed,
not an OrderCreated event, or a failed write) is reported in `batchItemFailures`, so only it
returns to the queue and, after the queue's maxReceiveCount, moves to its dead-letter queue.

Exactly once, twice over: SQS and EventBridge both deliver at least once, so the work is
idempotent on the EventBridge event id (Powertools idempotency), and the order record is written
only if absent, which also covers the same order published again under a new event id.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

TABLE_NAME = os.environ["TABLE_NAME"]
# How long an event id is remembered: as long as a copy of the event can still arrive. A
# duplicate reaches the queue at most EventBridge's longest retry window (1 day) after the
# first copy, waits in the queue up to its retention (4 days), in the dead-letter queue up to
# 14 days from its first enqueue, and after a redrive up to the queue's retention again
# (components/event_driven/component.py; a test reads both sides). The conditional write
# below still stops any later replay, from the bus's archive say, from processing twice.
IDEMPOTENCY_SECONDS = (1 + 4 + 14 + 4) * 24 * 3600
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
to_dynamodb = TypeSerializer().serialize
idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=IDEMPOTENCY_SECONDS)
processor = BatchProcessor(event_type=EventType.SQS)


def traced(fn: F) -> F:
    """`fn` recorded as an X-Ray subsegment when tracing, unchanged otherwise."""
    return tracer.capture_method(fn) if tracer else fn


def traced_handler(fn: F) -> F:
    return tracer.capture_lambda_handler(fn) if tracer else fn


# Created on the first message, once per container, and shared with the idempotency records.
@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


class LineItem(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    unit_price: Decimal = Field(alias="unitPrice", ge=0)


class OrderCreated(BaseModel):
    """The detail of the orders service's OrderCreated event (lambdas/orders publishes it)."""

    order_id: str = Field(alias="orderId", min_length=1, max_length=128)
    user_id: str = Field(alias="userId", min_length=1, max_length=128)
    items: list[LineItem] = Field(min_length=1)
    total: Decimal = Field(ge=0)
    status: str
    created_at: str = Field(alias="createdAt")


class OrderCreatedEvent(EventBridgeModel):
    detail_type: Literal["OrderCreated"] = Field(alias="detail-type")
    detail: OrderCreated


def process_order(event: OrderCreatedEvent) -> dict[str, str]:
    """The order's work, done once per EventBridge event id (Powertools idempotency)."""
    return _idempotent_work()(event=event)


@cache
def _idempotent_work() -> Callable[..., dict[str, str]]:
    # Idempotency records share the function's table: their keys ("<function>#<hash>") never
    # look like an order's ("ORDER#<id>"), and they expire through the table's TTL attribute.
    persistence = DynamoDBPersistenceLayer(table_name=TABLE_NAME, key_attr="pk", boto3_client=dynamodb())
    return idempotent_function(data_keyword_argument="event", persistence_store=persistence, config=idempotency)(
        _record_order
    )


def _record_order(event: OrderCreatedEvent) -> dict[str, str]:
    order = event.detail
    item = {
        "pk": f"ORDER#{order.order_id}",
        "orderId": order.order_id,
        "userId": order.user_id,
        "itemCount": len(order.items),
        "total": order.total,
        "orderStatus": order.status,
        "orderCreatedAt": order.created_at,
        "eventId": event.id,
        "processedAt": datetime.now(UTC).isoformat(),
    }
    try:
        dynamodb().put_item(
            TableName=TABLE_NAME,
            Item={k: to_dynamodb(v) for k, v in item.items()},
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("order already processed", order_id=order.order_id, event_id=event.id)
        return {"orderId": order.order_id, "result": "already-processed"}
    metrics.add_metric(name="OrdersProcessed", unit=MetricUnit.Count, value=1)
    logger.info("order processed", order_id=order.order_id, event_id=event.id)
    return {"orderId": order.order_id, "result": "processed"}


@traced
def record_handler(record: SQSRecord) -> dict[str, str]:
    # A batch has no one correlation id: each message's log lines carry its own, the SQS message
    # id until the body is known to be an event, then the EventBridge event id (what the bus's
    # archive, the idempotency record and the order record know it by).
    logger.set_correlation_id(record.message_id)
    # A malformed message raises here, before any idempotency record exists, and fails alone.
    event = parse(event=record.body, model=OrderCreatedEvent)
    logger.set_correlation_id(event.id)
    return process_order(event=event)


# clear_state: no correlation id of the previous batch's last message leaks into this one.
@logger.inject_lambda_context(clear_state=True)
@traced_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
