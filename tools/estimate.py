"""How long a fresh `pulumi up` of a stack takes, estimated from what the program registers.

The engine creates a resource as soon as everything it waits for exists and creates the rest in
parallel, so a fresh `up` lasts about as long as its longest chain of waits, each link weighted
by how long that resource type typically takes to create (tools/durations.yaml, with sources).
A resource waits for its `dependencies` (every resource its inputs were built from, and its
`depends_on`), for the resources in its `property_dependencies`, and for its parent when the
parent is a resource of its own (a component's children do not wait for the component).

The figure assumes unbounded parallelism (`pulumi up --parallel` limits it) and typical API
latency; it is for comparing designs (does the web tier wait for the database?), not a promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.offline import Registered, Run

DURATIONS_FILE = Path(__file__).resolve().parent / "durations.yaml"


class Durations:
    """The duration table, with errors that name the type missing from it."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    @classmethod
    def load(cls, path: Path = DURATIONS_FILE) -> Durations:
        return cls(yaml.safe_load(path.read_text()))

    def seconds(self, res: Registered) -> float:
        """Typical creation time of `res`: its type's figure, or the first variant whose inputs match."""
        if not res.custom:
            return 0.0  # a component is a grouping in the engine, created without any cloud call
        try:
            entry = self.table["types"][res.type]
        except KeyError:
            raise KeyError(f"tools/durations.yaml has no duration for {res.type}") from None
        for variant in entry.get("variants", ()):
            if all(res.inputs.get(key) == value for key, value in variant["when"].items()):
                return float(variant["seconds"])
        return float(entry["seconds"])


@dataclass(frozen=True)
class Step:
    """One link of the chain: `resource` starts after `start` seconds and takes `seconds`."""

    resource: Registered
    start: float
    seconds: float


@dataclass(frozen=True)
class Estimate:
    """The longest chain of waits of a fresh `up`, first resource first."""

    chain: tuple[Step, ...]

    @property
    def seconds(self) -> float:
        last = self.chain[-1] if self.chain else None
        return last.start + last.seconds if last else 0.0


def waits_for(run: Run) -> dict[str, set[str]]:
    """URN -> URNs of the registered resources it cannot be created before."""
    by_urn = {r.urn: r for r in run.resources}
    waits: dict[str, set[str]] = {}
    for res in run.resources:
        urns = set(res.dependencies).union(*res.property_dependencies.values())
        parent = by_urn.get(res.parent)
        if parent is not None and parent.custom:
            urns.add(parent.urn)
        waits[res.urn] = {u for u in urns if u in by_urn and u != res.urn}
    return waits


def critical_path(run: Run, durations: Durations) -> Estimate:
    """The chain of waits that ends last, each resource weighted by `durations`."""
    by_urn = {r.urn: r for r in run.resources}
    waits = waits_for(run)
    finish: dict[str, float] = {}
    before: dict[str, str | None] = {}
    pending: set[str] = set()

    def visit(urn: str) -> float:
        if urn in finish:
            return finish[urn]
        if urn in pending:
            raise ValueError(f"dependency cycle through {urn}")
        pending.add(urn)
        # Ties go to the smallest URN, so the chain printed is the same on every run.
        latest = max(sorted(waits[urn]), key=visit, default=None)
        pending.discard(urn)
        before[urn] = latest
        finish[urn] = (finish[latest] if latest else 0.0) + durations.seconds(by_urn[urn])
        return finish[urn]

    for urn in sorted(by_urn):
        visit(urn)
    end = max(sorted(finish), key=lambda u: finish[u], default=None)
    chain: list[Step] = []
    while end is not None:
        res = by_urn[end]
        took = durations.seconds(res)
        chain.append(Step(res, finish[end] - took, took))
        end = before[end]
    return Estimate(tuple(reversed(chain)))


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _about(seconds: float) -> str:
    return f"about {round(seconds)} seconds" if seconds < 90 else f"about {round(seconds / 60)} minutes"


def render(estimate: Estimate, run: Run, durations: Durations) -> str:
    """The estimate, the slowest single resource for comparison, and the chain link by link."""
    slowest = max(run.resources, key=lambda r: (durations.seconds(r), r.urn), default=None)
    lines = [
        f"Estimated duration of a fresh `pulumi up`: {_about(estimate.seconds)} ({_clock(estimate.seconds)})",
        "The longest chain of resources that wait for each other, at typical creation times",
        "(tools/durations.yaml); everything else is created alongside it.",
    ]
    if slowest is not None:
        lines.append(
            f"Slowest single resource: {slowest.type} {slowest.name}, {_clock(durations.seconds(slowest))}; "
            f"the chain adds {_clock(estimate.seconds - durations.seconds(slowest))} to it."
        )
    lines += ["", "   start   takes  resource"]
    for step in estimate.chain:
        lines.append(
            f"  {_clock(step.start):>6}  {_clock(step.seconds):>6}  {step.resource.type}  {step.resource.name}"
        )
    return "\n".join(lines)
