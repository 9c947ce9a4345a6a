"""The estimated duration of a fresh `pulumi up`: the table's coverage and provenance, and the
critical path on a small graph and on the prod stack."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import yaml

from tools import cost
from tools.estimate import DURATIONS_FILE, Durations, Estimate, critical_path, render, waits_for
from tools.offline import STACKS, Registered, Run, run_cached

TABLE = yaml.safe_load(DURATIONS_FILE.read_text())


def _res(name: str, type_: str = "t:slow", parent: str = "", custom: bool = True, **deps: Any) -> Registered:
    return Registered(
        type=type_,
        name=name,
        urn=f"urn:{name}",
        id=None,
        custom=custom,
        inputs=deps.pop("inputs", {}),
        outputs={},
        parent=parent,
        provider="",
        dependencies=[f"urn:{d}" for d in deps.pop("dependencies", [])],
        property_dependencies={k: [f"urn:{d}" for d in v] for k, v in deps.items()},
        protect=False,
        aliases=[],
    )


SECONDS = {"t:a": 10, "t:b": 5, "t:c": 20, "t:d": 1, "t:e": 25, "t:parent": 7}
FIXTURE = Durations({"types": {t: {"seconds": s, "source": "test"} for t, s in SECONDS.items()}})


def _chain(estimate: Estimate) -> list[tuple[str, float, float]]:
    return [(s.resource.name, s.start, s.seconds) for s in estimate.chain]


def test_longest_weighted_chain_wins_over_the_slowest_single_resource() -> None:
    run = Run(
        "fixture",
        False,
        [
            _res("a", "t:a"),
            _res("b", "t:b", dependencies=["a"]),
            _res("c", "t:c", source=["a"]),  # a property dependency alone is a wait
            _res("d", "t:d", dependencies=["b"], other=["c"]),
            _res("e", "t:e"),  # slowest alone (25 s) but shorter than a -> c -> d (31 s)
        ],
    )
    estimate = critical_path(run, FIXTURE)
    assert estimate.seconds == 31
    assert _chain(estimate) == [("a", 0, 10), ("c", 10, 20), ("d", 30, 1)]


def test_a_resource_parent_is_waited_for_and_a_component_parent_is_not() -> None:
    component = _res("component", "t:component", custom=False)
    run = Run(
        "fixture",
        False,
        [
            component,
            _res("parent", "t:parent", parent=component.urn),
            _res("child", "t:d", parent="urn:parent"),
            _res("e", "t:e", parent=component.urn),
        ],
    )
    assert waits_for(run)["urn:child"] == {"urn:parent"}
    assert waits_for(run)["urn:e"] == set()
    assert _chain(critical_path(run, FIXTURE)) == [("e", 0, 25)]
    run.resources[1] = _res("parent", "t:e", parent=component.urn)  # 25 + 1 now beats e alone
    assert _chain(critical_path(run, FIXTURE)) == [("parent", 0, 25), ("child", 25, 1)]


def test_ties_break_the_same_way_on_every_run() -> None:
    resources = [_res("x", "t:b"), _res("y", "t:b"), _res("z", "t:d", dependencies=["y", "x"])]
    chains = {tuple(_chain(critical_path(Run("f", False, order), FIXTURE))) for order in (resources, resources[::-1])}
    assert chains == {(("x", 0, 5), ("z", 5, 1))}


def test_a_cycle_and_an_unknown_type_are_errors_naming_them() -> None:
    cycle = Run("f", False, [_res("p", "t:a", dependencies=["q"]), _res("q", "t:a", dependencies=["p"])])
    with pytest.raises(ValueError, match="cycle"):
        critical_path(cycle, FIXTURE)
    with pytest.raises(KeyError, match="no duration for t:unknown"):
        critical_path(Run("f", False, [_res("u", "t:unknown")]), FIXTURE)


def test_variants_pick_the_figure_by_input() -> None:
    durations = Durations.load()
    single = _res("db", "aws:rds/instance:Instance", inputs={"multiAz": False})
    multi = _res("db", "aws:rds/instance:Instance", inputs={"multiAz": True})
    assert (
        durations.seconds(multi) > durations.seconds(single) == TABLE["types"]["aws:rds/instance:Instance"]["seconds"]
    )


def _program_types() -> set[str]:
    """Every custom type the shipped stacks register, and every type tools/cost.py knows of."""
    registered = {r.type for s in STACKS for r in run_cached(s, preview=False).resources if r.custom}
    return registered | set(cost.ALWAYS_ON) | set(cost.USAGE) | cost.FREE


def test_every_type_the_program_creates_has_a_duration() -> None:
    missing = sorted(_program_types() - set(TABLE["types"]))
    assert missing == [], f"add these to tools/durations.yaml, with a source: {missing}"


def test_every_figure_cites_a_source() -> None:
    sources = TABLE["sources"]
    for key, text in sources.items():
        assert "https://" in text or key == "no-call", key
    entries = [(t, e) for t, entry in TABLE["types"].items() for e in [entry, *entry.get("variants", [])]]
    for type_, entry in entries:
        assert isinstance(entry["seconds"], int) and entry["seconds"] >= 0, type_
        source = entry["source"]
        cited = "https://" in source or source in sources or any(f"({key})" in source for key in sources)
        assert cited, f"{type_}: cite a URL or one of {sorted(sources)}"
        if "timeout" in entry:
            assert re.fullmatch(r"\d+m", entry["timeout"]), type_
            assert entry["seconds"] < int(entry["timeout"][:-1]) * 60, f"{type_}: a typical figure above its timeout"


def test_prod_estimate_is_its_longest_chain() -> None:
    run = run_cached("prod", preview=False)
    durations = Durations.load()
    estimate = critical_path(run, durations)
    waits = waits_for(run)
    chain = estimate.chain
    assert chain[0].start == 0
    for before, after in itertools.pairwise(chain):
        assert before.resource.urn in waits[after.resource.urn], "each link waits for the one before"
        assert after.start == before.start + before.seconds
    assert estimate.seconds == sum(step.seconds for step in chain)
    # The same figure by relaxing every edge until nothing changes (no recursion, no ordering).
    finish = {r.urn: durations.seconds(r) for r in run.resources}
    changed = True
    while changed:
        changed = False
        for res in run.resources:
            latest = max((finish[u] for u in waits[res.urn]), default=0.0) + durations.seconds(res)
            if latest > finish[res.urn]:
                finish[res.urn], changed = latest, True
    assert estimate.seconds == max(finish.values())
    text = render(estimate, run, durations)
    assert text.startswith("Estimated duration of a fresh `pulumi up`: about ")
    assert "Slowest single resource: aws:rds/instance:Instance" in text
