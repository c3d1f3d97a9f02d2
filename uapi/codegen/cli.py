"""`uapi generate`: write a client library generated from the spec."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from uapi import package_data
from uapi.cli_errors import UsageError, os_problem, read_text
from uapi.codegen.generate import DEFAULT_OUT, LANGUAGES, render, write_tree
from uapi.codegen.model import load_api
from uapi.codegen.spec import CodegenError
from uapi.spec_core import SpecError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", required=True, choices=LANGUAGES, help="language of the client")
    parser.add_argument("--out", help="output folder (default: generated/<lang>)")
    parser.add_argument("--templates", help="folder of templates overriding the built-in ones "
                                            "of the same relative path (or file name)")
    parser.add_argument("--spec", help="OpenAPI document (default: openapi/uapi.yaml in the working directory "
                                       "if there is one, else the installed contract)")
    parser.add_argument("--package-name", help="Python package / npm package name (default: from info.title)")
    parser.add_argument("--client-name", help="prefix of the client and error classes, e.g. PetStore for "
                                              "PetStoreClient and PetStoreError (default: from info.title)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the output folder differs from what would be generated")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out or DEFAULT_OUT[args.lang])
    spec = Path(args.spec) if args.spec else package_data.default_spec()
    files = _generate(args, spec)
    if args.check:
        stale = [name for name, text in files.items()
                 if not (out / name).is_file() or (out / name).read_bytes() != text.encode("utf-8")]
        for name in stale:
            print(f"out of date: {out / name}", file=sys.stderr)
        return 1 if stale else 0
    try:
        changed = write_tree(files, out)
    except OSError as exc:   # a folder it cannot create or write: the user's --out, not a bug
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out) else ""
        raise UsageError(f"--out {out}: cannot write{where}: {os_problem(exc)}") from None
    elapsed = time.perf_counter() - started
    print(f"{args.lang}: {len(files)} files in {out} ({len(changed)} changed) in {elapsed * 1000:.0f} ms")
    return 0


def _generate(args: argparse.Namespace, spec: Path) -> dict[str, str]:
    """The files of the client; a spec or template the generator cannot use is a UsageError."""
    read_text(spec, "--spec")   # missing, a folder, not UTF-8: one line naming --spec
    try:
        api = load_api(spec, args.package_name, args.client_name)
        for warning in api.warnings:
            print(f"uapi generate: warning: {warning}", file=sys.stderr)
        return render(api, args.lang, args.templates)
    except CodegenError as exc:
        if isinstance(exc.__cause__, SpecError):   # unreadable or unparsable: the core's one line names the file
            raise UsageError(f"--spec: {exc.__cause__}") from None
        problems = [str(problem) for problem in exc.problems] or ["no details"]
        # The first problem on the error line; any others below it, indented.
        rest = "".join(f"\n  {problem}" for problem in problems[1:])
        raise UsageError(f"cannot generate a {args.lang} client from {spec}: {problems[0]}{rest}") from None
    except OSError as exc:   # --templates that cannot be read
        raise UsageError(f"--templates {args.templates}: {os_problem(exc)}") from None
