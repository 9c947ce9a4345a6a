"""Offline Well-Architected review: the policy pack's rules over the mocked program.

    python -m tools.review prod                 # findings by pillar; exit 1 on mandatory ones
    python -m tools.review dev --policy-config my.json   # same config shape as --policy-pack-config

The program runs in up mode under the mocks, so ARNs and policy documents are known and every
rule can see what it checks. Findings are grouped by pillar with the resource and the fix;
mandatory ones (prod, unless the config says otherwise) make the exit status 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from components.defaults import NAMESPACE
from policy.pack import default_tags
from policy.wellarchitected import MANDATORY, PILLARS, RULES, Context, Finding, Resource, check_stack
from tools import cli, cost, diagram, entry, estimate
from tools.offline import Run, run_program


def resources(run: Run) -> list[Resource]:
    return [
        Resource(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=r.inputs,
            property_dependencies=r.property_dependencies,
            parent=r.parent,
        )
        for r in run.resources
    ]


def provider_tags(run: Run) -> dict[str, str]:
    """The default tags of the provider the AWS resources use."""
    tags: dict[str, str] = {}
    for provider in run.by_type("pulumi:providers:aws"):
        tags.update(default_tags(provider.inputs))
    return tags


def review(run: Run, environment: str, config: dict | None = None) -> list[Finding]:
    ctx = Context(environment=environment, default_tags=provider_tags(run), config=config or {})
    return check_stack(resources(run), ctx)


def render(findings: Sequence[Finding], stack: str, environment: str) -> str:
    mandatory = sum(f.level == MANDATORY for f in findings)
    lines = [
        f"Well-Architected review of stack '{stack}' ({environment}): {len(RULES)} rules, "
        f"{len(findings)} finding(s), {mandatory} mandatory"
    ]
    for pillar in PILLARS:
        found = sorted((f for f in findings if f.pillar == pillar), key=lambda f: (f.rule, f.resource_name))
        rules = sum(r.pillar == pillar for r in RULES.values())
        lines += ["", f"{pillar} ({rules} rules): {'no findings' if not found else f'{len(found)} finding(s)'}"]
        for f in found:
            lines.append(f"  [{f.level}] {f.rule}: {f.resource_type} {f.resource_name}: {f.message}")
            lines.append(f"      fix: {f.fix}")
    return "\n".join(lines)


def plan_report(stack: str, config: dict[str, str], run: Run) -> tuple[str, int]:
    """What `make plan` prints after the resource tree, and its exit status, from its up run.

    The review (up mode, so every rule sees known values), the architecture diagram (the one
    `make diagrams` commits; `make plan` writes it too), the monthly cost of dev and prod side by
    side, plus the planned stack when it is neither, and the estimated duration of a fresh `up`.
    The other stacks' costs come from `.cache/cost/` while their stack file and the program's
    sources are unchanged (tools/cost.py). Status 1 when a finding is mandatory.
    """
    if run.preview:
        raise ValueError("plan_report reads computed values: give it an up run (tools.preview.run_plan)")
    environment = config[f"{NAMESPACE}:environment"]
    findings = review(run, environment)
    prices = cost.Prices.load()
    durations = estimate.Durations.load()
    summaries = {
        s: cost.Summary.of(run, prices) if s == stack else cost.cached_summary(s, prices)
        for s in dict.fromkeys(("dev", stack, "prod"))
    }
    sections = [
        render(findings, stack, environment),
        f"Architecture (Mermaid; committed as docs/diagrams/{stack}.md by `make diagrams`):\n{diagram.render(run)}",
        cost.table(summaries, prices),
        estimate.render(estimate.critical_path(run, durations), run, durations),
    ]
    return "\n\n".join(sections), 1 if any(f.level == MANDATORY for f in findings) else 0


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--file", help="read the config from this stack file instead of Pulumi.<stack>.yaml")
    parser.add_argument("--policy-config", help="policy pack config (JSON), as for --policy-pack-config")
    args = parser.parse_args(argv)
    config = cli.read_json(args.policy_config) if args.policy_config else None
    values = cli.stack_config(args.stack, args.file)
    run = run_program(args.stack, preview=False, config=values)
    environment = values[f"{NAMESPACE}:environment"]
    findings = review(run, environment, config)
    print(render(findings, args.stack, environment))
    cli.print_warnings([run])
    return 1 if any(f.level == MANDATORY for f in findings) else 0


if __name__ == "__main__":
    entry.run(main)
