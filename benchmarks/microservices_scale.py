"""How the microservices pattern's registration cost grows with the number of services.

    make bench    # or: python -m benchmarks.microservices_scale [--repeat N] [--counts 1 10 50 100]

For each number of services, a fresh process imports everything, warms up with a one-service
run (loading the pulumi_aws modules and the SDK's per-class caches), then times one run of the
real program (`__main__.py`, as `pulumi up` runs it) under the mocks with the dev stack's config,
only the microservices pattern enabled and that many services. It alternates with its floor, a
fresh process that imports the same modules, warms up alike and times one run registering as
many bare resources (benchmarks/floor.py) with the collector thresholds the program sets. The
figure is CPU milliseconds per registered resource; registration is linear when the program's
figure stays flat as the count grows (issue 17's target: at 100 services within 1.5x of at 1).
Prints only; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

from benchmarks.measure import machine, quartiles, run_child, spread
from tools.entry import THRESHOLDS
from tools.offline import encode_config, run_program, stack_config


def _config(count: int) -> dict[str, str]:
    """The dev stack's engine config with only the microservices pattern, running `count` services."""
    services: dict[str, Any] = {"users": {"enabled": False}, "orders": {"enabled": False}}
    for i in range(count):
        services[f"s{i}"] = {
            "code": "orders",
            "partitionKey": {"name": "id", "type": "S"},
            "tableActions": ["GetItem", "PutItem"],
            "memoryMb": 256,
            "timeoutSeconds": 10,
            "routes": [f"GET /s{i}", f"POST /s{i}", f"GET /s{i}/{{id}}"],
        }
    config = stack_config("dev")
    overrides = {key: {"enabled": False} for key in ("eventDriven", "serverless", "observability")}
    overrides["microservices"] = {"enabled": True, "services": services}
    config.update(encode_config(overrides))
    return config


def _register(count: int) -> int:
    return len(run_program("dev", preview=False, config=_config(count)).resources)


def child(count: int) -> None:
    """Child mode: warm up with one service, time `count`; print the figures as JSON."""
    warmup = _register(1)
    start = time.process_time()
    resources = _register(count)
    cpu = time.process_time() - start
    loaded = sorted(m for m, v in sys.modules.items() if m.startswith("pulumi_aws") and type(v) is types.ModuleType)
    print(json.dumps({"resources": resources, "warmup": warmup, "cpu": cpu, "modules": loaded}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5, help="interleaved pairs per size")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child)
        return

    python = sys.executable
    print(machine())
    print(
        f"{args.repeat} interleaved pairs per size; CPU ms per registered resource, median [interquartile range], "
        f"of one timed run after a warm-up run in a fresh process; collector thresholds {THRESHOLDS}.\n"
    )
    print(f"{'services':>8}{'resources':>11}{'program ms/res':>22}{'floor ms/res':>22}{'program ÷ floor':>22}")
    per_resource: dict[int, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        modules = Path(tmp) / "modules"
        for count in args.counts:
            program_ms: list[float] = []
            floor_ms: list[float] = []
            resources = 0
            for _ in range(args.repeat):
                measured = json.loads(
                    run_child([python, "-m", "benchmarks.microservices_scale", "--child", str(count)])[1]
                )
                resources = measured["resources"]
                modules.write_text("\n".join(measured["modules"]))
                floor = [python, "-m", "benchmarks.floor", "--modules-file", str(modules), "--warmup", "1"]
                floor += ["--warmup-resources", str(measured["warmup"]), "--resources", str(resources)]
                floor += ["--gc-thresholds", ",".join(map(str, THRESHOLDS))]
                (floor_cpu,) = json.loads(run_child(floor)[1])["run_cpu"]
                program_ms.append(measured["cpu"] * 1000 / resources)
                floor_ms.append(floor_cpu * 1000 / resources)
            per_resource[count] = (program_ms, floor_ms)
            pair_ratios = [p / f for p, f in zip(program_ms, floor_ms, strict=True)]
            print(f"{count:>8}{resources:>11}{spread(program_ms):>22}{spread(floor_ms):>22}{spread(pair_ratios):>22}")
    first, last = min(per_resource), max(per_resource)
    if first != last:
        program_growth = quartiles(per_resource[last][0])[1] / quartiles(per_resource[first][0])[1]
        floor_growth = quartiles(per_resource[last][1])[1] / quartiles(per_resource[first][1])[1]
        print(
            f"\nms/resource at {last} services ÷ at {first} (medians): program {program_growth:.2f}, "
            f"floor {floor_growth:.2f} (issue 17's target for the program: at most 1.5)"
        )


if __name__ == "__main__":
    main()
