"""Every function logs structured JSON with a correlation id taken from its own event source.

Each handler in lambdas/ is invoked (under moto, on paths that need no data) with an event of
the source that really invokes it, and the JSON log line it writes carries that event's id:
API Gateway's request id, S3's request id, the EventBridge event id of each SQS message.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from tools.offline import ROOT

REGION = "us-east-1"
LAMBDAS = ROOT / "lambdas"
# Every function and the event source that invokes it (a new function must be added here).
SOURCES = {
    "users": "rest",
    "orders": "rest",
    "uploads_intake": "http",
    "uploads_processor": "s3",
    "order_processor": "sqs",
}
ENVIRONMENT = {
    "TABLE_NAME": "records",
    "BUCKET_NAME": "uploads",
    "UPLOAD_PREFIX": "uploads/",
    "ALLOWED_CONTENT_TYPES": "image/png",
    "MAX_UPLOAD_BYTES": "1024",
    "URL_EXPIRY_SECONDS": "900",
    "RECORD_TTL_DAYS": "30",
}


class Context:
    function_name = "fn"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:fn"
    aws_request_id = "lambda-request-id"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "aws-patterns-tests",
        **ENVIRONMENT,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _load(code: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # A service name of its own: Powertools loggers of one name share their handler (and stream).
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"logs-{code}-{uuid.uuid4().hex}")
    spec = importlib.util.spec_from_file_location(f"logs_{code}_{uuid.uuid4().hex}", LAMBDAS / code / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _log_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _rest_event(request_id: str) -> dict[str, Any]:
    return {
        "resource": "/nowhere",
        "path": "/nowhere",
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": "v1",
            "httpMethod": "GET",
            "path": "/v1/nowhere",
            "resourcePath": "/nowhere",
            "identity": {"sourceIp": "203.0.113.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _http_event(request_id: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/nowhere",
        "rawQueryString": "",
        "headers": {},
        "requestContext": {
            "requestId": request_id,
            "stage": "$default",
            "routeKey": "$default",
            "http": {"method": "GET", "path": "/nowhere", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1"},
        },
        "isBase64Encoded": False,
    }


def _s3_event(request_id: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": "I"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "uploads",
                    "bucket": {"name": "uploads", "ownerIdentity": {"principalId": "O"}, "arn": "arn:aws:s3:::uploads"},
                    # Outside the upload prefix: matches no record, logged and skipped.
                    "object": {"key": "elsewhere/file", "size": 1, "eTag": "e", "sequencer": "1"},
                },
            }
        ]
    }


def _sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "1",
        },
        "messageAttributes": {},
        "md5OfBody": "m",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:orders",
        "awsRegion": REGION,
    }


def _order_created(event_id: str) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "OrderCreated",
            "source": "aws-patterns.orders",
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": {
                "orderId": "o-1",
                "userId": "u-1",
                "items": [{"sku": "s", "quantity": 1, "unitPrice": 100}],
                "total": 100,
                "status": "CREATED",
                "createdAt": "2026-01-01T00:00:00Z",
            },
        }
    )


def test_every_function_has_a_known_event_source() -> None:
    assert {p.parent.name for p in LAMBDAS.glob("*/app.py")} == set(SOURCES)


@pytest.mark.parametrize(
    ("code", "event"), [("users", _rest_event), ("orders", _rest_event), ("uploads_intake", _http_event)]
)
def test_api_functions_log_the_api_gateway_request_id(
    code: str, event: Any, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _load(code, monkeypatch)
    response = module.handler(event("api-request-1"), Context())
    assert response["statusCode"] == 404
    module.logger.info("probe")
    (line,) = [entry for entry in _log_lines(capsys.readouterr().out) if entry.get("message") == "probe"]
    assert line["correlation_id"] == "api-request-1"
    assert line["function_request_id"] == "lambda-request-id" and line["level"] == "INFO"


def test_upload_processor_logs_the_s3_request_id(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _load("uploads_processor", monkeypatch)
    assert module.handler(_s3_event("S3REQUEST1"), Context()) == {"results": ["unknown"]}
    lines = _log_lines(capsys.readouterr().out)
    (skipped,) = [entry for entry in lines if entry.get("message") == "object matches no upload record"]
    assert skipped["correlation_id"] == "S3REQUEST1"


def test_order_processor_logs_each_messages_own_event_id(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load("order_processor", monkeypatch)
    seen: list[str | None] = []

    def process_order(event: Any) -> dict[str, str]:
        seen.append(module.logger.get_correlation_id())
        return {"orderId": event.detail.order_id, "result": "processed"}

    monkeypatch.setattr(module, "process_order", process_order)
    batch = {
        "Records": [
            _sqs_record("m-1", _order_created("event-1")),
            _sqs_record("m-2", "not json"),
            _sqs_record("m-3", _order_created("event-3")),
        ]
    }
    result = module.handler(batch, Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert seen == ["event-1", "event-3"], "each message's work is logged under its own event id"
    # The malformed message had no event id: its lines carried its SQS message id.
    with pytest.raises(BatchProcessingError):  # a batch where every message failed
        module.handler({"Records": [_sqs_record("m-9", "not json")]}, Context())
    assert module.logger.get_correlation_id() == "m-9"
