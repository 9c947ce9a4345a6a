"""The order processor against moto, alone and end to end behind the real orders API handler.

The moto resources are built from what the component registers (the rule's event pattern, the
queue's visibility timeout and redrive policy, the mapping's batch size, the table's keys), so
these tests exercise the deployed wiring rather than a copy of it. An `EventSourceMapping`
stands in for Lambda's SQS poller: it receives a batch, calls the handler, deletes what
succeeded and lets the failures become visible again, as the real one does with
ReportBatchItemFailures. moto delivers EventBridge events to SQS targets only, so the rule's SNS
target is not followed here (its wiring is asserted in tests/test_event_driven.py).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from components.config import validate
from components.event_driven import EventDriven, EventDrivenArgs
from components.event_driven.config import EventRetryPolicy
from components.microservices import MicroservicesArgs
from tools.offline import ROOT, Run, run_program, wired

REGION = "us-east-1"
BUS = "events-bus"
PROCESSOR_TABLE = "order-processor-table"
ORDER = {"userId": "u1", "items": [{"sku": "book-1", "quantity": 2, "unitPrice": 9.99}]}


@dataclass(frozen=True)
class Deployed:
    """What the component registers for the shipped order flow (dev profile)."""

    event_pattern: str
    visibility_timeout: int
    max_receive_count: int
    batch_size: int
    table_key: str
    ttl_attribute: str
    queue_retention: int
    dead_letter_retention: int


@pytest.fixture(scope="module")
def deployed() -> Deployed:
    cfg = validate({"environment": "dev", "eventDriven": {"enabled": True}}, REGION)
    args = EventDrivenArgs.from_config(cfg)
    run: Run = run_program("dev", False, program=lambda: EventDriven("events", args))
    rule = run.one("aws:cloudwatch/eventRule:EventRule", "orderCreated")
    (esm,) = run.by_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    (queue,) = [q for q in run.by_type("aws:sqs/queue:Queue") if wired(esm, "eventSourceArn", q)]
    fed = [
        t
        for t in run.by_type("aws:cloudwatch/eventTarget:EventTarget")
        if wired(t, "rule", rule) and wired(t, "arn", queue)
    ]
    assert fed, "the orderCreated rule must deliver to the consumed queue"
    (table,) = run.by_type("aws:dynamodb/table:Table")
    (dlq,) = [q for q in run.by_type("aws:sqs/queue:Queue") if wired(queue, "redrivePolicy", q)]
    return Deployed(
        event_pattern=rule.inputs["eventPattern"],
        # Registered numbers come back from the engine as floats.
        visibility_timeout=int(queue.inputs["visibilityTimeoutSeconds"]),
        max_receive_count=json.loads(queue.inputs["redrivePolicy"])["maxReceiveCount"],
        batch_size=int(esm.inputs["batchSize"]),
        table_key=table.inputs["hashKey"],
        ttl_attribute=table.inputs["ttl"]["attributeName"],
        queue_retention=int(queue.inputs["messageRetentionSeconds"]),
        dead_letter_retention=int(dlq.inputs["messageRetentionSeconds"]),
    )


def _load(code: str) -> ModuleType:
    """Import lambdas/<code>/app.py afresh (every function's file is called app.py)."""
    spec = importlib.util.spec_from_file_location(f"app_{code}_{uuid.uuid4().hex}", ROOT / "lambdas" / code / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations there
    spec.loader.exec_module(module)
    return module


@dataclass
class Context:
    function_name: str = "orderProcessor"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:orderProcessor"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "aws-patterns-tests",
        "POWERTOOLS_SERVICE_NAME": "orderProcessor",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@dataclass
class Queue:
    url: str
    arn: str


def _queue(name: str, **attributes: str) -> Queue:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queue(url, arn)


class EventSourceMapping:
    """Lambda's SQS poller with ReportBatchItemFailures, one poll at a time."""

    def __init__(self, handler: Any, queue: Queue, batch_size: int) -> None:
        self.handler, self.queue, self.batch_size = handler, queue, batch_size
        self.sqs = boto3.client("sqs")
        self.invocations: list[dict[str, Any]] = []

    def poll(self) -> int:
        """Receive one batch and hand it to the function; the number of messages received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue.url, MaxNumberOfMessages=min(self.batch_size, 10), AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self.handler(event, Context())
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # an invocation error fails the whole batch
            result, failed = None, {m["MessageId"] for m in messages}
        self.invocations.append({"event": event, "result": result, "failed": failed})
        for message in messages:
            if message["MessageId"] in failed:
                # What the visibility timeout does in time: the message becomes receivable again.
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def drain(self, max_polls: int = 50) -> None:
        for _ in range(max_polls):
            if not self.poll():
                return
        raise AssertionError("the queue never emptied")

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message["Attributes"],
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue.arn,
            "awsRegion": REGION,
        }


def _processor_table(deployed: Deployed) -> None:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=PROCESSOR_TABLE,
        KeySchema=[{"AttributeName": deployed.table_key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": deployed.table_key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=PROCESSOR_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": deployed.ttl_attribute},
    )


def _rows(prefix: str) -> list[dict[str, Any]]:
    items = boto3.resource("dynamodb").Table(PROCESSOR_TABLE).scan()["Items"]
    return [i for i in items if i["pk"].startswith(prefix)]


def _depth(queue: Queue) -> int:
    """Messages in the queue, visible or not (reading them would count as a receive)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue.url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def _peek(queue: Queue) -> list[dict[str, Any]]:
    """Every message of a queue nobody consumes any more (a receive raises its receive count)."""
    count = _depth(queue)
    found = boto3.client("sqs").receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(found) == count <= 10, "read every message in one call"
    return [json.loads(m["Body"]) for m in found]


def _event(detail: dict[str, Any], detail_type: str = "OrderCreated", event_id: str | None = None) -> dict[str, Any]:
    """An EventBridge event as the SQS target delivers it."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws-patterns.orders",
        "account": "123456789012",
        "time": "2025-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def _detail(order_id: str = "o-1", **overrides: Any) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "userId": "u1",
        "items": [{"sku": "book-1", "quantity": 2, "unitPrice": 9.99}],
        "total": 19.98,
        "status": "CREATED",
        "createdAt": "2025-01-01T00:00:00.000+00:00",
        **overrides,
    }


def _sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:orderProcessing",
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


class CountingPuts:
    """Wraps the processor's DynamoDB put_item to count the order writes it attempts (the
    idempotency records share the client and the table, under keys of their own)."""

    def __init__(self, module: ModuleType, monkeypatch: pytest.MonkeyPatch, fail_first: int = 0) -> None:
        client = module.dynamodb()
        self.real = client.put_item
        self.order_puts = 0
        self.fail_first = fail_first
        monkeypatch.setattr(client, "put_item", self)

    def __call__(self, **kwargs: Any) -> Any:
        if not kwargs["Item"]["pk"]["S"].startswith("ORDER#"):
            return self.real(**kwargs)
        self.order_puts += 1
        if self.fail_first:
            self.fail_first -= 1
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem"
            )
        return self.real(**kwargs)


# --- the processor on its own --------------------------------------------------------------------


@pytest.fixture
def processor(aws: None, deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    _processor_table(deployed)
    monkeypatch.setenv("TABLE_NAME", PROCESSOR_TABLE)
    return _load("order_processor")


def test_a_batch_of_orders_is_recorded_once_each(processor: ModuleType) -> None:
    bodies = [json.dumps(_event(_detail(f"o-{i}"))) for i in range(3)]
    assert processor.handler(_sqs_event(bodies), Context()) == {"batchItemFailures": []}
    rows = {r["orderId"]: r for r in _rows("ORDER#")}
    assert sorted(rows) == ["o-0", "o-1", "o-2"]
    assert rows["o-1"]["total"] == Decimal("19.98") and rows["o-1"]["itemCount"] == 1


@pytest.mark.parametrize(
    "poison",
    [
        "not json",
        json.dumps({"detail": _detail()}),  # not an EventBridge event
        json.dumps(_event(_detail(), detail_type="OrderCancelled")),
        json.dumps(_event(_detail(orderId=""))),
        json.dumps(_event(_detail(total=-1))),
        json.dumps(_event(_detail(items=[]))),
        json.dumps(_event({k: v for k, v in _detail().items() if k != "userId"})),
    ],
    ids=["text", "no-envelope", "other-type", "empty-id", "negative-total", "no-items", "no-user"],
)
def test_a_poison_message_fails_alone(processor: ModuleType, poison: str) -> None:
    bodies = [json.dumps(_event(_detail("before"))), poison, json.dumps(_event(_detail("after")))]
    result = processor.handler(_sqs_event(bodies), Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert sorted(r["orderId"] for r in _rows("ORDER#")) == ["after", "before"]


def test_a_duplicate_delivery_does_the_work_once(processor: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    puts = CountingPuts(processor, monkeypatch)
    body = json.dumps(_event(_detail("o-dup")))
    assert processor.handler(_sqs_event([body, body]), Context()) == {"batchItemFailures": []}
    assert processor.handler(_sqs_event([body]), Context()) == {"batchItemFailures": []}
    assert puts.order_puts == 1, "the same event id ran the work again"
    assert len(_rows("ORDER#")) == 1


def test_the_same_order_under_a_new_event_id_is_not_recorded_twice(processor: ModuleType) -> None:
    first, second = _event(_detail("o-7")), _event(_detail("o-7"))
    processor.handler(_sqs_event([json.dumps(first)]), Context())
    assert processor.handler(_sqs_event([json.dumps(second)]), Context()) == {"batchItemFailures": []}
    (row,) = _rows("ORDER#")
    assert row["eventId"] == first["id"]


def test_a_failed_write_is_retried_and_then_recorded_once(
    processor: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    puts = CountingPuts(processor, monkeypatch, fail_first=1)
    body = json.dumps(_event(_detail("o-retry")))
    ok = json.dumps(_event(_detail("o-fine")))
    assert processor.handler(_sqs_event([body, ok]), Context()) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert [r["orderId"] for r in _rows("ORDER#")] == ["o-fine"]
    # The failed attempt left no idempotency record in progress, so the redelivery is processed.
    assert processor.handler(_sqs_event([body]), Context()) == {"batchItemFailures": []}
    assert sorted(r["orderId"] for r in _rows("ORDER#")) == ["o-fine", "o-retry"]
    assert puts.order_puts == 3


def test_idempotency_records_share_the_table_without_looking_like_orders(processor: ModuleType) -> None:
    processor.handler(_sqs_event([json.dumps(_event(_detail("o-1")))]), Context())
    items = boto3.resource("dynamodb").Table(PROCESSOR_TABLE).scan()["Items"]
    records = [i for i in items if not i["pk"].startswith("ORDER#")]
    assert len(records) == 1 and records[0]["status"] == "COMPLETED"
    assert "expiration" in records[0], "idempotency records expire through the table's TTL"


def test_idempotency_records_live_as_long_as_a_duplicate_can_arrive(processor: ModuleType, deployed: Deployed) -> None:
    # The latest a copy of an event can reach the processor: EventBridge retries a target for
    # up to maximumEventAgeSeconds (at most this), the copy waits out the queue's retention,
    # then the dead-letter queue's (counted from its first enqueue), and after a redrive the
    # queue's retention again.
    (longest_retry,) = [
        m.le for m in EventRetryPolicy.model_fields["maximum_event_age_seconds"].metadata if hasattr(m, "le")
    ]
    window = longest_retry + deployed.queue_retention + deployed.dead_letter_retention + deployed.queue_retention
    assert window <= processor.IDEMPOTENCY_SECONDS
    started = int(time.time())
    processor.handler(_sqs_event([json.dumps(_event(_detail("o-late")))]), Context())
    items = boto3.resource("dynamodb").Table(PROCESSOR_TABLE).scan()["Items"]
    (record,) = [i for i in items if not i["pk"].startswith("ORDER#")]
    assert int(record["expiration"]) - started >= window, "the stored record expires after the window"


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=200),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
details = st.fixed_dictionaries(
    {},
    optional={
        "orderId": st.text(max_size=300) | st.uuids().map(str),
        "userId": values,
        "items": st.lists(
            st.fixed_dictionaries({}, optional={"sku": values, "quantity": values, "unitPrice": values}), max_size=2
        ),
        "total": values,
        "status": values,
        "createdAt": values,
    },
)
bodies = st.one_of(
    st.text(max_size=100),
    values.map(json.dumps),
    details.map(lambda d: json.dumps(_event({**_detail(), **d}))),
    st.builds(lambda d, t: json.dumps(_event(d, detail_type=t)), details, st.sampled_from(["OrderCreated", "Other"])),
)


def test_any_message_is_recorded_or_reported_never_both_never_lost(processor: ModuleType) -> None:
    table = boto3.resource("dynamodb").Table(PROCESSOR_TABLE)

    def recorded(order_id: Any) -> bool:
        if not isinstance(order_id, str) or not 0 < len(f"ORDER#{order_id}".encode("utf-8", "surrogatepass")) <= 2048:
            return False
        return "Item" in table.get_item(Key={"pk": f"ORDER#{order_id}"})

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=bodies)
    def check(body: str) -> None:
        anchor = f"anchor-{uuid.uuid4()}"
        try:
            order_id = json.loads(body)["detail"]["orderId"]
        except (ValueError, TypeError, KeyError):
            order_id = None
        existed = recorded(order_id)
        result = processor.handler(_sqs_event([json.dumps(_event(_detail(anchor))), body]), Context())
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        assert "m0" not in failed and recorded(anchor), "a bad neighbour does not fail a good message"
        if "m1" in failed:
            assert recorded(order_id) == existed, "a message reported failed wrote no order"
        else:
            assert recorded(order_id), "an accepted message is recorded"

    check()


# --- end to end: orders API -> bus -> rule -> queue -> processor -----------------------------------


@dataclass
class Flow:
    api: Any
    events: Any
    queue: Queue
    dlq: Queue
    consumer: EventSourceMapping
    puts: CountingPuts


def _orders_table() -> str:
    """The orders table with the key schema the microservices component declares."""
    cfg = validate({"environment": "dev", "microservices": {"enabled": True}}, REGION)
    (service,) = [s for s in MicroservicesArgs.from_config(cfg).services if s.name == "orders"]
    keys = [{"AttributeName": service.partition_key.name, "KeyType": "HASH"}]
    if service.sort_key:
        keys.append({"AttributeName": service.sort_key.name, "KeyType": "RANGE"})
    indexes = [
        {
            "IndexName": i.name,
            "KeySchema": [
                {"AttributeName": k.name, "KeyType": kind}
                for k, kind in ((i.partition_key, "HASH"), (i.sort_key, "RANGE"))
                if k is not None
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        for i in service.indexes
    ]
    boto3.client("dynamodb").create_table(
        TableName="orders-table",
        KeySchema=keys,
        AttributeDefinitions=[{"AttributeName": k.name, "AttributeType": k.type} for k in service.key_attributes],
        BillingMode="PAY_PER_REQUEST",
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
    )
    return "orders-table"


def _post_order(orders: ModuleType, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    event = {
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": "req-1",
            "stage": "v1",
            "httpMethod": "POST",
            "path": "/v1/orders",
            "resourcePath": "/orders",
            "identity": {"sourceIp": "203.0.113.1"},
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
    reply = orders.handler(event, Context(function_name="orders"))
    assert reply["statusCode"] == 201, reply
    return json.loads(reply["body"])


# moto's default delivery leaves `account` out of the event; AWS always sends it. This input
# transformer makes moto deliver the whole event as AWS does (its own default, plus account).
AS_AWS = {
    "InputTransformer": {
        "InputPathsMap": {
            k: f"$.{k}" for k in ("id", "time", "detail-type", "source", "account", "region", "resources", "detail")
        },
        "InputTemplate": (
            '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
            '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
            '"detail": <detail>}'
        ),
    }
}


@pytest.fixture
def flow(aws: None, deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> Flow:
    events = boto3.client("events")
    events.create_event_bus(Name=BUS)
    dlq = _queue("orderProcessing-dlq")
    queue = _queue(
        "orderProcessing",
        VisibilityTimeout=str(deployed.visibility_timeout),
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": deployed.max_receive_count}),
    )
    # The rule exactly as the component registers it: moto evaluates this pattern.
    events.put_rule(Name="orderCreated", EventBusName=BUS, EventPattern=deployed.event_pattern)
    events.put_targets(Rule="orderCreated", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue.arn, **AS_AWS}])
    monkeypatch.setenv("TABLE_NAME", _orders_table())
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    orders = _load("orders")
    _processor_table(deployed)
    monkeypatch.setenv("TABLE_NAME", PROCESSOR_TABLE)
    processor = _load("order_processor")
    consumer = EventSourceMapping(processor.handler, queue, deployed.batch_size)
    return Flow(orders, events, queue, dlq, consumer, CountingPuts(processor, monkeypatch))


def _delivered(consumer: EventSourceMapping) -> list[dict[str, Any]]:
    """Every event handed to the function, in order, repeats included."""
    return [json.loads(r["body"]) for call in consumer.invocations for r in call["event"]["Records"]]


def test_an_order_created_through_the_api_is_processed_exactly_once(flow: Flow) -> None:
    order = _post_order(flow.api, ORDER, key="checkout-1")
    assert order["eventStatus"] == "PUBLISHED"
    # The client retries (say, after a timeout): the API replays, publishing nothing new.
    assert _post_order(flow.api, ORDER, key="checkout-1")["orderId"] == order["orderId"]
    assert _depth(flow.queue) == 1

    flow.consumer.drain()

    (event,) = _delivered(flow.consumer)
    assert (event["source"], event["detail-type"]) == ("aws-patterns.orders", "OrderCreated")
    (row,) = _rows("ORDER#")
    assert row["orderId"] == event["detail"]["orderId"] == order["orderId"]
    assert row["userId"] == "u1" and row["total"] == Decimal(str(order["total"]))
    assert row["eventId"] == event["id"]
    assert flow.puts.order_puts == 1
    assert _depth(flow.queue) == 0 and _depth(flow.dlq) == 0


def test_events_that_must_not_match_do_not_arrive(flow: Flow) -> None:
    detail = json.dumps(_detail())
    strangers = [
        {"Source": "aws-patterns.users", "DetailType": "OrderCreated", "Detail": detail, "EventBusName": BUS},
        {"Source": "aws-patterns.orders", "DetailType": "OrderShipped", "Detail": detail, "EventBusName": BUS},
        # The right event on the default bus: the rule lives on the custom bus only.
        {"Source": "aws-patterns.orders", "DetailType": "OrderCreated", "Detail": detail},
    ]
    assert flow.events.put_events(Entries=strangers)["FailedEntryCount"] == 0
    assert _depth(flow.queue) == 0
    _post_order(flow.api, ORDER)
    assert [e["detail-type"] for e in _peek(flow.queue)] == ["OrderCreated"]


def test_a_poison_event_ends_in_the_dead_letter_queue_and_nothing_is_lost(flow: Flow, deployed: Deployed) -> None:
    orders = [_post_order(flow.api, ORDER) for _ in range(3)]
    # Matches the rule (right source and type) but its detail is not an order.
    poison = {"Source": "aws-patterns.orders", "DetailType": "OrderCreated", "Detail": '{"orderId": 7}'}
    assert flow.events.put_events(Entries=[{**poison, "EventBusName": BUS}])["FailedEntryCount"] == 0
    sent = _depth(flow.queue)
    assert sent == 4

    flow.consumer.drain()

    assert sorted(r["orderId"] for r in _rows("ORDER#")) == sorted(o["orderId"] for o in orders)
    assert _depth(flow.queue) == 0
    (dead,) = _peek(flow.dlq)
    assert dead["detail"] == {"orderId": 7}
    # The poison event reached the function maxReceiveCount times; then SQS moved it aside.
    attempts = [e for e in _delivered(flow.consumer) if e["id"] == dead["id"]]
    assert len(attempts) == deployed.max_receive_count
    # It failed alone: every invocation's failures were the poison message only.
    assert all(len(call["failed"]) <= 1 for call in flow.consumer.invocations)
    assert len(_rows("ORDER#")) + 1 == sent, "every message is processed or dead-lettered"


def test_a_duplicate_delivery_from_the_queue_is_processed_once(flow: Flow) -> None:
    _post_order(flow.api, ORDER)
    flow.consumer.drain()
    (event,) = _delivered(flow.consumer)
    # SQS delivers at least once (say the delete after success was lost): the event comes again.
    boto3.client("sqs").send_message(QueueUrl=flow.queue.url, MessageBody=json.dumps(event))
    flow.consumer.drain()
    assert len(_delivered(flow.consumer)) == 2
    assert len(_rows("ORDER#")) == 1
    assert flow.puts.order_puts == 1
    assert all(not call["failed"] for call in flow.consumer.invocations)
