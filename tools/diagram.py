"""Architecture diagrams (Mermaid) generated from what the program registers, one per stack.

    python -m tools.diagram            # or: make diagrams — rewrite docs/diagrams/*.md and the docs' copies
    python -m tools.diagram --check    # exit 1 if a committed copy is stale

Besides docs/diagrams/<stack>.md, any page (tools/regions.py) may hold a generated copy in a
region: `<!-- diagram:<stack> -->` for the whole stack, `<!-- diagram:<stack>:<pattern> -->` for
only what one pattern's component registers in that stack (`diagram:prod:multiTier`).

Nothing is drawn by hand: the real `__main__.py` runs under the mocks and every AWS resource
lands in the subgraph of the pattern component that owns it, inside a subgraph per tier.
Resources that only wire others together (IAM, routes, permissions, policies, associations)
are not drawn; when they connect exactly two drawn resources they become the edge between them. Resources of one kind
and role (the subnets of a tier, the NAT gateways) collapse into one node with a count.
Edges point along the request path (entry -> messaging -> compute -> data -> network).
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tools import cli, entry, regions
from tools.offline import ROOT, STACKS, Registered, Run, run_cached

DIAGRAMS = ROOT / "docs" / "diagrams"

# Drawn resource types: (tier, rank along the request path, label).
DRAWN: dict[str, tuple[str, int, str]] = {
    "aws:apigateway/restApi:RestApi": ("entry", 0, "REST API"),
    "aws:apigatewayv2/api:Api": ("entry", 0, "HTTP API"),
    "aws:lb/loadBalancer:LoadBalancer": ("entry", 0, "Application Load Balancer"),
    "aws:cloudfront/distribution:Distribution": ("entry", 0, "CloudFront"),
    "aws:ec2/customerGateway:CustomerGateway": ("entry", 0, "Customer gateway"),
    "aws:ec2/vpnConnection:VpnConnection": ("entry", 1, "Site-to-site VPN"),
    "aws:ec2/vpnGateway:VpnGateway": ("entry", 2, "Virtual private gateway"),
    "aws:lb/targetGroup:TargetGroup": ("entry", 1, "Target group"),
    "aws:cloudwatch/eventBus:EventBus": ("messaging", 1, "EventBridge bus"),
    "aws:cloudwatch/eventRule:EventRule": ("messaging", 2, "EventBridge rule"),
    "aws:cloudwatch/eventArchive:EventArchive": ("messaging", 2, "Event archive"),
    "aws:sns/topic:Topic": ("messaging", 3, "SNS topic"),
    "aws:sqs/queue:Queue": ("messaging", 4, "SQS queue"),
    "aws:lambda/function:Function": ("compute", 5, "Lambda"),
    "aws:autoscaling/group:Group": ("compute", 5, "Auto Scaling group"),
    "aws:ec2/instance:Instance": ("compute", 5, "EC2 instance"),
    "aws:dynamodb/table:Table": ("data", 6, "DynamoDB table"),
    "aws:rds/instance:Instance": ("data", 6, "RDS"),
    "aws:rds/cluster:Cluster": ("data", 6, "Aurora cluster"),
    "aws:s3/bucket:Bucket": ("data", 6, "S3 bucket"),
    "aws:secretsmanager/secret:Secret": ("data", 6, "Secret"),
    "aws:kms/key:Key": ("data", 7, "KMS key"),
    "aws:ec2/internetGateway:InternetGateway": ("network", 8, "Internet gateway"),
    "aws:ec2/natGateway:NatGateway": ("network", 8, "NAT gateway"),
    "aws:ec2/subnet:Subnet": ("network", 9, "Subnet"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("network", 9, "VPC endpoint"),
    "aws:ec2/flowLog:FlowLog": ("network", 9, "Flow log"),
    "aws:ec2/vpc:Vpc": ("network", 10, "VPC"),
}
TIERS = ("entry", "messaging", "compute", "data", "network")
# Every resource sits in the VPC's subgraph already; edges to it would only add noise.
NO_EDGES = ("aws:ec2/vpc:Vpc",)
# Wiring that connects two resources without carrying traffic between them: an IAM policy, an
# alarm or dashboard (it watches a resource and notifies a topic; the topic does not call it).
NOT_FLOW = ("aws:iam/", "aws:cloudwatch/metricAlarm:", "aws:cloudwatch/dashboard:")
_INDEX = re.compile(r"-\d+$")


@dataclass(frozen=True)
class Node:
    component: str
    tier: str
    rank: int
    label: str
    role: str  # logical name without its per-AZ index

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.component, self.tier, self.label, self.role)


def _node(run: Run, res: Registered) -> Node | None:
    drawn = DRAWN.get(res.type)
    if not drawn or not res.custom:
        return None
    tier, rank, label = drawn
    owner = run.owner(res)
    component = f"{owner.type.rsplit(':', 1)[-1]} · {owner.name}" if owner else ""
    return Node(component, tier, rank, label, _INDEX.sub("", res.name))


def _edges(run: Run, nodes: dict[str, Node]) -> set[tuple[Node, Node]]:
    """Pairs of drawn nodes connected directly or through undrawn wiring resources."""
    by_urn = {r.urn: r for r in run.resources}
    deps = {
        r.urn: {u for urns in r.property_dependencies.values() for u in urns} | set(r.dependencies)
        for r in run.resources
    }

    def reach(urn: str) -> set[Node]:
        """Drawn nodes `urn` depends on, walking through undrawn resources only."""
        found, seen, todo = set(), {urn}, list(deps.get(urn, ()))
        while todo:
            dep = todo.pop()
            if dep in seen or dep not in by_urn:
                continue
            seen.add(dep)
            if dep in nodes:
                found.add(nodes[dep])
            elif by_urn[dep].custom:
                todo.extend(deps.get(dep, ()))
        return found

    edges = set()
    for res in run.resources:
        if not res.custom:
            continue
        reached = [n for n in reach(res.urn) if n.label not in {DRAWN[t][2] for t in NO_EDGES}]
        if res.urn in nodes:
            groups = [[nodes[res.urn], n] for n in reached]
        elif len(reached) == 2 and not res.type.startswith(NOT_FLOW):
            # Wiring between exactly two resources (an event source mapping, an integration, a
            # subscription, a queue policy) is an edge; wiring that touches more (a deployment's
            # triggers) says nothing about flow, and an IAM policy granting a table and a queue
            # does not connect them (the function it belongs to reaches both through it).
            groups = [reached]
        else:
            groups = []
        for a, b in groups:
            if a.key == b.key:
                continue
            if (b.rank, b.key) < (a.rank, a.key) and not (res.urn in nodes and a.rank == b.rank):
                a, b = b, a
            edges.add((a, b))
    return edges


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def render(run: Run) -> str:
    """The Mermaid flowchart of one program run (deterministic: sorted, stable ids)."""
    nodes = {r.urn: n for r in run.resources if (n := _node(run, r))}
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for node in nodes.values():
        counts[node.key] += 1
    unique = {n.key: n for n in nodes.values()}
    ids = {key: f"n{i}_{_id(key[2])}" for i, key in enumerate(sorted(unique))}

    lines = ["flowchart LR"]
    for c, component in enumerate(sorted({n.component for n in unique.values()})):
        lines.append(f'  subgraph c{c}["{component}"]')
        tiers = [t for t in TIERS if any(n.component == component and n.tier == t for n in unique.values())]
        for tier in tiers:
            lines.append(f'    subgraph c{c}_{tier}["{tier}"]')
            for key in sorted(k for k, n in unique.items() if n.component == component and n.tier == tier):
                count = counts[key]
                label = f"{key[2]}{f' x{count}' if count > 1 else ''}<br/>{key[3]}"
                lines.append(f'      {ids[key]}["{label}"]')
            lines.append("    end")
        lines.append("  end")
    for a, b in sorted(_edges(run, nodes), key=lambda e: (ids[e[0].key], ids[e[1].key])):
        lines.append(f"  {ids[a.key]} --> {ids[b.key]}")
    return "\n".join(lines)


def document(stack: str, run: Run) -> str:
    return (
        f"# Architecture of the `{stack}` stack\n\n"
        "Generated by `make diagrams` (or `make plan`) from the resources the program registers under the mocks;\n"
        "do not edit by hand. `tests/test_diagram.py` fails when this copy is stale.\n\n"
        f"```mermaid\n{render(run)}\n```\n"
    )


# Runs a caller already has, by stack: `make plan` draws its diagram from the up run it reviews
# (the drawing reads types, owners and dependencies, never a computed value, so either mode's run
# of a stack draws the same diagram).
PLANNED: dict[str, Run] = {}


def diagram_run(stack: str) -> Run:
    return PLANNED.get(stack) or run_cached(stack, preview=True)


def pattern_view(run: Run, pattern: str) -> Run:
    """Only what the component of `pattern` (type token `<project>:<pattern>:<Class>`) registered."""
    components = {
        r.type for r in run.resources if not r.custom and r.type.split(":")[1:2] == [pattern] and not run.owner(r)
    }
    if len(components) != 1:
        raise ValueError(f"the {run.stack} stack has no component of pattern {pattern!r}")
    return run.within(components.pop())


def region(name: str) -> str:
    """What a `diagram:<stack>[:<pattern>]` region holds."""
    _, stack, *pattern = name.split(":")
    run = diagram_run(stack)
    return f"```mermaid\n{render(pattern_view(run, pattern[0]) if pattern else run)}\n```"


def expected_files(stacks: list[str]) -> dict[Path, str]:
    """Every file the diagrams of `stacks` live in, with the content it should have."""
    files = {DIAGRAMS / f"{stack}.md": document(stack, diagram_run(stack)) for stack in stacks}
    for page in regions.pages():
        text = page.read_text()
        names = [n for n in regions.names(text) if n.startswith("diagram:") and n.split(":")[1] in stacks]
        for name in names:
            text = regions.replace(text, name, region(name))
        if names:
            files[page] = text
    return files


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", metavar="stack", help=f"default: all of {', '.join(STACKS)}")
    parser.add_argument("--check", action="store_true", help="only report stale copies (exit 1)")
    args = parser.parse_args(argv)
    for stack in args.stacks or STACKS:
        cli.stack_config(stack)
    stale = []
    for path, content in expected_files(args.stacks or STACKS).items():
        if not path.exists() or path.read_text() != content:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    verb = "stale" if args.check else "rewritten"
    print(f"{verb}: {', '.join(map(str, stale))}" if stale else "diagrams are up to date")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    entry.run(main)
