"""The call document's shape: the JSON a call is kept as, typed key by key.

A call is one JSON document, stored as is in the `doc` column and answered (its `call` part)
by the API. These TypedDicts describe that JSON without wrapping it, so there is no
serialisation layer: what the code writes is what the database and the API see, and a
document from an older database loads as it is. Keys that come and go with the call's state,
or that older documents do not have, are `NotRequired`.

The enums name the values the spec gives as bare numbers (`flow`, `status`, `disposition`)
or closed sets of strings (`endedBy`, `cause`). Their members are ints and strs, so they are
written to JSON as the spec's values; a document loaded from JSON holds those plain values,
which compare equal to the members (nothing here asks a value for its enum `name`).
"""
from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any, Literal, NotRequired, TypedDict, cast

import orjson


class Flow(IntEnum):
    LOCAL = 2
    OUTGOING = 4   # to a public number
    INCOMING = 8   # from a public number


class Status(IntEnum):
    UNKNOWN = 0
    OFF_HOOK = 1
    TRYING = 2
    RINGING = 3
    OTHER_SIDE_RINGING = 4
    ON_CALL = 5


class Disposition(IntEnum):
    """How the call went for a party, set when it left."""

    ANSWERED = 0
    BUSY = 1
    FAILED = 2
    NO_ANSWER = 3
    UNKNOWN = 4
    NOT_ALLOWED = 5


class EndedBy(StrEnum):
    API = "api"
    CALLEE = "callee"
    PARTY = "party"   # a party that put its own phone down
    SYSTEM = "system"


class Cause(StrEnum):
    HANGUP = "hangup"
    CANCELLED = "cancelled"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    DURATION_LIMIT = "duration_limit"
    COMPLETED = "completed"
    SWITCH_RESTART = "switch_restart"


class CallKind(StrEnum):
    """Which create placed the call (the operation's path: `.../simple`, `.../callback`, ...)."""

    SIMPLE = "simple"
    CALLBACK = "callback"
    CONFERENCE_INVITE = "conferenceInvite"


class Role(StrEnum):
    SOURCE = "source"
    DESTINATION = "destination"


class View(TypedDict):
    """A PhoneCallView: the call as one extension on it sees it."""

    id: str   # "00", "01", ... in the order the parties joined
    extension: str
    source: list[str]
    destination: list[str]
    flow: Flow
    status: Status
    callerId: NotRequired[str]
    ringing: NotRequired[str]
    answered: NotRequired[str]
    recording: NotRequired[str]
    parked: NotRequired[str]
    parkedPos: NotRequired[int]
    parkedBy: NotRequired[str]
    onHold: NotRequired[str]
    holder: NotRequired[int]   # 1 on the view that put the call on hold, 0 on the others
    disposition: NotRequired[Disposition]


class PhoneCall(TypedDict):
    """The PhoneCall as the API answers it, without `links` (derived when answering)."""

    id: str
    extension: str
    ownerId: str
    ownerName: str
    published: str
    phoneCallView: list[View]
    nonce: NotRequired[str]
    answered: NotRequired[str]
    ended: NotRequired[str]
    endedBy: NotRequired[EndedBy]
    cause: NotRequired[Cause]


class PartyState(TypedDict):
    """A party of the call, an extension (with a view) or a public number, and its leg's state."""

    number: str   # the extended number of an extension, a public number as given
    extension: bool
    role: Role
    view: str | None   # the id of its view; None for a public number
    left: bool
    answered: bool
    # False while it waits for the parties dialled first (a real switch's destination);
    # absent on parties that joined by an action, and in older documents: dialled.
    dialled: NotRequired[bool]
    offHook: NotRequired[bool]   # a source already off hook: nothing to dial
    autoAnswer: NotRequired[bool]   # its phone is asked to answer by itself
    bridged: NotRequired[bool]   # a callee the switch connected to the caller itself
    parkedAway: NotRequired[bool]   # parked the call and hung up into the parking lot
    answerAt: NotRequired[int]   # epoch ms: when it answers (known ahead by the simulator)
    ringUntil: NotRequired[int]   # epoch ms: when it stops ringing unanswered


class Options(TypedDict):
    """The create's query parameters, and how the call was placed."""

    kind: CallKind
    waitForPickup: int
    callDuration: int
    allowPublicTransfer: bool
    video: bool
    conferenceNumber: str | None
    conferencePin: str | None
    liveSwitch: NotRequired[bool]   # real phones (absent in documents older than the SIP switch)
    placedBy: NotRequired[Literal["phone"]]   # dialled on a registered phone, not placed through the API


class Timers(TypedDict, total=False):
    """The call's own deadlines, in epoch ms."""

    endAt: int   # callDuration after the answer
    parkedUntil: int   # maxInParking after the Park


class CallDoc(TypedDict):
    """A call as it is kept."""

    call: PhoneCall
    parties: list[PartyState]
    options: Options
    timers: Timers
    userId: str   # the owner of the charged extension, for links.self
    endedMs: NotRequired[int]
    recordingFormats: NotRequired[dict[str, str]]   # view id -> the format StartRecording asked for


# -- the JSON boundary ---------------------------------------------------------------


def from_json(raw: dict[str, Any]) -> CallDoc:
    # The one unchecked step: the `doc` column holds only what `to_json` was given.
    return cast(CallDoc, raw)


def to_json(doc: CallDoc) -> dict[str, Any]:
    # A TypedDict is a plain dict at run time; the store's column takes any JSON object.
    return cast(dict[str, Any], doc)


def copy_doc(doc: CallDoc) -> CallDoc:
    """A deep copy of a document, which holds nothing but JSON values, through orjson: twice as
    fast as a recursive copy of dicts and lists in Python (3.1 against 5.7 us for a simple
    call), and ten times copy.deepcopy; a bulk hang-up of 10 000 calls makes one each. Named
    values (Status, Role, ...) come back as the plain numbers and strings the store holds."""
    return cast(CallDoc, orjson.loads(orjson.dumps(doc)))
