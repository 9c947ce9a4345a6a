"""The docs stay true: generated regions are fresh, every key is described, links lead somewhere.

The config reference, the rule table, each pattern's resources and map and the pattern table are
generated (tools/reference.py) into regions of the pages (tools/regions.py); diagrams have their
own test (tests/test_diagram.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field

from components.config import PROFILES
from components.network import subnet_cidrs
from components.patterns import PATTERNS
from components.schema import Model
from tools import reference, regions
from tools.offline import ROOT

PAGES = regions.pages()


def _owned(page: Path) -> list[str]:
    return [n for n in regions.names(page.read_text()) if n.partition(":")[0] in reference.RENDERERS]


@pytest.mark.parametrize(
    "page, name",
    [(page, name) for page in PAGES for name in _owned(page)],
    ids=lambda x: x if isinstance(x, str) else str(x.relative_to(ROOT)),
)
def test_generated_region_is_fresh(page: Path, name: str) -> None:
    committed = regions.body(page.read_text(), name)
    assert committed == reference.render(name, page), f"{page.relative_to(ROOT)}: {name} is stale: run `make docs`"


def test_the_reference_and_each_pattern_page_have_their_regions() -> None:
    assert "config:all" in regions.names((ROOT / "docs" / "configuration.md").read_text())
    assert "patterns" in regions.names((ROOT / "README.md").read_text())
    assert "rules" in regions.names((ROOT / "docs" / "guardrails.md").read_text())
    for pattern in PATTERNS:
        page = ROOT / pattern.docs
        assert page.is_file(), f"{pattern.key} names {pattern.docs}, which does not exist"
        names = regions.names(page.read_text())
        for kind in ("config", "map", "resources"):
            assert f"{kind}:{pattern.key}" in names, f"{pattern.docs} has no <!-- {kind}:{pattern.key} --> region"


def test_every_config_key_has_a_description() -> None:
    assert reference.missing_descriptions() == [], "add a docstring under each of these fields"


# A block as another engineer might add it: a nested block, a map of named entries, a list.
class _Entry(Model):
    size: int = Field(ge=1, le=9)
    """How big."""
    label: str | None = None
    """A label."""


class _Inner(Model):
    mode: Literal["a", "b"]
    """The mode."""


class _Block(Model):
    """A block nobody documented yet."""

    enabled: bool
    inner: _Inner
    """Inner settings."""
    entries: dict[Annotated[str, Field(pattern="^[a-z]+$")], _Entry]
    """Named entries."""
    items: list[_Inner] = Field(default_factory=list)
    undocumented: int = 3


def test_a_new_block_is_rendered_without_a_change_to_the_generator() -> None:
    values = {
        env: {"": {"enabled": env == "prod", "inner": {"mode": "a"}, "entries": {"one": {"size": n}}}}
        for env, n in (("dev", 1), ("staging", 2), ("prod", 3))
    }
    rows = {row.key: row for row in reference.rows(_Block.model_fields, "block.", values)}
    assert list(rows) == [
        "block.enabled",
        "block.inner",
        "block.inner.mode",
        "block.entries",
        "block.entries.<name>.size",
        "block.entries.<name>.label",
        "block.items",
        "block.items[].mode",
        "block.undocumented",
    ]
    assert rows["block.enabled"].defaults == ("`false`", "`false`", "`true`")
    assert rows["block.entries.<name>.size"].defaults == ("one: `1`", "one: `2`", "one: `3`")
    assert rows["block.entries"].defaults == ("`one`",) * 3
    assert rows["block.inner.mode"].allowed == "one of `a`, `b`"
    assert rows["block.entries.<name>.size"].allowed == "integer 1\N{EN DASH}9"
    assert "optional, default `3`" in rows["block.undocumented"].allowed
    assert rows["block.entries.<name>.label"].defaults == ("one: \N{EN DASH}",) * 3
    assert reference.missing_descriptions(_Block) == ["enabled", "items", "undocumented"]


def test_the_profiles_defaults_reach_the_reference() -> None:
    rows = {row.key: row for row in reference.block_rows("network")}
    expected = tuple(f"`{PROFILES[env]['network']['azCount']}`" for env in ("dev", "staging", "prod"))
    assert rows["network.azCount"].defaults == expected


# ---- links -----------------------------------------------------------------------------------

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _slugs(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    slugs: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", text), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = counts.get(slug, 0)
        counts[slug] = count + 1
        slugs.add(f"{slug}-{count}" if count else slug)
    return slugs


def _links(page: Path) -> list[str]:
    text = _CODE.sub("", _FENCE.sub("", page.read_text()))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_somewhere(page: Path) -> None:
    broken = []
    for link in _links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _slugs(target.read_text()):
            broken.append(f"{link}: no heading #{anchor}")
    assert broken == [], f"{page.relative_to(ROOT)}"


def test_the_link_check_sees_a_broken_link_and_a_missing_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A `code` heading — here\n\n[ok](#a-code-heading--here) [x](nowhere.md) [y](#gone)\n")
    links = _links(page)
    assert links == ["#a-code-heading--here", "nowhere.md", "#gone"]
    assert "a-code-heading--here" in _slugs(page.read_text())
    assert "gone" not in _slugs(page.read_text())


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.key)
def test_every_path_a_pattern_map_names_exists(pattern: object) -> None:
    missing = [token for token, path in reference.map_paths(pattern) if path is None]  # type: ignore[arg-type]
    assert missing == [], "the package docstring names files that do not exist"


def test_documented_subnet_example_matches_the_layout() -> None:
    network = (ROOT / "docs" / "network.md").read_text()
    cidrs = subnet_cidrs("10.10.0.0/16", 2)
    for cidr in (*cidrs["public"], cidrs["private"][0], cidrs["isolated"][0]):
        assert f"`{cidr}`" in network


# ---- regions ---------------------------------------------------------------------------------


def test_a_region_is_replaced_between_its_markers_only() -> None:
    text = "intro\n<!-- config:x -->\nold\n<!-- /config:x -->\noutro\n"
    assert regions.replace(text, "config:x", "new") == "intro\n<!-- config:x -->\nnew\n<!-- /config:x -->\noutro\n"
    assert regions.names(text) == ["config:x"]
    assert regions.body(regions.replace(text, "config:x", "a\nb"), "config:x") == "a\nb"
    with pytest.raises(ValueError, match="markers"):
        regions.replace("no markers", "config:x", "x")
    with pytest.raises(ValueError, match="no end marker"):
        regions.names("<!-- config:x -->\nno end\n")


def test_the_pages_are_the_readme_and_every_docs_page() -> None:
    assert PAGES[0] == ROOT / "README.md"
    assert set(PAGES[1:]) == set((ROOT / "docs").rglob("*.md"))
