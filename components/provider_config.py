"""The `aws:` keys of a stack file: the ones the AWS provider accepts, checked and forwarded.

The program deploys through one explicit provider (components/naming.py `build_provider`), and
Pulumi does not configure an explicit provider from `aws:*` stack config (by design,
pulumi/pulumi-aws#1307 and #3259): `aws:profile` or `aws:assumeRoles` in a stack file would be
ignored without a word and the stack deployed with whatever credentials the shell holds, possibly
into another account. So every `aws:` key is checked here and passed to that provider as the
argument of the same name, which makes a stack file mean what it means with the default provider.

Nothing here is typed by hand. The keys come from `pulumi_aws.config` (what the default provider
reads), their shapes and nested fields from the `aws.Provider` arguments' types, their
descriptions from the package's docstrings, and which of them are secrets from what the provider
marks secret. A pulumi-aws upgrade brings its new keys along.
"""

from __future__ import annotations

import ast
import collections.abc
import difflib
import inspect
import json
import re
import typing
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi._types as pulumi_types
import pulumi_aws
from pulumi_aws import _inputs

NAMESPACE = "aws"
# Set from the stack's own config by the program (components/naming.py), so never forwarded.
REGION_KEY = "region"
# The program sets the provider's default tags itself (project, stack, environment, managed-by
# and the stack's aws-patterns:tags); a second source would silently lose one of the two.
PROGRAM_OWNED = {"defaultTags": "the program sets the provider's default tags; put extra tags in aws-patterns:tags"}
# YAML 1.1 read these as booleans; YAML 1.2 (Pulumi's stack files) reads them as strings.
YAML11_BOOLEANS = frozenset(
    ("y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF")
)
YAML12_HINT = "stack files are YAML 1.2, where yes/no/on/off are strings: write true or false"


@dataclass(frozen=True)
class Shape:
    """What a value must look like: a JSON type, with item shape (array, map) or fields (object)."""

    kind: str  # string, boolean, integer, number, array, map (string keys), object
    items: Shape | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Field:
    name: str  # as written in the stack file (camelCase)
    shape: Shape
    description: str


@dataclass(frozen=True)
class Setting(Field):
    """One `aws:` key and the `aws.Provider` argument it is forwarded to."""

    argument: str = ""
    secret: bool = False


_SCALARS = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _is_value(member: Any) -> bool:
    """Whether a member of an argument's Union is the value itself, not Pulumi's plumbing around it.

    `pulumi.Input[T]` is `Union[T, Awaitable[T], Output[T]]`, optional arguments add None, and an
    input type is also offered as its TypedDict (`...ArgsDict`).
    """
    if member is type(None) or typing.get_origin(member) is collections.abc.Awaitable:
        return False
    if isinstance(member, typing.ForwardRef):
        name = member.__forward_arg__
        return not (name.startswith("Output[") or name.endswith("ArgsDict"))
    return True


def _shape(annotation: Any) -> Shape:
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        return _shape(next(a for a in typing.get_args(annotation) if _is_value(a)))
    if origin is collections.abc.Sequence:
        return Shape("array", items=_shape(typing.get_args(annotation)[0]))
    if origin is collections.abc.Mapping:
        return Shape("map", items=_shape(typing.get_args(annotation)[1]))
    if annotation in _SCALARS:
        return Shape(_SCALARS[annotation])
    if isinstance(annotation, typing.ForwardRef):
        return _object(getattr(_inputs, annotation.__forward_arg__))
    raise TypeError(f"pulumi_aws provider argument type {annotation!r} is not understood")


def _doc(attribute: Any) -> str:
    return " ".join(inspect.cleandoc(getattr(attribute, "__doc__", None) or "").split())


def _object(input_type: type) -> Shape:
    parameters = inspect.signature(input_type.__init__).parameters
    names = pulumi_types.input_type_py_to_pulumi_names(input_type)
    return Shape(
        "object",
        fields=tuple(
            Field(name, _shape(parameters[argument].annotation), _doc(getattr(input_type, argument)))
            for argument, name in names.items()
        ),
    )


# The module behind `pulumi_aws.config`: one property per key, reading `__config__.get*('<key>')`.
# Read as source: importing it on its own trips over the package's lazy loading.
CONFIG_MODULE = Path(pulumi_aws.__file__).parent / "config" / "vars.py"


def _config_keys() -> dict[str, tuple[str, str]]:
    """`property name -> (key, docstring)` of every key pulumi_aws.config reads."""
    tree = ast.parse(CONFIG_MODULE.read_text())
    keys: dict[str, tuple[str, str]] = {}
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            target = call.func
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "__config__"
                and call.args
                and isinstance(call.args[0], ast.Constant)
            ):
                keys[function.name] = (call.args[0].value, ast.get_docstring(function) or "")
    return keys


def _secret_outputs() -> frozenset[str]:
    """The arguments the provider stores as secrets (its `additional_secret_outputs`)."""
    source = inspect.getsource(pulumi_aws.Provider._internal_init)
    found = re.search(r"additional_secret_outputs=\[([^\]]*)\]", source)
    return frozenset(re.findall(r"\"(\w+)\"", found.group(1))) if found else frozenset()


def _settings() -> dict[str, Setting]:
    parameters = inspect.signature(pulumi_aws.Provider._internal_init).parameters
    secrets = _secret_outputs()
    settings = {}
    for argument, (key, doc) in sorted(_config_keys().items()):
        settings[key] = Setting(
            name=key,
            shape=_shape(parameters[argument].annotation),
            description=" ".join(doc.split()) or _doc(getattr(pulumi_aws.ProviderArgs, argument)),
            argument=argument,
            secret=key in secrets,
        )
    return settings


SETTINGS: dict[str, Setting] = _settings()


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` was most likely meant to be (a typo, another case), or None."""
    candidates = list(candidates)
    same_case = [c for c in candidates if c.lower() == word.lower()]
    if same_case:
        return same_case[0]
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


# Longer lists of allowed keys are left out of a message (the provider's endpoints take hundreds).
MAX_LISTED_KEYS = 40


def unknown_key(path: str, key: str, candidates: Iterable[str], prefix: str = "", listed: bool = True) -> str:
    """The problem line for an unknown `key` at `path`: the closest of `candidates` (written
    with `prefix`, so the suggestion is a whole key), then the keys allowed there if `listed`."""
    candidates = sorted(candidates)
    suggestion = closest(key, candidates)
    message = f"{path}: unknown key"
    if suggestion:
        message += f"; did you mean {prefix}{suggestion}?"
    if listed and len(candidates) <= MAX_LISTED_KEYS:
        message += (" Allowed" if suggestion else "; allowed") + f" keys here: {', '.join(candidates)}"
    return message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _part(key: Any) -> str:
    """A key as a part of a path; repr() keeps a hostile one (a newline) on its message's line."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else repr(text)


def _check(shape: Shape, value: Any, path: str) -> list[str]:
    """Problems of a JSON value against `shape`, each naming the full key."""
    kind = shape.kind
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: must be an object (got {_short(value)})"]
        fields = {f.name: f for f in shape.fields}
        problems = []
        for key, item in value.items():
            if key not in fields:
                problems.append(unknown_key(f"{path}.{_part(key)}", str(key), fields, prefix=f"{path}."))
            else:
                problems += _check(fields[key].shape, item, f"{path}.{key}")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: must be an object (got {_short(value)})"]
        assert shape.items is not None
        return [p for key, item in value.items() for p in _check(shape.items, item, f"{path}.{_part(key)}")]
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: must be a list (got {_short(value)})"]
        assert shape.items is not None
        return [p for i, item in enumerate(value) for p in _check(shape.items, item, f"{path}[{i}]")]
    expected = {"string": str, "boolean": bool, "integer": int, "number": (int, float)}[kind]
    if isinstance(value, expected) and not (kind != "boolean" and isinstance(value, bool)):
        return []
    hint = f"; {YAML12_HINT}" if kind == "boolean" and isinstance(value, str) and value in YAML11_BOOLEANS else ""
    return [f"{path}: must be a {kind} (got {_short(value)}){hint}"]


def _parse(setting: Setting, text: str) -> tuple[Any, list[str]]:
    """A top-level value as the engine passes it (always a string) in the provider's terms."""
    path = f"{NAMESPACE}:{setting.name}"
    kind = setting.shape.kind
    if kind == "string":
        return text, []
    if kind == "boolean":
        if text in ("true", "false"):
            return text == "true", []
        hint = f"; {YAML12_HINT}" if text in YAML11_BOOLEANS else ""
        return None, [f"{path}: must be true or false (got {_short(text)}){hint}"]
    if kind == "integer":
        if re.fullmatch(r"-?\d+", text):
            return int(text), []
        return None, [f"{path}: must be an integer (got {_short(text)})"]
    value: Any = text
    if text[:1] in ("{", "["):  # structured values arrive as JSON, scalars as their text
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            value = text
    problems = _check(setting.shape, value, path)
    return (None if problems else value), problems


def read(values: Mapping[str, str], secret_keys: Collection[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """The `aws.Provider` arguments for a stack's `aws:` keys (without `aws:`), and the problems.

    `values` are as the engine passes them (strings, structured values as JSON); `secret_keys`
    are the keys set with `--secret`. `region` is left to the stack schema, which requires it.
    """
    arguments: dict[str, Any] = {}
    problems: list[str] = []
    for key, text in sorted(values.items()):
        setting = SETTINGS[key]
        path = f"{NAMESPACE}:{key}"
        if key == REGION_KEY:
            continue
        if key in PROGRAM_OWNED:
            problems.append(f"{path}: not accepted: {PROGRAM_OWNED[key]}")
            continue
        if setting.secret and key not in secret_keys:
            # The value is never repeated: it is a credential.
            problems.append(f"{path}: must come from secret config: pulumi config set --secret {path} <value>")
            continue
        value, found = _parse(setting, text)
        problems += found
        if not found:
            arguments[setting.argument] = value
    return arguments, problems
