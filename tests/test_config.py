"""Example-based tests of the stack configuration schema (components/config.py).

Expected defaults always come from `components.defaults.PROFILES`, the single source of every
default; expected error lines are checked by the key path they must start with and the facts
they must mention (the bad value, what is allowed), not by copying whole messages.
"""

from __future__ import annotations

import copy
import json

import pulumi
import pytest

from components.config import PROFILES, ConfigError, StackConfig, load, validate
from components.defaults import NAMESPACE
from components.schema import RESERVED_TAG_KEYS
from tools.offline import STACKS, stack_config

HEADER = "invalid stack configuration:"
REGION = "us-east-1"
ENVIRONMENTS = sorted(PROFILES)
# Retention values CloudWatch Logs' PutRetentionPolicy accepts (from the AWS API reference),
# written out here so the test does not check the schema against its own list.
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def problems(raw: dict, region: object = REGION) -> list[str]:
    """The problem lines of the ConfigError `validate` raises (header removed, one per problem)."""
    with pytest.raises(ConfigError) as info:
        validate(raw, region)
    lines = str(info.value).split("\n")
    if lines[0] == HEADER:
        assert len(lines) > 1, "a header with no problem under it"
        assert all(line.startswith("  ") for line in lines[1:]), lines
        return [line.removeprefix("  ") for line in lines[1:]]
    assert len(lines) == 1, lines
    return lines


def line_for(lines: list[str], path: str) -> str:
    """The single problem line about `path` (the full key, e.g. `aws-patterns:network.cidr`)."""
    matches = [line for line in lines if line.startswith(f"{path}:")]
    assert len(matches) == 1, f"expected one line about {path}, got {lines}"
    return matches[0]


def allowed_keys(line: str) -> set[str]:
    assert ": unknown key" in line, line
    marker = "llowed keys here: "  # "; allowed", or "? Allowed" after a suggestion
    assert marker in line, line
    return set(line.split(marker, 1)[1].split(", "))


def suggestion(line: str) -> str | None:
    """The key an unknown-key line suggests (`did you mean <key>?`), or None."""
    if "; did you mean " not in line:
        return None
    return line.split("; did you mean ", 1)[1].split("?", 1)[0]


def dev(**blocks: object) -> dict:
    return {"environment": "dev", **blocks}


# --- profiles and merging ------------------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_profile_defaults_apply_when_the_stack_sets_nothing(environment: str) -> None:
    cfg = validate({"environment": environment}, REGION)

    assert isinstance(cfg, StackConfig)
    set_values = cfg.model_dump(by_alias=True, exclude_unset=True, exclude={"region", "environment"})
    assert set_values == PROFILES[environment]
    assert cfg.environment == environment
    assert cfg.tags == {}
    assert cfg.network.availability_zones is None


def test_profiles_differ_so_the_environment_really_selects_one() -> None:
    # Guards the test above: identical profiles would let a wrong profile lookup pass it.
    dumps = {json.dumps(PROFILES[env], sort_keys=True) for env in ENVIRONMENTS}
    assert len(dumps) == len(ENVIRONMENTS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_nested_override_keeps_the_sibling_defaults(environment: str) -> None:
    profile = PROFILES[environment]
    az_count = next(n for n in range(2, 7) if n != profile["network"]["azCount"])

    cfg = validate({"environment": environment, "network": {"azCount": az_count}}, REGION)

    dumped = cfg.model_dump(by_alias=True, exclude_unset=True)
    assert dumped["network"] == {**profile["network"], "azCount": az_count}
    assert dumped["common"] == profile["common"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_override_two_levels_deep_keeps_the_rest_of_its_block(environment: str) -> None:
    profile = PROFILES[environment]
    traffic = next(t for t in ("ACCEPT", "REJECT", "ALL") if t != profile["network"]["flowLogs"]["trafficType"])

    cfg = validate({"environment": environment, "network": {"flowLogs": {"trafficType": traffic}}}, REGION)

    dumped = cfg.model_dump(by_alias=True, exclude_unset=True)
    assert dumped["network"]["flowLogs"] == {**profile["network"]["flowLogs"], "trafficType": traffic}
    assert {k: v for k, v in dumped["network"].items() if k != "flowLogs"} == {
        k: v for k, v in profile["network"].items() if k != "flowLogs"
    }


def test_validating_a_stack_never_changes_the_profiles() -> None:
    before = copy.deepcopy(PROFILES)

    validate(dev(network={"azCount": 4, "flowLogs": {"enabled": False}}, common={"multiAz": True}), REGION)
    with pytest.raises(ConfigError):
        validate(dev(network={"azCount": "4"}), REGION)

    assert before == PROFILES


# --- unknown keys ----------------------------------------------------------------------------


def test_unknown_top_level_key_names_the_full_path_and_the_allowed_keys() -> None:
    lines = problems(dev(netwrok={"enabled": True}))

    line = line_for(lines, f"{NAMESPACE}:netwrok")
    assert allowed_keys(line) == {"environment", "tags", *PROFILES["dev"]}
    assert "region" not in allowed_keys(line)  # the region is set with aws:region
    assert suggestion(line) == f"{NAMESPACE}:network"


def test_unknown_network_key_names_the_full_path_and_the_allowed_keys() -> None:
    lines = problems(dev(network={"natStratgy": "perAz"}))

    line = line_for(lines, f"{NAMESPACE}:network.natStratgy")
    assert allowed_keys(line) == {"availabilityZones", *PROFILES["dev"]["network"]}
    assert suggestion(line) == f"{NAMESPACE}:network.natStrategy"
    assert len(lines) == 1


def test_unknown_key_two_levels_deep_names_the_full_path_and_the_allowed_keys() -> None:
    lines = problems(dev(network={"flowLogs": {"trafficTyp": "ALL"}}))

    line = line_for(lines, f"{NAMESPACE}:network.flowLogs.trafficTyp")
    assert allowed_keys(line) == set(PROFILES["dev"]["network"]["flowLogs"])
    assert suggestion(line) == f"{NAMESPACE}:network.flowLogs.trafficType"


def test_unknown_common_key_names_the_full_path_and_the_allowed_keys() -> None:
    lines = problems(dev(common={"logRetention": 7}))

    line = line_for(lines, f"{NAMESPACE}:common.logRetention")
    assert allowed_keys(line) == set(PROFILES["dev"]["common"])
    assert suggestion(line) == f"{NAMESPACE}:common.logRetentionDays"


def test_an_unknown_key_far_from_every_allowed_one_suggests_nothing() -> None:
    line = line_for(problems(dev(network={"zzzzzz": 1})), f"{NAMESPACE}:network.zzzzzz")

    assert suggestion(line) is None
    assert allowed_keys(line) == {"availabilityZones", *PROFILES["dev"]["network"]}


@pytest.mark.parametrize("typo", ["Network", "NETWORK"])
def test_a_key_in_the_wrong_case_suggests_the_right_one(typo: str) -> None:
    line = line_for(problems(dev(**{typo: {"enabled": True}})), f"{NAMESPACE}:{typo}")

    assert suggestion(line) == f"{NAMESPACE}:network"


def test_an_unknown_key_containing_a_newline_stays_on_its_own_line() -> None:
    # One line per problem: a key with a line break must not split its problem over two lines.
    lines = problems(dev(**{"net\nwork": {}}))

    assert len(lines) == 1
    assert lines[0].startswith(f"{NAMESPACE}:")


# --- network.cidr ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "mentions"),
    [
        ("not-a-cidr", "CIDR"),
        ("10.0.0.0/33", "CIDR"),
        ("300.0.0.0/16", "CIDR"),
        ("", "CIDR"),
        ("10.0.0.1/16", "10.0.0.0/16"),  # host bits set: the message offers the network
        ("10.1.2.0/16", "10.1.0.0/16"),
        ("8.8.0.0/16", "private"),
        ("172.32.0.0/16", "private"),  # just past 172.16.0.0/12
        ("192.169.0.0/16", "private"),  # just past 192.168.0.0/16
        ("100.128.0.0/16", "private"),  # just past 100.64.0.0/10
        ("10.0.0.0/15", "/16"),
        ("10.0.0.0/8", "/16"),
        ("10.0.0.0/24", "/23"),
        ("10.0.0.0/28", "/23"),
    ],
)
def test_bad_vpc_cidr_is_rejected_naming_network_cidr(cidr: str, mentions: str) -> None:
    lines = problems(dev(network={"cidr": cidr}))

    line = line_for(lines, f"{NAMESPACE}:network.cidr")
    assert mentions in line
    assert repr(cidr) in line  # the bad value is shown
    assert len(lines) == 1


@pytest.mark.parametrize(
    "cidr", ["10.0.0.0/16", "10.255.254.0/23", "172.16.0.0/16", "172.31.0.0/16", "192.168.0.0/16", "100.64.0.0/16"]
)
def test_private_vpc_cidrs_between_16_and_23_are_accepted(cidr: str) -> None:
    assert validate(dev(network={"cidr": cidr}), REGION).network.cidr == cidr


@pytest.mark.parametrize("cidr", [42, None, ["10.0.0.0/16"]])
def test_vpc_cidr_must_be_a_string(cidr: object) -> None:
    line_for(problems(dev(network={"cidr": cidr})), f"{NAMESPACE}:network.cidr")


# --- azCount and availabilityZones -------------------------------------------------------------


@pytest.mark.parametrize("az_count", [1, 0, -1, 7])
def test_az_count_outside_2_to_6_is_rejected(az_count: int) -> None:
    lines = problems(dev(network={"azCount": az_count}))

    assert repr(az_count) in line_for(lines, f"{NAMESPACE}:network.azCount")


@pytest.mark.parametrize("az_count", [2, 6])
def test_az_count_bounds_are_accepted(az_count: int) -> None:
    assert validate(dev(network={"azCount": az_count}), REGION).network.az_count == az_count


def test_availability_zones_matching_az_count_are_kept_in_order() -> None:
    zones = ["us-east-1c", "us-east-1a", "us-east-1d"]

    cfg = validate(dev(network={"azCount": 3, "availabilityZones": zones}), REGION)

    assert cfg.network.availability_zones == zones


@pytest.mark.parametrize(
    ("az_count", "zones"),
    [(3, ["us-east-1a", "us-east-1b"]), (2, ["us-east-1a", "us-east-1b", "us-east-1c"])],
)
def test_availability_zones_count_must_match_az_count(az_count: int, zones: list[str]) -> None:
    lines = problems(dev(network={"azCount": az_count, "availabilityZones": zones}))

    line = line_for(lines, f"{NAMESPACE}:network.availabilityZones")
    assert str(len(zones)) in line
    assert str(az_count) in line


def test_availability_zones_may_not_repeat_a_zone() -> None:
    lines = problems(dev(network={"azCount": 2, "availabilityZones": ["us-east-1a", "us-east-1a"]}))

    line = line_for(lines, f"{NAMESPACE}:network.availabilityZones")
    assert "twice" in line


def test_an_availability_zone_must_look_like_a_zone_name() -> None:
    lines = problems(dev(network={"azCount": 2, "availabilityZones": ["us-east-1a", "us-east-1"]}))

    assert "'us-east-1'" in line_for(lines, f"{NAMESPACE}:network.availabilityZones[1]")


# --- environment and region ------------------------------------------------------------------


def test_missing_environment_is_rejected_listing_the_environments() -> None:
    (line,) = problems({"network": {"enabled": True}})

    assert line.startswith(f"{NAMESPACE}:environment:")
    assert all(repr(env) in line for env in ENVIRONMENTS)


@pytest.mark.parametrize("environment", ["production", "Dev", "", 1, True])
def test_unknown_environment_is_rejected_listing_the_environments(environment: object) -> None:
    (line,) = problems({"environment": environment})

    assert line.startswith(f"{NAMESPACE}:environment:")
    assert all(repr(env) in line for env in ENVIRONMENTS)
    assert repr(environment) in line


@pytest.mark.parametrize("environment", [["dev"], {"name": "dev"}])
def test_structured_environment_is_a_config_error_not_a_crash(environment: object) -> None:
    # `aws-patterns:environment: [dev]` in a stack file reaches validate() as a list.
    (line,) = problems({"environment": environment})

    assert line.startswith(f"{NAMESPACE}:environment:")


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1", "il-central-1"])
def test_region_names_are_accepted(region: str) -> None:
    assert validate(dev(), region).region == region


@pytest.mark.parametrize(
    "region", [None, "", "US-EAST-1", "us-east-1a", "useast1", "us-east", "us east 1", "us-east-1\n", 1, ["us-east-1"]]
)
def test_missing_or_bad_aws_region_is_rejected(region: object) -> None:
    (line,) = problems(dev(), region)

    assert line.startswith("aws:region:")
    assert repr(region) in line


def test_region_in_the_project_namespace_is_rejected_pointing_at_aws_region() -> None:
    (line,) = problems(dev(region="us-east-1"))

    assert line.startswith(f"{NAMESPACE}:region:")
    assert "aws:region" in line


# --- tags ------------------------------------------------------------------------------------


def test_extra_tags_are_kept() -> None:
    tags = {"cost-center": "platform", "team": "Data Ops", "owner:email": "a@example.com", "empty": ""}

    assert validate(dev(tags=tags), REGION).tags == tags


@pytest.mark.parametrize("key", RESERVED_TAG_KEYS)
def test_reserved_tag_keys_are_rejected(key: str) -> None:
    lines = problems(dev(tags={key: "mine", "team": "ok"}))

    assert repr(key) in line_for(lines, f"{NAMESPACE}:tags")


@pytest.mark.parametrize("key", ["aws:createdBy", "AWS:foo", "Aws:cloudformation:stack-name"])
def test_aws_prefixed_tag_keys_are_rejected(key: str) -> None:
    lines = problems(dev(tags={key: "x"}))

    line = line_for(lines, f"{NAMESPACE}:tags")
    assert repr(key) in line
    assert "aws:" in line


@pytest.mark.parametrize(
    "tags",
    [
        {"": "x"},
        {"k" * 129: "x"},
        {"k": "v" * 257},
        {"bad{key}": "x"},
        {"key": "bad\tvalue"},
        {"key\n": "x"},  # a trailing newline is not one of the allowed characters
        {"key": "value\n"},
        {f"k{i}": "v" for i in range(41)},
    ],
)
def test_malformed_tags_are_rejected(tags: dict[str, str]) -> None:
    line_for(problems(dev(tags=tags)), f"{NAMESPACE}:tags")


@pytest.mark.parametrize("tags", [{"team": 1}, {"team": None}, ["team"], "team=data"])
def test_tags_must_be_a_map_of_strings(tags: object) -> None:
    lines = problems(dev(tags=tags))

    assert lines
    assert all(line.startswith(f"{NAMESPACE}:tags") for line in lines)


# --- log retention ---------------------------------------------------------------------------


@pytest.mark.parametrize("days", CLOUDWATCH_RETENTION_DAYS)
def test_every_cloudwatch_retention_is_accepted(days: int) -> None:
    cfg = validate(dev(common={"logRetentionDays": days}, network={"flowLogs": {"retentionDays": days}}), REGION)

    assert cfg.common.log_retention_days == days
    assert cfg.network.flow_logs.retention_days == days


@pytest.mark.parametrize("days", [0, 2, 4, 31, 364, 366, 3654, -7])
def test_retention_cloudwatch_does_not_accept_is_rejected(days: int) -> None:
    lines = problems(dev(common={"logRetentionDays": days}, network={"flowLogs": {"retentionDays": days}}))

    for path in (f"{NAMESPACE}:common.logRetentionDays", f"{NAMESPACE}:network.flowLogs.retentionDays"):
        line = line_for(lines, path)
        assert f"(got {days!r})" in line
        assert "365" in line  # lists what is allowed


# --- strictness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (dev(network={"azCount": "2"}), "network.azCount"),
        (dev(network={"azCount": 2.0}), "network.azCount"),
        (dev(network={"azCount": True}), "network.azCount"),
        (dev(network={"enabled": "yes"}), "network.enabled"),
        (dev(network={"enabled": "true"}), "network.enabled"),
        (dev(network={"enabled": 1}), "network.enabled"),
        (dev(common={"multiAz": "no"}), "common.multiAz"),
        (dev(common={"logRetentionDays": "7"}), "common.logRetentionDays"),
        (dev(network={"flowLogs": {"enabled": "false"}}), "network.flowLogs.enabled"),
        (dev(network={"natStrategy": "PerAz"}), "network.natStrategy"),
    ],
)
def test_values_are_not_coerced(raw: dict, path: str) -> None:
    lines = problems(raw)

    line_for(lines, f"{NAMESPACE}:{path}")
    assert len(lines) == 1


@pytest.mark.parametrize("block", ["network", "common"])
def test_blocks_must_be_maps(block: str) -> None:
    for value in (None, [], "enabled", True):
        line_for(problems(dev(**{block: value})), f"{NAMESPACE}:{block}")


def test_snake_case_keys_are_not_accepted() -> None:
    lines = problems(dev(network={"az_count": 3}))

    assert "azCount" in allowed_keys(line_for(lines, f"{NAMESPACE}:network.az_count"))


# --- several problems at once ----------------------------------------------------------------


def test_every_problem_is_reported_in_one_message() -> None:
    raw = dev(
        networks={},
        tags={"stack": "mine"},
        common={"logRetentionDays": 2, "multiAz": "yes"},
        network={"cidr": "8.8.0.0/16", "azCount": 1, "natStratgy": "none", "flowLogs": {"trafficType": "SOME"}},
    )

    lines = problems(raw)

    paths = [
        "networks",
        "tags",
        "common.logRetentionDays",
        "common.multiAz",
        "network.cidr",
        "network.azCount",
        "network.natStratgy",
        "network.flowLogs.trafficType",
    ]
    for path in paths:
        line_for(lines, f"{NAMESPACE}:{path}")
    assert len(lines) == len(paths)


# --- load(): through Pulumi's config ---------------------------------------------------------


@pytest.fixture
def stack_settings(monkeypatch: pytest.MonkeyPatch):
    """Set the engine-style config (`namespace:key` -> text) the program reads; restore after."""
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    previous = dict(pulumi.runtime.config.CONFIG.get())

    def apply(values: dict[str, str]) -> None:
        pulumi.runtime.set_all_config(values)

    yield apply
    pulumi.runtime.set_all_config(previous)


def test_load_reads_the_namespace_and_decodes_structured_values(stack_settings) -> None:
    stack_settings(
        {
            "aws-patterns:environment": "dev",
            "aws-patterns:network": '{"enabled": true, "azCount": 3, "flowLogs": {"trafficType": "ALL"}}',
            "aws-patterns:tags": '{"cost-center": "platform"}',
            "aws:region": "eu-west-1",
        }
    )

    cfg = load()

    assert cfg.region == "eu-west-1"
    assert cfg.environment == "dev"
    assert cfg.tags == {"cost-center": "platform"}
    profile = PROFILES["dev"]["network"]
    expected_network = {
        **profile,
        "enabled": True,
        "azCount": 3,
        "flowLogs": {**profile["flowLogs"], "trafficType": "ALL"},
    }
    assert cfg.model_dump(by_alias=True, exclude_unset=True)["network"] == expected_network


def test_load_reports_problems_inside_json_encoded_values(stack_settings) -> None:
    stack_settings(
        {
            "aws-patterns:environment": "prod",
            "aws-patterns:network": '{"enabled": true, "azCount": "3"}',
            "aws:region": "us-east-1",
        }
    )

    with pytest.raises(ConfigError) as info:
        load()

    assert f"{NAMESPACE}:network.azCount:" in str(info.value)


def test_load_without_aws_region_is_a_config_error(stack_settings) -> None:
    stack_settings({"aws-patterns:environment": "dev"})

    with pytest.raises(ConfigError) as info:
        load()

    expected = "  aws:region: must be an AWS region name such as us-east-1 (got None)"
    assert str(info.value).splitlines() == [HEADER, expected]


def test_load_rejects_a_structured_environment(stack_settings) -> None:
    stack_settings({"aws-patterns:environment": '["dev"]', "aws:region": "us-east-1"})

    with pytest.raises(ConfigError) as info:
        load()

    (line,) = str(info.value).splitlines()[1:]
    assert line.startswith(f"  {NAMESPACE}:environment:")


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_file_loads(stack: str, stack_settings) -> None:
    values = stack_config(stack)
    stack_settings(values)

    cfg = load()

    assert cfg.environment == values[f"{NAMESPACE}:environment"]
    assert cfg.region == values["aws:region"]
    stack_network = json.loads(values.get(f"{NAMESPACE}:network", "{}"))
    dumped_network = cfg.model_dump(by_alias=True)["network"]
    assert {k: dumped_network[k] for k in stack_network} == stack_network


def test_availability_zones_must_belong_to_the_region() -> None:
    line = line_for(
        problems(dev(network={"azCount": 2, "availabilityZones": ["eu-west-1a", "us-east-1b"]})),
        f"{NAMESPACE}:network.availabilityZones",
    )
    assert "eu-west-1a" in line and REGION in line
    assert "us-east-1b" not in line.split("are not zones")[0]


def test_a_bare_address_as_cidr_asks_for_a_prefix_length() -> None:
    line = line_for(problems(dev(network={"cidr": "10.0.0.0"})), f"{NAMESPACE}:network.cidr")
    assert "prefix length" in line and "/32" not in line
