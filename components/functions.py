"""One Python Lambda function the way every pattern wants it (shared by the Lambda patterns).

`PythonFunction` bundles what AWS needs around a function and is easy to get wrong:
- its own log group with retention, created *before* the function and named in the function's
  `logging_config`, so Lambda never creates a never-expiring group of its own;
- its own role, trusted only by lambda.amazonaws.com in this account, allowed to write to its
  own log group and send X-Ray traces, plus exactly the statements the caller passes;
- python3.13 on arm64 by default, X-Ray active tracing, JSON logs;
- Powertools from AWS's public layer of the very release the tests run against: the layer's
  ARN is read from the public SSM parameter AWS publishes for that release, runtime and
  architecture (docs/adr/0016-powertools-layer-of-the-pinned-release.md);
- an archive of the function's source files only (`source_files`): no `__pycache__`, no
  `*.pyc`, no tests, no stray files, so one commit deploys one code hash from any machine;
- for functions other services invoke asynchronously (S3, SNS, EventBridge), an on-failure
  destination: after Lambda's retries the event goes to an encrypted queue instead of being
  dropped (`asynchronous=True`);
- reserved concurrency only when asked (new accounts may not have the unreserved headroom).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components import policies
from components.naming import caller_account, log_group_prefix, name_tag
from components.schema import LAMBDAS_DIR

if TYPE_CHECKING:
    from components.config import StackConfig

# The one pin of the libraries the functions import (the tests install the same file).
FUNCTION_REQUIREMENTS = LAMBDAS_DIR / "requirements.txt"
POWERTOOLS_PACKAGE = "aws-lambda-powertools"
# Lambda retries a failed asynchronous invocation twice and keeps an event at most 6 hours
# (its own defaults, written out so the destination's contract is visible here).
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE_S = 6 * 3600
# A failed event waits in its queue as long as SQS allows, 14 days, for someone to look.
FAILURE_RETENTION_S = 14 * 24 * 3600
# What never belongs in an archive even when it sits in the function's folder.
_NOT_SOURCE = re.compile(r"(^|/)(__pycache__|\.[^/]*|tests?)(/|$)|(^|/)(test_[^/]*|[^/]*_test\.py|conftest\.py)$")


class PowertoolsLayerNotFound(pulumi.RunError):
    """AWS publishes no public Powertools layer for the pinned release, runtime and architecture."""


def pinned_powertools_version(requirements: Path = FUNCTION_REQUIREMENTS) -> str:
    """The exact aws-lambda-powertools release lambdas/requirements.txt pins (`==X.Y.Z`)."""
    pins = re.findall(
        rf"^{re.escape(POWERTOOLS_PACKAGE)}(?:\[[^\]]*\])?==([0-9][0-9a-z.]*)\s*$",
        requirements.read_text(),
        re.MULTILINE,
    )
    if len(pins) != 1:
        raise ValueError(f"{requirements} must pin {POWERTOOLS_PACKAGE} exactly once with ==, found {pins}")
    return pins[0]


POWERTOOLS_VERSION = pinned_powertools_version()


def powertools_parameter(architecture: str, runtime: str, version: str) -> str:
    """The public SSM parameter holding the layer ARN of one Powertools release.

    Published by the Powertools maintainers in every commercial region, e.g.
    `/aws/service/powertools/python/arm64/python3.13/3.37.0`.
    """
    return f"/aws/service/powertools/python/{architecture}/{runtime}/{version}"


def source_files(code: Path) -> list[PurePosixPath]:
    """The files of a function's archive: its Python sources, relative to its folder, sorted.

    An explicit list rather than the folder: a folder archive ships whatever lies in it
    (`__pycache__` written by the tests, editor files), which makes the code hash depend on
    the machine that deployed it.
    """
    files = sorted(PurePosixPath(p.relative_to(code).as_posix()) for p in code.rglob("*.py") if p.is_file())
    return [f for f in files if not _NOT_SOURCE.search(str(f))]


def function_archive(code: Path) -> pulumi.AssetArchive:
    """The deployment archive of the function in `code`: exactly `source_files(code)`."""
    return pulumi.AssetArchive({str(f): pulumi.FileAsset(str(code / f)) for f in source_files(code)})


@dataclass(frozen=True)
class FunctionSettings:
    """What every function in a stack shares (from the `functions` config block)."""

    region: str
    runtime: str = "python3.13"
    architecture: str = "arm64"
    log_retention_days: int = 7
    tracing: bool = True

    @classmethod
    def from_config(cls, cfg: StackConfig) -> FunctionSettings:
        fn = cfg.functions
        return cls(
            region=cfg.region,
            runtime=fn.runtime,
            architecture=fn.architecture,
            log_retention_days=cfg.common.log_retention_days,
            tracing=fn.tracing,
        )


def role_statements(
    log_group: aws.cloudwatch.LogGroup, tracing: bool, statements: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A function role's statements: write to its own log group, `statements`, and send traces."""
    own_logs = {
        "Sid": "OwnLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": pulumi.Output.concat(log_group.arn, ":*"),
    }
    # X-Ray's write actions support no resource-level scoping.
    xray = {
        "Sid": "XRay",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    }
    return [own_logs, *statements, *([xray] if tracing else [])]


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
    # Invoked asynchronously by another service (S3, SNS, EventBridge): gets an on-failure queue.
    asynchronous: bool = False


class PythonFunction(pulumi.ComponentResource):
    """A Lambda function with its own log group and least-privilege role."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    policy: aws.iam.RolePolicy
    # With `asynchronous`: where Lambda sends an event whose retries are used up, and the
    # setting that says so (producers wait for it, so no event is ever dropped).
    failure_queue: aws.sqs.Queue | None
    invoke_config: aws.lambda_.FunctionEventInvokeConfig | None

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
        statements = role_statements(self.log_group, settings.tracing, args.statements)
        self.failure_queue = self._failure_queue(name, child) if args.asynchronous else None
        if self.failure_queue is not None:
            # Lambda sends to the destination with the function's own role.
            statements.append(
                {
                    "Sid": "OnFailureDestination",
                    "Effect": "Allow",
                    "Action": ["sqs:SendMessage"],
                    "Resource": self.failure_queue.arn,
                }
            )
        self.policy = aws.iam.RolePolicy(
            name,
            role=self.role.id,
            policy=policies.document(statements),
            opts=child,
        )
        variables: dict[str, pulumi.Input[str]] = {"POWERTOOLS_SERVICE_NAME": name, **args.environment}
        if not settings.tracing:
            # The handlers then never import the X-Ray SDK (the largest import of a cold start).
            variables["POWERTOOLS_TRACE_DISABLED"] = "true"
        self.function = aws.lambda_.Function(
            name,
            description=args.description,
            runtime=settings.runtime,
            architectures=[settings.architecture],
            handler=args.handler,
            code=function_archive(code),
            role=self.role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            layers=[self._powertools_layer(name, settings)],
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active" if settings.tracing else "PassThrough"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            reserved_concurrent_executions=args.reserved_concurrency,
            tags=name_tag(name),
            # The role's policy must exist before the first invocation can log or reach its data.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.policy])),
        )
        self.invoke_config = None
        if self.failure_queue is not None:
            self.invoke_config = aws.lambda_.FunctionEventInvokeConfig(
                name,
                function_name=self.function.name,
                maximum_retry_attempts=ASYNC_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_S,
                destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                    on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                        destination=self.failure_queue.arn
                    )
                ),
                opts=child,
            )
        self.register_outputs({"functionName": self.function.name, "functionArn": self.function.arn})

    def _failure_queue(self, name: str, child: pulumi.ResourceOptions) -> aws.sqs.Queue:
        queue = aws.sqs.Queue(
            f"{name}-failures",
            # SSE-SQS: encrypted at rest with no key policy for Lambda's destination to satisfy.
            sqs_managed_sse_enabled=True,
            message_retention_seconds=FAILURE_RETENTION_S,
            tags=name_tag(name, "failures"),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-failures",
            queue_url=queue.url,
            policy=policies.document([policies.tls_only(queue.arn, "sqs:*")]),
            opts=child,
        )
        return queue

    def _powertools_layer(self, name: str, settings: FunctionSettings) -> pulumi.Output[str]:
        """The public Powertools layer of the pinned release, read from AWS's SSM parameter.

        The `_output` invoke (no synchronous invoke inside a component); a release AWS published
        no parameter for stops the program with a message that says what to change.
        """
        parameter = powertools_parameter(settings.architecture, settings.runtime, POWERTOOLS_VERSION)
        lookup = aws.ssm.get_parameter_output(name=parameter, opts=pulumi.InvokeOutputOptions(parent=self))

        async def layer_arn() -> str:
            try:
                return (await lookup.future()).value  # type: ignore[union-attr]
            except Exception as error:
                if "ParameterNotFound" not in str(error):
                    raise
                raise PowertoolsLayerNotFound(
                    f"{name}: AWS publishes no Powertools layer for {POWERTOOLS_PACKAGE} {POWERTOOLS_VERSION} "
                    f"on {settings.runtime}/{settings.architecture} in {settings.region} (the SSM parameter "
                    f"{parameter} does not exist). Pin a release that has one in {FUNCTION_REQUIREMENTS.name} "
                    f"(lambdas/), or choose functions.runtime/functions.architecture it is published for."
                ) from None

        return pulumi.Output.from_input(layer_arn())
