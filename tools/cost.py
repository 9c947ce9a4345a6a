"""Monthly cost estimate of a stack's always-on resources, from the price table tools/prices.yaml.

    python -m tools.cost                 # dev vs prod side by side (what `make plan` prints)
    python -m tools.cost staging prod    # any stacks, side by side

Every AWS resource type the program registers is either priced here by the hour or month it
exists (ALWAYS_ON), costs nothing of its own (FREE), or is priced per use (USAGE), which is
listed with its unit prices and an example at a stated volume rather than guessed into the
total. tests/test_cost.py fails when the program registers a type in none of the three, so a
new always-on resource cannot slip into a stack without a price.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from tools import cli, entry
from tools.offline import ROOT, Registered, Run, run_cached

PRICES_FILE = Path(__file__).resolve().parent / "prices.yaml"


@dataclass(frozen=True)
class Line:
    """One priced item of a stack: `quantity` units of `item` at `monthly` USD in total."""

    item: str
    quantity: float
    monthly: float


class Prices:
    """The price table, with errors that say which price is missing."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.hours = float(table["hours_per_month"])

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> Prices:
        return cls(yaml.safe_load(path.read_text()))

    def always_on(self, key: str) -> float:
        return float(self.table["always_on"][key]["price"])

    def hourly(self, key: str) -> float:
        """Monthly cost of one unit priced per hour."""
        return self.always_on(key) * self.hours

    def instance(self, family: str, size: str) -> float:
        """Monthly cost of one on-demand instance (`family` is ec2_hour or rds_hour)."""
        try:
            return float(self.table[family][size]["price"]) * self.hours
        except KeyError:
            raise KeyError(f"tools/prices.yaml has no {family} price for {size}") from None

    def usage(self, key: str) -> float:
        return float(self.table["usage"][key]["price"])


PriceFn = Callable[[Registered, Run, Prices], list[Line]]


def _hourly(item: str, key: str) -> PriceFn:
    return lambda res, run, prices: [Line(item, 1, prices.hourly(key))]


def _monthly(item: str, key: str) -> PriceFn:
    return lambda res, run, prices: [Line(item, 1, prices.always_on(key))]


def _dependency(run: Run, res: Registered, prop: str, type_: str) -> Registered | None:
    urns = set(res.property_dependencies.get(prop, ()))
    return next((r for r in run.resources if r.urn in urns and r.type == type_), None)


def _load_balancer(res: Registered, run: Run, prices: Prices) -> list[Line]:
    if res.inputs.get("loadBalancerType", "application") != "application":
        raise KeyError(f"tools/prices.yaml has no price for a {res.inputs['loadBalancerType']} load balancer")
    lines = [Line("Application Load Balancer", 1, prices.hourly("alb_hour"))]
    if not res.inputs.get("internal"):
        # An internet-facing ALB holds a public IPv4 address in every subnet (AZ) it spans.
        zones = len(res.inputs.get("subnets") or res.inputs.get("subnetMappings") or [])
        lines.append(Line("Public IPv4 address", zones, zones * prices.hourly("public_ipv4_hour")))
    return lines


def _volumes_gb(template: Registered | None) -> float:
    if template is None:
        return 0.0
    return sum(
        float((m.get("ebs") or {}).get("volumeSize") or 0) for m in template.inputs.get("blockDeviceMappings") or []
    )


def _auto_scaling_group(res: Registered, run: Run, prices: Prices) -> list[Line]:
    # The group's floor runs all month; capacity above it is usage.
    count = int(res.inputs.get("minSize") or 0)
    template = _dependency(run, res, "launchTemplate", "aws:ec2/launchTemplate:LaunchTemplate")
    size = (template.inputs if template else {}).get("instanceType")
    if not size:
        raise KeyError(f"cannot tell the instance type of Auto Scaling group {res.name}")
    gb = _volumes_gb(template) * count
    return [
        Line(f"EC2 {size} (Auto Scaling minimum)", count, count * prices.instance("ec2_hour", size)),
        Line("EBS gp3 GB", gb, gb * prices.always_on("ebs_gp3_gb_month")),
    ]


def _ec2_instance(res: Registered, run: Run, prices: Prices) -> list[Line]:
    size = res.inputs.get("instanceType", "")
    gb = float((res.inputs.get("rootBlockDevice") or {}).get("volumeSize") or 8)
    return [
        Line(f"EC2 {size}", 1, prices.instance("ec2_hour", size)),
        Line("EBS gp3 GB", gb, gb * prices.always_on("ebs_gp3_gb_month")),
    ]


def _rds_instance(res: Registered, run: Run, prices: Prices) -> list[Line]:
    size = res.inputs.get("instanceClass", "")
    copies = 2 if res.inputs.get("multiAz") else 1
    gb = float(res.inputs.get("allocatedStorage") or 0) * copies
    label = f"RDS {size}{' Multi-AZ' if copies == 2 else ''}"
    lines = [
        Line(label, 1, copies * prices.instance("rds_hour", size)),
        Line("RDS gp3 GB", gb, gb * prices.always_on("rds_gp3_gb_month")),
    ]
    if res.inputs.get("manageMasterUserPassword"):
        # RDS keeps the managed master password in a Secrets Manager secret billed to the account.
        lines.append(Line("Secrets Manager secret", 1, prices.always_on("secret_month")))
    return lines


def _vpc_endpoint(res: Registered, run: Run, prices: Prices) -> list[Line]:
    if res.inputs.get("vpcEndpointType", "Gateway") == "Gateway":
        return []  # S3 and DynamoDB gateway endpoints are free
    zones = len(res.inputs.get("subnetIds") or [])
    return [Line("Interface endpoint AZ", zones, zones * prices.hourly("interface_endpoint_az_hour"))]


def _web_acl(res: Registered, run: Run, prices: Prices) -> list[Line]:
    # WAF bills the web ACL and each rule in it (a managed rule group counts as one rule) by the month.
    rules = len(res.inputs.get("rules") or [])
    return [
        Line("WAF web ACL", 1, prices.always_on("waf_web_acl_month")),
        Line("WAF rule", rules, rules * prices.always_on("waf_rule_month")),
    ]


def _alarm(res: Registered, run: Run, prices: Prices) -> list[Line]:
    metrics = len([q for q in res.inputs.get("metricQueries") or [] if q.get("metric")]) or 1
    return [Line("CloudWatch alarm metric", metrics, metrics * prices.always_on("alarm_month"))]


ALWAYS_ON: dict[str, PriceFn] = {
    "aws:ec2/natGateway:NatGateway": _hourly("NAT gateway", "nat_gateway_hour"),
    "aws:ec2/eip:Eip": _hourly("Public IPv4 address", "public_ipv4_hour"),
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:autoscaling/group:Group": _auto_scaling_group,
    "aws:ec2/instance:Instance": _ec2_instance,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:ec2/vpnConnection:VpnConnection": _hourly("Site-to-Site VPN connection", "vpn_connection_hour"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:kms/key:Key": _monthly("KMS customer-managed key", "kms_key_month"),
    "aws:secretsmanager/secret:Secret": _monthly("Secrets Manager secret", "secret_month"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _monthly("CloudWatch dashboard", "dashboard_month"),
    "aws:wafv2/webAcl:WebAcl": _web_acl,
}

# Priced per use (requests, GB, GB-seconds): the usage prices that apply to each.
USAGE: dict[str, tuple[str, ...]] = {
    "aws:lambda/function:Function": ("lambda_requests", "lambda_arm_gb_second", "xray_traces"),
    "aws:lambda/eventSourceMapping:EventSourceMapping": (),
    "aws:apigateway/restApi:RestApi": ("rest_api_requests",),
    "aws:apigatewayv2/api:Api": ("http_api_requests",),
    "aws:dynamodb/table:Table": ("dynamodb_write_requests", "dynamodb_read_requests", "dynamodb_storage"),
    "aws:sqs/queue:Queue": ("sqs_requests",),
    "aws:sns/topic:Topic": ("sns_publishes",),
    "aws:cloudwatch/eventBus:EventBus": ("eventbridge_events",),
    "aws:cloudwatch/eventArchive:EventArchive": (),
    "aws:s3/bucket:Bucket": ("s3_storage", "s3_put_requests"),
    "aws:s3/bucketObjectv2:BucketObjectv2": (),
    "aws:cloudwatch/logGroup:LogGroup": ("logs_ingestion",),
    "aws:ec2/flowLog:FlowLog": ("logs_ingestion",),
    "aws:lb/targetGroup:TargetGroup": ("alb_lcu",),
    "aws:lb/listener:Listener": ("alb_lcu",),
    "aws:apigateway/stage:Stage": (),
    "aws:apigatewayv2/stage:Stage": (),
    "aws:servicediscovery/httpNamespace:HttpNamespace": (),
    "aws:servicediscovery/service:Service": (),
    "aws:servicediscovery/instance:Instance": (),
    "aws:cognito/userPool:UserPool": ("cognito_essentials_mau", "cognito_plus_mau"),
}

# No charge of their own (what flows through them is billed elsewhere).
FREE = frozenset(
    {
        "pulumi:providers:aws",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/route:Route",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/customerGateway:CustomerGateway",
        "aws:ec2/vpnGateway:VpnGateway",
        "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment",
        "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation",
        "aws:ec2/vpnConnectionRoute:VpnConnectionRoute",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:kms/keyPolicy:KeyPolicy",
        "aws:kms/alias:Alias",
        "aws:lambda/permission:Permission",
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "aws:apigateway/account:Account",
        "aws:apigateway/resource:Resource",
        "aws:apigateway/method:Method",
        "aws:apigateway/integration:Integration",
        "aws:apigateway/deployment:Deployment",
        "aws:apigateway/methodSettings:MethodSettings",
        "aws:apigateway/response:Response",
        "aws:apigatewayv2/integration:Integration",
        "aws:apigatewayv2/route:Route",
        "aws:apigatewayv2/authorizer:Authorizer",
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:sqs/redrivePolicy:RedrivePolicy",
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration",
        "aws:s3/bucketNotification:BucketNotification",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:autoscaling/policy:Policy",
        "aws:cognito/userPoolClient:UserPoolClient",
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
        # WAF's log delivery is billed as the log group's ingestion.
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        # Server access logs are billed as the target bucket's storage.
        # Public ACM certificates, alias queries to an ALB and a deploy-time invocation cost nothing
        # of their own.
        "aws:acm/certificate:Certificate",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:route53/record:Record",
        "aws:lambda/invocation:Invocation",
    }
)


def unclassified(run: Run) -> list[str]:
    """Resource types the program registers that this module does not know how to price."""
    known = set(ALWAYS_ON) | set(USAGE) | FREE
    return sorted({r.type for r in run.resources if r.custom and r.type not in known})


def estimate(run: Run, prices: Prices) -> list[Line]:
    """The always-on lines of one stack, summed per item."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for res in run.resources:
        price = ALWAYS_ON.get(res.type)
        if price is None or not res.custom:
            continue
        for line in price(res, run, prices):
            totals[line.item][0] += line.quantity
            totals[line.item][1] += line.monthly
    return [Line(item, qty, monthly) for item, (qty, monthly) in sorted(totals.items())]


# Usage examples: (price keys that must apply, the stated volume, its cost).
EXAMPLES: list[tuple[tuple[str, ...], str, Callable[[Prices], float]]] = [
    (
        ("lambda_requests", "lambda_arm_gb_second"),
        "1M Lambda invocations of 100 ms at 256 MB on arm64",
        lambda p: p.usage("lambda_requests") + 1_000_000 * 0.1 * 0.25 * p.usage("lambda_arm_gb_second"),
    ),
    (("rest_api_requests",), "1M REST API requests", lambda p: p.usage("rest_api_requests")),
    (("http_api_requests",), "1M HTTP API requests", lambda p: p.usage("http_api_requests")),
    (
        ("dynamodb_write_requests", "dynamodb_read_requests", "dynamodb_storage"),
        "1M writes + 5M reads (1 KB items, strongly consistent) + 1 GB stored, on-demand",
        lambda p: (
            p.usage("dynamodb_write_requests") + 5 * p.usage("dynamodb_read_requests") + p.usage("dynamodb_storage")
        ),
    ),
    (("sqs_requests",), "1M messages sent, received and deleted (3M requests)", lambda p: 3 * p.usage("sqs_requests")),
    (("sns_publishes",), "1M SNS publishes", lambda p: p.usage("sns_publishes")),
    (("eventbridge_events",), "1M custom events", lambda p: p.usage("eventbridge_events")),
    (
        ("s3_storage", "s3_put_requests"),
        "10 GB stored + 100k uploads",
        lambda p: 10 * p.usage("s3_storage") + 100 * p.usage("s3_put_requests"),
    ),
    (("logs_ingestion",), "5 GB of logs ingested", lambda p: 5 * p.usage("logs_ingestion")),
    (("alb_lcu",), "1 LCU all month (about 25 new connections/s)", lambda p: p.usage("alb_lcu") * p.hours),
    (("xray_traces",), "1M traces recorded", lambda p: p.usage("xray_traces")),
    (("waf_requests",), "1M requests inspected by the web ACL", lambda p: p.usage("waf_requests")),
    (
        ("cognito_essentials_mau",),
        "10,000 monthly active users on the Essentials plan beyond its free tier",
        lambda p: 10_000 * p.usage("cognito_essentials_mau"),
    ),
    (
        ("cognito_plus_mau",),
        "1,000 monthly active users on the Plus plan (threat protection)",
        lambda p: 1_000 * p.usage("cognito_plus_mau"),
    ),
]


def usage_keys(run: Run) -> set[str]:
    keys = {k for r in run.resources if r.custom for k in USAGE.get(r.type, ())}
    if run.by_type("aws:ec2/natGateway:NatGateway"):
        keys.add("nat_data_processed")
    if run.by_type("aws:wafv2/webAcl:WebAcl"):
        keys.add("waf_requests")
    return keys


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _qty(value: float) -> str:
    return f"{value:g}"


def _unit_price(value: float) -> str:
    """Unit prices keep every significant digit ($0.0000133334 per GB-second)."""
    digits = f"{value:.10f}".rstrip("0")
    whole, _, fraction = digits.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


@dataclass(frozen=True)
class Summary:
    """What the cost table needs of one stack: its always-on lines and the usage prices that apply."""

    lines: tuple[Line, ...]
    usage: frozenset[str]

    @classmethod
    def of(cls, run: Run, prices: Prices) -> Summary:
        return cls(tuple(estimate(run, prices)), frozenset(usage_keys(run)))


def render(runs: dict[str, Run], prices: Prices) -> str:
    """Always-on monthly cost per stack side by side, then the usage prices that apply."""
    return table({stack: Summary.of(run, prices) for stack, run in runs.items()}, prices)


def table(summaries: dict[str, Summary], prices: Prices) -> str:
    """`render` from each stack's Summary (a stack's own, or one cached on disk)."""
    estimates = {stack: {line.item: line for line in summary.lines} for stack, summary in summaries.items()}
    items = sorted({item for lines in estimates.values() for item in lines})
    width = max([len(i) for i in items] + [len("Total (always-on, per month)")])
    head = f"{'':{width}}" + "".join(f" | {f'{stack}: qty, USD/month':>22}" for stack in summaries)
    out = [
        f"Monthly cost estimate of always-on resources ({prices.table['region']}, "
        f"{prices.table['currency']}, on-demand, {prices.hours:g} h/month; prices: tools/prices.yaml)",
        "",
        head,
        "-" * len(head),
    ]
    for item in items:
        cells = []
        for stack in summaries:
            line = estimates[stack].get(item)
            cells.append(f"{_qty(line.quantity):>6} {_money(line.monthly):>15}" if line else f"{'-':>22}")
        out.append(f"{item:{width}}" + "".join(f" | {c:>22}" for c in cells))
    out.append("-" * len(head))
    totals = [sum(line.monthly for line in estimates[stack].values()) for stack in summaries]
    out.append(f"{'Total (always-on, per month)':{width}}" + "".join(f" | {_money(t):>22}" for t in totals))

    keys = set().union(*(summary.usage for summary in summaries.values()))
    usage = prices.table["usage"]
    out += ["", "Priced per use (not in the total):"]
    for key in sorted(keys, key=lambda k: usage[k]["unit"]):
        out.append(f"  {_unit_price(usage[key]['price']):>14}  per {usage[key]['unit']}")
    out += ["", "Examples at a stated volume:"]
    for needed, volume, cost in EXAMPLES:
        if set(needed) <= keys:
            out.append(f"  {_money(cost(prices)):>10}  {volume}")
    return "\n".join(out)


# What decides a stack's cost summary besides its stack file: the program, the mocks and this
# module, the pinned SDK versions. A change to any of them makes every cached summary stale.
SOURCES = ("__main__.py", "Pulumi.yaml", "requirements.txt", "components/**/*.py", "tools/*.py")
CACHE_DIR = ROOT / ".cache" / "cost"


def cache_key(stack: str, prices: Prices) -> str:
    """The stack file, the program's sources and the price table, hashed."""
    digest = hashlib.sha256()
    digest.update(json.dumps(prices.table, sort_keys=True).encode())
    for path in [ROOT / f"Pulumi.{stack}.yaml", *sorted(p for g in SOURCES for p in ROOT.glob(g))]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cached_summary(stack: str, prices: Prices, cache_dir: Path | None = None) -> Summary:
    """The Summary of the stack file `stack`, from `.cache/cost/` unless its key changed.

    `make plan` needs dev and prod next to the planned stack; running the program for them on
    every plan would double its cost while they rarely change.
    """
    path = (cache_dir or CACHE_DIR) / f"{stack}.json"
    key = cache_key(stack, prices)
    try:
        cached = json.loads(path.read_text())
        if cached["key"] == key:
            return Summary(tuple(Line(**line) for line in cached["lines"]), frozenset(cached["usage"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing, stale or unreadable: compute it again
    summary = Summary.of(run_cached(stack, preview=False), prices)
    document = {"key": key, "lines": [asdict(line) for line in summary.lines], "usage": sorted(summary.usage)}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Another plan (or test worker) may write the same file: each writes its own and renames it.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{stack}.", delete=False) as tmp:
        tmp.write(json.dumps(document, indent=1))
    os.replace(tmp.name, path)
    return summary


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", metavar="stack", help="default: dev prod")
    args = parser.parse_args(argv)
    stacks = args.stacks or ["dev", "prod"]
    configs = {stack: cli.stack_config(stack) for stack in stacks}
    runs = {stack: run_cached(stack, preview=False, config=configs[stack]) for stack in stacks}
    print(render(runs, Prices.load()))
    return 0


if __name__ == "__main__":
    entry.run(main)
