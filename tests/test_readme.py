"""The README's configuration reference stays true to the schema and the profiles."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import BaseModel

from components.config import PROFILES, StackConfig
from components.network import subnet_cidrs
from tools.offline import ROOT

README = (ROOT / "README.md").read_text()
ROWS = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \| (.*) \|$", README, re.MULTILINE)}


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _schema_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if name == "region":
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _schema_keys(annotation, f"{prefix}{field.alias}.")
        else:
            keys.append(f"{prefix}{field.alias}")
    return keys


@pytest.mark.parametrize("key", _schema_keys(StackConfig))
def test_every_config_key_is_documented(key: str) -> None:
    assert key in ROWS, f"README configuration reference has no row for `{key}`"


@pytest.mark.parametrize("key", sorted(_leaves(PROFILES["dev"])))
def test_documented_defaults_match_the_profiles(key: str) -> None:
    cells = [c.strip() for c in ROWS[key].split(" | ")]
    documented = cells[-3:]
    expected = [f"`{json.dumps(_leaves(PROFILES[env])[key])}`".replace('"', "") for env in ("dev", "staging", "prod")]
    assert documented == expected


def test_documented_subnet_example_matches_the_layout() -> None:
    cidrs = subnet_cidrs("10.10.0.0/16", 2)
    for cidr in (*cidrs["public"], cidrs["private"][0], cidrs["isolated"][0]):
        assert f"`{cidr}`" in README
