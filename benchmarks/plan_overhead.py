"""How much the program costs over the Pulumi SDK's own floor, per shipped stack.

    make bench            # or: python -m benchmarks.plan_overhead [--repeat N]

For each stack: the median wall time of the offline plan (the real `__main__.py` under mocks,
preview mode) against the floor, the same number of bare resources registered under the same
mocks in the same process. Prints both and the ratio; nothing here asserts on time, because
the machines are shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pulumi

from tools.offline import STACKS, run_program


class Bare(pulumi.CustomResource):
    def __init__(self, name: str) -> None:
        super().__init__("bench:index:Bare", name, {})


def _median_seconds(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{'stack':<10}{'resources':>10}{'program ms':>12}{'floor ms':>10}{'ratio':>8}")
    for stack in STACKS:
        # Counting also warms imports, so the first stack is not charged for them.
        count = len(run_program(stack, preview=True).resources)

        def floor(n: int = count, s: str = stack) -> None:
            run_program(s, preview=True, program=lambda: [Bare(f"r{i}") for i in range(n)])

        program_s = _median_seconds(lambda s=stack: run_program(s, preview=True), args.repeat)
        floor_s = _median_seconds(floor, args.repeat)
        print(f"{stack:<10}{count:>10}{program_s * 1000:>12.1f}{floor_s * 1000:>10.1f}{program_s / floor_s:>8.2f}")


if __name__ == "__main__":
    main()
