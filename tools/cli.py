"""What every command-line tool shares: a user's mistake is one message and exit status 2.

A mistake in what the user gave a tool (an unknown stack, a `--file` that does not exist, a stack
file that is not valid YAML or holds a bad key) is printed on stderr as one message that names
the file, the key and, where there is one, the line, and the tool exits with status 2 and no
traceback. Anything else is a bug in the program and keeps its traceback.

    @cli.command
    def main(argv: list[str] | None = None) -> int:
        ...
        config = cli.stack_config(args.stack, args.file)   # read and validated, or a clear error
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from components.config import HEADER, ConfigError, validate_stack
from tools.offline import (
    STACKS,
    Run,
    SecretConfigValue,
    StackFileError,
    config_values,
    key_line,
    shown,
    stack_file,
)

USER_ERROR = 2


def command(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Wrap a tool's `main(argv) -> status` so that a user's mistake ends it with one message."""

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except ConfigError as exc:  # StackFileError included
            print(f"error: {exc}", file=sys.stderr)
            return USER_ERROR

    return run


def known_stack_file(stack: str, file: str | Path | None = None) -> Path:
    """The file to read for `stack`: `file` when given, else Pulumi.<stack>.yaml, which must exist."""
    if file is None and stack not in STACKS:
        raise StackFileError(
            f"no stack {stack!r}: there is no {shown(stack_file(stack))}; the stacks are {', '.join(STACKS)} "
            "(or give a stack file with --file)"
        )
    return stack_file(stack, file)


def _with_lines(error: ConfigError, path: Path, stack: str) -> str:
    """The validation message with the file named once and each problem's line where it has one."""
    lines = str(error).split("\n")
    problems = [line.removeprefix("  ") for line in lines[1:]] if lines[0] == HEADER else lines
    located = sorted(((key_line(path, problem.split(": ", 1)[0]), problem) for problem in problems), key=_by_line)
    lines = [f"line {line}: {problem}" if line else problem for line, problem in located]
    return f"{shown(path)}: {HEADER.removesuffix(':')} of stack {stack!r}:\n  " + "\n  ".join(lines)


def _by_line(located: tuple[int | None, str]) -> tuple[int, str]:
    """Problems in the order of the file; those it does not set (a missing key) last."""
    line, problem = located
    return (line if line is not None else sys.maxsize, problem)


def stack_config(stack: str, file: str | Path | None = None) -> dict[str, str]:
    """A stack's config as the engine passes it, read and validated (ConfigError naming the file)."""
    path = known_stack_file(stack, file)
    values = config_values(path)
    try:
        validate_stack(values, [key for key, value in values.items() if isinstance(value, SecretConfigValue)])
    except ConfigError as exc:
        raise ConfigError(_with_lines(exc, path, stack)) from None
    return values


def read_json(file: str | Path) -> Any:
    """A JSON file the user named (ConfigError naming the file and the line)."""
    path = Path(file)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(f"{shown(path)}: no such file") from None
    except json.JSONDecodeError as exc:
        raise StackFileError(
            f"{shown(path)}, line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{shown(path)}: cannot be read: {exc}") from None


def print_warnings(runs: Iterable[Run]) -> None:
    """Each warning the program gave in `runs` once, on stderr (the engine prints them so)."""
    for warning in dict.fromkeys(w for run in runs for w in run.warnings):
        print(f"warning: {warning}", file=sys.stderr)
