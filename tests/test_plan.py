"""`make plan`: one process, one program run, and the preview it prints derived from that run."""

from __future__ import annotations

import dataclasses
import gc
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from tools import cost, diagram, entry, estimate, offline, plan, preview, review
from tools.offline import ROOT, STACKS, UNKNOWN, Registered, run_cached, run_program, stack_config


def _record(res: Registered) -> dict[str, str]:
    """Every field a run records of a resource as text (archives, compared by identity, as their type)."""
    fields = {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}
    fields["dependencies"] = sorted(res.dependencies)
    fields["property_dependencies"] = {k: sorted(v) for k, v in res.property_dependencies.items()}
    return {k: json.dumps(v, sort_keys=True, default=lambda o: type(o).__name__) for k, v in fields.items()}


@pytest.mark.parametrize("stack", STACKS)
def test_one_up_run_gives_what_a_preview_and_an_up_run_give(stack: str) -> None:
    planned = preview.run_plan(stack, stack_config(stack))
    assert planned.preview_outputs == run_cached(stack, preview=True).outputs
    up = run_cached(stack, preview=False)
    assert planned.applied.outputs == up.outputs
    mine = {r.urn: r for r in planned.applied.resources}
    theirs = {r.urn: r for r in up.resources}
    assert mine.keys() == theirs.keys()
    for urn, res in mine.items():
        assert _record(res) == _record(theirs[urn]), urn


def _mixed() -> None:
    """Every way the program builds a stack output: inputs, computed outputs, ids, URNs, mixes."""
    named = aws.sqs.Queue("named", name="named-queue", tags={"team": "a"})
    auto = aws.sqs.Queue("auto")
    table = aws.dynamodb.Table(
        "table", name="t", hash_key="id", attributes=[{"name": "id", "type": "S"}], billing_mode="PAY_PER_REQUEST"
    )
    policy = aws.sqs.QueuePolicy(
        "policy", queue_url=named.url, policy=pulumi.Output.json_dumps({"Resource": named.arn})
    )
    echo = aws.sqs.Queue("echo", name=named.name.apply(lambda n: f"{n}-copy"))
    by_id = aws.sqs.Queue("by-id", name=named.id.apply(lambda i: f"q-{i}"))
    holder = aws.sqs.Queue("holder", tags={"arn": named.arn, "team": "b"})
    outputs: dict[str, Any] = {
        "inputName": named.name,
        "inputTags": named.tags,
        "computedUrl": named.url,
        "autoName": auto.name,
        "id": named.id,
        "idInText": pulumi.Output.concat("queue ", named.id),
        "urn": named.urn,
        "idAndInput": pulumi.Output.all(named.id, named.name).apply(lambda a: f"{a[0]}:{a[1]}"),
        "inputTransformed": named.name.apply(str.upper),
        "inputOfInput": echo.name,
        "inputOfId": by_id.name,
        "inputOfComputed": policy.policy,
        "notReturned": table.stream_arn,
        "inputWithComputedInside": holder.tags,
        "invoke": aws.get_availability_zones_output().names,
        "plain": 3,
        "nested": {"a": named.name, "b": [auto.arn, 1]},
        "secret": pulumi.Output.secret("s"),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)


def test_preview_outputs_match_a_real_preview_for_every_kind_of_value() -> None:
    derived = preview.run_plan("dev", stack_config("dev"), program=_mixed).preview_outputs
    real = run_program("dev", preview=True, program=_mixed).outputs
    assert derived == real
    # Both kinds occur, so the comparison above says something.
    assert derived["inputName"] == "named-queue" and derived["urn"].startswith("urn:pulumi:")
    assert derived["computedUrl"] == derived["id"] == derived["idAndInput"] == UNKNOWN


def test_plan_prints_the_preview_of_its_one_up_run(capsys: pytest.CaptureFixture[str], monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(cost, "CACHE_DIR", tmp_path)
    for stack in ("dev", "prod"):  # the cost table's other stacks, cached beforehand
        cost.cached_summary(stack, cost.Prices.load(), tmp_path)
    runs: list[tuple[str, bool]] = []
    real_run = offline.run_program

    def counted(stack: str, preview: bool, *args: Any, **kwargs: Any) -> offline.Run:
        runs.append((stack, preview))
        return real_run(stack, preview, *args, **kwargs)

    monkeypatch.setattr(offline, "run_program", counted)
    monkeypatch.setattr(preview, "run_program", counted)
    assert plan.main(["prod"]) == 0
    assert runs == [("prod", False)]
    printed = capsys.readouterr().out
    assert "Offline plan for stack 'prod' (preview under mocks)" in printed
    view = json.dumps(run_cached("prod", preview=True).outputs, indent=2, sort_keys=True)
    assert f"Outputs:\n{view}\n" in printed
    for heading in ("Estimated duration of a fresh `pulumi up`", "Well-Architected review", "flowchart LR"):
        assert heading in printed
    assert re.search(r"dev: qty, USD/month \|\s+prod: qty, USD/month", printed)


def test_other_stacks_cost_summaries_are_cached_on_disk(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(cost, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(offline, "_CACHE", {})
    runs: list[str] = []
    real_run = offline.run_program
    monkeypatch.setattr(offline, "run_program", lambda stack, *a, **kw: runs.append(stack) or real_run(stack, *a, **kw))
    prices = cost.Prices.load()
    first = cost.cached_summary("dev", prices)
    offline._CACHE.clear()  # as in a new process
    second = cost.cached_summary("dev", prices)
    assert runs == ["dev"], "the second summary comes from the disk cache"
    assert first == second == cost.Summary.of(run_cached("dev", preview=False), prices)
    (tmp_path / "dev.json").write_text("{not json")
    assert cost.cached_summary("dev", prices) == first, "an unreadable cache file is computed again"
    assert json.loads((tmp_path / "dev.json").read_text())["key"] == cost.cache_key("dev", prices)


def test_the_cache_key_follows_the_stack_file_the_sources_and_the_prices(monkeypatch, tmp_path) -> None:
    for name, text in {
        "Pulumi.dev.yaml": "config: {}\n",
        "__main__.py": "",
        "components/x/component.py": "",
        "README.md": "",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(cost, "ROOT", tmp_path)
    prices = cost.Prices({"hours_per_month": 730})
    key = cost.cache_key("dev", prices)
    (tmp_path / "README.md").write_text("docs change nothing")
    assert cost.cache_key("dev", prices) == key
    for name in ("Pulumi.dev.yaml", "components/x/component.py"):
        (tmp_path / name).write_text("# changed\n")
        assert cost.cache_key("dev", prices) != key, name
        key = cost.cache_key("dev", prices)
    assert cost.cache_key("dev", cost.Prices({"hours_per_month": 720})) != key


def test_make_plan_is_one_process_that_writes_the_diagram() -> None:
    def commands(*variables: str) -> list[list[str]]:
        dry_run = subprocess.run(
            ["make", "-n", "plan", *variables], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        return [shlex.split(line)[1:] for line in dry_run.splitlines() if " -m tools." in line]

    assert commands("STACK=dev") == [["-m", "tools.plan", "dev", "--write-diagram"]]
    # A stack file of the user's own has no committed diagram to rewrite.
    assert commands("STACK=dev", "FILE=my.yaml") == [["-m", "tools.plan", "dev", "--file", "my.yaml"]]


def test_write_diagram_draws_the_planned_run(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(diagram, "ROOT", tmp_path)
    monkeypatch.setattr(diagram, "DIAGRAMS", tmp_path)
    monkeypatch.setattr(diagram, "PLANNED", {})
    assert plan.main(["dev", "--write-diagram"]) == 0
    assert capsys.readouterr().out.startswith("rewritten: ")
    assert (tmp_path / "dev.md").read_text() == diagram.document("dev", run_cached("dev", preview=True))
    assert diagram.main(["dev"]) == 0
    assert capsys.readouterr().out == "diagrams are up to date\n"
    with pytest.raises(SystemExit) as exit_:
        plan.main(["dev", "--write-diagram", "--file", str(ROOT / "Pulumi.dev.yaml")])
    assert exit_.value.code == 2


@pytest.mark.parametrize("stack", STACKS)
def test_either_mode_draws_the_same_diagram_and_cost(stack: str) -> None:
    up, preview_run = run_cached(stack, preview=False), run_cached(stack, preview=True)
    assert diagram.render(up) == diagram.render(preview_run)
    prices = cost.Prices.load()

    def priced(summary: cost.Summary) -> tuple[Any, ...]:  # registration order varies the float sums' last digits
        return sorted((line.item, line.quantity, round(line.monthly, 6)) for line in summary.lines), summary.usage

    assert priced(cost.Summary.of(up, prices)) == priced(cost.Summary.of(preview_run, prices))


def test_a_mandatory_finding_exits_1(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cost, "CACHE_DIR", tmp_path)
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    document["config"]["aws-patterns:microservices"] = {"enabled": True, "pointInTimeRecovery": False}
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    assert plan.main(["prod", "--file", str(stack_file)]) == 1


def test_plan_report_needs_an_up_run() -> None:
    with pytest.raises(ValueError, match="up run"):
        review.plan_report("dev", stack_config("dev"), run_cached("dev", preview=True))


def test_plan_report_names_the_estimated_chain() -> None:
    run = run_cached("prod", preview=False)
    text, _ = review.plan_report("prod", stack_config("prod"), run)
    durations = estimate.Durations.load()
    for step in estimate.critical_path(run, durations).chain:
        assert f"{step.resource.type}  {step.resource.name}" in text


def test_the_program_and_the_tools_collect_garbage_alike() -> None:
    # The program's thresholds keep registration linear under `pulumi up` (ADR 0021); the tools'
    # entry points and the benchmarks' floors assume the same values.
    run_program("dev", preview=True)
    assert gc.get_threshold() == entry.THRESHOLDS
