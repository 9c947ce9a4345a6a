"""The stack's identity (components/identity.py): the user pool and client, or an external issuer,
and the JwtSettings the patterns get, asserted on what is registered, in both modes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.config import ConfigError, StackConfig, validate
from components.identity import AUTH_FLOWS, Identity, IdentityArgs, JwtSettings
from tests.conftest import run_with
from tools.offline import UNKNOWN, Registered, Run, encode_config, run_program, stack_config, wired
from tools.offline import _resolve as resolve

POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
OIDC = {"issuer": "https://login.example.com/", "audiences": ["api://orders"], "jwksUri": "https://keys.example.com/k"}


def _cfg(environment: str = "prod", **identity: Any) -> StackConfig:
    return validate({"environment": environment, "serverless": {"enabled": True}, "identity": identity}, "eu-west-1")


def _run(cfg: StackConfig, preview: bool, captured: list[Identity] | None = None) -> Run:
    def program() -> None:
        identity = Identity("identity", IdentityArgs.from_config(cfg))
        if captured is not None:
            captured.append(identity)

    return run_program("prod", preview, program=program)


@pytest.fixture(params=[True, False], ids=["preview", "up"])
def run(request: pytest.FixtureRequest) -> Run:
    return _run(_cfg(), request.param)


def _only(run: Run, type_: str) -> Registered:
    (res,) = run.by_type(type_)
    return res


# --- Cognito ---------------------------------------------------------------------------------


def test_user_pool_signs_in_by_verified_email_with_a_strong_password(run: Run) -> None:
    pool = _only(run, POOL).inputs
    assert pool["usernameAttributes"] == ["email"] and pool["usernameConfiguration"] == {"caseSensitive": False}
    assert pool["autoVerifiedAttributes"] == ["email"]
    # A new address counts only once verified: no takeover by switching to someone else's address.
    assert pool["userAttributeUpdateSettings"] == {"attributesRequireVerificationBeforeUpdates": ["email"]}
    assert pool["accountRecoverySetting"] == {"recoveryMechanisms": [{"name": "verified_email", "priority": 1}]}
    policy = pool["passwordPolicy"]
    assert policy["minimumLength"] >= 12 and policy["temporaryPasswordValidityDays"] <= 7
    assert all(policy[f"require{c}"] is True for c in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    assert "smsConfiguration" not in pool, "no SMS: TOTP is the only second factor"
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}


@pytest.mark.parametrize(
    ("environment", "mfa", "threat", "tier", "deletion", "protect"),
    [
        ("staging", "OPTIONAL", "AUDIT", "PLUS", "INACTIVE", True),
        ("prod", "ON", "ENFORCED", "PLUS", "ACTIVE", True),
    ],
)
def test_pool_hardening_follows_the_profile(
    environment: str, mfa: str, threat: str, tier: str, deletion: str, protect: bool
) -> None:
    pool = _only(_run(_cfg(environment), preview=False), POOL)
    assert pool.inputs["mfaConfiguration"] == mfa
    assert pool.inputs["userPoolAddOns"] == {"advancedSecurityMode": threat}
    assert pool.inputs["userPoolTier"] == tier
    assert pool.inputs["deletionProtection"] == deletion
    assert pool.protect is protect


def test_threat_protection_off_keeps_the_pool_on_essentials() -> None:
    pool = _only(_run(_cfg(cognito={"threatProtection": "off"}), preview=False), POOL).inputs
    assert pool["userPoolAddOns"] == {"advancedSecurityMode": "OFF"} and pool["userPoolTier"] == "ESSENTIALS"


def test_only_administrators_create_users_unless_self_sign_up_is_on() -> None:
    closed = _only(_run(_cfg(), preview=False), POOL).inputs
    assert closed["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    opened = _only(_run(_cfg(cognito={"selfSignUp": True}), preview=False), POOL).inputs
    assert opened["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is False


def test_app_client_is_public_with_srp_and_refresh_only(run: Run) -> None:
    pool, client = _only(run, POOL), _only(run, CLIENT)
    assert wired(client, "userPoolId", pool)
    inputs = client.inputs
    assert inputs["generateSecret"] is False, "a browser, mobile or CLI client cannot keep a secret"
    assert (
        sorted(inputs["explicitAuthFlows"]) == sorted(AUTH_FLOWS) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    )
    assert inputs["preventUserExistenceErrors"] == "ENABLED"
    assert inputs["enableTokenRevocation"] is True
    assert inputs["accessTokenValidity"] == inputs["idTokenValidity"] == 60
    assert inputs["tokenValidityUnits"] == {"accessToken": "minutes", "idToken": "minutes", "refreshToken": "days"}
    assert "allowedOauthFlows" not in inputs and "callbackUrls" not in inputs


def test_jwt_settings_name_this_pool_and_client() -> None:
    captured: list[Identity] = []
    run = _run(_cfg(), preview=False, captured=captured)
    (identity,) = captured
    pool, client = _only(run, POOL), _only(run, CLIENT)
    # The pool's endpoint is cognito-idp.<region>.<dns suffix>/<pool id>, the issuer without its scheme.
    issuer = f"https://{pool.outputs['endpoint']}"
    assert resolve(identity.jwt.issuer) == issuer
    assert resolve(identity.jwt.audience) == [client.id]
    assert resolve(identity.jwt.jwks_uri) == f"{issuer}/.well-known/jwks.json"


def test_jwt_settings_are_unknown_during_a_preview() -> None:
    captured: list[Identity] = []
    _run(_cfg(), preview=True, captured=captured)
    assert resolve(captured[0].jwt.issuer) == UNKNOWN


# --- external OIDC issuer ---------------------------------------------------------------------


def test_oidc_creates_nothing_and_trusts_the_configured_issuer_verbatim() -> None:
    captured: list[Identity] = []
    run = _run(_cfg(provider="oidc", oidc=OIDC), preview=False, captured=captured)
    assert run.aws_resources == []
    assert captured[0].jwt == JwtSettings(
        issuer="https://login.example.com/", audience=["api://orders"], jwks_uri="https://keys.example.com/k"
    ), "the trailing slash stays: the iss claim is compared byte for byte"


# --- the stack -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "overrides", "built"),
    [
        ("dev", {}, False),  # provider none: dev's APIs are open
        ("staging", {}, True),
        ("prod", {}, True),
        ("dev", {"identity": {"provider": "cognito"}}, True),
        # A provider but no pattern that authenticates callers with JWTs: nothing to build.
        ("prod", {"serverless": {"enabled": False}, "multiTier": {"enabled": False}}, False),
    ],
)
def test_identity_is_built_only_when_a_pattern_uses_it(stack: str, overrides: dict[str, Any], built: bool) -> None:
    run = run_with(stack, overrides)
    assert bool(run.by_type("aws-patterns:identity:Identity")) is built
    assert ("identity" in run.outputs) is built


def test_prod_exports_issuer_client_and_pool() -> None:
    run = run_with("prod", {})
    pool, client = _only(run, POOL), _only(run, CLIENT)
    exported = run.outputs["identity"]
    assert exported["provider"] == "cognito"
    assert exported["issuer"] == f"https://{pool.outputs['endpoint']}"
    assert exported["audiences"] == [client.id] and exported["clientId"] == client.id
    assert exported["userPoolId"] == pool.id
    assert exported["jwksUri"] == exported["issuer"] + "/.well-known/jwks.json"


# --- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "key", "message"),
    [
        ({"provider": "oidc"}, "identity.oidc.issuer", "required when identity.provider is oidc"),
        ({"provider": "oidc", "oidc": {**OIDC, "audiences": []}}, "identity.oidc.audiences", "required"),
        ({"provider": "oidc", "oidc": {**OIDC, "jwksUri": None}}, "identity.oidc.jwksUri", "required"),
        ({"oidc": {"issuer": "https://login.example.com"}}, "identity.oidc.issuer", "only used with"),
        ({"provider": "oidc", "oidc": {**OIDC, "issuer": "http://login.example.com"}}, "identity.oidc.issuer", "https"),
        (
            {
                "provider": "oidc",
                "oidc": {**OIDC, "issuer": "https://login.example.com/.well-known/openid-configuration"},
            },
            "identity.oidc.issuer",
            "did you mean https://login.example.com?",
        ),
        (
            {"provider": "oidc", "oidc": {**OIDC, "issuer": "https://login.example.com/?tenant=a"}},
            "identity.oidc.issuer",
            "query",
        ),
        (
            {"provider": "oidc", "oidc": {**OIDC, "issuer": "https://user:pw@login.example.com"}},
            "identity.oidc.issuer",
            "password",
        ),
        ({"provider": "oidc", "oidc": {**OIDC, "audiences": ["a", "a"]}}, "identity.oidc.audiences", "twice"),
        ({"provider": "oidc", "oidc": {**OIDC, "audiences": ["has space"]}}, "identity.oidc.audiences", ""),
        (
            {"provider": "oidc", "oidc": {**OIDC, "jwksUri": "https://keys.example.com/k#frag"}},
            "identity.oidc.jwksUri",
            "fragment",
        ),
        ({"provider": "ldap"}, "identity.provider", ""),
        ({"cognito": {"mfa": "off"}}, "identity.cognito.mfa", ""),
        ({"cognito": {"threatProtection": "block"}}, "identity.cognito.threatProtection", ""),
    ],
)
def test_bad_identity_config_is_refused_naming_the_key(identity: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"aws-patterns:{key}") + r"(\[0\])?: .*" + re.escape(message)):
        validate({"environment": "prod", "identity": identity}, "us-east-1")


def test_a_bad_identity_registers_nothing() -> None:
    monitors: list = []
    config = {**stack_config("prod"), **encode_config({"identity": {"provider": "oidc"}})}
    with pytest.raises(ConfigError, match=r"aws-patterns:identity\.oidc\.issuer: required"):
        run_program("prod", preview=True, config=config, monitors=monitors)
    assert [req.type for req, _ in monitors[0].requests if req.type != "pulumi:pulumi:Stack"] == []


def test_main_hands_the_stack_pieces_to_the_patterns_that_use_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """__main__ passes identity, web ACL and log bucket through the contract's keyword parameters."""
    from components.microservices import MicroservicesArgs
    from components.multi_tier import MultiTierArgs
    from components.serverless import ServerlessArgs

    received: dict[str, dict[str, Any]] = {}
    for name, args in (
        ("microservices", MicroservicesArgs),
        ("serverless", ServerlessArgs),
        ("multiTier", MultiTierArgs),
    ):
        original = args.from_config.__func__  # type: ignore[attr-defined]

        def record(cls: type, *positional: Any, _name: str = name, _original: Any = original, **keywords: Any) -> Any:
            received[_name] = keywords
            return _original(cls, *positional, **keywords)

        monkeypatch.setattr(args, "from_config", classmethod(record))
    run = run_program("prod", preview=False)
    exported = run.outputs
    jwt = {p: resolve(received[p]["jwt"]) for p in ("serverless", "multiTier")}
    for settings in jwt.values():
        assert resolve(settings.issuer) == exported["identity"]["issuer"]
        assert resolve(settings.audience) == exported["identity"]["audiences"]
        assert resolve(settings.jwks_uri) == exported["identity"]["jwksUri"]
    for pattern in ("microservices", "multiTier"):
        assert resolve(received[pattern]["web_acl_arn"]) == exported["waf"]["webAclArn"]
    for pattern in ("serverless", "multiTier"):
        assert resolve(received[pattern]["access_logs_bucket"].bucket) == exported["accessLogs"]["bucketName"]
    assert received["microservices"]["event_bus"] is not None, "the event bus still reaches the orders service"
