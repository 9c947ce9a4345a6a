"""One Python Lambda function the way every pattern wants it (shared by the Lambda patterns).

`PythonFunction` bundles what AWS needs around a function and is easy to get wrong:
- its own log group with retention, created *before* the function and named in the function's
  `logging_config`, so Lambda never creates a never-expiring group of its own;
- its own role, trusted only by lambda.amazonaws.com in this account, allowed to write to its
  own log group and send X-Ray traces, plus exactly the statements the caller passes;
- python3.13 on arm64 by default, X-Ray active tracing, JSON logs, the public Powertools layer;
- reserved concurrency only when asked (new accounts may not have the unreserved headroom).

The archive is the function's own folder, `lambdas/<name>/`, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components import policies
from components.naming import caller_account, log_group_prefix, name_tag
from components.schema import LAMBDAS_DIR

if TYPE_CHECKING:
    from components.config import StackConfig

POWERTOOLS_ACCOUNT = "017000801446"  # AWS's account publishing the public Powertools layers


def powertools_layer_arn(region: str, architecture: str, runtime: str, version: int) -> str:
    """The public Powertools for AWS Lambda (Python) v3 layer for this region/arch/runtime."""
    python = runtime.replace(".", "")  # python3.13 -> python313
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-{architecture}:{version}"
    )


@dataclass(frozen=True)
class FunctionSettings:
    """What every function in a stack shares (from the `functions` config block)."""

    region: str
    runtime: str = "python3.13"
    architecture: str = "arm64"
    powertools_layer_version: int = 27
    log_retention_days: int = 7
    tracing: bool = True

    @classmethod
    def from_config(cls, cfg: StackConfig) -> FunctionSettings:
        fn = cfg.functions
        return cls(
            region=cfg.region,
            runtime=fn.runtime,
            architecture=fn.architecture,
            powertools_layer_version=fn.powertools_layer_version,
            log_retention_days=cfg.common.log_retention_days,
            tracing=fn.tracing,
        )


@dataclass(frozen=True)
class PythonFunctionArgs:
    code_dir: str  # folder under lambdas/, e.g. "users"
    settings: FunctionSettings
    handler: str = "app.handler"
    memory_mb: int = 256
    timeout_s: int = 10
    environment: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    # IAM policy statements (dicts, values may be Outputs) beyond logging and tracing.
    statements: list[dict[str, Any]] = field(default_factory=list)
    reserved_concurrency: int | None = None
    description: str = ""


class PythonFunction(pulumi.ComponentResource):
    """A Lambda function with its own log group and least-privilege role."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:functions:PythonFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        code = LAMBDAS_DIR / args.code_dir
        if not (code / args.handler.split(".")[0]).with_suffix(".py").is_file():
            raise ValueError(f"{name}: handler {args.handler} not found in {code}")

        self.log_group = aws.cloudwatch.LogGroup(
            name,
            name_prefix=log_group_prefix("lambda", name),
            retention_in_days=settings.log_retention_days,
            tags=name_tag(name),
            opts=child,
        )
        account = caller_account(self)
        self.role = aws.iam.Role(
            name,
            assume_role_policy=policies.trust("lambda.amazonaws.com", account),
            tags=name_tag(name),
            opts=child,
        )
        statements: list[dict[str, Any]] = [
            {
                "Sid": "OwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(self.log_group.arn, ":*"),
            },
            *args.statements,
        ]
        if settings.tracing:
            # X-Ray's write actions support no resource-level scoping.
            statements.append(
                {
                    "Sid": "XRay",
                    "Effect": "Allow",
                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    "Resource": "*",
                }
            )
        self.policy = aws.iam.RolePolicy(
            name,
            role=self.role.id,
            policy=policies.document(statements),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            name,
            description=args.description,
            runtime=settings.runtime,
            architectures=[settings.architecture],
            handler=args.handler,
            code=pulumi.AssetArchive({".": pulumi.FileArchive(str(code))}),
            role=self.role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            layers=[
                powertools_layer_arn(
                    settings.region, settings.architecture, settings.runtime, settings.powertools_layer_version
                )
            ],
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={"POWERTOOLS_SERVICE_NAME": name, **args.environment}
            ),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active" if settings.tracing else "PassThrough"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            reserved_concurrent_executions=args.reserved_concurrency,
            tags=name_tag(name),
            # The role's policy must exist before the first invocation can log or reach its data.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.policy])),
        )
        self.register_outputs({"functionName": self.function.name, "functionArn": self.function.arn})
