"""tools/diff.py: the comparison of two plans, the replace-forcing table, secrets, SARIF.

The plans here are made in this process from this checkout (tools/plan_state.plan_stack, the
same code the review runs in a subprocess per tree), with config overrides or hand-made edits
as the change under review. tests/test_diff_history.py runs the whole tool on git history.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tools import diff, plan_state, sarif
from tools import offline as engine
from tools.cost import Prices
from tools.offline import ROOT, STACKS, Registered, Run, encode_config, mock_secret, stack_config

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
PLAINER = plan_state.Plainer(ROOT, b"test key")
TABLE = diff.Replacements.load()
PRICES = Prices.load()


def plan(stack: str, overrides: dict[str, Any] | None = None) -> diff.StackPlan:
    """`stack` planned as the review plans it, with `aws-patterns:*` keys replaced by `overrides`."""
    config = stack_config(stack)
    config.update(encode_config(overrides or {}))
    state = plan_state.plan_stack(engine, ROOT, stack, PLAINER, config)
    return diff.load_state({"stacks": [state]})[stack]


@pytest.fixture(scope="module")
def dev() -> diff.StackPlan:
    return plan("dev")


@pytest.fixture(scope="module")
def prod() -> diff.StackPlan:
    return plan("prod")


def edited(base: diff.StackPlan, keep: Any = lambda r: True) -> diff.StackPlan:
    """A deep copy of `base` with only the resources `keep` accepts (the head of a hand-made change)."""
    head = copy.deepcopy(base)
    assert head.run is not None
    head.run.resources = [r for r in head.run.resources if keep(r)]
    return head


def one(p: diff.StackPlan, type_: str, name: str) -> Registered:
    assert p.run is not None
    return p.run.one(type_, name)


# --- the replace-forcing table -----------------------------------------------------------------


def test_every_resource_type_the_program_registers_has_a_row_in_the_replacement_table() -> None:
    missing = diff.missing_types(STACKS)
    assert not missing, (
        f"tools/replacements.yaml has no row for {missing}: add each with the inputs its provider "
        "schema marks ForceNew (replace: [...]) and the source you took them from"
    )


def _inputs(type_: str) -> set[str]:
    """The input names (snake_case) of the pulumi_aws resource class of `type_`."""
    module = type_.split(":")[1].partition("/")[0]
    package = importlib.import_module(f"pulumi_aws.{module}_" if module == "lambda" else f"pulumi_aws.{module}")
    resource = getattr(package, type_.rsplit(":", 1)[1])
    return set(inspect.signature(resource._internal_init).parameters)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_replace_forcing_property_is_an_input_of_its_type() -> None:
    wrong = []
    for type_, props in TABLE.types.items():
        if type_.startswith("pulumi:providers:"):
            continue
        inputs = _inputs(type_)
        wrong += [f"{type_}.{p}" for p in props if _snake(p) not in inputs]
    assert not wrong, f"not inputs of their type (typo or renamed upstream): {wrong}"


def test_every_row_of_the_replacement_table_names_its_source() -> None:
    rows = yaml.safe_load(diff.REPLACEMENTS_FILE.read_text())["types"]
    assert [t for t, row in rows.items() if not str(row.get("source", "")).strip()] == []


def test_a_path_under_a_forcing_property_forces_and_a_sibling_does_not() -> None:
    table = diff.Replacements({"t": ("hashKey", "tunnel1InsideCidr")}, {})
    assert table.forcing("t", "hashKey") == "hashKey"
    assert table.forcing("t", "tunnel1InsideCidr") == "tunnel1InsideCidr"
    assert table.forcing("t", "hashKeyType") is None
    assert table.forcing("t", "attributes[0].name") is None


# --- comparing plans ---------------------------------------------------------------------------


def test_the_same_program_twice_has_no_changes(dev: diff.StackPlan) -> None:
    report = diff.compare_stack(dev, plan("dev"), TABLE, PRICES)
    assert report.empty and report.changes == []


def test_a_vpc_cidr_change_replaces_what_cannot_move_with_it() -> None:
    base = plan("staging")
    head = plan("staging", {"network": {"enabled": True, "cidr": "10.99.0.0/16"}})
    report = diff.compare_stack(base, head, TABLE, PRICES)
    by_name = {(c.type, c.name): c for c in report.changes}
    vpc = by_name[("aws:ec2/vpc:Vpc", "network")]
    assert (vpc.action, vpc.reasons) == ("replace", ["cidrBlock"])
    # A security group's own inputs do not change: it is replaced because its VPC is.
    groups = [c for c in report.changes if c.type == "aws:ec2/securityGroup:SecurityGroup"]
    assert groups and all(c.action == "replace" and c.reasons == ["vpcId (from network, replaced)"] for c in groups)
    assert not report.data_loss  # a network holds no data
    # ... while the database inside it is moved, not replaced (its subnet group is).
    assert by_name[("aws:rds/instance:Instance", "multi-tier-db")].action != "replace"


def test_deleting_an_audit_log_group_is_data_loss_and_a_function_log_group_is_not(prod: diff.StackPlan) -> None:
    flow_logs = one(prod, "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    report = diff.compare_stack(prod, edited(prod, lambda r: r.urn != flow_logs.urn), TABLE, PRICES)
    assert [(c.action, c.name, c.stateful) for c in report.data_loss] == [
        ("delete", "network-flow-logs", "audit log group")
    ]
    function_logs = one(prod, "aws:cloudwatch/logGroup:LogGroup", "users")
    report = diff.compare_stack(prod, edited(prod, lambda r: r.urn != function_logs.urn), TABLE, PRICES)
    assert [c.action for c in report.changes if c.name == "users" and c.type.endswith("LogGroup")] == ["delete"]
    assert report.data_loss == []


def test_a_protected_stateful_resource_replaced_is_reported_with_its_protection(prod: diff.StackPlan) -> None:
    head = edited(prod)
    table = one(head, "aws:dynamodb/table:Table", "users")
    table.inputs["rangeKey"] = "createdAt"
    report = diff.compare_stack(prod, head, TABLE, PRICES)
    (change,) = report.data_loss
    assert (change.action, change.reasons, change.protected) == ("replace", ["rangeKey"], True)
    assert any("protected" in note for note in change.notes)


def test_secrets_are_masked_and_a_changed_secret_still_shows(prod: diff.StackPlan) -> None:
    def tunnels(key: str) -> dict[str, Any]:
        return {
            "hybrid": {
                "enabled": True,
                "customerGatewayIp": "198.51.100.7",
                "customerGatewayAsn": 65010,
                "onPremisesCidrs": ["192.168.0.0/20"],
                "tunnels": [
                    {"insideCidr": "169.254.10.0/30", "presharedKey": {"secure": key}},
                    {"insideCidr": "169.254.10.4/30"},
                ],
            }
        }

    base, head = plan("prod", tunnels("v1:old-cipher")), plan("prod", tunnels("v1:new-cipher"))
    vpn = one(head, "aws:ec2/vpnConnection:VpnConnection", "hybrid")
    assert "tunnel1PresharedKey" in head.meta[vpn.urn]["secret_paths"]
    report = diff.compare_stack(base, head, TABLE, PRICES)
    (change,) = [c for c in report.changes if c.type == "aws:ec2/vpnConnection:VpnConnection"]
    assert [(p.path, p.before, p.after) for p in change.paths] == [("tunnel1PresharedKey", "[secret]", "[secret]")]
    everything = json.dumps(diff.to_json(diff.Report("b", "0" * 40, "h", [report]))) + diff.markdown(
        diff.Report("b", "0" * 40, "h", [report])
    )
    for ciphertext in ("v1:old-cipher", "v1:new-cipher"):
        assert mock_secret(ciphertext) not in everything
        assert mock_secret(ciphertext) not in json.dumps(head.run.resources[-1].inputs)


def _component(name: str, child: str, aliases: list[str] | None = None) -> list[Registered]:
    def reg(type_: str, res_name: str, parent: str, custom: bool, inputs: dict[str, Any], als: list[str]) -> Registered:
        urn = plan_state.make_urn("dev", "aws-patterns", parent, type_, res_name)
        return Registered(type_, res_name, urn, None, custom, inputs, {}, parent, "", [], {}, False, als)

    comp = reg("aws-patterns:demo:Demo", name, "", False, {}, aliases or [])
    table = reg("aws:sqs/queue:Queue", child, comp.urn, True, {"delaySeconds": 5, "tags": {"team": "a"}}, [])
    return [comp, table]


def _plan(resources: list[Registered]) -> diff.StackPlan:
    return diff.StackPlan("dev", "dev", "aws-patterns", Run("dev", False, resources))


def test_a_renamed_component_carries_its_children_when_it_has_the_alias() -> None:
    base = _plan(_component("orders", "orders-queue"))
    renamed = diff.StackComparison(base, _plan(_component("sales", "sales-queue")), TABLE).compare()
    component, queue = sorted(renamed, key=lambda c: c.name)
    assert (component.action, component.name, component.alias) == (
        "rename",
        "sales",
        'aliases=[pulumi.Alias(name="orders")]',
    )
    # The queue's name follows its parent's, so the parent's alias keeps it too: one fix, not two.
    assert (queue.action, queue.name, queue.covered_by, queue.alias) == ("rename", "sales-queue", "sales", None)
    assert queue.data_loss
    old_component = base.run.resources[0].urn
    aliased = _plan(_component("sales", "sales-queue", aliases=[old_component]))
    assert diff.StackComparison(base, aliased, TABLE).compare() == []


def test_a_renamed_resource_gets_the_alias_with_its_old_name() -> None:
    base = _plan(_component("orders", "queue"))
    (change,) = diff.StackComparison(base, _plan(_component("orders", "jobs")), TABLE).compare()
    assert (change.action, change.old_name, change.alias) == ("rename", "queue", 'aliases=[pulumi.Alias(name="queue")]')


def test_data_loss_fails_unless_allowed() -> None:
    base = _plan(_component("orders", "queue"))
    stack = diff.compare_stack(base, _plan(_component("orders", "jobs")), TABLE, PRICES)
    assert diff.Report("b", "0" * 40, "h", [stack]).status == 1
    assert diff.Report("b", "0" * 40, "h", [stack], allow_data_loss=True).status == 0


def test_the_diagram_marks_added_changed_and_removed_nodes(dev: diff.StackPlan) -> None:
    bus = one(dev, "aws:cloudwatch/eventBus:EventBus", "bus")
    dlq = one(dev, "aws:sqs/queue:Queue", "orderProcessing-dlq")
    base = edited(dev, lambda r: r.urn != bus.urn)  # the head adds the bus ...
    head = edited(dev, lambda r: r.urn != dlq.urn)  # ... removes the dead-letter queue ...
    one(head, "aws:dynamodb/table:Table", "users").inputs["billingMode"] = "PROVISIONED"  # ... changes a table
    mermaid = diff.compare_stack(base, head, TABLE, PRICES).diagram
    ids = {label: node for node, label in re.findall(r'^\s*(\w+)\["(.*)"\]$', mermaid, re.MULTILINE)}
    classes = dict(re.findall(r"^  class (\S+) (\w+)$", mermaid, re.MULTILINE))
    marked = {node: kind for nodes, kind in classes.items() for node in nodes.split(",")}
    assert marked[ids["EventBridge bus<br/>bus"]] == "added"
    assert marked[ids["DynamoDB table<br/>users"]] == "changed"
    (removed,) = [label for label, node in ids.items() if marked.get(node) == "removed"]
    assert removed.startswith("SQS queue<br/>orderProcessing-dlq")
    assert ids["Lambda<br/>users"] not in marked  # untouched nodes stay plain


# --- output ------------------------------------------------------------------------------------


def _report_with_findings(p: diff.StackPlan) -> diff.Report:
    stack = diff.compare_stack(p, p, TABLE, PRICES)
    assert stack.head_findings, "dev has advisory findings (README: dev's documented trade-offs)"
    return diff.Report("HEAD~1", "0" * 40, "head", [stack])


def test_sarif_validates_against_the_published_schema(dev: diff.StackPlan) -> None:
    log = sarif.log(_report_with_findings(dev), {"dev": dev})
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    results = log["runs"][0]["results"]
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        source = ROOT / location["artifactLocation"]["uri"]
        assert source.is_file() and location["region"]["startLine"] <= len(source.read_text().splitlines())
    assert len({tuple(r["partialFingerprints"].values()) for r in results}) == len(results)


def test_the_schema_check_rejects_a_malformed_result(dev: diff.StackPlan) -> None:
    log = sarif.log(_report_with_findings(dev), {"dev": dev})
    del log["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(log)


def test_an_empty_report_says_so(dev: diff.StackPlan) -> None:
    report = diff.Report("HEAD", "0" * 40, "head", [diff.compare_stack(dev, dev, TABLE, PRICES)])
    text = diff.markdown(report)
    assert text.startswith(diff.MARKER) and "No changes to any stack." in text
    assert diff.to_json(report)["empty"] is True and report.status == 0


def test_a_base_that_is_not_a_commit_exits_2_saying_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert diff.main(["--base", "no-such-ref-anywhere", "--quiet"]) == 2
    assert "is not a commit" in capsys.readouterr().err


def test_a_base_that_needs_other_mocks_is_planned_with_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "offline.py").write_text("")
    engines_used = []

    class Tree:
        def __init__(self, repo: Path, sha: str) -> None:
            pass

        def __enter__(self) -> Path:
            return tmp_path

        def __exit__(self, *exc: object) -> None:
            pass

    def plan_trees(trees: dict, stacks: list, key: str, engines: dict | None = None) -> dict:
        engines_used.append(engines)
        ok = diff.StackPlan("dev", run=Run("dev", False))
        unanswered = diff.StackPlan("dev", error="NotImplementedError: the test mocks do not answer the invoke x")
        plans = {"base": {"dev": ok if engines else unanswered}}
        return {**plans, "head": {"dev": ok}} if "head" in trees else plans

    monkeypatch.setattr(diff, "Worktree", Tree)
    monkeypatch.setattr(diff, "plan_trees", plan_trees)
    base, head, own_mocks = diff._plan_base(tmp_path, "0" * 40, ["dev"])
    assert own_mocks and base["dev"].error is None and head["dev"].error is None
    assert engines_used == [None, {"base": tmp_path / "tools" / "offline.py"}]

    # This checkout's engine may not even load against an older base (it imports components the
    # base lacks): the base is planned with its own engine, the head on its own.
    def failing_together(trees: dict, stacks: list, key: str, engines: dict | None = None) -> dict:
        engines_used.append(engines)
        if "base" in trees and not engines:
            raise diff.DiffError("the offline plan of the base tree failed: ModuleNotFoundError")
        return {side: {"dev": diff.StackPlan("dev", run=Run("dev", False))} for side in trees}

    engines_used.clear()
    monkeypatch.setattr(diff, "plan_trees", failing_together)
    base, head, own_mocks = diff._plan_base(tmp_path, "0" * 40, ["dev"])
    assert own_mocks and base["dev"].error is None and head["dev"].error is None
    assert engines_used == [None, None, {"base": tmp_path / "tools" / "offline.py"}]
