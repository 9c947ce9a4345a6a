"""Microservices: one REST API (API Gateway v1) in front of independent services.

Each service (`Service`) owns its DynamoDB table, its Lambda function and that function's role,
which may use only the table actions the service is configured with, on its own table and
indexes (database per service). `Microservices` builds the shared REST API from every service's
routes, deploys it to a stage, and registers each service in a Cloud Map HTTP namespace with its
base URL and table name so other services can discover it.

What AWS needs and mocks would not catch, guarded here:
- A Deployment snapshots the methods and integrations that exist when it is created: it
  depends on all of them, and its `triggers` hash every route, integration target and gateway
  response, so a change redeploys. The stage is a separate `Stage`, never the Deployment's
  `stage_name`.
- Lambda proxy integrations call Lambda's Invoke API, which is always POST, whatever the route.
- Each route gets its own Lambda permission whose source ARN names its method and path (path
  parameters as `*`), so the function can be invoked only through the routes that lead to it.
- Stage logging (access and execution logs) requires the account-level API Gateway CloudWatch
  role; `apiGatewayAccountLogging` says who provides it, and without it nothing is logged.
- A WAF web ACL (the stack's, `web_acl_arn`) is associated with the stage, by the stage's ARN;
  REST APIs can be, HTTP APIs cannot.
- A table declares only its key attributes (table and index keys); DynamoDB rejects others.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components import policies
from components.functions import FunctionSettings, PythonFunction, PythonFunctionArgs
from components.microservices.config import KeyAttribute, SecondaryIndex
from components.naming import log_group_prefix, name_tag, partition
from components.observability import Monitored, RestStage
from components.references import EventBusRef

if TYPE_CHECKING:
    from components.config import StackConfig

# Index reads; the other table actions apply to the table alone.
INDEX_ACTIONS = ("Query", "Scan")
# JSON access log line. API Gateway requires $context.requestId (or extendedRequestId) in it.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "errorMessage": "$context.error.message",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)
# The managed policy AWS documents for the account-level API Gateway logging role.
PUSH_TO_CLOUDWATCH_POLICY = "iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


@dataclass(frozen=True)
class Route:
    method: str
    path: str

    @classmethod
    def parse(cls, route: str) -> Route:
        method, path = route.split(" ", 1)
        return cls(method, path)

    @property
    def arn_path(self) -> str:
        """The path as it appears in an execute-api ARN: each {parameter} becomes `*`."""
        return re.sub(r"\{[^}]*\}", "*", self.path)

    @property
    def slug(self) -> str:
        """A short logical-name fragment: `GET /users/{id}` -> `get-users-id`."""
        return "-".join([self.method.lower(), *re.findall(r"[A-Za-z0-9]+", self.path)])


def resource_slug(path: str) -> str:
    return "-".join(re.findall(r"[A-Za-z0-9]+", path)) or "root"


@dataclass(frozen=True)
class ServiceArgs:
    name: str
    code: str
    functions: FunctionSettings
    partition_key: KeyAttribute
    table_actions: tuple[str, ...]
    routes: tuple[Route, ...]
    sort_key: KeyAttribute | None = None
    indexes: tuple[SecondaryIndex, ...] = ()
    memory_mb: int = 256
    timeout_s: int = 10
    reserved_concurrency: int | None = None
    publishes_events: bool = False
    point_in_time_recovery: bool = True
    deletion_protection: bool = False
    protect: bool = False

    @property
    def key_attributes(self) -> list[KeyAttribute]:
        """Every key attribute of the table and its indexes, once each (all DynamoDB accepts)."""
        keys = [self.partition_key, self.sort_key]
        for index in self.indexes:
            keys += [index.partition_key, index.sort_key]
        unique: dict[str, KeyAttribute] = {}
        for key in keys:
            if key is not None:
                unique.setdefault(key.name, key)
        return list(unique.values())

    @property
    def base_path(self) -> str:
        """The static path prefix every route of the service shares, e.g. `/users`."""
        split = [r.path.strip("/").split("/") for r in self.routes]
        common: list[str] = []
        for parts in zip(*split, strict=False):
            if len(set(parts)) != 1 or parts[0].startswith("{"):
                break
            common.append(parts[0])
        return "/" + "/".join(common) if common else ""


@dataclass(frozen=True)
class MicroservicesArgs:
    services: tuple[ServiceArgs, ...]
    stage_name: str = "v1"
    authorization: str = "NONE"
    account_logging: str = "off"  # "off" | "manage" | "existing"
    execution_log_level: str = "OFF"
    throttling_rate_limit: float = 50
    throttling_burst_limit: int = 100
    log_retention_days: int = 7
    tracing: bool = True
    metrics_enabled: bool = False
    # When given, services that publish events may put events on this bus (created or borrowed by
    # the event-driven pattern), and only on it.
    event_bus: EventBusRef | None = field(default=None, compare=False)
    # The stack's regional web ACL (components/waf.py), for the REST API stage; None: no WAF.
    web_acl_arn: pulumi.Input[str] | None = field(default=None, compare=False)

    @classmethod
    def from_config(
        cls,
        cfg: StackConfig,
        event_bus: EventBusRef | None = None,
        web_acl_arn: pulumi.Input[str] | None = None,
    ) -> MicroservicesArgs:
        block = cfg.microservices
        functions = FunctionSettings.from_config(cfg)
        services = tuple(
            ServiceArgs(
                name=name,
                code=s.code or name.replace("-", "_"),
                functions=functions,
                partition_key=s.partition_key,
                sort_key=s.sort_key,
                indexes=tuple(s.global_secondary_indexes),
                table_actions=tuple(s.table_actions),
                routes=tuple(Route.parse(r) for r in s.routes),
                memory_mb=s.memory_mb,
                timeout_s=s.timeout_seconds,
                reserved_concurrency=s.reserved_concurrency,
                publishes_events=s.publishes_events,
                point_in_time_recovery=block.point_in_time_recovery,
                deletion_protection=cfg.common.deletion_protection,
                protect=cfg.common.protect_stateful_resources,
            )
            for name, s in block.services.items()
            if s.enabled
        )
        return cls(
            services=services,
            stage_name=block.stage_name,
            authorization=block.authorization,
            account_logging=block.api_gateway_account_logging,
            execution_log_level=block.execution_log_level,
            throttling_rate_limit=block.throttling.rate_limit,
            throttling_burst_limit=block.throttling.burst_limit,
            log_retention_days=cfg.common.log_retention_days,
            tracing=cfg.functions.tracing,
            metrics_enabled=block.metrics_enabled,
            event_bus=event_bus,
            web_acl_arn=web_acl_arn,
        )


@dataclass(frozen=True)
class Api:
    """What a service needs of the shared REST API to attach its routes."""

    rest_api: aws.apigateway.RestApi
    resources: dict[str, aws.apigateway.Resource]
    authorization: str

    def resource_id(self, path: str) -> pulumi.Output[str]:
        return self.resources[path].id if path in self.resources else self.rest_api.root_resource_id


class Service(pulumi.ComponentResource):
    """One microservice: its table, its function and role, and its routes on the shared API."""

    table: aws.dynamodb.Table
    function: PythonFunction
    methods: list[aws.apigateway.Method]
    integrations: list[aws.apigateway.Integration]
    permissions: list[aws.lambda_.Permission]

    def __init__(
        self,
        name: str,
        args: ServiceArgs,
        api: Api,
        event_bus: EventBusRef | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("aws-patterns:microservices:Service", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.base_path = args.base_path

        self.table = aws.dynamodb.Table(
            name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=args.partition_key.name,
            range_key=args.sort_key.name if args.sort_key else None,
            attributes=[aws.dynamodb.TableAttributeArgs(name=k.name, type=k.type) for k in args.key_attributes],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=index.name,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=key.name, key_type=kind)
                        for key, kind in ((index.partition_key, "HASH"), (index.sort_key, "RANGE"))
                        if key is not None
                    ],
                    projection_type="ALL",
                )
                for index in args.indexes
            ]
            or None,
            # Encrypted with the AWS-managed key, so reads of the data show in CloudTrail.
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=args.point_in_time_recovery),
            deletion_protection_enabled=args.deletion_protection,
            tags=name_tag(name),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

        statements: list[dict[str, Any]] = [
            {
                "Sid": "OwnTable",
                "Effect": "Allow",
                "Action": [f"dynamodb:{a}" for a in args.table_actions],
                "Resource": self.table.arn,
            }
        ]
        index_actions = [f"dynamodb:{a}" for a in args.table_actions if a in INDEX_ACTIONS]
        if args.indexes and index_actions:
            statements.append(
                {
                    "Sid": "OwnIndexes",
                    "Effect": "Allow",
                    "Action": index_actions,
                    "Resource": [pulumi.Output.concat(self.table.arn, "/index/", i.name) for i in args.indexes],
                }
            )
        environment: dict[str, pulumi.Input[str]] = {
            "TABLE_NAME": self.table.name,
            "POWERTOOLS_SERVICE_NAME": name,
            "POWERTOOLS_METRICS_NAMESPACE": pulumi.get_project(),
        }
        if args.publishes_events and event_bus is not None:
            environment["EVENT_BUS_NAME"] = event_bus.name
            statements.append(
                {"Sid": "PublishEvents", "Effect": "Allow", "Action": ["events:PutEvents"], "Resource": event_bus.arn}
            )
        self.function = PythonFunction(
            name,
            PythonFunctionArgs(
                code_dir=args.code,
                settings=args.functions,
                memory_mb=args.memory_mb,
                timeout_s=args.timeout_s,
                environment=environment,
                statements=statements,
                reserved_concurrency=args.reserved_concurrency,
                description=f"{name} microservice",
            ),
            opts=child,
        )

        self.methods, self.integrations, self.permissions = [], [], []
        for route in args.routes:
            resource_id = api.resource_id(route.path)
            method = aws.apigateway.Method(
                route.slug,
                rest_api=api.rest_api.id,
                resource_id=resource_id,
                http_method=route.method,
                authorization=api.authorization,
                opts=child,
            )
            self.methods.append(method)
            self.integrations.append(
                aws.apigateway.Integration(
                    route.slug,
                    rest_api=api.rest_api.id,
                    resource_id=resource_id,
                    http_method=method.http_method,
                    type="AWS_PROXY",
                    # Lambda's Invoke API is always POST, whatever the route's method.
                    integration_http_method="POST",
                    uri=self.function.function.invoke_arn,
                    opts=child,
                )
            )
            self.permissions.append(
                aws.lambda_.Permission(
                    route.slug,
                    action="lambda:InvokeFunction",
                    function=self.function.function.name,
                    principal="apigateway.amazonaws.com",
                    # Any stage, this method and path only.
                    source_arn=pulumi.Output.concat(api.rest_api.execution_arn, f"/*/{route.method}{route.arn_path}"),
                    opts=child,
                )
            )
        self.register_outputs({"tableName": self.table.name, "functionName": self.function.function.name})


class Microservices(pulumi.ComponentResource):
    """A REST API routing to one `Service` per configured microservice, plus Cloud Map discovery."""

    rest_api: aws.apigateway.RestApi
    deployment: aws.apigateway.Deployment
    stage: aws.apigateway.Stage
    web_acl_association: aws.wafv2.WebAclAssociation | None
    services: dict[str, Service]
    namespace: aws.servicediscovery.HttpNamespace
    url: pulumi.Output[str]
    service_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: MicroservicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:microservices:Microservices", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if not args.services:
            raise ValueError(f"{name}: no service to route to; a REST API without methods cannot be deployed")

        self.rest_api = aws.apigateway.RestApi(
            name,
            description=f"{pulumi.get_project()} {pulumi.get_stack()} microservices",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            tags=name_tag(name),
            opts=child,
        )
        api = Api(self.rest_api, self._resources(args, child), args.authorization)
        self.services = {s.name: Service(s.name, s, api, event_bus=args.event_bus, opts=child) for s in args.services}
        methods = [m for s in self.services.values() for m in s.methods]
        integrations = [i for s in self.services.values() for i in s.integrations]

        # REST APIs answer a method or path they do not have with 403 "Missing Authentication
        # Token"; without IAM authorization that only misleads, so say what happened.
        missing_route = aws.apigateway.Response(
            f"{name}-missing-route",
            rest_api_id=self.rest_api.id,
            response_type="MISSING_AUTHENTICATION_TOKEN",
            status_code="404" if args.authorization == "NONE" else "403",
            response_templates={
                "application/json": json.dumps(
                    {
                        "message": "no such route: check the method and the path"
                        if args.authorization == "NONE"
                        else "no such route, or the request is not signed with SigV4"
                    }
                )
            },
            opts=child,
        )

        # What a deployment snapshots; any change to it must produce a new deployment.
        snapshot = pulumi.Output.json_dumps(
            {
                "authorization": args.authorization,
                "routes": {s.name: [f"{r.method} {r.path}" for r in s.routes] for s in args.services},
                "integrations": [
                    [i.http_method, i.type, i.integration_http_method, i.uri, i.resource_id] for i in integrations
                ],
                "responses": [missing_route.status_code, missing_route.response_templates],
            }
        )
        self.deployment = aws.apigateway.Deployment(
            name,
            rest_api=self.rest_api.id,
            description=f"{pulumi.get_project()} {pulumi.get_stack()} microservices",
            triggers={"redeployment": snapshot.apply(lambda s: hashlib.sha256(s.encode()).hexdigest())},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*methods, *integrations, missing_route]),
        )

        logging_ready = self._account_logging(name, args, child)
        access_logs = None
        if args.account_logging != "off":
            access_group = aws.cloudwatch.LogGroup(
                f"{name}-access",
                name_prefix=log_group_prefix("apigateway", name, "access"),
                retention_in_days=args.log_retention_days,
                tags=name_tag(name, "access"),
                opts=child,
            )
            access_logs = aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=access_group.arn, format=ACCESS_LOG_FORMAT
            )
        self.stage = aws.apigateway.Stage(
            name,
            rest_api=self.rest_api.id,
            deployment=self.deployment.id,
            stage_name=args.stage_name,
            xray_tracing_enabled=args.tracing,
            access_log_settings=access_logs,
            tags=name_tag(name, args.stage_name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=logging_ready),
        )
        execution_ready = list(logging_ready)
        if args.execution_log_level != "OFF":
            # API Gateway would create this group itself, without retention: create it first.
            execution_ready.append(
                aws.cloudwatch.LogGroup(
                    f"{name}-execution",
                    name=pulumi.Output.concat(
                        "API-Gateway-Execution-Logs_", self.rest_api.id, "/", self.stage.stage_name
                    ),
                    retention_in_days=args.log_retention_days,
                    tags=name_tag(name, "execution"),
                    opts=child,
                )
            )
        aws.apigateway.MethodSettings(
            name,
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=args.throttling_rate_limit,
                throttling_burst_limit=args.throttling_burst_limit,
                logging_level=args.execution_log_level,
                # Full request and response bodies in the logs would leak personal data.
                data_trace_enabled=False,
                metrics_enabled=args.metrics_enabled,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=execution_ready),
        )
        self.web_acl_association = (
            aws.wafv2.WebAclAssociation(
                f"{name}-waf", resource_arn=self.stage.arn, web_acl_arn=args.web_acl_arn, opts=child
            )
            if args.web_acl_arn is not None
            else None
        )

        self.url = self.stage.invoke_url
        self.service_urls = {s.name: pulumi.Output.concat(self.stage.invoke_url, s.base_path) for s in args.services}
        self.namespace = self._discovery(name, args, child)
        self.register_outputs({"url": self.url, "serviceUrls": self.service_urls})

    def monitored(self) -> Monitored:
        """What of this pattern gets alarms and a dashboard section (components/observability.py)."""
        return Monitored(
            "Microservices",
            functions={name: s.function.function for name, s in self.services.items()},
            rest_stages={"api": RestStage(self.rest_api, self.stage)},
            tables={name: s.table for name, s in self.services.items()},
        )

    def _resources(self, args: MicroservicesArgs, child: pulumi.ResourceOptions) -> dict[str, aws.apigateway.Resource]:
        """One API resource per path prefix any route uses, parents before children."""
        paths = sorted(
            {
                "/" + "/".join(route.path.strip("/").split("/")[: depth + 1])
                for service in args.services
                for route in service.routes
                for depth in range(len(route.path.strip("/").split("/")))
            },
            key=lambda p: (p.count("/"), p),
        )
        resources: dict[str, aws.apigateway.Resource] = {}
        for path in paths:
            parent, _, part = path.rpartition("/")
            resources[path] = aws.apigateway.Resource(
                resource_slug(path),
                rest_api=self.rest_api.id,
                parent_id=resources[parent].id if parent else self.rest_api.root_resource_id,
                path_part=part,
                opts=child,
            )
        return resources

    def _account_logging(
        self, name: str, args: MicroservicesArgs, child: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """With "manage", the account-level role API Gateway logs with; what stage logging waits for."""
        if args.account_logging != "manage":
            return []
        role = aws.iam.Role(
            f"{name}-cloudwatch",
            description="API Gateway writes access and execution logs with this role (account setting)",
            # AWS documents this trust without conditions; API Gateway assumes it for the account.
            assume_role_policy=policies.trust("apigateway.amazonaws.com"),
            tags=name_tag(name, "cloudwatch"),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch",
            role=role.name,
            policy_arn=pulumi.Output.concat("arn:", partition(self), f":{PUSH_TO_CLOUDWATCH_POLICY}"),
            opts=child,
        )
        account = aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        return [account]

    def _discovery(
        self, name: str, args: MicroservicesArgs, child: pulumi.ResourceOptions
    ) -> aws.servicediscovery.HttpNamespace:
        """A Cloud Map HTTP namespace with each service's base URL, table and function names."""
        namespace = aws.servicediscovery.HttpNamespace(
            name,
            # Stable, so other services discover by name; Cloud Map allows 1024 characters.
            name=f"{pulumi.get_project()}-{pulumi.get_stack()}",
            description="Microservices of this stack; DiscoverInstances returns each one's URL",
            tags=name_tag(name),
            opts=child,
        )
        for spec in args.services:
            service = self.services[spec.name]
            entry = aws.servicediscovery.Service(
                f"{spec.name}-discovery",
                name=spec.name,
                namespace_id=namespace.id,
                type="HTTP",
                tags=name_tag(name, spec.name),
                opts=child,
            )
            aws.servicediscovery.Instance(
                f"{spec.name}-discovery",
                service_id=entry.id,
                instance_id="api",
                attributes={
                    "url": self.service_urls[spec.name],
                    "tableName": service.table.name,
                    "functionName": service.function.function.name,
                },
                opts=child,
            )
        return namespace
