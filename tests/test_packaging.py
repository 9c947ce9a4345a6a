"""`pip install <repository>` gives the components as a library, Lambda sources and web app included.

The wheel is built from a copy of the repository's files (as a clone has them), installed into a
directory outside the repository, and a Pulumi program composed of the installed components runs
there under mocks of its own. The imports of every product module are parsed: none reaches into
the tests, and the library imports nothing it does not ship or declare.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.multi_tier import wheelhouse
from tools.offline import ROOT

PRODUCT = ("components", "tools", "policy", "benchmarks", "examples", "__main__.py", "setup.py")
# What a run of the example from the installed wheel reports (printed as JSON by RUNNER).
RUNNER = r'''
import json, runpy, sys
from pathlib import Path

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await


class Mocks(pulumi.runtime.Mocks):
    """A preview: AWS resources get no id and no computed outputs, as the engine does."""

    def new_resource(self, args):
        custom = args.custom and not args.typ.startswith("pulumi:providers:")
        return (None if custom else f"{args.name}-id"), dict(args.inputs)

    def call(self, args):
        zones = {"names": ["eu-west-1a", "eu-west-1b", "eu-west-1c"], "zoneIds": ["z1", "z2", "z3"]}
        return {
            "aws:index/getAvailabilityZones:getAvailabilityZones": zones,
            "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "123456789012"},
            "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com"},
            "aws:index/getRegion:getRegion": {"name": "eu-west-1", "region": "eu-west-1"},
            # The Powertools layer of the pinned release and the current AMI: public SSM parameters.
            "aws:ssm/getParameter:getParameter": {"name": args.args.get("name"), "value": "public-parameter-value"},
        }[args.token], []


import components
from components import assets, schema
from components.functions import FunctionSettings, PythonFunction, PythonFunctionArgs
from components.multi_tier import wheelhouse

functions = sorted(p.name for p in assets.LAMBDAS_DIR.iterdir() if (p / "app.py").is_file())


def program():
    runpy.run_path(sys.argv[1], run_name="__main__")
    # Every shipped function builds from the installed sources (the builder refuses a missing handler).
    settings = FunctionSettings(region="eu-west-1")
    for code in functions:
        PythonFunction(code, PythonFunctionArgs(code_dir=code, settings=settings))


mocks = Mocks()
monitor = MockMonitor(mocks)
pulumi.runtime.set_all_config({"aws:region": "eu-west-1"})
pulumi.runtime.set_mocks(mocks, project="network-web-tier", stack="dev", preview=True, monitor=monitor)
_sync_await(run_pulumi_func(program))

print(json.dumps({
    "components": components.__file__,
    "assets": str(assets.ROOT),
    "lambdas": str(schema.LAMBDAS_DIR),
    "functions": functions,
    "artifact": wheelhouse.web_artifact("arm64").digest,
    "types": sorted({urn.split("::")[2].split("$")[-1] for urn in monitor.get_registered_resources()}),
}))
'''


def _repository_files() -> list[str]:
    """The files a clone of this working tree would have (tracked, or new and not ignored)."""
    out = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(f for f in out.split("\0") if f and (ROOT / f).is_file())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of a copy of the repository (a build writes into its source tree)."""
    source = tmp_path_factory.mktemp("source")
    for name in _repository_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    # Byte code a local run leaves next to a handler must not ship.
    stray = next(source.glob("lambdas/*/app.py")).parent / "__pycache__" / "app.cpython-311.pyc"
    stray.parent.mkdir()
    stray.write_bytes(b"not source")
    dist = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)], check=True)
    (built,) = dist.glob("aws_patterns-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "-q",
            "install",
            "--no-deps",
            "--target",
            site,
            wheel,
        ],
        check=True,
    )
    return site


def _files_under(folder: str) -> set[str]:
    """The repository's files under `folder` that are source (not byte code a run left behind)."""
    return {
        name[len(folder) + 1 :]
        for name in _repository_files()
        if name.startswith(f"{folder}/") and "__pycache__" not in name and not name.endswith(".pyc")
    }


def test_wheel_holds_every_module_of_the_components_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"components/{name}" for name in _files_under("components") if name.endswith(".py")}
    assert modules - names == set(), "a module of components/ is missing from the wheel"
    assert not [n for n in names if n.split("/")[0] not in ("components",) and ".dist-info/" not in n], (
        "the wheel installs nothing beside the components package"
    )


@pytest.mark.parametrize("folder", ["lambdas", "apps"])
def test_wheel_carries_the_files_the_components_read(wheel: Path, folder: str) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        n.removeprefix(f"components/_files/{folder}/") for n in names if n.startswith(f"components/_files/{folder}/")
    }
    assert shipped == _files_under(folder)
    assert not [n for n in shipped if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_declares_the_pinned_runtime_dependencies(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        declared = re.findall(r"^Requires-Dist: (.+)$", archive.read(metadata).decode(), re.MULTILINE)
    pinned = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert sorted(declared) == sorted(p for p in pinned if p and not p.startswith("#"))


def test_installed_components_run_a_program_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    program = tmp_path / "program" / "__main__.py"
    program.parent.mkdir()
    shutil.copy(ROOT / "examples" / "network-web-tier" / "__main__.py", program)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(
        [sys.executable, str(runner), str(program)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("components", "assets", "lambdas"):
        assert Path(report[key]).is_relative_to(installed), f"{key} resolved to {report[key]}, not the installed wheel"
    assert report["functions"] == sorted(p.parent.name for p in (ROOT / "lambdas").glob("*/app.py"))
    repository_artifact = wheelhouse.web_artifact("arm64").digest
    assert report["artifact"] == repository_artifact, "the installed web app is byte for byte the repository's"
    expected = {"aws:lb/loadBalancer:LoadBalancer", "aws:autoscaling/group:Group", "aws:rds/instance:Instance"}
    assert expected | {"aws:lambda/function:Function"} <= set(report["types"])


def _product_modules() -> list[Path]:
    files = []
    for name in PRODUCT:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def _imports(path: Path) -> set[str]:
    """Absolute module names `path` imports, anywhere in the file (functions and TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", _product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_product_module_imports_the_tests(path: Path) -> None:
    reached = sorted(m for m in _imports(path) if m == "tests" or m.startswith("tests."))
    assert reached == [], f"{path.relative_to(ROOT)} imports {reached}; the offline engine is tools/offline.py"


def test_the_library_imports_only_itself_the_standard_library_and_its_dependencies() -> None:
    declared = {
        re.split(r"[=<>!~\[ ;]", line.strip(), maxsplit=1)[0].lower().replace("-", "_")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    allowed = {"components", *declared, *sys.stdlib_module_names}
    strangers = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m.split(".")[0] not in allowed)
        for path in sorted((ROOT / "components").rglob("*.py"))
    }
    assert {k: v for k, v in strangers.items() if v} == {}, "the wheel holds components/ and requirements.txt only"
