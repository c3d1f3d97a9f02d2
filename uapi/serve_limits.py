"""`uapi serve` flags and start-up checks of items that guard the edge: limits, demo, secrets.

Kept apart from uapi/serve.py so the server command stays about starting the server.
"""
from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from uapi.accounts import Directory
from uapi.client_secrets import is_hashed
from uapi.settings import EdgeLimits, Settings


def limit_flags(parser: argparse.ArgumentParser) -> None:
    """`--demo` and the edge limits (uapi.settings.EdgeLimits); every default is the dataclass's."""
    parser.add_argument("--demo", action="store_true",
                        help="serve the built-in demo directory (no --directory) on a non-loopback --host too")
    d = EdgeLimits()
    group = parser.add_argument_group("limits")
    group.add_argument("--max-body-bytes", type=positive_int, default=Settings.max_body_bytes, metavar="N",
                       help=f"largest request body (default {Settings.max_body_bytes}; 413 beyond)")
    group.add_argument("--max-fields", type=positive_int, default=d.max_fields, metavar="N",
                       help=f"query parameters, and form fields, per request (default {d.max_fields}; 400 beyond)")
    group.add_argument("--max-field-bytes", type=positive_int, default=d.max_field_bytes, metavar="N",
                       help=f"longest name=value pair (default {d.max_field_bytes}; 400 beyond)")
    group.add_argument("--max-header-bytes", type=positive_int, default=d.max_header_bytes, metavar="N",
                       help=f"request line and headers (default {d.max_header_bytes}; 431 beyond)")
    group.add_argument("--header-timeout", type=positive_float, default=d.header_timeout_seconds, metavar="S",
                       help=f"seconds to receive a request's headers (default {d.header_timeout_seconds:g}; 408)")
    group.add_argument("--keep-alive", type=positive_float, default=d.keep_alive_seconds, metavar="S",
                       help=f"seconds an idle keep-alive connection stays open (default {d.keep_alive_seconds:g})")
    group.add_argument("--max-connections", type=positive_int, default=d.max_connections, metavar="N",
                       help=f"open connections (default {d.max_connections}; 503 beyond)")
    group.add_argument("--token-rate-per-client", type=rate, default=d.token_rate_per_client, metavar="RATE",
                       help=f"/oauth/token attempts per client_id (default {d.token_rate_per_client}; 429 beyond)")
    group.add_argument("--token-rate-per-address", type=rate, default=d.token_rate_per_address, metavar="RATE",
                       help=f"/oauth/token attempts per client address (default {d.token_rate_per_address}; 429)")
    group.add_argument("--max-live-tokens", type=positive_int, default=d.max_live_tokens, metavar="N",
                       help=f"unexpired tokens per client; the oldest is revoked (default {d.max_live_tokens})")


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def rate(text: str) -> str:
    from uapi.rate_limits import parse_rate

    try:
        parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def edge_limits(args: argparse.Namespace) -> EdgeLimits:
    return EdgeLimits(max_fields=args.max_fields, max_field_bytes=args.max_field_bytes,
                      max_header_bytes=args.max_header_bytes, header_timeout_seconds=args.header_timeout,
                      keep_alive_seconds=args.keep_alive, max_connections=args.max_connections,
                      token_rate_per_client=args.token_rate_per_client,
                      token_rate_per_address=args.token_rate_per_address, max_live_tokens=args.max_live_tokens)


def settings_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Settings keywords these flags fill."""
    return {"max_body_bytes": args.max_body_bytes, "limits": edge_limits(args), "demo": args.demo}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(args: argparse.Namespace) -> str | None:
    """Why the server must not start as asked (the demo credentials on a public address), or None."""
    if args.directory is None and not args.demo and not is_loopback(args.host):
        return (f"the built-in demo directory's credentials are published; it serves on a loopback --host only "
                f"(not {args.host}) unless --demo is given; pass --directory FILE for real apps")
    return None


def warn_plaintext_secrets(path: Path | None, directory: Directory) -> None:
    """One line on stderr when a deployment's directory keeps client secrets in plaintext."""
    if path is None:
        return   # the demo directory's secrets are published on purpose
    plaintext = [app.client_id for app in directory.apps.values() if not is_hashed(app.client_secret)]
    if plaintext:
        shown = ", ".join(plaintext[:5]) + (f" and {len(plaintext) - 5} more" if len(plaintext) > 5 else "")
        print(f"uapi serve: warning: {path}: {len(plaintext)} client secret(s) stored in plaintext ({shown}); "
              f"store the output of `uapi hash-secret` instead", file=sys.stderr, flush=True)


def demo_banner_line(args: argparse.Namespace) -> str:
    reach = "anyone who can reach this address" if not is_loopback(args.host) else "clients on this machine"
    return f"  DEMO CREDENTIALS ACTIVE: the published demo apps below work for {reach}"


def start_uvicorn_options(limits: EdgeLimits) -> dict[str, Any]:
    """uvicorn.Config keywords for the limits, and the descriptor limit lifted (warned when short)."""
    from uapi.edge_protocol import raise_descriptor_limit, uvicorn_options

    problem = raise_descriptor_limit(limits.max_connections)
    if problem:
        print(f"uapi serve: warning: {problem}", file=sys.stderr, flush=True)
    return uvicorn_options(limits)


def refuse(message: str) -> int:
    """The one-line refusal of `uapi serve` (exit status 2, like a bad flag)."""
    print(f"uapi serve: error: {message}", file=sys.stderr, flush=True)
    return 2
