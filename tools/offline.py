"""Run the real `__main__.py` in-process under Pulumi's mocks and record what it registers.

The offline engine of the product: `make plan`, `make review`, `make diagrams`, `make cost` and the
test suite all run the program through it. No CLI, no credentials, no AWS.

- `Mocks` returns realistic computed outputs (camelCase: id, arn, name, and the type-specific
  ones such as dnsName or invokeUrl) and answers the invokes the program makes. In preview mode
  it withholds computed outputs, as the engine does, so code that needs them sees unknowns.
- `RecordingMonitor` keeps every `RegisterResourceRequest`'s parent, dependencies, provider and
  options, which `MockResourceArgs` does not carry, and every read (`ReadResourceRequest`: a
  `pulumi.StackReference` is one).
- A `StackReference` to a stack of this project whose stack file ships here
  (`<org>/aws-patterns/<stack>`) is answered with that stack's own offline outputs (its up-mode
  run), so an app stack that borrows the network stack's VPC plans against what that stack
  really exports; `run_program(references=...)` answers any other stack name.
- Stack files are read as Pulumi reads them: YAML 1.2 (`yes` is a string, not a boolean),
  duplicate keys refused, structured values handed to the program as JSON. A file that cannot be
  read that way raises `StackFileError` naming the file and the line.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.settings as pulumi_settings
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await
from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from components.provider_config import closest
from components.schema import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
ACCOUNT = "123456789012"
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
STACK_REFERENCE = "pulumi:pulumi:StackReference"
# AWS ids of the network resources other stacks borrow by id (network.existing), in AWS's shape
# (prefix + 17 hex digits) so config validation accepts what the offline network stack exports.
AWS_ID_PREFIXES = {"aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/routeTable:RouteTable": "rtb"}
# Zones of the mocked region that lack Graviton (arm64) instance types and DB classes, as older
# zones do (use1-az3, us-east-1e in many accounts): the zone choice must skip them.
ZONES_WITHOUT_GRAVITON = ("e",)


@dataclass
class Registered:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    id: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    aliases: list[Any]
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


@dataclass
class Run:
    """Everything one program run registered and exported."""

    stack: str
    preview: bool
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # What the program reported with pulumi.log.warn, in order (the engine would print them).
    warnings: list[str] = field(default_factory=list)

    def by_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Registered:
        matches = [r for r in self.resources if r.type == type_ and r.name == name]
        assert len(matches) == 1, f"expected one {type_} named {name}, found {len(matches)}"
        return matches[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)

    def children(self, parent: Registered) -> list[Registered]:
        return [r for r in self.resources if r.parent == parent.urn]

    def owner(self, res: Registered) -> Registered | None:
        """The outermost component `res` belongs to (None for resources directly in the stack)."""
        by_urn = {r.urn: r for r in self.resources}
        owner = None
        while res.parent in by_urn:
            res = owner = by_urn[res.parent]
        return owner

    def within(self, component_type: str) -> Run:
        """Only the resources inside the (one) component of `component_type`, at any depth."""
        (root,) = [r for r in self.resources if r.type == component_type]
        inside = {root.urn}
        for res in self.resources:  # registration order: a parent is registered before its children
            if res.parent in inside:
                inside.add(res.urn)
        return Run(self.stack, self.preview, [r for r in self.resources if r.urn in inside], self.outputs)

    @property
    def aws_resources(self) -> list[Registered]:
        return [r for r in self.resources if r.custom and r.type.startswith("aws:")]


def _service_and_kind(type_: str) -> tuple[str, str]:
    """`aws:ec2/vpc:Vpc` -> ("ec2", "vpc")."""
    module = type_.split(":")[1]
    service, _, kind = module.partition("/")
    return service, (kind or service).lower()


def wired(res: Registered, prop: str, target: Registered) -> bool:
    """`res.prop` was built from `target`'s outputs (holds in preview, when values are unknown)."""
    return target.urn in res.property_dependencies.get(prop, [])


class AwsMocks(Mocks):
    """Computed outputs and invoke answers that look like AWS's."""

    def __init__(self, region: str, preview: bool, references: dict[str, dict[str, Any]] | None = None) -> None:
        self.region = region
        self.preview = preview
        # Outputs of the stacks the program may reference, by fully qualified stack name.
        self.references = references or {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(args.inputs["name"])
        if not args.custom or args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-id", dict(args.inputs)
        if self.preview:
            # During a preview the engine knows only the inputs; ids and ARNs are unknown.
            return None, dict(args.inputs)
        prefix = AWS_ID_PREFIXES.get(args.typ)
        id_ = f"{prefix}-{hashlib.sha256(args.name.encode()).hexdigest()[:17]}" if prefix else f"{args.name}-id"
        return id_, {**args.inputs, **self._computed(args)}

    def _stack_reference(self, name: str) -> tuple[str, dict[str, Any]]:
        # The engine reads a referenced stack's outputs in previews too, so they are known in both.
        if name not in self.references:
            known = ", ".join(sorted(self.references)) or "none"
            raise NotImplementedError(f"the mocks know no stack {name!r} (known: {known}); pass it in references")
        return name, {"name": name, "outputs": self.references[name], "secretOutputNames": []}

    def _computed(self, args: MockResourceArgs) -> dict[str, Any]:
        service, kind = _service_and_kind(args.typ)
        name = args.inputs.get("name", args.name)
        arn = f"arn:aws:{service}:{self.region}:{ACCOUNT}:{kind}/{name}"
        out: dict[str, Any] = {"arn": arn, "name": name}
        type_specific = {
            "aws:ec2/eip:Eip": {"publicIp": "203.0.113.10", "allocationId": f"eipalloc-{args.name}"},
            "aws:ec2/natGateway:NatGateway": {"publicIp": "203.0.113.10"},
            "aws:iam/role:Role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"},
            # What another stack reads back as eventDriven.busArn (components/event_driven/config.py).
            "aws:cloudwatch/eventBus:EventBus": {"arn": f"arn:aws:events:{self.region}:{ACCOUNT}:event-bus/{name}"},
            "aws:cloudwatch/logGroup:LogGroup": {"arn": f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{name}"},
            "aws:lb/loadBalancer:LoadBalancer": {
                "dnsName": f"{name}.{self.region}.elb.amazonaws.com",
                "arnSuffix": f"app/{name}/50dc6c495c0c9188",
                "zoneId": "Z35SXDOTRQ7X7K",  # us-east-1's ELB hosted zone, which alias records name
            },
            # ACM asks for one CNAME per domain to prove control of it.
            "aws:acm/certificate:Certificate": {
                "arn": f"arn:aws:acm:{self.region}:{ACCOUNT}:certificate/12345678-aaaa-bbbb-cccc-0123456789ab",
                "domainValidationOptions": [
                    {
                        "domainName": args.inputs.get("domainName"),
                        "resourceRecordName": f"_3f2e.{args.inputs.get('domainName')}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": "_9a8b.acm-validations.aws.",
                    }
                ],
            },
            "aws:acm/certificateValidation:CertificateValidation": {
                "certificateArn": args.inputs.get("certificateArn"),
            },
            "aws:route53/record:Record": {"fqdn": str(args.inputs.get("name", "")).rstrip(".")},
            "aws:lb/targetGroup:TargetGroup": {"arnSuffix": f"targetgroup/{name}/73e2d6bc24d8a067"},
            "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1},
            "aws:rds/instance:Instance": {
                "arn": f"arn:aws:rds:{self.region}:{ACCOUNT}:db:{args.inputs.get('identifier', name)}",
                "resourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "endpoint": f"{name}.abc123.{self.region}.rds.amazonaws.com:5432",
                "address": f"{name}.abc123.{self.region}.rds.amazonaws.com",
                # With manage_master_user_password, RDS keeps the password in a secret of its own.
                "masterUserSecrets": [
                    {
                        "secretArn": f"arn:aws:secretsmanager:{self.region}:{ACCOUNT}:secret:rds!db-{args.name}-AbCdEf",
                        "secretStatus": "active",
                        "kmsKeyId": f"arn:aws:kms:{self.region}:{ACCOUNT}:key/aws-secretsmanager",
                    }
                ],
            },
            "aws:sqs/queue:Queue": {"url": f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{name}"},
            "aws:apigateway/restApi:RestApi": {
                "executionArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT}:{args.name}",
                "rootResourceId": f"{args.name}-root",
            },
            "aws:apigateway/stage:Stage": {
                "invokeUrl": f"https://api-id.execute-api.{self.region}.amazonaws.com/{args.inputs.get('stageName')}",
                # The ARN WAF associates with: no account, the API's id and the stage's name.
                "arn": f"arn:aws:apigateway:{self.region}::/restapis/{args.inputs.get('restApi')}"
                f"/stages/{args.inputs.get('stageName')}",
            },
            "aws:apigatewayv2/api:Api": {
                "executionArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT}:{args.name}",
                "apiEndpoint": f"https://{args.name}.execute-api.{self.region}.amazonaws.com",
            },
            "aws:ec2/vpnConnection:VpnConnection": self._vpn_connection(args),
            "aws:lambda/function:Function": {
                "invokeArn": f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
            },
            # $default serves at the API's root; other stages under their name.
            "aws:apigatewayv2/stage:Stage": {
                "invokeUrl": f"https://api-id.execute-api.{self.region}.amazonaws.com/"
                + ("" if name == "$default" else name),
            },
            "aws:s3/bucket:Bucket": {"bucket": f"{args.name}-a1b2c3d", "arn": f"arn:aws:s3:::{args.name}-a1b2c3d"},
            # The pool's endpoint is the issuer without its scheme: cognito-idp.<region>.<dns suffix>/<pool id>.
            "aws:cognito/userPool:UserPool": {
                "arn": f"arn:aws:cognito-idp:{self.region}:{ACCOUNT}:userpool/{args.name}-id",
                "endpoint": f"cognito-idp.{self.region}.amazonaws.com/{args.name}-id",
            },
            "aws:wafv2/webAcl:WebAcl": {
                "arn": f"arn:aws:wafv2:{self.region}:{ACCOUNT}:regional/webacl/{name}/{args.name}-id",
                "capacity": 1004,
            },
        }
        out.update(type_specific.get(args.typ, {}))
        return out

    @staticmethod
    def _vpn_connection(args: MockResourceArgs) -> dict[str, Any]:
        # AWS returns the device configuration with both pre-shared keys in it (its own when
        # none was given), as plain text; the provider alone marks it secret.
        keys = [
            rpc.unwrap_rpc_secret(args.inputs.get(f"tunnel{n}PresharedKey")) or f"awsgenerated.psk{n}" for n in (1, 2)
        ]
        return {
            "tunnel1Address": "52.0.0.11",
            "tunnel2Address": "52.0.0.12",
            "customerGatewayConfiguration": "<vpn_connection>"
            + "".join(f"<ipsec_tunnel><pre_shared_key>{k}</pre_shared_key></ipsec_tunnel>" for k in keys)
            + "</vpn_connection>",
        }

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        letters = "abcdef"
        answers: dict[str, dict[str, Any]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "id": self.region,
                "names": [f"{self.region}{c}" for c in letters],
                "zoneIds": [f"use1-az{i}" for i in range(1, len(letters) + 1)],
                "state": "available",
            },
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "id": ACCOUNT,
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
                "userId": "AIDAEXAMPLE",
            },
            "aws:index/getRegion:getRegion": {"id": self.region, "name": self.region, "region": self.region},
            "aws:index/getPartition:getPartition": {
                "id": "aws",
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsSuffix": "com.amazonaws",
            },
            # us-east-1's Elastic Load Balancing account, which delivers ALB access logs there.
            "aws:elb/getServiceAccount:getServiceAccount": {
                "id": "127311923021",
                "arn": "arn:aws:iam::127311923021:root",
                "region": self.region,
            },
        }
        # Answers that depend on the arguments: the zone choice (components/network.py) and the
        # Powertools layer (components/functions.py); they may fail, as the provider does.
        lookups: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": self._instance_type_offerings,
            "aws:rds/getOrderableDbInstance:getOrderableDbInstance": self._orderable_db_instance,
            "aws:ssm/getParameter:getParameter": lambda a: self._ssm_parameter(a["name"]),
        }
        if args.token in lookups:
            return lookups[args.token](args.args), []
        if args.token not in answers:
            raise NotImplementedError(f"the test mocks do not answer the invoke {args.token}; add it to AwsMocks.call")
        return answers[args.token], []

    def _zones_offering(self, instance_type: str) -> list[str]:
        graviton = re.fullmatch(r"(db\.)?[a-z]+\d+[a-z]*g[a-z]*\.[a-z0-9]+", instance_type) is not None
        return [f"{self.region}{c}" for c in "abcdef" if not (graviton and c in ZONES_WITHOUT_GRAVITON)]

    def _instance_type_offerings(self, args: dict[str, Any]) -> dict[str, Any]:
        filters = {f["name"]: f["values"] for f in args.get("filters") or []}
        if args.get("locationType") != "availability-zone" or set(filters) != {"instance-type"}:
            raise NotImplementedError(f"the mocks answer instance type offerings by zone and type only (got {args})")
        offers = [(zone, t) for t in filters["instance-type"] for zone in self._zones_offering(t)]
        return {
            "id": self.region,
            "filters": args["filters"],
            "locationType": "availability-zone",
            "locations": [zone for zone, _ in offers],
            "locationTypes": ["availability-zone"] * len(offers),
            "instanceTypes": [t for _, t in offers],
        }

    def _orderable_db_instance(self, args: dict[str, Any]) -> dict[str, Any]:
        classes = args.get("preferredInstanceClasses") or [args.get("instanceClass")]
        if not args.get("engine") or None in classes:
            raise NotImplementedError(f"the mocks answer orderable DB instances by engine and class only (got {args})")
        return {
            "id": classes[0],
            "engine": args["engine"],
            "engineVersion": "17.7",
            "instanceClass": classes[0],
            "licenseModel": "postgresql-license",
            "storageType": args.get("storageType") or "gp3",
            "availabilityZones": self._zones_offering(classes[0]),
        }

    # Powertools releases whose public layer parameters AWS never published: 3.23.0 is the real
    # case (aws-powertools/powertools-lambda-python#7689); tests pin it to see the failure.
    UNPUBLISHED_POWERTOOLS = frozenset({"3.23.0"})

    def _ssm_parameter(self, name: str) -> dict[str, Any]:
        """AWS's public parameters the program reads; any other name is missing, as in AWS."""
        if name.startswith("/aws/service/ami-amazon-linux-latest/"):
            # The current Amazon Linux 2023 AMI (the multi-tier launch template reads it).
            return self._parameter(name, "ami-0123456789abcdef0")
        powertools = re.fullmatch(r"/aws/service/powertools/python/(arm64|x86_64)/python3\.(\d+)/(\d+\.\d+\.\d+)", name)
        if powertools is None or powertools[3] in self.UNPUBLISHED_POWERTOOLS:
            # What the provider reports for a parameter that does not exist.
            raise Exception(
                f"reading SSM Parameter ({name}): operation error SSM: GetParameter, "
                "https response error StatusCode: 400, ParameterNotFound: "
            )
        arch, minor, release = powertools.groups()
        # The layer's own version number is a counter AWS assigns when it publishes; the mocks use
        # the release's minor number (the program derives nothing from it).
        value = (
            f"arn:aws:lambda:{self.region}:017000801446:layer:"
            f"AWSLambdaPowertoolsPythonV3-python3{minor}-{arch}:{release.split('.')[1]}"
        )
        return self._parameter(name, value)

    def _parameter(self, name: str, value: str) -> dict[str, Any]:
        return {
            "id": name,
            "arn": f"arn:aws:ssm:{self.region}::parameter{name}",
            "name": name,
            "type": "String",
            "value": value,
            "insecureValue": value,
            "version": 1,
            "withDecryption": True,
        }


class RecordingMonitor(MockMonitor):
    """A MockMonitor that also keeps the request fields MockResourceArgs drops."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.requests: list[tuple[Any, str]] = []
        # (token, arguments) of every invoke, in order: what the program looked up.
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        self.requests.append((request, response.urn))
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().ReadResource(request)
        self.requests.append((request, response.urn))
        return response

    def Invoke(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.invokes.append((request.tok, rpc.deserialize_properties(request.args)))
        return super().Invoke(request)


class StackFileError(ConfigError):
    """A stack file that cannot be read as one: missing, not YAML, or not shaped like a stack file."""


# The top-level keys of a stack file (Pulumi's stack settings file reference).
STACK_FILE_KEYS = ("config", "environment", "encryptedkey", "encryptionsalt", "secretsprovider")


class _Constructor(RoundTripConstructor):
    """Timestamps stay the text they were written as: Pulumi's YAML decoder keeps them as strings."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_scalar)


def _yaml() -> YAML:
    # The round-trip loader reads YAML 1.2, as Pulumi does (`yes`, `on` are strings), refuses
    # duplicate keys, and keeps every key's line for error messages.
    loader = YAML(typ="rt")
    loader.Constructor = _Constructor
    return loader


def shown(path: str | Path) -> str:
    """A file's name as a message shows it: relative to the working directory when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _line(node: Any, key: Any = None) -> int | None:
    """The 1-based line of `key` in the mapping `node` (of `node` itself without a key)."""
    try:
        return (node.lc.key(key)[0] if key is not None else node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _at(path: Path, line: int | None) -> str:
    return f"{shown(path)}, line {line}" if line else shown(path)


def read_yaml(path: str | Path) -> Any:
    """One YAML document, read as Pulumi reads its files (StackFileError naming the file and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(f"{shown(path)}: no such file") from None
    except IsADirectoryError:
        raise StackFileError(f"{shown(path)}: is a directory, not a stack file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{shown(path)}: cannot be read: {exc}") from None
    try:
        documents = list(_yaml().load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown(path)}, line {mark.line + 1}, column {mark.column + 1}" if mark else shown(path)
        problem = " ".join(str(exc.problem or exc.context or "").split())
        raise StackFileError(f"{where}: not valid YAML: {problem}") from None
    except YAMLError as exc:
        raise StackFileError(f"{shown(path)}: not valid YAML: {' '.join(str(exc).split())}") from None
    if len(documents) > 1:
        raise StackFileError(f"{shown(path)}: holds {len(documents)} YAML documents; a stack file is one")
    return documents[0] if documents else None


PROJECT = read_yaml(ROOT / "Pulumi.yaml")["name"]


def read_stack_file(path: str | Path) -> dict[str, Any]:
    """A stack file's document (round-trip nodes, which know their lines), its shape checked."""
    path = Path(path)
    document = read_yaml(path)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(f"{shown(path)}: must be a mapping with a 'config:' key (got {type(document).__name__})")
    for key in document:
        if key not in STACK_FILE_KEYS:
            suggestion = closest(str(key), STACK_FILE_KEYS)
            hint = f"did you mean {suggestion}? " if suggestion else ""
            raise StackFileError(
                f"{_at(path, _line(document, key))}: unknown top-level key {str(key)!r}; {hint}"
                f"a stack file holds {', '.join(STACK_FILE_KEYS)}"
            )
    config = document.get("config")
    if config is not None and not isinstance(config, dict):
        raise StackFileError(f"{_at(path, _line(document, 'config'))}: 'config:' must be a mapping of keys to values")
    return document


def _plain(value: Any, key: str, path: Path, line: int | None) -> Any:
    """`value` as JSON-ready Python values (what the engine encodes); unsupported YAML is an error."""
    if isinstance(value, dict):
        plain = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise StackFileError(f"{_at(path, _line(value, k))}: {key}: key {k!r} must be a string")
            plain[k] = _plain(v, f"{key}.{k}", path, _line(value, k) or line)
        return plain
    if isinstance(value, list):
        return [_plain(v, f"{key}[{i}]", path, _line(value) or line) for i, v in enumerate(value)]
    if value is None or isinstance(value, (str, bool)):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return float(value)
    raise StackFileError(f"{_at(path, line)}: {key}: {value!r} cannot be passed to the program (not JSON)")


def stack_file(stack: str, path: str | Path | None = None) -> Path:
    """The stack file of `stack`: `path` when given, else Pulumi.<stack>.yaml beside Pulumi.yaml."""
    return Path(path) if path is not None else ROOT / f"Pulumi.{stack}.yaml"


def config_values(path: str | Path) -> dict[str, str]:
    """A stack file's config as the engine hands it to the program: structured values as JSON."""
    path = Path(path)
    config = read_stack_file(path).get("config") or {}
    plain = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise StackFileError(f"{_at(path, _line(config, key))}: config key {key!r} must be a string")
        if key.count(":") > 1 and not re.fullmatch(r"[^:]+:config:[^:]+", key):
            raise StackFileError(
                f"{_at(path, _line(config, key))}: {key!r} is not a config key: write <namespace>:<name>, "
                "nested values under it (Pulumi refuses ':' in a name)"
            )
        plain[key.replace(":config:", ":", 1)] = _plain(value, key, path, _line(config, key))
    return encode_config(plain)


def stack_config(stack: str, path: str | Path | None = None) -> dict[str, str]:
    """The config of `stack`'s file (or of the file at `path`) as the engine hands it to the program."""
    return config_values(stack_file(stack, path))


_PATH_PART = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")


def key_line(path: str | Path, key: str) -> int | None:
    """The line of a full key (`aws-patterns:network.flowLogs.trafficType`, `aws:assumeRoles[0].roleArn`)
    in a stack file: of the deepest part of it the file sets (a missing key: its block), or None."""
    try:
        config = read_stack_file(path).get("config") or {}
    except StackFileError:
        return None
    match = re.match(r"([\w-]+):([\w-]+)((?:\.[\w-]+|\[\d+\])*)$", key)
    if not match:
        return None
    namespace, name, rest = match.groups()
    top = next(
        (
            k
            for k in (f"{namespace}:{name}", f"{namespace}:config:{name}", name if namespace == PROJECT else None)
            if k in config
        ),
        None,
    )
    if top is None:
        return None
    line, node = _line(config, top), config[top]
    for part in _PATH_PART.finditer(rest):
        step: Any = part.group(1) if part.group(1) is not None else int(part.group(2))
        if isinstance(node, dict) and step in node:
            line, node = _line(node, step) or line, node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            line, node = (node.lc.item(step)[0] + 1 if hasattr(node, "lc") else line), node[step]
        else:
            break
    return line


class SecretConfigValue(str):
    """An encoded value that held `secure:` entries; `run_program` tells the program its key is
    secret, as the engine does for a key set with `pulumi config set --secret`."""


def mock_secret(ciphertext: str) -> str:
    """The plaintext the mocks use for a `secure:` value they cannot decrypt: stable per
    ciphertext, and only letters, digits and '.', so it is also a valid VPN pre-shared key."""
    return "mocksecret." + hashlib.sha256(ciphertext.encode()).hexdigest()[:16]


def _decrypt(value: Any) -> tuple[Any, bool]:
    """`value` with every `{secure: ...}` replaced by its mock plaintext, and whether it had any."""
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return mock_secret(value["secure"]), True
        pairs = {k: _decrypt(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(secret for _, secret in pairs.values())
    if isinstance(value, list):
        items = [_decrypt(v) for v in value]
        return [v for v, _ in items], any(secret for _, secret in items)
    return value, False


def encode_config(values: dict[str, Any]) -> dict[str, str]:
    encoded = {}
    for key, raw in values.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        value, secret = _decrypt(raw)
        if isinstance(value, (dict, list)):
            text = json.dumps(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        encoded[full_key] = SecretConfigValue(text) if secret else text
    return encoded


UNKNOWN = "(known after apply)"


def _resolve(value: Any) -> Any:
    """Await stack outputs into plain values; values unknown during a preview become UNKNOWN."""
    if isinstance(value, pulumi.Output):
        if not _sync_await(value.is_known()):
            return UNKNOWN
        return _resolve(_sync_await(value.future()))
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v) for v in value]
    return value


def referenced_stacks(config: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Offline outputs of every shipped stack `config` references (`<org>/aws-patterns/<stack>`).

    Any config value naming such a stack counts, so the engine needs no list of the keys that
    hold stack references; each referenced stack runs once per process, in up mode (its outputs
    are what `pulumi up` would have exported).
    """
    pattern = re.compile(rf"[A-Za-z0-9_.-]+/{re.escape(PROJECT)}/([A-Za-z0-9_.-]+)")
    found = {m.group(0): m.group(1) for value in config.values() for m in pattern.finditer(value)}
    return {name: run_cached(stack, preview=False).outputs for name, stack in sorted(found.items()) if stack in STACKS}


class _EngineLog:
    """The log the mocks' engine writes to: warnings are kept for the Run, so a tool shows each
    once, for the stack it concerns; the other severities go to Python logging as before."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self._logger = logging.getLogger()

    def warning(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def debug(self, message: str) -> None:
        self._logger.debug(message)

    def info(self, message: str) -> None:
        self._logger.info(message)

    def error(self, message: str) -> None:
        self._logger.error(message)


def run_program(
    stack: str,
    preview: bool,
    config: dict[str, str] | None = None,
    monitors: list[RecordingMonitor] | None = None,
    program: Callable[[], object] | None = None,
    references: dict[str, dict[str, Any]] | None = None,
    monitor_class: type[RecordingMonitor] | None = None,
) -> Run:
    """Run `__main__.py` for `stack` (or for an explicit engine-style `config`) under mocks.

    `monitors`, when given, receives the monitor, so a test can inspect what was registered
    even when the program raises. `program` replaces `__main__.py` (the benchmark's floor).
    `references` are the outputs of the stacks the program may reference, by fully qualified
    name, over those of the shipped stacks the config names (`referenced_stacks`).
    `monitor_class` records more than a RecordingMonitor does (tools/preview.py); by default the
    module's RecordingMonitor, looked up at each run.
    """
    values = stack_config(stack) if config is None else config
    # Before this run's config and mocks are set: a referenced stack is a program run of its own.
    outputs = {**referenced_stacks(values), **(references or {})}
    pulumi.runtime.set_all_config(values, [k for k, v in values.items() if isinstance(v, SecretConfigValue)])
    pulumi_settings.ROOT.set(None)  # a fresh root Stack for every run
    mocks = AwsMocks(values.get("aws:region", "us-east-1"), preview, references=outputs)
    monitor = (monitor_class or RecordingMonitor)(mocks)
    if monitors is not None:
        monitors.append(monitor)
    log = _EngineLog()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, logger=log)  # type: ignore[arg-type]
    root = pulumi_settings.get_root_resource()

    try:
        _sync_await(run_pulumi_func(program or (lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))))
    finally:
        _settle()

    run = Run(stack=stack, preview=preview, warnings=log.warnings)
    run.outputs = {k: _resolve(v) for k, v in root.outputs.items()}  # type: ignore[union-attr]
    registered = monitor.get_registered_resources()
    for request, urn in monitor.requests:
        if request.type == "pulumi:pulumi:Stack":
            continue
        state = registered.get(urn)
        # A read (ReadResourceRequest: a StackReference) has its state in `properties` and none
        # of the options a registration carries.
        read = not hasattr(request, "object")
        links = {} if read else {k: list(v.urns) for k, v in request.propertyDependencies.items()}
        run.resources.append(
            Registered(
                type=request.type,
                name=request.name,
                urn=urn,
                id=state.id if state else None,
                custom=True if read else request.custom,
                inputs=_sync_await(_deserialize(request.properties if read else request.object)),
                outputs=dict(state.state) if state else {},
                parent=request.parent,
                provider=request.provider,
                dependencies=list(request.dependencies),
                property_dependencies=links,
                protect=False if read else request.protect,
                aliases=[] if read else list(request.aliases) + list(request.aliasURNs),
                ignore_changes=[] if read else list(request.ignoreChanges),
                replace_on_changes=[] if read else list(request.replaceOnChanges),
                delete_before_replace=False if read else request.deleteBeforeReplace,
            )
        )
    return run


def _settle() -> None:
    """Let every RPC a run started finish and forget its failures.

    A run that fails (an invoke that raises, say) stops at its first failed RPC and leaves the
    other RPCs and outputs queued; the next run in the process would otherwise wait for them
    and report their errors as its own.
    """
    settings = pulumi_settings.SETTINGS
    manager = settings.rpc_manager
    while manager.rpcs or settings.outputs:
        with settings.lock:
            pending = [*manager.rpcs, *settings.outputs]
            manager.rpcs, settings.outputs = [], set()
        _sync_await(asyncio.gather(*pending, return_exceptions=True))
    manager.clear()


_CACHE: dict[tuple[str, bool, str], Run] = {}


def run_cached(
    stack: str, preview: bool, config: dict[str, str] | None = None, references: dict[str, dict[str, Any]] | None = None
) -> Run:
    """`run_program` for a stack file (or an explicit engine-style `config`), once per process.

    Runs are deterministic, so identical requests share one Run; callers only read it. Runs with
    a replacement `program` or a `monitors` list are not cached (they are about side effects).
    """
    values = stack_config(stack) if config is None else config
    secrets = sorted(k for k, v in values.items() if isinstance(v, SecretConfigValue))
    key = (stack, preview, json.dumps([values, secrets, references], sort_keys=True))
    if key not in _CACHE:
        _CACHE[key] = run_program(stack, preview, config=values, references=references)
    return _CACHE[key]


async def _deserialize(obj: Any) -> dict[str, Any]:
    return rpc.deserialize_properties(obj)
