"""Cold-start import cost of each Lambda handler against a bare `import boto3`, in fresh processes.

    make bench    # or: python -m benchmarks.handler_init [--repeat N]

For every function the shipped stacks register, a fresh process imports its `app.py` from its
own `lambdas/<folder>/` (module-level init included: clients, Logger, Tracer, routers) with the
function's environment variables from the stack and the variables Lambda sets, so Powertools
behaves as in Lambda (tracing on, for instance). It alternates with two floors in the same
folder and environment: `import boto3` (the runtime's SDK, issue 17's floor), and `import boto3`
plus Powertools' Logger, Metrics and Tracer, each created once as every handler does (the
layer's own cost, which the handlers share). Bytecode is not
written, as in a deployment package without `__pycache__`. Figures are CPU time of the whole
child (interpreter start-up included on both sides); nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pulumi

from benchmarks.measure import Sample, machine, ratios, run_child, spread
from components.schema import LAMBDAS_DIR
from tools.offline import ACCOUNT, STACKS, run_cached

FLOORS = {
    "import boto3": "import boto3",
    "+ Powertools": (
        "import boto3\nfrom aws_lambda_powertools import Logger, Metrics, Tracer\nLogger(); Metrics(); Tracer()"
    ),
}


def _code_dir(archive: Any) -> Path | None:
    """The lambdas/<folder> an asset or archive of the program packages."""
    if isinstance(archive, pulumi.AssetArchive):
        return next((found for asset in archive.assets.values() if (found := _code_dir(asset))), None)
    path = Path(getattr(archive, "path", "")).resolve()
    if isinstance(archive, pulumi.FileAsset):
        path = path.parent
    if path.is_relative_to(LAMBDAS_DIR) and path != LAMBDAS_DIR:
        return LAMBDAS_DIR / path.relative_to(LAMBDAS_DIR).parts[0]
    return None


def handlers() -> dict[str, dict[str, str]]:
    """lambdas/<folder> -> the environment its function runs with (the first stack registering it)."""
    found: dict[str, dict[str, str]] = {}
    for stack in sorted(STACKS, key=lambda s: s != "prod"):
        run = run_cached(stack, preview=False)
        region = next((p.inputs.get("region") for p in run.by_type("pulumi:providers:aws")), "us-east-1")
        for fn in run.by_type("aws:lambda/function:Function"):
            folder = _code_dir(fn.inputs["code"])
            if folder is None or folder.name in found:
                continue
            variables = (fn.inputs.get("environment") or {}).get("variables") or {}
            found[folder.name] = {
                **{k: str(v) for k, v in variables.items()},
                # What Lambda sets in every function's environment.
                "AWS_LAMBDA_FUNCTION_NAME": fn.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(int(fn.inputs.get("memorySize") or 128)),
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "benchmark",  # placeholders: nothing here calls AWS
                "AWS_SESSION_TOKEN": "benchmark",
                "AWS_EC2_METADATA_DISABLED": "true",
                "_X_AMZN_TRACE_ID": f"Root=1-00000000-{ACCOUNT}000000000000;Parent=0000000000000000;Sampled=1",
            }
    return dict(sorted(found.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds per handler")
    args = parser.parse_args(argv)
    functions = handlers()  # runs the program first, so its warnings come before the figures
    print(machine())
    print(
        f"{args.repeat} interleaved rounds (handler, then each floor); CPU ms of the whole process, "
        "median [interquartile range]; ratios per round.\n"
    )
    head = f"{'handler':<20}{'CPU ms':>22}" + "".join(f"{f'÷ {name}':>24}" for name in FLOORS)
    print(head)
    floors_seen: dict[str, list[Sample]] = {name: [] for name in FLOORS}
    for folder, variables in functions.items():
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **variables}
        cwd = LAMBDAS_DIR / folder
        samples: dict[str, list[Sample]] = {"handler": [], **{name: [] for name in FLOORS}}
        try:
            for _ in range(args.repeat):
                samples["handler"].append(run_child([sys.executable, "-c", "import app"], env=env, cwd=cwd)[0])
                for name, code in FLOORS.items():
                    samples[name].append(run_child([sys.executable, "-c", code], env=env, cwd=cwd)[0])
        except RuntimeError as exc:
            print(f"{folder:<20}failed: {str(exc).splitlines()[-1]}")
            continue
        cells = "".join(f"{spread(ratios(samples['handler'], samples[name])):>24}" for name in FLOORS)
        print(f"{folder:<20}{spread([s.cpu for s in samples['handler']], 1000, 0):>22}{cells}")
        for name in FLOORS:
            floors_seen[name] += samples[name]
    for name, samples_of_floor in floors_seen.items():
        if samples_of_floor:
            print(f"{'floor: ' + name:<20}{spread([s.cpu for s in samples_of_floor], 1000, 0):>22}")


if __name__ == "__main__":
    main()
