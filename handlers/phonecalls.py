"""Handlers of the PhoneCalls tag: HTTP in, a call on the domain, HTTP out. No business rules."""
from __future__ import annotations

from typing import Any

from connexion import request
from starlette.responses import Response

from uapi import heap
from uapi.accounts import Extension, Principal, User, resolve_extensions, resolve_user
from uapi.call_document import CallOptions
from uapi.call_types import CallDoc, CallKind
from uapi.errors import bad_request
from uapi.filters import list_query
from uapi.json_bodies import json_body
from uapi.services import Services, current

# What a handler answers: (body, status) for Connexion to serialise, or a response passed through as is.
Reply = tuple[Any, int] | Response


def _no_content() -> Response:
    # A framework response passes Connexion untouched; (None, 204) would gain a Content-Type.
    return Response(status_code=204)


def _principal(token_info: dict[str, Any]) -> Principal:
    principal: Principal = token_info["principal"]
    return principal


def _scope(services: Services, token_info: dict[str, Any], user_id: str, extension: str) -> tuple[User, list[Extension]]:
    user = resolve_user(services.directory, _principal(token_info), user_id, extension)
    return user, resolve_extensions(services.directory, user, extension)


def _fields(services: Services, fields: str | None) -> set[str] | None:
    if fields is None:
        return None
    names = set(fields.split(","))
    unknown = sorted(names - services.phonecall_fields)
    if unknown:
        raise bad_request("fields_invalid", f"Unknown PhoneCall field(s): {', '.join(unknown)}.")
    return names | {"id"}


def _present(docs: list[CallDoc], fields: set[str] | None) -> list[dict[str, object]]:
    """The PhoneCalls as answered: the stored ones with their `links`, cut to `fields`. The
    request's URL is read once: reading it per call cost a bulk hang-up of 10 000 calls 0.3 s (and
    `request` builds a new request object, and the URL, at each use)."""
    url = request.url
    base = f"{url.scheme}://{url.netloc}"
    return [_one(doc, base, fields) for doc in docs]


def _one(doc: CallDoc, base: str, fields: set[str] | None) -> dict[str, object]:
    call = doc["call"]
    self_link = f"{base}/uapi/phoneCalls/{doc['userId']}/{call['extension']}/{call['id']}"
    answered: dict[str, object] = {**call, "links": {"self": self_link}}
    return answered if fields is None else {k: v for k, v in answered.items() if k in fields}


def _collection(docs: list[CallDoc], total: int, start: int, fields: set[str] | None) -> dict[str, Any]:
    entry = _present(docs, fields)
    return {"startIndex": start, "itemsPerPage": len(entry), "totalResults": total, "entry": entry}


async def _create(kind: CallKind, user_id: str, body: dict[str, Any], token_info: dict[str, Any], fields: str | None,
                  options: CallOptions) -> Reply:
    services = current()
    wanted = _fields(services, fields)
    principal = _principal(token_info)
    user = resolve_user(services.directory, principal, user_id, body["extension"])
    (charged,) = resolve_extensions(services.directory, user, body["extension"], allow_self=False)
    doc = await services.calls.create(kind, user, charged, body, options, principal)
    return _present([doc], wanted), 200


def _options(wait_for_pickup: int | None, call_duration: int | None, allow_public_transfer: bool | None,
             video: bool | None, **conference: str | None) -> CallOptions:
    # Connexion fills in the spec's defaults; the dataclass's are the same, for direct callers.
    defaults = CallOptions()
    return CallOptions(
        wait_for_pickup=defaults.wait_for_pickup if wait_for_pickup is None else wait_for_pickup,
        call_duration=defaults.call_duration if call_duration is None else call_duration,
        allow_public_transfer=bool(allow_public_transfer), video=bool(video),
        conference_number=conference.get("number"), conference_pin=conference.get("pin"))


async def create_simple_phone_call(user_id: str, body: dict[str, Any], token_info: dict[str, Any],
                                   fields: str | None = None, wait_for_pickup: int | None = None,
                                   call_duration: int | None = None, allow_public_transfer: bool | None = None,
                                   video: bool | None = None) -> Reply:
    options = _options(wait_for_pickup, call_duration, allow_public_transfer, video)
    return await _create(CallKind.SIMPLE, user_id, body, token_info, fields, options)


async def create_callback_phone_call(user_id: str, body: dict[str, Any], token_info: dict[str, Any],
                                     fields: str | None = None, wait_for_pickup: int | None = None,
                                     call_duration: int | None = None, allow_public_transfer: bool | None = None,
                                     video: bool | None = None) -> Reply:
    options = _options(wait_for_pickup, call_duration, allow_public_transfer, video)
    return await _create(CallKind.CALLBACK, user_id, body, token_info, fields, options)


async def create_conference_invite_phone_call(user_id: str, body: dict[str, Any], token_info: dict[str, Any],
                                              fields: str | None = None, wait_for_pickup: int | None = None,
                                              call_duration: int | None = None,
                                              allow_public_transfer: bool | None = None, video: bool | None = None,
                                              number: str | None = None, pin: str | None = None) -> Reply:
    options = _options(wait_for_pickup, call_duration, allow_public_transfer, video, number=number, pin=pin)
    return await _create(CallKind.CONFERENCE_INVITE, user_id, body, token_info, fields, options)


async def list_phone_calls(user_id: str, extension: str, token_info: dict[str, Any], count: int = 20,
                           start_index: int = 0, filter_by: str | None = None, filter_op: str | None = None,
                           filter_value: str | None = None, sort_order: str | None = None,
                           fields: str | None = None) -> Reply:
    services = current()
    wanted = _fields(services, fields)
    query = list_query(filter_by, filter_op, filter_value, sort_order, start_index, count)
    _, extensions = _scope(services, token_info, user_id, extension)
    total, docs = await services.calls.list_live(extensions, query)
    if total == 0:
        return _no_content()
    return _collection(docs, total, start_index, wanted), 200


async def get_phone_call(user_id: str, extension: str, phone_call_id: str, token_info: dict[str, Any],
                         count: int = 20, start_index: int = 0, fields: str | None = None) -> Reply:
    services = current()
    wanted = _fields(services, fields)
    _, extensions = _scope(services, token_info, user_id, extension)
    doc = await services.calls.get(extensions, phone_call_id)
    return _collection([doc][start_index:start_index + count], 1, start_index, wanted), 200


async def update_phone_call(user_id: str, extension: str, phone_call_id: str, body: dict[str, Any],
                            token_info: dict[str, Any], fields: str | None = None) -> Reply:
    services = current()
    wanted = _fields(services, fields)
    _, extensions = _scope(services, token_info, user_id, extension)
    doc = await services.calls.update(extensions, phone_call_id, body)
    return _present([doc], wanted)[0], 200


async def hang_up_phone_calls(user_id: str, extension: str, token_info: dict[str, Any],
                              phone_number: str | None = None, fields: str | None = None) -> Reply:
    # Every live call of the extension: thousands of documents, made and answered with the cyclic
    # collector paused (uapi.heap). The answer is written here, inside the pause, and the
    # documents dropped: once collections resume, the first one would otherwise walk them all
    # while Connexion wrote them (45 ms for 10 000 calls).
    with heap.collections_paused():
        reply = await _hang_up(user_id, extension, None, phone_number, fields, token_info)
        if isinstance(reply, Response):
            return reply
        body, status = reply
        del reply
        answer = Response(json_body(body), status, media_type="application/json")
        del body
    return answer


async def hang_up_phone_call(user_id: str, extension: str, phone_call_id: str, token_info: dict[str, Any],
                             phone_number: str | None = None, fields: str | None = None) -> Reply:
    return await _hang_up(user_id, extension, phone_call_id, phone_number, fields, token_info)


async def _hang_up(user_id: str, extension: str, phone_call_id: str | None, phone_number: str | None,
                   fields: str | None, token_info: dict[str, Any]) -> Reply:
    services = current()
    wanted = _fields(services, fields)
    _, extensions = _scope(services, token_info, user_id, extension)
    hung_up = await services.calls.hang_up(extensions, phone_call_id, phone_number)
    if not hung_up:
        return _no_content()
    return _present(hung_up, wanted), 200
