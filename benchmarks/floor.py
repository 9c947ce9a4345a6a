"""The SDK floor a benchmark compares the program with, run as a process of its own.

    python -m benchmarks.floor --stack prod --resources 240 [130 ...] --modules-file mods.txt [--as-tool]

It imports pulumi and the pulumi_aws modules listed in `--modules-file` (the ones the measured
program loads). Then, under the same mocks (tools/offline.py) and the stack's config, it runs
`--warmup` programs of `--warmup-resources` bare custom resources, and one timed program per
number in `--resources`, registering that many: what the Pulumi SDK itself costs for that much
work, with none of the program's. `--as-tool` runs it the way the tools' entry points run
(tools/entry.py: collector tuned, no interpreter teardown); `--gc-thresholds` sets the
collector's thresholds (as the program does in __main__.py). It prints the CPU seconds of each
timed run as JSON (the benchmarks that time whole processes ignore it).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import time
from pathlib import Path

import pulumi

from tools import entry
from tools.offline import run_program


class Bare(pulumi.CustomResource):
    def __init__(self, name: str) -> None:
        super().__init__("bench:index:Bare", name, {})


def register(stack: str, count: int) -> None:
    run_program(stack, preview=False, program=lambda: [Bare(f"r{i}") for i in range(count)])


def floor(args: argparse.Namespace) -> int:
    for module in args.modules_file.read_text().split():
        # pulumi_aws registers its submodules lazily; looking up an attribute (other than the
        # introspection ones, such as __spec__) loads one.
        hasattr(importlib.import_module(module), "__all__")
    for _ in range(args.warmup):
        register(args.stack, args.warmup_resources)
    cpu = []
    for count in args.resources:
        start = time.process_time()
        register(args.stack, count)
        cpu.append(time.process_time() - start)
    print(json.dumps({"run_cpu": cpu}))
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", default="dev", help="whose config and region the mocks run with")
    parser.add_argument("--resources", type=int, nargs="+", required=True, help="one timed run per number")
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--warmup-resources", type=int, default=1)
    parser.add_argument("--modules-file", type=Path, required=True)
    parser.add_argument("--as-tool", action="store_true", help="run as the tools' entry points do (tools/entry.py)")
    parser.add_argument("--gc-thresholds", help="collector thresholds to set first, as a,b,c")
    args = parser.parse_args(argv)
    if args.gc_thresholds:
        gc.set_threshold(*map(int, args.gc_thresholds.split(",")))
    if args.as_tool:
        # As in a plan: pulumi and the mocks imported, then the collector tuned, then the
        # pulumi_aws modules loaded as the program first uses them.
        entry.run(lambda: floor(args))
    floor(args)


if __name__ == "__main__":
    main()
