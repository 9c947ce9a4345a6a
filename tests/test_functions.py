"""PythonFunction, the shared Lambda builder, asserted on what it registers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.functions import FunctionSettings, PythonFunction, PythonFunctionArgs, powertools_layer_arn
from tools.offline import ACCOUNT, Run, run_program

SETTINGS = FunctionSettings(region="eu-west-1", powertools_layer_version=31, log_retention_days=14)


def _build(code_dir: Path, preview: bool, **overrides) -> Run:
    (code_dir / "app.py").write_text("def handler(event, context):\n    return event\n")
    args = PythonFunctionArgs(code_dir=str(code_dir), settings=SETTINGS, **overrides)
    return run_program("dev", preview, program=lambda: PythonFunction("users", args))


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    statement = {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "arn:aws:dynamodb:::table/t"}
    return _build(tmp_path, request.param, statements=[statement], environment={"TABLE_NAME": "t"})


def test_function_settings(run: Run) -> None:
    (fn,) = run.by_type("aws:lambda/function:Function")
    assert fn.inputs["runtime"] == "python3.13"
    assert fn.inputs["architectures"] == ["arm64"]
    assert fn.inputs["tracingConfig"]["mode"] == "Active"
    assert fn.inputs["layers"] == [powertools_layer_arn("eu-west-1", "arm64", "python3.13", 31)]
    assert fn.inputs["environment"]["variables"]["TABLE_NAME"] == "t"
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
