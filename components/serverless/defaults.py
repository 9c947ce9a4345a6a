"""The `serverless` block's defaults per environment profile."""

from __future__ import annotations

# The upload pipeline. Upload records live as long as their objects (recordTtlDays equals the
# lifecycle's expirationDays); browsers may upload only from the origins listed (none outside
# dev until a stack names its front end).
_SERVERLESS = {
    "enabled": False,
    "allowedContentTypes": ["image/png", "image/jpeg", "application/pdf"],
    "uploadPrefix": "uploads/",
    "presignedUrlExpirySeconds": 900,
    "intake": {"memoryMb": 256, "timeoutSeconds": 10},
}
DEFAULTS = {
    "dev": {
        **_SERVERLESS,
        "maxUploadBytes": 10 * 1024**2,
        "recordTtlDays": 30,
        "corsOrigins": ["http://localhost:3000"],
        "lifecycle": {
            "abortIncompleteMultipartUploadDays": 1,
            "transitionToInfrequentAccessDays": None,
            "expirationDays": 30,
            "noncurrentVersionExpirationDays": 1,
        },
        "throttling": {"burstLimit": 20, "rateLimit": 10},
        "processor": {"memoryMb": 512, "timeoutSeconds": 60},
    },
    "staging": {
        **_SERVERLESS,
        "maxUploadBytes": 25 * 1024**2,
        "recordTtlDays": 90,
        "corsOrigins": [],
        "lifecycle": {
            "abortIncompleteMultipartUploadDays": 3,
            "transitionToInfrequentAccessDays": 30,
            "expirationDays": 90,
            "noncurrentVersionExpirationDays": 7,
        },
        "throttling": {"burstLimit": 50, "rateLimit": 25},
        "processor": {"memoryMb": 1024, "timeoutSeconds": 120},
    },
    "prod": {
        **_SERVERLESS,
        "maxUploadBytes": 25 * 1024**2,
        "recordTtlDays": 365,
        "corsOrigins": [],
        "lifecycle": {
            "abortIncompleteMultipartUploadDays": 7,
            "transitionToInfrequentAccessDays": 90,
            "expirationDays": 365,
            "noncurrentVersionExpirationDays": 30,
        },
        "throttling": {"burstLimit": 200, "rateLimit": 100},
        "processor": {"memoryMb": 1024, "timeoutSeconds": 120},
    },
}
