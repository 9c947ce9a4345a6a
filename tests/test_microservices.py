"""The Microservices component, asserted on what it registers (by type and wiring)."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi_aws as aws
import pytest

from components.config import ConfigError, StackConfig, validate
from components.defaults import deep_merge
from components.microservices import Microservices, MicroservicesArgs
from tests.conftest import run_with, skip_unless_enabled
from tools.offline import Registered, Run, SecretConfigValue, run_program, stack_config, wired

MICROSERVICES = "aws-patterns:microservices:Microservices"
SERVICE = "aws-patterns:microservices:Service"
TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
RESOURCE = "aws:apigateway/resource:Resource"
REST_API = "aws:apigateway/restApi:RestApi"
PERMISSION = "aws:lambda/permission:Permission"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
STAGE = "aws:apigateway/stage:Stage"
SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
ACCOUNT = "aws:apigateway/account:Account"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUS = "aws:cloudwatch/eventBus:EventBus"


def _config(overrides: dict[str, Any] | None = None, environment: str = "dev") -> StackConfig:
    raw = deep_merge({"environment": environment, "microservices": {"enabled": True}}, overrides or {})
    return validate(raw, "us-east-1")


def _run(preview: bool, overrides: dict[str, Any] | None = None, with_bus: bool = True) -> Run:
    cfg = _config(overrides)

    def program() -> None:
        bus = aws.cloudwatch.EventBus("bus") if with_bus else None
        Microservices("microservices", MicroservicesArgs.from_config(cfg, event_bus=bus))

    return run_program("dev", preview, program=program)


_RUNS: dict[bool, Run] = {}


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def run(request: pytest.FixtureRequest) -> Run:
    """The dev profile's services with an event bus, in preview and in up mode."""
    if request.param not in _RUNS:
        _RUNS[request.param] = _run(request.param)
    return _RUNS[request.param]


@pytest.fixture
def stack_run(stack_run: Run) -> Run:
    """conftest's run of every shipped stack, skipped for those without microservices."""
    skip_unless_enabled(stack_run.stack, "microservices")
    return stack_run


def _service_of(run: Run, res: Registered) -> str | None:
    urns = {r.urn: r for r in run.resources}
    node = urns.get(res.parent)
    while node is not None:
        if node.type == SERVICE:
            return node.name
        node = urns.get(node.parent)
    return None


def _owned(run: Run, type_: str, service: str) -> list[Registered]:
    return [r for r in run.by_type(type_) if _service_of(run, r) == service]


def _path_of(run: Run, resource_urn: str) -> str:
    """The URL path of an API resource, rebuilt from how each resource is wired to its parent."""
    res = run.by_urn(resource_urn)
    if res.type == REST_API:
        return ""
    (parent,) = [u for u in res.property_dependencies["parentId"]]
    return f"{_path_of(run, parent)}/{res.inputs['pathPart']}"


def _method_path(run: Run, method: Registered) -> str:
    (target,) = method.property_dependencies["resourceId"]
    return _path_of(run, target) or "/"


def _statements(policy: Registered) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def _routes(cfg: StackConfig) -> dict[str, set[tuple[str, str]]]:
    return {
        name: {tuple(r.split(" ")) for r in s.routes}  # type: ignore[misc]
        for name, s in cfg.microservices.services.items()
        if s.enabled
    }


# --- one of everything per service -------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"users", "orders"}),
        ({"microservices": {"services": {"orders": {"enabled": False}}}}, {"users"}),
        (
            {
                "microservices": {
                    "services": {
                        "payments": {
                            "code": "orders",
                            "partitionKey": {"name": "paymentId", "type": "S"},
                            "tableActions": ["GetItem", "PutItem"],
                            "memoryMb": 128,
                            "timeoutSeconds": 5,
                            "routes": ["POST /payments", "GET /payments/{id}"],
                        }
                    }
                }
            },
            {"users", "orders", "payments"},
        ),
    ],
    ids=["profile", "one-disabled", "one-added"],
)
def test_one_table_function_and_role_per_service(overrides: dict[str, Any], expected: set[str]) -> None:
    run = _run(True, overrides, with_bus=False)
    assert {s.name for s in run.by_type(SERVICE)} == expected
    for type_ in (TABLE, FUNCTION, ROLE, POLICY):
        owners = [_service_of(run, r) for r in run.by_type(type_)]
        assert sorted(owners) == sorted(expected), type_
    for service in expected:
        (fn,) = _owned(run, FUNCTION, service)
        (role,) = _owned(run, ROLE, service)
        assert wired(fn, "role", role), "each function runs with its own role"


def test_policy_names_only_its_own_table_indexes_and_actions(run: Run) -> None:
    cfg = _config()
    tables = {_service_of(run, t): t for t in run.by_type(TABLE)}
    (bus,) = run.by_type(BUS)
    for name, service in cfg.microservices.services.items():
        (policy,) = _owned(run, POLICY, name)
        others = [t for owner, t in tables.items() if owner != name]
        assert wired(policy, "policy", tables[name])
        assert not any(wired(policy, "policy", t) for t in others), f"{name} may touch another service's table"
        assert wired(policy, "policy", bus) == service.publishes_events
        if run.preview:
            continue
        statements = _statements(policy)
        table_arn = tables[name].outputs["arn"]
        assert statements["OwnTable"]["Resource"] == table_arn
        assert statements["OwnTable"]["Action"] == [f"dynamodb:{a}" for a in service.table_actions]
        reads = [f"dynamodb:{a}" for a in service.table_actions if a in ("Query", "Scan")]
        if service.global_secondary_indexes and reads:
            assert statements["OwnIndexes"]["Resource"] == [
                f"{table_arn}/index/{i.name}" for i in service.global_secondary_indexes
            ]
            assert statements["OwnIndexes"]["Action"] == reads
        else:
            assert "OwnIndexes" not in statements
        if service.publishes_events:
            assert statements["PublishEvents"] == {
                "Sid": "PublishEvents",
                "Effect": "Allow",
                "Action": ["events:PutEvents"],
                "Resource": bus.outputs["arn"],
            }
        else:
            assert "PublishEvents" not in statements
        dynamo = [s for s in statements.values() if any(a.startswith("dynamodb:") for a in s["Action"])]
        assert {s["Sid"] for s in dynamo} <= {"OwnTable", "OwnIndexes"}
        wildcard = [s["Sid"] for s in statements.values() if s["Resource"] == "*"]
        assert wildcard == ["XRay"], "only X-Ray, which has no resource-level scoping, gets *"


def test_event_bus_reaches_only_the_publishing_services(run: Run) -> None:
    (bus,) = run.by_type(BUS)
    for fn in run.by_type(FUNCTION):
        service = _service_of(run, fn)
        publishes = _config().microservices.services[service].publishes_events  # type: ignore[index]
        variables = fn.inputs["environment"]["variables"]
        assert ("EVENT_BUS_NAME" in variables) == publishes
        assert wired(fn, "environment", bus) == publishes
        if publishes and not run.preview:
            assert variables["EVENT_BUS_NAME"] == bus.outputs["name"]


def test_without_a_bus_no_service_publishes() -> None:
    run = _run(False, with_bus=False)
    for fn in run.by_type(FUNCTION):
        assert "EVENT_BUS_NAME" not in fn.inputs["environment"]["variables"]
    for policy in run.by_type(POLICY):
        assert "PublishEvents" not in _statements(policy)


def test_function_settings_come_from_the_service(run: Run) -> None:
    cfg = _config()
    for fn in run.by_type(FUNCTION):
        service = cfg.microservices.services[_service_of(run, fn)]  # type: ignore[index]
        (table,) = _owned(run, TABLE, _service_of(run, fn))  # type: ignore[arg-type]
        assert fn.inputs["memorySize"] == service.memory_mb
        assert fn.inputs["timeout"] == service.timeout_seconds
        assert wired(fn, "environment", table), "TABLE_NAME is the service's own table"
        assert "reservedConcurrentExecutions" not in fn.inputs, "reserved concurrency is opt-in"


def test_reserved_concurrency_when_configured() -> None:
    run = _run(True, {"microservices": {"services": {"users": {"reservedConcurrency": 5}}}})
    reserved = {_service_of(run, fn): fn.inputs.get("reservedConcurrentExecutions") for fn in run.by_type(FUNCTION)}
    assert reserved == {"users": 5, "orders": None}


# --- the REST API ---------------------------------------------------------------------------


def test_every_route_has_a_method_with_a_post_proxy_integration_to_its_own_function(run: Run) -> None:
    expected = _routes(_config())
    for name, routes in expected.items():
        (fn,) = _owned(run, FUNCTION, name)
        methods = _owned(run, METHOD, name)
        assert {(m.inputs["httpMethod"], _method_path(run, m)) for m in methods} == routes
        integrations = _owned(run, INTEGRATION, name)
        assert len(integrations) == len(methods)
        for method in methods:
            (integration,) = [i for i in integrations if wired(i, "httpMethod", method)]
            assert integration.inputs["type"] == "AWS_PROXY"
            assert integration.inputs["integrationHttpMethod"] == "POST", "Lambda's Invoke API is POST only"
            assert wired(integration, "uri", fn)
            assert integration.property_dependencies["resourceId"] == method.property_dependencies["resourceId"]
            if not run.preview:
                assert integration.inputs["uri"] == fn.outputs["invokeArn"]


def test_every_method_has_a_permission_scoped_to_its_method_and_path(run: Run) -> None:
    (api,) = run.by_type(REST_API)
    for name in _routes(_config()):
        (fn,) = _owned(run, FUNCTION, name)
        methods = _owned(run, METHOD, name)
        permissions = _owned(run, PERMISSION, name)
        assert len(permissions) == len(methods)
        for permission in permissions:
            assert permission.inputs["principal"] == "apigateway.amazonaws.com"
            assert permission.inputs["action"] == "lambda:InvokeFunction"
            assert wired(permission, "function", fn), "a route may invoke only its own service's function"
            assert wired(permission, "sourceArn", api)
        if run.preview:
            continue
        arns = sorted(p.inputs["sourceArn"] for p in permissions)
        execution_arn = api.outputs["executionArn"]
        wanted = sorted(
            f"{execution_arn}/*/{m.inputs['httpMethod']}{re.sub(r'{[^}]+}', '*', _method_path(run, m))}"
            for m in methods
        )
        assert arns == wanted


def test_gateway_answers_unknown_routes_with_json(run: Run) -> None:
    (response,) = run.by_type("aws:apigateway/response:Response")
    assert response.inputs["responseType"] == "MISSING_AUTHENTICATION_TOKEN"
    assert response.inputs["statusCode"] == "404"  # dev: no IAM authorization, so it is a missing route
    assert "message" in json.loads(response.inputs["responseTemplates"]["application/json"])


def test_deployment_comes_after_every_method_and_the_stage_is_separate(run: Run) -> None:
    (deployment,) = run.by_type(DEPLOYMENT)
    (stage,) = run.by_type(STAGE)
    (settings,) = run.by_type(SETTINGS)
    (api,) = run.by_type(REST_API)
    snapshot = [*run.by_type(METHOD), *run.by_type(INTEGRATION), *run.by_type("aws:apigateway/response:Response")]
    missing = [r.name for r in snapshot if r.urn not in deployment.dependencies]
    assert missing == [], "a deployment created before these would lack them"
    assert "stageName" not in deployment.inputs, "the stage is a separate Stage resource"
    integrations = run.by_type(INTEGRATION)
    assert all(wired(deployment, "triggers", i) for i in integrations), "a changed integration redeploys"
    assert wired(stage, "deployment", deployment) and wired(stage, "restApi", api)
    assert wired(settings, "stageName", stage)
    assert stage.inputs["stageName"] == _config().microservices.stage_name


def _trigger(overrides: dict[str, Any]) -> str:
    (deployment,) = _run(False, overrides, with_bus=False).by_type(DEPLOYMENT)
    return deployment.inputs["triggers"]["redeployment"]


def test_deployment_changes_when_routes_change_and_only_then() -> None:
    base = _trigger({})
    assert _trigger({}) == base, "the trigger is deterministic"
    routes = ["GET /orders", "POST /orders", "GET /orders/{id}", "DELETE /orders/{id}"]
    assert _trigger({"microservices": {"services": {"orders": {"routes": routes}}}}) != base
    assert _trigger({"microservices": {"authorization": "AWS_IAM"}}) != base
    assert _trigger({"microservices": {"services": {"orders": {"memoryMb": 1024}}}}) == base, "no needless redeploy"


def _stack_config(stack: str) -> StackConfig:
    """A shipped stack's validated config, with the keys the engine would mark secret."""
    encoded = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("aws-patterns:")}
    raw = {k: json.loads(v) if v[:1] in "{[" else v for k, v in encoded.items()}
    secret = [k for k, v in encoded.items() if isinstance(v, SecretConfigValue)]
    return validate(raw, stack_config(stack)["aws:region"], secret)


def test_stage_follows_the_profile(stack_run: Run) -> None:
    cfg = _stack_config(stack_run.stack)
    block = cfg.microservices
    (stage,) = stack_run.by_type(STAGE)
    (settings,) = stack_run.by_type(SETTINGS)
    assert stage.inputs["xrayTracingEnabled"] == cfg.functions.tracing
    assert stage.inputs["stageName"] == block.stage_name
    assert settings.inputs["methodPath"] == "*/*"
    values = settings.inputs["settings"]
    assert values["throttlingRateLimit"] == block.throttling.rate_limit
    assert values["throttlingBurstLimit"] == block.throttling.burst_limit
    assert values["loggingLevel"] == block.execution_log_level
    assert values["metricsEnabled"] == block.metrics_enabled
    assert values["dataTraceEnabled"] is False, "full bodies in logs leak personal data"
    managed = stack_run.by_type(ACCOUNT)
    assert len(managed) == (block.api_gateway_account_logging == "manage")
    assert ("accessLogSettings" in stage.inputs) == (block.api_gateway_account_logging != "off")
    assert {m.inputs["authorization"] for m in stack_run.by_type(METHOD)} == {block.authorization}
    for table in stack_run.by_type(TABLE):
        if _service_of(stack_run, table) is None:
            continue
        assert table.protect == cfg.common.protect_stateful_resources
        assert table.inputs["deletionProtectionEnabled"] == cfg.common.deletion_protection
        assert table.inputs["pointInTimeRecovery"]["enabled"] == block.point_in_time_recovery


# --- stage logging and the account-level role ------------------------------------------------


def test_no_stage_logging_without_the_account_role(run: Run) -> None:
    (stage,) = run.by_type(STAGE)
    (settings,) = run.by_type(SETTINGS)
    assert "accessLogSettings" not in stage.inputs
    assert settings.inputs["settings"]["loggingLevel"] == "OFF"
    assert run.by_type(ACCOUNT) == []


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_managed_account_role_comes_before_stage_logging(preview: bool) -> None:
    overrides = {"microservices": {"apiGatewayAccountLogging": "manage", "executionLogLevel": "INFO"}}
    run = _run(preview, overrides, with_bus=False)
    (account,) = run.by_type(ACCOUNT)
    (stage,) = run.by_type(STAGE)
    (settings,) = run.by_type(SETTINGS)
    (api,) = run.by_type(REST_API)
    (role,) = [r for r in run.by_type(ROLE) if wired(account, "cloudwatchRoleArn", r)]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "apigateway.amazonaws.com"}]
    (attachment,) = run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert wired(attachment, "role", role)
    assert attachment.inputs["policyArn"].endswith(":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
    assert attachment.urn in account.dependencies
    assert account.urn in stage.dependencies, "access logs fail until the account has the role"
    assert account.urn in settings.dependencies, "execution logs fail until the account has the role"
    groups = {g.name: g for g in run.by_type(LOG_GROUP) if _service_of(run, g) is None}
    access, execution = groups["microservices-access"], groups["microservices-execution"]
    assert wired(stage, "accessLogSettings", access)
    access_format = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert access_format["requestId"] == "$context.requestId", "API Gateway requires the request id"
    assert wired(execution, "name", api) and wired(execution, "name", stage)
    assert execution.urn in settings.dependencies, "the group exists (with retention) before API Gateway logs"
    for group in (access, execution):
        assert group.inputs["retentionInDays"] == _config().common.log_retention_days
    if not preview:
        assert execution.inputs["name"] == f"API-Gateway-Execution-Logs_{api.id}/{stage.inputs['stageName']}"
    assert settings.inputs["settings"]["loggingLevel"] == "INFO"


def test_existing_account_role_logs_without_managing_it() -> None:
    run = _run(True, {"microservices": {"apiGatewayAccountLogging": "existing"}}, with_bus=False)
    assert run.by_type(ACCOUNT) == []
    (stage,) = run.by_type(STAGE)
    assert "accessLogSettings" in stage.inputs


# --- tables ---------------------------------------------------------------------------------


def test_tables_declare_only_their_key_attributes(run: Run) -> None:
    cfg = _config()
    for table in run.by_type(TABLE):
        service = cfg.microservices.services[_service_of(run, table)]  # type: ignore[index]
        keys = {service.partition_key.name: service.partition_key.type}
        if service.sort_key:
            keys[service.sort_key.name] = service.sort_key.type
        for index in service.global_secondary_indexes:
            for key in (index.partition_key, index.sort_key):
                if key:
                    keys[key.name] = key.type
        declared = [(a["name"], a["type"]) for a in table.inputs["attributes"]]
        assert sorted(declared) == sorted(keys.items()), "DynamoDB rejects non-key attributes"
        assert table.inputs["hashKey"] == service.partition_key.name
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
        assert table.inputs["serverSideEncryption"]["enabled"] is True
        indexes = {i["name"]: i for i in table.inputs.get("globalSecondaryIndexes", [])}
        assert set(indexes) == {i.name for i in service.global_secondary_indexes}
        for index in service.global_secondary_indexes:
            schema = [(k["attributeName"], k["keyType"]) for k in indexes[index.name]["keySchemas"]]
            assert schema[0] == (index.partition_key.name, "HASH")
            assert schema[1:] == ([(index.sort_key.name, "RANGE")] if index.sort_key else [])


def test_an_index_reusing_the_table_key_declares_it_once() -> None:
    index = {"name": "byId", "partitionKey": {"name": "id", "type": "S"}, "sortKey": {"name": "email", "type": "S"}}
    run = _run(True, {"microservices": {"services": {"users": {"globalSecondaryIndexes": [index]}}}})
    (users,) = [t for t in run.by_type(TABLE) if _service_of(run, t) == "users"]
    assert sorted(a["name"] for a in users.inputs["attributes"]) == ["email", "id"]


# --- service discovery and outputs ----------------------------------------------------------


def test_cloud_map_lists_every_service_with_its_url_and_table(run: Run) -> None:
    (namespace,) = run.by_type("aws:servicediscovery/httpNamespace:HttpNamespace")
    (stage,) = run.by_type(STAGE)
    entries = run.by_type("aws:servicediscovery/service:Service")
    instances = run.by_type("aws:servicediscovery/instance:Instance")
    assert sorted(e.inputs["name"] for e in entries) == sorted(_routes(_config()))
    for entry in entries:
        assert wired(entry, "namespaceId", namespace)
        (instance,) = [i for i in instances if wired(i, "serviceId", entry)]
        (table,) = _owned(run, TABLE, entry.inputs["name"])
        assert wired(instance, "attributes", stage) and wired(instance, "attributes", table)
        if not run.preview:
            attributes = instance.inputs["attributes"]
            assert attributes["url"] == f"{stage.outputs['invokeUrl']}/{entry.inputs['name']}"
            assert attributes["tableName"] == table.outputs["name"]


def test_stack_outputs_name_the_api_and_each_service(stack_run: Run) -> None:
    if stack_run.preview:
        pytest.skip("outputs are unknown in a preview")
    run = stack_run
    exported = run.outputs["microservices"]
    assert sorted(exported["services"]) == ["orders", "users"]
    (stage,) = run.by_type(STAGE)
    assert exported["apiUrl"] == stage.outputs["invokeUrl"]
    for name, service in exported["services"].items():
        (table,) = _owned(run, TABLE, name)
        (fn,) = _owned(run, FUNCTION, name)
        assert service == {
            "url": f"{stage.outputs['invokeUrl']}/{name}",
            "functionName": fn.outputs["name"],
            "tableName": table.outputs["name"],
        }


def test_shipped_stacks_build_both_services(stack_run: Run) -> None:
    assert {s.name for s in stack_run.by_type(SERVICE)} == {"users", "orders"}
    (fn,) = [f for f in stack_run.by_type(FUNCTION) if _service_of(stack_run, f) == "orders"]
    assert "EVENT_BUS_NAME" in fn.inputs["environment"]["variables"], "the shipped stacks wire orders to the bus"


# --- configuration mistakes fail before anything is registered -------------------------------


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"executionLogLevel": "ERROR"}, "microservices.executionLogLevel"),
        ({"services": {"users": {"timeoutSeconds": 30}}}, "microservices.services.users.timeoutSeconds"),
        (
            {"services": {"orders": {"routes": ["GET /orders", "GET /users"]}}},
            "microservices.services.orders.routes",
        ),
        (
            {"services": {"orders": {"routes": ["GET /orders", "GET /users/{userId}/orders"]}}},
            "microservices.services.orders.routes",
        ),
        ({"services": {"users": {"routes": ["FETCH /users"]}}}, "microservices.services.users.routes[0]"),
        ({"services": {"users": {"routes": ["GET /users/"]}}}, "microservices.services.users.routes[0]"),
        (
            {
                "services": {
                    "orders": {
                        "globalSecondaryIndexes": [{"name": "byId", "partitionKey": {"name": "orderId", "type": "N"}}]
                    }
                }
            },
            "microservices.services.orders.globalSecondaryIndexes",
        ),
        ({"services": {"users": {"code": "nosuchfolder"}}}, "microservices.services.users.code"),
        ({"services": {"users": {"enabled": False}, "orders": {"enabled": False}}}, "microservices.services"),
        ({"services": {"users": {"reservedConcurrency": 0}}}, "microservices.services.users.reservedConcurrency"),
        ({"services": {"users": {"tableActions": ["DeleteTable"]}}}, "microservices.services.users.tableActions[0]"),
        ({"apiGatewayAccountLogging": True}, "microservices.apiGatewayAccountLogging"),
        ({"metricsEnabled": "yes"}, "microservices.metricsEnabled"),
    ],
    ids=[
        "execution-logs-without-role",
        "timeout-over-29s",
        "route-taken",
        "parameter-names-differ",
        "bad-method",
        "trailing-slash",
        "attribute-two-types",
        "missing-code",
        "no-service",
        "zero-concurrency",
        "not-an-item-action",
        "logging-not-a-choice",
        "metrics-not-a-boolean",
    ],
)
def test_config_mistakes_name_the_key(overrides: dict[str, Any], key: str) -> None:
    monitors: list = []
    config = stack_config("dev")
    config["aws-patterns:microservices"] = json.dumps(deep_merge({"enabled": True}, overrides))
    with pytest.raises(ConfigError, match=re.escape(f"aws-patterns:{key}")):
        run_program("dev", preview=True, config=config, monitors=monitors)
    assert [req.type for req, _ in monitors[0].requests if req.type != "pulumi:pulumi:Stack"] == []


def test_component_refuses_an_api_without_services() -> None:
    args = MicroservicesArgs(services=())
    with pytest.raises(Exception, match="no service to route to"):
        run_program("dev", True, program=lambda: Microservices("microservices", args))


def test_disabled_block_builds_nothing() -> None:
    run = run_with("dev", {"microservices": {"enabled": False}}, preview=True)
    assert run.by_type(MICROSERVICES) == []
    assert "microservices" not in run.outputs


# --- what prod needs to be investigated and defended (issue 12 points 4 and 5) ----------------


def test_prod_profile_logs_access_and_errors_and_publishes_method_metrics() -> None:
    block = _config(environment="prod").microservices
    assert block.api_gateway_account_logging == "manage", "prod owns the account's logging role"
    assert block.execution_log_level == "ERROR"
    assert block.metrics_enabled is True
    for environment in ("dev", "staging"):
        other = _config(environment=environment).microservices
        assert other.api_gateway_account_logging == "off" and other.metrics_enabled is False, environment


def _run_with_web_acl(preview: bool) -> Run:
    cfg = _config()

    def program() -> None:
        acl = aws.wafv2.WebAcl(
            "edge",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow={}),
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name="edge", sampled_requests_enabled=True
            ),
        )
        Microservices("microservices", MicroservicesArgs.from_config(cfg, web_acl_arn=acl.arn))

    return run_program("dev", preview, program=program)


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_the_stacks_web_acl_filters_the_stage(preview: bool) -> None:
    run = _run_with_web_acl(preview)
    (acl,) = run.by_type("aws:wafv2/webAcl:WebAcl")
    (stage,) = run.by_type(STAGE)
    (association,) = run.by_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert wired(association, "resourceArn", stage) and wired(association, "webAclArn", acl)
    assert _service_of(run, association) is None, "one association for the API's stage"
    if not preview:
        (api,) = run.by_type(REST_API)
        # WAF takes the stage's ARN, which names the API and the stage (not the execute-api ARN).
        assert association.inputs["resourceArn"] == stage.outputs["arn"]
        assert stage.outputs["arn"] == f"arn:aws:apigateway:us-east-1::/restapis/{api.id}/stages/v1"
        assert association.inputs["webAclArn"] == acl.outputs["arn"]


def test_no_association_without_a_web_acl(run: Run) -> None:
    assert run.by_type("aws:wafv2/webAclAssociation:WebAclAssociation") == []
