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
    assert {"pull-request", "pr-report", "drift", "deploy", "pulumi-up"} <= names


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


def _workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / f"{name}.yml").read_text())


def _steps_text(job: dict) -> str:
    return yaml.safe_dump(job.get("steps", []))


def test_the_pull_request_checks_that_run_fork_code_have_no_secrets_and_no_write_access() -> None:
    workflow = _workflow("pull-request")
    assert workflow["permissions"] == {"contents": "read"}
    assert {"labeled", "unlabeled"} <= set(workflow[True]["pull_request"]["types"])  # `on:` parses as True
    for name in ("test", "diff"):
        job = workflow["jobs"][name]
        assert "permissions" not in job and "secrets." not in yaml.safe_dump(job), name
    steps = _steps_text(workflow["jobs"]["diff"])
    assert "make diff" in steps and "github.event.pull_request.base.sha" in steps
    assert "contains(github.event.pull_request.labels.*.name, 'allow-data-loss')" in steps
    assert "actions/upload-artifact" in steps and "GITHUB_STEP_SUMMARY" in steps


def test_the_credentialed_preview_runs_only_for_branches_of_this_repository() -> None:
    preview = _workflow("pull-request")["jobs"]["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def test_the_report_is_published_by_a_trusted_workflow_that_never_checks_out_pr_code() -> None:
    from tools.diff import MARKER

    workflow = _workflow("pr-report")
    assert workflow[True]["workflow_run"]["workflows"] == ["pull-request"]
    (job,) = workflow["jobs"].values()
    steps = _steps_text(job)
    assert "actions/checkout" not in steps and "make " not in steps
    assert job["permissions"]["security-events"] == "write" and job["permissions"]["pull-requests"] == "write"
    assert MARKER in steps and "upload-sarif" in steps and "pr.head.sha !== process.env.HEAD_SHA" in steps


def test_drift_is_checked_on_a_schedule_with_one_issue_per_stack() -> None:
    workflow = _workflow("drift")
    assert workflow[True]["schedule"]
    job = workflow["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    steps = _steps_text(job)
    assert "pulumi preview --stack" in steps and "--refresh --expect-no-changes" in steps
    assert "gh issue create" in steps and "gh issue close" in steps and job["permissions"]["issues"] == "write"
