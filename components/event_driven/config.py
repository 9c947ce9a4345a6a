"""The `eventDriven` config block: bus, rules, queues, topics and consumers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from components.schema import CROSS_FIELD, EMAIL, Model, has_handler, unique

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
    maximum_event_age_seconds: int = Field(ge=60, le=86400)


class EventRuleTarget(Model):
    """Exactly one of a queue, a topic or a function of this block."""

    queue: EventName | None = None
    topic: EventName | None = None
    function: EventName | None = None

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
    event_pattern: Annotated[dict[str, Any], AfterValidator(_event_pattern)]
    targets: list[EventRuleTarget] = Field(min_length=1, max_length=EVENT_RULE_MAX_TARGETS)


class EventQueue(Model):
    # Receives before SQS moves a message to the queue's dead-letter queue.
    max_receive_count: int = Field(ge=1, le=1000)


class EventTopic(Model):
    # Queues subscribed with raw delivery (they receive the event itself, not an SNS envelope).
    queues: Annotated[list[EventName], AfterValidator(unique)] = Field(default_factory=list)
    emails: Annotated[list[Annotated[str, Field(pattern=EMAIL, max_length=254)]], AfterValidator(unique)] = Field(
        default_factory=list
    )
    functions: Annotated[list[EventName], AfterValidator(unique)] = Field(default_factory=list)
    """Functions (keys of eventDriven.functions) subscribed to the topic. SNS invokes them
    asynchronously: after Lambda's retries a failed message goes to the function's on-failure
    queue, which is alarmed."""


class EventFunction(Model):
    """A function of lambdas/<code>/; with `queue` it consumes that queue in batches."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    queue: EventName | None = None
    batch_size: int = Field(default=10, ge=1, le=10000)
    maximum_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    table: bool = False

    @model_validator(mode="after")
    def _batching(self) -> EventFunction:
        # Lambda refuses an SQS batch size above 10 unless a batching window is set.
        if self.batch_size > 10 and self.maximum_batching_window_seconds < 1:
            raise ValueError(
                f"{CROSS_FIELD}batchSize: {self.batch_size} needs maximumBatchingWindowSeconds of at least 1 "
                "(Lambda allows batches above 10 SQS messages only with a batching window)"
            )
        return self


class EventDrivenConfig(Model):
    """EventBridge bus, rules, SQS queues, SNS topics and Lambda consumers (components/event_driven/component.py)."""

    enabled: bool
    # 0 (keep forever) is deliberately not offered: an archive that never expires is a cost nobody chose.
    archive_retention_days: int = Field(ge=1, le=3653)
    retry_policy: EventRetryPolicy
    queues: Annotated[dict[EventName, EventQueue | None], AfterValidator(_without_removed)]
    topics: Annotated[dict[EventName, EventTopic | None], AfterValidator(_without_removed)]
    functions: Annotated[dict[EventName, EventFunction | None], AfterValidator(_without_removed)]
    rules: Annotated[dict[EventName, EventRule | None], AfterValidator(_without_removed)]

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
