"""Every handler's cold start does only what every invocation needs (issue 17 point 5).

Each handler is imported in a fresh interpreter, as Lambda's init phase does: it must create no
AWS client (they are created on first use, so a request refused by validation never pays for
one) and must not import the X-Ray SDK unless it will record traces (in Lambda, tracing on).
The cost itself is measured by benchmarks/, not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from components.schema import LAMBDAS_DIR
from tools.offline import ROOT

HANDLERS = sorted(p.parent.name for p in LAMBDAS_DIR.glob("*/app.py"))
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "TABLE_NAME": "records",
    "BUCKET_NAME": "uploads",
    "UPLOAD_PREFIX": "uploads/",
    "ALLOWED_CONTENT_TYPES": "image/png",
    "MAX_UPLOAD_BYTES": "1024",
    "URL_EXPIRY_SECONDS": "900",
    "RECORD_TTL_DAYS": "30",
    "EVENT_BUS_NAME": "bus",
    "POWERTOOLS_SERVICE_NAME": "init",
}
# Runs in the child: refuse every way of making a client, import each handler, report.
PROBE = """
import json, runpy, sys
import boto3, boto3.session

def refuse(*args, **kwargs):
    raise AssertionError(f"an AWS client created at import: {args}")

boto3.client = boto3.resource = refuse
boto3.session.Session.client = boto3.session.Session.resource = refuse
tracing = {path: runpy.run_path(path)["tracer"] is not None for path in sys.argv[1:]}
print(json.dumps({"xray": "aws_xray_sdk.core" in sys.modules, "tracing": tracing}))
"""


def _import_all(**extra: str) -> tuple[bool, dict[str, bool]]:
    """Import every handler in one fresh interpreter: (X-Ray SDK loaded?, handler -> tracing?)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDA_", "POWERTOOLS_"))}
    paths = {str(LAMBDAS_DIR / code / "app.py"): code for code in HANDLERS}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *paths],
        env={**env, **ENVIRONMENT, **extra},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["xray"], {paths[p]: t for p, t in report["tracing"].items()}


def test_outside_lambda_no_client_and_no_xray() -> None:
    assert _import_all() == (False, dict.fromkeys(HANDLERS, False))


def test_in_lambda_with_tracing_off_no_xray() -> None:
    # What the component sets when functions.tracing is false.
    assert _import_all(LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="true") == (
        False,
        dict.fromkeys(HANDLERS, False),
    )


def test_in_lambda_with_tracing_on_every_handler_records_traces() -> None:
    assert _import_all(LAMBDA_TASK_ROOT="/var/task") == (True, dict.fromkeys(HANDLERS, True))
