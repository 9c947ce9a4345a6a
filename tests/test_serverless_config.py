"""Property tests of the `serverless` config block: hostile values are either accepted into a
config the component can build from, or refused with lines that each name a serverless key."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import PROFILES, ConfigError, validate
from components.serverless.config import HTTP_API_INTEGRATION_TIMEOUT_S, S3_MAX_UPLOAD_BYTES

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
ENVIRONMENTS = sorted(PROFILES)
BLOCK = PROFILES["dev"]["serverless"]
NESTED = {key: sorted(value) for key, value in BLOCK.items() if isinstance(value, dict)}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
near_miss = st.one_of(
    st.integers(min_value=-2, max_value=4000),
    st.sampled_from(
        [
            "uploads/",
            "uploads",
            "/uploads/",
            "a/b/",
            "*",
            "https://app.example.com",
            "https://app.example.com/",
            "http://localhost:3000",
            "image/png",
            "Image/PNG",
            S3_MAX_UPLOAD_BYTES + 1,
            HTTP_API_INTEGRATION_TIMEOUT_S,
        ]
    ),
    st.lists(
        st.sampled_from(["image/png", "text/html", "*", "https://a.example", "http://evil.example", "x"]), max_size=4
    ),
)
hostile = st.one_of(scalars, near_miss, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=8), scalars))


def _check(raw_block: dict) -> None:
    try:
        cfg = validate({"environment": raw_block.pop("_env"), "serverless": raw_block}, "us-east-1")
    except ConfigError as exc:
        lines = str(exc).splitlines()[1:]
        assert lines and all(re.match(r"  aws-patterns:serverless[.\[]", line) for line in lines), lines
        return
    sl = cfg.serverless
    assert sl.intake.timeout_seconds < HTTP_API_INTEGRATION_TIMEOUT_S
    assert 1 <= sl.max_upload_bytes <= S3_MAX_UPLOAD_BYTES
    assert sl.upload_prefix.endswith("/") and not sl.upload_prefix.startswith("/")
    assert sl.allowed_content_types and len(set(sl.allowed_content_types)) == len(sl.allowed_content_types)
    assert all("*" not in o and not o.endswith("/") for o in sl.cors_origins)
    assert all(o.startswith("https://") or "localhost" in o or "127.0.0.1" in o for o in sl.cors_origins)
    lc = sl.lifecycle
    if lc.expiration_days is not None:
        assert sl.record_ttl_days <= lc.expiration_days
        if lc.transition_to_infrequent_access_days is not None:
            assert lc.expiration_days > lc.transition_to_infrequent_access_days >= 30


@SETTINGS
@given(environment=st.sampled_from(ENVIRONMENTS), key=st.sampled_from(sorted(BLOCK)), value=hostile)
def test_hostile_value_in_the_block(environment: str, key: str, value: object) -> None:
    _check({"_env": environment, key: value})


@pytest.mark.parametrize("block", sorted(NESTED))
@SETTINGS
@given(environment=st.sampled_from(ENVIRONMENTS), data=st.data())
def test_hostile_value_in_a_nested_block(block: str, environment: str, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(NESTED[block]))
    _check({"_env": environment, block: {key: data.draw(hostile)}})


@SETTINGS
@given(
    environment=st.sampled_from(ENVIRONMENTS),
    ttl=st.integers(min_value=1, max_value=3650),
    moved=st.one_of(st.none(), st.integers(min_value=30, max_value=400)),
    expires=st.one_of(st.none(), st.integers(min_value=1, max_value=4000)),
    timeout=st.integers(min_value=1, max_value=900),
)
def test_cross_field_rules(environment: str, ttl: int, moved: int | None, expires: int | None, timeout: int) -> None:
    _check(
        {
            "_env": environment,
            "recordTtlDays": ttl,
            "lifecycle": {"transitionToInfrequentAccessDays": moved, "expirationDays": expires},
            "intake": {"timeoutSeconds": timeout},
        }
    )


@SETTINGS
@given(
    environment=st.sampled_from(ENVIRONMENTS),
    origins=st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "https://app.example.com",
                    "https://app.example.com:8443",
                    "http://localhost:3000",
                    "http://127.0.0.1",
                    "http://app.example.com",
                    "https://app.example.com/",
                    "https://*.example.com",
                    "*",
                    "null",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=4,
    ),
)
def test_hostile_cors_origins(environment: str, origins: list[str]) -> None:
    _check({"_env": environment, "corsOrigins": origins})
