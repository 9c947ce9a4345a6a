"""The project's command-line tools: `python -m tools.<plan|review|cost|diagram|schema>`.

They need the project's packages (pulumi, pydantic...), which live in the virtualenv `make setup`
creates (.venv). Started by an interpreter without them (a plain `python` outside the
virtualenv, as the README writes the commands), a tool restarts itself with .venv's interpreter
and the same arguments; when there is no .venv yet it says how to make one and exits with status 2.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_VENV = Path(__file__).resolve().parent.parent / ".venv"


def _use_the_project_interpreter() -> None:
    if importlib.util.find_spec("pulumi") is not None:
        return
    python = _VENV / "bin" / "python"
    inside = Path(sys.prefix).resolve() == _VENV.resolve()
    if python.exists() and not inside:
        os.execv(python, [str(python), *sys.orig_argv[1:]])  # noqa: S606 - the same command, in .venv
    advice = "its packages are missing: run `make setup`" if inside else "run `make setup` first (it creates .venv)"
    sys.stderr.write(f"error: the tools need the project's virtualenv; {advice}\n")
    sys.exit(2)


_use_the_project_interpreter()
