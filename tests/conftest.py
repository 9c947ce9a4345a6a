"""Fixtures that run the real program for every shipped stack file, in both preview modes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.defaults import deep_merge
from tools.offline import PROJECT, STACKS, Run, encode_config, run_cached, stack_config


@pytest.fixture(
    params=[(s, p) for s in STACKS for p in (True, False)], ids=lambda sp: f"{sp[0]}-{'preview' if sp[1] else 'up'}"
)
def stack_run(request: pytest.FixtureRequest) -> Run:
    """The program run for one shipped stack, in preview (unknowns) or up (computed outputs) mode."""
    return run_cached(*request.param)


def run_with(stack: str, overrides: dict[str, Any], preview: bool = False) -> Run:
    """Run `stack` with some `aws-patterns:*` keys merged over its stack file (nested keys merge).

    Runs are deterministic, so identical requests share one run (tests only read a Run).
    """
    config = stack_config(stack)
    for key, value in overrides.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and full_key in config:
            value = deep_merge(json.loads(config[full_key]), value)
        config.update(encode_config({full_key: value}))
    return run_cached(stack, preview, config=config)
