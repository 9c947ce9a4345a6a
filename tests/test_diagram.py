"""The architecture diagrams are generated from what the program registers, and committed fresh."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from components.patterns import PATTERNS
from tools import diagram, regions
from tools.offline import ROOT, STACKS, Run, run_program


class _Pattern(pulumi.ComponentResource):
    """A tiny pattern: queue -> function -> table, with a role policy granting two things."""

    def __init__(self, name: str) -> None:
        super().__init__("aws-patterns:test:Pattern", name)
        child = pulumi.ResourceOptions(parent=self)
        table = aws.dynamodb.Table(f"{name}-table", hash_key="id", attributes=[{"name": "id", "type": "S"}], opts=child)
        queue = aws.sqs.Queue(f"{name}-queue", opts=child)
        role = aws.iam.Role(f"{name}-role", assume_role_policy="{}", opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps({"Statement": [{"Resource": [table.arn, queue.arn]}]}),
            opts=child,
        )
        fn = aws.lambda_.Function(
            f"{name}-fn",
            role=role.arn,
            environment={"variables": {"TABLE": table.name}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.lambda_.EventSourceMapping(f"{name}-esm", event_source_arn=queue.arn, function_name=fn.name, opts=child)
        for i in range(3):
            aws.ec2.Subnet(f"{name}-public-{i}", vpc_id="vpc", cidr_block=f"10.0.{i}.0/24", opts=child)
        self.register_outputs({})


@pytest.fixture(scope="module")
def pattern_run() -> Run:
    return run_program("dev", preview=True, program=lambda: _Pattern("orders"))


def test_resources_sit_in_their_component_and_tier(pattern_run: Run) -> None:
    text = diagram.render(pattern_run)
    assert text.startswith("flowchart LR")
    assert 'subgraph c0["Pattern · orders"]' in text
    tiers = re.findall(r'subgraph c0_(\w+)\["', text)
    assert tiers == ["messaging", "compute", "data", "network"], "tiers in request-path order"
    assert re.search(r'\["SQS queue<br/>orders-queue"\]', text)
    assert "Subnet x3<br/>orders-public" in text, "the per-AZ subnets collapse into one node"
    assert "IAM" not in text and "policy" not in text, "wiring resources are edges, not nodes"


def _edges(text: str) -> set[tuple[str, str]]:
    labels = dict(re.findall(r'(n\d+_\w+)\["([^"<]+)', text))
    return {(labels[a], labels[b]) for a, b in re.findall(r"(n\d+_\w+) --> (n\d+_\w+)", text)}


def test_edges_follow_the_wiring_along_the_request_path(pattern_run: Run) -> None:
    edges = _edges(diagram.render(pattern_run))
    assert ("SQS queue", "Lambda") in edges, "the event source mapping wires queue to function"
    assert ("Lambda", "DynamoDB table") in edges, "the function is built from the table"
    assert ("SQS queue", "DynamoDB table") not in edges, "a policy granting both is not a flow between them"


def test_rendering_is_deterministic(pattern_run: Run) -> None:
    again = run_program("dev", preview=True, program=lambda: _Pattern("orders"))
    assert diagram.render(pattern_run) == diagram.render(again)


@pytest.mark.parametrize("stack", STACKS)
def test_committed_diagram_is_fresh(stack: str) -> None:
    path = ROOT / "docs" / "diagrams" / f"{stack}.md"
    assert path.exists(), "run `make diagrams`"
    assert path.read_text() == diagram.document(stack, diagram.diagram_run(stack)), "stale: run `make diagrams`"


def _diagram_regions() -> list[tuple[Path, str]]:
    return [
        (page, name)
        for page in regions.pages()
        for name in regions.names(page.read_text())
        if name.startswith("diagram:")
    ]


@pytest.mark.parametrize("page, name", _diagram_regions(), ids=lambda x: x if isinstance(x, str) else x.name)
def test_diagram_regions_of_the_docs_are_fresh(page: Path, name: str) -> None:
    assert regions.body(page.read_text(), name) == diagram.region(name), f"{name} is stale: run `make diagrams`"


def test_every_pattern_page_draws_its_pattern() -> None:
    for pattern in PATTERNS:
        names = regions.names((ROOT / pattern.docs).read_text())
        assert any(n.startswith("diagram:") and n.endswith(f":{pattern.key}") for n in names), pattern.docs


def test_a_pattern_view_holds_that_component_and_nothing_else() -> None:
    run = diagram.diagram_run("prod")
    view = diagram.pattern_view(run, "multiTier")
    (root,) = [r for r in view.resources if r.type == "aws-patterns:multiTier:MultiTier"]
    assert all(r.urn == root.urn or view.owner(r) == root for r in view.resources)
    assert {r.urn for r in view.resources} == {r.urn for r in run.within(root.type).resources}
    assert "EventBridge" not in diagram.render(view), "another pattern's resources stay out"
    with pytest.raises(ValueError, match="no component of pattern"):
        diagram.pattern_view(run, "nosuchpattern")


def test_every_drawn_type_is_a_real_pulumi_aws_resource() -> None:
    for type_ in diagram.DRAWN:
        _, module, cls = type_.split(":")
        assert hasattr(getattr(aws, module.split("/")[0].replace("lambda", "lambda_")), cls), type_
    assert json.dumps(diagram.TIERS)
