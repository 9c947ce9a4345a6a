"""The event-driven component, asserted on what it registers (type and wiring), both modes.

Two kinds of runs: the shipped stacks (`shipped`, the real program) and the component alone
with a richer config (`rich`) where one queue is fed by two rules, another by a rule and a topic,
and a rule targets a function directly, so the merging and wiring rules meet their hard cases.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import StackConfig, validate
from components.event_driven.component import (
    CONSUMER_QUEUE_ACTIONS,
    DLQ_RETENTION_SECONDS,
    QUEUE_RETENTION_SECONDS,
    TABLE_ACTIONS,
    EventDriven,
    EventDrivenArgs,
)
from tests.conftest import run_with, skip_unless_enabled
from tools.offline import STACKS, Registered, Run, run_cached, run_program, stack_config, wired

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
RULE = "aws:cloudwatch/eventRule:EventRule"
BUS = "aws:cloudwatch/eventBus:EventBus"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TABLE = "aws:dynamodb/table:Table"

# Merged over the dev profile: `audit` is fed by a rule and a topic, `orderProcessing` by two
# rules, `everyOrder` also invokes a function directly and the topic invokes another.
RICH = {
    "enabled": True,
    "queues": {"audit": {"maxReceiveCount": 2}},
    "topics": {"orderNotifications": {"queues": ["audit"], "emails": ["ops@example.com"], "functions": ["notifier"]}},
    "functions": {
        "auditor": {"code": "order_processor", "memoryMb": 128, "timeoutSeconds": 7},
        "notifier": {"code": "order_processor", "memoryMb": 128, "timeoutSeconds": 5},
    },
    "rules": {
        "everyOrder": {
            "eventPattern": {"source": ["aws-patterns.orders"]},
            "targets": [{"queue": "audit"}, {"queue": "orderProcessing"}, {"function": "auditor"}],
        }
    },
}
_CONFIGS: dict[int, StackConfig] = {}  # id(run) -> the config it was built from


def rich_config() -> StackConfig:
    return validate({"environment": "dev", "eventDriven": RICH}, "us-east-1")


def _stack_config(stack: str) -> StackConfig:
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("aws-patterns:")}
    decoded = {k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()}
    return validate(decoded, stack_config(stack)["aws:region"])


_RUNS: dict[tuple[str, bool], Run] = {}


def _get_run(source: str, preview: bool) -> Run:
    if source != "rich":
        skip_unless_enabled(source, "eventDriven")
    key = (source, preview)
    if key not in _RUNS:
        if source == "rich":
            args = EventDrivenArgs.from_config(rich_config())
            _RUNS[key] = run_program("dev", preview, program=lambda: EventDriven("events", args))
        else:
            _RUNS[key] = run_cached(source, preview)
    run = _RUNS[key]
    _CONFIGS[id(run)] = rich_config() if source == "rich" else _stack_config(source)
    return run


def cfg_of(run: Run) -> StackConfig:
    return _CONFIGS[id(run)]


@pytest.fixture(
    params=[(s, p) for s in [*STACKS, "rich"] for p in (True, False)],
    ids=lambda sp: f"{sp[0]}-{'preview' if sp[1] else 'up'}",
)
def run(request: pytest.FixtureRequest) -> Run:
    """Each shipped stack (the whole program) and the rich config (the component), both modes."""
    return _get_run(*request.param)


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def rich(request: pytest.FixtureRequest) -> Run:
    return _get_run("rich", request.param)


@pytest.fixture(params=[(s, p) for s in STACKS for p in (True, False)], ids=lambda sp: f"{sp[0]}-{sp[1]}")
def shipped(request: pytest.FixtureRequest) -> Run:
    return _get_run(*request.param)


def _only(items: list[Registered], what: str) -> Registered:
    assert len(items) == 1, f"expected exactly one {what}, found {[i.name for i in items]}"
    return items[0]


def _mine(run: Run, type_: str) -> list[Registered]:
    """Resources of `type_` inside the event-driven component (other patterns may share the stack)."""
    return run.within("aws-patterns:eventDriven:EventDriven").by_type(type_)


def _failure_queue_of(run: Run, fn: Registered) -> Registered:
    """The queue `fn`'s asynchronous invocations hand failed events to."""
    (config,) = [c for c in _mine(run, INVOKE_CONFIG) if wired(c, "functionName", fn)]
    return _only([q for q in _mine(run, QUEUE) if wired(config, "destinationConfig", q)], f"failures of {fn.name}")


def _document(res: Registered) -> dict[str, Any]:
    return json.loads(res.inputs["policy"])


def _producers_of(run: Run, queue: Registered) -> list[tuple[str, Registered]]:
    """(service, source) for every rule target and topic subscription delivering to `queue`."""
    found = []
    for target in _mine(run, TARGET):
        if wired(target, "arn", queue) or wired(target, "deadLetterConfig", queue):
            rule = _only([r for r in _mine(run, RULE) if wired(target, "rule", r)], f"rule of {target.name}")
            found.append(("events.amazonaws.com", rule))
    for subscription in _mine(run, SUBSCRIPTION):
        if wired(subscription, "endpoint", queue):
            topic = _only([t for t in _mine(run, TOPIC) if wired(subscription, "topic", t)], "topic")
            found.append(("sns.amazonaws.com", topic))
    return found


# --- GUIDE §5 item 9: one policy per queue, with every producer's statement ---------------------


def test_every_queue_has_exactly_one_policy_holding_every_producer(run: Run) -> None:
    queues = _mine(run, QUEUE)
    assert queues
    for queue in queues:
        policy = _only([p for p in _mine(run, QUEUE_POLICY) if wired(p, "queueUrl", queue)], f"policy of {queue.name}")
        producers = _producers_of(run, queue)
        for _, source in producers:
            assert wired(policy, "policy", source), f"{queue.name}'s policy is not built from {source.name}'s ARN"
        if run.preview:
            continue
        statements = _document(policy)["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        assert sorted(
            (s["Principal"]["Service"], s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in allows
        ) == sorted((service, source.outputs["arn"]) for service, source in producers)
        for statement in allows:
            assert statement["Action"] == "sqs:SendMessage"
            assert statement["Resource"] == queue.outputs["arn"]
        (deny,) = [s for s in statements if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == queue.outputs["arn"]


def test_a_queue_fed_by_two_rules_and_one_fed_by_a_rule_and_a_topic_merge_into_one_policy(rich: Run) -> None:
    by_name = {q.name: q for q in _mine(rich, QUEUE)}
    assert sorted(s for s, _ in _producers_of(rich, by_name["orderProcessing"])) == ["events.amazonaws.com"] * 2
    assert sorted(s for s, _ in _producers_of(rich, by_name["audit"])) == ["events.amazonaws.com", "sns.amazonaws.com"]
    assert len(_mine(rich, QUEUE_POLICY)) == len(_mine(rich, QUEUE))


def test_producers_connect_only_after_the_policy_that_allows_them(run: Run) -> None:
    policies = _mine(run, QUEUE_POLICY)
    for target in _mine(run, TARGET):
        for queue in _mine(run, QUEUE):
            if wired(target, "arn", queue) or wired(target, "deadLetterConfig", queue):
                (policy,) = [p for p in policies if wired(p, "queueUrl", queue)]
                assert policy.urn in target.dependencies
    for subscription in _mine(run, SUBSCRIPTION):
        for queue in _mine(run, QUEUE):
            if wired(subscription, "endpoint", queue):
                (policy,) = [p for p in policies if wired(p, "queueUrl", queue)]
                assert policy.urn in subscription.dependencies


# --- targets on the custom bus ------------------------------------------------------------------


def test_every_rule_and_target_names_the_custom_bus(run: Run) -> None:
    bus = _only(_mine(run, BUS), "bus")
    assert _mine(run, TARGET)
    for res in [*_mine(run, RULE), *_mine(run, TARGET)]:
        assert wired(res, "eventBusName", bus), f"{res.name} is not on the custom bus"


def test_every_target_retries_and_has_its_own_dead_letter_queue(run: Run) -> None:
    retry = cfg_of(run).event_driven.retry_policy
    dlqs = []
    for target in _mine(run, TARGET):
        assert target.inputs["retryPolicy"] == {
            "maximumRetryAttempts": retry.maximum_retry_attempts,
            "maximumEventAgeInSeconds": retry.maximum_event_age_seconds,
        }
        (dlq,) = [q for q in _mine(run, QUEUE) if wired(target, "deadLetterConfig", q)]
        assert not wired(target, "arn", dlq)
        assert dlq.inputs["messageRetentionSeconds"] == DLQ_RETENTION_SECONDS
        dlqs.append(dlq.urn)
    assert len(set(dlqs)) == len(dlqs), "targets share a dead-letter queue"


def test_a_function_target_may_be_invoked_by_its_rule_only(rich: Run) -> None:
    (permission,) = [p for p in _mine(rich, PERMISSION) if p.inputs["principal"] == "events.amazonaws.com"]
    rule = rich.one(RULE, "everyOrder")
    fn = next(f for f in _mine(rich, FUNCTION) if f.name == "auditor")
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert wired(permission, "sourceArn", rule) and wired(permission, "function", fn)
    target = next(t for t in _mine(rich, TARGET) if wired(t, "arn", fn))
    assert permission.urn in target.dependencies


def test_rule_patterns_come_from_config(run: Run) -> None:
    rules = cfg_of(run).event_driven.rules
    assert {r.name: json.loads(r.inputs["eventPattern"]) for r in _mine(run, RULE)} == {
        name: rule.event_pattern for name, rule in rules.items()
    }


# --- queues: DLQ wiring, encryption, visibility --------------------------------------------------


def test_every_configured_queue_redrives_to_its_own_dead_letter_queue(run: Run) -> None:
    cfg = cfg_of(run).event_driven
    queues = {q.name: q for q in _mine(run, QUEUE)}
    for name, queue_cfg in cfg.queues.items():
        queue, dlq = queues[name], queues[f"{name}-dlq"]
        assert wired(queue, "redrivePolicy", dlq)
        assert queue.inputs["messageRetentionSeconds"] == QUEUE_RETENTION_SECONDS < DLQ_RETENTION_SECONDS
        assert dlq.inputs["messageRetentionSeconds"] == DLQ_RETENTION_SECONDS
        allow = next(
            p for p in _mine(run, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy") if wired(p, "queueUrl", dlq)
        )
        assert wired(allow, "redriveAllowPolicy", queue)
        if not run.preview:
            redrive = json.loads(queue.inputs["redrivePolicy"])
            assert redrive == {
                "deadLetterTargetArn": dlq.outputs["arn"],
                "maxReceiveCount": queue_cfg.max_receive_count,
            }
            assert json.loads(allow.inputs["redriveAllowPolicy"]) == {
                "redrivePermission": "byQueue",
                "sourceQueueArns": [queue.outputs["arn"]],
            }


def test_every_queue_uses_sse_sqs(run: Run) -> None:
    for queue in _mine(run, QUEUE):
        assert queue.inputs["sqsManagedSseEnabled"] is True
        assert "kmsMasterKeyId" not in queue.inputs, "EventBridge and SNS cannot send to the AWS-managed SQS key"


def test_visibility_timeout_is_six_times_the_consumer_timeout_plus_its_batching_window(run: Run) -> None:
    mappings = _mine(run, ESM)
    assert mappings
    for esm in mappings:
        queue = _only([q for q in _mine(run, QUEUE) if wired(esm, "eventSourceArn", q)], "consumed queue")
        fn = _only([f for f in _mine(run, FUNCTION) if wired(esm, "functionName", f)], "consumer")
        window = esm.inputs.get("maximumBatchingWindowInSeconds", 0)
        assert queue.inputs["visibilityTimeoutSeconds"] == 6 * fn.inputs["timeout"] + window
        assert esm.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]


def test_consumer_settings_come_from_config(run: Run) -> None:
    functions = cfg_of(run).event_driven.functions
    consumers = {name: fn for name, fn in functions.items() if fn.queue}
    assert sorted(e.name for e in _mine(run, ESM)) == sorted(consumers)
    for esm in _mine(run, ESM):
        fn_cfg = consumers[esm.name]
        assert esm.inputs["batchSize"] == fn_cfg.batch_size
        assert esm.inputs.get("maximumBatchingWindowInSeconds", 0) == fn_cfg.maximum_batching_window_seconds


# --- least privilege ----------------------------------------------------------------------------


def _role_policy_of(run: Run, fn: Registered) -> Registered:
    role = next(r for r in run.by_type("aws:iam/role:Role") if wired(fn, "role", r))
    return _only([p for p in run.by_type(ROLE_POLICY) if wired(p, "role", role)], f"policy of {fn.name}")


def test_consumers_may_only_consume_their_queue_and_write_their_table(run: Run) -> None:
    for esm in _mine(run, ESM):
        queue = next(q for q in _mine(run, QUEUE) if wired(esm, "eventSourceArn", q))
        fn = next(f for f in _mine(run, FUNCTION) if wired(esm, "functionName", f))
        policy = _role_policy_of(run, fn)
        assert policy.urn in esm.dependencies, "the mapping is created after its role may receive"
        table = _only([t for t in _mine(run, TABLE) if wired(fn, "environment", t)], f"{fn.name}'s table")
        assert wired(policy, "policy", queue) and wired(policy, "policy", table)
        if run.preview:
            continue
        statements = _document(policy)["Statement"]
        sqs = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
        dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
        assert [(sorted(s["Action"]), s["Resource"]) for s in sqs] == [
            (sorted(CONSUMER_QUEUE_ACTIONS), queue.outputs["arn"])
        ]
        assert [(sorted(s["Action"]), s["Resource"]) for s in dynamodb] == [
            (sorted(TABLE_ACTIONS), table.outputs["arn"])
        ]
        assert not any("*" in a for s in statements for a in s["Action"]), "no wildcard actions"
        wildcard = [s["Sid"] for s in statements if s["Resource"] == "*"]
        assert wildcard in ([], ["XRay"]), "only X-Ray has no resource scoping"


def test_a_function_without_queue_or_table_gets_neither(rich: Run) -> None:
    fn = next(f for f in _mine(rich, FUNCTION) if f.name == "auditor")
    policy = _role_policy_of(rich, fn)
    failures = _failure_queue_of(rich, fn)
    others = [q for q in _mine(rich, QUEUE) if q.urn != failures.urn]
    assert not any(wired(policy, "policy", r) for r in [*others, *_mine(rich, TABLE)])
    if not rich.preview:
        statements = _document(policy)["Statement"]
        assert not any(a.startswith("dynamodb:") for s in statements for a in s["Action"])
        sqs = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
        assert sqs == [{**sqs[0], "Action": ["sqs:SendMessage"], "Resource": failures.outputs["arn"]}]


# --- topics -------------------------------------------------------------------------------------


def test_topics_are_encrypted_with_a_key_event_bridge_may_use_for_them_only(run: Run) -> None:
    key = _only(_mine(run, "aws:kms/key:Key"), "topic key")
    assert key.inputs["enableKeyRotation"] is True
    key_policy = _only(_mine(run, "aws:kms/keyPolicy:KeyPolicy"), "key policy")
    assert wired(key_policy, "keyId", key)
    for topic in _mine(run, TOPIC):
        assert wired(topic, "kmsMasterKeyId", key)
        assert wired(key_policy, "policy", topic)
        policy = _only([p for p in _mine(run, TOPIC_POLICY) if wired(p, "arn", topic)], f"policy of {topic.name}")
        rules = [
            _only([r for r in _mine(run, RULE) if wired(t, "rule", r)], "rule")
            for t in _mine(run, TARGET)
            if wired(t, "arn", topic)
        ]
        for target in (t for t in _mine(run, TARGET) if wired(t, "arn", topic)):
            assert policy.urn in target.dependencies and key_policy.urn in target.dependencies
        if run.preview:
            continue
        statements = _document(policy)["Statement"]
        (deny,) = [s for s in statements if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        allows = [s for s in statements if s["Effect"] == "Allow"]
        assert sorted(s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in allows) == sorted(
            r.outputs["arn"] for r in rules
        )
        assert all(s["Principal"] == {"Service": "events.amazonaws.com"} for s in allows)
        (events,) = [
            s for s in _document(key_policy)["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}
        ]
        assert topic.outputs["arn"] in events["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"]


def test_queue_subscriptions_use_raw_delivery_and_email_ones_do_not(rich: Run) -> None:
    subscriptions = _mine(rich, SUBSCRIPTION)
    assert sorted(s.inputs["protocol"] for s in subscriptions) == ["email", "lambda", "sqs"]
    for subscription in subscriptions:
        assert bool(subscription.inputs.get("rawMessageDelivery")) == (subscription.inputs["protocol"] == "sqs")


def test_a_topic_invokes_its_function_subscribers_through_a_permission_scoped_to_it(rich: Run) -> None:
    topic = rich.one(TOPIC, "orderNotifications")
    fn = next(f for f in _mine(rich, FUNCTION) if f.name == "notifier")
    (subscription,) = [s for s in _mine(rich, SUBSCRIPTION) if s.inputs["protocol"] == "lambda"]
    (permission,) = [p for p in _mine(rich, PERMISSION) if p.inputs["principal"] == "sns.amazonaws.com"]
    assert wired(subscription, "topic", topic) and wired(subscription, "endpoint", fn)
    assert wired(permission, "sourceArn", topic) and wired(permission, "function", fn)
    assert permission.urn in subscription.dependencies
    if not rich.preview:
        assert permission.inputs["sourceArn"] == topic.outputs["arn"]
        assert subscription.inputs["endpoint"] == fn.outputs["arn"]


# --- GUIDE §5 item 17: nothing dropped after Lambda's asynchronous retries ------------------------


def test_every_asynchronously_invoked_function_sends_failures_to_an_alarmed_queue_first(run: Run) -> None:
    functions = _mine(run, FUNCTION)
    invokers = {
        fn.urn: [
            *[t for t in _mine(run, TARGET) if wired(t, "arn", fn)],
            *[s for s in _mine(run, SUBSCRIPTION) if wired(s, "endpoint", fn)],
        ]
        for fn in functions
    }
    configs = _mine(run, INVOKE_CONFIG)
    for fn in functions:
        mine = [c for c in configs if wired(c, "functionName", fn)]
        if not invokers[fn.urn]:
            assert mine == [], f"{fn.name} is only polled from its queue"
            continue
        (config,) = mine
        failures = _failure_queue_of(run, fn)
        assert failures.inputs["sqsManagedSseEnabled"] is True
        for invoker in invokers[fn.urn]:
            assert config.urn in invoker.dependencies, f"{invoker.name} may invoke {fn.name} before failures are kept"


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_the_stack_alarms_on_every_function_failure_queue(preview: bool) -> None:
    run = run_with("dev", {"eventDriven": RICH}, preview=preview)
    queues = [_failure_queue_of(run, f) for f in _mine(run, FUNCTION) if f.name in ("auditor", "notifier")]
    assert len(queues) == 2
    for queue in queues:
        (alarm,) = [a for a in run.by_type("aws:cloudwatch/metricAlarm:MetricAlarm") if wired(a, "dimensions", queue)]
        assert alarm.inputs["metricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm.inputs["threshold"] == 0, "one failed event is worth a look"


# --- stateful resources, archive, outputs -------------------------------------------------------


def test_tables_list_only_key_attributes_and_follow_the_protection_switches(shipped: Run) -> None:
    common = cfg_of(shipped).common
    (component,) = _mine(shipped, "aws-patterns:eventDriven:EventDriven")
    tables = [t for t in _mine(shipped, TABLE) if t.parent == component.urn]
    assert tables
    for table in tables:
        keys = {table.inputs["hashKey"], table.inputs.get("rangeKey")} - {None}
        assert {a["name"] for a in table.inputs["attributes"]} == keys
        assert table.protect is common.protect_stateful_resources
        assert table.inputs["deletionProtectionEnabled"] is common.deletion_protection
        assert table.inputs["ttl"] == {"attributeName": "expiration", "enabled": True}
        assert table.inputs["serverSideEncryption"] == {"enabled": True}, "a key whose use CloudTrail records"


def test_archive_keeps_every_event_of_the_bus_for_the_configured_days(shipped: Run) -> None:
    cfg = cfg_of(shipped)
    archive = _only(_mine(shipped, "aws:cloudwatch/eventArchive:EventArchive"), "archive")
    assert wired(archive, "eventSourceArn", _only(_mine(shipped, BUS), "bus"))
    assert "eventPattern" not in archive.inputs
    assert archive.inputs["retentionDays"] == cfg.event_driven.archive_retention_days
    assert archive.protect is cfg.common.protect_stateful_resources


def test_outputs_name_the_bus_queues_and_functions(shipped: Run) -> None:
    exported = shipped.outputs["eventDriven"]
    bus = _mine(shipped, BUS)[0]
    queues = {q.name: q for q in _mine(shipped, QUEUE)}
    if shipped.preview:
        assert set(exported["queueUrls"]) == set(cfg_of(shipped).event_driven.queues)
        return
    assert exported["busName"] == bus.outputs["name"]
    assert exported["queueUrls"] == {n: queues[n].outputs["url"] for n in cfg_of(shipped).event_driven.queues}
    assert exported["deadLetterQueueUrls"] == {
        n: queues[f"{n}-dlq"].outputs["url"] for n in cfg_of(shipped).event_driven.queues
    }


# --- with the microservices pattern: the whole flow in one plan ---------------------------------


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_orders_publish_to_this_bus_only_and_the_flow_reaches_the_processor(preview: bool) -> None:
    run = run_with("dev", {"microservices": {"enabled": True}, "eventDriven": {"enabled": True}}, preview=preview)
    bus = _only(_mine(run, BUS), "bus")
    publishers = [f for f in run.by_type(FUNCTION) if wired(f, "environment", bus)]
    orders = _only(publishers, "function publishing to the bus")
    policy = _role_policy_of(run, orders)
    assert wired(policy, "policy", bus)
    if not preview:
        assert orders.inputs["environment"]["variables"]["EVENT_BUS_NAME"] == bus.outputs["name"]
        statements = _document(policy)["Statement"]
        put = [s for s in statements if "events:PutEvents" in s["Action"]]
        assert [s["Resource"] for s in put] == [bus.outputs["arn"]]
    # Orders -> bus -> rule (matching what orders publish) -> queue -> mapping -> processor.
    rule = run.one(RULE, "orderCreated")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern == {"source": ["aws-patterns.orders"], "detail-type": ["OrderCreated"]}
    (queue,) = [
        q for q in _mine(run, QUEUE) for t in _mine(run, TARGET) if wired(t, "rule", rule) and wired(t, "arn", q)
    ]
    esm = _only([e for e in _mine(run, ESM) if wired(e, "eventSourceArn", queue)], "consumer of the queue")
    processor = _only([f for f in _mine(run, FUNCTION) if wired(esm, "functionName", f)], "processor")
    assert processor.name == "orderProcessor"
