"""create_app(settings): the Connexion AsyncApp serving openapi/uapi.yaml, fully wired.

Routing and validation come from the spec; operations resolve to `uapi.handlers.<tag>.<snake_case
operationId>` (the repository's handlers/ folder, see uapi/package_data.py); every failure goes
through `uapi.http_errors`; the store opens and closes with the app's lifespan.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import connexion
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver

from uapi import connexion_tuning
from uapi.accounts import Directory
from uapi.calls import SWEEP_BATCH, CallService
from uapi.downloads import ARCHIVES, archive_endpoint
from uapi.field_limits import FieldLimits
from uapi.home import home_endpoint
from uapi.http_errors import SpecPaths, exception_handler, handled_exceptions
from uapi.json_bodies import OrjsonJsonifier
from uapi.log_redaction import redact_access_log
from uapi.middlewares import ServedApp, in_front_of
from uapi.package_data import HANDLERS_PACKAGE
from uapi.rate_limits import TokenRateLimiter
from uapi.retention import PURGE_BATCH, purge_ended_calls
from uapi.services import Services
from uapi.settings import DEMO_DIRECTORY, Settings
from uapi.spec_core import load_spec
from uapi.store.faults import database_unavailable, one_line
from uapi.store.sql import SqlStore
from uapi.switch import Switch
from uapi.switch.sim import SimulatedSwitch
from uapi.tokens import TokenService
from uapi.validation import VALIDATORS

log = logging.getLogger("uapi")
SPEC_URL = "/uapi/openapi.json"
UI_PATH = "/uapi/ui"


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class TagResolver(Resolver):  # type: ignore[misc]  # connexion ships no type information
    """`hangUpPhoneCall` tagged PhoneCalls → `uapi.handlers.phonecalls.hang_up_phone_call`."""

    def resolve_operation_id(self, operation: Any) -> str:
        tags = operation._operation.get("tags") or ["default"]  # Connexion keeps the raw operation here
        tag = tags[0]
        return f"{HANDLERS_PACKAGE}.{tag.lower()}.{snake_case(operation.operation_id)}"


def load_directory(settings: Settings) -> Directory:
    return Directory.load(settings.directory_path or DEMO_DIRECTORY)


def build_switch(settings: Settings, directory: Directory, store: SqlStore) -> Switch:
    """The engine `settings.switch` names, injected into the domain (never imported by it)."""
    if settings.sip is None:
        return SimulatedSwitch(directory.simulator)
    from uapi.switch.sip.switch import SipSwitch  # only a SIP deployment pays for the SIP engine

    return SipSwitch(directory, settings.sip, store)


def build_services(settings: Settings, directory: Directory, spec: dict[str, Any]) -> Services:
    store = SqlStore(settings.database_url)
    fields = frozenset(spec["components"]["schemas"]["PhoneCall"]["properties"])
    switch = build_switch(settings, directory, store)
    return Services(
        settings=settings,
        directory=directory,
        store=store,
        switch=switch,
        calls=CallService(directory, store, switch, settings.clock, settings.new_id),
        tokens=TokenService(directory, store, settings.clock, settings.token_ttl_seconds,
                            settings.limits.max_live_tokens),
        token_limiter=TokenRateLimiter(settings.limits.token_rate_per_client, settings.limits.token_rate_per_address),
        phonecall_fields=fields,
    )


async def sweep_forever(services: Services) -> None:
    """Write down calls whose deadlines passed (readers see them at once regardless), forget
    expired tokens, and purge ended calls past their retention, a small batch per round."""
    while True:
        try:
            due = await services.calls.sweep()
            await services.store.purge_tokens(int(services.settings.clock()))
            purged = await purge_ended_calls(services.store, services.settings.clock(),
                                             services.settings.retention_days)
        except Exception as exc:  # a database hiccup must not stop the sweeper; the next round retries
            if database_unavailable(exc):   # one line a round while the database is out of reach
                log.warning("sweeping due calls failed: database unavailable: %s", one_line(exc))
            else:
                log.exception("sweeping due calls failed")
            due = purged = 0
        if due < SWEEP_BATCH and purged < PURGE_BATCH:
            await asyncio.sleep(services.settings.sweep_interval_seconds)
        else:
            await asyncio.sleep(0)  # a backlog: another round at once, after the requests waiting


def services_lifespan(services: Services) -> Any:
    """The app's lifespan: the store open and the deadline sweeper running while it serves."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await services.store.start()
        calls = services.calls
        abandoned = await services.switch.start(calls.on_switch_event, calls.incoming)
        await calls.end_switch_calls(call_id for call_id, _party in abandoned)
        sweeper = asyncio.create_task(sweep_forever(services))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            # The switch hangs up every leg it carries as it stops: end those calls first, so
            # the API does not go on listing calls no phone is in.
            await calls.end_switch_calls(services.switch.live_calls())
            await calls.close()
            await services.switch.stop()
            await services.store.close()

    return lifespan


def create_app(settings: Settings, directory: Directory | None = None) -> ServedApp:
    spec = load_spec(settings.spec_path)
    redact_access_log()
    services = build_services(settings, directory or load_directory(settings), spec)

    app = connexion.AsyncApp(__name__, lifespan=services_lifespan(services), security_map=connexion_tuning.SECURITY_MAP,
                             jsonifier=OrjsonJsonifier(), middlewares=connexion_tuning.middlewares(),
                             uri_parser_class=connexion_tuning.OnceURIParser)
    connexion_tuning.install(app)
    app.add_api(
        spec,
        resolver=TagResolver(),
        pythonic_params=True,
        validator_map=VALIDATORS,
        swagger_ui_options=SwaggerUIOptions(spec_path=SPEC_URL, swagger_ui_path=UI_PATH),
    )
    for url, (lang, filename) in ARCHIVES.items():
        app.add_url_rule(url, endpoint=f"sdk-{lang}", view_func=archive_endpoint(settings.spec_path, lang, filename),
                         methods=["GET"])
    info = spec.get("info") or {}
    app.add_url_rule("/", endpoint="home", methods=["GET"],
                     view_func=home_endpoint(str(info.get("title", "UAPI")), str(info.get("version", ""))))
    paths = SpecPaths(spec["paths"])
    handler = exception_handler(paths)
    for exc_type in handled_exceptions():
        app.add_error_handler(exc_type, handler)
    limits = settings.limits
    return in_front_of(app, services, paths, settings.max_body_bytes,
                       FieldLimits(limits.max_fields, limits.max_field_bytes))


def app_from_environment() -> ServedApp:
    """uvicorn's app factory for `uapi serve --reload`.

    The reloader rebuilds the app in a fresh process from an import string, so it cannot be
    handed a Settings object: `uapi serve` puts UAPI_DATABASE, UAPI_DIRECTORY and UAPI_SPEC in
    the environment and this reads them back (Settings itself reads the first two).
    """
    import os  # imported here so that this stays an add-only change to the module

    from uapi.spec_core import DEFAULT_SPEC

    spec = os.environ.get("UAPI_SPEC")
    return create_app(Settings(spec_path=Path(spec) if spec else DEFAULT_SPEC))
