"""`uapi serve`: run the server with uvicorn."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from uapi.accounts import Directory, DirectoryError
from uapi.settings import DEMO_DIRECTORY, Settings
from uapi.store import DatabaseUrlError, async_url


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--directory", type=Path, metavar="FILE",
                        help="YAML or JSON directory of organizations, users, extensions and apps "
                             "(default: the built-in demo directory)")
    parser.add_argument("--database", metavar="URL", default="sqlite:///uapi.db",
                        help="sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB (default sqlite:///uapi.db)")
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="private key of --tls-cert (PEM)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def run(args: argparse.Namespace) -> int:
    # Connexion imports Starlette's test client at start-up, which warns about httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import uvicorn

    from uapi.app import create_app

    if bool(args.tls_cert) != bool(args.tls_key):
        return _fail("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key), ("--directory", args.directory)):
        if path is not None and not path.is_file():
            return _fail(f"{flag}: no such file: {path}")
    try:
        async_url(args.database)
        directory = Directory.load(args.directory or DEMO_DIRECTORY)
    except (DatabaseUrlError, DirectoryError) as exc:
        return _fail(str(exc))
    settings = Settings(database_url=args.database, directory_path=args.directory)
    app = create_app(settings, directory)
    _print_banner(args, directory)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
                            ssl_keyfile=str(args.tls_key) if args.tls_key else None)
    uvicorn.Server(config).run()
    return 0


def _fail(message: str) -> int:
    print(f"uapi serve: error: {message}", file=sys.stderr)
    return 2


def _print_banner(args: argparse.Namespace, directory: Directory) -> None:
    scheme = "https" if args.tls_cert else "http"
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"{scheme}://{host}:{args.port}"
    lines = [
        "UAPI PhoneCalls server",
        f"  API         {base}/uapi/phoneCalls/",
        f"  tokens      {base}/oauth/token  (also /oauth/token.php)",
        f"  spec        {base}/uapi/openapi.json",
        f"  Swagger UI  {base}/uapi/ui/",
        f"  database    {args.database}",
        f"  directory   {args.directory or 'built-in demo directory'} "
        f"({len(directory.organizations)} organizations, {len(directory.users)} users, "
        f"{len(directory.extensions)} extensions, {len(directory.apps)} apps)",
    ]
    if args.directory is None:
        lines.append("  demo apps (client_id / client_secret -> account):")
        lines += [f"    {app.client_id} / {app.client_secret} -> {app.principal.account}" for app in directory.apps.values()]
        lines.append(f"  try: curl -s -d grant_type=client_credentials -d client_id=demo-user "
                     f"-d client_secret=demo-user-secret {base}/oauth/token")
    print("\n".join(lines), flush=True)
