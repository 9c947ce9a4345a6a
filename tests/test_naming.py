"""Property tests of physical names and the provider's default tags (components/naming.py)."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from components.config import PROFILES, validate
from components.defaults import PROJECT
from components.naming import AUTONAME_SUFFIX, LOWERCASE_KINDS, MIN_LENGTHS, NAME_LIMITS, physical_name, standard_tags
from components.schema import RESERVED_TAG_KEYS

SETTINGS = settings(max_examples=200, deadline=None, database=None)

kinds = st.sampled_from(sorted(NAME_LIMITS))
# Any text, including separators, unicode, empty parts and parts made only of punctuation.
parts = st.lists(st.text(max_size=90), max_size=6)
# Names that are already safe: what physical_name must keep (or hash) without re-sanitising.
SAFE = string.ascii_lowercase + string.digits


def limit_for(kind: str, autonamed: bool) -> int:
    return NAME_LIMITS[kind] - (AUTONAME_SUFFIX if autonamed else 0)


@st.composite
def sanitized(draw: st.DrawFn, min_size: int = 1, max_size: int = 600) -> str:
    """A lower-case, letter-first name of letters, digits and single inner hyphens."""
    size = draw(st.integers(min_value=min_size, max_value=max_size))
    chars = [draw(st.sampled_from(string.ascii_lowercase)), *draw(st.text(SAFE, min_size=size - 1, max_size=size - 1))]
    for i in draw(st.sets(st.integers(min_value=1, max_value=max(1, size - 2)), max_size=size // 4)):
        if i < size - 1 and chars[i - 1] != "-" and chars[i + 1] != "-":
            chars[i] = "-"
    return "".join(chars)


@SETTINGS
@given(kind=kinds, name_parts=parts, autonamed=st.booleans())
def test_physical_name_is_always_a_name_aws_accepts(kind: str, name_parts: list[str], autonamed: bool) -> None:
    name = physical_name(kind, *name_parts, autonamed=autonamed)

    assert 1 <= len(name) <= limit_for(kind, autonamed)
    assert re.fullmatch(r"[A-Za-z0-9-]+", name), name
    assert name[0].isascii()
    assert name[0].isalpha()
    assert not name.endswith("-")
    assert "--" not in name  # RDS identifiers may not contain two hyphens in a row
    if kind in LOWERCASE_KINDS:
        assert name == name.lower()


@SETTINGS
@given(kind=kinds, name_parts=parts, autonamed=st.booleans())
def test_physical_name_is_deterministic(kind: str, name_parts: list[str], autonamed: bool) -> None:
    first = physical_name(kind, *name_parts, autonamed=autonamed)
    second = physical_name(kind, *name_parts, autonamed=autonamed)

    assert first == second


@SETTINGS
@given(kind=kinds, autonamed=st.booleans(), data=st.data())
def test_a_name_that_fits_is_kept_unchanged(kind: str, autonamed: bool, data: st.DataObject) -> None:
    name = data.draw(sanitized(min_size=MIN_LENGTHS.get(kind, 1), max_size=limit_for(kind, autonamed)))

    assert physical_name(kind, name, autonamed=autonamed) == name


@pytest.mark.parametrize("kind", sorted(MIN_LENGTHS))
def test_a_name_too_short_is_lengthened(kind: str) -> None:
    assert len(physical_name(kind, "a")) >= MIN_LENGTHS[kind]


@SETTINGS
@given(kind=kinds, autonamed=st.booleans(), data=st.data())
def test_a_name_too_long_keeps_its_start(kind: str, autonamed: bool, data: st.DataObject) -> None:
    limit = limit_for(kind, autonamed)
    name = data.draw(sanitized(min_size=limit + 1, max_size=limit + 200))

    shortened = physical_name(kind, name, autonamed=autonamed)

    assert len(shortened) <= limit
    assert "--" not in shortened
    kept, _, digest = shortened.rpartition("-")
    assert digest
    assert name.startswith(kept)
    assert len(kept) >= limit // 2  # most of the readable start survives


@SETTINGS
@given(kind=kinds, autonamed=st.booleans(), data=st.data())
def test_distinct_long_names_stay_distinct(kind: str, autonamed: bool, data: st.DataObject) -> None:
    limit = limit_for(kind, autonamed)
    # Share everything that survives truncation, so only the hash can tell them apart.
    common = data.draw(sanitized(min_size=limit, max_size=limit + 100))
    tail_a = data.draw(st.text(SAFE, min_size=1, max_size=30))
    tail_b = data.draw(st.text(SAFE, min_size=1, max_size=30))
    assume(tail_a != tail_b)

    a = physical_name(kind, common, tail_a, autonamed=autonamed)
    b = physical_name(kind, common, tail_b, autonamed=autonamed)

    assert a != b


@SETTINGS
@given(kind=kinds, data=st.data())
def test_distinct_long_independent_names_stay_distinct(kind: str, data: st.DataObject) -> None:
    limit = limit_for(kind, False)
    a = data.draw(sanitized(min_size=limit + 1, max_size=limit + 100))
    b = data.draw(sanitized(min_size=limit + 1, max_size=limit + 100))
    assume(a != b)

    assert physical_name(kind, a) != physical_name(kind, b)


def test_a_hyphen_at_the_cut_never_doubles() -> None:
    for kind in NAME_LIMITS:
        for autonamed in (False, True):
            limit = limit_for(kind, autonamed)
            for position in range(limit - 12, limit + 1):
                name = physical_name(kind, "a" * position, "b" * 50, autonamed=autonamed)
                assert len(name) <= limit
                assert "--" not in name, name
                assert not name.endswith("-"), name


def test_autonamed_names_leave_room_for_the_suffix() -> None:
    for kind in NAME_LIMITS:
        long_name = "a" * (NAME_LIMITS[kind] + 50)
        assert len(physical_name(kind, long_name, autonamed=True)) + AUTONAME_SUFFIX <= NAME_LIMITS[kind]


# --- standard_tags ---------------------------------------------------------------------------

TAG_ALPHABET = string.ascii_letters + string.digits + " _.:/=+-@"
tag_keys = st.text(TAG_ALPHABET, min_size=1, max_size=40).filter(
    lambda k: k not in RESERVED_TAG_KEYS and not k.lower().startswith("aws:")
)
extra_tags = st.dictionaries(tag_keys, st.text(TAG_ALPHABET, max_size=40), max_size=40)


@SETTINGS
@given(environment=st.sampled_from(sorted(PROFILES)), tags=extra_tags, stack=st.text(min_size=1, max_size=30))
def test_standard_tags_add_the_reserved_keys_to_the_stack_tags(environment: str, tags: dict, stack: str) -> None:
    cfg = validate({"environment": environment, "tags": tags}, "us-east-1")

    result = standard_tags(cfg, stack)

    assert result["project"] == PROJECT
    assert result["stack"] == stack
    assert result["environment"] == environment
    assert result["managed-by"]
    # Exactly the keys config reserves are the ones the program adds, so no stack tag is lost.
    assert set(result) - set(tags) == set(RESERVED_TAG_KEYS)
    assert {k: result[k] for k in tags} == tags
    assert len(result) < 50  # AWS's per-resource tag limit, with room for the Name tag
