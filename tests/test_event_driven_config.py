"""The `eventDriven` config block: references, AWS limits, removal of profile entries, hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.config import PROFILES, ConfigError, StackConfig, validate
from tests.test_config_properties import SETTINGS, check_outcome, hostile
from tools.offline import run_program, stack_config

REGION = "us-east-1"
KEY = "aws-patterns:eventDriven"


def _validate(block: dict[str, Any], environment: str = "dev") -> StackConfig:
    return validate({"environment": environment, "eventDriven": block}, REGION)


def _rejects(block: dict[str, Any], key: str, *fragments: str) -> None:
    with pytest.raises(ConfigError) as error:
        _validate(block)
    line = next((x for x in str(error.value).split("\n") if x.strip().startswith(f"{KEY}.{key}:")), None)
    assert line is not None, f"no problem reported for {KEY}.{key}:\n{error.value}"
    for fragment in fragments:
        assert fragment in line


@pytest.mark.parametrize("environment", sorted(PROFILES))
def test_the_profiles_ship_the_order_flow(environment: str) -> None:
    block = _validate({}, environment).event_driven
    assert block.rules["orderCreated"].event_pattern == {
        "source": ["aws-patterns.orders"],
        "detail-type": ["OrderCreated"],
    }
    assert block.functions["orderProcessor"].queue == "orderProcessing"
    assert {t.kind_and_name for t in block.rules["orderCreated"].targets} == {
        ("queue", "orderProcessing"),
        ("topic", "orderNotifications"),
    }


def test_a_stack_removes_a_profile_entry_with_null_and_adds_its_own() -> None:
    block = _validate(
        {
            "topics": {"orderNotifications": None},
            "rules": {"orderCreated": {"targets": [{"queue": "orderProcessing"}]}, "shipped": None},
        }
    ).event_driven
    assert block.topics == {}
    assert [t.kind_and_name for t in block.rules["orderCreated"].targets] == [("queue", "orderProcessing")]
    assert "shipped" not in block.rules


@pytest.mark.parametrize(
    ("block", "key", "fragments"),
    [
        (
            {"rules": {"orderCreated": {"targets": [{"queue": "nowhere"}]}}},
            "rules.orderCreated.targets",
            ["queue 'nowhere'", "eventDriven.queues"],
        ),
        (
            {"rules": {"orderCreated": {"targets": [{"function": "ghost"}]}}},
            "rules.orderCreated.targets",
            ["function 'ghost'"],
        ),
        (
            {"topics": {"orderNotifications": {"functions": ["ghost"]}}},
            "topics.orderNotifications.functions",
            ["['ghost']", "eventDriven.functions"],
        ),
        (
            {"topics": {"orderNotifications": {"functions": ["orderProcessor", "orderProcessor"]}}},
            "topics.orderNotifications.functions",
            ["twice"],
        ),
        (
            {"rules": {"orderCreated": {"targets": [{"queue": "orderProcessing", "topic": "orderNotifications"}]}}},
            "rules.orderCreated.targets[0]",
            ["exactly one"],
        ),
        (
            {"rules": {"orderCreated": {"targets": [{"queue": "orderProcessing"}, {"queue": "orderProcessing"}]}}},
            "rules.orderCreated.targets",
            ["listed twice"],
        ),
        (
            {"rules": {"orderCreated": {"targets": [{"queue": "orderProcessing"}] * 6}}},
            "rules.orderCreated.targets",
            ["at most 5"],
        ),
        ({"rules": {"orderCreated": {"targets": []}}}, "rules.orderCreated.targets", []),
        ({"topics": {"orderNotifications": {"queues": ["nowhere"]}}}, "topics.orderNotifications.queues", ["nowhere"]),
        (
            {"functions": {"orderProcessor": {"queue": "nowhere"}}},
            "functions.orderProcessor.queue",
            ["'nowhere'"],
        ),
        (
            {
                "functions": {
                    "second": {
                        "code": "order_processor",
                        "memoryMb": 128,
                        "timeoutSeconds": 5,
                        "queue": "orderProcessing",
                    }
                }
            },
            "functions.second.queue",
            ["already consumed by 'orderProcessor'"],
        ),
        (
            {"functions": {"orderProcessor": {"batchSize": 50, "maximumBatchingWindowSeconds": 0}}},
            "functions.orderProcessor.batchSize",
            ["batching window"],
        ),
        ({"functions": {"orderProcessor": {"timeoutSeconds": 901}}}, "functions.orderProcessor.timeoutSeconds", []),
        (
            {"rules": {"orderCreated": {"eventPattern": {"source": "aws-patterns.orders"}}}},
            "rules.orderCreated.eventPattern",
            ["source must be a non-empty list"],
        ),
        (
            {"rules": {"orderCreated": {"eventPattern": {"detail": {"status": []}}}}},
            "rules.orderCreated.eventPattern",
            ["detail.status"],
        ),
        (
            {"topics": {"orderProcessing": {}}},
            "queues",
            ["orderProcessing", "more than one"],
        ),
        ({"queues": {"Orders": {"maxReceiveCount": 3}}}, "queues.Orders.'[key]'", []),
        ({"queues": {"orderProcessing": {"maxReceiveCount": 0}}}, "queues.orderProcessing.maxReceiveCount", []),
        ({"retryPolicy": {"maximumRetryAttempts": 186}}, "retryPolicy.maximumRetryAttempts", []),
        ({"retryPolicy": {"maximumEventAgeSeconds": 59}}, "retryPolicy.maximumEventAgeSeconds", []),
        ({"archiveRetentionDays": 0}, "archiveRetentionDays", []),
        ({"topics": {"orderNotifications": {"emails": ["not an address"]}}}, "topics.orderNotifications.emails[0]", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_mistakes_name_the_key(block: dict[str, Any], key: str, fragments: list[str]) -> None:
    _rejects(block, key, *fragments)


def test_a_name_too_long_for_the_derived_queue_names_is_refused() -> None:
    _validate({"queues": {"a" * 24: {"maxReceiveCount": 1}}})
    with pytest.raises(ConfigError, match=r"eventDriven\.queues"):
        _validate({"queues": {"a" * 25: {"maxReceiveCount": 1}}})


def test_a_function_whose_code_folder_is_missing_registers_nothing() -> None:
    config = stack_config("dev")
    config[KEY] = json.dumps({"enabled": True, "functions": {"orderProcessor": {"code": "no_such_function"}}})
    monitors: list = []
    with pytest.raises(
        ConfigError, match=r"aws-patterns:eventDriven\.functions\.orderProcessor\.code: lambdas/no_such"
    ):
        run_program("dev", preview=True, config=config, monitors=monitors)
    assert [r.type for r, _ in monitors[0].requests if r.type != "pulumi:pulumi:Stack"] == []


BLOCK_KEYS = sorted({*PROFILES["dev"]["eventDriven"], "typo"})


@SETTINGS
@given(environment=st.sampled_from(sorted(PROFILES)), key=st.sampled_from(BLOCK_KEYS), value=hostile)
def test_hostile_value_inside_event_driven(environment: str, key: str, value: object) -> None:
    check_outcome({"environment": environment, "eventDriven": {key: value}}, REGION)


@SETTINGS
@given(
    part=st.sampled_from(["queues", "topics", "functions", "rules"]),
    name=st.one_of(st.text(max_size=30), st.sampled_from(["orderProcessing", "orderCreated", "orderProcessor"])),
    value=hostile,
)
def test_hostile_entries_are_accepted_into_a_sound_model_or_named(part: str, name: str, value: object) -> None:
    cfg = check_outcome({"environment": "dev", "eventDriven": {part: {name: value}}}, REGION)
    if cfg is None:
        return
    block = cfg.event_driven
    # Whatever was accepted is wired consistently: every reference resolves.
    for rule in block.rules.values():
        for target in rule.targets:
            kind, target_name = target.kind_and_name
            assert target_name in {"queue": block.queues, "topic": block.topics, "function": block.functions}[kind]
    assert all(f.queue in block.queues for f in block.functions.values() if f.queue)
