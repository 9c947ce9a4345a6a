"""The committed URN snapshots (snapshots/<stack>.txt) match what the program registers.

A URN that changes without an alias is a resource `pulumi up` replaces; this suite fails on it
and says how to either keep the resource or accept the change (`make snapshots`).
"""

from __future__ import annotations

import pytest

from tools import snapshots
from tools.offline import STACKS, Registered, Run
from tools.plan_state import make_urn


@pytest.mark.parametrize("stack", STACKS)
def test_every_urn_is_in_the_snapshot_and_none_changed_without_an_alias(stack: str) -> None:
    found = snapshots.drift(snapshots.read(stack), snapshots.program_run(stack))
    assert not found, found.message(stack)


def _queue(name: str, aliases: list[str] | None = None) -> Registered:
    urn = make_urn("dev", "aws-patterns", "", "aws:sqs/queue:Queue", name)
    return Registered("aws:sqs/queue:Queue", name, urn, None, True, {}, {}, "", "", [], {}, False, aliases or [])


def test_a_renamed_resource_fails_until_an_alias_keeps_it() -> None:
    before = _queue("orders")
    found = snapshots.drift([before.urn], Run("dev", False, [_queue("jobs")]))
    assert found.lost == [before.urn] and "make snapshots" in found.message("dev")
    assert "aliases=" in found.message("dev")
    assert not snapshots.drift([before.urn], Run("dev", False, [_queue("jobs", aliases=[before.urn])]))


def test_a_new_resource_asks_for_a_refresh() -> None:
    found = snapshots.drift([], Run("dev", False, [_queue("jobs")]))
    assert found.new and not found.lost and "refresh with `make snapshots`" in found.message("dev")
