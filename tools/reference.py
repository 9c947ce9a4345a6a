"""The generated parts of the docs: config reference, rules, each pattern's resources and map.

    python -m tools.reference            # or: make docs — rewrite every generated region
    python -m tools.reference --check    # exit 1 if a committed region is stale

One source of truth each, read at generation time, so a key, rule or file added later shows up
without an edit here:
- `config:all` (docs/configuration.md): every block of `StackConfig`, one section each;
  `config:<block>` (a pattern's page, docs/network.md, ...): one block; `config:stack`: the
  stack-wide keys. Key, allowed values (from the type and its constraints), description (the
  field's docstring) and the default of each environment profile (`PROFILES`).
- `rules` (docs/guardrails.md): the Well-Architected rules of policy/wellarchitected.py.
- `resources:<pattern>`: the AWS resource types the pattern's component registers in the first
  shipped stack that enables it (prod first), with the rules that check each type.
- `map:<pattern>`: where the pattern's code, config, defaults, app and tests live: its package
  docstring (components/<pattern>/__init__.py), with the paths turned into links.
- `patterns` (README.md): each registered pattern, its page, what it deploys (the first line of
  its package docstring) and the shipped stacks that build it.
Regions are the text between `<!-- NAME -->` and `<!-- /NAME -->` (tools/regions.py); diagram
regions belong to tools/diagram.py.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from components.config import PROFILES, StackConfig
from components.defaults import ENVIRONMENTS
from components.patterns import BY_KEY, PATTERNS
from components.schema import Pattern
from policy.wellarchitected import ANY, RULES
from tools import cli, regions
from tools.diagram import pattern_view
from tools.offline import ROOT, STACKS, Run, run_cached

DASH = "\N{EN DASH}"
MISSING: Any = object()
# Shipped stacks in the order a pattern's resources are read from: the fullest first.
STACK_PREFERENCE = ("prod", "staging", "dev")


@dataclass(frozen=True)
class Row:
    key: str
    description: str
    allowed: str
    defaults: tuple[str, ...]  # one cell per environment profile


# ---- values and types as text --------------------------------------------------------------


def flow(value: Any) -> str:
    """A value as it would be written in a stack file (YAML flow style)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        # Quoted only where YAML would read something else (a number, a boolean, null, nothing).
        try:
            plain = bool(value) and yaml.safe_load(value) == value
        except yaml.YAMLError:
            plain = False
        return value if plain else json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return str(value)


def code(text: str) -> str:
    """`text` as inline code, with a fence long enough for the backticks inside it."""
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _constraints(metadata: list[Any]) -> list[str]:
    words = []
    bounds = {type(m).__name__: m for m in metadata if isinstance(m, (at.Ge, at.Gt, at.Le, at.Lt))}
    low = bounds["Ge"].ge if "Ge" in bounds else None
    high = bounds["Le"].le if "Le" in bounds else None
    if low is not None and high is not None:
        words.append(f"{low}{DASH}{high}")
    elif low is not None:
        words.append(f"\N{GREATER-THAN OR EQUAL TO} {low}")
    elif high is not None:
        words.append(f"\N{LESS-THAN OR EQUAL TO} {high}")
    if "Gt" in bounds:
        words.append(f"> {bounds['Gt'].gt}")
    if "Lt" in bounds:
        words.append(f"< {bounds['Lt'].lt}")
    for m in metadata:
        pattern = getattr(m, "pattern", None)
        if pattern:
            words.append(f"matching {code(pattern)}")
        if isinstance(m, FieldInfo):
            words += _constraints(m.metadata)
    return words


def _lengths(metadata: list[Any], unit: str) -> str:
    low = next((m.min_length for m in metadata if isinstance(m, at.MinLen)), None)
    high = next((m.max_length for m in metadata if isinstance(m, at.MaxLen)), None)
    if low is not None and high is not None:
        return f"{low}{DASH}{high} {unit}s"
    if low is not None:
        return f"at least {low} {unit}{'s' if low != 1 else ''}"
    if high is not None:
        return f"at most {high} {unit}{'s' if high != 1 else ''}"
    return ""


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unwrap(annotation: Any) -> tuple[Any, list[Any], bool]:
    """(the type inside Annotated/Optional, the Annotated metadata, whether None is allowed)."""
    metadata: list[Any] = []
    nullable = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *meta = get_args(annotation)
            metadata += meta
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            nullable = nullable or len(options) < len(get_args(annotation))
            if len(options) != 1:
                return annotation, metadata, nullable
            annotation = options[0]
        else:
            return annotation, metadata, nullable


def describe_type(annotation: Any, metadata: list[Any] | None = None) -> str:
    """The allowed values of a type, in words: kind, bounds, patterns, choices."""
    inner, meta, nullable = _unwrap(annotation)
    meta = [*(metadata or []), *meta]
    origin = get_origin(inner)
    if origin is Literal:
        choices = [code(flow(v)) for v in get_args(inner)]
        text = "one of " + ", ".join(choices)
    elif inner is bool:
        text = "boolean"
    elif inner in (int, float):
        text = " ".join(["integer" if inner is int else "number", *_constraints(meta)])
    elif inner is str:
        words = ["text", *_constraints(meta), _lengths([*meta, *_field_meta(meta)], "character")]
        text = ", ".join(w for w in words if w)
    elif origin in (list, tuple):
        (item,) = get_args(inner)[:1]
        size = _lengths(meta, "item")
        text = f"list of {describe_type(item)}" + (f"; {size}" if size else "")
    elif origin is dict:
        key, value = get_args(inner)
        size = _lengths(meta, "entry")
        text = f"map of {describe_type(key).replace('text', 'name', 1)} \N{RIGHTWARDS ARROW} {describe_type(value)}"
        text += f"; {size}" if size else ""
    elif _model(inner):
        text = "object (keys below)"
    elif inner is Any:
        text = "any value"
    else:
        text = getattr(inner, "__name__", str(inner))
    return f"{text}, or {code('null')}" if nullable else text


def _field_meta(metadata: list[Any]) -> list[Any]:
    return [m for f in metadata if isinstance(f, FieldInfo) for m in f.metadata]


def description(field: FieldInfo) -> str:
    """The field's docstring; for a block or sub-block without one, its model's docstring."""
    if field.description:
        return " ".join(field.description.split())
    model = _model(_unwrap(field.annotation)[0])
    doc = (model.__doc__ or "") if model else ""
    return " ".join(doc.split("\n\n")[0].split())


def allowed(field: FieldInfo) -> str:
    text = describe_type(field.annotation, list(field.metadata))
    if not field.is_required():
        default = field.get_default(call_default_factory=True)
        text += "; optional" + ("" if default is None else f", default {code(flow(default))}")
    return text


# ---- the config reference --------------------------------------------------------------------


def _key(prefix: str, name: str, field: FieldInfo) -> str:
    if not prefix and name == "region":
        return "aws:region"  # the provider's key, not in the aws-patterns namespace
    return prefix + (field.alias or name)


def _default(values: dict[str, Any], field: FieldInfo, entries_are_models: bool) -> str:
    """One environment's default: the profile's value, per map entry where there are entries."""

    def one(value: Any) -> str:
        if value is MISSING:
            if field.is_required():
                return "required"
            value = field.get_default(call_default_factory=True)
            if value is None:
                return DASH
        if entries_are_models and isinstance(value, Mapping):
            return ", ".join(code(k) for k, v in value.items() if v is not None) or code("{}")
        return code(flow(value))

    if list(values) == [""]:
        return one(values[""])
    return "; ".join(f"{label}: {one(v)}" for label, v in values.items()) or DASH


def rows(
    fields: Mapping[str, FieldInfo], prefix: str = "", values: Mapping[str, Mapping[str, Any]] | None = None
) -> Iterator[Row]:
    """One row per key of a model (its `model_fields`) and of the blocks below it, depth first.

    `values` holds, per environment, the profile's value of `model` by entry label ("" for a
    block, the entry's name for each entry of a map); None below a list, whose items have no
    defaults of their own.
    """
    for name, field in fields.items():
        key = _key(prefix, name, field)
        inner, _, _ = _unwrap(field.annotation)
        origin = get_origin(inner)
        value_type = get_args(inner)[1] if origin is dict else None
        map_of_models = value_type is not None and _model(_unwrap(value_type)[0]) is not None
        sub = None
        if values is not None:
            sub = {
                env: {
                    label: (v.get(field.alias or name, MISSING) if isinstance(v, Mapping) else MISSING)
                    for label, v in entries.items()
                }
                for env, entries in values.items()
            }
        cells = (
            tuple(_default(sub[env], field, map_of_models) for env in ENVIRONMENTS)
            if sub is not None and not _model(inner)
            else ("",) * len(ENVIRONMENTS)
        )
        yield Row(key, description(field), allowed(field), cells)

        if _model(inner):
            present = None
            if sub is not None:  # an optional block that is not set has no values below it
                present = {env: {k: v for k, v in got.items() if isinstance(v, Mapping)} for env, got in sub.items()}
            yield from rows(inner.model_fields, f"{key}.", present)
        elif map_of_models:
            entries = None
            if sub is not None:
                entries = {
                    env: {
                        (f"{label}.{k}" if label else k): v
                        for label, value in by_label.items()
                        if isinstance(value, Mapping)
                        for k, v in value.items()
                        if v is not None
                    }
                    for env, by_label in sub.items()
                }
            yield from rows(_model(_unwrap(value_type)[0]).model_fields, f"{key}.<name>.", entries)  # type: ignore[union-attr]
        elif origin in (list, tuple) and (item := _model(_unwrap(get_args(inner)[0])[0])):
            yield from rows(item.model_fields, f"{key}[].", None)


def blocks() -> list[tuple[str, FieldInfo]]:
    """The config blocks (fields of StackConfig whose value is an object), in schema order."""
    return [(f.alias or n, f) for n, f in StackConfig.model_fields.items() if _model(_unwrap(f.annotation)[0])]


def block_rows(block: str) -> list[Row]:
    """The rows of one block (`network`, `multiTier`, ...) or of the stack-wide keys (`stack`)."""
    if block == "stack":
        scalar = {n: f for n, f in StackConfig.model_fields.items() if not _model(_unwrap(f.annotation)[0])}
        return list(rows(scalar, "", {env: {"": PROFILES[env]} for env in ENVIRONMENTS}))
    fields = dict(blocks())
    if block not in fields:
        raise KeyError(f"no config block {block!r}; blocks: {', '.join(fields)}")
    field = fields[block]
    model = _model(_unwrap(field.annotation)[0])
    values = {env: {"": PROFILES[env].get(block, MISSING)} for env in ENVIRONMENTS}
    return list(rows(model.model_fields, f"{block}.", values))  # type: ignore[union-attr]


def table(block_rows: list[Row]) -> str:
    header = ["key", "description", "allowed values", *ENVIRONMENTS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in block_rows:
        lines.append(
            "| " + " | ".join(cell(c) for c in (code(row.key), row.description, row.allowed, *row.defaults)) + " |"
        )
    return "\n".join(lines)


def config_region(block: str, page: Path) -> str:
    """Region `config:<block>`: one block's table, or every block (`all`) with a heading each."""
    if block != "all":
        return table(block_rows(block))
    parts = [
        "### Stack-wide keys\n",
        "`aws:region` is the provider's key; every other key is in the `aws-patterns:` namespace.\n",
        table(block_rows("stack")),
    ]
    for name, field in blocks():
        pattern = BY_KEY.get(name)
        link = f" ([{pattern.title} page]({regions.relative_link(page, ROOT / pattern.docs)}))" if pattern else ""
        parts += [f"\n### `{name}`\n", f"{description(field)}{link}\n", table(block_rows(name))]
    return "\n".join(parts)


def missing_descriptions(model: type[BaseModel] = StackConfig) -> list[str]:
    """Keys of `model` without a description, at any depth."""
    return [row.key for row in rows(model.model_fields) if not row.description]


# ---- rules, resources, maps ------------------------------------------------------------------


def short_type(type_: str) -> str:
    """`aws:rds/instance:Instance` -> `aws.rds.Instance` (how a Python program names it)."""
    if type_ == ANY:
        return "every resource"
    _, module, cls = type_.split(":")
    package = module.split("/")[0]
    return f"aws.{package + '_' if package == 'lambda' else package}.{cls}"


def rules_region(page: Path) -> str:
    header = ["rule", "pillar", "checks", "resource types", "environments", "fix"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for rule in RULES.values():
        kinds = ", ".join(short_type(t) for t in rule.types) if rule.types else "the whole stack (relates resources)"
        envs = ", ".join(rule.environments)
        lines.append(
            "| "
            + " | ".join(cell(c) for c in (code(rule.id), rule.pillar, rule.description, kinds, envs, rule.fix))
            + " |"
        )
    return "\n".join(lines)


def pattern_run(pattern: Pattern) -> Run | None:
    """What the pattern's component registers in the fullest shipped stack that builds it."""
    for stack in sorted(STACKS, key=lambda s: (*STACK_PREFERENCE, s).index(s)):
        try:
            return pattern_view(run_cached(stack, preview=True), pattern.key)
        except ValueError:
            continue
    return None


def resources_region(key: str, page: Path) -> str:
    run = pattern_run(BY_KEY[key])
    if run is None:
        return f"No shipped stack enables `{key}`."
    every = [code(r.id) for r in RULES.values() if ANY in r.types]
    lines = [
        f"What the component registers in the `{run.stack}` stack, by AWS resource type, and the rules of "
        f"[the review]({regions.relative_link(page, ROOT / 'docs' / 'guardrails.md')}#rules-and-enforcement) "
        "that check each type on its own (rules that relate resources, such as a bucket and its policy, "
        "run over the whole stack" + (f"; {', '.join(every)} checks every resource" if every else "") + "):\n",
        "| resource type | rules |",
        "| --- | --- |",
    ]
    for kind in sorted({r.type for r in run.aws_resources}):
        checks = [code(r.id) for r in RULES.values() if ANY not in r.types and kind in r.types]
        lines.append(f"| {code(short_type(kind))} | {', '.join(checks) or DASH} |")
    return "\n".join(lines)


_PATH = re.compile(r"`([^`\s]+)`|(?<![\w`/.])((?:[\w.-]+/)+[\w.-]*\.(?:py|md|yaml|txt|sh))(?![\w`])")


def package_map(pattern: Pattern) -> tuple[Path, str]:
    """The pattern's package folder and the part of its docstring that maps where things live."""
    module = importlib.import_module(pattern.model.__module__.rsplit(".", 1)[0])
    folder = Path(module.__file__).parent  # type: ignore[arg-type]
    doc = (module.__doc__ or "").strip()
    return folder, doc.split("\n\n", 1)[1] if "\n\n" in doc else ""


def map_paths(pattern: Pattern) -> list[tuple[str, Path | None]]:
    """Every path the map names (a backticked token with a `/` or a file suffix), resolved or None."""
    folder, text = package_map(pattern)
    found = []
    for match in _PATH.finditer(text):
        token = match.group(1) or match.group(2)
        if "/" not in token and not re.search(r"\.\w+$", token):
            continue
        candidates = [folder / token, ROOT / token]
        found.append((token, next((c for c in candidates if c.exists()), None)))
    return found


def map_region(key: str, page: Path) -> str:
    pattern = BY_KEY[key]
    resolved = dict(map_paths(pattern))
    _, text = package_map(pattern)

    def link(match: re.Match[str]) -> str:
        token = match.group(1) or match.group(2)
        target = resolved.get(token)
        if target is None:
            return match.group(0)
        label = match.group(0)
        return f"[{label}]({regions.relative_link(page, target)})"

    items: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("- ") or not items or items[-1].endswith("."):
            items.append(line)
        else:
            items[-1] += " " + line
    out: list[str] = []
    for item in items:
        if out and item.startswith("- ") != out[-1].startswith("- "):
            out.append("")  # a list and the paragraphs around it are separate blocks
        out.append(_PATH.sub(link, item))
    return "\n".join(out)


def patterns_region(page: Path) -> str:
    """The pattern table: each pattern's page, what it deploys and the shipped stacks that build it."""
    lines = ["| pattern | what it deploys | shipped stacks |", "| --- | --- | --- |"]
    for pattern in PATTERNS:
        module = importlib.import_module(pattern.model.__module__.rsplit(".", 1)[0])
        summary = (module.__doc__ or "").strip().splitlines()[0]
        summary = re.sub(r"^The [\w -]+ pattern: ", "", summary)
        stacks = []
        for stack in sorted(STACKS, key=lambda s: (ENVIRONMENTS.index(s) if s in ENVIRONMENTS else 9, s)):
            try:
                pattern_view(run_cached(stack, preview=True), pattern.key)
            except ValueError:
                continue
            stacks.append(stack)
        link = f"[{pattern.title}]({regions.relative_link(page, ROOT / pattern.docs)})"
        lines.append(f"| {link} | {cell(summary[:1].upper() + summary[1:])} | {', '.join(stacks) or DASH} |")
    return "\n".join(lines)


# ---- the pages ---------------------------------------------------------------------------------

RENDERERS: dict[str, Callable[[str, Path], str]] = {
    "config": config_region,
    "rules": lambda _, page: rules_region(page),
    "resources": resources_region,
    "map": map_region,
    "patterns": lambda _, page: patterns_region(page),
}


def render(name: str, page: Path) -> str | None:
    """What region `name` of `page` should hold (None: not a region this tool owns)."""
    kind, _, arg = name.partition(":")
    renderer = RENDERERS.get(kind)
    return renderer(arg, page) if renderer else None


def expected_pages() -> dict[Path, str]:
    """Every page holding a region this tool owns, with the content it should have."""
    files = {}
    for page in regions.pages():
        text = page.read_text()
        owned = [n for n in regions.names(text) if n.partition(":")[0] in RENDERERS]
        for name in owned:
            text = regions.replace(text, name, render(name, page) or "")
        if owned:
            files[page] = text
    return files


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale pages (exit 1)")
    args = parser.parse_args(argv)
    stale = []
    for path, content in expected_pages().items():
        if path.read_text() != content:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(content)
    verb = "stale" if args.check else "rewritten"
    print(f"{verb}: {', '.join(map(str, stale))}" if stale else "generated docs are up to date")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
