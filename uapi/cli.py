"""The `uapi` command line: one sub-command per module.

Each sub-command module exposes ``configure(parser)`` to declare its flags and
``run(args) -> int`` returning the exit status. Modules are imported only when
their command runs, so `uapi lint` does not pay for the server's imports.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from typing import NoReturn

from uapi.cli_errors import EXIT_USAGE, UsageError

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("uapi.serve", "run the PhoneCalls server"),
    "lint": ("uapi.lint", "check an OpenAPI document against the project's contract rules"),
    "diff": ("uapi.specdiff", "list breaking and non-breaking changes between two spec versions"),
    "generate": ("uapi.codegen.cli", "generate a client library from the spec"),
    "handlers": ("uapi.handlers_check", "find operations without handlers and handlers without operations"),
    "kamailio-config": ("uapi.kamailio_config", "render the Kamailio configuration for running Kamailio apart"),
    "hash-secret": ("uapi.hash_secret", "print the Argon2id hash of a client secret for the directory"),
}


def _installed(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


def _available() -> dict[str, tuple[str, str]]:
    return {name: entry for name, entry in COMMANDS.items() if _installed(entry[0])}


class OneLineParser(argparse.ArgumentParser):
    """A bad flag is one line, `uapi serve: error: ...`, like every other mistake (argparse would
    print the whole usage first); `--help` still shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def version() -> str:
    try:
        return importlib.metadata.version("uapi-phonecalls")
    except importlib.metadata.PackageNotFoundError:   # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = _available()
    parser = OneLineParser(prog="uapi", description="VoipNow UnifiedAPI PhoneCalls toolkit")
    parser.add_argument("--version", action="version", version=f"uapi {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = argv[0] if argv and argv[0] in commands else None
    for name, (module_name, help_text) in commands.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).configure(command_parser)
        else:
            # Only the chosen command's flags matter; others accept anything so
            # `uapi --help` stays cheap.
            command_parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return importlib.import_module(commands[args.command][0]).run(args) or 0
    except UsageError as exc:
        print(f"uapi {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130   # the shell's status for Ctrl-C, without a traceback
    except Exception as exc:
        # A bug, not the user's mistake: still one line (status 1); UAPI_DEBUG=1 shows the traceback.
        if os.environ.get("UAPI_DEBUG"):
            raise
        print(f"uapi {args.command}: internal error: {type(exc).__name__}: {exc} "
              f"(UAPI_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
