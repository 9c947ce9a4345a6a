"""What `make plan` and `python -m tools.plan` cost over the Pulumi SDK's floor, per shipped stack.

    make bench    # or: python -m benchmarks.plan_overhead [--repeat N] [--stacks prod ...] [--cold]

Each command runs as a whole process (imports included), alternating with its floor: a process
that imports pulumi and the same pulumi_aws modules the plan loads and registers, under the
same mocks, as many bare resources as the program does, in as many program runs
(benchmarks/floor.py). With a warm `.cache/` (the default, after one plan per stack) the plan
runs the program once; `--cold` empties the cache before every plan, which then also runs the
dev and prod stacks for the cost table, and gives the floor those runs too.

The floor runs as a plain Python process, as the SDK would. The plan's entry point tunes the
collector and skips the interpreter's teardown (tools/entry.py), which would save the floor as
much, so the floor is also measured run that way ("floor as a tool") and the ratio to both is
printed. CPU time is the child's (user + system); wall time is
printed beside it. Prints only; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import types
from pathlib import Path

from benchmarks.measure import Sample, machine, ratios, run_child, spread
from tools.cost import CACHE_DIR
from tools.offline import STACKS, stack_config


def probe(stack: str) -> None:
    """Child mode: one plan run of `stack`; print its resource count and the pulumi_aws modules it loaded."""
    from tools.preview import run_plan

    run = run_plan(stack, stack_config(stack)).applied
    loaded = sorted(m for m, v in sys.modules.items() if m.startswith("pulumi_aws") and type(v) is types.ModuleType)
    print(json.dumps({"resources": len(run.resources), "modules": loaded}))


def _stacks_run(stack: str, cold: bool) -> list[str]:
    """The stacks a plan of `stack` runs the program for."""
    return list(dict.fromkeys(("dev", stack, "prod"))) if cold else [stack]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds per stack")
    parser.add_argument("--stacks", nargs="+", choices=STACKS, default=STACKS)
    parser.add_argument("--cold", action="store_true", help="empty .cache/ before every plan")
    parser.add_argument("--probe", choices=STACKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe)
        return

    python = sys.executable
    venv = Path(sys.prefix)
    # This virtualenv is installed already: -o keeps make from reinstalling it mid-benchmark.
    ["make", "-s", "--no-print-directory", f"VENV={venv}", "-o", str(venv / ".installed")]
    print(machine())
    print(
        f"{args.repeat} interleaved rounds per stack; {'cold' if args.cold else 'warm'} .cache/; "
        "times are median [interquartile range] of whole processes; ratios are per round.\n"
    )
    probes = {s: json.loads(run_child([python, "-m", "benchmarks.plan_overhead", "--probe", s])[1]) for s in STACKS}
    with tempfile.TemporaryDirectory() as tmp:
        for stack in args.stacks:
            modules = Path(tmp) / f"{stack}.modules"
            modules.write_text("\n".join(probes[stack]["modules"]))
            counts = [str(probes[s]["resources"]) for s in _stacks_run(stack, args.cold)]
            floor = [python, "-m", "benchmarks.floor", "--stack", stack, "--modules-file", str(modules)]
            floor += ["--resources", *counts]
            commands = {
                # -o: the shared virtualenv is installed; never let make reinstall it mid-benchmark.
                "make plan": [
                    "make",
                    "-s",
                    "--no-print-directory",
                    "plan",
                    f"STACK={stack}",
                    f"VENV={venv}",
                    "-o",
                    str(venv / ".installed"),
                ],
                "floor": floor,
                "tools.plan": [python, "-m", "tools.plan", stack],
                "floor as a tool": [*floor, "--as-tool"],
            }
            run_child(commands["tools.plan"], ok=(0, 1))  # fills .cache/ and the OS's file cache
            samples: dict[str, list[Sample]] = {name: [] for name in commands}
            for _ in range(args.repeat):
                for name, command in commands.items():
                    if args.cold and "plan" in name:
                        shutil.rmtree(CACHE_DIR, ignore_errors=True)
                    samples[name].append(run_child(command, ok=(0, 1))[0])
            _report(stack, counts, samples)


def _report(stack: str, counts: list[str], samples: dict[str, list[Sample]]) -> None:
    runs = f"{len(counts)} program run{'s' if len(counts) > 1 else ''} of {' + '.join(counts)} resources"
    print(f"{stack}: {runs}")
    print(f"  {'':16}{'CPU s':>22}{'wall s':>22}{'CPU ÷ floor':>24}{'wall ÷ floor':>24}{'CPU ÷ floor as tool':>24}")
    for name, measured in samples.items():
        line = f"  {name:16}{spread([s.cpu for s in measured]):>22}{spread([s.wall for s in measured]):>22}"
        if "plan" in name:
            line += f"{spread(ratios(measured, samples['floor'])):>24}"
            line += f"{spread(ratios(measured, samples['floor'], 'wall')):>24}"
            line += f"{spread(ratios(measured, samples['floor as a tool'])):>24}"
        print(line)
    print()


if __name__ == "__main__":
    main()
