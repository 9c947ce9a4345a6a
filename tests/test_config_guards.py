"""Placeholders: values that plan but must not reach production (components/config.py).

A preview (and the offline engine's mock runs) warns about each once, naming the stack; a real
`pulumi up` of a prod stack refuses them before anything is registered. The real update is
simulated by giving the program a monitor that is not the mocks' MockMonitor, which is what a
deployment's gRPC monitor looks like to it; nothing else about the run changes.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pulumi.runtime.settings as pulumi_settings
import pytest
from pulumi.runtime.mocks import MockMonitor, Mocks

from components.config import ConfigError, guard_placeholders, is_update, placeholders, validate
from components.defaults import NAMESPACE
from components.hybrid.config import DOCUMENTATION_RANGES
from tests.conftest import shipped_config
from tools import offline
from tools.offline import Run, run_cached, run_program, stack_config

ALARMS = f"{NAMESPACE}:observability.alarmEmails"
HOOKS = f"{NAMESPACE}:observability.alarmHttpsEndpoints"
GATEWAY = f"{NAMESPACE}:hybrid.customerGatewayIp"
DOMAIN = f"{NAMESPACE}:multiTier.domainName"
HYBRID = {"enabled": True, "customerGatewayIp": "198.51.100.7", "onPremisesCidrs": ["192.168.0.0/20"]}
SUBSCRIBED = {"observability": {"alarmEmails": ["oncall@platform.acme.io"]}}
REAL_GATEWAY = "52.95.110.1"
REAL_DOMAIN = {"domainName": "shop.acme.io", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
T = TypeVar("T")


class EngineMonitor:
    """The monitor of a real deployment, as far as the program can tell: not a MockMonitor.

    It forwards every call to one (so the mocks still answer), the way the engine's gRPC stub
    answers a deployment.
    """

    def __init__(self, mocks: Mocks) -> None:
        self._mocks = MockMonitor(mocks)
        self.requests: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mocks, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = self._mocks.RegisterResource(request)
        self.requests.append((request, response.urn))
        return response


def as_deployed(run: Callable[[], T]) -> T:
    """`run()` with the program given an engine-like monitor instead of the mocks' own.

    It runs in a copy of the current context, so the runtime settings it leaves behind (that
    monitor, up mode) do not reach the tests that follow.
    """

    def swapped() -> T:
        original = offline.RecordingMonitor
        offline.RecordingMonitor = EngineMonitor  # type: ignore[misc,assignment]
        try:
            return run()
        finally:
            offline.RecordingMonitor = original  # type: ignore[misc]

    return contextvars.copy_context().run(swapped)


def deployed(stack: str, config: dict[str, str] | None = None, preview: bool = False) -> Run:
    """`stack` run as by the engine (preview or update) rather than under the offline engine's mocks."""
    return as_deployed(lambda: run_program(stack, preview=preview, config=config))


def with_keys(stack: str, **blocks: dict[str, Any]) -> dict[str, str]:
    """`stack`'s file with some blocks' keys merged over it (engine-style values)."""
    config = stack_config(stack)
    for block, values in blocks.items():
        key = f"{NAMESPACE}:{block}"
        config[key] = json.dumps({**json.loads(config.get(key, "{}")), **values})
    return config


def messages(stack: str, lines: list[str]) -> list[str]:
    return [f"stack '{stack}': {line}" for line in lines]


# --- what counts as a placeholder -----------------------------------------------------------------


def _config(environment: str, **blocks: Any) -> Any:
    return validate({"environment": environment, **blocks}, "us-east-1")


@pytest.mark.parametrize("network", [str(n) for n in DOCUMENTATION_RANGES])
@pytest.mark.parametrize("offset", [0, 1, 255])
def test_every_documentation_address_is_a_placeholder_in_every_environment(network: str, offset: int) -> None:
    address = f"{network.rsplit('.', 1)[0]}.{offset}"
    for environment in ("dev", "staging", "prod"):
        found = placeholders(_config(environment, hybrid={**HYBRID, "customerGatewayIp": address}, **SUBSCRIBED))
        assert [line.split(": ", 1)[0] for line in found] == [GATEWAY]
        assert address in found[0] and "RFC 5737" in found[0]


@pytest.mark.parametrize("address", [REAL_GATEWAY, "198.51.99.255", "198.51.101.0", "203.0.114.1", "192.0.3.1"])
def test_a_public_address_next_to_the_documentation_ranges_is_not(address: str) -> None:
    assert placeholders(_config("prod", hybrid={**HYBRID, "customerGatewayIp": address}, **SUBSCRIBED)) == []


def test_a_documentation_address_of_a_disabled_pattern_is_not() -> None:
    assert placeholders(_config("prod", hybrid={**HYBRID, "enabled": False}, **SUBSCRIBED)) == []


def test_prod_alarms_without_subscribers_are_a_placeholder() -> None:
    (line,) = placeholders(_config("prod"))
    assert line.startswith(f"{ALARMS}: ")
    assert "alarmHttpsEndpoints" in line  # the alternative the user can choose


@pytest.mark.parametrize(
    "observability",
    [
        {"alarmEmails": ["oncall@platform.acme.io"]},
        {"alarmHttpsEndpoints": ["https://hooks.acme.io/alarms"]},
        {"enabled": False},  # a stack without alarms at all opted out on purpose
    ],
)
def test_prod_alarms_with_a_subscriber_or_switched_off_are_not(observability: dict[str, Any]) -> None:
    assert placeholders(_config("prod", observability=observability)) == []


@pytest.mark.parametrize(
    ("observability", "key"),
    [
        ({"alarmEmails": ["oncall@example.com"]}, ALARMS),
        ({"alarmEmails": ["pager@ops.example.org"]}, ALARMS),
        ({"alarmHttpsEndpoints": ["https://hooks.example.net/alarms"]}, HOOKS),
        ({"alarmHttpsEndpoints": ["https://alerts.test/x"]}, HOOKS),
    ],
)
def test_subscribers_at_domains_reserved_for_examples_are_placeholders(observability: dict, key: str) -> None:
    (line,) = placeholders(_config("prod", observability=observability))
    assert line.startswith(f"{key}: ") and "RFC 2606" in line


@pytest.mark.parametrize("domain", ["app.example.com", "example.org", "shop.invalid"])
def test_a_multi_tier_domain_reserved_for_examples_is_a_placeholder(domain: str) -> None:
    tier = {"enabled": True, "domainName": domain, "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
    (line,) = placeholders(_config("prod", multiTier=tier, **SUBSCRIBED))
    assert line.startswith(f"{DOMAIN}: {domain} ")
    assert placeholders(_config("prod", multiTier={**tier, **REAL_DOMAIN}, **SUBSCRIBED)) == []


@pytest.mark.parametrize("environment", ["dev", "staging"])
def test_alarms_without_subscribers_are_fine_outside_prod(environment: str) -> None:
    assert placeholders(_config(environment)) == []


# --- preview and the offline engine: a warning, once, naming the stack ------------------------------


@pytest.mark.parametrize("preview", [True, False])
def test_shipped_prod_plans_with_one_warning_per_placeholder(preview: bool) -> None:
    run = run_cached("prod", preview=preview)  # the offline up mode is not a deployment: no refusal
    assert run.aws_resources
    expected = placeholders(shipped_config("prod"))
    assert sorted(run.warnings) == sorted(messages("prod", expected))
    assert {w.split(": ", 2)[1] for w in run.warnings} == {ALARMS, GATEWAY, DOMAIN}


def test_warnings_only_for_the_stacks_they_concern() -> None:
    assert run_cached("dev", preview=True).warnings == []
    (warning,) = run_cached("staging", preview=True).warnings
    assert warning.startswith(f"stack 'staging': {GATEWAY}: 203.0.113.12 ")


def test_a_real_preview_of_prod_warns_and_does_not_refuse() -> None:
    run = deployed("prod", preview=True)
    assert run.aws_resources
    assert {w.split(": ", 2)[1] for w in run.warnings} == {ALARMS, GATEWAY, DOMAIN}


# --- a real update --------------------------------------------------------------------------------


def test_the_simulated_deployment_is_seen_as_an_update_and_the_mocks_are_not() -> None:
    seen: list[bool] = []

    def program() -> None:
        seen.append(is_update())

    as_deployed(lambda: run_program("dev", preview=False, program=program))
    as_deployed(lambda: run_program("dev", preview=True, program=program))
    run_program("dev", preview=False, program=program)
    assert seen == [True, False, False]


def test_a_real_update_of_shipped_prod_refuses_naming_each_key_and_registers_nothing() -> None:
    monitors: list[Any] = []
    with pytest.raises(ConfigError) as info:
        as_deployed(lambda: run_program("prod", preview=False, monitors=monitors))
    message = str(info.value)
    assert message.startswith("stack 'prod': a prod update refuses placeholders")
    assert f"\n  {ALARMS}: oncall@example.com " in message
    assert f"\n  {GATEWAY}: 198.51.100.7 " in message
    assert f"\n  {DOMAIN}: app.example.com " in message
    assert [req.type for req, _ in monitors[0].requests if req.type != "pulumi:pulumi:Stack"] == []


@pytest.mark.parametrize(
    ("blocks", "refused"),
    [
        ({"observability": SUBSCRIBED["observability"], "multiTier": REAL_DOMAIN}, [GATEWAY]),
        ({"hybrid": {"customerGatewayIp": REAL_GATEWAY}, "multiTier": REAL_DOMAIN}, [ALARMS]),
        (
            {
                "observability": {"alarmEmails": [], "alarmHttpsEndpoints": ["https://hooks.acme.io/a"]},
                "multiTier": REAL_DOMAIN,
            },
            [GATEWAY],
        ),
        ({"hybrid": {"customerGatewayIp": REAL_GATEWAY}, **SUBSCRIBED}, [DOMAIN]),
    ],
)
def test_a_real_update_of_prod_refuses_each_placeholder_on_its_own(blocks: dict, refused: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        deployed("prod", with_keys("prod", **blocks))
    named = [line.strip().split(": ", 1)[0] for line in str(info.value).splitlines()[1:]]
    assert named == refused


def test_a_real_update_of_prod_without_placeholders_deploys_without_warnings() -> None:
    config = with_keys("prod", hybrid={"customerGatewayIp": REAL_GATEWAY}, multiTier=REAL_DOMAIN, **SUBSCRIBED)
    run = deployed("prod", config)
    assert run.aws_resources
    assert run.warnings == []


def test_a_real_update_of_staging_only_warns() -> None:
    run = deployed("staging")
    assert run.aws_resources
    assert [w.split(": ", 2)[1] for w in run.warnings] == [GATEWAY]


def test_loading_the_config_without_an_engine_only_warns() -> None:
    # A script or a test that only loads a prod config has no monitor at all: not an update.
    def without_engine() -> bool:
        pulumi_settings.SETTINGS.monitor = None
        pulumi_settings.SETTINGS.dry_run = False
        guard_placeholders(_config("prod"))  # raises if it took this for an update
        return is_update()

    assert contextvars.copy_context().run(without_engine) is False
