"""The event-driven pattern: a custom EventBridge bus, rules, SQS queues, SNS topics, consumers.

What it creates, from the `eventDriven` config block:
- a custom bus with an archive (so past events can be replayed) kept `archiveRetentionDays`, or
  nothing of the bus when it borrows one (`existingBus`: by name, ARN or another stack's output;
  an archive of a borrowed bus only when asked, since it would hold every producer's events);
- per rule: the rule on the bus and one target per configured queue, topic or function, each
  with the block's retry policy and its own dead-letter queue for events EventBridge gave up on;
- per queue: the queue and its dead-letter queue (`maxReceiveCount` receives, then the DLQ);
- per topic: a KMS-encrypted topic and its subscriptions (queues with raw delivery, emails);
- per function: a PythonFunction (and its own DynamoDB table when asked); a function with a
  `queue` consumes it through an event source mapping that reports partial batch failures; a
  function a rule targets or a topic invokes gets an on-failure queue.

AWS rules this module guards (each proved in tests/test_event_driven.py):
- A queue has exactly one access policy, so every producer's statement (the EventBridge rule or
  SNS topic, matched on `aws:SourceArn`) is collected first and written in one QueuePolicy per
  queue; the same holds for topics. A second QueuePolicy would silently replace the first.
- Targets on a custom bus must name the bus (`event_bus_name`), or the provider looks for the
  rule on the default bus.
- A consumed queue's visibility timeout is derived: 6 x the function's timeout + the batching
  window (AWS's recommendation; anything below the timeout makes the mapping fail).
- Queues use SSE-SQS: EventBridge and SNS cannot send to a queue encrypted with the AWS-managed
  KMS key, whose key policy nobody can extend to them. SNS has no such option, so topics use a
  customer-managed key whose policy lets EventBridge encrypt for exactly these topics.
- EventBridge and SNS invoke functions asynchronously: once Lambda's own retries are used up the
  event is dropped, unless the function has an on-failure destination. Such functions get one
  (an alarmed SSE-SQS queue, components/functions.py), and their rule targets and topic
  subscriptions are created after it, with a permission scoped to the rule's or topic's ARN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components import policies
from components.defaults import NAMESPACE
from components.event_driven import config as schema
from components.functions import FunctionSettings, PythonFunction, PythonFunctionArgs
from components.naming import caller_account, name_tag, partition
from components.observability import Monitored, Rule
from components.references import EventBusRef, StackReferences
from components.schema import ConfigError

if TYPE_CHECKING:
    from components.config import StackConfig

# SQS keeps messages 4 days by default. Dead-letter queues keep them the maximum, 14 days: a
# standard queue keeps a message's original enqueue time when it moves, so a DLQ with the same
# retention would drop a message that spent days failing almost as soon as it arrived.
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# DynamoDB's TTL attribute; Powertools idempotency writes its record expiry there.
TTL_ATTRIBUTE = "expiration"
METRICS_NAMESPACE = NAMESPACE
# What an SQS event source mapping needs on its queue (AWSLambdaSQSQueueExecutionRole's actions).
CONSUMER_QUEUE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
# What Powertools idempotency and a conditional write need on the function's own table.
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


def visibility_timeout(function_timeout: int, batching_window: int) -> int:
    """AWS's recommended visibility for a queue feeding Lambda: 6 x timeout + batching window."""
    return 6 * function_timeout + batching_window


@dataclass(frozen=True)
class BorrowedBus:
    """A bus the pattern attaches to instead of creating one (`eventDriven.existingBus`)."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str] | None  # None: this account's bus of that name, in the stack's region
    default: bool  # the account's default bus, whose rule metrics carry no EventBusName dimension
    archive: bool


@dataclass(frozen=True)
class EventDrivenArgs:
    settings: schema.EventDrivenConfig
    functions: FunctionSettings
    protect: bool = False
    deletion_protection: bool = False
    existing_bus: BorrowedBus | None = None

    @classmethod
    def from_config(cls, cfg: StackConfig, references: StackReferences | None = None) -> EventDrivenArgs:
        """`references` reads a bus from another stack (`existingBus.stackReference`)."""
        return cls(
            settings=cfg.event_driven,
            functions=FunctionSettings.from_config(cfg),
            protect=cfg.common.protect_stateful_resources,
            deletion_protection=cfg.common.deletion_protection,
            existing_bus=borrowed_bus(cfg, references),
        )


def borrowed_bus(cfg: StackConfig, references: StackReferences | None) -> BorrowedBus | None:
    """The bus `eventDriven.existingBus` names; one read from another stack is checked here,
    before this stack registers anything but the StackReference (a read)."""
    bus = cfg.event_driven.existing_bus
    if bus is None:
        return None
    if bus.arn is not None:
        name = schema.BUS_ARN.fullmatch(bus.arn).group("name")  # type: ignore[union-attr]
        return BorrowedBus(name, bus.arn, name == schema.DEFAULT_BUS, bus.archive)
    if bus.name is not None:
        return BorrowedBus(bus.name, None, bus.name == schema.DEFAULT_BUS, bus.archive)
    assert bus.stack_reference is not None and references is not None, "validated: one source; main passes references"
    key = "eventDriven.existingBus.stackReference"
    source = references.output(bus.stack_reference, "eventDriven", key)
    value = source.value if isinstance(source.value, dict) else {}
    name, arn = value.get("busName"), value.get("busArn")
    match = schema.BUS_ARN.fullmatch(arn) if isinstance(arn, str) else None
    where = f"{NAMESPACE}:{key}: the eventDriven output of {source.stack!r}"
    if match is None or match.group("name") != name:
        raise ConfigError(f"{where} needs busName and the busArn of that bus (got {value!r:.200})")
    if match.group("region") != cfg.region:
        raise ConfigError(
            f"{where} is a bus in {match.group('region')}, the stack is in aws:region {cfg.region}; "
            "EventBridge attaches rules only to a bus of their own region"
        )
    return BorrowedBus(source.get("busName"), source.get("busArn"), name == schema.DEFAULT_BUS, bus.archive)


@dataclass(frozen=True)
class _Target:
    """A rule target, created once the policies that let EventBridge deliver to it exist."""

    rule: str
    kind: str
    name: str
    dead_letter_queue: str  # logical name of its DLQ
    permission: aws.lambda_.Permission | None = None

    @property
    def target_id(self) -> str:
        return f"{self.kind}-{self.name}"


class EventDriven(pulumi.ComponentResource):
    """Custom bus + archive, rules with retrying targets, queues with DLQs, topics, consumers."""

    bus: aws.cloudwatch.EventBus | None  # None: the bus is borrowed
    bus_ref: EventBusRef  # the bus the rules are on, created or borrowed
    archive: aws.cloudwatch.EventArchive | None
    rules: dict[str, aws.cloudwatch.EventRule]
    targets: dict[str, aws.cloudwatch.EventTarget]  # keyed "<rule>/<kind>-<name>"
    queues: dict[str, aws.sqs.Queue]
    dead_letter_queues: dict[str, aws.sqs.Queue]  # per queue: where SQS moves poison messages
    target_dead_letter_queues: dict[str, aws.sqs.Queue]  # per target: events EventBridge gave up on
    queue_policies: dict[str, aws.sqs.QueuePolicy]  # one per queue above, keyed by logical name
    topics: dict[str, aws.sns.Topic]
    topic_policies: dict[str, aws.sns.TopicPolicy]
    topic_key: aws.kms.Key | None
    topic_key_policy: aws.kms.KeyPolicy | None
    functions: dict[str, PythonFunction]
    tables: dict[str, aws.dynamodb.Table]
    event_source_mappings: dict[str, aws.lambda_.EventSourceMapping]

    def __init__(self, name: str, args: EventDrivenArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:eventDriven:EventDriven", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        cfg = args.settings
        self._account = caller_account(self)
        # Every queue by logical name, and the statements its single policy will hold.
        self._sqs_queues: dict[str, aws.sqs.Queue] = {}
        self._queue_statements: dict[str, list[dict[str, Any]]] = {}
        self._topic_statements: dict[str, list[dict[str, Any]]] = {}

        borrowed = args.existing_bus
        if borrowed is None:
            self.bus = aws.cloudwatch.EventBus("bus", tags=name_tag("events"), opts=self._child)
            self.bus_ref = EventBusRef(self.bus.name, self.bus.arn)
        else:
            self.bus = None
            self.bus_ref = EventBusRef(borrowed.name, borrowed.arn or self._arn_of_bus(borrowed.name))
        self._default_bus = borrowed is not None and borrowed.default
        self.archive = None
        if borrowed is None or borrowed.archive:
            self.archive = aws.cloudwatch.EventArchive(
                "archive",
                event_source_arn=self.bus_ref.arn,
                retention_days=cfg.archive_retention_days,
                description="Every event on the bus, kept for replay",
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )

        consumer_of = {fn.queue: fn for fn in cfg.functions.values() if fn.queue}
        self.queues, self.dead_letter_queues = {}, {}
        for queue_name, queue_cfg in cfg.queues.items():
            self._queue(queue_name, queue_cfg, consumer_of.get(queue_name))

        self.topic_key = self._topic_key() if cfg.topics else None
        self.topic_key_policy = None
        self.topics = {}
        for topic_name, topic_cfg in cfg.topics.items():
            self._topic(topic_name, topic_cfg)

        self.tables = {}
        invoked_asynchronously = {
            *(t.function for rule in cfg.rules.values() for t in rule.targets if t.function),
            *(f for topic in cfg.topics.values() for f in topic.functions),
        }
        self.functions = {
            f: self._function(f, fn_cfg, args, asynchronous=f in invoked_asynchronously)
            for f, fn_cfg in cfg.functions.items()
        }
        self.event_source_mappings = {f: self._consumer(f, c) for f, c in cfg.functions.items() if c.queue}

        self.rules, self.target_dead_letter_queues = {}, {}
        pending = [t for rule_name, rule_cfg in cfg.rules.items() for t in self._rule(rule_name, rule_cfg)]

        # Every producer is known now: write each queue's and topic's one policy, then connect
        # the producers, so nothing is delivered before it is allowed.
        self.queue_policies = {q: self._queue_policy(q) for q in self._sqs_queues}
        self.topic_policies = self._topic_policies() if self.topic_key is not None else {}
        self.targets = {f"{t.rule}/{t.target_id}": self._target(t, cfg.retry_policy) for t in pending}
        for topic_name, topic_cfg in cfg.topics.items():
            self._subscriptions(topic_name, topic_cfg)

        self.register_outputs(
            {
                "busName": self.bus_ref.name,
                "busArn": self.bus_ref.arn,
                "queueUrls": {q: queue.url for q, queue in self.queues.items()},
                "deadLetterQueueUrls": {q: queue.url for q, queue in self.dead_letter_queues.items()},
                "topicArns": {t: topic.arn for t, topic in self.topics.items()},
                "functionNames": {f: fn.function.name for f, fn in self.functions.items()},
            }
        )

    def monitored(self) -> Monitored:
        """What of this pattern gets alarms and a dashboard section (components/observability.py)."""
        return Monitored(
            "Event-driven",
            functions={name: fn.function for name, fn in self.functions.items()},
            queues=dict(self.queues),
            dead_letter_queues={
                **{f"{q}-dlq": dlq for q, dlq in self.dead_letter_queues.items()},
                **{f"{t.replace('/', '-')}-dlq": dlq for t, dlq in self.target_dead_letter_queues.items()},
                # Events a function failed on after Lambda's retries (rule targets, topic subscribers).
                **{f"{f}-failures": fn.failure_queue for f, fn in self.functions.items() if fn.failure_queue},
            },
            rules={
                name: Rule(rule, None if self._default_bus else self.bus_ref.name) for name, rule in self.rules.items()
            },
            tables=dict(self.tables),
        )

    def _arn_of_bus(self, name: pulumi.Input[str]) -> pulumi.Output[str]:
        """The ARN of this account's bus `name` in the provider's region."""
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        return pulumi.Output.concat(
            "arn:", partition(self), ":events:", region, ":", self._account, ":event-bus/", name
        )

    # --- queues --------------------------------------------------------------------------------

    def _sqs(self, logical: str, **kwargs: Any) -> aws.sqs.Queue:
        # SSE-SQS rather than KMS: EventBridge and SNS can send to it with no key policy at all,
        # whereas a queue under the AWS-managed SQS key refuses them (that key's policy cannot be
        # changed) and a customer-managed key would need a policy naming both services.
        queue = aws.sqs.Queue(
            logical, sqs_managed_sse_enabled=True, tags=name_tag("events", logical), opts=self._child, **kwargs
        )
        self._sqs_queues[logical] = queue
        self._queue_statements[logical] = []
        return queue

    def _queue(self, name: str, queue_cfg: schema.EventQueue, consumer: schema.EventFunction | None) -> None:
        dlq = self._sqs(f"{name}-dlq", message_retention_seconds=DLQ_RETENTION_SECONDS)
        extra: dict[str, Any] = {}
        if consumer is not None:
            extra["visibility_timeout_seconds"] = visibility_timeout(
                consumer.timeout_seconds, consumer.maximum_batching_window_seconds
            )
        queue = self._sqs(
            name,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": queue_cfg.max_receive_count}
            ),
            **extra,
        )
        # Only this queue may move messages into the DLQ.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq",
            queue_url=dlq.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}
            ),
            opts=self._child,
        )
        self.queues[name] = queue
        self.dead_letter_queues[name] = dlq

    def _allow_send(self, logical: str, service: str, source_arn: pulumi.Output[str], sid: str) -> None:
        self._queue_statements[logical].append(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": self._sqs_queues[logical].arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        )

    def _queue_policy(self, logical: str) -> aws.sqs.QueuePolicy:
        queue = self._sqs_queues[logical]
        statements = [policies.tls_only(queue.arn, "sqs:*"), *self._queue_statements[logical]]
        return aws.sqs.QueuePolicy(logical, queue_url=queue.url, policy=policies.document(statements), opts=self._child)

    # --- topics --------------------------------------------------------------------------------

    def _topic_key(self) -> aws.kms.Key:
        # Its policy is a separate KeyPolicy written once the topics exist, so it can name them;
        # until then the key has AWS's default policy (this account only).
        return aws.kms.Key(
            "topics",
            description="Encrypts the event-driven pattern's SNS topics",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=name_tag("events", "topics"),
            opts=self._child,
        )

    def _topic(self, name: str, topic_cfg: schema.EventTopic) -> None:
        assert self.topic_key is not None
        topic = aws.sns.Topic(
            name, kms_master_key_id=self.topic_key.arn, tags=name_tag("events", name), opts=self._child
        )
        self.topics[name] = topic
        self._topic_statements[name] = []
        for queue_name in topic_cfg.queues:
            self._allow_send(queue_name, "sns.amazonaws.com", topic.arn, f"FromTopic{_pascal(name)}")

    def _subscriptions(self, name: str, topic_cfg: schema.EventTopic) -> None:
        topic = self.topics[name]
        for queue_name in topic_cfg.queues:
            aws.sns.TopicSubscription(
                f"{name}-{queue_name}",
                topic=topic.arn,
                protocol="sqs",
                endpoint=self.queues[queue_name].arn,
                # The queue gets the event itself, exactly as from an EventBridge target.
                raw_message_delivery=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.queue_policies[queue_name]]),
            )
        for i, email in enumerate(topic_cfg.emails):
            # Stays pending until the recipient confirms it; not raw, people read these.
            aws.sns.TopicSubscription(
                f"{name}-email-{i}", topic=topic.arn, protocol="email", endpoint=email, opts=self._child
            )
        for function_name in topic_cfg.functions:
            fn = self.functions[function_name]
            permission = aws.lambda_.Permission(
                f"{name}-{function_name}",
                action="lambda:InvokeFunction",
                function=fn.function.name,
                principal="sns.amazonaws.com",
                # This topic only: any other topic, even of this account, is refused.
                source_arn=topic.arn,
                opts=self._child,
            )
            aws.sns.TopicSubscription(
                f"{name}-{function_name}",
                topic=topic.arn,
                protocol="lambda",
                endpoint=fn.function.arn,
                # Nothing is delivered before it may be, nor before failures have somewhere to go.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[permission, fn.invoke_config]),
            )

    def _topic_policies(self) -> dict[str, aws.sns.TopicPolicy]:
        assert self.topic_key is not None
        statements: list[dict[str, Any]] = [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": pulumi.Output.concat("arn:aws:iam::", self._account, ":root")},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        published = [self.topics[t].arn for t, s in self._topic_statements.items() if s]
        if published:
            # EventBridge encrypts what it publishes with the topic's key. SNS always puts the
            # topic's ARN in the encryption context, which confines this grant to these topics.
            statements.append(
                {
                    "Sid": "EventBridgePublishesToTheseTopics",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": published}},
                }
            )
        self.topic_key_policy = aws.kms.KeyPolicy(
            "topics",
            key_id=self.topic_key.id,
            policy=policies.document(statements),
            opts=self._child,
        )
        topic_policies = {}
        for name, producers in self._topic_statements.items():
            topic = self.topics[name]
            statements = [policies.tls_only(topic.arn, "sns:Publish"), *producers]
            topic_policies[name] = aws.sns.TopicPolicy(
                name, arn=topic.arn, policy=policies.document(statements), opts=self._child
            )
        return topic_policies

    # --- functions -----------------------------------------------------------------------------

    def _function(
        self, name: str, fn_cfg: schema.EventFunction, args: EventDrivenArgs, asynchronous: bool
    ) -> PythonFunction:
        statements: list[dict[str, Any]] = []
        environment: dict[str, pulumi.Input[str]] = {"POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}
        if fn_cfg.queue:
            statements.append(
                {
                    "Sid": "ConsumeOwnQueue",
                    "Effect": "Allow",
                    "Action": CONSUMER_QUEUE_ACTIONS,
                    "Resource": self.queues[fn_cfg.queue].arn,
                }
            )
        if fn_cfg.table:
            table = aws.dynamodb.Table(
                name,
                billing_mode="PAY_PER_REQUEST",
                hash_key="pk",
                attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
                ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
                # Restorable to any second of the last 35 days wherever the stack protects its state.
                point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=args.protect),
                deletion_protection_enabled=args.deletion_protection,
                # The AWS-managed key (no monthly fee): unlike the default AWS-owned key, CloudTrail records its use.
                server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
                tags=name_tag("events", name),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            self.tables[name] = table
            statements.append({"Sid": "OwnTable", "Effect": "Allow", "Action": TABLE_ACTIONS, "Resource": table.arn})
            environment["TABLE_NAME"] = table.name
        return PythonFunction(
            name,
            PythonFunctionArgs(
                code_dir=fn_cfg.code,
                settings=args.functions,
                memory_mb=fn_cfg.memory_mb,
                timeout_s=fn_cfg.timeout_seconds,
                environment=environment,
                statements=statements,
                description=f"eventDriven.functions.{name}",
                asynchronous=asynchronous,
            ),
            opts=self._child,
        )

    def _consumer(self, name: str, fn_cfg: schema.EventFunction) -> aws.lambda_.EventSourceMapping:
        assert fn_cfg.queue is not None
        fn = self.functions[name]
        return aws.lambda_.EventSourceMapping(
            name,
            event_source_arn=self.queues[fn_cfg.queue].arn,
            function_name=fn.function.arn,
            batch_size=fn_cfg.batch_size,
            maximum_batching_window_in_seconds=fn_cfg.maximum_batching_window_seconds,
            # Only the failed messages of a batch return to the queue.
            function_response_types=["ReportBatchItemFailures"],
            tags=name_tag("events", name),
            # Lambda checks that the role may receive from the queue when the mapping is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[fn.policy]),
        )

    # --- rules and targets ---------------------------------------------------------------------

    def _rule(self, name: str, rule_cfg: schema.EventRule) -> list[_Target]:
        rule = aws.cloudwatch.EventRule(
            name,
            event_bus_name=self.bus_ref.name,
            description=rule_cfg.description,
            event_pattern=json.dumps(rule_cfg.event_pattern),
            tags=name_tag("events", name),
            opts=self._child,
        )
        self.rules[name] = rule
        pending = []
        for target_cfg in rule_cfg.targets:
            kind, target_name = target_cfg.kind_and_name
            dlq_name = f"{name}-{kind}-{target_name}-dlq"
            dlq = self._sqs(dlq_name, message_retention_seconds=DLQ_RETENTION_SECONDS)
            self.target_dead_letter_queues[f"{name}/{kind}-{target_name}"] = dlq
            self._allow_send(dlq_name, "events.amazonaws.com", rule.arn, f"FromRule{_pascal(name)}")
            permission = None
            if kind == "queue":
                self._allow_send(target_name, "events.amazonaws.com", rule.arn, f"FromRule{_pascal(name)}")
            elif kind == "topic":
                self._topic_statements[target_name].append(
                    {
                        "Sid": f"FromRule{_pascal(name)}",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": self.topics[target_name].arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
                    }
                )
            else:
                permission = aws.lambda_.Permission(
                    f"{name}-{target_name}",
                    action="lambda:InvokeFunction",
                    function=self.functions[target_name].function.name,
                    principal="events.amazonaws.com",
                    # EventBridge's permission is scoped to the rule's ARN.
                    source_arn=rule.arn,
                    opts=self._child,
                )
            target = _Target(rule=name, kind=kind, name=target_name, dead_letter_queue=dlq_name, permission=permission)
            pending.append(target)
        return pending

    def _target(self, target: _Target, retry: schema.EventRetryPolicy) -> aws.cloudwatch.EventTarget:
        depends_on: list[pulumi.Resource] = [self.queue_policies[target.dead_letter_queue]]
        if target.kind == "queue":
            arn = self.queues[target.name].arn
            depends_on.append(self.queue_policies[target.name])
        elif target.kind == "topic":
            arn = self.topics[target.name].arn
            depends_on += [self.topic_policies[target.name], self.topic_key_policy]
        else:
            fn = self.functions[target.name]
            arn = fn.function.arn
            assert target.permission is not None and fn.invoke_config is not None
            # Invoked asynchronously: its failures need somewhere to go before the first event.
            depends_on += [target.permission, fn.invoke_config]
        return aws.cloudwatch.EventTarget(
            f"{target.rule}-{target.target_id}",
            rule=self.rules[target.rule].name,
            # Without the bus name the provider looks for the rule on the default bus.
            event_bus_name=self.bus_ref.name,
            target_id=target.target_id,
            arn=arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=retry.maximum_retry_attempts,
                maximum_event_age_in_seconds=retry.maximum_event_age_seconds,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(
                arn=self._sqs_queues[target.dead_letter_queue].arn
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]
