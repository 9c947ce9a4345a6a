"""The GitHub workflows pass actionlint (syntax, expressions, permissions of reusable calls)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tools.offline import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert found, "actionlint is installed by requirements-dev.txt"
    return found


def test_workflows_exist() -> None:
    names = {p.stem for p in WORKFLOWS}
    assert {"pull-request", "deploy", "pulumi-up"} <= names


def test_actionlint_passes() -> None:
    proc = subprocess.run([_actionlint(), *map(str, WORKFLOWS)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ nope }}\n")
    assert subprocess.run([_actionlint(), str(broken)], capture_output=True, check=False).returncode != 0


def test_each_stack_deploys_in_its_own_environment_and_prod_comes_last() -> None:
    reusable = yaml.safe_load((ROOT / ".github" / "workflows" / "pulumi-up.yml").read_text())
    assert reusable["jobs"]["up"]["environment"] == "${{ inputs.stack }}"
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]
    assert {name: job["with"]["stack"] for name, job in jobs.items() if "with" in job} == {
        "dev": "dev",
        "staging": "staging",
        "prod": "prod",
    }
    assert jobs["prod"]["needs"] == "staging" and jobs["staging"]["needs"] == "dev"
