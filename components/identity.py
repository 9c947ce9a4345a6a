"""Who may call the stack's APIs: the JWT issuer and audiences the patterns trust.

`Identity` is built from the `aws-patterns:identity` block when a pattern that authenticates
callers with JWTs (serverless, multi-tier) is enabled, and hands them a `JwtSettings`:

- `cognito`: the stack creates a Cognito user pool and one public app client, and trusts their
  tokens (issuer `https://cognito-idp.<region>.amazonaws.com/<pool id>`, audience the client id);
- `oidc`: the stack trusts an external OpenID Connect issuer from config and creates nothing;
- `none` (dev): no component at all; the patterns get `jwt=None` and stay open.

Why the pool is set up the way it is (ADR 0017):
- Sign-in names are email addresses, compared case-insensitively, verified before they count;
  changing one keeps the old address until the new one is verified, so a session cannot take
  over an account by switching its address to one the holder does not own.
- MFA is TOTP only: SMS needs an SNS role, a registered origination number and a way out of the
  SMS sandbox, and is the weaker factor anyway. Prod requires it, staging offers it.
- Threat protection (adaptive authentication, compromised-credential checks) needs the Plus
  feature plan; the plan follows the setting, so a pool without it stays on Essentials.
- The app client has no secret (a browser, mobile or CLI client cannot keep one) and allows
  only SRP sign-in and refresh tokens: the password never leaves the client, and no flow sends
  it in clear to Cognito (`USER_PASSWORD_AUTH`) or needs admin credentials. It says "incorrect
  user name or password" whether or not the user exists, and revoking a refresh token revokes
  the access tokens issued from it.
- The pool holds the users: deletion protection follows `common.deletionProtection` and Pulumi
  `protect` follows `common.protectStatefulResources`, like the databases.
- Cognito's built-in email sender has a small daily quota; a prod pool with many users needs an
  SES identity (docs/deploying.md#before-the-first-pulumi-up, the prod checklist).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.naming import name_tag

if TYPE_CHECKING:
    from components.config import StackConfig

# Cognito's default lifetimes, stated so a change is a reviewed diff: access and ID tokens for an
# hour, a refresh token a user renews by signing in again monthly.
ACCESS_TOKEN_MINUTES = 60
REFRESH_TOKEN_DAYS = 30
# A stronger baseline than Security Hub's Cognito.3 (8 characters, every character class).
PASSWORD_MIN_LENGTH = 12
TEMPORARY_PASSWORD_DAYS = 3
# SRP sign-in and refresh only (see the module docstring).
AUTH_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class JwtSettings:
    """An OIDC issuer whose tokens the patterns accept (a Cognito user pool or an external IdP).

    `issuer` is the `iss` claim tokens must carry (for Cognito `https://cognito-idp.<region>.
    amazonaws.com/<pool id>`), `audience` the client ids (`aud`/`client_id`) accepted, and
    `jwks_uri` where the issuer publishes its signing keys.
    """

    issuer: pulumi.Input[str]
    audience: list[pulumi.Input[str]]
    jwks_uri: pulumi.Input[str]


@dataclass(frozen=True)
class CognitoArgs:
    mfa: str = "required"  # "optional" | "required"
    threat_protection: str = "enforced"  # "off" | "audit" | "enforced"
    self_sign_up: bool = False
    deletion_protection: bool = False
    protect: bool = False


@dataclass(frozen=True)
class OidcArgs:
    issuer: str
    audiences: tuple[str, ...]
    jwks_uri: str


@dataclass(frozen=True)
class IdentityArgs:
    """Exactly one of `cognito` (the stack creates the pool) or `oidc` (an external issuer)."""

    cognito: CognitoArgs | None = None
    oidc: OidcArgs | None = None

    def __post_init__(self) -> None:
        if (self.cognito is None) == (self.oidc is None):
            raise ValueError("IdentityArgs: give exactly one of cognito or oidc")

    @classmethod
    def from_config(cls, cfg: StackConfig) -> IdentityArgs:
        block = cfg.identity
        if block.provider == "cognito":
            return cls(
                cognito=CognitoArgs(
                    mfa=block.cognito.mfa,
                    threat_protection=block.cognito.threat_protection,
                    self_sign_up=block.cognito.self_sign_up,
                    deletion_protection=cfg.common.deletion_protection,
                    protect=cfg.common.protect_stateful_resources,
                )
            )
        if block.provider == "oidc":
            oidc = block.oidc
            assert oidc.issuer and oidc.jwks_uri  # the schema requires them with provider oidc
            return cls(oidc=OidcArgs(issuer=oidc.issuer, audiences=tuple(oidc.audiences), jwks_uri=oidc.jwks_uri))
        raise ValueError("identity.provider is none: there is no identity to build")


def uses_identity(cfg: StackConfig) -> bool:
    """Whether the stack builds `Identity`: a provider is set and a pattern authenticates with JWTs."""
    return cfg.identity.provider != "none" and (cfg.serverless.enabled or cfg.multi_tier.enabled)


class Identity(pulumi.ComponentResource):
    """The stack's JWT issuer: a Cognito user pool and app client, or an external OIDC issuer."""

    user_pool: aws.cognito.UserPool | None
    client: aws.cognito.UserPoolClient | None
    jwt: JwtSettings

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("aws-patterns:identity:Identity", name, None, opts)
        self.user_pool = self.client = None
        if args.cognito is not None:
            self.user_pool, self.client = self._cognito(name, args.cognito)
            # The pool's endpoint is `cognito-idp.<region>.<dns suffix>/<pool id>`, the issuer's
            # host and path in every partition.
            issuer = pulumi.Output.concat("https://", self.user_pool.endpoint)
            self.jwt = JwtSettings(
                issuer=issuer, audience=[self.client.id], jwks_uri=pulumi.Output.concat(issuer, JWKS_PATH)
            )
        else:
            assert args.oidc is not None
            self.jwt = JwtSettings(
                issuer=args.oidc.issuer, audience=list(args.oidc.audiences), jwks_uri=args.oidc.jwks_uri
            )
        self.register_outputs(
            {
                "issuer": self.jwt.issuer,
                "audiences": self.jwt.audience,
                "jwksUri": self.jwt.jwks_uri,
                "userPoolId": self.user_pool.id if self.user_pool else None,
            }
        )

    def _cognito(self, name: str, args: CognitoArgs) -> tuple[aws.cognito.UserPool, aws.cognito.UserPoolClient]:
        threat_mode = args.threat_protection.upper()
        pool = aws.cognito.UserPool(
            f"{name}-users",
            username_attributes=["email"],
            username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(case_sensitive=False),
            auto_verified_attributes=["email"],
            user_attribute_update_settings=aws.cognito.UserPoolUserAttributeUpdateSettingsArgs(
                attributes_require_verification_before_updates=["email"]
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
                allow_admin_create_user_only=not args.self_sign_up
            ),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=TEMPORARY_PASSWORD_DAYS,
            ),
            mfa_configuration="ON" if args.mfa == "required" else "OPTIONAL",
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            user_pool_tier="ESSENTIALS" if threat_mode == "OFF" else "PLUS",
            user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(advanced_security_mode=threat_mode),
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            tags=name_tag(name, "users"),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        client = aws.cognito.UserPoolClient(
            f"{name}-api",
            user_pool_id=pool.id,
            generate_secret=False,
            explicit_auth_flows=list(AUTH_FLOWS),
            supported_identity_providers=["COGNITO"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=ACCESS_TOKEN_MINUTES,
            id_token_validity=ACCESS_TOKEN_MINUTES,
            refresh_token_validity=REFRESH_TOKEN_DAYS,
            # Units of the validities above, not credentials.
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes",  # noqa: S106
                id_token="minutes",  # noqa: S106
                refresh_token="days",  # noqa: S106
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pool, client
