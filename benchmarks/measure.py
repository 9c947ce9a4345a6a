"""How the benchmarks time things: whole child processes, CPU and wall time, interleaved pairs.

The machines are shared (two cores, other people's test runs), so a benchmark here
- times whole processes, imports included: the child's CPU time (user + system, of the child
  and everything it waited for) from `os.wait4`, and its wall time;
- runs the measured command and its floor alternately (measured, floor, measured, floor, ...),
  so load that comes and goes hits both alike, and reports each ratio from the pairs;
- reports the median and the interquartile range, never a single run or a mean.
Nothing here asserts on time: benchmarks print figures.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sample:
    cpu: float  # seconds of CPU, user + system
    wall: float  # seconds


def run_child(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT, ok: Sequence[int] = (0,)
) -> tuple[Sample, str]:
    """Run `argv` to completion; its CPU and wall time, and its stdout (for children that report)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, cwd=cwd, env=env)  # noqa: S603 - our own commands
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{err.read().decode()[-3000:]}")
        out.seek(0)
        return Sample(usage.ru_utime + usage.ru_stime, wall), out.read().decode()


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile); all three equal the value for a single sample."""
    if len(values) < 2:
        return (values[0],) * 3
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """`median [q1-q3]` of `values` times `scale`."""
    q1, q2, q3 = (v * scale for v in quartiles(values))
    return f"{q2:.{digits}f} [{q1:.{digits}f}-{q3:.{digits}f}]"


def ratios(measured: Sequence[Sample], floor: Sequence[Sample], field: str = "cpu") -> list[float]:
    """Measured / floor of each interleaved pair."""
    return [getattr(m, field) / getattr(f, field) for m, f in zip(measured, floor, strict=True)]


def machine() -> str:
    """What the figures were measured on."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            model,
        )
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(f"{pkg} {metadata.version(pkg)}" for pkg in ("pulumi", "pulumi-aws"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Machine: {usable} usable cores of {os.cpu_count()} ({model}); {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()} ({sys.executable}); {versions}; load average {load}"
    )
