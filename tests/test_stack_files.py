"""Stack files as files: read as Pulumi reads them (YAML 1.2), and the schema editors check them with.

The reader (tools/offline.py) must agree with Pulumi where PyYAML does not (`yes` is a string in
YAML 1.2), and name the file and the line of whatever it cannot read. The committed JSON Schema
(schema/stack.schema.json) must be the one generated from the config model, accept every shipped
stack file under a real validator, and refuse the mistakes the loader refuses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from components.config import PROFILES, SECRET_FIELDS, ConfigError, StackConfig, validate_stack
from components.defaults import NAMESPACE
from components.provider_config import SETTINGS
from tools import schema
from tools.offline import (
    PROJECT,
    ROOT,
    STACKS,
    SecretConfigValue,
    StackFileError,
    config_values,
    key_line,
    read_stack_file,
)

MODELINE = "# yaml-language-server: $schema=schema/stack.schema.json"
HEAD = "config:\n  aws:region: us-east-1\n  aws-patterns:environment: dev\n"


def write(tmp_path: Path, text: str, name: str = "Pulumi.test.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def values_of(tmp_path: Path, text: str) -> dict[str, str]:
    return config_values(write(tmp_path, text))


def file_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(StackFileError) as info:
        values_of(tmp_path, text)
    return str(info.value)


def problems(values: dict[str, str]) -> list[str]:
    secret = [k for k, v in values.items() if isinstance(v, SecretConfigValue)]
    with pytest.raises(ConfigError) as info:
        validate_stack(values, secret)
    return [line.strip() for line in str(info.value).split("\n")[1:]]


# --- YAML 1.2, as Pulumi reads it -----------------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "OFF", "y", "n"])
def test_yaml_11_booleans_are_strings_and_the_error_says_why(tmp_path: Path, word: str) -> None:
    assert yaml.safe_load(f"a: {word}")["a"] in (True, False, word)  # what PyYAML would have made of it
    values = values_of(tmp_path, f"{HEAD}  aws-patterns:serverless:\n    enabled: {word}\n")

    assert json.loads(values["aws-patterns:serverless"]) == {"enabled": word}
    (line,) = problems(values)
    assert line.startswith(f"{NAMESPACE}:serverless.enabled: ")
    assert f"(got {word!r})" in line
    assert "YAML 1.2" in line and "write true or false" in line


@pytest.mark.parametrize(("word", "value"), [("true", True), ("True", True), ("TRUE", True), ("false", False)])
def test_yaml_12_booleans_stay_booleans(tmp_path: Path, word: str, value: bool) -> None:
    values = values_of(tmp_path, f"{HEAD}  aws-patterns:serverless:\n    enabled: {word}\n")
    assert json.loads(values["aws-patterns:serverless"]) == {"enabled": value}
    validate_stack(values)


def test_a_date_stays_the_text_it_was_written_as(tmp_path: Path) -> None:
    # PyYAML makes a datetime.date of it, which is not JSON; Pulumi's decoder keeps the string.
    values = values_of(tmp_path, f"{HEAD}  aws-patterns:tags:\n    since: 2024-01-31\n")
    assert json.loads(values["aws-patterns:tags"]) == {"since": "2024-01-31"}
    assert validate_stack(values).tags == {"since": "2024-01-31"}


def test_scalars_reach_the_program_as_the_engine_passes_them(tmp_path: Path) -> None:
    values = values_of(
        tmp_path,
        f"{HEAD}  aws:maxRetries: 5\n  aws:insecure: false\n  aws-patterns:network:\n    azCount: 3\n    enabled: ~\n",
    )
    assert values["aws:maxRetries"] == "5"
    assert values["aws:insecure"] == "false"
    assert json.loads(values["aws-patterns:network"]) == {"azCount": 3, "enabled": None}


def test_a_key_without_a_namespace_is_in_the_project_s(tmp_path: Path) -> None:
    values = values_of(tmp_path, "config:\n  aws:region: us-east-1\n  environment: dev\n")
    assert values == {"aws:region": "us-east-1", f"{PROJECT}:environment": "dev"}


def test_the_legacy_config_infix_is_read_as_pulumi_reads_it(tmp_path: Path) -> None:
    values = values_of(tmp_path, "config:\n  aws:config:region: us-east-1\n  aws-patterns:config:environment: dev\n")
    assert values == {"aws:region": "us-east-1", "aws-patterns:environment": "dev"}


# --- files that cannot be read say where -----------------------------------------------------------


def test_malformed_yaml_names_the_file_line_and_column(tmp_path: Path) -> None:
    message = file_error(tmp_path, f"{HEAD}  aws-patterns:tags: [a, b\n  aws-patterns:network: {{}}\n")
    assert message.startswith(f"{tmp_path / 'Pulumi.test.yaml'}, line 5, column ")
    assert "not valid YAML" in message


def test_a_duplicate_key_is_an_error_naming_its_line(tmp_path: Path) -> None:
    message = file_error(tmp_path, f"{HEAD}  aws:region: eu-west-1\n")
    assert ", line 4, column " in message and "duplicate key" in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(StackFileError, match=r"nope\.yaml: no such file$"):
        config_values(tmp_path / "nope.yaml")


def test_an_empty_file_has_no_config(tmp_path: Path) -> None:
    assert values_of(tmp_path, "# nothing yet\n") == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("confg:\n  aws:region: us-east-1\n", r", line 1: unknown top-level key 'confg'; did you mean config\?"),
        ("- config\n", r": must be a mapping with a 'config:' key \(got CommentedSeq\)"),
        ("config: [a]\n", r", line 1: 'config:' must be a mapping"),
        ("config: {}\n---\nconfig: {}\n", r": holds 2 YAML documents; a stack file is one"),
        ("config:\n  1: x\n", r", line 2: config key 1 must be a string"),
        ("config:\n  aws-patterns:network:enabled: true\n", r", line 2: 'aws-patterns:network:enabled' is not"),
        ("config:\n  aws-patterns:tags:\n    a: .inf\n", r", line 3: aws-patterns:tags.a: inf cannot be passed"),
        ("config:\n  aws-patterns:tags:\n    a: !!binary aGk=\n", r", line 3: aws-patterns:tags.a: b'hi' cannot be"),
    ],
)
def test_a_file_not_shaped_like_a_stack_file_says_how(tmp_path: Path, text: str, expected: str) -> None:
    assert re.search(expected, file_error(tmp_path, text))


def test_key_line_finds_nested_keys_list_items_and_the_block_of_a_missing_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD
        + "  aws-patterns:network:\n    flowLogs:\n      trafficType: ALL\n"  # lines 4-6
        + "  aws:assumeRoles:\n    - roleArn: a\n    - roleArn: b\n",  # lines 7-9
    )
    assert key_line(path, "aws-patterns:environment") == 3
    assert key_line(path, "aws-patterns:network.flowLogs.trafficType") == 6
    assert key_line(path, "aws-patterns:network.flowLogs.retentionDays") == 5  # missing: its block
    assert key_line(path, "aws:assumeRoles[1].roleArn") == 9
    assert key_line(path, "aws:profile") is None
    assert key_line(path, "not a key") is None


# --- the schema -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    """The copy editors read (test_committed_schema_is_the_generated_one keeps it current)."""
    return json.loads(schema.SCHEMA_FILE.read_text())


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return schema.stack_file_schema()


@pytest.fixture(scope="module")
def validator(committed: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(committed)
    cls.check_schema(committed)
    assert cls is jsonschema.Draft7Validator  # what YAML editors read
    return cls(committed)


def test_committed_schema_is_the_generated_one() -> None:
    assert schema.SCHEMA_FILE.read_text() == schema.render(), "schema/stack.schema.json is stale: run `make schema`"


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_file_names_the_schema_first(stack: str) -> None:
    path = ROOT / f"Pulumi.{stack}.yaml"
    first = path.read_text().splitlines()[0]
    assert first == MODELINE
    assert (path.parent / first.split("$schema=", 1)[1]).resolve() == schema.SCHEMA_FILE


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_file_validates(stack: str, validator: Any) -> None:
    document = json.loads(json.dumps(read_stack_file(ROOT / f"Pulumi.{stack}.yaml")))
    assert [e.message for e in validator.iter_errors(document)] == []


GOOD = {"aws:region": "us-east-1", "aws-patterns:environment": "dev"}
# Mistakes both the schema and the loader refuse: (config keys merged over GOOD, where it points).
MISTAKES = [
    ({"aws-pattern:serverless": {"enabled": True}}, "config"),
    ({"aws:regoin": "us-east-1"}, "config"),
    ({"aws-patterns:network": {"natStratgy": "none"}}, "config/aws-patterns:network"),
    ({"aws-patterns:network": {"flowLogs": {"trafficTyp": "ALL"}}}, "config/aws-patterns:network/flowLogs"),
    ({"aws-patterns:serverless": {"enabled": "yes"}}, "config/aws-patterns:serverless/enabled"),
    ({"aws-patterns:network": {"natStrategy": "everywhere"}}, "config/aws-patterns:network/natStrategy"),
    ({"aws-patterns:network": {"azCount": 9}}, "config/aws-patterns:network/azCount"),
    ({"aws-patterns:network": {"azCount": "3"}}, "config/aws-patterns:network/azCount"),
    ({"aws-patterns:environment": "production"}, "config/aws-patterns:environment"),
    ({"aws-patterns:hybrid": {"tunnels": [{"presharedKey": "Plain.text.key1"}, {}]}}, "config/aws-patterns:hybrid"),
    ({"aws:assumeRoles": [{"roleArnn": "arn:aws:iam::123456789012:role/x"}]}, "config/aws:assumeRoles/0"),
    ({"aws:allowedAccountIds": [123456789012]}, "config/aws:allowedAccountIds/0"),
    ({"aws:secretKey": "in plain text"}, "config/aws:secretKey"),
    ({"aws:defaultTags": {"tags": {"team": "a"}}}, "config"),
    ({"aws:region": None}, "config/aws:region"),
]


@pytest.mark.parametrize(("keys", "where"), MISTAKES, ids=[json.dumps(k)[:60] for k, _ in MISTAKES])
def test_a_mistake_fails_the_schema_and_the_loader(keys: dict, where: str, validator: Any, tmp_path: Path) -> None:
    config = {**GOOD, **keys}
    errors = list(validator.iter_errors({"config": config}))
    assert errors, "the schema accepted it"
    assert any("/".join(map(str, e.absolute_path)).startswith(where) for e in errors), [e.message for e in errors]
    path = write(tmp_path, yaml.safe_dump({"config": config}))
    assert problems(config_values(path)), "the loader accepted it"


def test_a_stack_file_without_environment_or_region_fails_the_schema(validator: Any) -> None:
    assert list(validator.iter_errors({"config": {"aws-patterns:environment": "dev"}}))
    assert list(validator.iter_errors({"config": {"aws:region": "us-east-1"}}))
    assert not list(validator.iter_errors({"config": {"aws:region": "us-east-1", "environment": "dev"}}))


def test_an_unknown_file_key_fails_the_schema(validator: Any) -> None:
    assert list(validator.iter_errors({"confg": {}, "config": GOOD}))


def test_a_secret_and_engine_keys_pass_the_schema(validator: Any) -> None:
    config = {
        **GOOD,
        "aws:secretKey": {"secure": "v1:abc"},
        "aws:profile": "ops",
        "aws:assumeRoles": [{"roleArn": "arn:aws:iam::123456789012:role/deploy", "sessionName": "ci"}],
        "aws-patterns:hybrid": {"tunnels": [{"presharedKey": {"secure": f"v1:{n}"}} for n in range(2)]},
        "pulumi:disable-default-providers": ["*"],
    }
    assert [e.message for e in validator.iter_errors({"config": config, "secretsprovider": "passphrase"})] == []


def _fields(model: type[BaseModel], node: dict[str, Any], path: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """(path, field, schema node) of every field of `model` and of the models below it."""
    found = []
    for field in model.model_fields.values():
        if field.alias is None or field.alias not in node.get("properties", {}):
            continue
        child = node["properties"][field.alias]
        found.append((f"{path}.{field.alias}", field, child))
        nested = [a for a in (field.annotation, *getattr(field.annotation, "__args__", ())) if isinstance(a, type)]
        for sub in (a for a in nested if issubclass(a, BaseModel)):
            target = next((c for c in [child, *child.get("anyOf", [])] if "properties" in c), None)
            if target:
                found += _fields(sub, target, f"{path}.{field.alias}")
    return found


def test_every_key_of_the_model_is_in_the_schema_with_its_docstring(generated: dict[str, Any]) -> None:
    definitions = generated["definitions"]
    fields = []
    for name, field in StackConfig.model_fields.items():
        if name == "region":
            continue
        assert field.alias in definitions, f"{NAMESPACE}:{field.alias} is missing from the schema"
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            fields += _fields(field.annotation, definitions[field.alias], field.alias)
    assert len(fields) > 50
    for path, field, node in fields:
        if field.alias in SECRET_FIELDS:
            assert node["required"] == ["secure"], path
        elif field.description:
            assert node.get("description", "").startswith(" ".join(field.description.split())[:40]), path


def test_block_fields_are_optional_and_list_items_keep_their_required_fields(generated: dict[str, Any]) -> None:
    definitions = generated["definitions"]

    def objects(node: Any, in_list: bool, path: str) -> list[tuple[str, bool, dict]]:
        found = []
        if isinstance(node, dict):
            if "properties" in node:
                found.append((path, in_list, node))
            for key, child in node.items():
                found += objects(child, in_list or key == "items", f"{path}/{key}")
        elif isinstance(node, list):
            for child in node:
                found += objects(child, in_list, path)
        return found

    found = objects(definitions, False, "")
    assert all("required" not in node for path, in_list, node in found if not in_list)
    listed = [node for path, in_list, node in found if in_list and "required" in node]
    assert listed, "a list item with required fields (rule targets, secondary indexes) keeps them"


def test_every_object_refuses_unknown_keys(generated: dict[str, Any]) -> None:
    def open_objects(node: Any, path: str) -> list[str]:
        found = []
        if isinstance(node, dict):
            is_free_form = node.get("additionalProperties") is True or set(node) <= {"type", "description"}
            if "properties" in node and node.get("additionalProperties") is not False and not is_free_form:
                found.append(path)
            for key, child in node.items():
                found += open_objects(child, f"{path}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                found += open_objects(child, f"{path}/{i}")
        return found

    assert open_objects(generated, "") == []


def test_provider_keys_are_the_ones_pulumi_aws_accepts(generated: dict[str, Any]) -> None:
    keys = {k.removeprefix("aws:") for k in generated["properties"]["config"]["properties"] if k.startswith("aws:")}
    assert keys == set(SETTINGS) - {"defaultTags"}


def test_descriptions_carry_each_profile_s_default(generated: dict[str, Any]) -> None:
    described = generated["definitions"]["network"]["properties"]["azCount"]["description"]
    expected = ", ".join(f"{env} `{PROFILES[env]['network']['azCount']}`" for env in PROFILES)
    assert described.endswith(f"Profile defaults: {expected}.")
