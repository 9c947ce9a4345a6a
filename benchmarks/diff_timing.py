"""How long `make diff` takes for every shipped stack, against the plan of the same stacks.

    python -m benchmarks.diff_timing [--repeat N] [--base REF]

Whole processes, imports included, measured in the same run and interleaved (the order rotates
every round, so a noisy neighbour on these shared machines hits all three alike):

- diff:   `python -m tools.diff --base REF --quiet`, every stack: a worktree of REF, two plan
          processes (base and working tree) side by side, then the comparison, review, cost
          and diagrams of both sides;
- plans:  `python -m tools.plan STACK` for every stack, one after the other: what a person runs
          to see the plan of the same stacks (each also prints its review, diagram and cost);
- floor:  the diff's own planning work alone: two `tools/plan_state.py` processes planning
          every stack of this tree, side by side, with nothing compared.

CPU time is the children's user+system time (getrusage), wall time is elapsed. Prints the
median of each and the diff's ratio to the plans and to the floor, with the spread (min-max of
the per-round ratios). Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tools.offline import ROOT, STACKS

PY = sys.executable
PLAN_STATE = ROOT / "tools" / "plan_state.py"


def _measure(commands: Callable[[], list[list[str]]], parallel: bool) -> tuple[float, float]:
    """(wall s, children CPU s) of running `commands`, side by side or one after another."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    quiet = {"cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if parallel:
        procs = [subprocess.Popen(cmd, **quiet) for cmd in commands()]  # noqa: S603 - our own tools
        codes = [p.wait() for p in procs]
    else:
        codes = [subprocess.run(cmd, check=False, **quiet).returncode for cmd in commands()]  # noqa: S603
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if any(code not in (0, 1) for code in codes):  # 1: data-loss risk or a mandatory finding
        raise SystemExit(f"a measured command failed: {commands()} -> {codes}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--base", default="HEAD")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="diff-bench-"))
    cases: dict[str, tuple[Callable[[], list[list[str]]], bool]] = {
        "diff": (lambda: [[PY, "-m", "tools.diff", "--base", args.base, "--quiet"]], False),
        "plans": (lambda: [[PY, "-m", "tools.plan", stack] for stack in STACKS], False),
        "floor": (
            lambda: [[PY, str(PLAN_STATE), str(ROOT), str(out / f"{side}.json"), *STACKS] for side in ("a", "b")],
            True,
        ),
    }
    names = list(cases)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_ in range(args.repeat):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            samples[name].append(_measure(*cases[name]))
    print(f"make diff for {len(STACKS)} stacks ({', '.join(STACKS)}), base {args.base}, {args.repeat} rounds, ")
    print(f"{os.cpu_count()} CPUs; medians in seconds")
    print(f"{'':8}{'wall':>8}{'cpu':>8}")
    for name in names:
        wall = statistics.median(w for w, _ in samples[name])
        cpu = statistics.median(c for _, c in samples[name])
        print(f"{name:8}{wall:8.2f}{cpu:8.2f}")
    for other in ("plans", "floor"):
        for i, what in ((0, "wall"), (1, "cpu")):
            ratios = [d[i] / o[i] for d, o in zip(samples["diff"], samples[other], strict=True)]
            spread = f"min {min(ratios):.2f}, max {max(ratios):.2f}"
            print(f"diff / {other} ({what}): {statistics.median(ratios):.2f} ({spread})")


if __name__ == "__main__":
    main()
