"""`uapi serve`: run the server with uvicorn."""
from __future__ import annotations

import argparse
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from uapi import heap
from uapi.accounts import Directory, DirectoryError
from uapi.cli_errors import UsageError, mask_url
from uapi.package_data import handlers_dir
from uapi.preflight import bind_listener, check_contract, check_database, check_port_free, check_tls, check_udp_free
from uapi.serve_limits import (
    demo_banner_line,
    exposure_problem,
    limit_flags,
    positive_int,
    refuse,
    settings_options,
    start_uvicorn_options,
    warn_plaintext_secrets,
)
from uapi.settings import DEFAULT_RETENTION_DAYS, DEMO_DIRECTORY, Settings, SipSettings
from uapi.spec_core import DEFAULT_SPEC, SpecError, load_spec
from uapi.store.sql import DatabaseUrlError, driver_url

HTTPX_WARNING = "Using `httpx` with `starlette.testclient`"
HTTPX_WARNING_FILTER = f"ignore:{HTTPX_WARNING}"   # -W syntax: action:message prefix


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8000, help="port to listen on (default 8000; 0: any free port)")
    parser.add_argument("--directory", type=Path, metavar="FILE",
                        help="YAML or JSON directory of organizations, users, extensions and apps "
                             "(default: the built-in demo directory)")
    parser.add_argument("--database", metavar="URL", default="sqlite:///uapi.db",
                        help="sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB (default sqlite:///uapi.db)")
    parser.add_argument("--retention-days", type=retention_days, metavar="N", default=DEFAULT_RETENTION_DAYS,
                        help="keep ended calls readable for N days, then purge them "
                             f"(default {DEFAULT_RETENTION_DAYS:g}; 0 keeps them forever)")
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="private key of --tls-cert (PEM)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--spec", type=Path, metavar="FILE", default=DEFAULT_SPEC,
                        help="the OpenAPI document to serve (default: the contract installed with the package, "
                             "openapi/uapi.yaml in the repository)")
    parser.add_argument("--reload", action="store_true",
                        help="restart when the spec, the handlers or the uapi package change (development only)")
    parser.add_argument("--workers", type=positive_int, metavar="N", default=1,
                        help="server processes sharing the port (default 1); several work on SQLite (WAL) "
                             "but PostgreSQL is the recommended store for them; limits such as "
                             "--max-connections apply per process; not with --switch sip or --reload")
    limit_flags(parser)
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


def port_number(text: str) -> int:
    """A TCP port for argparse: 0 (any free one) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def retention_days(text: str) -> float:
    """A number of days >= 0 for argparse (fractions allowed: 0.5 is twelve hours)."""
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (0 or more)")
    return days


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

    directory = _preflight(args)
    problem = exposure_problem(args)
    if problem:
        return refuse(problem)
    warn_plaintext_secrets(args.directory, directory)
    if args.reload:
        check_port_free(args.host, args.port)
        return _run_reloading(args, directory)
    settings = Settings(database_url=args.database, directory_path=args.directory, spec_path=args.spec,
                        retention_days=args.retention_days,
                        sip=sip_settings(args), **settings_options(args))
    app = _create_app(settings, directory, args.spec)
    listener = bind_listener(args.host, args.port)   # last check: from here on the server starts
    _print_banner(args, directory, port=listener.getsockname()[1])
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
                            ssl_keyfile=str(args.tls_key) if args.tls_key else None,
                            **start_uvicorn_options(settings.limits))
    config.edge_limits = settings.limits  # type: ignore[attr-defined]  # read by uapi.edge_protocol.EdgeProtocol
    config.spec_paths = app.paths  # type: ignore[attr-defined]  # the same, for the error body of its answers
    if args.workers > 1:
        return _run_workers(config, settings, listener, args.workers)   # each worker settles its own heap
    heap.settle()
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def _run_workers(config: Any, settings: Settings, listener: Any, workers: int) -> int:
    """Hand the bound listener to uvicorn's Multiprocess supervisor (see uapi.workers)."""
    from uapi.workers import WorkerApp, run_workers

    # Workers are fresh interpreters (spawn): they get a picklable factory instead of the app,
    # and run()'s warning filter through the environment.
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), HTTPX_WARNING_FILTER]))
    config.app, config.factory, config.workers = WorkerApp(settings), True, workers
    return run_workers(config, listener, settings.database_url)


def _preflight(args: argparse.Namespace) -> Directory:
    """Every check on the flags, before anything starts; a mistake raises UsageError (one line, exit 2)."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key), ("--directory", args.directory),
                       ("--spec", args.spec)):
        if path is not None and not path.is_file():
            raise UsageError(f"{flag}: no such file: {path}")
    if args.workers > 1 and args.switch == "sip":
        raise UsageError("--workers works with the simulated switch only: each process needs its own --sip-engine "
                         "address (see README, \"Several API processes, one Kamailio\")")
    if args.workers > 1 and args.reload:
        raise UsageError("--workers and --reload do not go together (--reload runs one process, for development)")
    if args.switch == "sip":
        if args.reload:
            raise UsageError("--reload works with the simulated switch only (a reload would drop live SIP calls)")
        if args.sip_proxy is None and shutil.which("kamailio") is None:
            raise UsageError("--switch sip needs Kamailio (apt-get install kamailio), or --sip-proxy for one run apart")
        if args.sip_proxy is not None and (args.sip_engine is None or args.sip_engine[1] == 0):
            raise UsageError("--sip-proxy needs --sip-engine HOST:PORT with a fixed port (the one Kamailio's "
                             "config names, see uapi kamailio-config)")
        for flag, where in (("--sip-listen", None if args.sip_proxy else args.sip_listen),
                            ("--sip-engine", args.sip_engine)):
            if where is not None and where[1] != 0:
                check_udp_free(flag, where)
    try:
        driver_url(args.database)
    except DatabaseUrlError:   # its message quotes the raw URL, password included
        raise UsageError(f"--database {mask_url(args.database)}: not a supported database URL; use "
                         "sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB") from None
    try:
        document = load_spec(args.spec)
    except SpecError as exc:
        raise UsageError(f"--spec: {exc}") from None
    try:
        directory = Directory.load(args.directory or DEMO_DIRECTORY)
    except DirectoryError as exc:
        raise UsageError(f"--directory: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--directory: {args.directory} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"--directory: cannot read {args.directory}: {exc.strerror or exc}") from None
    check_contract(args.spec, document)
    if args.tls_cert:
        check_tls(args.tls_cert, args.tls_key)
    check_database(args.database)
    return directory


def _create_app(settings: Settings, directory: Directory, spec: Path) -> Any:
    from connexion.exceptions import InvalidSpecification, ResolverError

    from uapi.app import create_app

    try:
        return create_app(settings, directory)
    except InvalidSpecification as exc:   # check_contract knows the project's rules; Connexion knows OpenAPI's
        raise UsageError(f"--spec {spec}: not valid OpenAPI: {str(exc).strip().splitlines()[0]}") from None
    except ResolverError as exc:
        raise UsageError(f"--spec {spec}: {str(exc).strip().splitlines()[0]}") from None


def reload_dirs(spec: Path) -> list[Path]:
    """What `--reload` watches: the spec's folder, the handlers package and the uapi package."""
    package = Path(__file__).resolve().parent
    found = [spec.resolve().parent, handlers_dir().resolve(), package]
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
    os.environ["UAPI_RETENTION_DAYS"] = str(args.retention_days)
    os.environ["UAPI_SPEC"] = str(args.spec.resolve())
    if args.directory is None:
        os.environ.pop("UAPI_DIRECTORY", None)   # an inherited value must not replace the demo directory
    else:
        os.environ["UAPI_DIRECTORY"] = str(args.directory.resolve())
    watched = reload_dirs(args.spec)
    _print_banner(args, directory, watched)
    # The reloader builds its config again in each fresh process: the edge protocol runs there
    # with its default limits (--reload is for development; the limit flags shape plain serve).
    uvicorn.run("uapi.app:app_from_environment", factory=True, host=args.host, port=args.port,
                http="uapi.edge_protocol:EdgeProtocol", timeout_keep_alive=args.keep_alive,
                log_level=args.log_level, reload=True, reload_dirs=[str(path) for path in watched],
                reload_includes=["*.yaml", "*.py"],
                ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
                ssl_keyfile=str(args.tls_key) if args.tls_key else None)
    return 0


def _print_banner(args: argparse.Namespace, directory: Directory, watched: list[Path] | None = None,
                  port: int | None = None) -> None:
    scheme = "https" if args.tls_cert else "http"
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"{scheme}://{host}:{port or args.port}"   # the bound port: --port 0 picks one
    lines = [
        "UAPI PhoneCalls server",
        f"  home        {base}/  (links to everything below)",
        f"  API         {base}/uapi/phoneCalls/@me/@self  (needs a token: Authorization: Bearer ...)",
        f"  tokens      {base}/oauth/token  (also /oauth/token.php)",
        f"  spec        {base}/uapi/openapi.json",
        f"  Swagger UI  {base}/uapi/ui/",
        f"  clients     {base}/uapi/sdk/python.tar.gz  {base}/uapi/sdk/typescript.tgz",
        f"  spec file   {args.spec}",
        f"  database    {mask_url(args.database)}",
        *([f"  workers     {args.workers} processes on this port"] if getattr(args, "workers", 1) > 1 else []),
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
        lines.append(demo_banner_line(args))
        lines.append("  demo apps (client_id / client_secret -> account):")
        lines += [f"    {app.client_id} / {app.client_secret} -> {app.principal.account}" for app in directory.apps.values()]
        if args.switch == "sip":
            lines.append("  demo phones (SIP user / password): " + ", ".join(
                f"{user} / {password}" for user, password in directory.sip_credentials()))
        insecure = "-k " if args.tls_cert else ""  # a self-signed certificate needs -k
        lines.append(f"  try: curl -s {insecure}-d grant_type=client_credentials -d client_id=demo-user "
                     f"-d client_secret=demo-user-secret {base}/oauth/token")
    print("\n".join(lines), flush=True)
