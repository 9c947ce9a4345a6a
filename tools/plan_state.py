"""The offline plan of one project tree as plain data, for `tools/diff.py` to compare.

    python tools/plan_state.py TREE OUT.json STACK [STACK ...]

Runs TREE's `__main__.py` for each stack under *this* checkout's engine and mocks
(tools/offline.py, loaded by path), so both sides of a diff see the same mocks and only the
program differs. AWS_PATTERNS_DIFF_ENGINE names another tools/offline.py: the diff falls back to
the base tree's own when a newer base needs what these mocks do not answer. A process imports
one `components` package, so each tree gets its own process: TREE goes first on `sys.path` and
this script's folder is taken off it.

Per stack it writes the `Registered` fields of every resource with their inputs made plain and
safe to write down:
- values the program marked secret become `{"__secret__": digest}`: an HMAC under a key that only
  lives in the environment of this diff (AWS_PATTERNS_DIFF_KEY), so a change shows and the value
  never does;
- assets and archives become the SHA-256 of what they would upload (files git ignores are left
  out: deployments run from clean checkouts), never a path, which differs between worktrees;
- where each resource was declared (file relative to TREE and line), alias URNs, retainOnDelete;
- the computed outputs (ids, ARNs, URLs) others refer to, so the diff can tell "the value of
  another resource's output" from a literal.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import runpy
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - pulumi's wire signature of a secret, no secret
SIG_KEY = "4dabf18193072939515e22adb298388d"
KEY_ENV = "AWS_PATTERNS_DIFF_KEY"
ENGINE_ENV = "AWS_PATTERNS_DIFF_ENGINE"  # another tools/offline.py to plan with (default: ours)
ROOT_TYPE = "pulumi:pulumi:Stack"


def make_urn(stack: str, project: str, parent_urn: str, type_: str, name: str) -> str:
    """The URN the engine gives a resource (children of the stack carry no parent type)."""
    parent_type = parent_urn.split("::")[2] if parent_urn else ROOT_TYPE
    qualified = type_ if parent_type == ROOT_TYPE else f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


def urn_type(urn: str) -> str:
    return urn.split("::")[2].rsplit("$", 1)[-1]


def _load_engine() -> Any:
    path = Path(os.environ.get(ENGINE_ENV) or HERE / "offline.py")
    spec = importlib.util.spec_from_file_location("aws_patterns_offline_engine", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


class Plainer:
    """Turns deserialized inputs into JSON: assets hashed, secrets digested."""

    def __init__(self, tree: Path, key: bytes) -> None:
        self.tree = tree
        self.key = key

    def digest(self, value: Any) -> str:
        text = json.dumps(self.plain(value), sort_keys=True, default=str)
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()[:16]

    def plain(self, value: Any) -> Any:
        import pulumi

        if isinstance(value, dict):
            return {str(k): self.plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.plain(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, pulumi.FileAsset):
            path = Path(value.path)
            # Under the mocks the multi-tier artifacts are named by their content digest and not
            # built (components/multi_tier/wheelhouse.py): the name stands for the content.
            return {"__asset__": _sha(path.read_bytes()) if path.is_file() else f"unbuilt:{path.name}"}
        if isinstance(value, pulumi.StringAsset):
            return {"__asset__": _sha(value.text.encode())}
        if isinstance(value, (pulumi.RemoteAsset, pulumi.RemoteArchive)):
            return {"__remote__": value.uri}
        if isinstance(value, pulumi.FileArchive):
            return {"__archive__": self._folder_sha(Path(value.path))}
        if isinstance(value, pulumi.AssetArchive):
            return {"__archive__": _sha(json.dumps(self.plain(dict(value.assets)), sort_keys=True).encode())}
        if isinstance(value, pulumi.Resource):
            return {"__resource__": str(getattr(value, "_name", ""))}
        return str(value)

    def _folder_sha(self, path: Path) -> str:
        if path.is_file():
            return _sha(path.read_bytes())
        files = sorted(p for p in path.rglob("*") if p.is_file())
        ignored = _git_ignored(self.tree, files)
        parts = [f"{p.relative_to(path).as_posix()}:{_sha(p.read_bytes())}" for p in files if p not in ignored]
        return _sha("\n".join(parts).encode())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _git_ignored(tree: Path, files: list[Path]) -> set[Path]:
    if not files or not (tree / ".git").exists():
        return set()
    proc = subprocess.run(  # noqa: S603 - git, our arguments
        ["git", "-C", str(tree), "check-ignore", "--stdin", "-z"],  # noqa: S607 - git from PATH
        input="\0".join(str(p) for p in files),
        capture_output=True,
        text=True,
        check=False,
    )
    return {Path(p) for p in proc.stdout.split("\0") if p}


def secret_paths(value: Any, path: str = "") -> list[str]:
    """Input paths (as `tools.diff.flatten` writes them) whose wire value is a secret."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return [path]
        return [p for k, v in value.items() for p in secret_paths(v, join(path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in secret_paths(v, f"{path}[{i}]")]
    return []


def join(path: str, key: str) -> str:
    """`path` extended by a dict key: dotted when the key is a plain name, else bracketed."""
    if key.replace("_", "a").replace("-", "a").isalnum() and not key[:1].isdigit():
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def mask(value: Any, path: str, paths: set[str], plainer: Plainer) -> Any:
    if path in paths:
        return {"__secret__": plainer.digest(value)}
    if isinstance(value, dict):
        return {k: mask(v, join(path, k), paths, plainer) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, f"{path}[{i}]", paths, plainer) for i, v in enumerate(value)]
    return value


def engine_urns(requests: list[tuple[Any, str]], stack: str, project: str) -> dict[str, str]:
    """The mock monitor's URN of every resource -> the URN the engine gives it.

    The mocks qualify a type with its immediate parent's type only (and put the root stack's type
    in front of top-level resources); the engine uses the whole chain of parent types below the
    stack. Snapshots, aliases and the report use the engine's, which a real `pulumi up` sees.
    """
    out: dict[str, str] = {}
    for request, urn in requests:  # registration order: parents first
        if request.type == ROOT_TYPE:
            out[urn] = ""
            continue
        out[urn] = make_urn(stack, project, out.get(request.parent, ""), request.type, request.name)
    return out


def _alias_urns(request: Any, stack: str, project: str, engine: dict[str, str]) -> list[str]:
    urns = [engine.get(u, u) for u in request.aliasURNs]
    for alias in request.aliases:
        if alias.HasField("urn"):
            urns.append(engine.get(alias.urn, alias.urn))
            continue
        spec = alias.spec
        parent = "" if spec.noParent else engine.get(spec.parentUrn or request.parent, spec.parentUrn)
        urns.append(
            make_urn(
                spec.stack or stack,
                spec.project or project,
                parent,
                spec.type or request.type,
                spec.name or request.name,
            )
        )
    return urns


def _computed(outputs: dict[str, Any], inputs: dict[str, Any], secret_outputs: set[str]) -> dict[str, str]:
    """Output values the provider computes (ids, ARNs, URLs) that other inputs may embed."""
    return {
        key: value
        for key, value in outputs.items()
        if key not in inputs
        and key not in secret_outputs
        and isinstance(value, str)
        and 3 <= len(value) <= 300
        and not any(c.isspace() or c == "<" for c in value)
    }


def _source(request: Any, tree: Path) -> dict[str, Any] | None:
    position = request.sourcePosition
    if not position.uri.startswith("file://"):
        return None
    path = Path(position.uri.removeprefix("file://"))
    try:
        return {"path": path.resolve().relative_to(tree).as_posix(), "line": position.line}
    except ValueError:
        return None


def plan_stack(
    engine: Any, tree: Path, stack: str, plainer: Plainer, config: dict[str, str] | None = None
) -> dict[str, Any]:
    """One stack of `tree` planned with `engine` (tools.offline): its stack file's config, or `config`."""
    stack_file = tree / f"Pulumi.{stack}.yaml"
    if config is None and not stack_file.exists():
        return {"stack": stack, "missing": True}
    config = engine.stack_config(stack, stack_file) if config is None else config
    monitors: list[Any] = []
    main = str(tree / "__main__.py")
    try:
        run = engine.run_program(
            stack,
            preview=False,
            config=config,
            monitors=monitors,
            program=lambda: runpy.run_path(main, run_name="__main__"),
        )
    except Exception as exc:
        # A configuration error is a message for a person; anything else needs its traceback.
        detail = str(exc) if type(exc).__name__ == "ConfigError" else traceback.format_exc(limit=-3)
        return {"stack": stack, "error": f"{type(exc).__name__}: {detail}"}
    requests = {urn: request for request, urn in monitors[0].requests}
    engine_urn = engine_urns(monitors[0].requests, stack, engine.PROJECT)

    def urn(mock: str) -> str:
        return engine_urn.get(mock, mock)

    def provider(ref: str) -> str:
        mock, _, id_ = ref.rpartition("::")
        return f"{urn(mock)}::{id_}" if mock else ref

    resources = []
    for res in run.resources:
        request = requests[res.urn]
        raw = json.loads(_struct_json(request.object))
        paths = set(secret_paths(raw))
        inputs = mask(plainer.plain(res.inputs), "", paths, plainer)
        resources.append(
            {
                "type": res.type,
                "name": res.name,
                "urn": urn(res.urn),
                "id": res.id,
                "custom": res.custom,
                "inputs": inputs,
                "outputs": {},
                "parent": urn(res.parent),
                "provider": provider(res.provider),
                "dependencies": sorted(urn(u) for u in res.dependencies),
                "property_dependencies": {k: sorted(urn(u) for u in v) for k, v in res.property_dependencies.items()},
                "protect": res.protect,
                "aliases": _alias_urns(request, stack, engine.PROJECT, engine_urn),
                "ignore_changes": res.ignore_changes,
                "replace_on_changes": res.replace_on_changes,
                "delete_before_replace": res.delete_before_replace,
                "retain_on_delete": bool(request.retainOnDelete),
                "secret_paths": sorted(paths),
                "computed": {
                    # Other inputs embed a resource's id (a security group's vpcId) as often as its ARN.
                    **({"id": res.id} if res.custom and res.id else {}),
                    **_computed(res.outputs, res.inputs, set(request.additionalSecretOutputs)),
                },
                "source": _source(request, tree),
            }
        )
    return {
        "stack": stack,
        "environment": config.get(f"{engine.PROJECT}:environment", stack),
        "project": engine.PROJECT,
        "resources": resources,
    }


def _struct_json(struct: Any) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(struct)


def main(argv: list[str]) -> int:
    tree, out, stacks = Path(argv[0]).resolve(), Path(argv[1]), argv[2:]
    sys.path[:] = [str(tree)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
    os.chdir(tree)
    engine = _load_engine()
    key = os.environ.get(KEY_ENV, "").encode() or os.urandom(32)
    plainer = Plainer(tree, key)
    state = {"tree": str(tree), "stacks": [plan_stack(engine, tree, stack, plainer) for stack in stacks]}
    out.write_text(json.dumps(state, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
