"""The web tier's artifact and the migration function's archive: same commit, same key, no internet at boot.

- `apps/web/requirements.lock` pins every distribution the app needs, each by the SHA-256 of its
  wheels for the instances' platforms: manylinux up to glibc 2.34 (Amazon Linux 2023 and the
  python3.12 Lambda runtime), CPython 3.12, arm64 and x86_64. Regenerate it after changing
  `requirements.txt` with `python -m components.multi_tier.wheelhouse lock` (downloads from PyPI).
- The wheelhouse, those wheels for one platform, is downloaded once per lock hash into a cache
  (`$XDG_CACHE_HOME/aws-patterns/wheelhouse/`, `--require-hashes`) by the real `pulumi up` or
  `pulumi preview` that needs it. The offline engine (mocks) never downloads: it needs the key only.
- The key hashes the uncompressed content: each file by name and bytes (the lock among them, which
  fixes every wheel by hash) and the platform. So it is known without the wheels, equal on every
  machine for one commit, and changes with any file, pin or platform. The archives themselves are
  written with fixed names, order, modes and times, so their bytes are the same everywhere too.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from components import assets
from components.defaults import PROJECT

APP_DIR = assets.WEB_APP_DIR
PYTHON = "3.12"
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# pip matches an explicit --platform exactly, so every manylinux level up to AL2023's is listed.
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
# What an instance needs from apps/web (the wheels come from the wheelhouse).
APP_FILES = (
    "app.py",
    "database.py",
    "requirements.lock",
    "web.service",
    "web-ready.service",
    "web-ready.timer",
    "report-readiness",
)
EXECUTABLES = frozenset({"report-readiness"})
MIGRATION_FILES = ("migrate.py", "database.py")
# What the migration function imports beyond what the Lambda runtime brings (boto3).
MIGRATION_DISTRIBUTIONS = frozenset({"psycopg", "psycopg-binary", "typing-extensions"})
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


@dataclass(frozen=True)
class Built:
    """An archive's content key (stable per content and platform) and where its file is (or goes)."""

    digest: str
    path: Path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / PROJECT


def platforms(arch: str) -> list[str]:
    return [f"{tag}_{MACHINES[arch]}" for tag in MANYLINUX]


def distribution(wheel: str) -> tuple[str, str]:
    """(normalized name, version) of a wheel file name such as `psycopg_binary-3.3.9-cp312-...whl`."""
    name, version = wheel.split("-")[:2]
    return re.sub(r"[-_.]+", "-", name).lower(), version


def read_files(names: tuple[str, ...], app_dir: Path = APP_DIR) -> dict[str, bytes]:
    return {name: (app_dir / name).read_bytes() for name in names}


def content_digest(files: dict[str, bytes], arch: str) -> str:
    """SHA-256 over the files by name and bytes, and the platform (not over any archive's bytes)."""
    digest = hashlib.sha256(f"python{PYTHON}-{arch}\0".encode())
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def wheelhouse(arch: str, app_dir: Path = APP_DIR) -> Path:
    """The locked wheels for `arch`, downloaded on first use for this lock (cached by its hash)."""
    lock = app_dir / "requirements.lock"
    target = cache_root() / "wheelhouse" / f"{arch}-py{PYTHON}-{hashlib.sha256(lock.read_bytes()).hexdigest()[:16]}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".download-"))
    _pip_download(["--no-deps", "--require-hashes", "-r", str(lock)], arch, staging)
    # Renamed whole once complete, so an interrupted download is never taken for a wheelhouse.
    staging.replace(target)
    return target


def _pip_download(args: list[str], arch: str, dest: Path) -> None:
    platform_args = [f"--platform={p}" for p in platforms(arch)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", *platform_args]
    command += [f"--python-version={PYTHON}", "--implementation=cp", f"--dest={dest}", *args]
    subprocess.run(command, check=True)  # noqa: S603 - a fixed command line, no shell


def web_artifact(arch: str, app_dir: Path = APP_DIR, wheels: Path | None = None) -> Built:
    """The instance artifact (a tar of the app files and `wheels/`); written when `wheels` is given."""
    files = read_files(APP_FILES, app_dir)
    digest = content_digest(files, arch)
    path = cache_root() / "artifacts" / f"web-{arch}-{digest[:32]}.tar"
    if wheels is not None:
        entries = {name: (data, 0o755 if name in EXECUTABLES else 0o644) for name, data in files.items()}
        for wheel in sorted(wheels.glob("*.whl")):
            entries[f"wheels/{wheel.name}"] = (wheel.read_bytes(), 0o644)
        _write_atomically(path, _tar(entries))
    return Built(digest, path)


def migration_archive(arch: str, app_dir: Path = APP_DIR, wheels: Path | None = None) -> Built:
    """The migration function's zip (its code and the unpacked psycopg wheels); written when `wheels` is given."""
    files = read_files(MIGRATION_FILES, app_dir)
    # The lock decides which wheels are unpacked, so it is part of the content the key covers.
    digest = content_digest({**files, "requirements.lock": (app_dir / "requirements.lock").read_bytes()}, arch)
    path = cache_root() / "artifacts" / f"migrate-{arch}-{digest[:32]}.zip"
    if wheels is not None:
        entries = {name: (data, 0o644) for name, data in files.items()}
        for wheel in sorted(wheels.glob("*.whl")):
            if distribution(wheel.name)[0] in MIGRATION_DISTRIBUTIONS:
                entries.update(_unpacked(wheel))
        _write_atomically(path, _zip(entries))
    return Built(digest, path)


def _unpacked(wheel: Path) -> dict[str, tuple[bytes, int]]:
    """A wheel's files as installed in a Lambda archive's root (`*.data/purelib|platlib/` folded in)."""
    out = {}
    with zipfile.ZipFile(wheel) as whl:
        for info in whl.infolist():
            if info.is_dir():
                continue
            name = info.filename
            data_dir = re.fullmatch(r"[^/]+\.data/([^/]+)/(.+)", name)
            if data_dir:
                if data_dir[1] not in ("purelib", "platlib"):
                    continue  # scripts and headers: nothing a function imports
                name = data_dir[2]
            out[name] = (whl.read(info), 0o755 if (info.external_attr >> 16) & 0o111 else 0o644)
    return out


def _tar(entries: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            data, mode = entries[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid, info.gid = len(data), mode, 0, 0, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(entries: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    Path(tmp).replace(path)


def lock(app_dir: Path = APP_DIR) -> str:
    """requirements.lock for `requirements.txt`: every distribution, with the hashes of its wheels for each platform."""
    found: dict[str, dict[str, set[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in MACHINES:
            dest = Path(tmp) / arch
            _pip_download(["-r", str(app_dir / "requirements.txt")], arch, dest)
            for wheel in sorted(dest.glob("*.whl")):
                name, version = distribution(wheel.name)
                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                found.setdefault(name, {}).setdefault(version, set()).add(digest)
    lines = [
        "# Generated by `python -m components.multi_tier.wheelhouse lock` from requirements.txt; do not edit.",
        f"# Every distribution the web tier installs, with the SHA-256 of its wheels for CPython {PYTHON} on",
        f"# {', '.join(MANYLINUX)} ({', '.join(MACHINES.values())}).",
    ]
    for name in sorted(found):
        ((version, hashes),) = found[name].items()  # one version for every platform
        lines.append(f"{name}=={version} \\")
        pins = [f"    --hash=sha256:{h}" for h in sorted(hashes)]
        lines += [pin + " \\" for pin in pins[:-1]] + pins[-1:]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv[1:] == ["lock"]:
        (APP_DIR / "requirements.lock").write_text(lock())
        return 0
    if len(argv) == 3 and argv[1] == "wheels" and argv[2] in MACHINES:
        print(wheelhouse(argv[2]))
        return 0
    print(f"usage: python -m components.multi_tier.wheelhouse lock | wheels {{{'|'.join(MACHINES)}}}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
