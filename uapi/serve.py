"""`uapi serve`: run the server with uvicorn."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import warnings
from pathlib import Path

from uapi.accounts import Directory, DirectoryError
from uapi.settings import DEFAULT_SPEC, DEMO_DIRECTORY, Settings, SipSettings
from uapi.spec_loading import SpecError, load_spec
from uapi.store import DatabaseUrlError, async_url

HTTPX_WARNING = "Using `httpx` with `starlette.testclient`"
HTTPX_WARNING_FILTER = f"ignore:{HTTPX_WARNING}"   # -W syntax: action:message prefix


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
    parser.add_argument("--spec", type=Path, metavar="FILE", default=DEFAULT_SPEC,
                        help="the OpenAPI document to serve (default: openapi/uapi.yaml of the project)")
    parser.add_argument("--reload", action="store_true",
                        help="restart when the spec, the handlers or the uapi package change (development only)")
    sip_flags(parser)


def sip_flags(parser: argparse.ArgumentParser) -> None:
    """The switch flags, shared with `uapi kamailio-config`."""
    parser.add_argument("--switch", choices=["sim", "sip"], default="sim",
                        help="sim: the built-in simulated switch (default); sip: real SIP through Kamailio")
    parser.add_argument("--sip-listen", metavar="HOST:PORT", type=address, default=("127.0.0.1", 5060),
                        help="where Kamailio listens for phones (default 127.0.0.1:5060)")
    parser.add_argument("--sip-trunk", metavar="HOST:PORT", type=address,
                        help="where calls to public numbers go (default: none; they fail with 503)")
    parser.add_argument("--sip-engine", metavar="HOST:PORT", type=address,
                        help="where the call-control engine listens (default: the --sip-listen host, a free port)")
    parser.add_argument("--sip-proxy", metavar="HOST:PORT", type=address,
                        help="use a Kamailio run apart (see `uapi kamailio-config`) instead of starting one")
    parser.add_argument("--sip-workdir", metavar="DIR", type=Path,
                        help="folder for Kamailio's config, pidfile and log (default: a temporary folder)")


def address(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets) for argparse."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def sip_settings(args: argparse.Namespace) -> SipSettings | None:
    if args.switch != "sip":
        return None
    engine = args.sip_engine or ((args.sip_proxy or args.sip_listen)[0], 0)
    return SipSettings(listen=args.sip_listen, trunk=args.sip_trunk, engine=engine, proxy=args.sip_proxy,
                       workdir=args.sip_workdir)


def run(args: argparse.Namespace) -> int:
    # Connexion imports Starlette's test client at start-up, which warns about httpx.
    warnings.filterwarnings("ignore", message=HTTPX_WARNING)
    import uvicorn

    from uapi.app import create_app

    if bool(args.tls_cert) != bool(args.tls_key):
        return _fail("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key), ("--directory", args.directory),
                       ("--spec", args.spec)):
        if path is not None and not path.is_file():
            return _fail(f"{flag}: no such file: {path}")
    try:
        async_url(args.database)
        directory = Directory.load(args.directory or DEMO_DIRECTORY)
        load_spec(args.spec)   # a spec that does not parse: a short error now, not a traceback later
    except (DatabaseUrlError, DirectoryError, SpecError) as exc:
        return _fail(str(exc))
    if args.switch == "sip":
        if args.reload:
            return _fail("--reload works with the simulated switch only (a reload would drop live SIP calls)")
        if args.sip_proxy is None and shutil.which("kamailio") is None:
            return _fail("--switch sip needs Kamailio (apt-get install kamailio), or --sip-proxy for one run apart")
    if args.reload:
        return _run_reloading(args, directory)
    settings = Settings(database_url=args.database, directory_path=args.directory, spec_path=args.spec,
                        sip=sip_settings(args))
    app = create_app(settings, directory)
    _print_banner(args, directory)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
                            ssl_keyfile=str(args.tls_key) if args.tls_key else None)
    uvicorn.Server(config).run()
    return 0


def reload_dirs(spec: Path) -> list[Path]:
    """What `--reload` watches: the spec's folder, the handlers package and the uapi package."""
    import handlers

    package = Path(__file__).resolve().parent
    found = [spec.resolve().parent, Path(handlers.__file__).resolve().parent, package]
    return list(dict.fromkeys(found))   # the spec may live in one of the packages


def _run_reloading(args: argparse.Namespace, directory: Directory) -> int:
    """Hand over to uvicorn's reloader, which re-imports the app in a fresh process on each change.

    The reloader can only rebuild the app from an import string, so the settings travel in the
    environment of that process and `uapi.app:app_from_environment` reads them back.
    """
    import uvicorn

    # The served process is a fresh interpreter: it needs run()'s warning filter through the environment.
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), HTTPX_WARNING_FILTER]))
    os.environ["UAPI_DATABASE"] = args.database
    os.environ["UAPI_SPEC"] = str(args.spec.resolve())
    if args.directory is None:
        os.environ.pop("UAPI_DIRECTORY", None)   # an inherited value must not replace the demo directory
    else:
        os.environ["UAPI_DIRECTORY"] = str(args.directory.resolve())
    watched = reload_dirs(args.spec)
    _print_banner(args, directory, watched)
    uvicorn.run("uapi.app:app_from_environment", factory=True, host=args.host, port=args.port,
                log_level=args.log_level, reload=True, reload_dirs=[str(path) for path in watched],
                reload_includes=["*.yaml", "*.py"],
                ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
                ssl_keyfile=str(args.tls_key) if args.tls_key else None)
    return 0


def _fail(message: str) -> int:
    print(f"uapi serve: error: {message}", file=sys.stderr)
    return 2


def _print_banner(args: argparse.Namespace, directory: Directory, watched: list[Path] | None = None) -> None:
    scheme = "https" if args.tls_cert else "http"
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"{scheme}://{host}:{args.port}"
    lines = [
        "UAPI PhoneCalls server",
        f"  API         {base}/uapi/phoneCalls/",
        f"  tokens      {base}/oauth/token  (also /oauth/token.php)",
        f"  spec        {base}/uapi/openapi.json",
        f"  Swagger UI  {base}/uapi/ui/",
        f"  clients     {base}/uapi/sdk/python.tar.gz  {base}/uapi/sdk/typescript.tgz",
        f"  spec file   {args.spec}",
        f"  database    {args.database}",
        f"  directory   {args.directory or 'built-in demo directory'} "
        f"({len(directory.organizations)} organizations, {len(directory.users)} users, "
        f"{len(directory.extensions)} extensions, {len(directory.apps)} apps)",
    ]
    if args.switch == "sip":
        listen = args.sip_proxy or args.sip_listen
        lines.append(f"  switch      sip: phones register at sip:EXTENDED_NUMBER@{listen[0]}:{listen[1]}"
                     f"{' (Kamailio run apart)' if args.sip_proxy else ''}; "
                     f"trunk {'%s:%d' % args.sip_trunk if args.sip_trunk else 'none'}")
    else:
        lines.append("  switch      built-in simulator")
    if watched:
        lines.append(f"  reload      on changes to *.yaml and *.py in {', '.join(map(str, watched))}")
    if args.directory is None:
        lines.append("  demo apps (client_id / client_secret -> account):")
        lines += [f"    {app.client_id} / {app.client_secret} -> {app.principal.account}" for app in directory.apps.values()]
        if args.switch == "sip":
            lines.append("  demo phones (SIP user / password): " + ", ".join(
                f"{user} / {password}" for user, password in directory.sip_credentials()))
        insecure = "-k " if args.tls_cert else ""  # a self-signed certificate needs -k
        lines.append(f"  try: curl -s {insecure}-d grant_type=client_credentials -d client_id=demo-user "
                     f"-d client_secret=demo-user-secret {base}/oauth/token")
    print("\n".join(lines), flush=True)
