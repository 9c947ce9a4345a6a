"""Offline plan: what `pulumi preview` would show for a stack, computed under the SDK's mocks.

    python -m tools.plan dev            # or: make plan STACK=dev
    python -m tools.plan prod --apply   # computed outputs as a mock `pulumi up` would give them
    python -m tools.plan dev --file my-stack.yaml   # try a stack file before committing it

No CLI, no credentials, no AWS: the real `__main__.py` runs in-process and every registered
resource is printed as a tree, then counted by type and by component, then the stack outputs,
then the Well-Architected review, the architecture diagram, the dev vs prod monthly cost and
the estimated duration of a fresh `pulumi up` (tools/review.py). `--write-diagram` also
rewrites the stack's committed diagram, as `make plan` does. The program runs once, in up mode;
the preview's outputs are derived from that run (tools/preview.py). A mistake in the stack file
prints one message naming the file, the key and the line, and exits with status 2 (tools/cli.py);
a mandatory review finding (prod) exits with status 1.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from tools import cli, diagram, entry, review
from tools.offline import Registered, Run
from tools.preview import run_plan


def _tree(run: Run) -> list[str]:
    urns = {r.urn for r in run.resources}
    kids: dict[str, list[Registered]] = {}
    for res in sorted(run.resources, key=lambda r: (r.type, r.name)):
        kids.setdefault(res.parent if res.parent in urns else "", []).append(res)
    top = kids.get("", [])
    lines = [f"+ pulumi:pulumi:Stack  aws-patterns-{run.stack}"]

    def walk(nodes: list[Registered], prefix: str) -> None:
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{node.type}  {node.name}")
            walk(kids.get(node.urn, []), prefix + ("   " if last else "│  "))

    walk(top, "  ")
    return lines


def _component_of(run: Run, res: Registered) -> str:
    owner = run.owner(res)
    return f"{owner.type} {owner.name}" if owner else "(stack)"


def render(run: Run, preview_outputs: dict[str, Any] | None = None) -> str:
    """The tree, the counts and the stack outputs of `run`; with `preview_outputs` (the outputs a
    preview of this up run shows, from tools.preview), a preview's view of it."""
    preview = run.preview or preview_outputs is not None
    outputs = run.outputs if preview_outputs is None else preview_outputs
    aws = run.aws_resources
    out = [f"Offline plan for stack '{run.stack}' ({'preview' if preview else 'apply'} under mocks)", ""]
    out += _tree(run)
    out += ["", f"Resources: {len(aws)} AWS resources to create", "", "By type:"]
    out += [f"  {count:4}  {type_}" for type_, count in sorted(Counter(r.type for r in aws).items())]
    out += ["", "By component:"]
    by_component = Counter(_component_of(run, r) for r in aws)
    out += [f"  {count:4}  {name}" for name, count in sorted(by_component.items())]
    out += ["", "Outputs:", json.dumps(outputs, indent=2, sort_keys=True)]
    return "\n".join(out)


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--file", help="read the config from this stack file instead of Pulumi.<stack>.yaml")
    parser.add_argument("--apply", action="store_true", help="resolve computed outputs as after `pulumi up`")
    parser.add_argument(
        "--write-diagram",
        action="store_true",
        help="also rewrite docs/diagrams/<stack>.md (and prod's copy in the README), as `make diagrams` does",
    )
    args = parser.parse_args(argv)
    if args.write_diagram and args.file:
        parser.error("--write-diagram rewrites the committed diagram of the committed stack file; drop --file")
    config = cli.stack_config(args.stack, args.file)
    planned = run_plan(args.stack, config)
    run = planned.applied
    if args.write_diagram:
        diagram.PLANNED[args.stack] = run
        diagram.main([args.stack])
    print(render(run, None if args.apply else planned.preview_outputs))
    report, status = review.plan_report(args.stack, config, run)
    print(f"\n{report}")
    cli.print_warnings([run])
    return status


if __name__ == "__main__":
    entry.run(main)
