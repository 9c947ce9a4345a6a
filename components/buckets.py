"""What every S3 bucket the program creates gets, whichever component owns it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Locked:
    """The resources that lock a bucket down; writers (and a bucket policy) wait for them."""

    ownership: aws.s3.BucketOwnershipControls
    public_access: aws.s3.BucketPublicAccessBlock
    encryption: aws.s3.BucketServerSideEncryptionConfiguration

    @property
    def all(self) -> list[pulumi.Resource]:
        return [self.ownership, self.public_access, self.encryption]


def lock_down(name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions) -> Locked:
    """ACLs disabled (the owner owns every object, whoever writes it; setting an ACL on a new
    bucket fails anyway), every kind of public access blocked, and SSE-S3 by default: presigned
    URLs and AWS's log delivery (S3 server access logs, ALB logs) work without KMS grants.
    """
    ownership = aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    sse = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
        sse_algorithm="AES256"
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(apply_server_side_encryption_by_default=sse)],
        opts=opts,
    )
    return Locked(ownership, public_access, encryption)
