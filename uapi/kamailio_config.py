"""`uapi kamailio-config`: the Kamailio configuration for running Kamailio apart.

`uapi serve --switch sip` starts and supervises its own Kamailio. To run Kamailio as a
service of its own instead (your init system supervises it; the API restarts without
dropping registrations), render its config here with a fixed engine address, start
Kamailio with it, and run `uapi serve --switch sip --sip-proxy HOST:PORT --sip-engine
HOST:PORT` with the same addresses. Several API processes (on one PostgreSQL) may share one
Kamailio: give each its own `--sip-engine` and list them all here.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from uapi.accounts import Directory, DirectoryError
from uapi.serve import address
from uapi.settings import DEMO_DIRECTORY


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--directory", type=Path, metavar="FILE", help="the directory (default: the demo one)")
    parser.add_argument("--sip-listen", metavar="HOST:PORT", type=address, default=("127.0.0.1", 5060),
                        help="where Kamailio listens for phones (default 127.0.0.1:5060)")
    parser.add_argument("--sip-engine", metavar="HOST:PORT", type=address, required=True, action="append",
                        help="the fixed address `uapi serve --sip-engine` will listen on; repeat it for "
                             "each API process sharing this Kamailio")
    parser.add_argument("--sip-trunk", metavar="HOST:PORT", type=address, help="where public numbers go")
    parser.add_argument("--rpc", metavar="HOST:PORT", type=address, default=("127.0.0.1", 5071),
                        help="Kamailio's JSON-RPC (HTTP) address (default 127.0.0.1:5071)")
    parser.add_argument("--workdir", metavar="DIR", type=Path, default=Path("/var/run/kamailio"),
                        help="Kamailio's runtime folder (control socket) (default /var/run/kamailio)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of standard output")


def run(args: argparse.Namespace) -> int:
    from uapi.switch.sip.kamailio import KamailioError, render_config

    if any(port == 0 for _host, port in args.sip_engine):
        return _fail("--sip-engine needs a fixed port: Kamailio sends the phones' calls there")
    try:
        directory = Directory.load(args.directory or DEMO_DIRECTORY)
        text = render_config(directory, listen=args.sip_listen, rpc=args.rpc, engine=args.sip_engine,
                             trunk=args.sip_trunk, workdir=args.workdir)
    except (DirectoryError, KamailioError) as exc:
        return _fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:   # the --directory file itself
        return _fail(f"--directory: cannot read {args.directory}: {getattr(exc, 'strerror', None) or exc}")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"--out: cannot write {args.out}: {exc.strerror}")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _fail(message: str) -> int:
    print(f"uapi kamailio-config: error: {message}", file=sys.stderr)
    return 2
