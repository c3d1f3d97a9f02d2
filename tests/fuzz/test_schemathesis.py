"""Schemathesis over the whole contract, in-process: zero failures and zero warnings.

The app is served through Schemathesis' ASGI transport (no network), on a SQLite file, and
the run is the one `st run` makes: the engine's events go through the CLI's own handlers,
so failures, warnings and the exit code mean exactly what they mean on the command line
(warnings fail the run, see schemathesis.toml). Phases: examples, coverage, fuzzing and
stateful (the spec links createSimplePhoneCall to getPhoneCall, updatePhoneCall and
hangUpPhoneCall; Schemathesis infers more).

`st run` only takes a URL; feeding it an ASGI app means calling its executor with the
events itself (`schemathesis.cli.commands.run.executor._execute`, Schemathesis 4.x). If an
upgrade moves it, this import fails loudly rather than the run passing quietly.
"""
from __future__ import annotations

import asyncio
import collections
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import connexion
import pytest
import schemathesis
from schemathesis.cli.commands.run.executor import _execute
from schemathesis.cli.events import LoadingFinished, LoadingStarted
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi
from schemathesis.wfc.escalation import escalating_provider

from tests.fuzz.fuzzenv import (
    ALL_CHECKS,
    IDENTITIES_PATH,
    PHASES,
    PROJECT_ROOT,
    SPEC_URL,
    build_app,
    example_credentials,
    load_config_file,
    seed,
    write_directory,
)
from uapi.spec_core import DEFAULT_SPEC, load_spec

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


@pytest.fixture
def validate_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connexion validates every answer a handler returns against the spec, too: a handler
    answer off the contract becomes a 500, which Schemathesis cannot miss. (Raised errors
    skip Connexion's validation; Schemathesis validates those on the wire.)"""
    add_api = connexion.AsyncApp.add_api

    def add_api_validating(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("validate_responses", True)
        return add_api(self, *args, **kwargs)

    monkeypatch.setattr(connexion.AsyncApp, "add_api", add_api_validating)


@pytest.fixture
def fuzz_target(tmp_path: Path, validate_responses: None) -> Iterator[tuple[Any, str]]:
    """The app on a fresh SQLite file holding the spec's example call, and a real token."""
    spec = load_spec(DEFAULT_SPEC)
    app = build_app(spec, f"sqlite:///{tmp_path / 'uapi.db'}", write_directory(spec, tmp_path / "directory.json"))
    asyncio.run(seed(app, spec))
    # From here the app runs on Schemathesis' event loop, which starts it through its lifespan.
    with asgi.get_client(app) as client:
        response = client.post("/oauth/token", data={"grant_type": "client_credentials", **example_credentials(spec)})
    assert response.status_code == 200, response.text
    try:
        yield app, response.json()["access_token"]
    finally:
        asgi.shutdown_lifespans()


# Schemathesis' own low_valid_rate thresholds (engine.summary / cli warnings).
MIN_VALID_CALLS = 10
MIN_VALID_RATE = 0.2


def valid_total(rate: dict[str, int]) -> int:
    return rate["accepted"] + rate["unreachable"] + rate["conflicts"] + rate["rejected"]


class PhaseCounter:
    """Test cases sent per phase, and 2xx answers per phase and operation, counted from the
    engine's events as they pass."""

    def __init__(self) -> None:
        self.cases: collections.Counter[str] = collections.Counter()
        self.scenarios: collections.Counter[str] = collections.Counter()
        self.successes: collections.Counter[tuple[str, str]] = collections.Counter()

    def watch(self, stream: Iterator[events.EngineEvent]) -> Iterator[events.EngineEvent]:
        for event in stream:
            if isinstance(event, events.ScenarioFinished):
                phase = event.phase.value
                self.cases[phase] += len(event.recorder.cases)
                self.scenarios[phase] += 1
                for case_id, node in event.recorder.cases.items():
                    interaction = event.recorder.interactions.get(case_id)
                    if interaction is not None and interaction.response is not None \
                            and 200 <= interaction.response.status_code < 300:
                        self.successes[(phase, node.value.operation.label)] += 1
            yield event

    def succeeded(self, label: str, phases: tuple[str, ...] = PHASES) -> int:
        return sum(self.successes[(phase, label)] for phase in phases)


def run_like_cli(schema: Any, counter: PhaseCounter) -> int:
    """`st run` on an already loaded schema; answers the exit code."""
    location = f"asgi:{SPEC_URL}"

    def stream() -> Iterator[events.EngineEvent]:
        started = LoadingStarted(location=location)
        yield started
        yield LoadingFinished.from_schema(schema, location=location, start_time=started.timestamp,
                                          base_url=schema.get_base_url())
        yield from counter.watch(from_schema(schema).execute())

    try:
        _execute(stream(), config=schema.config, args=[], params={}, startup_warnings=[])
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_schemathesis_finds_no_failures_and_no_warnings(fuzz_target: tuple[Any, str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    app, _token = fuzz_target  # the run logs in by itself, as [auth.wfc] says
    report_dir = tmp_path / "report"
    file_config = load_config_file()
    # The identities file, wherever pytest runs from (the committed path is relative to the root).
    file_config["auth"]["wfc"]["path"] = str(IDENTITIES_PATH)
    config = schemathesis.Config.from_dict(
        {**file_config,
         "reports": {"json": {"enabled": True, "path": str(report_dir / "report.json")},
                     "junit": {"enabled": True, "path": str(report_dir / "junit.xml")}}},
        base_dir=str(PROJECT_ROOT),
    )
    schema = schemathesis.openapi.from_asgi(SPEC_URL, app, config=config)
    project = schema.config
    disabled = [name for name in ALL_CHECKS if not getattr(project.checks, name).enabled]
    assert not disabled, f"checks disabled globally in schemathesis.toml: {disabled}"

    counter = PhaseCounter()
    exit_code = run_like_cli(schema, counter)
    output = capsys.readouterr().out
    print(output)
    print("test cases per phase:", dict(counter.cases), "scenarios:", dict(counter.scenarios))

    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    warnings_found = {kind: labels for kind, labels in report["warnings"].items() if labels}
    assert report["failures"] == [], output
    assert report["errors"] == [], output
    assert warnings_found == {}, output
    assert exit_code == 0, output
    assert report["operations"]["tested"] == report["operations"]["selected"] == report["operations"]["total"], output
    for phase in PHASES:
        assert report["phases"][phase]["status"] == "success", (phase, report["phases"])
        assert counter.cases[phase] > 0, (phase, dict(counter.cases))
    # Valid requests reach every operation and succeed, not only get refused.
    labels = [operation.ok().label for operation in schema.get_all_operations()]
    assert all(counter.succeeded(label) for label in labels), dict(counter.successes)
    # updatePhoneCall's "valid data rejected" warnings are off in schemathesis.toml because the
    # unit phases meet ended calls; it must succeed where calls are live.
    update = "PUT /uapi/phoneCalls/{userId}/{extension}/{phoneCallId}"
    assert counter.succeeded(update, ("examples",)) and counter.succeeded(update, ("stateful",)), dict(counter.successes)
    # Schemathesis' opt-in low_valid_rate, per operation: where a unit phase sent enough valid
    # requests to judge, at least a fifth of them were accepted (updatePhoneCall excepted, above).
    # object_level_authorization ran: john-app's reads of its own calls were replayed as both
    # organization 4 identities ([auth.wfc] peers), and neither got the call (no failure above).
    # (`_probed` holds the replays the check made; if an upgrade renames it, this fails loudly.)
    provider = escalating_provider(schema)
    assert provider is not None and set(provider.peers) == {"john-app", "max-app", "org4"}, provider
    get_call = "GET /uapi/phoneCalls/{userId}/{extension}/{phoneCallId}"
    replayed = {(key[1], key[3]) for key in provider._probed if key[0] == "read"}
    assert {(get_call, "max-app"), (get_call, "org4")} <= replayed, replayed
    low = {(label, phase): rate for label, phases in report["valid_rates"].items() if label != update
           for phase, rate in phases.items() if valid_total(rate) >= MIN_VALID_CALLS
           and rate["accepted"] < MIN_VALID_RATE * valid_total(rate)}
    assert low == {}, low
