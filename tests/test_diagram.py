"""The architecture diagrams are generated from what the program registers, and committed fresh."""

from __future__ import annotations

import json
import re

import pulumi
import pulumi_aws as aws
import pytest

from tools import diagram
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


def test_readme_embeds_the_fresh_prod_diagram() -> None:
    readme = (ROOT / "README.md").read_text()
    fresh = diagram.render(diagram.diagram_run(diagram.README_STACK))
    assert f"<!-- diagram:prod -->\n```mermaid\n{fresh}\n```\n<!-- /diagram:prod -->" in readme, (
        "stale: run `make diagrams`"
    )


def test_readme_block_is_replaced_between_its_markers_only() -> None:
    text = "intro\n<!-- diagram:prod -->\nold\n<!-- /diagram:prod -->\noutro\n"
    assert diagram.readme_with(text, "prod", "flowchart LR") == (
        "intro\n<!-- diagram:prod -->\n```mermaid\nflowchart LR\n```\n<!-- /diagram:prod -->\noutro\n"
    )
    with pytest.raises(ValueError, match="markers"):
        diagram.readme_with("no markers", "prod", "x")


def test_every_drawn_type_is_a_real_pulumi_aws_resource() -> None:
    for type_ in diagram.DRAWN:
        _, module, cls = type_.split(":")
        assert hasattr(getattr(aws, module.split("/")[0].replace("lambda", "lambda_")), cls), type_
    assert json.dumps(diagram.TIERS)
