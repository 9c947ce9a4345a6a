"""Observability: every watched resource has its alarms, wired to the topic, and the dashboard is true.

Expected namespaces, metrics, statistics and missing-data treatments below are AWS's (their
CloudWatch metric documentation), written out here independently of components/observability.py.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pulumi
import pytest

from components.config import ConfigError, StackConfig, validate
from components.observability import ALARMS, READINESS_NAMESPACE, ObservabilityArgs
from components.patterns import PATTERNS
from tests.conftest import run_with, shipped_config, skip_unless_enabled
from tools.offline import PROJECT, ROOT, STACKS, Registered, Run, run_program, stack_config, wired

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
REST_STAGE = "aws:apigateway/stage:Stage"
REST_API = "aws:apigateway/restApi:RestApi"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
HTTP_API = "aws:apigatewayv2/api:Api"
QUEUE = "aws:sqs/queue:Queue"
RULE = "aws:cloudwatch/eventRule:EventRule"
BUS = "aws:cloudwatch/eventBus:EventBus"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
LB = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
ASG = "aws:autoscaling/group:Group"
DB = "aws:rds/instance:Instance"
VPN = "aws:ec2/vpnConnection:VpnConnection"
TABLE = "aws:dynamodb/table:Table"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
COMPONENT = "aws-patterns:observability:Observability"

GE, GT, LT, LE = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
FINE, DOWN = "notBreaching", "breaching"
# kind -> (namespace, metric, statistic, comparison, treat missing data)
SINGLE = {
    "function-errors": ("AWS/Lambda", "Errors", "Sum", GE, FINE),
    "function-throttles": ("AWS/Lambda", "Throttles", "Sum", GE, FINE),
    "function-duration": ("AWS/Lambda", "Duration", "Maximum", GE, FINE),
    "rest-api-latency": ("AWS/ApiGateway", "Latency", "p99", GE, FINE),
    "http-api-latency": ("AWS/ApiGateway", "Latency", "p99", GE, FINE),
    "queue-age": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", GE, FINE),
    # A dead-letter queue that never received a message publishes nothing: that is the good case.
    "dead-letter-messages": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", GT, FINE),
    "rule-failed-invocations": ("AWS/Events", "FailedInvocations", "Sum", GE, FINE),
    "unhealthy-hosts": ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", GT, FINE),
    "target-response-time": ("AWS/ApplicationELB", "TargetResponseTime", "p99", GE, FINE),
    # Published every minute while collected: silence means the group (or its metrics) stopped.
    "in-service-below-minimum": ("AWS/AutoScaling", "GroupInServiceInstances", "Minimum", LT, DOWN),
    # Each web instance reports every minute: silence means no instance is reporting.
    "not-ready": (READINESS_NAMESPACE, "Ready", "Minimum", LT, DOWN),
    "database-cpu": ("AWS/RDS", "CPUUtilization", "Average", GE, DOWN),
    "database-free-storage": ("AWS/RDS", "FreeStorageSpace", "Minimum", LE, DOWN),
    "database-connections": ("AWS/RDS", "DatabaseConnections", "Maximum", GE, DOWN),
    # A VPN connection that reports nothing is not up.
    "vpn-tunnel-down": ("AWS/VPN", "TunnelState", "Minimum", LT, DOWN),
    "vpn-down": ("AWS/VPN", "TunnelState", "Maximum", LE, DOWN),
}
# kind -> (namespace, metrics of the expression, comparison, treat missing data)
MATH = {
    "rest-api-5xx": ("AWS/ApiGateway", {"5XXError", "Count"}, GE, FINE),
    "http-api-5xx": ("AWS/ApiGateway", {"5xx", "Count"}, GE, FINE),
    "load-balancer-5xx": (
        "AWS/ApplicationELB",
        {"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", "RequestCount"},
        GE,
        FINE,
    ),
    # ThrottledRequests exists only per operation; these two are table-wide.
    "table-throttles": ("AWS/DynamoDB", {"ReadThrottleEvents", "WriteThrottleEvents"}, GE, FINE),
}


@pytest.fixture
def stack_run(stack_run: Run) -> Run:
    """conftest's run of every shipped stack, skipped for those without observability."""
    skip_unless_enabled(stack_run.stack, "observability")
    return stack_run


def _config(stack: str, overrides: dict[str, Any] | None = None) -> StackConfig:
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("aws-patterns:")}
    decoded = {k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()}
    for key, value in (overrides or {}).items():
        decoded[key] = {**decoded.get(key, {}), **value}
    return validate(decoded, stack_config(stack)["aws:region"], secret_keys=())


def _alarms(run: Run, target: Registered, kind: str) -> list[Registered]:
    """Alarms of `kind` whose metric is built from `target`'s outputs."""
    if kind == "not-ready":  # dimensioned by the tier's name, fixed in advance: nothing to be wired to
        tier = f"{PROJECT}-{run.stack}-{run.owner(target).name}"  # type: ignore[union-attr]
        return [a for a in run.by_type(ALARM) if (a.inputs.get("dimensions") or {}).get("WebTier") == tier]
    return [
        a
        for a in run.by_type(ALARM)
        if a.name.endswith(f"-{kind}") and (wired(a, "dimensions", target) or wired(a, "metricQueries", target))
    ]


def _one(run: Run, target: Registered, kind: str) -> Registered:
    found = _alarms(run, target, kind)
    assert len(found) == 1, f"{target.type} {target.name}: expected one {kind} alarm, found {len(found)}"
    return found[0]


def _dependency(run: Run, res: Registered, prop: str, type_: str) -> Registered:
    (found,) = [r for r in run.by_type(type_) if wired(res, prop, r)]
    return found


def _dead_letter_queues(run: Run) -> set[str]:
    """Queues some queue's redrive policy, some EventBridge target or some function's
    asynchronous invocations send failures to."""
    dlqs = {u for q in run.by_type(QUEUE) for u in q.property_dependencies.get("redrivePolicy", [])}
    dlqs |= {u for t in run.by_type(TARGET) for u in t.property_dependencies.get("deadLetterConfig", [])}
    configs = run.by_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    dlqs |= {u for c in configs for u in c.property_dependencies.get("destinationConfig", [])}
    return dlqs


def _target_lb(run: Run, group: Registered) -> Registered:
    """The load balancer whose listener forwards to `group`."""
    (listener,) = [
        listener
        for listener in run.by_type(LISTENER)
        if wired(listener, "defaultActions", group) and listener.inputs["defaultActions"][0]["type"] == "forward"
    ]
    return _dependency(run, listener, "loadBalancerArn", LB)


def _expected(run: Run) -> list[tuple[Registered, str, dict[str, Any]]]:
    """(resource, alarm kind, the dimensions its alarm must have in up mode) for the whole stack."""
    out: list[tuple[Registered, str, dict[str, Any]]] = []

    def name(res: Registered) -> Any:
        return res.outputs.get("name")

    for fn in run.by_type(FUNCTION):
        for kind in ("function-errors", "function-throttles", "function-duration"):
            out.append((fn, kind, {"FunctionName": name(fn)}))
    for stage in run.by_type(REST_STAGE):
        api = _dependency(run, stage, "restApi", REST_API)
        dims = {"ApiName": name(api), "Stage": stage.outputs.get("stageName")}
        out += [(stage, "rest-api-5xx", dims), (stage, "rest-api-latency", dims)]
    for stage in run.by_type(HTTP_STAGE):
        api = _dependency(run, stage, "apiId", HTTP_API)
        dims = {"ApiId": api.id, "Stage": name(stage)}
        out += [(stage, "http-api-5xx", dims), (stage, "http-api-latency", dims)]
    dlqs = _dead_letter_queues(run)
    for queue in run.by_type(QUEUE):
        out.append((queue, "dead-letter-messages" if queue.urn in dlqs else "queue-age", {"QueueName": name(queue)}))
    for rule in run.by_type(RULE):
        bus = _dependency(run, rule, "eventBusName", BUS)
        out.append((rule, "rule-failed-invocations", {"EventBusName": name(bus), "RuleName": name(rule)}))
    for group in run.by_type(TARGET_GROUP):
        lb = _target_lb(run, group)
        dims = {"TargetGroup": group.outputs.get("arnSuffix"), "LoadBalancer": lb.outputs.get("arnSuffix")}
        out += [(group, "unhealthy-hosts", dims), (group, "target-response-time", dims)]
    for lb in run.by_type(LB):
        out.append((lb, "load-balancer-5xx", {"LoadBalancer": lb.outputs.get("arnSuffix")}))
    for group in run.by_type(ASG):
        out.append((group, "in-service-below-minimum", {"AutoScalingGroupName": name(group)}))
        tier = f"{PROJECT}-{run.stack}-{run.owner(group).name}"  # type: ignore[union-attr]
        out.append((group, "not-ready", {"WebTier": tier}))
    for db in run.by_type(DB):
        for kind in ("database-cpu", "database-free-storage", "database-connections"):
            out.append((db, kind, {"DBInstanceIdentifier": db.outputs.get("identifier")}))
    for vpn in run.by_type(VPN):
        out += [(vpn, "vpn-tunnel-down", {"VpnId": vpn.id}), (vpn, "vpn-down", {"VpnId": vpn.id})]
    for table in run.by_type(TABLE):
        out.append((table, "table-throttles", {"TableName": name(table)}))
    return out


def _queries(alarm: Registered) -> dict[str, dict[str, Any]]:
    return {q["id"]: q for q in alarm.inputs.get("metricQueries") or []}


def test_every_watched_resource_has_its_alarms_with_the_right_metric(stack_run: Run) -> None:
    expected = _expected(stack_run)
    assert {kind for _, kind, _ in expected} >= {"function-errors", "queue-age", "dead-letter-messages"}
    matched = set()
    for res, kind, dims in expected:
        alarm = _one(stack_run, res, kind)
        matched.add(alarm.urn)
        if kind in SINGLE:
            namespace, metric, statistic, comparison, missing = SINGLE[kind]
            assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == (namespace, metric)
            stat = alarm.inputs.get("extendedStatistic") or alarm.inputs.get("statistic")
            assert stat == statistic, f"{alarm.name}: {stat}"
            assert not (alarm.inputs.get("extendedStatistic") and alarm.inputs.get("statistic"))
            assert alarm.inputs["period"] == 300
            if not stack_run.preview:
                assert alarm.inputs["dimensions"] == dims, alarm.name
        else:
            namespace, metrics, comparison, missing = MATH[kind]
            queries = _queries(alarm)
            (result,) = [q for q in queries.values() if q.get("returnData")]
            inputs = [q for q in queries.values() if not q.get("returnData")]
            assert {q["metric"]["metricName"] for q in inputs} == metrics
            for q in inputs:
                assert q["metric"]["namespace"] == namespace
                assert q["metric"]["stat"] == "Sum"
                assert set(q["id"]) <= set("abcdefghijklmnopqrstuvwxyz") and q["id"] in result["expression"]
                if not stack_run.preview:
                    assert q["metric"]["dimensions"] == dims, alarm.name
            assert "namespace" not in alarm.inputs and "metricName" not in alarm.inputs
        assert alarm.inputs["comparisonOperator"] == comparison, alarm.name
        assert alarm.inputs["treatMissingData"] == missing, alarm.name
    # No alarm watches something that is not in the stack.
    assert matched == {a.urn for a in stack_run.by_type(ALARM)}


def test_every_alarm_notifies_the_encrypted_topic(stack_run: Run) -> None:
    (topic,) = stack_run.within(COMPONENT).by_type(TOPIC)
    (key,) = stack_run.within(COMPONENT).by_type(KEY)
    assert wired(topic, "kmsMasterKeyId", key)
    alarms = stack_run.by_type(ALARM)
    assert alarms
    for alarm in alarms:
        for actions in ("alarmActions", "okActions"):
            assert wired(alarm, actions, topic), f"{alarm.name}.{actions}"
            if not stack_run.preview:
                assert alarm.inputs[actions] == [topic.outputs["arn"]]
        # The description tells the person paged what it means and what to do first.
        assert "First response:" in alarm.inputs["alarmDescription"]


def test_cloudwatch_may_use_the_key_and_topic_for_exactly_these_alarms(stack_run: Run) -> None:
    if stack_run.preview:
        pytest.skip("the policies hold the account id, known in up mode")
    obs = stack_run.within(COMPONENT)
    (key,) = obs.by_type(KEY)
    (policy,) = obs.by_type("aws:sns/topicPolicy:TopicPolicy")
    names = [a.inputs["name"] for a in stack_run.by_type(ALARM)]
    for document, action in ((key.inputs["policy"], "kms:GenerateDataKey*"), (policy.inputs["policy"], "sns:Publish")):
        statements = json.loads(document)["Statement"]
        (grant,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
        assert action in grant["Action"] if isinstance(grant["Action"], list) else grant["Action"] == action
        pattern = grant["Condition"]["ArnLike"]["aws:SourceArn"]
        assert pattern.endswith("*") and ":alarm:" in pattern
        prefix = pattern.split(":alarm:", 1)[1][:-1]
        assert prefix and all(n.startswith(prefix) for n in names)
        assert f"-{stack_run.stack}-" in prefix, "scoped to this stack's alarms"
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in statements)


def test_thresholds_follow_the_profile(stack_run: Run) -> None:
    t = _config(stack_run.stack).observability.thresholds
    static = {
        "function-errors": t.function_errors,
        "function-throttles": t.function_throttles,
        "rest-api-5xx": t.api_server_error_percent,
        "http-api-5xx": t.api_server_error_percent,
        "rest-api-latency": t.api_latency_p99_ms,
        "http-api-latency": t.api_latency_p99_ms,
        "queue-age": t.queue_oldest_message_seconds,
        "dead-letter-messages": 0,
        "rule-failed-invocations": t.rule_failed_invocations,
        "load-balancer-5xx": t.load_balancer_server_error_percent,
        "unhealthy-hosts": 0,
        "target-response-time": t.target_response_time_p99_ms / 1000,  # the metric is in seconds
        "database-cpu": t.database_cpu_percent,
        "database-connections": t.database_connections,
        "vpn-tunnel-down": 1,
        "vpn-down": 0,
        "table-throttles": t.table_throttled_requests,
        "not-ready": 1,  # every instance reports 1 when ready
    }
    for res, kind, _ in _expected(stack_run):
        alarm = _one(stack_run, res, kind)
        if kind in static:
            assert alarm.inputs["threshold"] == static[kind], alarm.name
            continue
        # Derived from the watched resource itself.
        assert wired(alarm, "threshold", res), f"{alarm.name}: threshold not built from {res.name}"
        if stack_run.preview:
            continue
        if kind == "function-duration":
            percent = t.function_duration_percent_of_timeout
            assert alarm.inputs["threshold"] == res.inputs["timeout"] * 1000 * percent / 100
        elif kind == "database-free-storage":
            gib = res.inputs["allocatedStorage"] * 1024**3
            assert alarm.inputs["threshold"] == gib * t.database_free_storage_percent / 100
        elif kind == "in-service-below-minimum":
            assert alarm.inputs["threshold"] == res.inputs["minSize"]
        else:
            raise AssertionError(f"no expectation for {kind}")


def test_dev_is_looser_than_prod() -> None:
    dev, prod = (_config(s).observability.thresholds for s in ("dev", "prod"))
    # Connections are sized to each profile's instance class, not to the environment.
    fixed = ("database_free_storage_percent", "database_connections")
    looser_when_higher = [k for k in type(dev).model_fields if k not in fixed]
    assert all(getattr(dev, k) >= getattr(prod, k) for k in looser_when_higher)
    assert dev.database_free_storage_percent <= prod.database_free_storage_percent


OVERRIDES = {
    "functionErrors": 7,
    "apiLatencyP99Ms": 1234,
    "queueOldestMessageSeconds": 600,
    "functionDurationPercentOfTimeout": 50,
    "targetResponseTimeP99Ms": 2500,
    "databaseFreeStoragePercent": 33,
}


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_thresholds_follow_config_overrides(preview: bool) -> None:
    run = run_with("staging", {"observability": {"thresholds": OVERRIDES}}, preview=preview)

    def thresholds(kind: str) -> set[Any]:
        return {a.inputs["threshold"] for a in run.by_type(ALARM) if a.name.endswith(f"-{kind}")}

    assert thresholds("function-errors") == {7}
    assert thresholds("rest-api-latency") == {1234} == thresholds("http-api-latency")
    assert thresholds("queue-age") == {600}
    assert thresholds("target-response-time") == {2.5}
    if not preview:
        timeouts = {fn.inputs["timeout"] for fn in run.by_type(FUNCTION)}
        assert thresholds("function-duration") == {s * 1000 * 50 / 100 for s in timeouts}
        (db,) = run.by_type(DB)
        assert thresholds("database-free-storage") == {db.inputs["allocatedStorage"] * 1024**3 * 33 / 100}


def test_subscriptions_from_config() -> None:
    emails = ["oncall@example.com", "team@example.org"]
    hooks = ["https://hooks.example.com/alarms"]
    run = run_with("dev", {"observability": {"alarmEmails": emails, "alarmHttpsEndpoints": hooks}}, preview=True)
    (topic,) = run.within(COMPONENT).by_type(TOPIC)
    subscriptions = run.within(COMPONENT).by_type(SUBSCRIPTION)
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == sorted(
        [("email", e) for e in emails] + [("https", h) for h in hooks]
    )
    assert all(wired(s, "topic", topic) for s in subscriptions)
    # Removing one address keeps the others' logical names (no new confirmation requests).
    fewer = run_with("dev", {"observability": {"alarmEmails": emails[1:], "alarmHttpsEndpoints": hooks}}, preview=True)
    kept = {s.name for s in fewer.within(COMPONENT).by_type(SUBSCRIPTION)}
    assert kept < {s.name for s in subscriptions}


def test_shipped_stacks_subscribe_only_what_their_file_lists(stack_run: Run) -> None:
    """No profile subscribes anyone; prod's file lists a placeholder address its teams replace."""
    skip_unless_enabled(stack_run.stack, "observability")
    listed = shipped_config(stack_run.stack).observability.alarm_emails
    subscribed = [s.inputs["endpoint"] for s in stack_run.within(COMPONENT).by_type(SUBSCRIPTION)]
    assert subscribed == listed
    assert bool(listed) == (stack_run.stack == "prod")


def test_disabled_builds_nothing() -> None:
    run = run_with("prod", {"observability": {"enabled": False}}, preview=True)
    assert run.by_type(COMPONENT) == [] and run.by_type(ALARM) == [] and run.by_type(DASHBOARD) == []
    assert "observability" not in run.outputs


SECTIONS = {
    "aws-patterns:microservices:Microservices": "Microservices",
    "aws-patterns:eventDriven:EventDriven": "Event-driven",
    "aws-patterns:serverless:Serverless": "Serverless",
    "aws-patterns:multiTier:MultiTier": "Multi-tier",
    "aws-patterns:hybrid:Hybrid": "Hybrid",
}
# Dashboard dimension -> the resources whose output it must name.
DIMENSION_SOURCES = {
    "FunctionName": [(FUNCTION, "name")],
    "ApiName": [(REST_API, "name")],
    "Stage": [(REST_STAGE, "stageName"), (HTTP_STAGE, "name")],
    "ApiId": [(HTTP_API, "id")],
    "QueueName": [(QUEUE, "name")],
    "EventBusName": [(BUS, "name")],
    "RuleName": [(RULE, "name")],
    "LoadBalancer": [(LB, "arnSuffix")],
    "TargetGroup": [(TARGET_GROUP, "arnSuffix")],
    "AutoScalingGroupName": [(ASG, "name")],
    "DBInstanceIdentifier": [(DB, "identifier")],
    "VpnId": [(VPN, "id")],
    "TableName": [(TABLE, "name")],
}
# Dimensions a web tier's instances publish under: the tier's name, rendered into their user data.
WEB_TIERS = "WebTier"


def test_dashboard_has_a_section_per_pattern_and_names_only_what_exists(stack_run: Run) -> None:
    (dashboard,) = stack_run.by_type(DASHBOARD)
    alarms = stack_run.by_type(ALARM)
    # Built from every alarm (holds in preview, when the body is unknown).
    assert {a.urn for a in alarms} <= set(dashboard.property_dependencies["dashboardBody"])
    assert dashboard.inputs["dashboardName"] == f"aws-patterns-{stack_run.stack}"
    if stack_run.preview:
        return
    body = json.loads(dashboard.inputs["dashboardBody"])
    widgets = body["widgets"]
    titles = [w["properties"]["markdown"].removeprefix("## ") for w in widgets if w["type"] == "text"]
    expected = [title for type_, title in SECTIONS.items() if stack_run.by_type(type_)]
    assert sorted(titles) == sorted(expected) and len(titles) == len(set(titles))
    arns = [arn for w in widgets if w["type"] == "alarm" for arn in w["properties"]["alarms"]]
    assert sorted(arns) == sorted(a.outputs["arn"] for a in alarms), "every alarm shown once, nothing else"
    known = {
        dim: {(r.id if out == "id" else r.outputs.get(out)) for type_, out in sources for r in stack_run.by_type(type_)}
        for dim, sources in DIMENSION_SOURCES.items()
    }
    known[WEB_TIERS] = {
        f"{PROJECT}-{stack_run.stack}-{c.name}" for c in stack_run.by_type("aws-patterns:multiTier:MultiTier")
    }
    lines = [line for w in widgets if w["type"] == "metric" for line in w["properties"]["metrics"]]
    assert lines
    for line in lines:
        namespace, metric, *pairs, options = line
        assert (namespace.startswith("AWS/") or namespace == READINESS_NAMESPACE) and metric and "stat" in options
        for dim, value in zip(pairs[::2], pairs[1::2], strict=True):
            assert value in known[dim], f"{namespace} {metric}: {dim}={value} is not a resource of the stack"
    for w in widgets:
        assert w["x"] >= 0 and w["x"] + w["width"] <= 24, "CloudWatch dashboards are 24 columns wide"
        if w["type"] == "metric":
            assert w["properties"]["region"] == stack_config(stack_run.stack)["aws:region"]


def test_tracing_on_every_function_and_rest_stage(stack_run: Run) -> None:
    assert _config(stack_run.stack).functions.tracing, "the shipped stacks trace"
    for fn in stack_run.by_type(FUNCTION):
        assert fn.inputs["tracingConfig"]["mode"] == "Active", fn.name
        # Structured logs: JSON, to the function's own group (the correlation ids come from the handlers).
        assert fn.inputs["loggingConfig"]["logFormat"] == "JSON", fn.name
    for stage in stack_run.by_type(REST_STAGE):
        assert stage.inputs["xrayTracingEnabled"] is True


def test_auto_scaling_groups_collect_the_metric_their_alarm_watches(stack_run: Run) -> None:
    for group in stack_run.by_type(ASG):
        assert "GroupInServiceInstances" in group.inputs["enabledMetrics"]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"alarmEmails": ["not-an-address"]}, "aws-patterns:observability.alarmEmails[0]"),
        ({"alarmEmails": ["a@example.com", "a@example.com"]}, "aws-patterns:observability.alarmEmails"),
        ({"alarmHttpsEndpoints": ["http://hooks.example.com/x"]}, "aws-patterns:observability.alarmHttpsEndpoints[0]"),
        ({"thresholds": {"functionErrors": 0}}, "aws-patterns:observability.thresholds.functionErrors"),
        (
            {"thresholds": {"functionDurationPercentOfTimeout": 101}},
            "aws-patterns:observability.thresholds.functionDurationPercentOfTimeout",
        ),
        ({"thresholds": {"apiLatencyP99Ms": "2000"}}, "aws-patterns:observability.thresholds.apiLatencyP99Ms"),
        ({"treshold": {}}, "aws-patterns:observability.treshold"),
    ],
)
def test_config_mistakes_are_named_by_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"(?m)^  {re.escape(key)}: "):
        _config("dev", {"observability": overrides})
    monitors: list[Any] = []
    with pytest.raises(ConfigError):
        config = stack_config("dev")
        config["aws-patterns:observability"] = json.dumps(overrides)
        run_program("dev", True, config=config, monitors=monitors)
    assert [r for r, _ in monitors[0].requests if r.type != "pulumi:pulumi:Stack"] == []


def test_a_pattern_component_without_monitored_is_refused() -> None:
    cfg = _config("dev")
    with pytest.raises(ValueError, match=r"the components of \['dataLake'\] have no monitored\(\) method"):
        ObservabilityArgs.from_config(cfg, {"dataLake": object()})


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.key)
def test_every_registered_pattern_says_what_it_monitors(pattern: Any) -> None:
    """A registered pattern whose component cannot say what to watch would get no alarms."""
    package = importlib.import_module(f"components.{pattern.attribute}")
    exported = [getattr(package, name) for name in package.__all__]
    components = [c for c in exported if isinstance(c, type) and issubclass(c, pulumi.ComponentResource)]
    assert components, f"components.{pattern.attribute} exports no component"
    assert all(callable(getattr(c, "monitored", None)) for c in components)


@pytest.mark.parametrize("stack", STACKS)
def test_outputs(stack: str) -> None:
    skip_unless_enabled(stack, "observability")
    run = run_with(stack, {}, preview=False)
    out = run.outputs["observability"]
    (topic,) = run.within(COMPONENT).by_type(TOPIC)
    assert out["alarmTopicArn"] == topic.outputs["arn"]
    assert out["dashboardName"] == f"aws-patterns-{stack}"
    assert out["alarmCount"] == len(run.by_type(ALARM))


def test_every_alarm_kind_is_checked_and_documented() -> None:
    assert set(SINGLE) | set(MATH) == set(ALARMS), "a new kind of alarm needs its expectation above"
    section = (ROOT / "docs" / "observability.md").read_text().split("\n## Alarms\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", section, re.MULTILINE)
    assert [r[0] for r in rows] == list(ALARMS), "docs/observability.md's alarm table lists every alarm once"
    for kind, _, _, silence, response in rows:
        missing = SINGLE[kind][4] if kind in SINGLE else MATH[kind][3]
        assert silence.startswith("fine" if missing == FINE else "trouble"), kind
        assert response.strip(), f"{kind} has no first response"
