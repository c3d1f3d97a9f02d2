"""Loading the directory file (§5) and resolving @me / @owner / @self (scope rules)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from uapi.accounts import Directory, DirectoryError, Principal, resolve_extensions, resolve_user
from uapi.errors import UapiError

BASE = {
    "organizations": [{"id": "3", "name": "Org", "code": "0003"}],
    "users": [{"id": "12", "organization": "3", "name": "John"}],
    "extensions": [{"number": "210", "user": "12", "type": "phone_terminal"}],
    "apps": [{"clientId": "a", "clientSecret": "s", "account": "user:12"}],
}


def with_(**changes: object) -> dict:
    return {**BASE, **changes}


def test_yaml_and_json_files_load_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(json.dumps(BASE))
    (tmp_path / "d.yaml").write_text(
        "organizations:\n  - {id: '3', name: Org, code: '0003'}\nusers:\n  - {id: '12', organization: '3', name: John}\n"
        "extensions:\n  - {number: '210', user: '12', type: phone_terminal}\n"
        "apps:\n  - {clientId: a, clientSecret: s, account: 'user:12'}\n")
    from_json, from_yaml = Directory.load(tmp_path / "d.json"), Directory.load(tmp_path / "d.yaml")
    assert from_json.extensions.keys() == from_yaml.extensions.keys() == {"0003*210"}
    assert from_json.apps["a"].principal == Principal("a", "user", "12")


def test_numbers_written_as_yaml_integers_are_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text("organizations:\n  - {id: 3, name: Org, code: '0003'}\n"
                                     "users:\n  - {id: 12, organization: 3, name: John}\n"
                                     "extensions:\n  - {number: 210, user: 12, type: callback}\n")
    assert "0003*210" in Directory.load(tmp_path / "d.yaml").extensions


def test_simulator_block_is_read() -> None:
    directory = Directory.from_dict(with_(simulator={"answerDelay": 2, "busy": ["+5550001"], "noAnswer": [5550002]}))
    assert directory.simulator.answer_delay == 2
    assert directory.simulator.busy == {"5550001"} and directory.simulator.no_answer == {"5550002"}


@pytest.mark.parametrize("data, message", [
    ([], "top level must be a mapping"),
    (with_(users=[{"id": "12", "organization": "9", "name": "x"}]), "unknown organization '9'"),
    (with_(extensions=[{"number": "210", "user": "12", "type": "fax"}]), "type must be one of"),
    (with_(extensions=[{"number": "2*10", "user": "12", "type": "callback"}]), "number '2*10' is malformed"),
    (with_(apps=[{"clientId": "a", "clientSecret": "s", "account": "root"}]), "account must be"),
    (with_(apps=[{"clientId": "a", "clientSecret": "s", "account": "user:99"}]), "unknown user '99'"),
    (with_(apps=[{"clientId": "a", "account": "admin"}]), "clientSecret is required"),
    (with_(organizations=BASE["organizations"] * 2), "duplicate id '3'"),
    (with_(extensions=BASE["extensions"] * 2), "duplicate extension '0003*210'"),
    (with_(simulator={"answerDelay": "soon"}), "answerDelay must be a number"),
    (with_(users="nobody"), "users must be a list"),
])
def test_malformed_directories_are_refused_with_the_entry_named(data: object, message: str) -> None:
    with pytest.raises(DirectoryError, match=message.replace("*", r"\*")):
        Directory.from_dict(data)


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("organizations: [\n")
    with pytest.raises(DirectoryError, match="bad.yaml: not valid YAML"):
        Directory.load(tmp_path / "bad.yaml")


def directory() -> Directory:
    return Directory.from_dict({
        "organizations": [{"id": "3", "name": "A", "code": "0003"}, {"id": "4", "name": "B", "code": "0004"}],
        "users": [{"id": "12", "organization": "3", "name": "J"}, {"id": "21", "organization": "4", "name": "M"}],
        "extensions": [{"number": "210", "user": "12", "type": "phone_terminal"},
                       {"number": "211", "user": "12", "type": "callback"},
                       {"number": "210", "user": "21", "type": "phone_terminal"}],
    })


def test_owner_with_a_short_number_reads_it_in_the_apps_organization() -> None:
    d = directory()
    assert resolve_user(d, Principal("o", "organization", "4"), "@owner", "210").id == "21"
    assert resolve_user(d, Principal("o", "organization", "3"), "@owner", "210").id == "12"
    with pytest.raises(UapiError, match="extension_invalid"):
        resolve_user(d, Principal("x", "admin"), "@owner", "210")  # an admin has no organization to read it in
    assert resolve_user(d, Principal("x", "admin"), "@owner", "0004*210").id == "21"


def test_self_names_every_extension_of_the_user() -> None:
    d = directory()
    assert [e.extended for e in resolve_extensions(d, d.users["12"], "@self")] == ["0003*210", "0003*211"]
    with pytest.raises(UapiError, match="extension_invalid"):
        resolve_extensions(d, d.users["12"], "@self", allow_self=False)
