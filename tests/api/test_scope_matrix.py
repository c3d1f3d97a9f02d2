"""Scope over the identity x target x operation matrix (issue 11, "Scope, tightened").

Three tables, each checked whole so that a failure prints every cell that differs:

* **users**: which users each app may name, for every operation that takes a `userId`. An app
  gets 403 for any user it cannot see, whether or not the user exists; only an admin app,
  which sees everyone, learns that an id is unknown (400 `user_invalid`).
* **sources**: which numbers a call may start from. A user app: its user's own phones; an
  organization or admin app: the phones of the user's organization. Public numbers are
  anybody's. An extension the app may not use is refused like one that does not exist.
* **targets**: `sendCallTo` of every action that names one: phone terminals of the call's
  organization, a colleague's included; a public number only for Transfer, and only on a call
  placed with `allowPublicTransfer`. Targets do not depend on who asks.

Scope is decided before the store is touched, so one store (SQLite) is enough here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TEST_DIRECTORY
from uapi.accounts import Directory

OK, FORBIDDEN, USER_INVALID, EXTENSION_INVALID = "ok", "403", "user_invalid", "extension_invalid"
REFUSED = "refused"
NO_CALL = "00000000000000000001"   # a well-formed id of no call: past the scope check, 400 pc_phonecall_invalid

# The test directory: org 3 (code 0003) has John (user 12: phones 210, 211, callback 212,
# conference 213) and Jane (user 13: phone 220); org 4 (code 0004) has Max (user 21: phone 210).
IDENTITIES = ["john", "jane", "org3", "org4", "admin"]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'uapi.db'}"


@pytest.fixture
def directory() -> Directory:
    """The test directory plus Ann (user 14, phone 0003*230), the callee of the action calls,
    so that every phone of John and Jane is free to be a target. Parties answer after 5 s, so
    a call can be caught ringing (PickUp) or answered."""
    data = yaml.safe_load(TEST_DIRECTORY.read_text(encoding="utf-8"))
    data["users"].append({"id": "14", "organization": "3", "name": "Ann Poe"})
    data["extensions"].append({"number": "230", "user": "14", "type": "phone_terminal"})
    directory = Directory.from_dict(data)
    directory.simulator.answer_delay = 5
    return directory


def outcome(response: Any) -> str:
    """What a response says about scope: refused (403 or a code naming the user/extension), or past it."""
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code >= 400:
        code = response.json()["error"]["code"]
        if code in (USER_INVALID, EXTENSION_INVALID):
            return code
    return OK


def table_diff(expected: dict, actual: dict) -> list[str]:
    return [f"{key}: expected {expected[key]}, got {actual[key]}" for key in expected if expected[key] != actual[key]]


# -- users ----------------------------------------------------------------------------

# (userId, extension in the path / body): who is named, with one of that user's own extensions.
USERS = {
    "own user (12)": ("12", "0003*210"),
    "colleague (13)": ("13", "0003*220"),
    "other organization (21)": ("21", "0004*210"),
    "nonexistent (999)": ("999", "0003*210"),
    "@owner colleague's phone": ("@owner", "0003*220"),
    "@owner other organization's phone": ("@owner", "0004*210"),
    "@owner nonexistent phone of another organization": ("@owner", "0004*299"),
    "@owner phone of an organization that does not exist": ("@owner", "0099*210"),
}
# What each app may do with each user; the rows differ only in who is in sight.
F, O, UI, EI = FORBIDDEN, OK, USER_INVALID, EXTENSION_INVALID
USER_TABLE = {
    #                                                     john jane org3 org4 admin
    "own user (12)":                                      (O,   F,   O,   F,   O),
    "colleague (13)":                                     (F,   O,   O,   F,   O),
    "other organization (21)":                            (F,   F,   F,   O,   O),
    "nonexistent (999)":                                  (F,   F,   F,   F,   UI),
    "@owner colleague's phone":                           (F,   O,   O,   F,   O),
    "@owner other organization's phone":                  (F,   F,   F,   O,   O),
    "@owner nonexistent phone of another organization":   (F,   F,   F,   EI,  EI),
    "@owner phone of an organization that does not exist": (F,   F,   F,   F,   EI),
}


def user_requests(user: str, extension: str) -> dict[str, tuple[str, str, dict]]:
    base = f"/uapi/phoneCalls/{user}"
    return {
        "create": ("POST", f"{base}/simple", {"json": {"extension": extension,
                                                        "phoneCallView": [{"destination": "8887777"}]}}),
        "list": ("GET", f"{base}/{extension}", {}),
        "get": ("GET", f"{base}/{extension}/{NO_CALL}", {}),
        "update": ("PUT", f"{base}/{extension}/{NO_CALL}", {"json": {"action": "OnHold", "phoneCallViewId": "00"}}),
        "hang up all": ("DELETE", f"{base}/{extension}", {}),
        "hang up one": ("DELETE", f"{base}/{extension}/{NO_CALL}", {}),
    }


@pytest.mark.parametrize("identity", IDENTITIES)
async def test_users_an_app_may_name(api, identity):
    column = IDENTITIES.index(identity)
    expected, actual, bodies = {}, {}, {}
    for label, (user, extension) in USERS.items():
        for operation, (method, path, extra) in user_requests(user, extension).items():
            response = await api.request(method, path, as_=identity, **extra)
            expected[label, operation] = USER_TABLE[label][column]
            actual[label, operation] = outcome(response)
            if response.status_code == 403:
                bodies[label, operation] = response.json()["error"]["code"]
    assert not table_diff(expected, actual), "\n".join(table_diff(expected, actual))
    assert set(bodies.values()) <= {"access_denied"}


async def test_an_unknown_user_and_one_out_of_scope_answer_alike(api):
    """Nothing in the answer (status, code, headers) tells a user app which ids exist."""
    colleague = await api.request("GET", "/uapi/phoneCalls/13/0003*220", as_="john")
    nobody = await api.request("GET", "/uapi/phoneCalls/999/0003*220", as_="john")
    assert colleague.status_code == nobody.status_code == 403
    assert colleague.json()["error"]["code"] == nobody.json()["error"]["code"] == "access_denied"
    assert colleague.json()["error"]["message"].replace("13", "999") == nobody.json()["error"]["message"]
    assert set(colleague.headers) == set(nobody.headers)


# -- sources --------------------------------------------------------------------------

SOURCES = ["0003*210", "211", "0003*220", "220", "0004*210", "0003*299", "0004*299", "+4031234567"]
# Who places the call (identity, userId, charged extension) and which sources it may use.
SOURCE_TABLE = {
    ("john", "@me", "210"): {"0003*210": OK, "211": OK, "+4031234567": OK},
    ("jane", "@me", "220"): {"0003*220": OK, "220": OK, "+4031234567": OK},
    ("org3", "12", "210"): {"0003*210": OK, "211": OK, "0003*220": OK, "220": OK, "+4031234567": OK},
    ("org3", "13", "220"): {"0003*210": OK, "211": OK, "0003*220": OK, "220": OK, "+4031234567": OK},
    ("admin", "12", "210"): {"0003*210": OK, "211": OK, "0003*220": OK, "220": OK, "+4031234567": OK},
    # In org 4, the local numbers 211 and 220 name no extension: they are dialled as public numbers.
    ("org4", "21", "0004*210"): {"0004*210": OK, "211": OK, "220": OK, "+4031234567": OK},
}


@pytest.mark.parametrize("placer", list(SOURCE_TABLE), ids=lambda p: "-".join(p))
async def test_sources_a_call_may_start_from(api, placer):
    identity, user, charged = placer
    expected, actual, messages = {}, {}, {}
    for source in SOURCES:
        body = {"extension": charged, "phoneCallView": [{"source": source, "destination": "8887777"}]}
        response = await api.request("POST", f"/uapi/phoneCalls/{user}/simple", as_=identity, json=body)
        expected[source] = SOURCE_TABLE[placer].get(source, REFUSED)
        if response.status_code == 200:
            actual[source] = OK
            await api.request("DELETE", f"/uapi/phoneCalls/{user}/{charged}", as_=identity)
        else:
            assert response.status_code == 400 and response.json()["error"]["code"] == "pc_source_invalid", response.text
            actual[source] = REFUSED
            messages[source] = response.json()["error"]["message"].replace(source, "<source>")
    assert not table_diff(expected, actual), "\n".join(table_diff(expected, actual))
    # A colleague's phone, another organization's and one that does not exist: one message.
    assert len(set(messages.values())) <= 1, messages


# -- targets --------------------------------------------------------------------------

TARGETS = {
    "own other phone (211)": "211",
    "colleague's phone (0003*220)": "0003*220",
    "colleague's phone, local number (220)": "220",
    "other organization's phone (0004*210)": "0004*210",
    "nonexistent extension (0003*299)": "0003*299",
    "callback extension (212)": "212",
    "conference extension (0003*213)": "0003*213",
    "public number": "+4031234567",
}
PHONES = {"own other phone (211)", "colleague's phone (0003*220)", "colleague's phone, local number (220)"}
ACTIONS = ["PickUp", "BargeIn", "Whisper", "Monitor", "UnPark", "TransferToVoicemail", "Transfer",
           "Transfer with allowPublicTransfer"]


def target_expected(action: str, target: str) -> str:
    if target in PHONES:
        return OK
    if target == "public number" and action == "Transfer with allowPublicTransfer":
        return OK
    return REFUSED


async def act_on_fresh_call(api: Any, clock: Any, identity: str, action: str, target: str) -> Any:
    """Place a call from John's 210 to Ann's 230 and apply `action` with `sendCallTo=target`."""
    user = "@me" if identity == "john" else "12"
    query = "?allowPublicTransfer=true" if action.endswith("allowPublicTransfer") else ""
    body = {"extension": "210", "phoneCallView": [{"destination": "0003*230"}]}
    created = await api.request("POST", f"/uapi/phoneCalls/{user}/simple{query}", as_=identity, json=body)
    assert created.status_code == 200, created.text
    path = f"/uapi/phoneCalls/{user}/210/{created.json()[0]['id']}"
    if action != "PickUp":   # every other action needs an answered call; PickUp, a ringing view (01)
        clock.advance(5)
    if action == "UnPark":
        parked = await api.request("PUT", path, as_=identity,
                                   json={"action": "Park", "phoneCallViewId": "00", "maxInParking": 60})
        assert parked.status_code == 200, parked.text
    name = action.split()[0]
    body = {"action": name, "sendCallTo": target}
    if name in ("Transfer", "TransferToVoicemail"):
        body["transferNumber"] = "0003*230"
        if name == "Transfer":
            body["transferFromNumber"] = "210"
    else:
        body["phoneCallViewId"] = "01" if name == "PickUp" else "00"
    return await api.request("PUT", path, as_=identity, json=body)


@pytest.mark.parametrize("identity", ["john", "org3", "admin"])
async def test_action_targets(api, clock, identity):
    expected, actual = {}, {}
    for action in ACTIONS:
        for label, target in TARGETS.items():
            response = await act_on_fresh_call(api, clock, identity, action, target)
            expected[action, label] = target_expected(action, label)
            if response.status_code == 200:
                actual[action, label] = OK
            else:
                assert response.json()["error"]["code"] == "pc_sendcallto_invalid", (action, label, response.text)
                actual[action, label] = REFUSED
    assert not table_diff(expected, actual), "\n".join(table_diff(expected, actual))
