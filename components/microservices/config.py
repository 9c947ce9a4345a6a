"""The `microservices` config block: the REST API and its services."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.schema import CROSS_FIELD, ApiThrottling, Model, has_handler

# REST APIs end a Lambda integration after 29 s; a longer function timeout is never waited for.
REST_API_INTEGRATION_TIMEOUT_S = 29
# What the REST API routes; a greedy `{proxy+}` is left out on purpose (one method per route).
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_ROUTE = re.compile(rf"({'|'.join(HTTP_METHODS)}) ((/([A-Za-z0-9._-]+|\{{[A-Za-z_][A-Za-z0-9_]*\}}))+)")
# Table actions a service may be granted; the Query and Scan ones also apply to its indexes.
DYNAMODB_ACTIONS = (
    "GetItem", "BatchGetItem", "Query", "Scan", "ConditionCheckItem",
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
)  # fmt: skip
DynamoDbAction = Literal[DYNAMODB_ACTIONS]  # type: ignore[valid-type]


def _route(value: str) -> str:
    if not _ROUTE.fullmatch(value):
        raise ValueError(
            f"must be 'METHOD /path' with METHOD one of {list(HTTP_METHODS)} and path segments of "
            "letters, digits, '.', '_', '-' or a {parameter}, e.g. 'GET /users/{id}'"
        )
    return value


Route = Annotated[str, AfterValidator(_route)]


class KeyAttribute(Model):
    """A table or index key: its attribute name and DynamoDB scalar type."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,255}$")
    """Attribute name; the table's keys are the handler's contract (the shipped services read `id` and `orderId`)."""
    type: Literal["S", "N", "B"]
    """DynamoDB scalar type: `S` (string), `N` (number) or `B` (binary)."""


class SecondaryIndex(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    """Index name."""
    partition_key: KeyAttribute
    """The index's partition key."""
    sort_key: KeyAttribute | None = None
    """The index's sort key, if it has one."""


class Microservice(Model):
    """One service: its own table, function, role and routes (components/microservices/component.py).

    Fields with defaults here are the ones a new service may leave out; the shipped services'
    values come from the profiles in components/defaults.py.
    """

    enabled: bool = True
    """Deploy this service; `false` removes a profile's service from a stack."""
    code: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}$")  # lambdas/<code>; default: the name
    """Folder under `lambdas/` holding the service's `app.py`; unset: the service's name with `-` as `_`."""
    partition_key: KeyAttribute
    """The table's partition key."""
    sort_key: KeyAttribute | None = None
    """The table's sort key, if it has one."""
    global_secondary_indexes: list[SecondaryIndex] = Field(default_factory=list, max_length=20)
    """Global secondary indexes of the table (projection `ALL`)."""
    table_actions: Annotated[list[DynamoDbAction], Field(min_length=1)]
    """The only DynamoDB actions the service's role allows, on its own table (`Query` and `Scan` also on its
    indexes)."""
    memory_mb: int = Field(ge=128, le=10240)
    """Function memory in MB."""
    timeout_seconds: int = Field(ge=1)
    """Function timeout in seconds, at most 29: the REST API gives up on an integration after 29 s."""
    reserved_concurrency: int | None = Field(default=None, ge=1)
    """Reserved concurrency of the function; unset, none is reserved (new accounts may not have the unreserved
    headroom AWS requires)."""
    publishes_events: bool = False
    """With `eventDriven` enabled, the function gets `EVENT_BUS_NAME` and `events:PutEvents` on that bus only."""
    routes: Annotated[list[Route], Field(min_length=1)]
    """`METHOD /path` (GET, POST, PUT, PATCH or DELETE; `{parameter}` segments), each served by this service's
    function; unique across services, one parameter name per path level."""

    @model_validator(mode="after")
    def _consistent(self) -> Microservice:
        if self.timeout_seconds > REST_API_INTEGRATION_TIMEOUT_S:
            raise ValueError(
                f"{CROSS_FIELD}timeoutSeconds: {self.timeout_seconds} exceeds the REST API's integration "
                f"timeout ({REST_API_INTEGRATION_TIMEOUT_S} s); the caller would get a 504 first"
            )
        if len(set(self.routes)) != len(self.routes):
            raise ValueError(f"{CROSS_FIELD}routes: lists a route twice (got {self.routes})")
        names = [i.name for i in self.global_secondary_indexes]
        if len(set(names)) != len(names):
            raise ValueError(f"{CROSS_FIELD}globalSecondaryIndexes: two indexes share a name (got {names})")
        types: dict[str, str] = {}
        for key in self.key_attributes_with_duplicates():
            if types.setdefault(key.name, key.type) != key.type:
                raise ValueError(
                    f"{CROSS_FIELD}globalSecondaryIndexes: attribute {key.name!r} is used as type "
                    f"{types[key.name]} and as type {key.type}; DynamoDB gives an attribute one type"
                )
        return self

    def key_attributes_with_duplicates(self) -> list[KeyAttribute]:
        keys = [self.partition_key, self.sort_key]
        for index in self.global_secondary_indexes:
            keys += [index.partition_key, index.sort_key]
        return [k for k in keys if k is not None]


class MicroservicesConfig(Model):
    """The REST API in front of independent services (components/microservices/component.py)."""

    enabled: bool
    """Build the REST API and its services."""
    stage_name: str = Field(pattern=r"^[A-Za-z0-9_]{1,128}$")
    """Stage name, the last segment of the API's base URL."""
    authorization: Literal["NONE", "AWS_IAM"]
    """On every method: `NONE` (open) or `AWS_IAM` (callers sign requests with SigV4 and need `execute-api:Invoke`)."""
    # The API Gateway CloudWatch role is one setting per account and region: "manage" makes this
    # stack own it, "existing" trusts that another stack or a person set it, "off" logs nothing.
    api_gateway_account_logging: Literal["off", "manage", "existing"]
    """Who provides the account-level API Gateway CloudWatch role that stage logging needs (one per account and
    region): `off` (no access or execution logs), `manage` (this stack creates the role and sets it for the
    account; one stack per account and region) or `existing` (already set in this account and region)."""
    execution_log_level: Literal["OFF", "ERROR", "INFO"]
    """Execution logs of the stage, never with request bodies: `OFF`, `ERROR` or `INFO`; other than `OFF` needs
    `apiGatewayAccountLogging` other than `off`."""
    metrics_enabled: bool
    """Detailed CloudWatch metrics per method of the stage (requests, latency, 4xx and 5xx by route);
    each is a custom metric billed per month. The stage's own totals are published either way."""
    throttling: ApiThrottling
    """Stage-wide throttling of the REST API."""
    point_in_time_recovery: bool
    """DynamoDB point-in-time recovery on every service's table."""
    services: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=24)], Microservice]
    """Service name (lower case letters, digits and `-`, at most 24) to its settings; a stack adds a service with one
    more entry (its code in `lambdas/<name>/app.py`)."""

    @model_validator(mode="after")
    def _consistent(self) -> MicroservicesConfig:
        if self.execution_log_level != "OFF" and self.api_gateway_account_logging == "off":
            raise ValueError(
                f"{CROSS_FIELD}executionLogLevel: {self.execution_log_level} needs the account's API Gateway "
                "CloudWatch role; set apiGatewayAccountLogging to 'manage' (this stack creates it) or "
                "'existing' (it is already set in this account and region)"
            )
        enabled = {name: s for name, s in self.services.items() if s.enabled}
        if self.enabled and not enabled:
            raise ValueError(f"{CROSS_FIELD}services: no enabled service; a REST API without methods cannot deploy")
        owners: dict[str, str] = {}
        # API Gateway allows one {parameter} name per level of the resource tree.
        parameters: dict[str, tuple[str, str]] = {}
        for name, service in enabled.items():
            code = service.code or name.replace("-", "_")
            if self.enabled and not has_handler(code):
                raise ValueError(
                    f"{CROSS_FIELD}services.{name}.code: the service's code lambdas/{code}/app.py does not exist"
                )
            for route in service.routes:
                method, path = route.split(" ")
                key = f"{method} {path}"
                if key in owners:
                    raise ValueError(
                        f"{CROSS_FIELD}services.{name}.routes: {route!r} is already served by service {owners[key]!r}"
                    )
                owners[key] = name
                segments = path.strip("/").split("/")
                for depth, segment in enumerate(segments):
                    if not segment.startswith("{"):
                        continue
                    parent = "/" + "/".join(segments[:depth])
                    seen, where = parameters.setdefault(parent, (segment, name))
                    if seen != segment:
                        raise ValueError(
                            f"{CROSS_FIELD}services.{name}.routes: {route!r} names the parameter under "
                            f"{parent!r} {segment} but service {where!r} names it {seen}; API Gateway "
                            "allows one parameter name per path level"
                        )
        return self
