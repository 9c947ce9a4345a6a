"""`make diff` on real git history: a copy of the program with one change per commit, and the report.

Each case starts a branch at the same base commit (a copy of what the program needs: the stack
files, `__main__.py`, components/, lambdas/, apps/), makes one change the way a pull request
would, commits it and runs the review of that commit against its parent. Only the stack a case
is about is planned, to keep the cases fast.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools import diff
from tools.offline import ROOT

PROGRAM = ["__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", ".gitignore"]
PACKAGES = ["components", "lambdas", "apps"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "project"
    path.mkdir()
    for name in PROGRAM:
        shutil.copy2(ROOT / name, path / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _git(path, "init", "--quiet", "--initial-branch=base")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "--all")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "base")
    return path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: expected {old!r} once"  # the case must change what it says
    path.write_text(text.replace(old, new))


def change(repo: Path, case: str, *edits: Callable[[Path], None]) -> None:
    """A branch `case` off the base commit with `edits` committed, checked out."""
    _git(repo, "checkout", "--quiet", "--force", "-B", case, "base")
    for edit in edits:
        edit(repo)
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "--all", "-m", case)


def review(repo: Path, stack: str, out: Path, *flags: str) -> tuple[int, dict[str, Any], str]:
    """`make diff BASE=HEAD~1` for one stack: the exit status, diff.json (that stack) and diff.md."""
    status = diff.main(
        ["--repo", str(repo), "--base", "HEAD~1", "--stack", stack, "--out", str(out), "--quiet", *flags]
    )
    report = json.loads((out / "diff.json").read_text())
    (stack_report,) = report["stacks"]
    return status, stack_report, (out / "diff.md").read_text()


def of(stack: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [c for c in stack["changes"] if c["type"] == type_]


def test_no_change_gives_an_empty_report_and_exit_0(repo: Path, tmp_path: Path) -> None:
    change(
        repo,
        "comment-only",
        lambda r: _edit(r / "__main__.py", "the table of contents.", "the table of contents (v2)."),
    )
    status, stack, md = review(repo, "dev", tmp_path)
    assert status == 0
    assert "No changes to any stack." in md
    assert (stack["changes"], stack["findings"], stack["cost"]["delta"]) == ([], {"new": [], "resolved": []}, 0)


def test_renaming_a_component_child_is_a_rename_with_the_alias_that_keeps_it(repo: Path, tmp_path: Path) -> None:
    events = "components/event_driven/component.py"
    change(repo, "rename-bus", lambda r: _edit(r / events, 'EventBus("bus",', 'EventBus("event-bus",'))
    _, stack, md = review(repo, "dev", tmp_path)
    renames = [c for c in stack["changes"] if c["action"] == "rename"]
    assert [(c["type"], c["name"]) for c in renames] == [("aws:cloudwatch/eventBus:EventBus", "event-bus")]
    assert renames[0]["oldUrn"].endswith("$aws:cloudwatch/eventBus:EventBus::bus")
    assert renames[0]["alias"] == 'aliases=[pulumi.Alias(name="bus")]'
    assert 'aliases=[pulumi.Alias(name="bus")]' in md
    # The rules on the bus name it, and a rule cannot move to another bus in place.
    rules = of(stack, "aws:cloudwatch/eventRule:EventRule")
    assert rules and all(c["action"] == "replace" and "eventBusName" in c["replaceReasons"] for c in rules)

    # With the alias the report shows, the bus is the same resource and nothing is replaced.
    def with_alias(r: Path) -> None:
        _edit(
            r / events,
            'EventBus("event-bus", tags=name_tag("events"), opts=self._child)',
            'EventBus("event-bus", tags=name_tag("events"), opts=pulumi.ResourceOptions.merge('
            'self._child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name="bus")])))',
        )

    change(
        repo, "rename-bus-aliased", lambda r: _edit(r / events, 'EventBus("bus",', 'EventBus("event-bus",'), with_alias
    )
    _, stack, _ = review(repo, "dev", tmp_path)
    assert [c["action"] for c in stack["changes"]] == []


def test_changing_a_tables_partition_key_is_data_loss_and_exits_non_zero(repo: Path, tmp_path: Path) -> None:
    defaults = "components/microservices/defaults.py"
    change(
        repo,
        "users-key",
        lambda r: _edit(
            r / defaults,
            '"partitionKey": {"name": "id", "type": "S"},',
            '"partitionKey": {"name": "userId", "type": "S"},',
        ),
    )
    status, stack, md = review(repo, "dev", tmp_path)
    assert status == 1
    (table,) = of(stack, "aws:dynamodb/table:Table")
    assert (table["name"], table["action"], table["replaceReasons"], table["dataLoss"]) == (
        "users",
        "replace",
        ["hashKey"],
        True,
    )
    assert "[!CAUTION]" in md and "**Data-loss risk** (fails the check)" in md


def test_raising_the_web_instance_type_shows_the_cost_delta(repo: Path, tmp_path: Path) -> None:
    change(
        repo,
        "bigger-web",
        lambda r: _edit(
            r / "Pulumi.staging.yaml",
            "  aws-patterns:multiTier:\n    enabled: true\n",
            "  aws-patterns:multiTier:\n    enabled: true\n    instances:\n      instanceType: t4g.medium\n",
        ),
    )
    status, stack, md = review(repo, "staging", tmp_path)
    cost = stack["cost"]
    assert status == 0 and cost["after"] > cost["before"] and cost["delta"] > 0
    ((component, money),) = cost["byComponent"].items()
    assert component.startswith("MultiTier") and money["after"] > money["before"]
    (template,) = of(stack, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template["action"] == "update" and "instanceType" in [p["path"] for p in template["paths"]]
    assert f"| {component} |" in md


def test_removing_encryption_is_a_new_finding(repo: Path, tmp_path: Path) -> None:
    events = "components/event_driven/component.py"
    change(
        repo,
        "no-sse",
        lambda r: _edit(
            r / events, "logical, sqs_managed_sse_enabled=True,", "logical, sqs_managed_sse_enabled=False,"
        ),
    )
    status, stack, md = review(repo, "dev", tmp_path)
    assert status == 0
    assert {(f["pillar"], f["rule"]) for f in stack["findings"]["new"]} == {("Security", "sqs-encrypted")}
    assert stack["findings"]["resolved"] == []
    queues = of(stack, "aws:sqs/queue:Queue")
    assert queues and all(c["action"] == "update" for c in queues)
    assert re.search(r"\*\*Security\*\*: \d+ new, 0 resolved", md)
    sarif = json.loads((tmp_path / "review.sarif").read_text())
    new = [r for r in sarif["runs"][0]["results"] if r["properties"]["newInThisChange"]]
    assert {r["ruleId"] for r in new} == {"sqs-encrypted"}
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == events for r in new)


def test_a_change_that_breaks_the_program_exits_2_naming_the_key(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change(
        repo,
        "bad-config",
        lambda r: _edit(r / "Pulumi.dev.yaml", "  aws-patterns:environment: dev\n", "  aws-patterns:environment: qa\n"),
    )
    status = diff.main(["--repo", str(repo), "--base", "HEAD~1", "--stack", "dev", "--quiet"])
    error = capsys.readouterr().err
    assert status == 2
    assert "stack dev does not plan in the working tree" in error and "aws-patterns:environment" in error
    assert "Traceback" not in error
