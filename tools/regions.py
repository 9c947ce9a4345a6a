"""Generated regions of the Markdown docs: the text between `<!-- NAME -->` and `<!-- /NAME -->`.

The generators (tools/reference.py for the config reference, rules, resources and maps;
tools/diagram.py for diagrams) own the text inside the markers; people own everything around
them. A page may hold any number of regions, each name once. The pages are README.md and every
Markdown file under docs/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tools.offline import ROOT

_START = re.compile(r"^<!-- ([a-z][A-Za-z0-9:._/-]*) -->$", re.MULTILINE)


def pages() -> list[Path]:
    """README.md and the docs pages, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def names(text: str) -> list[str]:
    """The regions of a page, in order; a start marker without its end marker is an error."""
    found = _START.findall(text)
    for name in found:
        if f"\n<!-- /{name} -->" not in text:
            raise ValueError(f"region {name!r} has no end marker <!-- /{name} -->")
    if len(set(found)) != len(found):
        raise ValueError(f"a region appears twice: {sorted(n for n in found if found.count(n) > 1)}")
    return found


def replace(text: str, name: str, body: str) -> str:
    """`text` with region `name` holding `body` (and nothing else between its markers)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if start not in text or end not in text:
        raise ValueError(f"no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body.strip(chr(10))}\n{end}{tail}"


def body(text: str, name: str) -> str:
    """What region `name` holds now."""
    return text.split(f"<!-- {name} -->\n", 1)[1].split(f"\n<!-- /{name} -->", 1)[0]


def relative_link(page: Path, target: Path) -> str:
    """The link from `page` to `target` (both absolute), as Markdown wants it."""
    return Path(os.path.relpath(target, page.parent)).as_posix()
