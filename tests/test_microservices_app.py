"""The users and orders handlers against moto, with tables built from the component's key schema.

Bad input, duplicates, idempotent retries, pagination and injected faults (throttling, a failing
event bus), not only the happy path. Every response must be JSON with a message or a resource.
Property tests drive both handlers with generated requests: no client input reaches a 5xx, and
a 4xx writes nothing. moto accepts key values DynamoDB refuses (over its size limits in reads),
so the handlers' clients are given DynamoDB's own check.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import example, given
from hypothesis import strategies as st
from moto import mock_aws

from components.config import validate
from components.microservices.component import MicroservicesArgs, ServiceArgs
from tests.strategies import handler_properties, json_values
from tools.offline import ROOT

REGION = "us-east-1"
BUS = "orders-bus"


@cache
def _service(name: str) -> ServiceArgs:
    """The service as the component builds it from the dev profile."""
    cfg = validate({"environment": "dev", "microservices": {"enabled": True}}, REGION)
    (service,) = [s for s in MicroservicesArgs.from_config(cfg).services if s.name == name]
    return service


def _create_table(service: ServiceArgs) -> str:
    """A moto table with exactly the key schema and indexes the component declares."""
    name = f"{service.name}-table"
    keys = [{"AttributeName": service.partition_key.name, "KeyType": "HASH"}]
    if service.sort_key:
        keys.append({"AttributeName": service.sort_key.name, "KeyType": "RANGE"})
    kwargs: dict[str, Any] = {}
    if service.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
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
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=[{"AttributeName": k.name, "AttributeType": k.type} for k in service.key_attributes],
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )
    return name


def _load(code: str) -> ModuleType:
    """Import lambdas/<code>/app.py afresh (every function's file is called app.py)."""
    spec = importlib.util.spec_from_file_location(f"app_{code}_{uuid.uuid4().hex}", ROOT / "lambdas" / code / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would; pydantic resolves the models' annotations there
    spec.loader.exec_module(module)
    return module


@dataclass
class Context:
    function_name: str = "test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test"
    aws_request_id: str = "request-1"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Calls a handler the way API Gateway's REST proxy integration does."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        base64_body: bool = False,
    ) -> Reply:
        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if base64_body and text is not None:
            text = base64.b64encode(text.encode()).decode()
        event = {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": {"Content-Type": "application/json", **(headers or {})},
            "multiValueHeaders": {},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": "req-1",
                "stage": "v1",
                "httpMethod": method,
                "path": f"/v1{path}",
                "resourcePath": path,
                "identity": {"sourceIp": "203.0.113.1"},
            },
            "body": text,
            "isBase64Encoded": base64_body,
        }
        result = self.module.handler(event, Context())
        headers_out = {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()}
        headers_out |= result.get("headers") or {}
        payload = json.loads(result["body"]) if result.get("body") else None
        if result["statusCode"] >= 400:
            assert headers_out.get("Content-Type") == "application/json"
            assert isinstance(payload["message"], str) and payload["message"], "every error says what went wrong"
        return Reply(result["statusCode"], payload, headers_out)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "aws-patterns-tests",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EVENT_BUS_NAME", raising=False)
    with mock_aws():
        yield


def _throttle(code: str = "ProvisionedThroughputExceededException", **extra: Any) -> Any:
    def raise_(*_: Any, **__: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "slow down"}, **extra}, "op")

    return raise_


def _items(table_name: str) -> list[dict[str, Any]]:
    return boto3.resource("dynamodb").Table(table_name).scan()["Items"]


# --- users ----------------------------------------------------------------------------------


@pytest.fixture
def users(aws: None, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv("TABLE_NAME", _create_table(_service("users")))
    return Api(_load("users"))


def test_user_create_get_delete(users: Api) -> None:
    created = users("POST", "/users", {"name": " Ada ", "email": "Ada@Example.com"})
    assert created.status == 201
    user_id = created.body["id"]
    assert created.body == {
        "id": user_id,
        "name": "Ada",
        "email": "ada@example.com",
        "createdAt": created.body["createdAt"],
    }
    assert created.headers["Location"] == f"/v1/users/{user_id}"
    assert users("GET", f"/users/{user_id}").body == created.body
    deleted = users("DELETE", f"/users/{user_id}")
    assert deleted.status == 204 and deleted.body is None
    assert users("GET", f"/users/{user_id}").status == 404
    assert users("DELETE", f"/users/{user_id}").status == 404


def test_duplicate_email_is_a_conflict_and_writes_nothing(users: Api) -> None:
    assert users("POST", "/users", {"name": "Ada", "email": "ada@example.com"}).status == 201
    before = _items(users.module.TABLE_NAME)
    again = users("POST", "/users", {"name": "Other Ada", "email": "ADA@example.com"})
    assert again.status == 409
    assert "ada@example.com" in again.body["message"]
    assert _items(users.module.TABLE_NAME) == before


def test_deleting_a_user_frees_the_email(users: Api) -> None:
    first = users("POST", "/users", {"name": "Ada", "email": "ada@example.com"}).body
    users("DELETE", f"/users/{first['id']}")
    assert users("POST", "/users", {"name": "Ada again", "email": "ada@example.com"}).status == 201
    assert len(_items(users.module.TABLE_NAME)) == 2  # the new user and its email marker


def test_users_list_pages_through_every_user_once(users: Api) -> None:
    created = {users("POST", "/users", {"name": f"u{i}", "email": f"u{i}@example.com"}).body["id"] for i in range(7)}
    seen: list[str] = []
    token = None
    for _ in range(10):
        query = {"limit": "3", **({"nextToken": token} if token else {})}
        page = users("GET", "/users", query=query)
        assert page.status == 200
        assert len(page.body["users"]) <= 3
        seen += [u["id"] for u in page.body["users"]]
        token = page.body.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(created), "every user exactly once, and no email markers"


def test_users_list_default_page(users: Api) -> None:
    users("POST", "/users", {"name": "Ada", "email": "ada@example.com"})
    page = users("GET", "/users")
    assert [u["name"] for u in page.body["users"]] == ["Ada"]
    assert "nextToken" not in page.body


def test_email_marker_is_not_a_user(users: Api) -> None:
    users("POST", "/users", {"name": "Ada", "email": "ada@example.com"})
    assert users("GET", "/users/email%23ada@example.com").status == 404
    # The router never matches a raw '#'; the lookup itself must refuse the marker too.
    with pytest.raises(users.module.ServiceError) as refused:
        users.module._get("email#ada@example.com")
    assert refused.value.status_code == 404


@pytest.mark.parametrize(
    ("request_args", "status"),
    [
        ({"method": "POST", "path": "/users", "raw": "{not json"}, 400),
        ({"method": "POST", "path": "/users", "raw": ""}, 400),
        ({"method": "POST", "path": "/users", "raw": "[]"}, 400),
        ({"method": "POST", "path": "/users", "body": {"name": 5, "email": "a@b.co"}}, 422),
        ({"method": "POST", "path": "/users", "body": {"name": "Ada"}}, 422),
        ({"method": "POST", "path": "/users", "body": {"name": "Ada", "email": "a@b.co", "admin": True}}, 422),
        ({"method": "POST", "path": "/users", "body": {"name": "Ada", "email": "not-an-email"}}, 422),
        ({"method": "POST", "path": "/users", "body": {"name": "   ", "email": "a@b.co"}}, 422),
        ({"method": "POST", "path": "/users", "body": {"name": "A" * 20000, "email": "a@b.co"}}, 413),
        ({"method": "GET", "path": "/users", "query": {"limit": "0"}}, 400),
        ({"method": "GET", "path": "/users", "query": {"limit": "abc"}}, 400),
        ({"method": "GET", "path": "/users", "query": {"limit": "101"}}, 400),
        ({"method": "GET", "path": "/users", "query": {"nextToken": "%%%"}}, 400),
        ({"method": "GET", "path": "/users", "query": {"nextToken": "eyJ4IjoxfQ"}}, 400),
        ({"method": "GET", "path": "/nowhere"}, 404),
        ({"method": "PUT", "path": "/users"}, 404),
        ({"method": "PATCH", "path": "/users/123"}, 404),
    ],
    ids=[
        "malformed-json",
        "empty-body",
        "not-an-object",
        "wrong-type",
        "missing-field",
        "unknown-field",
        "bad-email",
        "blank-name",
        "oversized",
        "limit-zero",
        "limit-not-a-number",
        "limit-too-big",
        "token-not-base64",
        "token-foreign-key",
        "unknown-route",
        "wrong-method",
        "wrong-method-on-item",
    ],
)
def test_users_bad_requests_get_4xx_json(users: Api, request_args: dict[str, Any], status: int) -> None:
    args = dict(request_args)
    reply = users(args.pop("method"), args.pop("path"), args.pop("body", None), **args)
    assert reply.status == status
    assert _items(users.module.TABLE_NAME) == []
    if status == 422:
        assert reply.body["errors"], "validation errors name the fields"


def test_users_base64_body_is_decoded(users: Api) -> None:
    reply = users("POST", "/users", {"name": "Ada", "email": "ada@example.com"}, base64_body=True)
    assert reply.status == 201


def test_throttled_user_create_is_503_and_writes_nothing(users: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = {"CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}]}
    client = users.module.dynamodb()
    monkeypatch.setattr(client, "transact_write_items", _throttle("TransactionCanceledException", **reasons))
    reply = users("POST", "/users", {"name": "Ada", "email": "ada@example.com"})
    assert reply.status == 503
    assert reply.headers["Retry-After"] == "1"
    assert _items(users.module.TABLE_NAME) == []


def test_throttled_user_read_is_503(users: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users.module.dynamodb(), "get_item", _throttle())
    assert users("GET", f"/users/{uuid.uuid4()}").status == 503


def test_unexpected_failure_is_a_500_json_not_a_crash(users: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users.module.dynamodb(), "scan", _throttle("AccessDeniedException"))
    reply = users("GET", "/users")
    assert reply.status == 500
    assert "AccessDenied" not in reply.body["message"], "internals stay in the logs"


# --- orders ---------------------------------------------------------------------------------

ORDER = {
    "userId": "u1",
    "items": [{"sku": "book-1", "quantity": 2, "unitPrice": 9.99}, {"sku": "pen", "quantity": 1, "unitPrice": 0.5}],
}


@dataclass
class Orders:
    api: Api
    table: str
    queue_url: str | None

    def events(self) -> list[dict[str, Any]]:
        """Every OrderCreated event the bus delivered so far (drains the test queue)."""
        sqs = boto3.client("sqs")
        out = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


def _bus_with_queue() -> str:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="order-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws-patterns.orders"], "detail-type": ["OrderCreated"]}
    events.put_rule(Name="order-created", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="order-created", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return url


@pytest.fixture
def orders(aws: None, monkeypatch: pytest.MonkeyPatch) -> Orders:
    table = _create_table(_service("orders"))
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    queue = _bus_with_queue()
    return Orders(Api(_load("orders")), table, queue)


@pytest.fixture
def orders_without_bus(aws: None, monkeypatch: pytest.MonkeyPatch) -> Orders:
    monkeypatch.setenv("TABLE_NAME", _create_table(_service("orders")))
    return Orders(Api(_load("orders")), "orders-table", None)


def test_order_is_priced_stored_and_announced(orders: Orders) -> None:
    reply = orders.api("POST", "/orders", ORDER)
    assert reply.status == 201
    order = reply.body
    assert order["total"] == 20.48
    assert order["status"] == "CREATED"
    assert order["items"] == ORDER["items"]
    assert order["eventStatus"] == "PUBLISHED"
    assert reply.headers["Location"] == f"/v1/orders/{order['orderId']}"
    assert orders.api("GET", f"/orders/{order['orderId']}").body == order
    (event,) = orders.events()
    assert event["source"] == "aws-patterns.orders"
    assert event["detail-type"] == "OrderCreated"
    assert event["detail"] == {k: v for k, v in order.items() if k != "eventStatus"}
    assert {"orderId", "userId", "items", "total", "status", "createdAt"} <= set(event["detail"])


def test_retry_with_the_same_key_returns_the_first_order_and_writes_once(orders: Orders) -> None:
    key = {"Idempotency-Key": "checkout-42"}
    first = orders.api("POST", "/orders", ORDER, headers=key)
    second = orders.api("POST", "/orders", ORDER, headers={"idempotency-key": "checkout-42"})
    assert first.status == second.status == 201
    assert second.body == first.body
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(_items(orders.table)) == 1
    assert len(orders.events()) == 1, "a retry does not publish again"


def test_same_key_with_a_different_body_is_refused(orders: Orders) -> None:
    key = {"Idempotency-Key": "checkout-42"}
    orders.api("POST", "/orders", ORDER, headers=key)
    before = _items(orders.table)
    changed = {**ORDER, "items": [{"sku": "book-1", "quantity": 3, "unitPrice": 9.99}]}
    reply = orders.api("POST", "/orders", changed, headers=key)
    assert reply.status == 422
    assert _items(orders.table) == before


def test_idempotency_keys_are_per_user_and_optional(orders: Orders) -> None:
    key = {"Idempotency-Key": "k"}
    orders.api("POST", "/orders", ORDER, headers=key)
    orders.api("POST", "/orders", {**ORDER, "userId": "u2"}, headers=key)
    orders.api("POST", "/orders", ORDER)
    orders.api("POST", "/orders", ORDER)
    assert len(_items(orders.table)) == 4
    assert len(orders.events()) == 4


def test_failed_publish_keeps_the_order_and_a_retry_publishes_it_once(
    orders: Orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = {"Idempotency-Key": "checkout-7"}
    with monkeypatch.context() as broken:
        broken.setattr(orders.api.module.events(), "put_events", _throttle("InternalException"))
        first = orders.api("POST", "/orders", ORDER, headers=key)
    assert first.status == 201, "the order was saved; the caller learns the event is pending"
    assert first.body["eventStatus"] == "PENDING"
    (stored,) = _items(orders.table)
    assert stored["eventStatus"] == "PENDING"
    assert orders.events() == []

    second = orders.api("POST", "/orders", ORDER, headers=key)
    assert second.body["eventStatus"] == "PUBLISHED"
    assert second.body["orderId"] == first.body["orderId"]
    assert len(orders.events()) == 1
    third = orders.api("POST", "/orders", ORDER, headers=key)
    assert third.body["eventStatus"] == "PUBLISHED"
    assert orders.events() == [], "published once, whatever the number of retries"
    assert len(_items(orders.table)) == 1


def test_rejected_event_entry_counts_as_a_failure(orders: Orders, monkeypatch: pytest.MonkeyPatch) -> None:
    rejected = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]}
    monkeypatch.setattr(orders.api.module.events(), "put_events", lambda **_: rejected)
    reply = orders.api("POST", "/orders", ORDER)
    assert reply.status == 201 and reply.body["eventStatus"] == "PENDING"


def test_a_retry_does_not_publish_while_another_attempt_holds_the_lease(
    orders: Orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = {"Idempotency-Key": "checkout-9"}
    with monkeypatch.context() as broken:
        broken.setattr(orders.api.module.events(), "put_events", _throttle("InternalException"))
        order_id = orders.api("POST", "/orders", ORDER, headers=key).body["orderId"]
    # Another invocation has just taken the lease and is publishing.
    boto3.resource("dynamodb").Table(orders.table).update_item(
        Key={"orderId": order_id},
        UpdateExpression="SET eventLeaseUntil = :later",
        ExpressionAttributeValues={":later": 2**40},
    )
    reply = orders.api("POST", "/orders", ORDER, headers=key)
    assert reply.body["eventStatus"] == "PENDING"
    assert orders.events() == []


def test_without_a_bus_orders_publish_nothing(orders_without_bus: Orders) -> None:
    assert orders_without_bus.api.module.EVENT_BUS_NAME is None
    reply = orders_without_bus.api("POST", "/orders", ORDER)
    assert reply.status == 201
    assert "eventStatus" not in reply.body


def test_orders_of_a_user_page_newest_first(orders: Orders) -> None:
    mine = [orders.api("POST", "/orders", ORDER).body["orderId"] for _ in range(5)]
    orders.api("POST", "/orders", {**ORDER, "userId": "u2"})
    seen, created_at, token = [], [], None
    for _ in range(10):
        query = {"userId": "u1", "limit": "2", **({"nextToken": token} if token else {})}
        page = orders.api("GET", "/orders", query=query)
        assert page.status == 200 and len(page.body["orders"]) <= 2
        seen += [o["orderId"] for o in page.body["orders"]]
        created_at += [o["createdAt"] for o in page.body["orders"]]
        token = page.body.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(mine)
    assert created_at == sorted(created_at, reverse=True)


def test_a_page_token_is_bound_to_its_user(orders: Orders) -> None:
    for _ in range(3):
        orders.api("POST", "/orders", ORDER)
    token = orders.api("GET", "/orders", query={"userId": "u1", "limit": "1"}).body["nextToken"]
    assert orders.api("GET", "/orders", query={"userId": "u2", "nextToken": token}).status == 400


@pytest.mark.parametrize(
    ("request_args", "status"),
    [
        ({"method": "POST", "path": "/orders", "raw": "{"}, 400),
        ({"method": "POST", "path": "/orders", "raw": "null"}, 400),
        ({"method": "POST", "path": "/orders", "body": {"items": ORDER["items"]}}, 422),
        ({"method": "POST", "path": "/orders", "body": {**ORDER, "items": []}}, 422),
        (
            {
                "method": "POST",
                "path": "/orders",
                "body": {**ORDER, "items": [{"sku": "a", "quantity": 0, "unitPrice": 1}]},
            },
            422,
        ),
        (
            {
                "method": "POST",
                "path": "/orders",
                "body": {**ORDER, "items": [{"sku": "a", "quantity": "2", "unitPrice": 1}]},
            },
            422,
        ),
        (
            {
                "method": "POST",
                "path": "/orders",
                "body": {**ORDER, "items": [{"sku": "a", "quantity": 1, "unitPrice": 1.001}]},
            },
            422,
        ),
        (
            {
                "method": "POST",
                "path": "/orders",
                "body": {**ORDER, "items": [{"sku": "a", "quantity": 1, "unitPrice": -1}]},
            },
            422,
        ),
        (
            {
                "method": "POST",
                "path": "/orders",
                "body": {**ORDER, "items": [{"sku": "a", "quantity": 1.5, "unitPrice": 1}]},
            },
            422,
        ),
        ({"method": "POST", "path": "/orders", "body": {**ORDER, "total": 0}}, 422),
        ({"method": "POST", "path": "/orders", "body": {**ORDER, "userId": "../etc"}}, 422),
        ({"method": "POST", "path": "/orders", "body": {**ORDER, "items": ORDER["items"] * 26}}, 422),
        ({"method": "POST", "path": "/orders", "raw": json.dumps({**ORDER, "pad": "x" * 70000})}, 413),
        ({"method": "POST", "path": "/orders", "body": ORDER, "headers": {"Idempotency-Key": "k" * 129}}, 400),
        ({"method": "GET", "path": "/orders"}, 400),
        ({"method": "GET", "path": "/orders", "query": {"userId": "u1", "limit": "-1"}}, 400),
        ({"method": "GET", "path": "/orders", "query": {"userId": "u1", "nextToken": "bm9wZQ"}}, 400),
        ({"method": "GET", "path": "/orders/does-not-exist"}, 404),
        ({"method": "DELETE", "path": "/orders/abc"}, 404),
        ({"method": "GET", "path": "/users"}, 404),
    ],
    ids=[
        "malformed-json",
        "null-body",
        "missing-user",
        "no-items",
        "zero-quantity",
        "quantity-as-string",
        "price-fraction-of-cent",
        "negative-price",
        "fractional-quantity",
        "client-sets-total",
        "bad-user-id",
        "too-many-items",
        "oversized",
        "idempotency-key-too-long",
        "list-without-user",
        "negative-limit",
        "foreign-token",
        "missing-order",
        "wrong-method",
        "another-service-route",
    ],
)
def test_orders_bad_requests_get_4xx_json(orders: Orders, request_args: dict[str, Any], status: int) -> None:
    args = dict(request_args)
    reply = orders.api(args.pop("method"), args.pop("path"), args.pop("body", None), **args)
    assert reply.status == status
    assert _items(orders.table) == []
    assert orders.events() == []


def test_throttled_order_write_is_503_and_publishes_nothing(orders: Orders, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as throttled:
        throttled.setattr(orders.api.module.dynamodb(), "put_item", _throttle("ThrottlingException"))
        reply = orders.api("POST", "/orders", ORDER, headers={"Idempotency-Key": "k"})
    assert reply.status == 503
    assert _items(orders.table) == []
    assert orders.events() == []
    assert orders.api("POST", "/orders", ORDER, headers={"Idempotency-Key": "k"}).status == 201


def test_throttled_order_query_is_503(orders: Orders, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orders.api.module.dynamodb(), "query", _throttle("RequestLimitExceeded"))
    assert orders.api("GET", "/orders", query={"userId": "u1"}).status == 503


# --- every client mistake is a 4xx that writes nothing (issue 13 point 6) -----------------------

KEY_LIMITS = {"Key": 2048, "ExclusiveStartKey": 2048}


def _refuse_what_dynamodb_refuses(client: Any) -> None:
    """Raise DynamoDB's ValidationException for key values it refuses (moto lets reads through)."""

    def check(params: dict[str, Any], **_: Any) -> None:
        values = [v for where in KEY_LIMITS for v in (params.get(where) or {}).values()]
        if "KeyConditionExpression" in params:
            values += list((params.get("ExpressionAttributeValues") or {}).values())
        for value in values:
            text = value.get("S")
            if text is not None and not 1 <= len(text.encode("utf-8", "surrogatepass")) <= 2048:
                raise ClientError(
                    {"Error": {"Code": "ValidationException", "Message": "key value size out of range"}},
                    "dynamodb",
                )

    client.meta.events.register("before-parameter-build.dynamodb.*", check)


PROPERTIES = handler_properties(max_examples=100)
# Right kinds, wrong kinds, numbers written as strings, and strings DynamoDB would refuse as keys.
field_values = st.one_of(
    json_values,
    st.sampled_from(["u1", "book-1", "2", "9.99", "1e3", "ada@example.com", "", " "]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False).map(float),
    st.text(max_size=3000),
)
line_items = st.fixed_dictionaries(
    {}, optional={"sku": field_values, "quantity": field_values, "unitPrice": field_values}
)
bodies = st.one_of(
    st.none(),
    st.text(max_size=100),
    json_values.map(json.dumps),
    st.fixed_dictionaries({}, optional={"name": field_values, "email": field_values, "x": field_values}).map(
        json.dumps
    ),
    st.fixed_dictionaries(
        {}, optional={"userId": field_values, "items": st.lists(line_items, max_size=3) | field_values}
    ).map(json.dumps),
)
segments = st.one_of(st.uuids().map(str), st.text(max_size=3000), st.just("email%23ada@example.com"))
paths = st.one_of(
    st.sampled_from(["/users", "/orders", "/users/", "/nowhere"]),
    segments.map(lambda t: f"/users/{t}"),
    segments.map(lambda t: f"/orders/{t}"),
)
queries = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "limit": st.sampled_from(["1", "100", "101", "0", "-1", "²", "0" * 5000]) | st.text(max_size=10),
            "nextToken": st.text(max_size=2000)
            | st.dictionaries(st.sampled_from(["id", "orderId", "userId", "createdAt"]), field_values).map(
                lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode()
            ),
            "userId": st.sampled_from(["u1"]) | st.text(max_size=3000),
        },
    ),
)
headers = st.one_of(st.none(), st.fixed_dictionaries({"Idempotency-Key": st.text(max_size=200)}))


def _examples(check: Any) -> Any:
    """Requests that once reached a 5xx, kept as regressions."""
    for kwargs in (
        {"method": "GET", "path": "/users/" + "a" * 3000},
        {"method": "GET", "path": "/orders/" + "a" * 3000},
        {"method": "GET", "path": "/orders", "query": {"userId": "u" * 3000}},
        {"method": "GET", "path": "/users", "query": {"limit": "²"}},
        {"method": "POST", "path": "/users", "body": '{"name": "\\ud800", "email": "a@b.co"}'},
        {"method": "POST", "path": "/orders", "body": "[" * 5000},
    ):
        check = example(**{"body": None, "query": None, "header": None, **kwargs})(check)
    return check


@pytest.mark.parametrize("service", ["users", "orders"])
def test_no_request_reaches_a_5xx_and_a_4xx_writes_nothing(request: pytest.FixtureRequest, service: str) -> None:
    fixture = request.getfixturevalue(service)
    api: Api = fixture if service == "users" else fixture.api
    table = api.module.TABLE_NAME
    _refuse_what_dynamodb_refuses(api.module.dynamodb())

    @PROPERTIES
    @given(
        method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]), path=paths, body=bodies, query=queries, header=headers
    )
    @_examples
    def check(
        method: str, path: str, body: str | None, query: dict[str, str] | None, header: dict[str, str] | None
    ) -> None:
        before = _items(table)
        reply = api(method, path, raw=body, query=query, headers=header)
        assert reply.status < 500, reply.body
        if reply.status >= 400:
            assert _items(table) == before, f"a {reply.status} wrote something"
            if service == "orders":
                assert fixture.events() == [], f"a {reply.status} published an event"

    check()


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", "2"), ("unitPrice", "9.99"), ("unitPrice", "10"), ("quantity", True), ("unitPrice", False)],
)
def test_a_string_where_a_number_goes_is_422_prices_included(orders: Orders, field: str, value: Any) -> None:
    line = {"sku": "book-1", "quantity": 2, "unitPrice": 9.99, field: value}
    reply = orders.api("POST", "/orders", {"userId": "u1", "items": [line]})
    assert reply.status == 422
    assert [e["field"] for e in reply.body["errors"]] == [f"items.0.{field}"]
    assert _items(orders.table) == [] and orders.events() == []
    if field == "unitPrice":
        assert reply.body["errors"][0]["message"] == "Value error, must be a finite JSON number"


def test_a_whole_number_is_a_price(orders: Orders) -> None:
    line = {"sku": "book-1", "quantity": 2, "unitPrice": 10}
    reply = orders.api("POST", "/orders", {"userId": "u1", "items": [line]})
    assert reply.status == 201 and reply.body["total"] == 20


def test_prices_are_exact_decimals_not_floats(orders: Orders) -> None:
    line = {"sku": "book-1", "quantity": 3, "unitPrice": 0.1}
    assert orders.api("POST", "/orders", {"userId": "u1", "items": [line]}).body["total"] == 0.3
    # As a float this price is 10.0 and would pass; as written it has 18 decimal places.
    raw = '{"userId": "u1", "items": [{"sku": "book-1", "quantity": 1, "unitPrice": 9.999999999999999999}]}'
    assert orders.api("POST", "/orders", raw=raw).status == 422
    assert len(_items(orders.table)) == 1
