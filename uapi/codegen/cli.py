"""`uapi generate`: write a client library generated from the spec."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from uapi.codegen.generate import DEFAULT_OUT, LANGUAGES, render, write_tree
from uapi.codegen.model import load_api
from uapi.codegen.spec import CodegenError

DEFAULT_SPEC = "openapi/uapi.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", required=True, choices=LANGUAGES, help="language of the client")
    parser.add_argument("--out", help="output folder (default: generated/<lang>)")
    parser.add_argument("--templates", help="folder of templates overriding the built-in ones "
                                            "of the same relative path (or file name)")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help=f"OpenAPI document (default: {DEFAULT_SPEC})")
    parser.add_argument("--package-name", help="Python package / npm package name (default: from info.title)")
    parser.add_argument("--client-name", help="prefix of the client and error classes, e.g. PetStore for "
                                              "PetStoreClient and PetStoreError (default: from info.title)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the output folder differs from what would be generated")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out or DEFAULT_OUT[args.lang])
    spec = Path(args.spec)
    if args.spec == DEFAULT_SPEC and not spec.exists():
        # Run from elsewhere than the repository root: use the repository's own spec.
        spec = Path(__file__).resolve().parents[2] / DEFAULT_SPEC
    try:
        api = load_api(spec, args.package_name, args.client_name)
        for warning in api.warnings:
            print(f"uapi generate: warning: {warning}", file=sys.stderr)
        if args.lang not in LANGUAGES:
            raise CodegenError([])
        files = render(api, args.lang, args.templates)
    except CodegenError as exc:
        print(f"uapi generate: cannot generate a {args.lang} client from {spec}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"uapi generate: {exc}", file=sys.stderr)
        return 1
    if args.check:
        stale = [name for name, text in files.items()
                 if not (out / name).is_file() or (out / name).read_bytes() != text.encode("utf-8")]
        for name in stale:
            print(f"out of date: {out / name}", file=sys.stderr)
        return 1 if stale else 0
    changed = write_tree(files, out)
    elapsed = time.perf_counter() - started
    print(f"{args.lang}: {len(files)} files in {out} ({len(changed)} changed) in {elapsed * 1000:.0f} ms")
    return 0
