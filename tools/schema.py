"""JSON Schema of a stack file (`Pulumi.<stack>.yaml`), generated from the config model.

    python -m tools.schema            # or: make schema — rewrite schema/stack.schema.json
    python -m tools.schema --check    # exit 1 if the committed copy is stale

One source of truth: the `aws-patterns:` keys come from `StackConfig` (components/config.py, its
types, enums, patterns and bounds, each field's docstring as its description), the `aws:` keys
from the installed pulumi-aws (components/provider_config.py), the `pulumi:` keys from
`PULUMI_KEYS`. Every block's fields are optional, because the environment profile supplies what
a stack file leaves out (and the description says which default each profile gives); lists
replace the profile's list whole, so their items keep their required fields. Unknown keys are
refused at every depth (`additionalProperties: false`), as the loader refuses them.

The shipped stack files point editors at it with a first line
`# yaml-language-server: $schema=schema/stack.schema.json`. The loader stays the authority: rules
that relate several keys (a CIDR inside the VPC, zones of the region) are not in the schema.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

from components.config import PROFILES, PULUMI_KEYS, SECRET_FIELDS, StackConfig
from components.defaults import NAMESPACE
from components.provider_config import SETTINGS, Shape
from components.schema import REGION
from tools import cli
from tools.offline import ROOT, STACK_FILE_KEYS

SCHEMA_FILE = ROOT / "schema" / "stack.schema.json"
# Draft 7: the newest draft every YAML editor integration reads.
DRAFT = "http://json-schema.org/draft-07/schema#"
NEWER_KEYWORDS = ("$defs", "prefixItems", "unevaluatedProperties", "dependentRequired", "dependentSchemas")
SECURE = {
    "type": "object",
    "description": "An encrypted value, as `pulumi config set --secret` writes it.",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}


def _secret(description: str) -> dict[str, Any]:
    return {**copy.deepcopy(SECURE), "description": f"{description} Set it with `pulumi config set --secret`.".strip()}


def _profile_defaults(path: tuple[str, ...]) -> str:
    """`Profile defaults: dev ..., staging ..., prod ...` for a key every profile sets to a plain value."""
    values = []
    for environment, profile in PROFILES.items():
        node: Any = profile
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return ""
            node = node[part]
        if isinstance(node, dict):
            return ""
        values.append(f"{environment} `{node if isinstance(node, str) else json.dumps(node)}`")
    return "Profile defaults: " + ", ".join(values) + "."


class _Inliner:
    """Turns pydantic's schema into one without references, each node in its context."""

    def __init__(self, definitions: dict[str, Any]) -> None:
        self.definitions = definitions

    def node(self, schema: dict[str, Any], path: tuple[str, ...] | None, partial: bool) -> dict[str, Any]:
        """`schema` with references resolved. `path` is the key path from the block (None inside
        lists and maps, where profiles give no per-key default); `partial` drops `required`."""
        if "$ref" in schema:
            target = self.definitions[schema["$ref"].rsplit("/", 1)[-1]]
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            return self.node({**target, **siblings}, path, partial)
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in ("title", "default"):
                continue  # auto titles say nothing; defaults come from the profile, not the model
            if key == "properties":
                out[key] = {
                    name: self.field(name, child, None if path is None else (*path, name), partial)
                    for name, child in value.items()
                }
            elif key in ("patternProperties",):
                out[key] = {pattern: self.node(child, None, partial) for pattern, child in value.items()}
            elif key == "additionalProperties" and isinstance(value, dict):
                out[key] = self.node(value, None, partial)
            elif key == "items":
                out[key] = self.node(value, None, partial=False)
            elif key in ("anyOf", "oneOf", "allOf"):
                out[key] = [self.node(child, path, partial) for child in value]
            elif key == "required" and partial:
                continue
            else:
                out[key] = copy.deepcopy(value)
        return out

    def field(self, name: str, schema: dict[str, Any], path: tuple[str, ...] | None, partial: bool) -> dict[str, Any]:
        out = self.node(schema, path, partial)
        if name in SECRET_FIELDS:
            return _secret(out.get("description", ""))
        defaults = _profile_defaults(path) if path is not None else ""
        if defaults:
            out["description"] = f"{out.get('description', '')} {defaults}".strip()
        return out


def _shape(shape: Shape) -> dict[str, Any]:
    if shape.kind == "object":
        return {
            "type": "object",
            "properties": {f.name: _described(_shape(f.shape), f.description) for f in shape.fields},
            "additionalProperties": False,
        }
    if shape.kind == "map":
        assert shape.items is not None
        return {"type": "object", "additionalProperties": _shape(shape.items)}
    if shape.kind == "array":
        assert shape.items is not None
        return {"type": "array", "items": _shape(shape.items)}
    return {"type": shape.kind}


def _described(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "description": description} if description else schema


def _project_keys() -> tuple[dict[str, Any], dict[str, Any]]:
    """The `aws-patterns:` keys: their definitions and the properties (with and without the namespace)."""
    generated = StackConfig.model_json_schema(by_alias=True)
    inliner = _Inliner(generated.get("$defs", {}))
    definitions, properties = {}, {}
    for name, schema in generated["properties"].items():
        if name == "region":  # the region is aws:region
            continue
        definitions[name] = inliner.field(name, schema, (name,), partial=True)
        reference = {"$ref": f"#/definitions/{name}"}
        properties[f"{NAMESPACE}:{name}"] = reference
        properties[name] = {**reference, "description": f"Same as {NAMESPACE}:{name}."}
    return definitions, properties


def _provider_keys() -> dict[str, Any]:
    properties = {}
    for key, setting in SETTINGS.items():
        if setting.secret:
            properties[f"aws:{key}"] = _secret(setting.description)
        else:
            properties[f"aws:{key}"] = _described(_shape(setting.shape), setting.description)
    # The program sets the provider's default tags and refuses this key (components/provider_config.py).
    properties.pop("aws:defaultTags", None)
    properties["aws:region"] = {
        "type": "string",
        "pattern": f"^{REGION.pattern}$",
        "description": f"{SETTINGS['region'].description} Required.",
    }
    return properties


def _engine_keys() -> dict[str, Any]:
    shapes: dict[str, dict[str, Any]] = {
        "disable-default-providers": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "autonaming": {"type": "object"},
    }
    return {f"pulumi:{key}": {**shapes[key], "description": description} for key, description in PULUMI_KEYS.items()}


def stack_file_schema() -> dict[str, Any]:
    """The JSON Schema of a stack file, from the config model and the installed pulumi-aws."""
    definitions, project = _project_keys()
    config = {
        "type": "object",
        "description": "The stack's configuration: aws-patterns:* (this program), aws:* (the AWS provider), "
        "pulumi:* (the engine).",
        "properties": {**project, **_provider_keys(), **_engine_keys()},
        "required": ["aws:region"],
        # The environment selects the profile; it may be written with or without the namespace.
        "anyOf": [{"required": [f"{NAMESPACE}:environment"]}, {"required": ["environment"]}],
        "additionalProperties": False,
    }
    file_keys = {
        "config": config,
        "secretsprovider": {"type": "string", "description": "Secrets provider of the stack's encrypted values."},
        "encryptedkey": {"type": "string", "description": "Data key of a cloud secrets provider, encrypted."},
        "encryptionsalt": {"type": "string", "description": "Salt of the passphrase secrets provider."},
        "environment": {
            "description": "Pulumi ESC environments the stack imports.",
            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
        },
    }
    assert set(file_keys) == set(STACK_FILE_KEYS), "the schema and the loader must agree on a stack file's keys"
    schema = {
        "$schema": DRAFT,
        "title": "aws-patterns stack file (Pulumi.<stack>.yaml)",
        "description": "Generated by `make schema` from components/config.py and the installed pulumi-aws; "
        "do not edit by hand.",
        "type": "object",
        "properties": file_keys,
        "additionalProperties": False,
        "definitions": definitions,
    }
    text = json.dumps(schema)
    newer = [k for k in NEWER_KEYWORDS if f'"{k}"' in text]
    assert not newer, f"draft 7 has no {newer}: teach tools/schema.py to express them"
    return schema


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, ensure_ascii=False) + "\n"


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report a stale copy (exit 1)")
    args = parser.parse_args(argv)
    text = render()
    current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else None
    relative = SCHEMA_FILE.relative_to(ROOT)
    if current == text:
        print(f"{relative} is up to date")
        return 0
    if args.check:
        print(f"stale: {relative}; run `make schema`")
        return 1
    SCHEMA_FILE.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    print(f"rewritten: {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
