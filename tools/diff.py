"""Offline change review: what a pull request does to every shipped stack, before anyone deploys it.

    python -m tools.diff --base origin/main          # or: make diff BASE=origin/main
    python -m tools.diff --base HEAD~1 --stack prod --out report/
    python -m tools.diff --base main --allow-data-loss

The offline plan of every stack runs twice, at BASE (checked out in a temporary git worktree) and
in the working tree, each in its own process under the same mocks (tools/plan_state.py). The
two plans are compared the way the engine would compare state with the program:

- resources created, deleted and updated, with the input paths that change (secrets masked);
- replacements: a URN that disappears while one of the same type and similar inputs appears is a
  rename, reported with the `aliases=` that keeps the resource; a change of a property the
  provider cannot update in place is reported with that property (tools/replacements.yaml),
  and replacements cascade to the resources whose replace-forcing inputs come from them;
- data-loss risk: a stateful resource (database, table, bucket, queue, key, secret, audit log
  group) deleted or replaced. The exit status is 1 unless --allow-data-loss;
- the always-on monthly cost before and after, per component (tools/cost.py);
- Well-Architected findings new and resolved, by pillar (tools/review.py);
- the head architecture diagram with added, changed and removed nodes marked (tools/diagram.py).

Output: Markdown on stdout (a PR comment, $GITHUB_STEP_SUMMARY), and with --out the same as
diff.md, the report as diff.json and the head's findings as review.sarif (SARIF 2.1.0, tools/sarif.py).
Exit status: 0 reviewed, 1 data-loss risk, 2 the review could not run (bad ref, a plan failed).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from policy.wellarchitected import PILLARS, Finding
from tools import cost, diagram, review
from tools.offline import ROOT, Registered, Run
from tools.plan_state import ENGINE_ENV, KEY_ENV, join, make_urn, urn_name

REPLACEMENTS_FILE = Path(__file__).resolve().parent / "replacements.yaml"
PLAN_STATE = Path(__file__).resolve().parent / "plan_state.py"
MARKER = "<!-- aws-patterns:diff -->"  # finds the sticky PR comment to update

# Resources that hold data: deleting or replacing one loses it (or, for a key, makes it unreadable).
STATEFUL = {
    "aws:rds/instance:Instance": "RDS instance",
    "aws:rds/cluster:Cluster": "Aurora cluster",
    "aws:dynamodb/table:Table": "DynamoDB table",
    "aws:s3/bucket:Bucket": "S3 bucket",
    "aws:s3/bucketV2:BucketV2": "S3 bucket",
    "aws:sqs/queue:Queue": "SQS queue",
    "aws:kms/key:Key": "KMS key",
    "aws:secretsmanager/secret:Secret": "Secrets Manager secret",
    "aws:cognito/userPool:UserPool": "Cognito user pool",  # its users and their passwords
    "aws:cloudwatch/logGroup:LogGroup": "audit log group",
    "aws:cloudwatch/eventArchive:EventArchive": "EventBridge archive",  # the events kept for replay
}
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# A log group holds audit records when one of these writes to it: network flows, API access
# logs, VPN tunnel activity, API calls, WAF decisions. Function logs are not audit logs.
AUDIT_WRITERS = frozenset(
    {
        "aws:ec2/flowLog:FlowLog",
        "aws:apigateway/stage:Stage",
        "aws:apigatewayv2/stage:Stage",
        "aws:ec2/vpnConnection:VpnConnection",
        "aws:cloudtrail/trail:Trail",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
    }
)
RENAME_MIN_INPUTS = 0.5  # share of input leaves two resources must agree on to be one renamed
RENAME_MIN_SCORE = 0.6  # ... and with the names' likeness weighed in
SHOWN_PATHS = 8  # changed paths per resource in the Markdown (the JSON has all)


# One key per process, so a cached plan and a new one digest an unchanged secret alike.
_KEY = os.urandom(32).hex()
# A commit plans the same every time: the base of several reviews in one process is planned once.
_BASE_PLANS: dict[tuple[str, tuple[str, ...]], dict[str, StackPlan]] = {}


class DiffError(Exception):
    """The review cannot run; the message says why and what to do."""


# --- loading both sides ------------------------------------------------------------------------


@dataclass
class StackPlan:
    """One stack's offline plan on one side of the diff."""

    stack: str
    environment: str = ""
    project: str = ""
    run: Run | None = None
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # urn -> plan_state extras
    error: str | None = None
    missing: bool = False


def load_state(data: dict[str, Any]) -> dict[str, StackPlan]:
    names = {f.name for f in fields(Registered)}
    plans = {}
    for entry in data["stacks"]:
        plan = StackPlan(entry["stack"], missing=entry.get("missing", False), error=entry.get("error"))
        if "resources" in entry:
            plan.environment, plan.project = entry["environment"], entry["project"]
            plan.run = Run(stack=plan.stack, preview=False)
            for raw in entry["resources"]:
                plan.run.resources.append(Registered(**{k: v for k, v in raw.items() if k in names}))
                plan.meta[raw["urn"]] = {k: v for k, v in raw.items() if k not in names}
        plans[plan.stack] = plan
    return plans


def _git(repo: Path, *args: str) -> str:
    git = ["git", "-C", str(repo), *args]
    proc = subprocess.run(git, capture_output=True, text=True, check=False)  # noqa: S603 - git, our arguments
    if proc.returncode:
        raise DiffError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def resolve(repo: Path, ref: str) -> str:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except DiffError:
        raise DiffError(
            f"{ref!r} is not a commit of {repo} (a shallow clone needs `fetch-depth: 0` or a fetch of the base)"
        ) from None


def stacks_in(tree: Path) -> set[str]:
    return {p.name.split(".")[1] for p in tree.glob("Pulumi.*.yaml")}


def plan_trees(
    trees: dict[str, Path], stacks: list[str], key: str, engines: dict[str, Path] | None = None
) -> dict[str, dict[str, StackPlan]]:
    """The plans of every tree, each in its own process, all at once (`engines`: a side's own
    tools/offline.py instead of this checkout's)."""
    with tempfile.TemporaryDirectory(prefix="aws-patterns-diff-") as tmp:
        work = Path(tmp)
        procs = {}
        for side, tree in trees.items():
            # A private temp dir per side: the program writes build artifacts there by content hash.
            (work / f"{side}-tmp").mkdir()
            env = {**os.environ, KEY_ENV: key, "TMPDIR": str(work / f"{side}-tmp")}
            if engines and side in engines:
                env[ENGINE_ENV] = str(engines[side])
            cmd = [sys.executable, str(PLAN_STATE), str(tree), str(work / f"{side}.json"), *stacks]
            procs[side] = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
        plans = {}
        for side, proc in procs.items():
            _, err = proc.communicate()
            if proc.returncode:
                raise DiffError(f"the offline plan of the {side} tree failed:\n{err.strip()}")
            plans[side] = load_state(json.loads((work / f"{side}.json").read_text()))
        return plans


def _plan_base(repo: Path, sha: str, stacks: list[str]) -> tuple[dict[str, StackPlan], dict[str, StackPlan], bool]:
    """Both sides' plans, and whether the base needed its own mocks.

    Both sides use this checkout's mocks, so only the program differs. A base newer than this
    checkout (`make diff BASE=main` on a branch behind it) may call what these mocks do not
    answer; its own tools/offline.py plans it then, and the report says so."""
    with Worktree(repo, sha) as base_tree:
        own = base_tree / "tools" / "offline.py"
        try:
            plans = plan_trees({"base": base_tree, "head": repo}, stacks, _KEY)
            failed = any(p.error for p in plans["base"].values())
        except DiffError:
            # This checkout's engine did not even load against the base (it imports components
            # the base does not have): the base can only be planned with its own.
            if not own.exists():
                raise
            plans, failed = {"head": plan_trees({"head": repo}, stacks, _KEY)["head"]}, True
        if failed and own.exists():
            retry = plan_trees({"base": base_tree}, stacks, _KEY, engines={"base": own})["base"]
            if not any(p.error for p in retry.values()) or "base" not in plans:
                return retry, plans["head"], True
    return plans["base"], plans["head"], False


class Worktree:
    """A temporary detached worktree of `sha`, removed on exit."""

    def __init__(self, repo: Path, sha: str) -> None:
        self.repo, self.sha = repo, sha
        self.path = Path(tempfile.mkdtemp(prefix="aws-patterns-base-")) / "tree"

    def __enter__(self) -> Path:
        _git(self.repo, "worktree", "add", "--detach", "--quiet", str(self.path), self.sha)
        return self.path

    def __exit__(self, *exc: object) -> None:
        _git(self.repo, "worktree", "remove", "--force", str(self.path))
        self.path.parent.rmdir()


# --- the replace-forcing table -----------------------------------------------------------------


@dataclass(frozen=True)
class Replacements:
    """Per resource type, the inputs the provider cannot change in place (tools/replacements.yaml)."""

    types: dict[str, tuple[str, ...]]
    notes: dict[str, dict[str, str]]

    @classmethod
    def load(cls, path: Path = REPLACEMENTS_FILE) -> Replacements:
        rows = yaml.safe_load(path.read_text())["types"]
        return cls(
            {t: tuple(row.get("replace") or ()) for t, row in rows.items()},
            {t: dict(row.get("notes") or {}) for t, row in rows.items()},
        )

    def known(self, type_: str) -> bool:
        return type_ in self.types

    def forcing(self, type_: str, path: str) -> str | None:
        """The replace-forcing property `path` falls under, if any."""
        return next((prop for prop in self.types.get(type_, ()) if _under(path, prop)), None)

    def note(self, type_: str, path: str) -> str | None:
        return next((text for prop, text in self.notes.get(type_, {}).items() if _under(path, prop)), None)


def missing_types(stacks: Iterable[str] | None = None) -> list[str]:
    """Resource types the shipped stacks register that tools/replacements.yaml does not cover."""
    from tools.offline import STACKS, run_cached

    table = Replacements.load()
    registered = {r.type for s in stacks or STACKS for r in run_cached(s, preview=True).resources if r.custom}
    return sorted(t for t in registered if not table.known(t))


# --- comparing one stack -----------------------------------------------------------------------


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf paths of a value (`a.b[0].c`); masked secrets and hashed assets are leaves."""
    if isinstance(value, dict) and value and not (len(value) == 1 and next(iter(value)).startswith("__")):
        return {p: v for k, item in value.items() for p, v in flatten(item, join(path, k)).items()}
    if isinstance(value, list) and value:
        return {p: v for i, item in enumerate(value) for p, v in flatten(item, f"{path}[{i}]").items()}
    return {path: value}


def _under(path: str, prop: str) -> bool:
    return path == prop or path.startswith((f"{prop}.", f"{prop}["))


def normalized(plan: StackPlan, res: Registered, ident: Callable[[str], str]) -> dict[str, Any]:
    """`res`'s inputs as leaves, with other resources' computed outputs replaced by a reference
    `${<identity urn>#<output>}`: the mocks derive ids and ARNs from logical names, so only the
    identity of what an input points at is comparable across the two sides."""
    leaves = flatten(res.inputs)
    for prop, deps in res.property_dependencies.items():
        tokens: dict[str, str] = {}
        for dep in deps:
            for key, value in plan.meta.get(dep, {}).get("computed", {}).items():
                token = f"${{{ident(dep)}#{key}}}"
                # Two dependencies can compute the same value (a function and a table both named
                # "orders"): the same choice on both sides keeps an unchanged input unchanged.
                tokens[value] = min(tokens.get(value, token), token)
        if not tokens:
            continue
        pattern = re.compile("|".join(re.escape(v) for v in sorted(tokens, key=lambda v: (-len(v), v))))
        for path, leaf in leaves.items():
            if isinstance(leaf, str) and _under(path, prop):
                leaves[path] = pattern.sub(lambda m, t=tokens: t[m.group(0)], leaf)
    return leaves


def inherited_alias(child: Registered, parent: Registered, parent_alias: str) -> str:
    """The alias the engine gives a child when its parent has `parent_alias` (the child's name
    follows a renamed parent's when it starts with the parent's name)."""
    name = child.name
    if name.startswith(parent.name):
        name = urn_name(parent_alias) + name[len(parent.name) :]
    stack, project = parent_alias.split("::")[0].removeprefix("urn:pulumi:"), parent_alias.split("::")[1]
    return make_urn(stack, project, parent_alias, child.type, name)


def alias_sets(run: Run) -> dict[str, set[str]]:
    """Every URN each resource also answers to: its own aliases and those inherited from parents."""
    by_urn = {r.urn: r for r in run.resources}
    out: dict[str, set[str]] = {}
    for res in run.resources:  # registration order: parents first
        names = set(res.aliases)
        parent = by_urn.get(res.parent)
        if parent is not None:
            names |= {inherited_alias(res, parent, a) for a in out.get(parent.urn, ())}
        out[res.urn] = names
    return out


@dataclass
class PathChange:
    path: str
    before: str
    after: str
    forces: str | None = None  # the replace-forcing property this path falls under


@dataclass
class Change:
    """One resource the deployment would touch."""

    action: str  # create, delete, update, replace, rename
    type: str
    name: str
    urn: str
    component: str
    old_urn: str | None = None
    old_name: str | None = None
    paths: list[PathChange] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why a replace: forcing properties, options
    alias: str | None = None  # the aliases= that keeps a renamed resource
    covered_by: str | None = None  # the renamed parent whose alias keeps this one too
    stateful: str | None = None
    protected: bool = False
    retained: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def data_loss(self) -> bool:
        return self.stateful is not None and self.action in {"delete", "replace", "rename"}


@dataclass
class CostDelta:
    before: float | None
    after: float | None
    by_component: dict[str, tuple[float, float]] = field(default_factory=dict)
    error: str | None = None

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)


@dataclass
class StackDiff:
    stack: str
    environment: str
    changes: list[Change] = field(default_factory=list)
    cost: CostDelta | None = None
    new_findings: list[Finding] = field(default_factory=list)
    resolved_findings: list[Finding] = field(default_factory=list)
    diagram: str = ""
    notes: list[str] = field(default_factory=list)
    head_findings: list[Finding] = field(default_factory=list)

    @property
    def data_loss(self) -> list[Change]:
        return [c for c in self.changes if c.data_loss]

    def count(self, action: str) -> int:
        return sum(c.action == action for c in self.changes)

    @property
    def empty(self) -> bool:
        no_cost = self.cost is None or abs(self.cost.delta) < 0.005
        return not (self.changes or self.new_findings or self.resolved_findings or self.notes) and no_cost


def _component(run: Run, res: Registered) -> str:
    owner = run.owner(res)
    return f"{owner.type.rsplit(':', 1)[-1]} {owner.name}" if owner else "(stack)"


def _is_audit_log(run: Run, res: Registered) -> bool:
    prefix = str(res.inputs.get("name") or res.inputs.get("namePrefix") or "")
    if prefix.startswith("aws-waf-logs-"):
        return True
    return any(
        r.type in AUDIT_WRITERS and res.urn in {u for urns in r.property_dependencies.values() for u in urns}
        for r in run.resources
    )


def _stateful(run: Run, res: Registered) -> str | None:
    kind = STATEFUL.get(res.type)
    if kind and res.type == LOG_GROUP and not _is_audit_log(run, res):
        return None
    return kind


def _show(value: Any, names: dict[str, str]) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, dict) and "__secret__" in value:
        return "[secret]"
    if isinstance(value, dict) and len(value) == 1:
        kind, digest = next(iter(value.items()))
        return f"{kind.strip('_')} {digest}"
    text = json.dumps(value) if not isinstance(value, str) else value
    text = re.sub(
        r"\$\{([^#}]+)#([^}]+)\}", lambda m: f"<{names.get(m.group(1), urn_name(m.group(1)))}.{m.group(2)}>", text
    )
    return text


def _window(before: str, after: str, width: int = 80) -> tuple[str, str]:
    """Both values cut to `width` characters around where they first differ (a policy document
    differs in one ARN, not in its first eighty characters)."""
    if len(before) <= width and len(after) <= width:
        return before, after
    same = next(
        (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), min(len(before), len(after))
    )
    start = max(0, same - 20)

    def cut(text: str) -> str:
        piece = text[start : start + width]
        return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")

    return cut(before), cut(after)


def _similarity(a: dict[str, Any], b: dict[str, Any]) -> float:
    keys = set(a) | set(b)
    if not keys:
        return 1.0
    return sum(a.get(k) == b.get(k) for k in keys) / len(keys)


def _by_type_only(leaves: dict[str, Any]) -> dict[str, Any]:
    """References reduced to the referenced type, for likeness across renamed neighbours."""

    def strip(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return re.sub(r"\$\{[^#}]*::([^:#}]+)::[^#}]*#", lambda m: "${" + m.group(1).rsplit("$", 1)[-1] + "#", value)

    return {k: strip(v) for k, v in leaves.items()}


def _alias_text(old: Registered, new: Registered) -> str:
    parts = []
    if old.name != new.name:
        parts.append(f'name="{old.name}"')
    if old.type != new.type:
        parts.append(f'type_="{old.type}"')
    old_parent_type = old.parent.split("::")[2] if old.parent else ""
    new_parent_type = new.parent.split("::")[2] if new.parent else ""
    if old_parent_type != new_parent_type:
        if old_parent_type in {"", "pulumi:pulumi:Stack"}:
            parts.append("parent=pulumi.ROOT_STACK_RESOURCE")
        else:
            parts.append(f'parent=<the {old_parent_type.rsplit("$", 1)[-1]} "{urn_name(old.parent)}" resource>')
    return f"aliases=[pulumi.Alias({', '.join(parts)})]"


class StackComparison:
    """Compares one stack's two plans as the engine compares state with a program."""

    def __init__(self, base: StackPlan, head: StackPlan, table: Replacements) -> None:
        assert base.run and head.run
        self.base, self.head, self.table = base, head, table
        self.b = {r.urn: r for r in base.run.resources}
        self.h = {r.urn: r for r in head.run.resources}
        self.names = {u: r.name for u, r in {**self.b, **self.h}.items()}
        # Same resource to the engine: same URN, or the head answers to the base URN by alias.
        aliases = alias_sets(head.run)
        owner = {a: urn for urn, names in aliases.items() for a in names}
        self.same: dict[str, str] = {}
        for urn in self.b:
            if urn in self.h:
                self.same[urn] = urn
            elif urn in owner and owner[urn] not in self.same.values():
                self.same[urn] = owner[urn]
        self.renamed: dict[str, str] = {}  # base urn -> head urn, not kept by an alias

    def ident(self, urn: str) -> str:
        return self.same.get(urn, urn)

    def compare(self) -> list[Change]:
        base_leaves = {u: normalized(self.base, r, self.ident) for u, r in self.b.items() if r.custom}
        head_leaves = {u: normalized(self.head, r, lambda x: x) for u, r in self.h.items() if r.custom}
        self._match_renames(base_leaves, head_leaves)
        changes: dict[str, Change] = {}
        for b_urn, h_urn in self.same.items():
            old, new = self.b[b_urn], self.h[h_urn]
            if not new.custom:
                continue
            change = self._update(old, new, base_leaves[b_urn], head_leaves[h_urn])
            if change:
                changes[h_urn] = change
        self._cascade(changes, head_leaves)
        for b_urn, h_urn in self.renamed.items():
            changes[h_urn] = self._rename(self.b[b_urn], self.h[h_urn], base_leaves, head_leaves)
        matched_head = set(self.same.values()) | set(self.renamed.values())
        for urn, res in self.h.items():
            if urn not in matched_head and res.custom:
                changes[urn] = Change("create", res.type, res.name, urn, _component(self.head.run, res))
        for urn, res in self.b.items():
            if urn not in self.same and urn not in self.renamed and res.custom:
                changes[urn] = self._delete(res)
        self._mark_stateful(changes)
        order = {"delete": 0, "rename": 1, "replace": 2, "update": 3, "create": 4}
        return sorted(changes.values(), key=lambda c: (order[c.action], c.component, c.type, c.name))

    # renames ---------------------------------------------------------------------------------

    def _match_renames(self, base_leaves: dict[str, dict], head_leaves: dict[str, dict]) -> None:
        gone = [r for u, r in self.b.items() if u not in self.same]
        new = [r for u, r in self.h.items() if u not in self.same.values()]
        candidates = []
        for old in (r for r in gone if r.custom):
            old_view = _by_type_only(base_leaves[old.urn])
            for cand in (r for r in new if r.custom and r.type == old.type):
                inputs = _similarity(old_view, _by_type_only(head_leaves[cand.urn]))
                named = difflib.SequenceMatcher(None, old.name, cand.name).ratio()
                score = 0.8 * inputs + 0.2 * named
                if inputs >= RENAME_MIN_INPUTS and score >= RENAME_MIN_SCORE:
                    candidates.append((score, old.urn, cand.urn))
        taken: set[str] = set()
        for _, old_urn, new_urn in sorted(candidates, reverse=True):
            if old_urn not in self.renamed and new_urn not in taken:
                self.renamed[old_urn] = new_urn
                taken.add(new_urn)
        # A component moved when most of its direct children moved to one new component; deepest
        # components first, so nested ones are known before their parents are judged.
        base_components = [r for r in reversed(self.base.run.resources) if not r.custom and r.urn not in self.same]
        head_components = {r.urn for r in new if not r.custom}
        for comp in base_components:
            kids = [r.urn for r in self.base.run.resources if r.parent == comp.urn]
            votes: dict[str, int] = defaultdict(int)
            for kid in kids:
                target = self.same.get(kid) or self.renamed.get(kid)
                if target and self.h[target].parent in head_components - taken:
                    votes[self.h[target].parent] += 1
            if votes:
                winner, count = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
                if 2 * count >= len(kids):
                    self.renamed[comp.urn] = winner
                    taken.add(winner)

    def _rename(self, old: Registered, new: Registered, base_leaves: dict, head_leaves: dict) -> Change:
        change = Change(
            "rename",
            new.type,
            new.name,
            new.urn,
            _component(self.head.run, new),
            old_urn=old.urn,
            old_name=old.name,
        )
        parent_old = self.b.get(old.parent)
        parent_new_urn = self.renamed.get(old.parent)
        if parent_old is not None and parent_new_urn == new.parent:
            follows = old.urn in {
                inherited_alias(new, self.h[new.parent], a) for a in {parent_old.urn} | set(self.h[new.parent].aliases)
            }
            if follows:
                change.covered_by = self.h[new.parent].name
        if change.covered_by is None:
            change.alias = _alias_text(old, new)
        if old.custom:
            change.paths = self._paths(old.type, base_leaves[old.urn], head_leaves[new.urn])
        return change

    # updates and replacements ----------------------------------------------------------------

    def _paths(self, type_: str, before: dict[str, Any], after: dict[str, Any]) -> list[PathChange]:
        out = []
        for path in sorted(set(before) | set(after)):
            if before.get(path) != after.get(path):
                old, new = _window(_show(before.get(path), self.names), _show(after.get(path), self.names))
                out.append(PathChange(path, old, new, self.table.forcing(type_, path)))
        return out

    def _update(self, old: Registered, new: Registered, before: dict, after: dict) -> Change | None:
        paths = self._paths(new.type, before, after)
        old_provider = self.ident(old.provider.rsplit("::", 1)[0]) if old.provider else ""
        new_provider = new.provider.rsplit("::", 1)[0] if new.provider else ""
        if not paths and old_provider == new_provider:
            return None
        change = Change("update", new.type, new.name, new.urn, _component(self.head.run, new), paths=paths)
        if old.urn != new.urn:
            change.old_urn, change.old_name = old.urn, old.name
            change.notes.append(f"kept by an alias (was {old.name})")
        change.reasons = sorted({p.forces for p in paths if p.forces})
        for path in paths:
            note = self.table.note(new.type, path.path)
            if note:
                change.notes.append(f"{path.path}: {note}")
        if not self.table.known(new.type):
            change.notes.append(f"{new.type} is not in tools/replacements.yaml: replacements unknown")
        for option in new.replace_on_changes:
            if any(option == "*" or _under(p.path, option) for p in paths):
                change.reasons.append(f"replaceOnChanges: {option}")
        if old_provider != new_provider:
            change.reasons.append("provider")
        if change.reasons:
            change.action = "replace"
        return change

    def _cascade(self, changes: dict[str, Change], head_leaves: dict[str, dict]) -> None:
        """A replaced resource gets new ids: inputs made of them change, and when such an input
        forces replacement, the dependent is replaced too (to a fixed point, like the engine)."""
        while True:
            replaced = {u for u, c in changes.items() if c.action == "replace"}
            grew = False
            for h_urn in self.same.values():
                res = self.h[h_urn]
                if not res.custom or h_urn in replaced:
                    continue
                for prop, deps in res.property_dependencies.items():
                    hit = [d for d in deps if d in replaced]
                    refers = any(
                        isinstance(v, str) and any(f"${{{d}#" in v for d in hit)
                        for p, v in head_leaves[h_urn].items()
                        if _under(p, prop)
                    )
                    if not hit or not refers:
                        continue
                    change = changes.get(h_urn) or Change(
                        "update", res.type, res.name, h_urn, _component(self.head.run, res)
                    )
                    changes[h_urn] = change
                    if any(p.path == prop for p in change.paths):
                        continue
                    forces = self.table.forcing(res.type, prop)
                    change.paths.append(PathChange(prop, "", f"(new value: {self.names[hit[0]]} is replaced)", forces))
                    if forces:
                        change.action = "replace"
                        change.reasons.append(f"{forces} (from {self.names[hit[0]]}, replaced)")
                    grew = grew or bool(forces)
            if not grew:
                return

    def _delete(self, res: Registered) -> Change:
        return Change("delete", res.type, res.name, res.urn, _component(self.base.run, res))

    def _mark_stateful(self, changes: dict[str, Change]) -> None:
        for change in changes.values():
            side = self.base if change.action == "delete" else self.head
            res = (self.b if change.action == "delete" else self.h)[change.urn]
            kind = _stateful(side.run, res)
            if kind is None and change.old_urn in self.b:
                kind = _stateful(self.base.run, self.b[change.old_urn])
            change.stateful = kind
            old = self.b.get(change.old_urn or change.urn)
            if old is not None:
                change.protected = old.protect
                change.retained = bool(self.base.meta.get(old.urn, {}).get("retain_on_delete"))
            if change.data_loss and change.protected:
                change.notes.append("protected: `pulumi up` will stop before deleting it")
            if change.data_loss and change.retained:
                change.notes.append("retainOnDelete: the old one stays in AWS, orphaned")
            if change.action == "replace" and res.inputs.get("name") and not res.delete_before_replace:
                change.notes.append(
                    "has a fixed name: create-before-delete fails on the taken name (needs deleteBeforeReplace)"
                )


# --- cost, findings, diagram -------------------------------------------------------------------


def _costs(run: Run, prices: cost.Prices) -> tuple[float, dict[str, float]]:
    total = sum(line.monthly for line in cost.estimate(run, prices))
    parts: dict[str, float] = defaultdict(float)
    for res in run.resources:
        price = cost.ALWAYS_ON.get(res.type)
        if price is not None and res.custom:
            parts[_component(run, res)] += sum(line.monthly for line in price(res, run, prices))
    return total, dict(parts)


def cost_delta(base: Run | None, head: Run | None, prices: cost.Prices) -> CostDelta:
    try:
        before, b_parts = _costs(base, prices) if base else (None, {})
        after, h_parts = _costs(head, prices) if head else (None, {})
    except KeyError as exc:
        return CostDelta(None, None, error=str(exc).strip("'\""))
    parts = {
        name: (b_parts.get(name, 0.0), h_parts.get(name, 0.0))
        for name in sorted(set(b_parts) | set(h_parts))
        if abs(b_parts.get(name, 0.0) - h_parts.get(name, 0.0)) >= 0.005
    }
    return CostDelta(before, after, parts)


def _finding_key(f: Finding, ident: Callable[[str], str]) -> tuple[str, str, str]:
    return (f.rule, ident(f.urn), f.message)


def findings_delta(
    base: list[Finding], head: list[Finding], ident: Callable[[str], str]
) -> tuple[list[Finding], list[Finding]]:
    before = {_finding_key(f, ident): f for f in base}
    after = {_finding_key(f, lambda u: u): f for f in head}
    new = [f for k, f in after.items() if k not in before]
    resolved = [f for k, f in before.items() if k not in after]
    order = {p: i for i, p in enumerate(PILLARS)}
    ordered = sorted(new, key=lambda f: (order.get(f.pillar, 99), f.rule, f.resource_name))
    return ordered, sorted(resolved, key=lambda f: (order.get(f.pillar, 99), f.rule, f.resource_name))


_NODE = re.compile(r'^\s*(n\d+_\w*)\["(.*)"\]$')
_SUBGRAPH = re.compile(r'^\s*subgraph (c\d+)\["(.*)"\]$')
_COUNT = re.compile(r" x(\d+)<br/>")


def _nodes(mermaid: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(component, node label without its count) -> (node id, count), from tools.diagram's output.

    Node ids are positions in a sorted list, so they differ between two renderings; the
    component and label name the same node in both."""
    out = {}
    component = ""
    for line in mermaid.splitlines():
        if m := _SUBGRAPH.match(line):
            component = m.group(2)
        elif m := _NODE.match(line):
            count = _COUNT.search(m.group(2))
            out[(component, _COUNT.sub("<br/>", m.group(2)))] = (m.group(1), int(count.group(1)) if count else 1)
    return out


def _node_of(run: Run, res: Registered) -> tuple[str, str] | None:
    """The diagram node `res` is drawn in, as tools.diagram.render draws it: rendered with only
    its ancestors (components, never drawn themselves), it is the one node; undrawn, none."""
    by_urn = {r.urn: r for r in run.resources}
    chain, cur = [res], res
    while cur.parent in by_urn:
        cur = by_urn[cur.parent]
        chain.append(cur)
    return next(iter(_nodes(diagram.render(Run(run.stack, run.preview, list(reversed(chain)))))), None)


def marked_diagram(base: Run | None, head: Run, changes: list[Change]) -> str:
    """The head diagram with the nodes of changed resources classed added, changed or removed."""
    text = diagram.render(head)
    after = _nodes(text)
    before = _nodes(diagram.render(base)) if base else {}
    by_head = {r.urn: r for r in head.resources}
    by_base = {r.urn: r for r in base.resources} if base else {}
    marks: dict[str, str] = {}
    for change in changes:
        gone = change.action == "delete" and base is not None
        node = _node_of(base, by_base[change.urn]) if gone and base else _node_of(head, by_head[change.urn])
        if node in after:
            # A node is added when it is new in the diagram, not when one more subnet joins it.
            kind = "added" if node not in before else "changed"
            if marks.get(after[node][0]) != "added":
                marks[after[node][0]] = kind
    for node, (node_id, count) in after.items():
        if node in before and before[node][1] != count:
            marks.setdefault(node_id, "changed")
    lines = text.splitlines()
    for i, (component, label) in enumerate(n for n in before if n not in after):
        lines.append(f'  r{i}["{label}<br/>({component or "stack"}, removed)"]')
        marks[f"r{i}"] = "removed"
    if marks:
        lines += [
            "  classDef added fill:#dafbe1,stroke:#1a7f37,stroke-width:2px",
            "  classDef changed fill:#fff8c5,stroke:#9a6700,stroke-width:2px",
            "  classDef removed fill:#ffebe9,stroke:#cf222e,stroke-width:2px,stroke-dasharray:4 3",
        ]
        for kind in ("added", "changed", "removed"):
            nodes = sorted(n for n, k in marks.items() if k == kind)
            if nodes:
                lines.append(f"  class {','.join(nodes)} {kind}")
    return "\n".join(lines)


# --- the whole review --------------------------------------------------------------------------


def compare_stack(base: StackPlan | None, head: StackPlan, table: Replacements, prices: cost.Prices) -> StackDiff:
    assert head.run is not None
    diff = StackDiff(head.stack, head.environment)
    base_run = base.run if base and base.run else None
    if base is None or base.missing:
        diff.notes.append("new stack: every resource is created")
        empty = StackPlan(head.stack, head.environment, head.project, Run(head.stack, False))
        comparison = StackComparison(empty, head, table)
    elif base.error:
        raise DiffError(f"stack {head.stack} does not plan at the base: {base.error}")
    else:
        comparison = StackComparison(base, head, table)
    diff.changes = comparison.compare()
    diff.cost = cost_delta(base_run, head.run, prices)
    diff.head_findings = review.review(head.run, head.environment)
    base_findings = review.review(base_run, base.environment) if base_run and base else []
    diff.new_findings, diff.resolved_findings = findings_delta(base_findings, diff.head_findings, comparison.ident)
    diff.diagram = marked_diagram(base_run, head.run, diff.changes)
    return diff


@dataclass
class Report:
    base_ref: str
    base_sha: str
    head: str
    stacks: list[StackDiff]
    removed_stacks: list[str] = field(default_factory=list)
    allow_data_loss: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def data_loss(self) -> list[tuple[str, Change]]:
        return [(s.stack, c) for s in self.stacks for c in s.data_loss]

    @property
    def status(self) -> int:
        return 1 if self.data_loss and not self.allow_data_loss else 0

    @property
    def empty(self) -> bool:
        return all(s.empty for s in self.stacks) and not self.removed_stacks


def build(
    repo: Path, base_ref: str, stacks: list[str] | None = None, allow_data_loss: bool = False
) -> tuple[Report, dict[str, StackPlan]]:
    """Plan both sides of `repo` (BASE and its working tree) and compare every stack."""
    sha = resolve(repo, base_ref)
    listed = _git(repo, "ls-tree", "--name-only", sha).splitlines()
    present = stacks_in(repo) | {n.split(".")[1] for n in listed if re.fullmatch(r"Pulumi\.[^.]+\.yaml", n)}
    chosen = sorted(present if not stacks else set(stacks))
    unknown = sorted(set(chosen) - present)
    if unknown:
        raise DiffError(f"no stack file for {', '.join(unknown)} on either side")
    cached = _BASE_PLANS.get((sha, tuple(chosen)))
    own_mocks = False
    if cached is not None:
        plans = {"base": cached, **plan_trees({"head": repo}, chosen, _KEY)}
    else:
        base_plans, head_plans, own_mocks = _plan_base(repo, sha, chosen)
        plans = {"base": base_plans, "head": head_plans}
        if not own_mocks:
            _BASE_PLANS[(sha, tuple(chosen))] = base_plans
    table, prices = Replacements.load(), cost.Prices.load()
    diffs, removed = [], []
    for stack in chosen:
        head, base = plans["head"][stack], plans["base"].get(stack)
        if head.missing:
            removed.append(stack)
            continue
        if head.error:
            raise DiffError(f"stack {stack} does not plan in the working tree: {head.error}")
        diffs.append(compare_stack(base, head, table, prices))
    head_desc = "working tree of " + _git(repo, "rev-parse", "--short", "HEAD")
    report = Report(base_ref, sha, head_desc, diffs, removed, allow_data_loss)
    if own_mocks:
        report.notes.append(
            "The base needs mocks this checkout lacks, so it was planned with its own tools/offline.py: "
            "a change of mock outputs between the two shows as a change. Rebase on the base for an exact review."
        )
    return report, plans["head"]


# --- output ------------------------------------------------------------------------------------


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"


ICON = {"create": "+", "delete": "-", "update": "~", "replace": "+-", "rename": "+-"}


def _change_lines(change: Change) -> list[str]:
    what = f"`{ICON[change.action]}` **{change.action}** `{change.type}` **{change.name}** ({change.component})"
    if change.old_name and change.action == "rename":
        what += f" — was **{change.old_name}**"
    lines = [f"- {what}"]
    if change.stateful and change.data_loss:
        lines.append(f"  - :warning: data-loss risk: {change.stateful}")
    if change.action == "rename":
        if change.covered_by:
            lines.append(f"  - kept if `{change.covered_by}` gets its alias (the name follows the parent)")
        else:
            lines.append(f"  - keep it (no replacement) with `{change.alias}`")
    if change.reasons:
        lines.append(f"  - replaced because of: {', '.join(f'`{r}`' for r in change.reasons)}")
    for path in change.paths[:SHOWN_PATHS]:
        forces = " *(forces replacement)*" if path.forces else ""
        before = f"`{path.before}` → " if path.before else ""
        lines.append(f"  - `{path.path}`: {before}`{path.after}`{forces}")
    if len(change.paths) > SHOWN_PATHS:
        lines.append(f"  - … and {len(change.paths) - SHOWN_PATHS} more paths (diff.json)")
    lines += [f"  - {note}" for note in change.notes]
    return lines


def _finding_line(f: Finding, mark: str) -> str:
    return f"- {mark} [{f.level}] `{f.rule}` {f.resource_type} **{f.resource_name}**: {f.message}"


def markdown(report: Report) -> str:
    out = [
        MARKER,
        "## Offline change review",
        "",
        f"Base `{report.base_ref}` (`{report.base_sha[:10]}`) → {report.head}. Computed offline by `make diff`: "
        "the real program under Pulumi's mocks, no cloud access, so ids and ARNs are mock values.",
        "",
        *(f"> {note}\n" for note in report.notes),
    ]
    if report.data_loss:
        verdict = "allowed by `--allow-data-loss`" if report.allow_data_loss else "fails the check"
        out += [f"> [!CAUTION]\n> **Data-loss risk** ({verdict}):"]
        out += [f"> - `{stack}`: {c.action} {c.stateful} **{c.name}**" for stack, c in report.data_loss]
        out += [
            "> Keep renamed resources with the alias shown below; if the loss is intended, "
            "label the pull request `allow-data-loss`.",
            "",
        ]
    if report.empty:
        out.append("No changes to any stack.")
        return "\n".join(out) + "\n"
    out += [
        "| stack | create | update | replace | rename | delete | data-loss risk | always-on cost / month | findings |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for s in report.stacks:
        c = s.cost
        money = (
            f"{_money(c.before)} → {_money(c.after)} ({_signed(c.delta)})"
            if c and not c.error
            else f"unavailable: {c.error}"
            if c
            else "-"
        )
        counts = " | ".join(str(s.count(a)) for a in ("create", "update", "replace", "rename", "delete"))
        findings = f"+{len(s.new_findings)} / -{len(s.resolved_findings)}"
        out.append(f"| `{s.stack}` | {counts} | {len(s.data_loss)} | {money} | {findings} |")
    out += [
        f"| `{stack}` | stack file removed: nothing is destroyed until `pulumi stack rm` | | | | | | | |"
        for stack in report.removed_stacks
    ]
    for s in report.stacks:
        out += ["", f"### `{s.stack}` ({s.environment})", ""]
        if s.empty:
            out.append("No changes.")
            continue
        out += [f"_{note}_" for note in s.notes]
        if s.changes:
            out += ["", "#### Resources", ""]
            for change in s.changes:
                out += _change_lines(change)
        if s.cost and not s.cost.error and s.cost.by_component:
            out += ["", "#### Always-on cost by component (USD / month)", "", "| component | before | after | change |"]
            out.append("| --- | ---: | ---: | ---: |")
            for name, (before, after) in s.cost.by_component.items():
                out.append(f"| {name} | {_money(before)} | {_money(after)} | {_signed(after - before)} |")
        if s.new_findings or s.resolved_findings:
            out += ["", "#### Well-Architected findings", ""]
            for pillar in PILLARS:
                new = [f for f in s.new_findings if f.pillar == pillar]
                gone = [f for f in s.resolved_findings if f.pillar == pillar]
                if new or gone:
                    out.append(f"**{pillar}**: {len(new)} new, {len(gone)} resolved")
                    out += [_finding_line(f, "new") for f in new]
                    out += [_finding_line(f, "resolved") for f in gone]
        if s.changes:
            out += [
                "",
                "<details><summary>Architecture after the change (added, changed, removed marked)</summary>",
                "",
                f"```mermaid\n{s.diagram}\n```",
                "",
                "</details>",
            ]
    return "\n".join(out) + "\n"


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "pillar": f.pillar,
        "level": f.level,
        "type": f.resource_type,
        "name": f.resource_name,
        "urn": f.urn,
        "message": f.message,
        "fix": f.fix,
    }


def to_json(report: Report) -> dict[str, Any]:
    def change_json(c: Change) -> dict[str, Any]:
        return {
            "action": c.action,
            "type": c.type,
            "name": c.name,
            "urn": c.urn,
            "component": c.component,
            "oldUrn": c.old_urn,
            "paths": [
                {"path": p.path, "before": p.before, "after": p.after, "forcesReplacement": p.forces} for p in c.paths
            ],
            "replaceReasons": c.reasons,
            "alias": c.alias,
            "coveredByParentAlias": c.covered_by,
            "stateful": c.stateful,
            "dataLoss": c.data_loss,
            "protected": c.protected,
            "notes": c.notes,
        }

    return {
        "base": {"ref": report.base_ref, "sha": report.base_sha},
        "head": report.head,
        "dataLoss": bool(report.data_loss),
        "allowDataLoss": report.allow_data_loss,
        "status": report.status,
        "empty": report.empty,
        "removedStacks": report.removed_stacks,
        "notes": report.notes,
        "stacks": [
            {
                "stack": s.stack,
                "environment": s.environment,
                "notes": s.notes,
                "changes": [change_json(c) for c in s.changes],
                "cost": None
                if s.cost is None
                else {
                    "before": s.cost.before,
                    "after": s.cost.after,
                    "delta": round(s.cost.delta, 2),
                    "byComponent": {k: {"before": b, "after": a} for k, (b, a) in s.cost.by_component.items()},
                    "error": s.cost.error,
                },
                "findings": {
                    "new": [_finding_json(f) for f in s.new_findings],
                    "resolved": [_finding_json(f) for f in s.resolved_findings],
                },
                "diagram": s.diagram,
            }
            for s in report.stacks
        ],
    }


def write_outputs(report: Report, head: dict[str, StackPlan], out: Path) -> None:
    from tools import sarif

    out.mkdir(parents=True, exist_ok=True)
    (out / "diff.md").write_text(markdown(report))
    (out / "diff.json").write_text(json.dumps(to_json(report), indent=2) + "\n")
    (out / "review.sarif").write_text(json.dumps(sarif.log(report, head), indent=2) + "\n")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare the working tree with")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to review (default: this one)")
    parser.add_argument("--stack", action="append", dest="stacks", help="only this stack (repeatable)")
    parser.add_argument("--allow-data-loss", action="store_true", help="exit 0 even when data may be lost")
    parser.add_argument("--out", type=Path, help="write diff.md, diff.json and review.sarif here")
    parser.add_argument("--quiet", action="store_true", help="do not print the Markdown")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        report, head = build(args.repo.resolve(), args.base, args.stacks, args.allow_data_loss)
    except DiffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_outputs(report, head, args.out)
    if not args.quiet:
        print(markdown(report))
    if report.status:
        print(
            "data-loss risk: rerun with --allow-data-loss (or label the PR allow-data-loss) if intended",
            file=sys.stderr,
        )
    return report.status


if __name__ == "__main__":
    sys.exit(main())
