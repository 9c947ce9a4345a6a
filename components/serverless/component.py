"""The serverless pattern: an upload pipeline with no servers to manage.

Clients ask the HTTP API (API Gateway v2) for an upload form, POST the file straight to S3 with
it, S3 invokes the processor, which verifies the object and marks the record READY or REJECTED
(deleting what it rejects), and the API reports the status and hands out a download URL. Pay
per request, scales to zero.

    POST /uploads ──> intake ──> DynamoDB record PENDING + presigned POST (form fields and policy)
    client ──POST──> S3 bucket (under uploadPrefix) ──ObjectCreated──> processor ──> READY/REJECTED
    GET /uploads/{id} ──> intake ──> status (+ presigned GET URL of the verified version)

Who may call: with `jwt` (the stack's identity block), both routes need a token from that issuer
and audience (a JWT authorizer: API Gateway answers 401 without one), the intake function records
the caller's `sub` with the upload and shows a record only to whoever uploaded it. Without `jwt`
(dev) the API is open (docs/adr/0015-api-authentication-and-presigned-post.md).

What AWS needs and mocks never check:
- S3 invokes the processor only if the function's resource policy allows s3.amazonaws.com for
  this bucket *and* account (bucket names are global, so the account pins the owner); S3 also
  refuses the notification configuration until that permission exists, hence the dependency.
- API Gateway needs a permission per route whose source ARN is the API's execution ARN plus
  `/<stage>/<METHOD>/<path>`; a wrong ARN fails only when the route is called.
- New buckets have ACLs disabled; setting an ACL fails. Ownership is enforced explicitly instead.
- HTTP APIs end an integration after 30 s, so the intake function's timeout stays below that
  (validated in the config schema).
- S3 invokes the processor asynchronously: after Lambda's retries the event would be dropped and
  the upload stay PENDING, so failures go to the processor's on-failure queue (alarmed).
- Without `s3:ListBucket` S3 answers a missing object with 403, indistinguishable from a
  permission problem; with it (scoped to the upload prefix) a missing object is a 404 the
  processor rejects instead of retrying.
- A presigned PUT cannot bound the object's size; the presigned POST's policy can, and S3
  enforces it (`content-length-range`, exact key and content type).
- HTTP APIs cannot be associated with a WAF web ACL (only REST APIs, ALBs, CloudFront...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components import buckets, policies
from components.functions import FunctionSettings, PythonFunction, PythonFunctionArgs
from components.identity import JwtSettings
from components.naming import caller_account, log_group_prefix, name_tag
from components.observability import HttpStage, Monitored
from components.schema import ApiThrottling, FunctionSize
from components.serverless.config import HTTP_API_INTEGRATION_TIMEOUT_S, UploadLifecycle

if TYPE_CHECKING:
    from components.config import StackConfig

METRICS_NAMESPACE = "aws-patterns/serverless"
# The routes the intake function serves: (method, path) as API Gateway spells them.
ROUTES = (("POST", "/uploads"), ("GET", "/uploads/{id}"))
# Where API Gateway finds the caller's token for the JWT authorizer.
JWT_IDENTITY_SOURCE = "$request.header.Authorization"
# What API Gateway records for each request (HTTP API context variables).
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "caller": "$context.authorizer.claims.sub",
        "integrationError": "$context.integrationErrorMessage",
        "error": "$context.error.message",
    }
)


def route_source_arn(execution_arn: pulumi.Input[str], method: str, path: str) -> pulumi.Output[str]:
    """The source ARN API Gateway presents when `method path` invokes a function, any stage.

    Path parameters become `*`, which matches both the route's template and the request path.
    """
    arn_path = "/".join("*" if part.startswith("{") else part for part in path.split("/"))
    return pulumi.Output.concat(execution_arn, "/*/", method, arn_path)


@dataclass(frozen=True)
class ServerlessArgs:
    settings: FunctionSettings
    allowed_content_types: tuple[str, ...]
    max_upload_bytes: int
    presigned_url_expiry_seconds: int
    upload_prefix: str
    record_ttl_days: int
    cors_origins: tuple[str, ...]
    lifecycle: UploadLifecycle
    throttling: ApiThrottling
    intake: FunctionSize
    processor: FunctionSize
    log_retention_days: int = 7
    protect: bool = False
    deletion_protection: bool = False
    # The stack's JWT issuer (components/identity.py); None: the API takes anonymous callers.
    jwt: JwtSettings | None = field(default=None, compare=False)
    # The stack's server-access-log bucket (components/access_logs.py); None: no access logs.
    access_logs_bucket: aws.s3.Bucket | None = field(default=None, compare=False)

    @classmethod
    def from_config(
        cls, cfg: StackConfig, jwt: JwtSettings | None = None, access_logs_bucket: aws.s3.Bucket | None = None
    ) -> ServerlessArgs:
        sl = cfg.serverless
        return cls(
            settings=FunctionSettings.from_config(cfg),
            allowed_content_types=tuple(sl.allowed_content_types),
            max_upload_bytes=sl.max_upload_bytes,
            presigned_url_expiry_seconds=sl.presigned_url_expiry_seconds,
            upload_prefix=sl.upload_prefix,
            record_ttl_days=sl.record_ttl_days,
            cors_origins=tuple(sl.cors_origins),
            lifecycle=sl.lifecycle,
            throttling=sl.throttling,
            intake=sl.intake,
            processor=sl.processor,
            log_retention_days=cfg.common.log_retention_days,
            protect=cfg.common.protect_stateful_resources,
            deletion_protection=cfg.common.deletion_protection,
            jwt=jwt,
            access_logs_bucket=access_logs_bucket,
        )


class Serverless(pulumi.ComponentResource):
    """Upload bucket, records table, intake and processor functions, and the HTTP API."""

    bucket: aws.s3.Bucket
    table: aws.dynamodb.Table
    intake: PythonFunction
    processor: PythonFunction
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    routes: list[aws.apigatewayv2.Route]
    route_permissions: list[aws.lambda_.Permission]
    bucket_permission: aws.lambda_.Permission
    notification: aws.s3.BucketNotification
    authorizer: aws.apigatewayv2.Authorizer | None
    bucket_logging: aws.s3.BucketLogging | None
    api_url: pulumi.Output[str]

    def __init__(self, name: str, args: ServerlessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:serverless:Serverless", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        self.bucket = self._bucket(name, args, child, stateful)
        self.bucket_logging = (
            aws.s3.BucketLogging(
                f"{name}-uploads",
                bucket=self.bucket.id,
                target_bucket=args.access_logs_bucket.id,
                target_prefix=f"{name}/uploads/",
                opts=child,
            )
            if args.access_logs_bucket is not None
            else None
        )
        uploads_arn = pulumi.Output.concat(self.bucket.arn, "/", args.upload_prefix, "*")
        self.table = aws.dynamodb.Table(
            f"{name}-uploads",
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            # Records carry their own expiry (epoch seconds); DynamoDB deletes them for free.
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expiresAt", enabled=True),
            # The AWS-managed key (aws/dynamodb): its use shows in CloudTrail, no key policy to
            # manage, no extra grants for the functions.
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            tags=name_tag(name, "uploads"),
            opts=stateful,
        )
        common_env = {
            "TABLE_NAME": self.table.name,
            "UPLOAD_PREFIX": args.upload_prefix,
            "ALLOWED_CONTENT_TYPES": ",".join(args.allowed_content_types),
            "MAX_UPLOAD_BYTES": str(args.max_upload_bytes),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }

        self.intake = PythonFunction(
            f"{name}-intake",
            PythonFunctionArgs(
                code_dir="uploads_intake",
                settings=args.settings,
                memory_mb=args.intake.memory_mb,
                timeout_s=args.intake.timeout_seconds,
                description="HTTP API: create upload records with presigned POST forms, report status",
                environment={
                    **common_env,
                    "BUCKET_NAME": self.bucket.bucket,
                    "URL_EXPIRY_SECONDS": str(args.presigned_url_expiry_seconds),
                    "RECORD_TTL_DAYS": str(args.record_ttl_days),
                    # Defence in depth behind the authorizer: no caller identity, no record.
                    "REQUIRE_AUTHENTICATED_CALLER": "true" if args.jwt is not None else "false",
                },
                statements=[
                    {
                        "Sid": "Records",
                        "Effect": "Allow",
                        "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
                        "Resource": self.table.arn,
                    },
                    {
                        # A presigned request carries the signer's rights: POST (s3:PutObject) to
                        # upload, GET (of a version) to download. Nothing outside the upload prefix.
                        "Sid": "PresignUnderPrefix",
                        "Effect": "Allow",
                        "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
                        "Resource": uploads_arn,
                    },
                ],
            ),
            opts=child,
        )
        self.processor = PythonFunction(
            f"{name}-processor",
            PythonFunctionArgs(
                code_dir="uploads_processor",
                settings=args.settings,
                memory_mb=args.processor.memory_mb,
                timeout_s=args.processor.timeout_seconds,
                description="S3 ObjectCreated: verify the upload and mark its record READY or REJECTED",
                environment=common_env,
                statements=[
                    {
                        "Sid": "Records",
                        "Effect": "Allow",
                        "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                        "Resource": self.table.arn,
                    },
                    {
                        "Sid": "ReadUploads",
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                        "Resource": uploads_arn,
                    },
                    {
                        # What it rejects is deleted, version by version; only under the prefix.
                        "Sid": "DeleteRejectedUploads",
                        "Effect": "Allow",
                        "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                        "Resource": uploads_arn,
                    },
                    {
                        # S3 answers a missing object 404 (not 403) only to a caller that may list
                        # it; S3 evaluates s3:prefix against the requested key.
                        "Sid": "TellMissingFromForbidden",
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": self.bucket.arn,
                        "Condition": {"StringLike": {"s3:prefix": [f"{args.upload_prefix}*"]}},
                    },
                ],
                asynchronous=True,
            ),
            opts=child,
        )

        account = caller_account(self)
        self.bucket_permission = aws.lambda_.Permission(
            f"{name}-processor-s3",
            action="lambda:InvokeFunction",
            function=self.processor.function.name,
            principal="s3.amazonaws.com",
            source_arn=self.bucket.arn,
            # Bucket names are global: without the account a same-named bucket elsewhere could invoke.
            source_account=account,
            opts=child,
        )
        self.notification = aws.s3.BucketNotification(
            f"{name}-uploads",
            bucket=self.bucket.id,
            lambda_functions=[
                aws.s3.BucketNotificationLambdaFunctionArgs(
                    lambda_function_arn=self.processor.function.arn,
                    events=["s3:ObjectCreated:*"],
                    filter_prefix=args.upload_prefix,
                )
            ],
            # S3 validates the destination when the configuration is saved; no event is sent
            # before failed ones have somewhere to go.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.bucket_permission, self.processor.invoke_config]),
        )

        self._api(name, args, child)
        self.register_outputs({"apiUrl": self.api_url, "bucketName": self.bucket.bucket, "tableName": self.table.name})

    def monitored(self) -> Monitored:
        """What of this pattern gets alarms and a dashboard section (components/observability.py)."""
        failures = self.processor.failure_queue
        assert failures is not None, "the processor is invoked asynchronously"
        return Monitored(
            "Serverless",
            functions={"intake": self.intake.function, "processor": self.processor.function},
            http_stages={"api": HttpStage(self.api, self.stage)},
            dead_letter_queues={"processor-failures": failures},
            tables={"uploads": self.table},
        )

    def _bucket(
        self, name: str, args: ServerlessArgs, child: pulumi.ResourceOptions, stateful: pulumi.ResourceOptions
    ) -> aws.s3.Bucket:
        bucket = aws.s3.Bucket(
            f"{name}-uploads",
            # Unprotected stacks (dev) can be destroyed with their uploads; protected ones cannot.
            force_destroy=not args.protect,
            tags=name_tag(name, "uploads"),
            opts=stateful,
        )
        public_access = buckets.lock_down(f"{name}-uploads", bucket, child).public_access
        # Versioning lets the API hand out the exact version the processor verified, even if a
        # client uploads again with a still-valid form.
        aws.s3.BucketVersioning(
            f"{name}-uploads",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-uploads", bucket=bucket.id, rules=_lifecycle_rules(args), opts=child
        )
        if args.cors_origins:
            aws.s3.BucketCorsConfiguration(
                f"{name}-uploads",
                bucket=bucket.id,
                cors_rules=[
                    aws.s3.BucketCorsConfigurationCorsRuleArgs(
                        allowed_origins=list(args.cors_origins),
                        # POST: the upload form; GET: the download URL.
                        allowed_methods=["POST", "GET"],
                        allowed_headers=["content-type"],
                        expose_headers=["ETag"],
                        max_age_seconds=3600,
                    )
                ],
                opts=child,
            )
        aws.s3.BucketPolicy(
            f"{name}-uploads",
            bucket=bucket.id,
            policy=policies.document([policies.tls_only([bucket.arn, pulumi.Output.concat(bucket.arn, "/*")], "s3:*")]),
            # S3 refuses concurrent changes to a bucket's access settings.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        return bucket

    def _api(self, name: str, args: ServerlessArgs, child: pulumi.ResourceOptions) -> None:
        cors = (
            aws.apigatewayv2.ApiCorsConfigurationArgs(
                allow_origins=list(args.cors_origins),
                allow_methods=sorted({method for method, _ in ROUTES}),
                # The token travels in Authorization; API Gateway answers preflights itself.
                allow_headers=["authorization", "content-type"],
                max_age=3600,
            )
            if args.cors_origins
            else None
        )
        self.api = aws.apigatewayv2.Api(
            name,
            protocol_type="HTTP",
            description="Upload intake: presigned upload URLs and upload status",
            cors_configuration=cors,
            tags=name_tag(name),
            opts=child,
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-api-access",
            name_prefix=log_group_prefix("apigateway", name),
            retention_in_days=args.log_retention_days,
            tags=name_tag(name, "api-access"),
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-intake",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_uri=self.intake.function.arn,
            # Lambda is always invoked with POST, whatever the route's method.
            integration_method="POST",
            payload_format_version="2.0",
            timeout_milliseconds=HTTP_API_INTEGRATION_TIMEOUT_S * 1000,
            opts=child,
        )
        self.authorizer = None
        if args.jwt is not None:
            # API Gateway checks the token's signature (the issuer's JWKS), issuer, audience and
            # expiry before the function runs, and answers 401 itself.
            self.authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=self.api.id,
                name=f"{name}-jwt",
                authorizer_type="JWT",
                identity_sources=[JWT_IDENTITY_SOURCE],
                jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                    issuer=args.jwt.issuer, audiences=args.jwt.audience
                ),
                opts=child,
            )
        self.routes, self.route_permissions = [], []
        for method, path in ROUTES:
            slug = f"{method.lower()}-{path.strip('/').replace('/', '-').replace('{', '').replace('}', '')}"
            self.routes.append(
                aws.apigatewayv2.Route(
                    f"{name}-{slug}",
                    api_id=self.api.id,
                    route_key=f"{method} {path}",
                    target=pulumi.Output.concat("integrations/", integration.id),
                    # Both routes: an upload's record and its download URL are its uploader's only.
                    authorization_type="JWT" if self.authorizer is not None else "NONE",
                    authorizer_id=self.authorizer.id if self.authorizer is not None else None,
                    opts=child,
                )
            )
            self.route_permissions.append(
                aws.lambda_.Permission(
                    f"{name}-{slug}",
                    action="lambda:InvokeFunction",
                    function=self.intake.function.name,
                    principal="apigateway.amazonaws.com",
                    source_arn=route_source_arn(self.api.execution_arn, method, path),
                    opts=child,
                )
            )
        # The $default stage with auto-deploy publishes every route change; no Deployment
        # resource to order against routes or to re-trigger.
        self.stage = aws.apigatewayv2.Stage(
            name,
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=args.throttling.burst_limit,
                throttling_rate_limit=args.throttling.rate_limit,
            ),
            tags=name_tag(name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.routes),
        )
        self.api_url = self.stage.invoke_url


def _lifecycle_rules(args: ServerlessArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    lc = args.lifecycle
    uploads = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=args.upload_prefix)
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="uploads",
            status="Enabled",
            filter=uploads,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=lc.abort_incomplete_multipart_upload_days
            ),
            transitions=(
                [
                    aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                        days=lc.transition_to_infrequent_access_days, storage_class="STANDARD_IA"
                    )
                ]
                if lc.transition_to_infrequent_access_days is not None
                else None
            ),
            expiration=(
                aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=lc.expiration_days)
                if lc.expiration_days is not None
                else None
            ),
            # Versioning keeps overwritten and expired objects as noncurrent versions.
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=lc.noncurrent_version_expiration_days
            ),
        ),
        # Once every version is gone the lone delete marker is removed too.
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="delete-markers",
            status="Enabled",
            filter=uploads,
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
        ),
    ]
    return rules
