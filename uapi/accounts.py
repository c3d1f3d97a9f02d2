"""Accounts: the directory of organizations, users, extensions and apps, and scope.

The directory is declared by the deployment in a YAML or JSON file (see the README) and is
read once at start. :func:`resolve_user` and :func:`resolve_extensions` turn the `userId` and
`extension` of a request into directory objects, enforcing the app's scope.
"""
from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from uapi.errors import bad_request, forbidden

EXTENSION_TYPES = ("phone_terminal", "callback", "conference")
EXTENDED_NUMBER = re.compile(r"^([0-9]+)\*([0-9]+)$")
LOCAL_NUMBER = re.compile(r"^[0-9]+$")
ID = re.compile(r"^[A-Za-z0-9]+$")


class DirectoryError(ValueError):
    """The directory file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    code: str


@dataclass(frozen=True)
class User:
    id: str
    organization: Organization
    name: str


@dataclass(frozen=True)
class Extension:
    number: str
    user: User
    type: str
    caller_id: str | None = None
    sip_password: str | None = field(default=None, repr=False)  # digest secret of a SIP phone; kept out of logs

    @property
    def extended(self) -> str:
        return f"{self.user.organization.code}*{self.number}"

    @property
    def organization(self) -> Organization:
        return self.user.organization


@dataclass(frozen=True)
class Principal:
    """Who a token acts for: kind is "user", "organization" or "admin"."""

    client_id: str
    kind: str
    account_id: str | None = None

    @property
    def account(self) -> str:
        return self.kind if self.account_id is None else f"{self.kind}:{self.account_id}"

    @classmethod
    def parse(cls, client_id: str, account: str) -> Principal:
        kind, _, account_id = account.partition(":")
        if kind == "admin" and not account_id:
            return cls(client_id, "admin")
        if kind in ("user", "organization") and account_id:
            return cls(client_id, kind, account_id)
        raise DirectoryError(f"app {client_id!r}: account must be 'user:<id>', 'organization:<id>' or 'admin', not {account!r}")


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str
    principal: Principal

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.client_secret.encode(), secret.encode())


@dataclass
class Simulator:
    """Behaviour of the built-in simulated switch (the directory's `simulator` block)."""

    answer_delay: float = 0.0
    busy: frozenset[str] = frozenset()
    no_answer: frozenset[str] = frozenset()


@dataclass
class Directory:
    organizations: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    extensions: dict[str, Extension] = field(default_factory=dict)  # by extended number
    apps: dict[str, App] = field(default_factory=dict)
    simulator: Simulator = field(default_factory=Simulator)

    def sip_credentials(self) -> list[tuple[str, str]]:
        """(extended number, SIP password) of every phone that may register with the SIP switch."""
        return [(ext.extended, ext.sip_password) for ext in self.extensions.values() if ext.sip_password is not None]

    def extensions_of(self, user: User) -> list[Extension]:
        return [ext for ext in self.extensions.values() if ext.user == user]

    def organization_of(self, principal: Principal) -> Organization | None:
        if principal.kind == "organization":
            return self.organizations.get(principal.account_id or "")
        if principal.kind == "user":
            user = self.users.get(principal.account_id or "")
            return user.organization if user else None
        return None

    def find_extension(self, number: str, organization: Organization | None) -> Extension | None:
        """An extension by extended number, or by local number inside `organization`."""
        if EXTENDED_NUMBER.match(number):
            return self.extensions.get(number)
        if organization is not None and LOCAL_NUMBER.match(number):
            return self.extensions.get(f"{organization.code}*{number}")
        return None

    # -- loading -----------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Directory:
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except json.JSONDecodeError as exc:
            raise DirectoryError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise DirectoryError(f"{path}: not valid YAML: {getattr(exc, 'problem', None) or 'syntax error'}{where}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "directory") -> Directory:
        if not isinstance(data, dict):
            raise DirectoryError(f"{source}: the top level must be a mapping")
        directory = cls()
        for i, entry in enumerate(_entries(data, "organizations", source)):
            org = Organization(_text(entry, "id", source, f"organizations[{i}]"),
                               _text(entry, "name", source, f"organizations[{i}]"),
                               _text(entry, "code", source, f"organizations[{i}]", LOCAL_NUMBER))
            _add_unique(directory.organizations, org.id, org, f"{source}: organizations[{i}]: duplicate id {org.id!r}")
        if len({org.code for org in directory.organizations.values()}) != len(directory.organizations):
            raise DirectoryError(f"{source}: organization codes must be unique")
        for i, entry in enumerate(_entries(data, "users", source)):
            where = f"users[{i}]"
            org_id = _text(entry, "organization", source, where)
            if org_id not in directory.organizations:
                raise DirectoryError(f"{source}: {where}: unknown organization {org_id!r}")
            user = User(_text(entry, "id", source, where, ID), directory.organizations[org_id], _text(entry, "name", source, where))
            _add_unique(directory.users, user.id, user, f"{source}: {where}: duplicate id {user.id!r}")
        for i, entry in enumerate(_entries(data, "extensions", source)):
            where = f"extensions[{i}]"
            user_id = _text(entry, "user", source, where)
            if user_id not in directory.users:
                raise DirectoryError(f"{source}: {where}: unknown user {user_id!r}")
            ext_type = _text(entry, "type", source, where)
            if ext_type not in EXTENSION_TYPES:
                raise DirectoryError(f"{source}: {where}: type must be one of {', '.join(EXTENSION_TYPES)}")
            caller_id = entry.get("callerId")
            ext = Extension(_text(entry, "number", source, where, LOCAL_NUMBER), directory.users[user_id], ext_type,
                            str(caller_id) if caller_id is not None else None, _sip_password(entry, ext_type, source, where))
            _add_unique(directory.extensions, ext.extended, ext, f"{source}: {where}: duplicate extension {ext.extended!r}")
        for i, entry in enumerate(_entries(data, "apps", source)):
            where = f"apps[{i}]"
            client_id = _text(entry, "clientId", source, where)
            try:
                principal = Principal.parse(client_id, _text(entry, "account", source, where))
            except DirectoryError as exc:
                raise DirectoryError(f"{source}: {where}: {exc}") from None
            known = directory.users if principal.kind == "user" else directory.organizations
            if principal.kind != "admin" and principal.account_id not in known:
                raise DirectoryError(f"{source}: {where}: unknown {principal.kind} {principal.account_id!r}")
            app = App(client_id, _text(entry, "clientSecret", source, where), principal)
            _add_unique(directory.apps, client_id, app, f"{source}: {where}: duplicate clientId {client_id!r}")
        directory.simulator = _simulator(data.get("simulator") or {}, source)
        return directory


def _entries(data: dict[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    entries = data.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DirectoryError(f"{source}: {key} must be a list of mappings")
    return entries


def _text(entry: dict[str, Any], key: str, source: str, where: str, pattern: re.Pattern[str] | None = None) -> str:
    value = entry.get(key)
    if value is None or isinstance(value, (dict, list, bool)):
        raise DirectoryError(f"{source}: {where}: {key} is required")
    text = str(value)
    if pattern is not None and not pattern.match(text):
        raise DirectoryError(f"{source}: {where}: {key} {text!r} is malformed")
    return text


def _sip_password(entry: dict[str, Any], ext_type: str, source: str, where: str) -> str | None:
    """Only a phone terminal registers with the SIP switch, so only it may carry a password."""
    if "sipPassword" not in entry or entry["sipPassword"] is None:
        return None
    if ext_type != "phone_terminal":
        raise DirectoryError(f"{source}: {where}: sipPassword is only allowed on phone_terminal extensions")
    value = entry["sipPassword"]
    if not isinstance(value, str) or not value:
        raise DirectoryError(f"{source}: {where}: sipPassword must be a non-empty string (quote it in YAML)")
    return value


def _add_unique(table: dict[str, Any], key: str, value: object, message: str) -> None:
    if key in table:
        raise DirectoryError(message)
    table[key] = value


def _simulator(block: Any, source: str) -> Simulator:
    if not isinstance(block, dict):
        raise DirectoryError(f"{source}: simulator must be a mapping")
    try:
        delay = float(block.get("answerDelay", 0))
    except (TypeError, ValueError):
        raise DirectoryError(f"{source}: simulator.answerDelay must be a number of seconds") from None
    return Simulator(delay, _digit_set(block.get("busy"), source, "busy"), _digit_set(block.get("noAnswer"), source, "noAnswer"))


def _digit_set(values: Any, source: str, key: str) -> frozenset[str]:
    if values is None:
        return frozenset()
    if not isinstance(values, list):
        raise DirectoryError(f"{source}: simulator.{key} must be a list of numbers")
    return frozenset(str(v).lstrip("+") for v in values)


# -- scope ---------------------------------------------------------------------


def in_scope(principal: Principal, user: User) -> bool:
    if principal.kind == "admin":
        return True
    if principal.kind == "organization":
        return user.organization.id == principal.account_id
    return user.id == principal.account_id


def sees_organization(directory: Directory, principal: Principal, organization_code: str) -> bool:
    """Whether the app sees the extensions numbered under `organization_code` (its own
    organization's, or every one for an admin app), whether or not such an extension exists."""
    if principal.kind == "admin":
        return True
    own = directory.organization_of(principal)
    return own is not None and own.code == organization_code


def resolve_user(directory: Directory, principal: Principal, user_ref: str, owned_extension: str | None) -> User:
    """The user a request acts on; `owned_extension` is the extension `@owner` refers to."""
    if user_ref in ("@me", "@viewer"):
        if principal.kind != "user":
            raise bad_request("user_invalid", f"{user_ref} needs a token of a user app; this app acts for {principal.account}.")
        return directory.users[principal.account_id or ""]
    if user_ref == "@owner":
        if owned_extension is None or owned_extension == "@self":
            raise bad_request("extension_invalid", "@owner needs a single extension to find its owner.")
        extended = EXTENDED_NUMBER.match(owned_extension)
        # Another organization's numbers are out of sight: 403 whether or not the extension
        # exists, so that the answer does not tell the app which numbers are taken there.
        if extended and not sees_organization(directory, principal, extended.group(1)):
            raise forbidden(f"The app may not act on the owner of {owned_extension}.")
        ext = directory.find_extension(owned_extension, directory.organization_of(principal))
        if ext is None:
            raise bad_request("extension_invalid", f"Extension {owned_extension} does not exist.")
        user = ext.user
    else:
        if not ID.match(user_ref):
            raise bad_request("user_invalid", f"User id {user_ref} is malformed.")
        found = directory.users.get(user_ref)
        # Only an admin app sees every user, so only it learns that an id is unknown; any
        # other app gets the same 403 for a user that does not exist as for one out of scope.
        if found is None and principal.kind == "admin":
            raise bad_request("user_invalid", f"User {user_ref} does not exist.")
        if found is None or not in_scope(principal, found):
            raise forbidden(f"The app may not act on user {user_ref}.")
        user = found
    if not in_scope(principal, user):
        raise forbidden(f"The app may not act on user {user.id}.")
    return user


def resolve_extensions(directory: Directory, user: User, ext_ref: str, allow_self: bool = True) -> list[Extension]:
    """The extensions of `user` named by `ext_ref`; `@self` names all of them."""
    if ext_ref == "@self":
        if not allow_self:
            raise bad_request("extension_invalid", "@self cannot be used here; name one extension.")
        return directory.extensions_of(user)
    ext = directory.find_extension(ext_ref, user.organization)
    if ext is None or ext.user != user:
        raise bad_request("extension_invalid", f"Extension {ext_ref} is not an extension of user {user.id}.")
    return [ext]

