"""URN snapshots: every URN of every shipped stack, committed in snapshots/<stack>.txt.

    python -m tools.snapshots            # or: make snapshots — rewrite them, deliberately
    python -m tools.snapshots --check    # exit 1 when a snapshot is stale, saying how

A URN is a resource's identity: when a refactor changes one (a new logical name, another
parent, another type) and no alias keeps the old one, `pulumi up` deletes the resource and
creates a new one, and whatever it held is gone. tests/test_snapshots.py compares the program
with these files, so a changed URN fails the suite until it is either kept by an alias or
accepted by refreshing the snapshot in the same pull request, where a reviewer sees it.
The URNs are the engine's (tools/plan_state.py), the ones `pulumi stack export` would show.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tools import cli, offline, plan_state
from tools.diff import alias_sets, load_state
from tools.offline import ROOT, STACKS, Run

SNAPSHOTS = ROOT / "snapshots"
HEADER = (
    "# Every URN of the {stack} stack, as the engine names them (tools/snapshots.py).\n"
    "# tests/test_snapshots.py fails when one changes without an alias. Refresh deliberately with\n"
    "# `make snapshots` and commit the change with the code that causes it.\n"
)


def snapshot_path(stack: str) -> Path:
    return SNAPSHOTS / f"{stack}.txt"


def program_run(stack: str) -> Run:
    """The stack's run with engine URNs and every alias URN (tools/plan_state.py's view)."""
    state = plan_state.plan_stack(offline, ROOT, stack, plan_state.Plainer(ROOT, b"snapshots"))
    if "error" in state:
        raise RuntimeError(f"stack {stack} does not plan: {state['error']}")
    run = load_state({"stacks": [state]})[stack].run
    assert run is not None
    return run


def render(stack: str, run: Run) -> str:
    return HEADER.format(stack=stack) + "".join(f"{urn}\n" for urn in sorted(r.urn for r in run.resources))


def read(stack: str) -> list[str]:
    path = snapshot_path(stack)
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


@dataclass
class Drift:
    """How a stack's URNs differ from its snapshot."""

    lost: list[str]  # snapshot URNs no resource answers to: those resources would be replaced
    new: list[str]  # URNs of resources the snapshot does not know

    def message(self, stack: str) -> str:
        out = []
        if self.lost:
            out.append(
                f"{len(self.lost)} URN(s) of stack {stack} changed without an alias, so `pulumi up` would delete "
                "and re-create them (losing their data):\n  " + "\n  ".join(self.lost) + "\n"
                "Keep them with `aliases=[pulumi.Alias(...)]` on the resource (`make diff BASE=main` prints "
                "the exact alias), or, if the replacement is intended, refresh with `make snapshots` and commit."
            )
        if self.new:
            out.append(
                f"{len(self.new)} URN(s) of stack {stack} are not in {snapshot_path(stack).relative_to(ROOT)}:\n  "
                + "\n  ".join(self.new)
                + "\nNew resources: refresh with `make snapshots` and commit the snapshot with them."
            )
        return "\n\n".join(out)

    def __bool__(self) -> bool:
        return bool(self.lost or self.new)


def drift(snapshot: list[str], run: Run) -> Drift:
    """URNs lost (no resource has them, nor an alias to them) and URNs new to the snapshot."""
    names = alias_sets(run)
    known = set(snapshot)
    answered = {urn for res in run.resources for urn in {res.urn} | names[res.urn]}
    lost = sorted(known - answered)
    new = sorted(r.urn for r in run.resources if not ({r.urn} | names[r.urn]) & known)
    return Drift(lost, new)


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale snapshots (exit 1)")
    args = parser.parse_args(argv)
    stale = []
    for stack in STACKS:
        run = program_run(stack)
        content = render(stack, run)
        path = snapshot_path(stack)
        if path.exists() and path.read_text() == content:
            continue
        stale.append(stack)
        if args.check:
            print(drift(read(stack), run).message(stack) or f"{path}: out of date (order or header)", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    verb = "stale" if args.check else "rewritten"
    print(f"{verb}: {', '.join(stale)}" if stale else "URN snapshots are up to date")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
