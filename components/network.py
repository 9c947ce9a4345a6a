"""The VPC every VPC-bound pattern (multi-tier, hybrid) lands in.

Three subnet tiers per availability zone:
- public:   the internet gateway route; load balancers and NAT gateways only.
- private:  application instances; egress through NAT (when the strategy is not "none").
- isolated: databases; no route out of the VPC at all.

Subnet CIDRs are a pure function of the VPC CIDR, the tier and the AZ's position (see
`subnet_cidrs`): the VPC is cut into four equal tier blocks (public, private, isolated, spare)
and each block into eight equal slots, one per AZ position. Raising `azCount` adds subnets in
the next slots and lowering it removes the last ones; no existing subnet is ever renumbered,
because a subnet whose CIDR changes is replaced together with everything inside it.

The zones are the region's zones that offer what the stack will launch in them (the multi-tier
instance type and DB class), in name order, unless `availabilityZones` pins them.

A stack may borrow its VPC instead (`network.existing`, `borrow()`): from the ids in its config,
or from the `network` output of another stack (`Network.exports()` is that output's shape). A
borrowed network registers nothing; the patterns get its ids the same way (`NetworkIds`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws
from pydantic import ValidationError

from components import policies
from components.defaults import NAMESPACE
from components.naming import caller_account, name_tag
from components.references import StackOutput, StackReferences
from components.schema import CROSS_FIELD, ConfigError, ExistingNetwork, NatStrategy, network_problems

if TYPE_CHECKING:
    from components.config import StackConfig

TIERS = ("public", "private", "isolated")
TIER_BITS = 2  # four tier blocks: public, private, isolated and one spare for later tiers
SLOT_BITS = 3  # eight AZ slots per tier; AWS regions have at most six AZs


def subnet_cidrs(vpc_cidr: str, az_count: int) -> dict[str, list[str]]:
    """CIDR of every subnet, by tier, for the first `az_count` AZ slots."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    blocks = list(vpc.subnets(prefixlen_diff=TIER_BITS))
    return {
        tier: [str(s) for s in blocks[i].subnets(prefixlen_diff=SLOT_BITS)][:az_count] for i, tier in enumerate(TIERS)
    }


@dataclass(frozen=True)
class NetworkIds:
    """What the VPC patterns (multi-tier, hybrid) need of a network, by id.

    A `Network` of this stack gives one (`Network.ids`); so can a network created elsewhere.
    Every list has one entry per availability zone, in the order of `availability_zones`, and its
    length is known when the program registers resources (patterns create one resource per entry
    without `apply`); the ids themselves may be Outputs.
    """

    vpc_id: pulumi.Input[str]
    availability_zones: list[str]
    public_subnet_ids: list[pulumi.Input[str]]
    private_subnet_ids: list[pulumi.Input[str]]
    isolated_subnet_ids: list[pulumi.Input[str]]
    # Where routes to on-premises networks are propagated (the hybrid pattern).
    private_route_table_ids: list[pulumi.Input[str]]
    isolated_route_table_ids: list[pulumi.Input[str]]


@dataclass(frozen=True)
class FlowLogSettings:
    traffic_type: str
    retention_days: int


@dataclass(frozen=True)
class Database:
    """A DB instance class the zones must offer, for one engine."""

    engine: str
    instance_class: str


@dataclass(frozen=True)
class NetworkArgs:
    cidr: str
    az_count: int
    nat_strategy: NatStrategy
    region: str
    gateway_endpoints: bool = True
    availability_zones: tuple[str, ...] | None = None
    flow_logs: FlowLogSettings | None = None
    # What the patterns will launch in every zone; zones that lack it are skipped.
    instance_type: str | None = None
    database: Database | None = None

    @classmethod
    def from_config(cls, cfg: StackConfig) -> NetworkArgs:
        net = cfg.network
        flow = net.flow_logs
        tier = cfg.multi_tier
        return cls(
            cidr=net.cidr,
            az_count=net.az_count,
            nat_strategy=net.nat_strategy,
            region=cfg.region,
            gateway_endpoints=net.gateway_endpoints,
            availability_zones=tuple(net.availability_zones) if net.availability_zones else None,
            flow_logs=FlowLogSettings(flow.traffic_type, flow.retention_days) if flow.enabled else None,
            instance_type=tier.instances.instance_type if tier.enabled else None,
            # The multi-tier database is PostgreSQL (components/multi_tier/component.py).
            database=Database("postgres", tier.database.instance_class) if tier.enabled else None,
        )


class Network(pulumi.ComponentResource):
    """VPC, three subnet tiers over N AZs, NAT per strategy, flow logs and gateway endpoints."""

    vpc: aws.ec2.Vpc
    cidr: str
    availability_zones: list[str]
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    isolated_subnets: list[aws.ec2.Subnet]
    public_route_table: aws.ec2.RouteTable
    private_route_tables: list[aws.ec2.RouteTable]
    isolated_route_tables: list[aws.ec2.RouteTable]
    nat_gateways: list[aws.ec2.NatGateway]
    ids: NetworkIds

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.cidr = args.cidr
        self.availability_zones = self._zones(args)
        cidrs = subnet_cidrs(args.cidr, args.az_count)

        self.vpc = aws.ec2.Vpc(
            name,
            cidr_block=args.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # interface endpoints and RDS endpoints resolve through it
            tags=name_tag(name),
            opts=child,
        )
        # Taking over the default security group with no rules removes AWS's allow-all-within-
        # the-group default, so nothing can rely on it by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=self.vpc.id, tags=name_tag(name, "default"), opts=child
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=name_tag(name), opts=child)

        self.public_subnets = self._subnets(name, "public", cidrs["public"], child)
        self.private_subnets = self._subnets(name, "private", cidrs["private"], child)
        self.isolated_subnets = self._subnets(name, "isolated", cidrs["isolated"], child)

        self.public_route_table = self._route_table(f"{name}-public", self.public_subnets, child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=self.public_route_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        self.nat_gateways = self._nat_gateways(name, args.nat_strategy, igw, child)
        # One private route table per AZ whatever the NAT strategy, so switching strategy only
        # changes routes, never the tables other components (VPN propagation) attach to.
        self.private_route_tables = []
        for i, subnet in enumerate(self.private_subnets):
            table = self._route_table(f"{name}-private-{i}", [subnet], child)
            if self.nat_gateways:
                nat = self.nat_gateways[i % len(self.nat_gateways)]
                aws.ec2.Route(
                    f"{name}-private-{i}-default",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat.id,
                    opts=child,
                )
            self.private_route_tables.append(table)
        # Isolated subnets share one table with no default route: only local traffic,
        # gateway endpoints and (with the hybrid pattern) propagated on-premises routes.
        self.isolated_route_tables = [self._route_table(f"{name}-isolated", self.isolated_subnets, child)]

        if args.gateway_endpoints:
            # Gateway endpoints are free and keep S3/DynamoDB traffic off the NAT gateways.
            for service in ("s3", "dynamodb"):
                aws.ec2.VpcEndpoint(
                    f"{name}-{service}",
                    vpc_id=self.vpc.id,
                    service_name=f"com.amazonaws.{args.region}.{service}",
                    vpc_endpoint_type="Gateway",
                    route_table_ids=[t.id for t in self.private_route_tables + self.isolated_route_tables],
                    tags=name_tag(name, service),
                    opts=child,
                )

        if args.flow_logs:
            self._flow_logs(name, args.flow_logs, child)

        self.ids = NetworkIds(
            vpc_id=self.vpc.id,
            availability_zones=self.availability_zones,
            public_subnet_ids=[s.id for s in self.public_subnets],
            private_subnet_ids=[s.id for s in self.private_subnets],
            isolated_subnet_ids=[s.id for s in self.isolated_subnets],
            private_route_table_ids=[t.id for t in self.private_route_tables],
            isolated_route_table_ids=[t.id for t in self.isolated_route_tables],
        )

        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "publicSubnetIds": [s.id for s in self.public_subnets],
                "privateSubnetIds": [s.id for s in self.private_subnets],
                "isolatedSubnetIds": [s.id for s in self.isolated_subnets],
            }
        )

    def _zones(self, args: NetworkArgs) -> list[str]:
        if args.availability_zones:
            return list(args.availability_zones)
        # Synchronous lookups, on purpose: the subnets (one per zone) need the zone names as plain
        # strings, and these run once per stack, before the patterns have registered anything
        # they would have to wait for (see naming.caller_account).
        invoke = pulumi.InvokeOptions(parent=self)
        # Only zones that need no opt-in: Local Zones and Wavelength Zones lack NAT gateways.
        usable = aws.get_availability_zones(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=invoke,
        ).names
        wanted: list[str] = []
        if args.instance_type:
            # An Auto Scaling group cannot launch an instance type in a zone that does not offer it.
            offered = aws.ec2.get_instance_type_offerings(
                filters=[aws.ec2.GetInstanceTypeOfferingsFilterArgs(name="instance-type", values=[args.instance_type])],
                location_type="availability-zone",
                opts=invoke,
            ).locations
            usable = [z for z in usable if z in offered]
            wanted.append(args.instance_type)
        if args.database:
            # RDS places the instance (and a Multi-AZ standby) only where the class is orderable.
            orderable = aws.rds.get_orderable_db_instance(
                engine=args.database.engine,
                preferred_instance_classes=[args.database.instance_class],
                engine_latest_version=True,
                storage_type="gp3",
                opts=invoke,
            ).availability_zones
            usable = [z for z in usable if z in orderable]
            wanted.append(args.database.instance_class)
        usable = sorted(usable)
        if len(usable) < args.az_count:
            offering = f" that offer {' and '.join(wanted)}" if wanted else ""
            fixes = ["lower network.azCount"]
            if wanted:
                fixes.append("choose multiTier.instances.instanceType / database.instanceClass offered in more zones")
            raise ConfigError(
                f"{NAMESPACE}:network.azCount: {args.region} has {len(usable)} usable availability zones{offering} "
                f"({', '.join(usable) or 'none'}) but azCount is {args.az_count}; {', or '.join(fixes)}"
            )
        return usable[: args.az_count]

    def exports(self) -> dict[str, Any]:
        """The `network` stack output, which a stack borrowing this VPC reads (`borrow()`).

        The keys of `ExistingNetwork` (every one a borrowing pattern may need) plus the NAT
        gateways' addresses, which on-premises or partner firewalls allow-list.
        """
        return {
            "vpcId": self.vpc.id,
            "vpcCidr": self.cidr,
            "availabilityZones": self.availability_zones,
            "publicSubnetIds": [s.id for s in self.public_subnets],
            "privateSubnetIds": [s.id for s in self.private_subnets],
            "isolatedSubnetIds": [s.id for s in self.isolated_subnets],
            "privateRouteTableIds": [t.id for t in self.private_route_tables],
            "isolatedRouteTableIds": [t.id for t in self.isolated_route_tables],
            "natPublicIps": [n.public_ip for n in self.nat_gateways],
        }

    def _subnets(self, name: str, tier: str, cidrs: list[str], child: pulumi.ResourceOptions) -> list[aws.ec2.Subnet]:
        return [
            aws.ec2.Subnet(
                f"{name}-{tier}-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=self.availability_zones[i],
                # Nothing is launched with a public IP; the ALB and NAT gateways get their own.
                map_public_ip_on_launch=False,
                tags={**name_tag(name, tier, self.availability_zones[i]), "tier": tier},
                opts=child,
            )
            for i, cidr in enumerate(cidrs)
        ]

    def _route_table(
        self, table_name: str, subnets: list[aws.ec2.Subnet], child: pulumi.ResourceOptions
    ) -> aws.ec2.RouteTable:
        table = aws.ec2.RouteTable(table_name, vpc_id=self.vpc.id, tags=name_tag(table_name), opts=child)
        for i, subnet in enumerate(subnets):
            aws.ec2.RouteTableAssociation(f"{table_name}-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child)
        return table

    def _nat_gateways(
        self, name: str, strategy: NatStrategy, igw: aws.ec2.InternetGateway, child: pulumi.ResourceOptions
    ) -> list[aws.ec2.NatGateway]:
        count = {"none": 0, "single": 1, "perAz": len(self.public_subnets)}[strategy]
        gateways = []
        for i in range(count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags=name_tag(name, "nat", str(i)), opts=child)
            gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[i].id,
                    tags=name_tag(name, "nat", str(i)),
                    # A NAT gateway needs the internet gateway attached before it can route.
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[igw])),
                )
            )
        return gateways

    def _flow_logs(self, name: str, settings: FlowLogSettings, child: pulumi.ResourceOptions) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=settings.retention_days,
            tags=name_tag(name, "flow-logs"),
            opts=child,
        )
        account = caller_account(self)
        role = aws.iam.Role(
            f"{name}-flow-logs",
            # Confused-deputy guard: only this account's flow logs may assume it.
            assume_role_policy=policies.trust("vpc-flow-logs.amazonaws.com", account),
            tags=name_tag(name, "flow-logs"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=policies.document(
                [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:PutLogEvents",
                            "logs:DescribeLogGroups",
                            "logs:DescribeLogStreams",
                        ],
                        "Resource": [log_group.arn, pulumi.Output.concat(log_group.arn, ":*")],
                    }
                ]
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=self.vpc.id,
            traffic_type=settings.traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=name_tag(name, "flow-logs"),
            opts=child,
        )


# The keys a referenced stack's `network` output must (or may) have: those of network.existing
# without stackReference. `Network.exports()` writes them all.
OUTPUT_KEYS = tuple(f.alias for name, f in ExistingNetwork.model_fields.items() if name != "stack_reference")
STACK_REFERENCE_KEY = "network.existing.stackReference"


class BorrowedNetwork:
    """A VPC this stack uses but does not create (`network.existing`); it registers nothing.

    `shape` holds the plain ids (validated); `ids` gives them to the patterns, as Outputs of the
    StackReference when they come from another stack, so every resource built on them depends
    on that reference.
    """

    def __init__(self, shape: ExistingNetwork, source: StackOutput | None = None) -> None:
        self.shape = shape

        def ids(key: str, values: list[str]) -> list[pulumi.Input[str]]:
            return [source.get(key, i) for i in range(len(values))] if source else list(values)

        self.ids = NetworkIds(
            # Validated: ids without a stackReference include the vpcId.
            vpc_id=source.get("vpcId") if source else shape.vpc_id,  # type: ignore[arg-type]
            availability_zones=list(shape.availability_zones),
            public_subnet_ids=ids("publicSubnetIds", shape.public_subnet_ids),
            private_subnet_ids=ids("privateSubnetIds", shape.private_subnet_ids),
            isolated_subnet_ids=ids("isolatedSubnetIds", shape.isolated_subnet_ids),
            private_route_table_ids=ids("privateRouteTableIds", shape.private_route_table_ids),
            isolated_route_table_ids=ids("isolatedRouteTableIds", shape.isolated_route_table_ids),
        )

    def exports(self) -> dict[str, Any]:
        """The `network` stack output: the borrowed ids this stack's patterns use."""
        ids = self.ids
        exported: dict[str, Any] = {
            "vpcId": ids.vpc_id,
            "availabilityZones": ids.availability_zones,
            "publicSubnetIds": ids.public_subnet_ids,
            "privateSubnetIds": ids.private_subnet_ids,
            "isolatedSubnetIds": ids.isolated_subnet_ids,
            "privateRouteTableIds": ids.private_route_table_ids,
            "isolatedRouteTableIds": ids.isolated_route_table_ids,
        }
        if self.shape.vpc_cidr is not None:
            exported["vpcCidr"] = self.shape.vpc_cidr
        return exported


def borrow(cfg: StackConfig, references: StackReferences) -> BorrowedNetwork:
    """The network `network.existing` names, checked against what the enabled patterns need.

    Ids in the config were checked with the config. Ids read from another stack are checked
    here, before any resource of this stack is registered (only the StackReference, a read, is),
    and a problem is a ConfigError naming `network.existing.stackReference`.
    """
    existing = cfg.network.existing
    assert existing is not None, "borrow() is for stacks with network.existing"
    if existing.stack_reference is None:
        return BorrowedNetwork(existing)
    source = references.output(existing.stack_reference, "network", STACK_REFERENCE_KEY)
    where = f"{NAMESPACE}:{STACK_REFERENCE_KEY}: the network output of {source.stack!r}"
    value = source.value
    if not isinstance(value, dict):
        raise ConfigError(f"{where} is not an object of ids (got {type(value).__name__})")
    missing = [k for k in ("vpcId", "availabilityZones") if k not in value]
    if missing:
        raise ConfigError(f"{where} lacks {missing}; it must have the keys {list(OUTPUT_KEYS)}")
    try:
        shape = ExistingNetwork.model_validate({k: v for k, v in value.items() if k in OUTPUT_KEYS})
    except ValidationError as exc:
        raise ConfigError(f"{where} is not a network: " + "; ".join(_problem(e) for e in exc.errors())) from None
    problems = [
        (
            STACK_REFERENCE_KEY,
            f"the network output of {source.stack!r}: {key.removeprefix('network.existing.')} {message}",
        )
        if key.startswith("network.existing.")
        else (key, f"{message} (the network of {source.stack!r})")
        for key, message in network_problems(cfg, shape)
    ]
    if problems:
        raise ConfigError(
            "invalid stack configuration:\n  " + "\n  ".join(f"{NAMESPACE}:{k}: {m}" for k, m in problems)
        )
    return BorrowedNetwork(shape, source)


def _problem(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith(CROSS_FIELD):
        return message.removeprefix(CROSS_FIELD)
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {message} (got {str(error['input'])[:80]})"
