"""The `uapi` command line: one sub-command per module.

Each sub-command module exposes ``configure(parser)`` to declare its flags and
``run(args) -> int`` returning the exit status. Modules are imported only when
their command runs, so `uapi lint` does not pay for the server's imports.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("uapi.serve", "run the PhoneCalls server"),
    "lint": ("uapi.lint", "check an OpenAPI document against the project's contract rules"),
    "diff": ("uapi.specdiff", "list breaking and non-breaking changes between two spec versions"),
    "generate": ("uapi.codegen.cli", "generate a client library from the spec"),
    "handlers": ("uapi.handlers_check", "find operations without handlers and handlers without operations"),
    "kamailio-config": ("uapi.kamailio_config", "render the Kamailio configuration for running Kamailio apart"),
}


def _installed(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


def _available() -> dict[str, tuple[str, str]]:
    return {name: entry for name, entry in COMMANDS.items() if _installed(entry[0])}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = _available()
    parser = argparse.ArgumentParser(prog="uapi", description="VoipNow UnifiedAPI PhoneCalls toolkit")
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
    return importlib.import_module(commands[args.command][0]).run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
