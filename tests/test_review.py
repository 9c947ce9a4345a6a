"""The offline Well-Architected review of the shipped stacks, and how `make plan` reports it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policy.wellarchitected import ADVISORY, MANDATORY, PILLARS, RULES
from tools import review
from tools.offline import ROOT, STACKS, Run, run_cached, run_program, stack_config

README = (ROOT / "README.md").read_text()

# Mandatory prod findings the pattern components still have, each routed to its pattern's owner.
# Empty means prod passes every mandatory rule. A listed finding that disappears fails the test
# too, so the list only ever shrinks.
ROUTED: set[tuple[str, str]] = set()


def _section(title: str) -> str:
    return README.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


@pytest.fixture(scope="module", params=STACKS)
def stack_review(request: pytest.FixtureRequest) -> tuple[str, str, list]:
    stack = request.param
    environment = stack_config(stack)["aws-patterns:environment"]
    return stack, environment, review.review(run_cached(stack, preview=False), environment)


def test_prod_passes_every_mandatory_rule(stack_review: tuple[str, str, list]) -> None:
    stack, environment, findings = stack_review
    mandatory = {(f.rule, f.resource_name) for f in findings if f.level == MANDATORY}
    if environment != "prod":
        assert mandatory == set(), f"{stack} is {environment}: its findings are advisory"
        return
    details = [f"{f.rule}: {f.resource_type} {f.resource_name}: {f.message}" for f in findings]
    assert mandatory == ROUTED, "\n".join(details)


def test_dev_findings_are_the_documented_trade_offs(stack_review: tuple[str, str, list]) -> None:
    _, environment, findings = stack_review
    if environment != "dev":
        pytest.skip("only dev's trade-offs are documented")
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", _section("Intended trade-offs in dev"), re.MULTILINE))
    undocumented = sorted({f.rule for f in findings if (f.rule, f.resource_name) not in ROUTED} - documented)
    assert undocumented == [], "document these in the README's dev trade-offs, or fix them"
    assert all(f.level == ADVISORY for f in findings)


def test_readme_lists_every_rule_with_its_pillar() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| ([A-Za-z ]+) \|", _section("Rules and enforcement"), re.MULTILINE))
    assert rows == {rule.id: rule.pillar for rule in RULES.values()}


def test_review_sees_the_provider_default_tags() -> None:
    run = run_cached("dev", preview=False)
    tags = review.provider_tags(run)
    assert tags["environment"] == "dev" and tags["managed-by"] == "pulumi"


def test_render_groups_findings_by_pillar_with_resource_and_fix() -> None:
    from policy.wellarchitected import Finding

    findings = [
        Finding("sqs-encrypted", "Security", MANDATORY, "aws:sqs/queue:Queue", "orders", "not encrypted", "set sse"),
        Finding("dynamodb-pitr", "Reliability", ADVISORY, "aws:dynamodb/table:Table", "t", "no pitr", "set pitr"),
    ]
    text = review.render(findings, "prod", "prod")
    assert "2 finding(s), 1 mandatory" in text.splitlines()[0]
    headers = [line.split(" (")[0] for line in text.splitlines() if line and not line.startswith(" ")][1:]
    assert headers == list(PILLARS)
    security = text.split("Security", 1)[1].split("Reliability", 1)[0]
    assert "[mandatory] sqs-encrypted: aws:sqs/queue:Queue orders: not encrypted" in security
    assert "fix: set sse" in security


def test_exit_status_is_one_exactly_when_a_finding_is_mandatory(tmp_path: Path, capsys) -> None:
    everything_mandatory = tmp_path / "strict.json"
    everything_mandatory.write_text(json.dumps({"all": "mandatory"}))
    nothing = tmp_path / "off.json"
    nothing.write_text(json.dumps({"all": "disabled"}))
    dev_findings = review.review(run_cached("dev", preview=False), "dev")
    assert review.main(["dev", "--policy-config", str(everything_mandatory)]) == (1 if dev_findings else 0)
    assert review.main(["prod", "--policy-config", str(nothing)]) == 0
    prod_header = capsys.readouterr().out.split("Well-Architected review of stack 'prod'")[-1].splitlines()[0]
    assert prod_header.endswith("0 finding(s), 0 mandatory")


def test_plan_report_has_review_diagram_and_cost_side_by_side() -> None:
    config = stack_config("staging")
    run: Run = run_program("staging", preview=False, config=config)
    text, status = review.plan_report("staging", config, run)
    assert text.startswith("Well-Architected review of stack 'staging'")
    assert "flowchart LR" in text
    cost_header = next(line for line in text.splitlines() if "qty, USD/month" in line)
    assert re.findall(r"(\w+): qty", cost_header) == ["dev", "staging", "prod"]
    assert status == 0, "staging findings are advisory"
