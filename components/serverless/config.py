"""The `serverless` config block: the upload pipeline's schema."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from components.schema import CROSS_FIELD, ApiThrottling, FunctionSize, Model, unique

# Largest object one presigned POST can create (S3's limit for a single upload, 5 GiB).
S3_MAX_UPLOAD_BYTES = 5 * 1024**3
# HTTP APIs end an integration after 30 s; the intake function must answer before that.
HTTP_API_INTEGRATION_TIMEOUT_S = 30
_MIME_TYPE = r"^[a-z]+/[a-z0-9][a-z0-9.+-]*$"
# Exact origins only (no wildcard, no path); plain http only for a developer's own machine.
_ORIGIN = r"^(https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?|http://(localhost|127\.0\.0\.1))(:\d{1,5})?$"


class UploadLifecycle(Model):
    """S3 lifecycle of the upload bucket (days counted from the object's creation)."""

    abort_incomplete_multipart_upload_days: int = Field(ge=1)
    """Days after which S3 discards unfinished multipart uploads."""
    # S3 refuses a transition to STANDARD_IA earlier than 30 days after creation.
    transition_to_infrequent_access_days: int | None = Field(ge=30)
    """Days after which objects move to STANDARD_IA (at least 30, S3's minimum); `null`: never."""
    expiration_days: int | None = Field(ge=1)
    """Days after which objects expire (later than the transition); `null`: never."""
    noncurrent_version_expiration_days: int = Field(ge=1)
    """Days overwritten (noncurrent) versions are kept."""

    @model_validator(mode="after")
    def _expire_after_transition(self) -> UploadLifecycle:
        moved, expired = self.transition_to_infrequent_access_days, self.expiration_days
        if moved is not None and expired is not None and expired <= moved:
            raise ValueError(
                f"{CROSS_FIELD}expirationDays: {expired} must be later than "
                f"transitionToInfrequentAccessDays ({moved}); S3 rejects the rule otherwise"
            )
        return self


class ServerlessConfig(Model):
    """The upload pipeline: HTTP API + Lambda + DynamoDB + S3 (components/serverless/component.py)."""

    enabled: bool
    """Build the serverless upload pipeline: HTTP API, intake and processor functions, DynamoDB records table, S3
    upload bucket."""
    allowed_content_types: Annotated[
        list[Annotated[str, Field(pattern=_MIME_TYPE)]], Field(min_length=1), AfterValidator(unique)
    ]
    """MIME types clients may upload (lower case `type/subtype`); checked when the upload is requested and again on
    the stored object."""
    max_upload_bytes: int = Field(ge=1, le=S3_MAX_UPLOAD_BYTES)
    """Largest declared file size accepted, in bytes, up to 5 GiB (S3's single-PUT limit)."""
    # A URL signed with the function's temporary credentials dies with them; an hour is safe.
    presigned_url_expiry_seconds: int = Field(ge=60, le=3600)
    """Lifetime of the presigned upload and download URLs; they are signed with the function's temporary credentials,
    which may not outlive an hour."""
    upload_prefix: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*/$", max_length=100)
    """Key prefix of every upload, e.g. `uploads/`: lower-case segments ending in `/`; the notification filter and
    both functions' S3 permissions are scoped to it."""
    record_ttl_days: int = Field(ge=1, le=3650)
    """Days an upload record lives (DynamoDB TTL); not longer than `lifecycle.expirationDays`."""
    cors_origins: Annotated[list[Annotated[str, Field(pattern=_ORIGIN)]], AfterValidator(unique)]
    """Exact browser origins allowed to call the API and PUT/GET on the bucket (`https://host[:port]`; `http://` only
    for `localhost` and `127.0.0.1`; no `*`, no path); empty: no CORS at all."""
    lifecycle: UploadLifecycle
    """S3 lifecycle of the upload bucket (days counted from each object's creation)."""
    throttling: ApiThrottling
    """Throttling of the HTTP API's stage."""
    intake: FunctionSize
    """The API function; its timeout must stay below 30 s, the HTTP API's integration timeout."""
    processor: FunctionSize
    """The S3-triggered function that verifies each upload (it reads the whole object to hash it)."""

    @model_validator(mode="after")
    def _limits(self) -> ServerlessConfig:
        if self.intake.timeout_seconds >= HTTP_API_INTEGRATION_TIMEOUT_S:
            raise ValueError(
                f"{CROSS_FIELD}intake.timeoutSeconds: {self.intake.timeout_seconds} must be below "
                f"{HTTP_API_INTEGRATION_TIMEOUT_S}, the HTTP API's integration timeout"
            )
        expires = self.lifecycle.expiration_days
        if expires is not None and self.record_ttl_days > expires:
            raise ValueError(
                f"{CROSS_FIELD}recordTtlDays: {self.record_ttl_days} outlives the objects "
                f"(lifecycle.expirationDays is {expires}); a READY record would point at a deleted object"
            )
        return self
