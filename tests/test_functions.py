"""PythonFunction, the shared Lambda builder, asserted on what it registers."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import functions
from components.functions import (
    FunctionSettings,
    PowertoolsLayerNotFound,
    PythonFunction,
    PythonFunctionArgs,
    function_archive,
    pinned_powertools_version,
    powertools_parameter,
    source_files,
)
from components.schema import LAMBDAS_DIR
from tools.offline import ACCOUNT, ROOT, AwsMocks, RecordingMonitor, Run, run_program, stack_config, wired

SETTINGS = FunctionSettings(region="eu-west-1", log_retention_days=14)
PARAMETER = "aws:ssm/getParameter:getParameter"
QUEUE = "aws:sqs/queue:Queue"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


def _build(code_dir: Path, preview: bool, monitors: list[RecordingMonitor] | None = None, **overrides: Any) -> Run:
    (code_dir / "app.py").write_text("def handler(event, context):\n    return event\n")
    args = PythonFunctionArgs(code_dir=str(code_dir), settings=overrides.pop("settings", SETTINGS), **overrides)
    return run_program("dev", preview, monitors=monitors, program=lambda: PythonFunction("users", args))


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    statement = {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "arn:aws:dynamodb:::table/t"}
    return _build(tmp_path, request.param, statements=[statement], environment={"TABLE_NAME": "t"})


def test_function_settings(run: Run) -> None:
    (fn,) = run.by_type("aws:lambda/function:Function")
    assert fn.inputs["runtime"] == "python3.13"
    assert fn.inputs["architectures"] == ["arm64"]
    assert fn.inputs["tracingConfig"]["mode"] == "Active"
    assert fn.inputs["environment"]["variables"]["TABLE_NAME"] == "t"
    assert "POWERTOOLS_TRACE_DISABLED" not in fn.inputs["environment"]["variables"]
    assert "reservedConcurrentExecutions" not in fn.inputs, "reserved concurrency is opt-in"


def test_log_group_exists_before_the_function_and_is_the_one_it_logs_to(run: Run) -> None:
    (fn,) = run.by_type("aws:lambda/function:Function")
    (group,) = run.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.urn in fn.property_dependencies["loggingConfig"]
    assert fn.inputs["loggingConfig"]["logFormat"] == "JSON"
    assert group.inputs["retentionInDays"] == 14


def test_role_is_lambda_only_and_policy_is_scoped(run: Run) -> None:
    (fn,) = run.by_type("aws:lambda/function:Function")
    (role,) = run.by_type("aws:iam/role:Role")
    (policy,) = run.by_type("aws:iam/rolePolicy:RolePolicy")
    (group,) = run.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert role.urn in fn.property_dependencies["role"]
    assert policy.urn in fn.dependencies, "the function waits for its permissions"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
    assert group.urn in policy.property_dependencies["policy"]
    if not run.preview:
        statements = json.loads(policy.inputs["policy"])["Statement"]
        actions = sorted(a for s in statements for a in s["Action"])
        assert actions == sorted(
            [
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "dynamodb:GetItem",
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
            ]
        )
        (logs,) = [s for s in statements if s.get("Sid") == "OwnLogGroup"]
        assert logs["Resource"] == f"{group.outputs['arn']}:*"


def test_reserved_concurrency_when_asked(tmp_path: Path) -> None:
    run = _build(tmp_path, True, reserved_concurrency=5)
    assert run.by_type("aws:lambda/function:Function")[0].inputs["reservedConcurrentExecutions"] == 5


def test_missing_handler_is_refused(tmp_path: Path) -> None:
    args = PythonFunctionArgs(code_dir=str(tmp_path), settings=SETTINGS, handler="nope.handler")
    with pytest.raises(Exception, match=r"handler nope.handler not found"):
        run_program("dev", True, program=lambda: PythonFunction("users", args))


def test_without_tracing_the_handlers_are_told_not_to_load_xray(tmp_path: Path) -> None:
    settings = FunctionSettings(region="eu-west-1", tracing=False)
    (fn,) = _build(tmp_path, True, settings=settings).by_type("aws:lambda/function:Function")
    assert fn.inputs["tracingConfig"]["mode"] == "PassThrough"
    assert fn.inputs["environment"]["variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"


# --- Powertools: the layer of the release the tests run (issue 13 point 8) --------------------


def test_the_pinned_release_is_the_one_the_tests_import() -> None:
    pinned = pinned_powertools_version()
    assert pinned == functions.POWERTOOLS_VERSION
    assert importlib.metadata.version("aws-lambda-powertools") == pinned, (
        "the venv runs another Powertools than the functions get: reinstall requirements-dev.txt"
    )
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^-r lambdas/requirements\.txt$", dev, re.MULTILINE), "the tests install the functions' pins"
    assert not re.search(r"^aws-lambda-powertools", dev, re.MULTILINE | re.IGNORECASE), "a second pin could drift"


@pytest.mark.parametrize("text", ["", "aws-lambda-powertools>=3.0\n", "aws-lambda-powertools==3.1.0\n" * 2])
def test_the_pin_must_be_one_exact_release(tmp_path: Path, text: str) -> None:
    (tmp_path / "requirements.txt").write_text(text)
    with pytest.raises(ValueError, match="exactly once"):
        pinned_powertools_version(tmp_path / "requirements.txt")


@pytest.mark.parametrize(
    ("architecture", "runtime"), [("arm64", "python3.13"), ("x86_64", "python3.12")], ids=["arm64", "x86_64"]
)
@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_layer_is_the_ssm_parameter_of_the_pinned_release(
    tmp_path: Path, preview: bool, architecture: str, runtime: str
) -> None:
    settings = FunctionSettings(region="eu-west-1", architecture=architecture, runtime=runtime)
    monitors: list[RecordingMonitor] = []
    (fn,) = _build(tmp_path, preview, monitors=monitors, settings=settings).by_type("aws:lambda/function:Function")
    (lookup,) = [args for token, args in monitors[0].invokes if token == PARAMETER]
    expected = powertools_parameter(architecture, runtime, importlib.metadata.version("aws-lambda-powertools"))
    assert lookup["name"] == expected
    # The layer is whatever AWS's parameter says, never an ARN the program builds itself.
    region = stack_config("dev")["aws:region"]
    assert fn.inputs["layers"] == [AwsMocks(region, preview)._ssm_parameter(expected)["value"]]


def test_a_release_without_a_published_layer_stops_the_program_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (unpublished,) = AwsMocks.UNPUBLISHED_POWERTOOLS
    monkeypatch.setattr(functions, "POWERTOOLS_VERSION", unpublished)
    with pytest.raises(PowertoolsLayerNotFound) as stopped:
        _build(tmp_path, True)
    message = str(stopped.value)
    assert f"aws-lambda-powertools {unpublished}" in message
    assert powertools_parameter("arm64", "python3.13", unpublished) in message
    assert "requirements.txt" in message and "functions.runtime" in message
    assert isinstance(stopped.value, pulumi.RunError), "printed without a traceback"


# --- archives: the handler's sources and nothing else (issue 13 point 5) -----------------------


def _litter(code: Path) -> None:
    """What a working copy accumulates next to a handler and must never be deployed."""
    (code / "__pycache__").mkdir(exist_ok=True)
    (code / "__pycache__" / "app.cpython-313.pyc").write_bytes(os.urandom(64))
    (code / "app.pyc").write_bytes(os.urandom(16))
    (code / "test_app.py").write_text("def test(): pass\n")
    (code / "tests").mkdir(exist_ok=True)
    (code / "tests" / "helpers.py").write_text("X = 1\n")
    (code / ".app.py.swp").write_text("swap")
    (code / "notes.txt").write_text("local notes")


def _zip_digest(archive: pulumi.AssetArchive) -> str:
    """The archive as Pulumi's engine writes it (entries in name order, deflate, a constant
    timestamp: pulumi/pulumi sdk/go/common/resource/archive), hashed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(archive.assets):
            info = zipfile.ZipInfo(name, date_time=(1990, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, Path(archive.assets[name].path).read_bytes())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _handlers() -> list[str]:
    return sorted(p.parent.name for p in LAMBDAS_DIR.glob("*/app.py"))


@pytest.mark.parametrize("code", _handlers())
def test_archive_is_the_same_from_two_working_copies(code: str, tmp_path: Path) -> None:
    clean, used = tmp_path / "clean", tmp_path / "used"
    for copy in (clean, used):
        shutil.copytree(LAMBDAS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _litter(used / code)
    os.utime(used / code / "app.py", (0, 0))  # another checkout time
    archives = [function_archive(copy / code) for copy in (clean, used)]
    assert [sorted(a.assets) for a in archives] == [["app.py"], ["app.py"]]
    assert _zip_digest(archives[0]) == _zip_digest(archives[1])


def test_archive_lists_sources_of_subpackages_but_no_tests(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "__init__.py").write_text("")
    (tmp_path / "model" / "orders_test.py").write_text("")
    (tmp_path / "conftest.py").write_text("")
    _litter(tmp_path)
    assert [str(f) for f in source_files(tmp_path)] == ["app.py", "model/__init__.py"]


def test_registered_code_is_the_explicit_file_list(tmp_path: Path) -> None:
    _litter(tmp_path)
    (fn,) = _build(tmp_path, True).by_type("aws:lambda/function:Function")
    code = fn.inputs["code"]
    assert isinstance(code, pulumi.AssetArchive)
    assert {name: Path(asset.path) for name, asset in code.assets.items()} == {"app.py": tmp_path / "app.py"}


# --- asynchronous invocation: nothing dropped after the retries (issue 13 point 4) -------------


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_asynchronous_function_sends_failures_to_an_encrypted_queue(tmp_path: Path, preview: bool) -> None:
    run = _build(tmp_path, preview, asynchronous=True)
    (fn,) = run.by_type("aws:lambda/function:Function")
    (queue,) = run.by_type(QUEUE)
    (config,) = run.by_type(INVOKE_CONFIG)
    (queue_policy,) = run.by_type("aws:sqs/queuePolicy:QueuePolicy")
    (policy,) = run.by_type("aws:iam/rolePolicy:RolePolicy")
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    assert wired(config, "functionName", fn)
    assert wired(config, "destinationConfig", queue)
    assert "onSuccess" not in config.inputs["destinationConfig"]
    assert config.inputs["maximumRetryAttempts"] == 2
    assert config.inputs["maximumEventAgeInSeconds"] == 6 * 3600
    assert wired(queue_policy, "queueUrl", queue) and wired(policy, "policy", queue)
    if not preview:
        assert config.inputs["destinationConfig"]["onFailure"]["destination"] == queue.outputs["arn"]
        (deny,) = json.loads(queue_policy.inputs["policy"])["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        # Lambda delivers to the destination with the function's role.
        assert statements["OnFailureDestination"]["Action"] == ["sqs:SendMessage"]
        assert statements["OnFailureDestination"]["Resource"] == queue.outputs["arn"]


def test_synchronously_invoked_function_has_no_failure_queue(run: Run) -> None:
    assert run.by_type(QUEUE) == [] and run.by_type(INVOKE_CONFIG) == []
