"""Object-level authorization across organizations, driven by Schemathesis-generated requests.

schemathesis.toml lists three identities under [auth.wfc] with `peers`, so the main run's
`object_level_authorization` check replays john-app's successful reads as the organization 4
apps. That check only ever replays reads (a replayed write would change the owner's data) and
only with the owner's own path. This test covers the rest: writes and hang-ups too, and paths
that name the owner explicitly.

Identity A is `john-app` (user 12, organization 3), which owns the spec's example call and a
second call it places here. The peers are `max-app` (user 21, organization 4, whose phone
terminal is also numbered 210) and `org4` (organization 4's app). For every PhoneCalls
operation Schemathesis generates schema-valid requests (fixed seed); each is aimed at A's
user, extensions and calls, or at the peer's own user and extension 210 with A's call id, and
sent with the peer's token. The peer must get 400 or 403 with the UAPI error body, never a
2xx on A's user or calls, and no successful answer it gets may carry A's call ids. Afterwards A still
reads both calls exactly as before (live, unchanged), so the peers changed nothing, and the
test would fail if A could not read its own calls.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.python import asgi

from tests.fuzz.fuzzenv import (
    OTHER_ORG_APP,
    OTHER_ORG_USER_APP,
    PROJECT_ROOT,
    SPEC_URL,
    build_app,
    example_call_id,
    example_create_body,
    example_credentials,
    seed,
    write_directory,
)
from uapi.spec_core import DEFAULT_SPEC, load_spec

EXAMPLES_PER_OPERATION = 25
PEERS = {
    "max-app": {"client_id": OTHER_ORG_USER_APP["clientId"], "client_secret": OTHER_ORG_USER_APP["clientSecret"]},
    "org4": OTHER_ORG_APP,
}
# A's user and extensions, as a peer can name them: by id, or through `@owner` with the
# organization-qualified number (an unqualified number resolves inside the caller's organization).
OWNER_TARGETS = [("12", "210"), ("12", "0003*210"), ("12", "211"), ("12", "@self"), ("@owner", "0003*210"),
                 ("@owner", "0003*211"), ("13", "220")]
# The peer's own user and extension 210 (a different extension from A's 210): legitimate scope,
# where A's call ids must be unknown.
PEER_OWN_TARGETS = {"max-app": [("@me", "210"), ("21", "210"), ("@owner", "210"), ("@me", "@self")],
                    "org4": [("21", "210"), ("@owner", "210"), ("@owner", "0004*210"), ("21", "@self")]}
# What a refusal may say: outside the scope, or not there from where the peer stands (the
# generated body itself may be refused first, with its own 400 code).
SCOPE_CODES = {"access_denied", "user_invalid", "extension_invalid", "pc_phonecall_invalid"}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app with A's two calls, the loaded schema, and a token per identity."""
    tmp_path: Path = tmp_path_factory.mktemp("object-authorization")
    spec = load_spec(DEFAULT_SPEC)
    app = build_app(spec, f"sqlite:///{tmp_path / 'uapi.db'}", write_directory(spec, tmp_path / "directory.json"))
    asyncio.run(seed(app, spec))
    config = schemathesis.Config.from_dict({"seed": 20261127, "generation": {"database": "none"}},
                                           base_dir=str(PROJECT_ROOT))
    schema = schemathesis.openapi.from_asgi(SPEC_URL, app, config=config)
    with asgi.get_client(app) as client:
        tokens = {}
        for name, credentials in {"john-app": example_credentials(spec), **PEERS}.items():
            response = client.post("/oauth/token", data={"grant_type": "client_credentials", **credentials})
            assert response.status_code == 200, response.text
            tokens[name] = response.json()["access_token"]
        created = client.post("/uapi/phoneCalls/@me/simple", json={**example_create_body(spec), "extension": "211",
                                                                   "phoneCallView": [{"source": ["211"], "destination": ["8887777"]}]},
                              headers={"Authorization": f"Bearer {tokens['john-app']}"})
        assert created.status_code == 200, created.text
        calls = {example_call_id(spec): "210", created.json()[0]["id"]: "211"}
    try:
        yield {"app": app, "schema": schema, "tokens": tokens, "calls": calls}
    finally:
        asgi.shutdown_lifespans()


def owner_reads(target: dict[str, Any]) -> dict[str, Any]:
    """A's view of each of its calls, read by A."""
    views = {}
    with asgi.get_client(target["app"]) as client:
        for call_id, extension in target["calls"].items():
            response = client.get(f"/uapi/phoneCalls/@me/{extension}/{call_id}",
                                  headers={"Authorization": f"Bearer {target['tokens']['john-app']}"})
            assert response.status_code == 200, response.text
            views[call_id] = response.json()
    return views


def phonecall_operations() -> list[tuple[str, str]]:
    spec = load_spec(DEFAULT_SPEC)
    return [(path, method) for path, item in spec["paths"].items() for method, operation in item.items()
            if isinstance(operation, dict) and "PhoneCalls" in operation.get("tags", [])]


@pytest.fixture(scope="module")
def before(target: dict[str, Any]) -> dict[str, Any]:
    views = owner_reads(target)
    for call_id, view in views.items():
        # The listed call is A's, live, and really there: the peers' answers below are judged against it.
        assert json.dumps(view).count(call_id), view
        assert not any("ended" in item for item in view), view
    return views


@pytest.mark.parametrize("peer", sorted(PEERS))
@pytest.mark.parametrize(("path", "method"), phonecall_operations())
def test_peer_from_another_organization_never_reaches_owner_objects(
        target: dict[str, Any], before: dict[str, Any], peer: str, path: str, method: str) -> None:
    operation = target["schema"][path][method.upper()]
    call_ids = sorted(target["calls"])
    token = target["tokens"][peer]
    targets = st.sampled_from([*((user, ext, True) for user, ext in OWNER_TARGETS),
                               *((user, ext, False) for user, ext in PEER_OWN_TARGETS[peer])])

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
    @given(case=operation.as_strategy(), aim=targets, call_id=st.sampled_from(call_ids))
    def check(case: Any, aim: tuple[str, str, bool], call_id: str) -> None:
        user, extension, names_owner = aim
        case.path_parameters["userId"] = user
        if "extension" in case.path_parameters:
            case.path_parameters["extension"] = extension
        elif isinstance(case.body, dict):
            # A new call is charged to the body's extension; `@owner` finds its owner there.
            case.body["extension"] = extension
        names_call = "phoneCallId" in case.path_parameters
        if names_call:
            case.path_parameters["phoneCallId"] = call_id
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call()
        described = f"{peer}: {case.method} {case.formatted_path} {case.body!r} -> {response.status_code} {response.text}"
        if 200 <= response.status_code < 300:
            # An error message may repeat the id it refuses; a success must not show A's calls.
            for own_call in call_ids:
                assert own_call not in response.text, f"A's call {own_call} leaked\n{described}"
        if not (names_owner or names_call):
            # The peer on its own user and extension, naming none of A's objects: its own business.
            return
        assert response.status_code in (400, 403), described
        error = response.json()["error"]
        assert set(error) == {"code", "message"} and error["message"], described
        if response.status_code == 403:
            assert error["code"] == "access_denied", described
        if case.method in ("GET", "DELETE") and names_call:
            assert error["code"] in SCOPE_CODES, described

    check()
    # Nothing the peer sent changed A's calls, and A still reads them.
    assert owner_reads(target) == before
