"""What a Schemathesis run against the server needs, shared by the in-process and CLI runs.

The target is the test directory plus the spec's own example account, so the examples in
openapi/uapi.yaml are real requests: the `issueToken` example credentials (`john-app`)
belong to user 12, and the call the path examples name (`7d280cc4feae3255a497`) exists.
"""
from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from uapi.accounts import Directory
from uapi.app import create_app
from uapi.settings import PROJECT_ROOT, Settings

TEST_DIRECTORY = PROJECT_ROOT / "tests" / "support" / "directory.yaml"
SPEC_URL = "/uapi/openapi.json"
CONFIG_PATH = PROJECT_ROOT / "schemathesis.toml"
# Who the run acts as ([auth.wfc] in schemathesis.toml; the path there is relative to the project root).
IDENTITIES_PATH = PROJECT_ROOT / "tests" / "fuzz" / "identities.yaml"
# A user app in organization 4 (user 21, whose phone terminal is also 210): a peer that must
# never see or touch organization 3's calls. Organization 4's own app (`org4`) is in the directory.
OTHER_ORG_USER_APP = {"clientId": "max-app", "clientSecret": "max-s3cret", "account": "user:21"}
OTHER_ORG_APP = {"client_id": "org4", "client_secret": "org4-secret"}
# The account the spec's examples act for: `@me` with extension 210 is user 12's phone terminal.
EXAMPLE_ACCOUNT = "user:12"
# Built-in checks; every one must be enabled globally (tuning happens per operation only).
ALL_CHECKS = (
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
    "positive_data_acceptance", "missing_required_header", "unsupported_method",
    "allow_header_conformance", "use_after_free", "ensure_resource_availability", "ignored_auth",
    "object_level_authorization", "max_response_time",
)
PHASES = ("examples", "coverage", "fuzzing", "stateful")


def load_config_file() -> dict[str, Any]:
    with CONFIG_PATH.open("rb") as handle:
        return tomllib.load(handle)


def example_credentials(spec: dict[str, Any]) -> dict[str, str]:
    form = spec["paths"]["/oauth/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["example"]
    return {"client_id": form["client_id"], "client_secret": form["client_secret"]}


def example_call_id(spec: dict[str, Any]) -> str:
    return spec["components"]["parameters"]["PhoneCallId"]["schema"]["example"]


def example_create_body(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["paths"]["/uapi/phoneCalls/{userId}/simple"]["post"]["requestBody"]["content"]["application/json"]["example"]


def directory_data(spec: dict[str, Any]) -> dict[str, Any]:
    """The test directory plus the app of the spec's `issueToken` example and user 21's app."""
    data = yaml.safe_load(TEST_DIRECTORY.read_text(encoding="utf-8"))
    credentials = example_credentials(spec)
    data["apps"].append({"clientId": credentials["client_id"], "clientSecret": credentials["client_secret"],
                         "account": EXAMPLE_ACCOUNT})
    data["apps"].append(dict(OTHER_ORG_USER_APP))
    return data


def write_directory(spec: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(directory_data(spec)), encoding="utf-8")
    return path


def id_source(first: str) -> Callable[[], str]:
    """Call ids: the spec's example id first, then 20-hex-digit counters (deterministic runs)."""
    counter = itertools.count(1)
    pending = [first]
    return lambda: pending.pop() if pending else f"{next(counter):020x}"


def build_app(spec: dict[str, Any], database_url: str, directory_file: Path) -> Any:
    settings = Settings(database_url=database_url, directory_path=directory_file, new_id=id_source(example_call_id(spec)))
    return create_app(settings, Directory.load(directory_file))


async def issue_token(http: httpx.AsyncClient, credentials: dict[str, str]) -> str:
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials", **credentials})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def seed(app: Any, spec: dict[str, Any]) -> None:
    """Place the spec's example call (it gets the example id), through the API itself."""
    await app.services.store.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://seed") as http:
            token = await issue_token(http, example_credentials(spec))
            response = await http.post("/uapi/phoneCalls/@me/simple", json=example_create_body(spec),
                                       headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            assert response.json()[0]["id"] == example_call_id(spec), response.text
    finally:
        await app.services.store.close()
