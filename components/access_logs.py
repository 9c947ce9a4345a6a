"""One S3 server-access-log bucket per stack, for the buckets the patterns own.

The patterns get the bucket as `access_logs_bucket` in their Args and create, for each bucket
of theirs that holds data or artifacts, an `aws.s3.BucketLogging` with
`target_bucket=access_logs_bucket.id` and `target_prefix=f"{component}/{purpose}/"`. Log buckets
themselves (this one, the ALB's) are not logged: their writers are AWS log services, and logging
a log bucket into a log bucket only moves the question (docs/adr/0017).

What AWS needs and mocks never check, guarded here:
- S3 delivers server access logs as the `logging.s3.amazonaws.com` service principal. With ACLs
  disabled (BucketOwnerEnforced, the default for new buckets and the only setting here) the old
  log-delivery-group ACL grant is impossible; the bucket policy grants `s3:PutObject` to that
  principal instead, only for source buckets of this account (`aws:SourceAccount`; `aws:SourceArn`
  limits it to S3 buckets, since the patterns' bucket names are not known before they exist).
- The destination's default encryption is SSE-S3, the one AWS documents for server-access-log
  destinations (it does not support default SSE-KMS there).
- No versioning and no Object Lock default retention (log delivery fails with it); the lifecycle
  rule expires logs after `accessLogs.expirationDays`.
- Like every stateful resource, the bucket is Pulumi-protected where the profile protects them
  (staging, prod), and cannot be destroyed with its logs in it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components import buckets, policies
from components.naming import caller_account, name_tag, partition

if TYPE_CHECKING:
    from components.config import StackConfig

# The service principal S3 server access logging writes as.
LOGGING_SERVICE = "logging.s3.amazonaws.com"


@dataclass(frozen=True)
class AccessLogsArgs:
    expiration_days: int = 90
    protect: bool = False

    @classmethod
    def from_config(cls, cfg: StackConfig) -> AccessLogsArgs:
        return cls(expiration_days=cfg.access_logs.expiration_days, protect=cfg.common.protect_stateful_resources)


def uses_access_logs(cfg: StackConfig) -> bool:
    """Whether the stack builds the log bucket: enabled, and a pattern with buckets to log is on."""
    return cfg.access_logs.enabled and (cfg.serverless.enabled or cfg.multi_tier.enabled)


class AccessLogs(pulumi.ComponentResource):
    """The stack's S3 server-access-log bucket: owner-enforced, private, SSE-S3, TLS only, expiring."""

    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy

    def __init__(self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:accessLogs:AccessLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            name,
            # Protected stacks keep their logs; unprotected ones (dev) can be destroyed with them.
            force_destroy=not args.protect,
            tags=name_tag(name),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        public_access = buckets.lock_down(name, self.bucket, child).public_access
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expiration_days),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                )
            ],
            opts=child,
        )
        account = caller_account(self)
        objects = pulumi.Output.concat(self.bucket.arn, "/*")
        self.policy = aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=policies.document(
                [
                    {
                        "Sid": "S3ServerAccessLogDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": LOGGING_SERVICE},
                        "Action": "s3:PutObject",
                        "Resource": objects,
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {"aws:SourceArn": pulumi.Output.concat("arn:", partition(self), ":s3:::*")},
                        },
                    },
                    policies.tls_only([self.bucket.arn, objects], "s3:*"),
                ]
            ),
            # S3 refuses a bucket policy while the public access block is being changed.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.register_outputs({"bucketName": self.bucket.bucket})
