"""The one shape of a user's mistake on the command line: `uapi <command>: error: <what and where>`.

A command raises :class:`UsageError` for anything the user gave it (a flag, a file, a URL, a port,
a folder it cannot write); `uapi.cli.main` prints the one line and exits 2, the same status for the
same mistake in every command. Messages never carry a password: URLs go through :func:`mask_url`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

EXIT_USAGE = 2   # argparse's own status for a bad flag; every other mistake uses it too

# user:password@ after any scheme://, the way SQLAlchemy reads it (the password runs to the first
# '@'), also inside a longer message.
_PASSWORD = re.compile(r"(?P<head>[\w.+-]+://[^:/@\s]*:)[^@\s]*@")


class UsageError(Exception):
    """A mistake in what the user asked for; the message says what and where, in one line."""


def mask_url(url: str) -> str:
    """`postgresql://app:s3cret@db/uapi` → `postgresql://app:***@db/uapi`; other URLs unchanged."""
    return _PASSWORD.sub(r"\g<head>***@", url)


def os_problem(exc: OSError) -> str:
    """`Permission denied`, `Not a directory`, ... without Python's `[Errno 13]` prefix."""
    return exc.strerror or str(exc)


def yaml_problem(exc: yaml.YAMLError, source: str | os.PathLike[str]) -> str:
    """`FILE:LINE:COLUMN: problem` for a YAML error; PyYAML itself names the input `<unicode string>`."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(source)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or "not valid YAML"
    return f"{where}: {problem}"


def read_text(path: Path, what: str) -> str:
    """A file the user named, as text; any failure is a UsageError naming the flag and the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what}: no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{what}: {path} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path}: {os_problem(exc)}") from None
