"""How an instance becomes a web server: the artifact, the user data and the systemd unit.

The user data checked is the one the program really puts in the launch template (decoded from a
mock `pulumi up`), not the template file. shellcheck and systemd-analyze come from Debian
packages (`.ci/run` installs them); without them these tests skip locally and fail in CI.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from components.multi_tier import component as multi_tier
from components.multi_tier.component import (
    ARTIFACT_FILES,
    SETTINGS_MARKER,
    ami_architecture,
    build_artifact,
    render_user_data,
)
from tools.offline import ROOT, run_cached

APP_DIR = ROOT / "apps" / "web"
UNIT = APP_DIR / "web.service"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"CI must provide {name} (.ci/run installs it from Debian packages)")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return path


@pytest.fixture(scope="module")
def user_data() -> str:
    """The decoded user data of the launch template a mock `pulumi up` of prod registers."""
    run = run_cached("prod", preview=False)
    (template,) = run.by_type("aws:ec2/launchTemplate:LaunchTemplate")
    return base64.b64decode(template.inputs["userData"]).decode()


def _unit() -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in UNIT.read_text().splitlines() if "=" in line and not line.startswith("#")
    )


# --- user data -----------------------------------------------------------------------------------


def test_rendered_user_data_passes_shellcheck(user_data: str, tmp_path: Path) -> None:
    script = tmp_path / "user-data.sh"
    script.write_text(user_data)
    # SC2154 (used but never assigned) is on: every setting the template uses must be rendered.
    proc = subprocess.run([_tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_user_data_carries_this_stack_and_no_placeholder(user_data: str) -> None:
    assert user_data.startswith("#!/bin/bash\n")
    assert SETTINGS_MARKER not in user_data
    settings = {k: shlex.split(v)[0] for k, v in re.findall(r"^readonly ([A-Z_]+)=(.*)$", user_data, re.MULTILINE)}
    assert settings["REGION"] == "us-east-1"
    assert settings["DB_PORT"] == str(multi_tier.DB_PORT)
    assert settings["APP_PORT"] == "8080"
    assert settings["ARTIFACT_KEY"].startswith("web/")
    assert settings["DB_SECRET_ARN"].startswith("arn:aws:secretsmanager:")


def test_settings_are_quoted_so_values_cannot_run_commands(tmp_path: Path) -> None:
    hostile = "a b'c\"$(touch pwned)`touch pwned2`;$HOME"
    template = tmp_path / "t.sh"
    template.write_text(f'#!/bin/bash\n{SETTINGS_MARKER}\nprintf %s "$VALUE"\n')
    script = tmp_path / "s.sh"
    script.write_text(render_user_data({"VALUE": hostile}, template))
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout == hostile
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


@pytest.mark.parametrize("key", ["lower", "1ST", "A-B", "A B", ""])
def test_setting_names_must_be_shell_variables(key: str) -> None:
    with pytest.raises(ValueError, match="shell variable"):
        render_user_data({key: "x"})


def test_template_without_the_marker_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "t.sh"
    template.write_text("#!/bin/bash\necho hi\n")
    with pytest.raises(ValueError, match="exactly once"):
        render_user_data({}, template)


# --- systemd unit ----------------------------------------------------------------------------------


def test_systemd_unit_verifies_clean(tmp_path: Path) -> None:
    analyze = _tool("systemd-analyze")
    # A throwaway root holding the unit, the host's own units (for its targets) and a stand-in
    # for the gunicorn the instance installs, so `verify` checks the unit and not this machine.
    host_units = Path("/usr/lib/systemd/system")
    if not host_units.is_dir():
        host_units = Path("/lib/systemd/system")
    shutil.copytree(host_units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    binary = tmp_path / _unit()["ExecStart"].split()[0].lstrip("/")
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    unit = tmp_path / "etc/systemd/system/web.service"
    unit.parent.mkdir(parents=True)
    shutil.copy(UNIT, unit)
    proc = subprocess.run([analyze, "verify", f"--root={tmp_path}", str(unit)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # unknown keys are only warnings: none allowed


def test_unit_matches_what_user_data_installs(user_data: str) -> None:
    unit = _unit()
    command = unit["ExecStart"].split()
    venv_bin = Path(command[0]).parent
    assert f"python3.12 -m venv {venv_bin.parent}" in user_data
    assert f"cat >{unit['EnvironmentFile']} <<ENV" in user_data
    assert "PORT=$APP_PORT" in user_data, "the unit binds ${PORT} from its EnvironmentFile"
    assert "--bind" in command and "0.0.0.0:${PORT}" in command
    assert f"WorkingDirectory={unit['WorkingDirectory']}" in UNIT.read_text()
    assert f"-C {unit['WorkingDirectory']}" in user_data, "the artifact is unpacked where the unit runs"
    assert f"id {unit['User']}" in user_data and "useradd --system" in user_data
    assert unit["Restart"] == "always", "the app exits when the database is down at start; systemd retries"


def test_the_unit_starts_the_app_factory() -> None:
    module, _, call = _unit()["ExecStart"].split()[-1].partition(":")
    assert call == "create_app()"
    source = (APP_DIR / f"{module}.py").read_text()
    assert re.search(r"^def create_app\(settings: Settings \| None = None\)", source, re.MULTILINE)


# --- artifact and AMI ------------------------------------------------------------------------------


def test_artifact_is_reproducible_and_holds_only_the_app(tmp_path: Path) -> None:
    first_path, first = build_artifact()
    second_path, second = build_artifact()
    assert first == second and first_path == second_path
    with tarfile.open(first_path) as tar:
        assert sorted(tar.getnames()) == sorted(ARTIFACT_FILES)
        assert "web.service" in tar.getnames() and "app.py" in tar.getnames()
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())


def test_a_changed_app_gets_a_new_artifact(tmp_path: Path) -> None:
    for name in ARTIFACT_FILES:
        shutil.copy(APP_DIR / name, tmp_path / name)
    _, before = build_artifact(tmp_path)
    (tmp_path / "app.py").write_text((tmp_path / "app.py").read_text() + "\n# changed\n")
    _, after = build_artifact(tmp_path)
    assert before != after


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("t4g.micro", "arm64"),
        ("m7g.large", "arm64"),
        ("c7gn.xlarge", "arm64"),
        ("m6gd.large", "arm64"),
        ("r8g.2xlarge", "arm64"),
        ("a1.medium", "arm64"),
        ("t3.micro", "x86_64"),
        ("m7i-flex.large", "x86_64"),
        ("g5.xlarge", "x86_64"),
        ("c6in.large", "x86_64"),
        ("m5a.large", "x86_64"),
    ],
)
def test_ami_architecture_follows_the_instance_family(instance_type: str, arch: str) -> None:
    assert ami_architecture(instance_type) == arch
