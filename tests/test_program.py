"""The whole program, run for every shipped stack file in preview and up modes."""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
import re
import subprocess
import sys
from functools import cache

import pytest

from components.config import ConfigError
from components.naming import name_tag
from tests.conftest import run_with
from tools import plan
from tools.offline import PROJECT, ROOT, STACKS, Run, run_cached, run_program, stack_config


@cache
def _accepts_tags(type_: str) -> bool:
    """Whether the pulumi_aws resource behind a type token takes a `tags` argument."""
    _, module, cls = type_.split(":")
    package = module.split("/")[0]
    # Python keywords get a trailing underscore as module names (aws:lambda/... -> pulumi_aws.lambda_).
    mod = importlib.import_module(f"pulumi_aws.{package}_" if keyword.iskeyword(package) else f"pulumi_aws.{package}")
    return "tags" in inspect.signature(getattr(mod, cls)._internal_init).parameters


def test_every_stack_file_is_run() -> None:
    assert set(STACKS) >= {"dev", "staging", "prod"}


def test_stack_registers_resources_and_exports(stack_run: Run) -> None:
    environment = stack_config(stack_run.stack)["aws-patterns:environment"]
    assert stack_run.aws_resources, "a shipped stack should create something"
    assert stack_run.outputs["environment"] == environment
    assert stack_run.outputs["region"] == stack_config(stack_run.stack)["aws:region"]


def test_one_explicit_provider_used_by_every_aws_resource(stack_run: Run) -> None:
    providers = stack_run.by_type("pulumi:providers:aws")
    assert len(providers) == 1
    provider_ref = f"{providers[0].urn}::"
    strays = [r.name for r in stack_run.aws_resources if not r.provider.startswith(provider_ref)]
    assert strays == [], f"resources on the default provider (no default tags): {strays}"


def test_provider_default_tags(stack_run: Run) -> None:
    provider = stack_run.one("pulumi:providers:aws", "aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    config = stack_config(stack_run.stack)
    assert tags["project"] == PROJECT
    assert tags["stack"] == stack_run.stack
    assert tags["environment"] == config["aws-patterns:environment"]
    assert tags["managed-by"] == "pulumi"
    assert json.loads(config.get("aws-patterns:tags", "{}")).items() <= tags.items()
    assert provider.inputs["region"] == config["aws:region"]


def _name_tag(tags: dict | list) -> str:
    """The Name tag; Auto Scaling groups take tags as a list of {key, value, propagateAtLaunch}."""
    if isinstance(tags, list):
        return next((str(t["value"]) for t in tags if t["key"] == "Name"), "")
    return str(tags.get("Name", ""))


def test_every_taggable_resource_has_a_name_tag(stack_run: Run) -> None:
    untagged = [
        f"{r.type} {r.name}"
        for r in stack_run.aws_resources
        if _accepts_tags(r.type) and not _name_tag(r.inputs.get("tags", {})).startswith(f"{PROJECT}-")
    ]
    assert untagged == []


def test_every_aws_resource_belongs_to_a_component(stack_run: Run) -> None:
    urns = {r.urn: r for r in stack_run.resources}
    for res in stack_run.aws_resources:
        parent = urns.get(res.parent)
        assert parent is not None and not parent.custom, f"{res.name} is not parented to a component"
        assert re.fullmatch(rf"{PROJECT}:[a-z][a-zA-Z]*:[A-Z][A-Za-z]*", parent.type), parent.type


def test_name_tag_stays_short() -> None:
    run_program("dev", preview=True)  # name_tag reads the running stack's name
    assert name_tag("network", "public") == {"Name": f"{PROJECT}-dev-network-public"}


def test_bad_config_registers_nothing() -> None:
    monitors: list = []
    config = stack_config("dev")
    config["aws-patterns:network"] = json.dumps({"enabled": True, "cidr": "10.0.0.0/33"})
    with pytest.raises(ConfigError, match=r"aws-patterns:network\.cidr"):
        run_program("dev", preview=True, config=config, monitors=monitors)
    registered = [req.type for req, _ in monitors[0].requests if req.type != "pulumi:pulumi:Stack"]
    assert registered == []


def test_unknown_key_is_an_error_not_ignored() -> None:
    with pytest.raises(ConfigError, match=r"aws-patterns:network\.natStratgy: unknown key"):
        run_with("dev", {"network": {"natStratgy": "none"}})


def test_plan_lists_every_resource(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["prod"]) == 0
    printed = capsys.readouterr().out
    run = run_cached("prod", preview=True)
    assert f"Resources: {len(run.aws_resources)} AWS resources" in printed
    for res in run.aws_resources:
        assert f"{res.type}  {res.name}" in printed
    assert "(known after apply)" in printed


def test_plan_reports_config_errors_without_traceback(tmp_path) -> None:
    stack_file = tmp_path / "Pulumi.broken.yaml"
    stack_file.write_text(
        "config:\n  aws:region: us-east-1\n  aws-patterns:environment: dev\n"
        "  aws-patterns:network:\n    enabled: true\n    cidr: 10.0.0.1/16\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tools.plan", "dev", "--file", str(stack_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "aws-patterns:network.cidr" in proc.stderr
    assert "10.0.0.0/16" in proc.stderr  # the suggested fix
    assert "Traceback" not in proc.stderr
