"""Every key of a stack file is accounted for (components/config.py `validate_stack`).

`aws-patterns:*` keys are the stack schema's; `aws:*` keys must be settings the AWS provider
accepts (derived from the installed pulumi-aws, components/provider_config.py) and reach the
program's explicit provider, which does not read stack config by itself; `pulumi:*` keys are the
engine's. Anything else is an error that suggests the key most likely meant.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import pulumi._types as pulumi_types
import pulumi_aws
import pytest
from pulumi.runtime import rpc

from components.config import PULUMI_KEYS, ConfigError, validate_stack
from components.defaults import NAMESPACE
from components.provider_config import SETTINGS, Shape
from tools.offline import SecretConfigValue, run_cached, stack_config

GOOD = {"aws:region": "us-east-1", f"{NAMESPACE}:environment": "dev"}


def problems(values: dict[str, str]) -> list[str]:
    secret = [k for k, v in values.items() if isinstance(v, SecretConfigValue)]
    with pytest.raises(ConfigError) as info:
        validate_stack(values, secret)
    header, *lines = str(info.value).split("\n")
    assert header == "invalid stack configuration:"
    return [line.removeprefix("  ") for line in lines]


def only(values: dict[str, Any]) -> str:
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    (line,) = problems({**GOOD, **encoded})
    return line


def provider_inputs(extra: dict[str, str]) -> dict[str, Any]:
    run = run_cached("dev", preview=False, config={**stack_config("dev"), **extra})
    return run.one("pulumi:providers:aws", "aws").inputs


# --- the keys the provider accepts ------------------------------------------------------------------


def test_the_aws_keys_are_the_provider_s_own() -> None:
    # The same set, seen from the explicit provider's argument type rather than pulumi_aws.config.
    names = pulumi_types.input_type_py_to_pulumi_names(pulumi_aws.ProviderArgs)
    assert set(SETTINGS) == set(names.values())
    assert {s.argument: s.name for s in SETTINGS.values()} == names
    parameters = inspect.signature(pulumi_aws.Provider._internal_init).parameters
    assert all(s.argument in parameters for s in SETTINGS.values())


def test_shapes_and_secrets_come_from_the_package() -> None:
    assert SETTINGS["profile"].shape == Shape("string")
    assert SETTINGS["insecure"].shape == Shape("boolean")
    assert SETTINGS["maxRetries"].shape == Shape("integer")
    assert SETTINGS["allowedAccountIds"].shape == Shape("array", items=Shape("string"))
    assume = SETTINGS["assumeRoles"].shape
    assert assume.kind == "array" and assume.items is not None and assume.items.kind == "object"
    assert {"roleArn", "sessionName", "externalId"} <= {f.name for f in assume.items.fields}
    assert {k for k, s in SETTINGS.items() if s.secret} == {"accessKey", "secretKey", "token"}


# --- unknown keys, with the key most likely meant ----------------------------------------------------


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("aws:regoin", "aws:region"),
        ("aws:Profile", "aws:profile"),
        ("aws-pattern:serverless", f"{NAMESPACE}:serverless"),
        ("aws_patterns:network", f"{NAMESPACE}:network"),
        ("AWS:region", "aws:region"),
        ("pulumi:disable-default-provider", "pulumi:disable-default-providers"),
    ],
)
def test_an_unknown_key_suggests_the_one_meant(key: str, meant: str) -> None:
    values = {**GOOD, key: "{}"}
    if meant == "aws:region":
        values.pop("aws:region")
    line = next(line for line in problems(values) if line.startswith(f"{key}: "))
    assert f": unknown key; did you mean {meant}?" in line


def test_a_key_of_another_namespace_is_an_error_naming_the_namespaces() -> None:
    line = only({"other-project:network": {"enabled": True}})
    assert line.startswith("other-project:network: unknown key")
    assert "namespaces: aws-patterns, aws, pulumi" in line


def test_a_hostile_key_stays_on_its_line() -> None:
    line = only({"evil:\nkey": "x"})
    assert line.startswith("'evil:\\nkey': unknown key")


@pytest.mark.parametrize(
    ("values", "starts"),
    [
        ({"aws:endpoints": [{"\n": None}]}, "aws:endpoints[0].'\\n': unknown key"),
        ({"aws:assumeRoles": [{"tags": {"a\nb": 1}}]}, "aws:assumeRoles[0].tags.'a\\nb': must be a string"),
    ],
)
def test_a_hostile_nested_provider_key_stays_on_its_line(values: dict[str, Any], starts: str) -> None:
    assert only(values).startswith(starts)


@pytest.mark.parametrize("key", sorted(PULUMI_KEYS))
def test_the_engine_s_keys_are_accepted(key: str) -> None:
    validate_stack({**GOOD, f"pulumi:{key}": '["*"]'})


def test_all_problems_come_in_one_message() -> None:
    lines = problems(
        {
            "aws:regoin": "us-east-1",
            f"{NAMESPACE}:environment": "dev",
            "aws-pattern:serverless": "{}",
            f"{NAMESPACE}:network": '{"natStratgy": "none", "enabled": "yes"}',
            "aws:insecure": "yes",
        }
    )
    assert [line.split(": ", 1)[0] for line in lines] == [
        "aws-pattern:serverless",
        f"{NAMESPACE}:network.enabled",
        f"{NAMESPACE}:network.natStratgy",
        "aws:insecure",
        "aws:region",
        "aws:regoin",
    ]


# --- values of the provider's keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "starts", "mentions"),
    [
        ({"aws:insecure": "yes"}, "aws:insecure: must be true or false (got 'yes')", "YAML 1.2"),
        ({"aws:maxRetries": "three"}, "aws:maxRetries: must be an integer", "'three'"),
        ({"aws:allowedAccountIds": [123456789012]}, "aws:allowedAccountIds[0]: must be a string", "123456789012"),
        ({"aws:allowedAccountIds": "123456789012"}, "aws:allowedAccountIds: must be a list", "'123456789012'"),
        ({"aws:assumeRoles": [{"roleArnn": "x"}]}, "aws:assumeRoles[0].roleArnn: unknown key", "roleArn?"),
        ({"aws:ignoreTags": {"keys": "Owner"}}, "aws:ignoreTags.keys: must be a list", "'Owner'"),
        ({"aws:endpoints": [{"dynamdb": "http://x"}]}, "aws:endpoints[0].dynamdb: unknown key", "dynamodb?"),
        ({"aws:defaultTags": {"tags": {}}}, "aws:defaultTags: not accepted", f"{NAMESPACE}:tags"),
    ],
)
def test_a_bad_provider_value_names_the_key(values: dict[str, Any], starts: str, mentions: str) -> None:
    line = only(values)
    assert line.startswith(starts)
    assert mentions in line


def test_a_long_list_of_allowed_keys_is_left_out() -> None:
    line = only({"aws:endpoints": [{"dynamdb": "http://x"}]})
    assert "allowed keys here" not in line  # the endpoints take hundreds


@pytest.mark.parametrize("key", ["accessKey", "secretKey", "token"])
def test_credentials_must_be_secret_and_are_never_echoed(key: str) -> None:
    line = only({f"aws:{key}": "AKIAVERYSECRET"})
    assert line == f"aws:{key}: must come from secret config: pulumi config set --secret aws:{key} <value>"
    validate_stack({**GOOD, f"aws:{key}": SecretConfigValue("AKIAVERYSECRET")}, [f"aws:{key}"])


# --- the explicit provider gets them ------------------------------------------------------------------


def test_the_provider_receives_every_aws_setting_of_the_stack() -> None:
    inputs = provider_inputs(
        {
            "aws:profile": "ops",
            "aws:maxRetries": "7",
            "aws:skipMetadataApiCheck": "false",
            "aws:allowedAccountIds": '["123456789012"]',
            "aws:assumeRoles": '[{"roleArn": "arn:aws:iam::123456789012:role/deploy", "sessionName": "ci"}]',
        }
    )
    assert inputs["profile"] == "ops"
    assert json.loads(inputs["maxRetries"]) == 7
    assert json.loads(inputs["skipMetadataApiCheck"]) is False
    assert json.loads(inputs["allowedAccountIds"]) == ["123456789012"]
    assert json.loads(inputs["assumeRoles"]) == [
        {"roleArn": "arn:aws:iam::123456789012:role/deploy", "sessionName": "ci"}
    ]
    assert inputs["region"] == "us-east-1"
    assert json.loads(inputs["defaultTags"])["tags"]["stack"] == "dev"


def test_a_secret_credential_reaches_the_provider_as_a_secret() -> None:
    inputs = provider_inputs({"aws:secretKey": SecretConfigValue("wJalrXUtnFEMI/K7MDENG")})
    assert rpc.is_rpc_secret(inputs["secretKey"])
    assert rpc.unwrap_rpc_secret(inputs["secretKey"]) == "wJalrXUtnFEMI/K7MDENG"


def test_without_aws_settings_the_provider_is_as_before() -> None:
    inputs = run_cached("dev", preview=True).one("pulumi:providers:aws", "aws").inputs
    assert set(inputs) <= {"region", "defaultTags", "skipCredentialsValidation", "skipRegionValidation", "version"}
