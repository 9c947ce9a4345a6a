"""Run the real `__main__.py` in-process under Pulumi's mocks and record what it registers.

The offline engine of the product: `make plan`, `make review`, `make diagrams`, `make cost` and the
test suite all run the program through it. No CLI, no credentials, no AWS.

- `Mocks` returns realistic computed outputs (camelCase: id, arn, name, and the type-specific
  ones such as dnsName or invokeUrl) and answers the invokes the program makes. In preview mode
  it withholds computed outputs, as the engine does, so code that needs them sees unknowns.
- `RecordingMonitor` keeps every `RegisterResourceRequest`'s parent, dependencies, provider and
  options, which `MockResourceArgs` does not carry.
"""

from __future__ import annotations

import hashlib
import json
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.settings as pulumi_settings
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
ACCOUNT = "123456789012"
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


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

    def __init__(self, region: str, preview: bool) -> None:
        self.region = region
        self.preview = preview

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if not args.custom or args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-id", dict(args.inputs)
        if self.preview:
            # During a preview the engine knows only the inputs; ids and ARNs are unknown.
            return None, dict(args.inputs)
        return f"{args.name}-id", {**args.inputs, **self._computed(args)}

    def _computed(self, args: MockResourceArgs) -> dict[str, Any]:
        service, kind = _service_and_kind(args.typ)
        name = args.inputs.get("name", args.name)
        arn = f"arn:aws:{service}:{self.region}:{ACCOUNT}:{kind}/{name}"
        out: dict[str, Any] = {"arn": arn, "name": name}
        type_specific = {
            "aws:ec2/eip:Eip": {"publicIp": "203.0.113.10", "allocationId": f"eipalloc-{args.name}"},
            "aws:ec2/natGateway:NatGateway": {"publicIp": "203.0.113.10"},
            "aws:iam/role:Role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"},
            "aws:cloudwatch/logGroup:LogGroup": {"arn": f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{name}"},
            "aws:lb/loadBalancer:LoadBalancer": {
                "dnsName": f"{name}.{self.region}.elb.amazonaws.com",
                "arnSuffix": f"app/{name}/50dc6c495c0c9188",
            },
            "aws:lb/targetGroup:TargetGroup": {"arnSuffix": f"targetgroup/{name}/73e2d6bc24d8a067"},
            "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1},
            "aws:rds/instance:Instance": {
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
        if args.token not in answers:
            raise NotImplementedError(f"the test mocks do not answer the invoke {args.token}; add it to AwsMocks.call")
        return answers[args.token], []


class RecordingMonitor(MockMonitor):
    """A MockMonitor that also keeps the request fields MockResourceArgs drops."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.requests: list[tuple[Any, str]] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        self.requests.append((request, response.urn))
        return response


def stack_config(stack: str, path: str | Path | None = None) -> dict[str, str]:
    """A stack file's config as the engine hands it to the program: structured values as JSON."""
    document = yaml.safe_load(Path(path or ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    return encode_config(document.get("config") or {})


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


def run_program(
    stack: str,
    preview: bool,
    config: dict[str, str] | None = None,
    monitors: list[RecordingMonitor] | None = None,
    program: Callable[[], object] | None = None,
    monitor_class: type[RecordingMonitor] = RecordingMonitor,
) -> Run:
    """Run `__main__.py` for `stack` (or for an explicit engine-style `config`) under mocks.

    `monitors`, when given, receives the monitor, so a test can inspect what was registered
    even when the program raises. `program` replaces `__main__.py` (the benchmark's floor).
    `monitor_class` records more than a RecordingMonitor does (tools/preview.py).
    """
    values = stack_config(stack) if config is None else config
    pulumi.runtime.set_all_config(values, [k for k, v in values.items() if isinstance(v, SecretConfigValue)])
    pulumi_settings.ROOT.set(None)  # a fresh root Stack for every run
    mocks = AwsMocks(values.get("aws:region", "us-east-1"), preview)
    monitor = monitor_class(mocks)
    if monitors is not None:
        monitors.append(monitor)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    root = pulumi_settings.get_root_resource()

    _sync_await(run_pulumi_func(program or (lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))))

    run = Run(stack=stack, preview=preview)
    run.outputs = {k: _resolve(v) for k, v in root.outputs.items()}  # type: ignore[union-attr]
    registered = monitor.get_registered_resources()
    for request, urn in monitor.requests:
        if request.type == "pulumi:pulumi:Stack":
            continue
        state = registered.get(urn)
        run.resources.append(
            Registered(
                type=request.type,
                name=request.name,
                urn=urn,
                id=state.id if state else None,
                custom=request.custom,
                inputs=_sync_await(_deserialize(request.object)),
                outputs=dict(state.state) if state else {},
                parent=request.parent,
                provider=request.provider,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                protect=request.protect,
                aliases=list(request.aliases) + list(request.aliasURNs),
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=request.deleteBeforeReplace,
            )
        )
    return run


_CACHE: dict[tuple[str, bool, str], Run] = {}


def run_cached(stack: str, preview: bool, config: dict[str, str] | None = None) -> Run:
    """`run_program` for a stack file (or an explicit engine-style `config`), once per process.

    Runs are deterministic, so identical requests share one Run; callers only read it. Runs with
    a replacement `program` or a `monitors` list are not cached (they are about side effects).
    """
    values = stack_config(stack) if config is None else config
    secrets = sorted(k for k, v in values.items() if isinstance(v, SecretConfigValue))
    key = (stack, preview, json.dumps([values, secrets], sort_keys=True))
    if key not in _CACHE:
        _CACHE[key] = run_program(stack, preview, config=values)
    return _CACHE[key]


async def _deserialize(obj: Any) -> dict[str, Any]:
    return rpc.deserialize_properties(obj)
