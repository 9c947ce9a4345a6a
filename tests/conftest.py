"""Fixtures that run the real program for every shipped stack file, in both preview modes."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from components.config import StackConfig, validate
from components.defaults import deep_merge
from components.schema import block_attribute
from tools.offline import PROJECT, STACKS, Run, encode_config, run_cached, stack_config


@pytest.fixture(
    params=[(s, p) for s in STACKS for p in (True, False)], ids=lambda sp: f"{sp[0]}-{'preview' if sp[1] else 'up'}"
)
def stack_run(request: pytest.FixtureRequest) -> Run:
    """The program run for one shipped stack, in preview (unknowns) or up (computed outputs) mode."""
    return run_cached(*request.param)


def config_with(stack: str, overrides: dict[str, Any]) -> dict[str, str]:
    """`stack`'s engine-style config with some `aws-patterns:*` keys merged over it (nested keys merge)."""
    config = stack_config(stack)
    for key, value in overrides.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and full_key in config:
            value = deep_merge(json.loads(config[full_key]), value)
        config.update(encode_config({full_key: value}))
    return config


def run_with(stack: str, overrides: dict[str, Any], preview: bool = False) -> Run:
    """Run `stack` with some `aws-patterns:*` keys merged over its stack file (nested keys merge).

    Runs are deterministic, so identical requests share one run (tests only read a Run).
    """
    return run_cached(stack, preview, config=config_with(stack, overrides))


@cache
def shipped_config(stack: str) -> StackConfig:
    """The validated config of a shipped stack file (profile defaults merged in)."""
    values = stack_config(stack)
    raw = {
        k.split(":", 1)[1]: json.loads(v) if v[:1] in "{[" else v
        for k, v in values.items()
        if k.startswith(f"{PROJECT}:")
    }
    return validate(raw, values["aws:region"])


def skip_unless_enabled(stack: str, block: str) -> None:
    """Skip a test about `block` (a pattern or observability) for a shipped stack without it,
    such as the network-only stack (Pulumi.network.yaml)."""
    if not getattr(shipped_config(stack), block_attribute(block)).enabled:
        pytest.skip(f"{stack} does not enable {block}")
