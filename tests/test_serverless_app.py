"""The upload pipeline's functions against moto: the whole flow, bad input, callers, faults.

The presigned forms and URLs are used for real: `requests` inside `mock_aws` reaches moto's S3,
so the bytes the processor verifies and the bytes the download URL returns are the ones POSTed.
moto does not enforce a POST policy's conditions, so the signed policy itself is decoded and
checked; S3 enforces it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, quote_plus, urlparse

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from hypothesis import example, given
from hypothesis import strategies as st
from moto import mock_aws

from tests.strategies import handler_properties, json_values

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

    def call(
        self, method: str, path: str, body: Any = None, claims: dict[str, str] | None = None, raw: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """Invoke the intake function as the HTTP API would (payload format 2.0); `claims` are
        what the JWT authorizer passes for a valid token."""
        event: dict[str, Any] = {
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
        if claims is not None:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        response = self.intake.handler(event, Context())
        assert response["headers"]["Content-Type"] == "application/json"
        return response["statusCode"], json.loads(response["body"])

    def request_upload(
        self, data: bytes = PNG, content_type: str = "image/png", claims: dict[str, str] | None = None, **overrides: Any
    ) -> dict[str, Any]:
        status, body = self.call(
            "POST",
            "/uploads",
            {"fileName": "cat.png", "contentType": content_type, "size": len(data), **overrides},
            claims=claims,
        )
        assert status == 201, body
        return body

    def deliver(self, key: str, version: str | None = None, event_name: str = "ObjectCreated:Put") -> list[str]:
        """Feed the processor the event S3 sends for the object version (the latest by default)."""
        head = self.s3.head_object(Bucket=BUCKET, Key=key, **({"VersionId": version} if version else {}))
        event = _event(key, head["VersionId"], head["ContentLength"], event_name)
        return self.processor.handler(event, Context())["results"]

    def record(self, upload_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"id": upload_id}).get("Item")

    def versions(self, key: str) -> list[str]:
        listed = self.s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
        return [v["VersionId"] for v in listed if v["Key"] == key]

    def nothing_written(self) -> bool:
        return self.table.scan()["Count"] == 0 and "Contents" not in self.s3.list_objects_v2(Bucket=BUCKET)


def _event(key: str, version: str | None, size: int, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """The notification S3 sends Lambda for one object version."""
    return {
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
                        "size": size,
                        "eTag": "0123456789abcdef",
                        **({"versionId": version} if version else {}),
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def _load(name: str, variant: str = "") -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"serverless_{name}{variant}", LAMBDAS / name / "app.py")
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


@pytest.fixture(scope="module")
def authenticated_intake(functions: tuple[ModuleType, ModuleType]) -> Iterator[ModuleType]:
    """The intake function as the stack deploys it behind the JWT authorizer."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUIRE_AUTHENTICATED_CALLER", "true")
        yield _load("uploads_intake", "_authenticated")


@pytest.fixture
def pipeline(functions: tuple[ModuleType, ModuleType]) -> Iterator[Pipeline]:
    yield from _pipeline(*functions)


@pytest.fixture
def authenticated(functions: tuple[ModuleType, ModuleType], authenticated_intake: ModuleType) -> Iterator[Pipeline]:
    yield from _pipeline(authenticated_intake, functions[1])


def _pipeline(intake: ModuleType, processor: ModuleType) -> Iterator[Pipeline]:
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
        yield Pipeline(intake, processor, s3, table)


def _post(upload: dict[str, Any], data: bytes, content_type: str | None = None) -> None:
    """Upload as a browser does: the form's fields, then the file, as multipart/form-data."""
    form = upload["upload"]
    assert form["method"] == "POST"
    fields = dict(form["fields"])
    if content_type:
        fields["Content-Type"] = content_type
    response = requests.post(form["url"], data=fields, files={"file": ("upload", data)}, timeout=5)
    assert response.status_code == 204, response.text


def _key(upload: dict[str, Any]) -> str:
    return upload["upload"]["fields"]["key"]


def _policy(upload: dict[str, Any]) -> dict[str, Any]:
    """The POST policy S3 checks the form against (signed, so a client cannot change it)."""
    return json.loads(base64.b64decode(upload["upload"]["fields"]["policy"]))


def test_full_flow_request_post_process_status_download(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    upload_id = upload["id"]
    assert upload["status"] == "PENDING"
    assert _key(upload) == f"{PREFIX}{upload_id}"
    assert urlparse(upload["upload"]["url"]).netloc == f"{BUCKET}.s3.{REGION}.amazonaws.com"
    assert upload["upload"]["expiresInSeconds"] == EXPIRY

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

    _post(upload, PNG)
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
    query = parse_qs(urlparse(body["download"]["url"]).query)
    assert query["versionId"] == [pipeline.record(upload_id)["versionId"]], "the verified version"
    assert query["X-Amz-Expires"] == [str(EXPIRY)]


@pytest.mark.parametrize("size", [1, len(PNG), MAX_BYTES])
def test_the_signed_policy_bounds_key_type_size_and_time(pipeline: Pipeline, size: int) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    upload = pipeline.request_upload(size=size, content_type="application/pdf")
    policy = _policy(upload)
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": f"{PREFIX}{upload['id']}"} in conditions, "exactly this key, no starts-with"
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    assert {"Content-Type": "application/pdf"} in conditions
    assert upload["upload"]["fields"]["Content-Type"] == "application/pdf"
    (length,) = [c for c in conditions if isinstance(c, list) and c[0] == "content-length-range"]
    assert length == ["content-length-range", size, size], "S3 refuses any other size"
    assert length[2] <= MAX_BYTES
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 <= (expires - before).total_seconds() - EXPIRY <= 5
    fields = upload["upload"]["fields"]
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and fields["x-amz-signature"]
    signed = {k for c in conditions if isinstance(c, dict) for k in c}
    assert {"x-amz-algorithm", "x-amz-credential", "x-amz-date"} <= signed


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


@pytest.mark.parametrize("raw", ["{not json", "[]", '"text"', "", "null", "1", "[" * 10_000, '{"a": "\\ud800"}'])
def test_a_body_that_is_not_a_json_object_is_400(pipeline: Pipeline, raw: str) -> None:
    status, response = pipeline.call("POST", "/uploads", raw)
    assert (status, response) == (400, {"message": "request body must be a JSON object"})
    assert pipeline.nothing_written()


def test_an_oversized_body_is_413(pipeline: Pipeline) -> None:
    body = {"fileName": "cat.png", "contentType": "image/png", "size": 10, "pad": "x" * 20_000}
    assert pipeline.call("POST", "/uploads", body)[0] == 413
    assert pipeline.nothing_written()


@pytest.mark.parametrize(
    "path", ["/uploads/5f0c6d1e-8d1a-4b7e-9c3f-2a6b8e4d1c07", "/uploads/not-an-id", "/uploads/%2e%2e"]
)
def test_unknown_upload_is_404(pipeline: Pipeline, path: str) -> None:
    assert pipeline.call("GET", path) == (404, {"message": "upload not found"})


def test_unknown_route_is_404_json(pipeline: Pipeline) -> None:
    status, body = pipeline.call("DELETE", "/uploads")
    assert status == 404
    assert body == {"message": "no such route"}


def test_size_mismatch_is_rejected_and_deleted(pipeline: Pipeline) -> None:
    # Real S3 refuses this POST (content-length-range); moto does not enforce the policy, which
    # stands in for a client that found another way to write the key.
    upload = pipeline.request_upload(size=10)
    _post(upload, PNG)
    (version,) = pipeline.versions(_key(upload))
    assert pipeline.deliver(_key(upload)) == ["REJECTED"]
    status, body = pipeline.call("GET", f"/uploads/{upload['id']}")
    assert status == 200
    assert body["status"] == "REJECTED"
    assert f"size {len(PNG)} bytes does not match the declared 10" in body["reason"]
    assert "download" not in body
    assert pipeline.versions(_key(upload)) == [], f"the rejected version {version} is gone for good"


def test_wrong_content_type_is_rejected_and_deleted(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _post(upload, PNG, content_type="text/html")
    assert pipeline.deliver(_key(upload)) == ["REJECTED"]
    body = pipeline.call("GET", f"/uploads/{upload['id']}")[1]
    assert "content type 'text/html'" in body["reason"]
    assert "download" not in body
    assert pipeline.versions(_key(upload)) == []


def test_a_failed_delete_is_retried_by_the_next_delivery(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload(size=10)
    _post(upload, PNG)
    (version,) = pipeline.versions(_key(upload))
    error = ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "DeleteObject")
    with mock.patch.object(pipeline.processor.s3(), "delete_object", side_effect=error), pytest.raises(ClientError):
        pipeline.deliver(_key(upload))
    assert pipeline.record(upload["id"])["status"] == "REJECTED"
    event = _event(_key(upload), version, len(PNG))
    assert pipeline.processor.handler(event, Context())["results"] == ["duplicate"]
    assert pipeline.versions(_key(upload)) == []


def test_an_object_gone_before_verification_is_rejected_not_retried(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _post(upload, PNG)
    (version,) = pipeline.versions(_key(upload))
    pipeline.s3.delete_object(Bucket=BUCKET, Key=_key(upload), VersionId=version)
    # With s3:ListBucket on the prefix S3 answers 404 for it (moto always does).
    assert pipeline.processor.handler(_event(_key(upload), version, len(PNG)), Context())["results"] == ["REJECTED"]
    assert pipeline.record(upload["id"])["reason"] == "the object no longer exists"


def test_a_forbidden_object_is_retried_not_rejected(pipeline: Pipeline) -> None:
    # What S3 answers a caller that may not list the bucket, whether or not the object exists.
    upload = pipeline.request_upload()
    _post(upload, PNG)
    forbidden = ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject")
    with mock.patch.object(pipeline.processor.s3(), "head_object", side_effect=forbidden), pytest.raises(ClientError):
        pipeline.deliver(_key(upload))
    assert pipeline.record(upload["id"])["status"] == "PENDING", "Lambda retries, then the on-failure queue"
    assert pipeline.versions(_key(upload)), "nothing deleted on a guess"


def test_duplicate_event_is_not_processed_twice(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _post(upload, PNG)
    assert pipeline.deliver(_key(upload)) == ["READY"]
    settled = pipeline.record(upload["id"])
    client = pipeline.processor.dynamodb()
    with mock.patch.object(client, "update_item", wraps=client.update_item) as upd:
        assert pipeline.deliver(_key(upload)) == ["duplicate"]
        upd.assert_not_called()
    assert pipeline.record(upload["id"]) == settled
    assert len(pipeline.versions(_key(upload))) == 1, "the verified version stays"


def test_duplicate_racing_past_the_status_check_is_stopped_by_the_condition(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _post(upload, PNG)
    pending = pipeline.record(upload["id"])
    assert pipeline.deliver(_key(upload)) == ["READY"]
    settled = pipeline.record(upload["id"])
    # The second delivery reads the record before the first one's write lands.
    with mock.patch.object(pipeline.processor, "_record", side_effect=[pending, settled]):
        assert pipeline.deliver(_key(upload)) == ["duplicate"]
    assert pipeline.record(upload["id"]) == settled
    assert len(pipeline.versions(_key(upload))) == 1


def test_reupload_after_ready_keeps_the_verified_version_and_deletes_the_new_one(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _post(upload, PNG)
    assert pipeline.deliver(_key(upload)) == ["READY"]
    (verified,) = pipeline.versions(_key(upload))
    _post(upload, b"something else entirely, and longer than declared")
    assert pipeline.deliver(_key(upload)) == ["discarded"]
    assert pipeline.versions(_key(upload)) == [verified]
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
    with mock.patch.object(pipeline.intake.dynamodb(), "put_item", side_effect=error):
        status, body = pipeline.call(
            "POST", "/uploads", {"fileName": "cat.png", "contentType": "image/png", "size": 10}
        )
    assert status == 503
    assert body == {"message": "temporarily unavailable, retry later"}


def test_processor_fault_is_retried_and_settles_once(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _post(upload, PNG)
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "UpdateItem")
    # Raising makes Lambda retry S3's asynchronous invocation.
    with mock.patch.object(pipeline.processor.dynamodb(), "update_item", side_effect=error), pytest.raises(ClientError):
        pipeline.deliver(_key(upload))
    assert pipeline.record(upload["id"])["status"] == "PENDING"
    assert pipeline.deliver(_key(upload)) == ["READY"]
    assert pipeline.deliver(_key(upload)) == ["duplicate"]


def test_events_other_than_object_created_are_ignored(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    _post(upload, PNG)
    assert pipeline.deliver(_key(upload), event_name="ObjectTagging:Put") == ["ignored"]
    assert pipeline.record(upload["id"])["status"] == "PENDING"
    assert pipeline.deliver(_key(upload)) == ["READY"]


# --- who may call (issue 12 point 2) ------------------------------------------------------------

ALICE, BOB = {"sub": "alice-sub", "client_id": "app"}, {"sub": "bob-sub", "client_id": "app"}


def test_open_api_records_no_uploader(pipeline: Pipeline) -> None:
    upload = pipeline.request_upload()
    assert "uploadedBy" not in pipeline.record(upload["id"])
    assert pipeline.call("GET", f"/uploads/{upload['id']}")[0] == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/uploads", {"fileName": "cat.png", "contentType": "image/png", "size": 10}),
        ("GET", "/uploads/5f0c6d1e-8d1a-4b7e-9c3f-2a6b8e4d1c07", None),
    ],
)
@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}], ids=["no-authorizer-context", "no-claims", "empty-sub"])
def test_behind_the_authorizer_a_request_without_a_caller_is_401(
    authenticated: Pipeline, method: str, path: str, body: Any, claims: dict[str, str] | None
) -> None:
    status, response = authenticated.call(method, path, body, claims=claims)
    assert (status, response) == (401, {"message": "authentication required"})
    assert authenticated.nothing_written()


def test_the_uploader_is_recorded_and_only_the_uploader_sees_the_upload(authenticated: Pipeline) -> None:
    upload = authenticated.request_upload(claims=ALICE)
    assert authenticated.record(upload["id"])["uploadedBy"] == ALICE["sub"]
    _post(upload, PNG)
    assert authenticated.deliver(_key(upload)) == ["READY"]
    status, body = authenticated.call("GET", f"/uploads/{upload['id']}", claims=ALICE)
    assert status == 200 and body["uploadedBy"] == ALICE["sub"] and "download" in body
    # Someone else's upload is indistinguishable from one that does not exist.
    assert authenticated.call("GET", f"/uploads/{upload['id']}", claims=BOB) == (404, {"message": "upload not found"})


# --- every client mistake is a 4xx that writes nothing (issue 13 point 6) -----------------------

PROPERTIES = handler_properties(max_examples=120)
# Values for the fields clients send: the right kinds, the wrong kinds, and numbers as strings.
field_values = st.one_of(
    json_values,
    st.sampled_from(["image/png", "application/pdf", "cat.png", "10", "1e3", "", "..", "a/b.png"]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=400),
)
upload_bodies = st.fixed_dictionaries(
    {}, optional={"fileName": field_values, "contentType": field_values, "size": field_values, "extra": field_values}
)
bodies = st.one_of(
    st.none(),
    st.text(max_size=200),
    json_values.map(json.dumps),
    upload_bodies.map(json.dumps),
)
paths = st.one_of(
    st.sampled_from(["/uploads", "/uploads/", "/", "/uploads/x/y"]),
    st.uuids().map(lambda u: f"/uploads/{u}"),
    st.text(max_size=3000).map(lambda t: f"/uploads/{t}"),
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
callers = st.one_of(st.none(), st.just(ALICE), st.dictionaries(st.sampled_from(["sub", "aud"]), st.text(max_size=50)))


def _state(pipeline: Pipeline) -> tuple[int, list[str]]:
    listed = pipeline.s3.list_object_versions(Bucket=BUCKET).get("Versions", [])
    return pipeline.table.scan()["Count"], sorted(v["VersionId"] for v in listed)


@pytest.mark.parametrize("variant", ["open", "authenticated"])
def test_no_request_reaches_a_5xx_and_a_4xx_writes_nothing(request: pytest.FixtureRequest, variant: str) -> None:
    pipeline: Pipeline = request.getfixturevalue("pipeline" if variant == "open" else "authenticated")

    @PROPERTIES
    @given(method=methods, path=paths, body=bodies, claims=callers)
    @example(
        method="POST",
        path="/uploads",
        body='{"fileName": "a.png", "contentType": "image/png", "size": "10"}',
        claims=ALICE,
    )
    @example(method="POST", path="/uploads", body="[1]", claims=ALICE)
    @example(method="GET", path="/uploads/" + "a" * 3000, body=None, claims=ALICE)
    def check(method: str, path: str, body: str | None, claims: dict[str, str] | None) -> None:
        before = _state(pipeline)
        status, response = pipeline.call(method, path, body, claims=claims)
        assert status < 500, response
        if status >= 400:
            assert isinstance(response["message"], str) and response["message"]
            assert _state(pipeline) == before, f"a {status} wrote something"

    check()


@pytest.mark.parametrize("field", ["size"])
@pytest.mark.parametrize("value", ["10", "1e1", "0x10", " 10", "10.0"])
def test_a_string_where_a_number_goes_is_422(pipeline: Pipeline, field: str, value: str) -> None:
    body = {"fileName": "cat.png", "contentType": "image/png", "size": 10, field: value}
    status, response = pipeline.call("POST", "/uploads", body)
    assert status == 422 and [e["field"] for e in response["errors"]] == [field]
    assert pipeline.nothing_written()


def test_any_object_in_the_bucket_is_skipped_or_ignored_without_error(pipeline: Pipeline) -> None:
    """Whatever S3 reports (keys are UTF-8, URL-encoded in events) the processor never fails on
    an object that matches no upload, and writes or deletes nothing for it."""
    keys = st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=1024),
        st.uuids().map(lambda u: f"{PREFIX}{u}"),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=40).map(lambda t: f"{PREFIX}{t}"),
    )

    @PROPERTIES
    @given(key=keys, version=st.none() | st.text(max_size=32), created=st.booleans())
    def check(key: str, version: str | None, created: bool) -> None:
        before = _state(pipeline)
        event = _event(quote_plus(key), version, 1, "ObjectCreated:Post" if created else "ObjectRemoved:Delete")
        assert pipeline.processor.handler(event, Context())["results"] == ["unknown" if created else "ignored"]
        assert _state(pipeline) == before

    check()
