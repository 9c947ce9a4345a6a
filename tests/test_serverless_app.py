"""The upload pipeline's functions against moto: the whole flow, bad input, duplicates, faults.

The presigned URLs are used for real: `requests` inside `mock_aws` reaches moto's S3, so the
bytes the processor verifies and the bytes the download URL returns are the ones PUT.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"
REGION = "eu-west-1"
BUCKET = "uploads-test-bucket"
TABLE = "uploads-test"
PREFIX = "incoming/"
MAX_BYTES = 1024
EXPIRY = 300
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(56))


@dataclass
class Context:
    function_name: str = "test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test"
    aws_request_id: str = "req-1"


@dataclass
class Pipeline:
    intake: ModuleType
    processor: ModuleType
    s3: Any
    table: Any

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """Invoke the intake function as the HTTP API would (payload format 2.0)."""
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": "api.example.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.com",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": "pytest",
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 0,
            },
            "isBase64Encoded": False,
        }
        if body is not None:
            event["body"] = body if isinstance(body, str) else json.dumps(body)
        response = self.intake.handler(event, Context())
        assert response["headers"]["Content-Type"] == "application/json"
        return response["statusCode"], json.loads(response["body"])

    def request_upload(self, data: bytes = PNG, content_type: str = "image/png", **overrides: Any) -> dict[str, Any]:
        status, body = self.call(
            "POST", "/uploads", {"fileName": "cat.png", "contentType": content_type, "size": len(data), **overrides}
        )
        assert status == 201, body
        return body

    def deliver(self, key: str, version: str | None = None, event_name: str = "ObjectCreated:Put") -> list[str]:
        """Feed the processor the event S3 sends for the object version (the latest by default)."""
        head = self.s3.head_object(Bucket=BUCKET, Key=key, **({"VersionId": version} if version else {}))
        event = {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": "2026-01-01T00:00:00.000Z",
                    "eventName": event_name,
                    "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
                    "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                    "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "uploads",
                        "bucket": {
                            "name": BUCKET,
                            "ownerIdentity": {"principalId": "OWNER"},
                            "arn": f"arn:aws:s3:::{BUCKET}",
                        },
                        "object": {
                            "key": key,
                            "size": head["ContentLength"],
                            "eTag": head["ETag"].strip('"'),
                            "versionId": head["VersionId"],
                            "sequencer": "0055AED6DCD90281E5",
                        },
                    },
                }
            ]
        }
        return self.processor.handler(event, Context())["results"]

    def record(self, upload_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"id": upload_id}).get("Item")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"serverless_{name}", LAMBDAS / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "test",
    "POWERTOOLS_SERVICE_NAME": "uploads",
    "TABLE_NAME": TABLE,
    "BUCKET_NAME": BUCKET,
    "UPLOAD_PREFIX": PREFIX,
    "ALLOWED_CONTENT_TYPES": "image/png,application/pdf",
    "MAX_UPLOAD_BYTES": str(MAX_BYTES),
    "URL_EXPIRY_SECONDS": str(EXPIRY),
    "RECORD_TTL_DAYS": "30",
}


@pytest.fixture(scope="module")
def functions() -> Iterator[tuple[ModuleType, ModuleType]]:
    """Both handler modules, loaded once (as Lambda does per container) with the test environment.

    Their boto3 clients are created here; moto intercepts them inside each test's `mock_aws`.
    """
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ENVIRONMENT.items():
            patch.setenv(key, value)
        yield _load("uploads_intake"), _load("uploads_processor")


@pytest.fixture
def pipeline(functions: tuple[ModuleType, ModuleType]) -> Iterator[Pipeline]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        table = boto3.resource("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Pipeline(*functions, s3, table)


def _put(upload: dict[str, Any], data: bytes, content_type: str | None = None) -> None:
    headers = dict(upload["upload"]["headers"])
    if content_type:
        headers["Content-Type"] = content_type
    response = requests.put(upload["upload"]["url"], data=data, headers=headers, timeout=5)
    assert response.status_code == 200, response.text


def _key(upload: dict[str, Any]) -> str:
    return urlparse(upload["upload"]["url"]).path.lstrip("/")


def test_full_flow_request_put_process_status_download(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    upload_id = upload["id"]
    assert upload["status"] == "PENDING"
    assert _key(upload) == f"{PREFIX}{upload_id}"
    query = parse_qs(urlparse(upload["upload"]["url"]).query)
    assert query["X-Amz-Expires"] == [str(EXPIRY)]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";"), "S3 must refuse another content type"

    assert pipeline.call("GET", f"/uploads/{upload_id}") == (
        200,
        {
            "id": upload_id,
            "status": "PENDING",
            "fileName": "cat.png",
            "contentType": "image/png",
            "declaredSize": len(PNG),
            "createdAt": pipeline.record(upload_id)["createdAt"],
        },
    )

    _put(upload, PNG)
    assert pipeline.deliver(_key(upload)) == ["READY"]

    status, body = pipeline.call("GET", f"/uploads/{upload_id}")
    assert status == 200
    assert body["status"] == "READY"
    assert body["size"] == len(PNG)
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    download = requests.get(body["download"]["url"], timeout=5)
    assert download.status_code == 200
    assert download.content == PNG
    assert body["download"]["expiresInSeconds"] == EXPIRY


def test_record_expires_with_its_ttl(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    record = pipeline.record(upload["id"])
    assert 29 * 86400 < int(record["expiresAt"]) - time.time() <= 30 * 86400
    pipeline.table.update_item(
        Key={"id": upload["id"]}, UpdateExpression="SET expiresAt = :t", ExpressionAttributeValues={":t": 1}
    )
    assert pipeline.call("GET", f"/uploads/{upload['id']}")[0] == 404, "expired but not yet deleted is gone"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fileName": "big.png", "contentType": "image/png", "size": MAX_BYTES + 1}, "size"),
        ({"fileName": "page.html", "contentType": "text/html", "size": 10}, "contentType"),
        ({"fileName": "empty.png", "contentType": "image/png", "size": 0}, "size"),
        ({"fileName": "cat.png", "contentType": "image/png", "size": "10"}, "size"),
        ({"fileName": "cat.png", "contentType": "image/png", "size": True}, "size"),
        ({"fileName": "../etc/passwd", "contentType": "image/png", "size": 10}, "fileName"),
        ({"fileName": 'a".png', "contentType": "image/png", "size": 10}, "fileName"),
        ({"fileName": "a\r\nb.png", "contentType": "image/png", "size": 10}, "fileName"),
        ({"fileName": "", "contentType": "image/png", "size": 10}, "fileName"),
        ({"contentType": "image/png", "size": 10}, "fileName"),
        ({"fileName": "cat.png", "contentType": "image/png", "size": 10, "owner": "me"}, "owner"),
    ],
)
def test_bad_upload_requests_are_422_and_write_nothing(pipeline: Pipeline, body: dict, field: str) -> None:
    status, response = pipeline.call("POST", "/uploads", body)
    assert status == 422
    assert response["message"] == "invalid request"
    assert field in [e["field"] for e in response["errors"]], response
    assert pipeline.table.scan()["Count"] == 0


@pytest.mark.parametrize("raw", ["{not json", "[]", '"text"', ""])
def test_malformed_bodies_are_4xx_json(pipeline: Pipeline, raw: str) -> None:
    status, response = pipeline.call("POST", "/uploads", raw)
    assert status == 422
    assert response["message"] == "invalid request"
    assert [e["field"] for e in response["errors"]] == ["body"]
    assert pipeline.table.scan()["Count"] == 0


@pytest.mark.parametrize(
    "path", ["/uploads/5f0c6d1e-8d1a-4b7e-9c3f-2a6b8e4d1c07", "/uploads/not-an-id", "/uploads/%2e%2e"]
)
def test_unknown_upload_is_404(pipeline: Pipeline, path: str) -> None:
    assert pipeline.call("GET", path) == (404, {"message": "upload not found"})


def test_unknown_route_is_404_json(pipeline: Pipeline) -> None:
    status, body = pipeline.call("DELETE", "/uploads")
    assert status == 404
    assert body == {"message": "no such route"}


def test_size_mismatch_is_rejected_without_download(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload(size=10)
    _put(upload, PNG)
    assert pipeline.deliver(_key(upload)) == ["REJECTED"]
    status, body = pipeline.call("GET", f"/uploads/{upload['id']}")
    assert status == 200
    assert body["status"] == "REJECTED"
    assert f"size {len(PNG)} bytes does not match the declared 10" in body["reason"]
    assert "download" not in body


def test_wrong_content_type_is_rejected(pipeline: Pipeline) -> None:
    # Real S3 refuses this PUT (Content-Type is signed); moto does not check signatures, which
    # stands in for a client that found another way to write the key.
    upload = pipeline.request_upload()
    _put(upload, PNG, content_type="text/html")
    assert pipeline.deliver(_key(upload)) == ["REJECTED"]
    body = pipeline.call("GET", f"/uploads/{upload['id']}")[1]
    assert "content type 'text/html'" in body["reason"]
    assert "download" not in body


def test_duplicate_event_is_not_processed_twice(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _put(upload, PNG)
    assert pipeline.deliver(_key(upload)) == ["READY"]
    settled = pipeline.record(upload["id"])
    with mock.patch.object(pipeline.processor.table, "update_item", wraps=pipeline.processor.table.update_item) as upd:
        assert pipeline.deliver(_key(upload)) == ["duplicate"]
        upd.assert_not_called()
    assert pipeline.record(upload["id"]) == settled


def test_duplicate_racing_past_the_status_check_is_stopped_by_the_condition(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _put(upload, PNG)
    pending = pipeline.record(upload["id"])
    assert pipeline.deliver(_key(upload)) == ["READY"]
    settled = pipeline.record(upload["id"])
    # The second delivery reads the record before the first one's write lands.
    with mock.patch.object(pipeline.processor.table, "get_item", return_value={"Item": pending}):
        assert pipeline.deliver(_key(upload)) == ["duplicate"]
    assert pipeline.record(upload["id"]) == settled


def test_reupload_after_ready_keeps_the_verified_version(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _put(upload, PNG)
    assert pipeline.deliver(_key(upload)) == ["READY"]
    _put(upload, b"something else entirely, and longer than declared")
    assert pipeline.deliver(_key(upload)) == ["duplicate"]
    body = pipeline.call("GET", f"/uploads/{upload['id']}")[1]
    assert body["status"] == "READY"
    assert requests.get(body["download"]["url"], timeout=5).content == PNG


@pytest.mark.parametrize(
    "key", [f"{PREFIX}5f0c6d1e-8d1a-4b7e-9c3f-2a6b8e4d1c07", f"{PREFIX}not-a-uuid", "elsewhere/file.png"]
)
def test_object_without_a_record_is_skipped(pipeline: Pipeline, key: str) -> None:
    pipeline.s3.put_object(Bucket=BUCKET, Key=key, Body=PNG, ContentType="image/png")
    assert pipeline.deliver(key) == ["unknown"]
    assert pipeline.table.scan()["Count"] == 0


def test_storage_failure_on_request_is_503_json(pipeline: Pipeline) -> None:
    error = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "PutItem")
    with mock.patch.object(pipeline.intake.table, "put_item", side_effect=error):
        status, body = pipeline.call(
            "POST", "/uploads", {"fileName": "cat.png", "contentType": "image/png", "size": 10}
        )
    assert status == 503
    assert body == {"message": "temporarily unavailable, retry later"}


def test_processor_fault_is_retried_and_settles_once(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _put(upload, PNG)
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "UpdateItem")
    # Raising makes Lambda retry S3's asynchronous invocation.
    with mock.patch.object(pipeline.processor.table, "update_item", side_effect=error), pytest.raises(ClientError):
        pipeline.deliver(_key(upload))
    assert pipeline.record(upload["id"])["status"] == "PENDING"
    assert pipeline.deliver(_key(upload)) == ["READY"]
    assert pipeline.deliver(_key(upload)) == ["duplicate"]


def test_events_other_than_object_created_are_ignored(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _put(upload, PNG)
    assert pipeline.deliver(_key(upload), event_name="ObjectTagging:Put") == ["ignored"]
    assert pipeline.record(upload["id"])["status"] == "PENDING"
    assert pipeline.deliver(_key(upload)) == ["READY"]
