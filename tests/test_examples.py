"""The programs in examples/ compose the components directly in Python, and run under the mocks."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import yaml

from tools.offline import ROOT, Registered, Run, run_program, wired

EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/__main__.py"))
WEB_TIER = ROOT / "examples" / "network-web-tier"
CONFIG = {"aws:region": "eu-west-1"}


def _run(example: Path, preview: bool, config: dict[str, str] | None = None) -> Run:
    program = str(example / "__main__.py")
    return run_program("dev", preview, config=config or CONFIG, program=lambda: runpy.run_path(program))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_a_pulumi_project_that_runs(example: Path) -> None:
    project = yaml.safe_load((example / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert (example / "requirements.txt").is_file(), "pulumi installs the program's dependencies from it"
    run = _run(example, preview=True)
    assert run.aws_resources, "the example registers AWS resources"


@pytest.fixture(scope="module", params=[True, False], ids=["preview", "up"])
def web_tier(request: pytest.FixtureRequest) -> Run:
    return _run(WEB_TIER, preview=request.param)


def _subnets(run: Run, tier: str) -> list[Registered]:
    return [s for s in run.by_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == tier]


def test_web_tier_is_two_components_and_nothing_else(web_tier: Run) -> None:
    components = [r for r in web_tier.resources if r.type.startswith("aws-patterns:") and web_tier.owner(r) is None]
    assert sorted(r.type for r in components) == ["aws-patterns:multiTier:MultiTier", "aws-patterns:network:Network"]
    strays = [r.name for r in web_tier.aws_resources if web_tier.owner(r) is None]
    assert strays == [], "every AWS resource belongs to one of the two components"


def test_web_tier_lands_in_the_network_it_was_given(web_tier: Run) -> None:
    (vpc,) = web_tier.by_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.40.0.0/16"
    (alb,) = web_tier.by_type("aws:lb/loadBalancer:LoadBalancer")
    assert [s for s in web_tier.by_type("aws:ec2/subnet:Subnet") if wired(alb, "subnets", s)] == _subnets(
        web_tier, "public"
    )
    (group,) = web_tier.by_type("aws:autoscaling/group:Group")
    assert [s for s in web_tier.by_type("aws:ec2/subnet:Subnet") if wired(group, "vpcZoneIdentifiers", s)] == (
        _subnets(web_tier, "private")
    )
    (db_subnets,) = web_tier.by_type("aws:rds/subnetGroup:SubnetGroup")
    assert [s for s in web_tier.by_type("aws:ec2/subnet:Subnet") if wired(db_subnets, "subnetIds", s)] == (
        _subnets(web_tier, "isolated")
    )
    assert len(_subnets(web_tier, "public")) == 2, "two AZs, as the example asks"
    for group_ in web_tier.by_type("aws:ec2/securityGroup:SecurityGroup"):
        assert wired(group_, "vpcId", vpc), f"{group_.name} is in the example's VPC"


def test_web_tier_uses_its_one_provider_and_passes_the_tags_to_instances(web_tier: Run) -> None:
    (provider,) = [r for r in web_tier.resources if r.type == "pulumi:providers:aws"]
    assert provider.inputs["region"] == CONFIG["aws:region"]
    assert json.loads(provider.inputs["defaultTags"])["tags"] == {"project": "aws-patterns", "stack": "dev"}
    assert all(r.provider.startswith(provider.urn) for r in web_tier.aws_resources)
    (template,) = web_tier.by_type("aws:ec2/launchTemplate:LaunchTemplate")
    (instance,) = [s for s in template.inputs["tagSpecifications"] if s["resourceType"] == "instance"]
    assert instance["tags"].items() >= {"project": "aws-patterns", "stack": "dev"}.items()


def test_web_tier_takes_its_sizes_and_allowed_cidrs_from_python() -> None:
    run = _run(WEB_TIER, preview=True, config={**CONFIG, "aws-patterns:allowedCidrs": '["198.51.100.0/24"]'})
    (group,) = run.by_type("aws:autoscaling/group:Group")
    assert (group.inputs["minSize"], group.inputs["maxSize"]) == (2, 4)
    (db,) = run.by_type("aws:rds/instance:Instance")
    assert db.inputs["instanceClass"] == "db.t4g.small"
    ingress = [
        r for r in run.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if "cidrIpv4" in r.inputs
    ]
    assert {r.inputs["cidrIpv4"] for r in ingress} == {"198.51.100.0/24"}


def test_web_tier_exports_the_url_of_its_load_balancer() -> None:
    run = _run(WEB_TIER, preview=False)
    (alb,) = run.by_type("aws:lb/loadBalancer:LoadBalancer")
    (vpc,) = run.by_type("aws:ec2/vpc:Vpc")
    assert run.outputs["url"] == f"http://{alb.outputs['dnsName']}"
    assert run.outputs["vpcId"] == vpc.id
