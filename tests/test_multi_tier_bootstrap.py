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
import zipfile
from pathlib import Path

import pytest

from components.multi_tier import component as multi_tier
from components.multi_tier import wheelhouse
from components.multi_tier.component import SETTINGS_MARKER, ami_architecture, render_user_data
from tools.offline import ROOT, run_cached

APP_DIR = ROOT / "apps" / "web"
UNIT = APP_DIR / "web.service"
UNITS = ("web.service", "web-ready.service", "web-ready.timer")
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


def _unit(name: str = "web.service") -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (APP_DIR / name).read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )


def _settings(user_data: str) -> dict[str, str]:
    pairs = re.findall(r"^readonly ([A-Z_]+)=(.*)$", user_data, re.MULTILINE)
    return {k: (shlex.split(v) or [""])[0] for k, v in pairs}


# --- user data -----------------------------------------------------------------------------------


def test_rendered_user_data_passes_shellcheck(user_data: str, tmp_path: Path) -> None:
    script = tmp_path / "user-data.sh"
    script.write_text(user_data)
    # SC2154 (used but never assigned) is on: every setting the template uses must be rendered.
    proc = subprocess.run([_tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_the_readiness_reporter_passes_shellcheck() -> None:
    reporter = APP_DIR / "report-readiness"
    proc = subprocess.run([_tool("shellcheck"), "--severity=style", str(reporter)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    assert os.access(reporter, os.X_OK)


def test_booting_needs_no_internet(user_data: str) -> None:
    # Packages come from the distribution's repositories and the artifact bucket (both on S3 in the
    # region, through the gateway endpoint); the app's dependencies from the wheels in the artifact.
    commands = [line.strip() for line in user_data.splitlines() if line.strip() and not line.startswith(("#", " "))]
    assert not [c for c in commands if c.startswith(("curl", "wget"))], "nothing is downloaded from the internet"
    joined = user_data.replace("\\\n", " ")
    (pip,) = [line for line in joined.splitlines() if line.startswith("/opt/web/venv/bin/pip ")]
    flags = ("--no-index", "--find-links /opt/web/wheels", "--require-hashes")
    for flag in (*flags, "--requirement /opt/web/requirements.lock"):
        assert flag in " ".join(pip.split()), flag
    assert 'aws s3 cp --region "$REGION" "s3://$ARTIFACT_BUCKET/$ARTIFACT_KEY"' in user_data
    assert re.search(r"^dnf install -y python3\.12$", user_data, re.MULTILINE)


def test_user_data_carries_this_stack_and_no_placeholder(user_data: str) -> None:
    assert user_data.startswith("#!/bin/bash\n")
    assert SETTINGS_MARKER not in user_data
    settings = _settings(user_data)
    assert settings["REGION"] == "us-east-1"
    assert settings["DB_PORT"] == str(multi_tier.DB_PORT)
    assert settings["APP_PORT"] == "8080"
    assert settings["ARTIFACT_KEY"].startswith("web/")
    # The database by its identifier (fixed before it exists), the app's role, never the master secret.
    (db,) = run_cached("prod", preview=False).by_type("aws:rds/instance:Instance")
    assert settings["DB_INSTANCE_ID"] == db.inputs["identifier"]
    assert settings["DB_USER"] == multi_tier.APP_DB_USER
    assert "DB_SECRET_ARN" not in settings and "DB_HOST" not in settings
    assert db.outputs["address"] not in user_data
    every_use = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", (APP_DIR / "user-data.sh").read_text()))
    assert every_use <= set(settings), every_use - set(settings)


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


@pytest.mark.parametrize("name", UNITS)
def test_systemd_units_verify_clean(tmp_path: Path, name: str) -> None:
    analyze = _tool("systemd-analyze")
    # A throwaway root holding the unit, the host's own units (for its targets) and a stand-in
    # for the gunicorn the instance installs, so `verify` checks the unit and not this machine.
    host_units = Path("/usr/lib/systemd/system")
    if not host_units.is_dir():
        host_units = Path("/lib/systemd/system")
    shutil.copytree(host_units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    for service in ("web.service", "web-ready.service"):
        binary = tmp_path / _unit(service)["ExecStart"].split()[0].lstrip("/")
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit_name in UNITS:  # the timer needs its service beside it
        shutil.copy(APP_DIR / unit_name, units / unit_name)
    proc = subprocess.run([analyze, "verify", f"--root={tmp_path}", str(units / name)], capture_output=True, text=True)
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
    assert unit["Restart"] == "always", "systemd restarts the app whenever it exits"
    assert unit["StateDirectory"] == "web", "the app keeps the RDS CA bundle it fetched in /var/lib/web"
    assert "DB_SSLROOTCERT=/var/lib/web/" in user_data
    installed = re.search(r"^install -m 0644 (.*) /etc/systemd/system/$", user_data, re.MULTILINE)
    assert installed and sorted(Path(p).name for p in installed[1].split()) == sorted(UNITS)
    assert "systemctl enable --now web.service web-ready.timer" in user_data


def test_the_readiness_reporter_asks_the_apps_readiness_path_every_minute(user_data: str) -> None:
    reporter = (APP_DIR / "report-readiness").read_text()
    app = (APP_DIR / "app.py").read_text()
    (path,) = re.findall(r'^READINESS_PATH = "([^"]+)"', app, re.MULTILINE)
    assert f'http://127.0.0.1:${{PORT}}{path}"' in reporter
    assert '--metric-name Ready --dimensions "WebTier=$WEB_TIER"' in reporter
    assert '--namespace "$READINESS_NAMESPACE"' in reporter
    assert _unit("web-ready.service")["ExecStart"] == "/opt/web/report-readiness"
    assert _unit("web-ready.service")["EnvironmentFile"] == _unit()["EnvironmentFile"]
    assert _unit("web-ready.timer")["OnUnitActiveSec"] == "1min"
    for name in ("READINESS_NAMESPACE", "WEB_TIER", "AWS_REGION", "PORT"):
        assert f"{name}=" in user_data


def test_the_unit_starts_the_app_factory() -> None:
    module, _, call = _unit()["ExecStart"].split()[-1].partition(":")
    assert call == "create_app()"
    source = (APP_DIR / f"{module}.py").read_text()
    assert re.search(r"^def create_app\(settings: Settings \| None = None, password: .*= None\)", source, re.M)


# --- artifact and AMI ------------------------------------------------------------------------------


def _copy_app(target: Path, stray: bool = False) -> Path:
    shutil.copytree(APP_DIR, target)
    if stray:  # what a developer's checkout collects: none of it may reach the artifact
        (target / "__pycache__").mkdir(exist_ok=True)
        (target / "__pycache__" / "app.cpython-311.pyc").write_bytes(os.urandom(64))
        (target / "notes.txt").write_text("scratch")
    return target


def _fake_wheels(target: Path) -> Path:
    """A wheelhouse stand-in: real wheel-shaped zips (the tests never download)."""
    target.mkdir()
    for dist, module in (("psycopg", "psycopg"), ("psycopg_binary", "psycopg_binary"), ("flask", "flask")):
        with zipfile.ZipFile(target / f"{dist}-1.0-py3-none-any.whl", "w") as whl:
            whl.writestr(f"{module}/__init__.py", f"NAME = {module!r}\n")
            whl.writestr(f"{dist}-1.0.dist-info/METADATA", "Name: x\n")
            whl.writestr(f"{dist}-1.0.data/scripts/tool", "#!/bin/sh\n")
    return target


def test_the_artifact_is_the_same_from_two_copies_of_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = _fake_wheels(tmp_path / "wheels")
    built = []
    for i, stray in enumerate((False, True)):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"cache{i}"))
        app = _copy_app(tmp_path / f"checkout{i}" / "apps" / "web", stray=stray)
        os.utime(app / "app.py", (i * 1000, i * 1000))  # different mtimes, different paths
        built.append(wheelhouse.web_artifact("arm64", app_dir=app, wheels=wheels))
    first, second = built
    assert first.digest == second.digest
    assert first.path.read_bytes() == second.path.read_bytes()
    with tarfile.open(first.path) as tar:
        names = tar.getnames()
        assert sorted(names) == sorted([*wheelhouse.APP_FILES, *(f"wheels/{w.name}" for w in wheels.glob("*.whl"))])
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
        assert tar.getmember("report-readiness").mode == 0o755 and tar.getmember("app.py").mode == 0o644


def test_the_key_hashes_the_content_not_a_compressed_form(tmp_path: Path) -> None:
    app = _copy_app(tmp_path / "web")
    before = wheelhouse.web_artifact("arm64", app_dir=app).digest
    assert wheelhouse.web_artifact("x86_64", app_dir=app).digest != before, "wheels differ per platform"
    (app / "requirements.lock").write_text((app / "requirements.lock").read_text() + "# a new pin\n")
    assert wheelhouse.web_artifact("arm64", app_dir=app).digest != before, "a changed pin is a new artifact"
    (app / "requirements.lock").write_text((APP_DIR / "requirements.lock").read_text())
    assert wheelhouse.web_artifact("arm64", app_dir=app).digest == before
    expected = wheelhouse.content_digest(wheelhouse.read_files(wheelhouse.APP_FILES, app), "arm64")
    assert before == expected


def test_the_migration_archive_is_reproducible_and_holds_only_its_code_and_psycopg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = _fake_wheels(tmp_path / "wheels")
    built = []
    for i in range(2):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"cache{i}"))
        built.append(wheelhouse.migration_archive("arm64", app_dir=_copy_app(tmp_path / f"c{i}", True), wheels=wheels))
    assert built[0].digest == built[1].digest and built[0].path.read_bytes() == built[1].path.read_bytes()
    with zipfile.ZipFile(built[0].path) as archive:
        names = sorted(archive.namelist())
    assert names == sorted(
        [
            "database.py",
            "migrate.py",
            "psycopg/__init__.py",
            "psycopg-1.0.dist-info/METADATA",
            "psycopg_binary/__init__.py",
            "psycopg_binary-1.0.dist-info/METADATA",
        ]
    ), "flask (not the function's) and the wheels' scripts stay out"


def test_the_wheelhouse_is_downloaded_once_per_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def download(args: list[str], arch: str, dest: Path) -> None:
        calls.append((args, arch))
        (dest / "x-1.0-py3-none-any.whl").write_bytes(b"wheel")

    monkeypatch.setattr(wheelhouse, "_pip_download", download)
    first = wheelhouse.wheelhouse("arm64")
    assert wheelhouse.wheelhouse("arm64") == first and len(calls) == 1
    (args, arch), *_ = calls
    assert arch == "arm64" and "--require-hashes" in args and "--no-deps" in args
    assert wheelhouse.platforms("arm64")[0] == "manylinux_2_34_aarch64"


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
