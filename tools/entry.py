"""How the tools' entry points (`make plan`, `review`, `diagrams`, `cost`) run their `main()`.

A plan imports some 650 pulumi_aws modules and allocates millions of short-lived objects
(Outputs, futures, protobuf messages) with few cycles among them. With CPython's defaults the
collector runs thousands of times per plan, each full collection rescanning everything the
imports left behind, and the interpreter's teardown then frees every object one by one: together
about half of a plan's CPU time (benchmarks/plan_overhead.py measures it). So, once the imports
are done, the entry point freezes what they created (the collector skips frozen objects),
collects less often, and leaves with `os._exit` once its output is flushed: a tool's process
holds nothing that needs finalizing (its files are written and closed before it returns).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import NoReturn

# Young-generation threshold (allocations minus deallocations) and the older generations'
# (collections of the generation below); CPython's defaults are 700, 10, 10. The program sets the
# same at its start (__main__.py), for `pulumi up` and for every offline run.
THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Call once the imports are done, before the program runs."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def run(main: Callable[[], int]) -> NoReturn:
    """`sys.exit(main())`, with the collector tuned and without the interpreter's teardown."""
    tune_gc()
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
