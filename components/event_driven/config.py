"""The `eventDriven` config block: bus, rules, queues, topics and consumers."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from components.schema import CROSS_FIELD, EMAIL, Model, StackName, has_handler, unique

# EventBridge's own limits: five targets per rule; retries up to 185 attempts within 1 min-24 h.
EVENT_RULE_MAX_TARGETS = 5
# Names of event-driven queues, topics, functions and rules become logical (and, with Pulumi's
# suffix, physical) names; 24 characters keeps "<rule>-function-<name>-dlq" inside SQS's 80.
_EVENT_NAME = r"^[a-z][a-zA-Z0-9]{0,23}$"
EventName = Annotated[str, Field(pattern=_EVENT_NAME)]


def _event_pattern(value: dict[str, Any], path: str = "") -> dict[str, Any]:
    """EventBridge accepts only objects whose leaves are non-empty arrays; a bare string fails at deploy."""
    if not value:
        raise ValueError(f"{path or 'the pattern'} must not be empty")
    for key, inner in value.items():
        where = f"{path}.{key}" if path else key
        if isinstance(inner, dict):
            _event_pattern(inner, where)
        elif not isinstance(inner, list) or not inner:
            raise ValueError(f"{where} must be a non-empty list of values or matchers (got {inner!r:.60})")
    return value


def _without_removed(value: dict[str, Any]) -> dict[str, Any]:
    """A stack removes a profile's queue, topic, function or rule by setting it to null."""
    return {k: v for k, v in value.items() if v is not None}


class EventRetryPolicy(Model):
    maximum_retry_attempts: int = Field(ge=0, le=185)
    """How often EventBridge retries a target before the event goes to that target's dead-letter queue."""
    maximum_event_age_seconds: int = Field(ge=60, le=86400)
    """How long EventBridge keeps retrying a target, in seconds."""


class EventRuleTarget(Model):
    """Exactly one of a queue, a topic or a function of this block."""

    queue: EventName | None = None
    """A queue of `eventDriven.queues`."""
    topic: EventName | None = None
    """A topic of `eventDriven.topics`."""
    function: EventName | None = None
    """A function of `eventDriven.functions`; it gets a permission whose source is the rule's ARN."""

    @model_validator(mode="after")
    def _exactly_one(self) -> EventRuleTarget:
        if sum(x is not None for x in (self.queue, self.topic, self.function)) != 1:
            raise ValueError("set exactly one of queue, topic or function")
        return self

    @property
    def kind_and_name(self) -> tuple[str, str]:
        for kind in ("queue", "topic", "function"):
            name = getattr(self, kind)
            if name is not None:
                return kind, name
        raise AssertionError("validated to have one target")


class EventRule(Model):
    description: str = Field(default="", max_length=512)
    """The rule's description."""
    event_pattern: Annotated[dict[str, Any], AfterValidator(_event_pattern)]
    """EventBridge event pattern: an object whose every leaf is a non-empty list of values or matchers."""
    targets: list[EventRuleTarget] = Field(min_length=1, max_length=EVENT_RULE_MAX_TARGETS)
    """Where matching events go: 1-5 of `{queue: <name>}`, `{topic: <name>}` or `{function: <name>}`, each given the
    retry policy and a dead-letter queue of its own."""


class EventQueue(Model):
    # Receives before SQS moves a message to the queue's dead-letter queue.
    max_receive_count: int = Field(ge=1, le=1000)
    """Receives of one message before SQS moves it to the queue's dead-letter queue."""


class EventTopic(Model):
    # Queues subscribed with raw delivery (they receive the event itself, not an SNS envelope).
    queues: Annotated[list[EventName], AfterValidator(unique)] = Field(default_factory=list)
    """Queues of `eventDriven.queues` subscribed with raw delivery (they receive the event itself, not an SNS
    envelope)."""
    emails: Annotated[list[Annotated[str, Field(pattern=EMAIL, max_length=254)]], AfterValidator(unique)] = Field(
        default_factory=list
    )
    """Addresses subscribed by email (pending until each confirms)."""
    functions: Annotated[list[EventName], AfterValidator(unique)] = Field(default_factory=list)
    """Functions (keys of eventDriven.functions) subscribed to the topic. SNS invokes them
    asynchronously: after Lambda's retries a failed message goes to the function's on-failure
    queue, which is alarmed."""


class EventFunction(Model):
    """A function of lambdas/<code>/; with `queue` it consumes that queue in batches."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    """Folder under `lambdas/` holding the function's `app.py`."""
    memory_mb: int = Field(ge=128, le=10240)
    """Memory in MB."""
    timeout_seconds: int = Field(ge=1, le=900)
    """Timeout in seconds; the visibility timeout of the queue it consumes is derived from it (6 x timeout + batching
    window)."""
    queue: EventName | None = None
    """The queue of `eventDriven.queues` the function consumes (a queue has one consumer); unset, a rule can target
    the function instead."""
    batch_size: int = Field(default=10, ge=1, le=10000)
    """Messages per invocation; above 10 needs a batching window of at least 1 s."""
    maximum_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    """Seconds Lambda may wait to fill a batch."""
    table: bool = False
    """Give the function its own DynamoDB table (`TABLE_NAME`; it also holds the function's idempotency records)."""

    @model_validator(mode="after")
    def _batching(self) -> EventFunction:
        # Lambda refuses an SQS batch size above 10 unless a batching window is set.
        if self.batch_size > 10 and self.maximum_batching_window_seconds < 1:
            raise ValueError(
                f"{CROSS_FIELD}batchSize: {self.batch_size} needs maximumBatchingWindowSeconds of at least 1 "
                "(Lambda allows batches above 10 SQS messages only with a batching window)"
            )
        return self


# EventBridge bus names (partner buses contain slashes) and bus ARNs, whose resource is
# `event-bus/<name>`.
_BUS_NAME = r"[A-Za-z0-9._/-]{1,256}"
BUS_ARN = re.compile(rf"^arn:aws[a-z-]*:events:(?P<region>[a-z0-9-]+):\d{{12}}:event-bus/(?P<name>{_BUS_NAME})$")
DEFAULT_BUS = "default"


class ExistingBus(Model):
    """A bus the pattern attaches its rules to instead of creating one (Solutions Constructs'
    existingEventBusInterface): by name, by ARN, or from another stack's `eventDriven` output.

    EventBridge keeps a rule in its bus's account and region, so the bus must be in this stack's
    account and region.
    """

    name: Annotated[str, Field(pattern=rf"^{_BUS_NAME}$")] | None = None
    """The bus's name (`default` is the account's default bus)."""
    arn: Annotated[str, Field(pattern=BUS_ARN.pattern)] | None = None
    """The bus's ARN."""
    stack_reference: StackName | None = None
    """`organization/project/stack` whose `eventDriven` output has `busName` and `busArn` (a stack of
    this program that creates the bus, or any stack exporting the same keys)."""
    archive: bool = False
    """Archive the borrowed bus's events too. Off by default: the archive holds every producer's
    events on the bus, not only this stack's, at this stack's cost, and a bus's owner usually
    archives it already."""

    @model_validator(mode="after")
    def _one_source(self) -> ExistingBus:
        given = [k for k, v in (("name", self.name), ("arn", self.arn), ("stackReference", self.stack_reference)) if v]
        if len(given) != 1:
            raise ValueError(f"give exactly one of name, arn or stackReference, not {len(given)}")
        return self


class EventDrivenConfig(Model):
    """EventBridge bus, rules, SQS queues, SNS topics and Lambda consumers (components/event_driven/component.py)."""

    enabled: bool
    """Build the event-driven pattern: custom EventBridge bus, rules, SQS queues with dead-letter queues, SNS topics,
    Lambda consumers."""
    # 0 (keep forever) is deliberately not offered: an archive that never expires is a cost nobody chose.
    archive_retention_days: int = Field(ge=1, le=3653)
    """Days the bus's archive keeps every event for replay."""
    retry_policy: EventRetryPolicy
    """How EventBridge retries every rule target before giving the event to the target's dead-letter queue."""
    queues: Annotated[dict[EventName, EventQueue | None], AfterValidator(_without_removed)]
    """Queue name (camelCase letters and digits, at most 24) to its settings; each queue gets a dead-letter queue;
    `null` removes a profile's queue."""
    topics: Annotated[dict[EventName, EventTopic | None], AfterValidator(_without_removed)]
    """Topic name to its subscribers; topics are encrypted with a customer-managed KMS key; `null` removes a
    profile's topic."""
    functions: Annotated[dict[EventName, EventFunction | None], AfterValidator(_without_removed)]
    """Function name to its settings; `null` removes a profile's function."""
    rules: Annotated[dict[EventName, EventRule | None], AfterValidator(_without_removed)]
    """Rule name to its event pattern and targets on the custom bus; `null` removes a profile's rule."""
    existing_bus: ExistingBus | None = None
    """Attach to this bus instead of creating one; microservices then publish to it, with the same
    least-privilege policy (events:PutEvents on that bus's ARN only)."""

    @model_validator(mode="after")
    def _references(self) -> EventDrivenConfig:
        kinds = {"queue": self.queues, "topic": self.topics, "function": self.functions}
        names = [n for group in kinds.values() for n in group]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ValueError(f"{CROSS_FIELD}queues: {clashes} name more than one queue, topic or function")
        for rule_name, rule in self.rules.items():
            seen = set()
            for i, target in enumerate(rule.targets):
                kind, name = target.kind_and_name
                if name not in kinds[kind]:
                    raise ValueError(
                        f"{CROSS_FIELD}rules.{rule_name}.targets: target {i + 1} names {kind} {name!r}, "
                        f"which is not in eventDriven.{kind}s ({sorted(kinds[kind])})"
                    )
                if (kind, name) in seen:
                    raise ValueError(f"{CROSS_FIELD}rules.{rule_name}.targets: {kind} {name!r} is listed twice")
                seen.add((kind, name))
        for topic_name, topic in self.topics.items():
            strangers = [q for q in topic.queues if q not in self.queues]
            if strangers:
                raise ValueError(
                    f"{CROSS_FIELD}topics.{topic_name}.queues: {strangers} are not in eventDriven.queues "
                    f"({sorted(self.queues)})"
                )
            strangers = [f for f in topic.functions if f not in self.functions]
            if strangers:
                raise ValueError(
                    f"{CROSS_FIELD}topics.{topic_name}.functions: {strangers} are not in eventDriven.functions "
                    f"({sorted(self.functions)})"
                )
        consumed: dict[str, str] = {}
        for fn_name, fn in self.functions.items():
            if self.enabled and not has_handler(fn.code):
                raise ValueError(
                    f"{CROSS_FIELD}functions.{fn_name}.code: lambdas/{fn.code}/app.py does not exist (got {fn.code!r})"
                )
            if fn.queue is None:
                continue
            if fn.queue not in self.queues:
                raise ValueError(
                    f"{CROSS_FIELD}functions.{fn_name}.queue: {fn.queue!r} is not in eventDriven.queues "
                    f"({sorted(self.queues)})"
                )
            if fn.queue in consumed:
                # The queue's visibility timeout is derived from its one consumer's timeout.
                raise ValueError(
                    f"{CROSS_FIELD}functions.{fn_name}.queue: {fn.queue!r} is already consumed by "
                    f"{consumed[fn.queue]!r}; a queue has one consumer"
                )
            consumed[fn.queue] = fn_name
        return self


def bus_in_the_stack_region(cfg: Any) -> None:
    """A borrowed bus given by ARN is in the stack's region (a referenced one is checked when read)."""
    bus = cfg.event_driven.existing_bus
    if not cfg.event_driven.enabled or bus is None or bus.arn is None:
        return
    region = BUS_ARN.fullmatch(bus.arn).group("region")  # type: ignore[union-attr]
    if region != cfg.region:
        raise ValueError(
            f"{CROSS_FIELD}eventDriven.existingBus.arn: the bus is in {region}, the stack in aws:region {cfg.region}; "
            "EventBridge attaches rules only to a bus of their own region"
        )
