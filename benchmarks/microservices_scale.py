"""How the microservices pattern's plan time grows with the number of services.

    python -m benchmarks.microservices_scale [--repeat N] [--counts 1 10 50]

For 1, 10 and 50 services: the median wall time of the `Microservices` component under the
mocks (preview mode), the floor (the same number of bare resources registered under the same
mocks in the same process), and the cost per service above that floor. Prints only; nothing
asserts on time, because the machines are shared and timings are noisy.
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.plan_overhead import Bare, _median_seconds
from components.config import StackConfig, validate
from components.microservices import Microservices, MicroservicesArgs
from tools.offline import run_program


def _config(count: int) -> StackConfig:
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
    return validate({"environment": "dev", "microservices": {"enabled": True, "services": services}}, "us-east-1")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args(argv)
    print(f"{'services':>8}{'resources':>11}{'plan ms':>10}{'floor ms':>10}{'ms/service':>12}{'ratio':>8}")
    for count in args.counts:
        component_args = MicroservicesArgs.from_config(_config(count))

        def plan(a: MicroservicesArgs = component_args) -> None:
            run_program("dev", preview=True, program=lambda: Microservices("microservices", a))

        # Counting also warms imports and caches, so the first size is not charged for them.
        resources = len(run_program("dev", True, program=lambda a=component_args: Microservices("m", a)).resources)

        def floor(n: int = resources) -> None:
            run_program("dev", preview=True, program=lambda: [Bare(f"r{i}") for i in range(n)])

        plan_s = _median_seconds(plan, args.repeat)
        floor_s = _median_seconds(floor, args.repeat)
        per_service = (plan_s - floor_s) * 1000 / count
        print(
            f"{count:>8}{resources:>11}{plan_s * 1000:>10.1f}{floor_s * 1000:>10.1f}"
            f"{per_service:>12.2f}{plan_s / floor_s:>8.2f}"
        )


if __name__ == "__main__":
    main()
