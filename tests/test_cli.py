"""Every user-facing command reports a stack-file mistake as one message, exit status 2, no traceback.

Each mistake is fed through the command a user types (`python -m tools.<tool>`, `make <target>`)
in a subprocess; the assertions are on what the user sees: the message names the file, the key
and (where there is one) the line, the status is 2, and there is no Python traceback. Targets
that read the committed stack files run in a copy of the working tree whose dev stack is broken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.offline import ROOT, STACKS

VENV = Path(sys.prefix)
IN_CI = os.environ.get("CI", "").lower() == "true"
GOOD = "config:\n  aws:region: us-east-1\n  aws-patterns:environment: dev\n"
NAMESPACE_TYPO = GOOD + "  aws-pattern:serverless:\n    enabled: true\n"
REGION_TYPO = "config:\n  aws:regoin: us-east-1\n  aws-patterns:environment: dev\n"
YAML11_BOOLEAN = GOOD + "  aws-patterns:serverless:\n    enabled: yes\n"
MALFORMED = GOOD + "  aws-patterns:tags: [a, b\n  aws-patterns:network: {}\n"
DUPLICATE = GOOD + "  aws:region: eu-west-1\n"
VALID_STACKS = ", ".join(STACKS)


def run(args: list[str], cwd: Path = ROOT, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    command = args if args[0] == "make" else [python, "-m", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=600)


def make(target: str, *variables: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        if IN_CI:
            pytest.fail("make is not installed (.ci/run installs it)")
        pytest.skip("make is not installed")
    # The tests' own interpreter stands in for .venv; -o keeps make from reinstalling it.
    installed = f"{VENV}/.installed"
    return run(["make", "--no-print-directory", "-o", installed, target, f"VENV={VENV}", *variables], cwd=cwd)


def user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The one error message of `proc`, after checking status 2, no traceback and every fragment."""
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    message = proc.stderr[proc.stderr.index("error: ") :]
    for fragment in fragments:
        assert fragment in message, message
    return message


def stack_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-stack.yaml"
    path.write_text(text)
    return path


def _copy(destination: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis")
    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


@pytest.fixture(scope="module")
def broken_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the working tree whose shipped dev stack has a misspelt key on its line 9."""
    clone = _copy(tmp_path_factory.mktemp("broken") / "aws-patterns")
    dev = clone / "Pulumi.dev.yaml"
    lines = dev.read_text().splitlines()
    lines.insert(8, "  aws-patterns:netwrok:\n    enabled: true")
    dev.write_text("\n".join(lines) + "\n")
    return clone


# --- a stack file of the user's own: python -m tools.plan / tools.review --file -------------------


@pytest.mark.parametrize("tool", ["tools.plan", "tools.review"])
def test_misspelt_namespace(tool: str, tmp_path: Path) -> None:
    path = stack_file(tmp_path, NAMESPACE_TYPO)
    user_error(
        run([tool, "dev", "--file", str(path)]),
        f"error: {path}: invalid stack configuration of stack 'dev':",
        "line 4: aws-pattern:serverless: unknown key; did you mean aws-patterns:serverless?",
    )


def test_misspelt_provider_key(tmp_path: Path) -> None:
    path = stack_file(tmp_path, REGION_TYPO)
    message = user_error(
        run(["tools.plan", "dev", "--file", str(path)]), "line 2: aws:regoin: unknown key; did you mean aws:region?"
    )
    assert "aws:region: must be an AWS region name" in message  # and what it leaves missing


def test_yaml_11_boolean(tmp_path: Path) -> None:
    path = stack_file(tmp_path, YAML11_BOOLEAN)
    user_error(
        run(["tools.plan", "dev", "--file", str(path)]),
        "line 5: aws-patterns:serverless.enabled: ",
        "(got 'yes'); stack files are YAML 1.2, where yes/no/on/off are strings: write true or false",
    )


@pytest.mark.parametrize(("text", "where"), [(MALFORMED, ", line 5, column "), (DUPLICATE, ", line 4, column ")])
def test_yaml_that_does_not_parse_names_the_line(text: str, where: str, tmp_path: Path) -> None:
    path = stack_file(tmp_path, text)
    message = user_error(run(["tools.plan", "dev", "--file", str(path)]), f"error: {path}{where}")
    assert "not valid YAML" in message


@pytest.mark.parametrize("tool", ["tools.plan", "tools.review"])
def test_missing_file(tool: str, tmp_path: Path) -> None:
    user_error(
        run([tool, "dev", "--file", str(tmp_path / "nope.yaml")]), f"error: {tmp_path / 'nope.yaml'}: no such file"
    )


def test_missing_policy_config(tmp_path: Path) -> None:
    missing = tmp_path / "policy.json"
    user_error(run(["tools.review", "dev", "--policy-config", str(missing)]), f"error: {missing}: no such file")


@pytest.mark.parametrize("tool", ["tools.plan", "tools.review", "tools.cost", "tools.diagram"])
def test_unknown_stack_lists_the_stacks(tool: str) -> None:
    user_error(run([tool, "qa"]), "error: no stack 'qa': there is no Pulumi.qa.yaml", f"the stacks are {VALID_STACKS}")


# --- make ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["plan", "review"])
def test_make_with_a_file_of_the_user_s_own(target: str, tmp_path: Path) -> None:
    path = stack_file(tmp_path, NAMESPACE_TYPO)
    user_error(make(target, "STACK=dev", f"FILE={path}"), f"error: {path}:", "did you mean aws-patterns:serverless?")


def test_make_plan_of_an_unknown_stack_lists_the_stacks() -> None:
    user_error(make("plan", "STACK=qa"), "no stack 'qa'", f"the stacks are {VALID_STACKS}")


@pytest.mark.parametrize(
    ("target", "variables"), [("plan", ()), ("review", ("STACK=dev",)), ("diagrams", ()), ("cost", ())]
)
def test_make_targets_over_a_broken_shipped_stack(target: str, variables: tuple[str, ...], broken_clone: Path) -> None:
    user_error(
        make(target, *variables, cwd=broken_clone),
        "error: Pulumi.dev.yaml: invalid stack configuration of stack 'dev':",
        "line 9: aws-patterns:netwrok: unknown key; did you mean aws-patterns:network?",
    )


# --- warnings: the stack they concern, once per command ------------------------------------------------


def test_plan_of_prod_warns_once_per_placeholder_naming_prod() -> None:
    proc = run(["tools.plan", "prod"])
    assert proc.returncode == 0, proc.stderr  # placeholders warn in a plan; the review finds nothing
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    # The example alarm address, the example domain and the example VPN address; each once.
    assert len(warnings) == 3, proc.stderr
    assert all(w.startswith("warning: stack 'prod': aws-patterns:") for w in warnings)
    assert any("observability.alarmEmails: oncall@example.com" in w for w in warnings)
    assert any("multiTier.domainName: app.example.com" in w for w in warnings)
    assert any("hybrid.customerGatewayIp: 198.51.100.7" in w for w in warnings)


def test_plan_of_dev_shows_no_other_stack_s_warnings() -> None:
    # The plan also runs prod for its cost comparison; prod's placeholders are not dev's business.
    proc = run(["tools.plan", "dev"])
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr.lower(), proc.stderr


# --- the README's commands from a fresh clone -------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_python() -> str:
    """An interpreter without the project's packages, like the `python` of a fresh shell."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    probe = subprocess.run([base, "-c", "import pulumi"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip(f"{base} has the project's packages installed: it cannot stand for a fresh shell")
    return str(base)


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = _copy(tmp_path_factory.mktemp("fresh") / "aws-patterns")
    (clone / "my.yaml").write_text(GOOD)
    return clone


def test_readme_command_before_setup_says_what_to_do(fresh_clone: Path, plain_python: str) -> None:
    proc = run(["tools.plan", "dev", "--file", "my.yaml"], cwd=fresh_clone, python=plain_python)
    user_error(proc, "error: the tools need the project's virtualenv; run `make setup` first (it creates .venv)")


def test_readme_command_after_setup_works_outside_the_venv(fresh_clone: Path, plain_python: str) -> None:
    venv = fresh_clone / ".venv"
    venv.symlink_to(VENV, target_is_directory=True)  # what `make setup` leaves behind
    try:
        proc = run(["tools.plan", "dev", "--file", "my.yaml"], cwd=fresh_clone, python=plain_python)
        assert proc.returncode == 0, proc.stderr
        assert "Offline plan for stack 'dev' (preview under mocks)" in proc.stdout
    finally:
        venv.unlink()


def test_make_plan_with_a_file(fresh_clone: Path) -> None:
    proc = make("plan", "STACK=dev", "FILE=my.yaml", cwd=fresh_clone)
    assert proc.returncode == 0, proc.stderr
    assert "Offline plan for stack 'dev'" in proc.stdout
    assert "tools.diagram" not in proc.stdout  # a file of one's own has no committed diagram to rewrite
