"""How many query parameters and form fields a request may carry, and how long each may be.

Checked on the raw bytes before anything parses them, in one pass over the bytes (a split
on `&`), because the parsers downstream are not linear: Connexion builds its parameter
dictionary with one `getlist` per distinct name, each a scan of every pair, so 8 000 names
cost seconds of the event loop. Under the limit that quadratic cost is bounded by
`max_fields` squared (100² comparisons: well under a millisecond).
"""
from __future__ import annotations

from dataclasses import dataclass

from uapi.errors import UapiError


@dataclass(frozen=True)
class FieldLimits:
    max_fields: int
    max_field_bytes: int

    def check(self, encoded: bytes, kind: str) -> None:
        """Raise a 400 when `encoded` (a query string or form body) has too many or too long pairs.

        `kind` names them in the message: "query parameters" or "form fields".
        """
        if not encoded:
            return
        # Counting separators first keeps a hostile input from being split into a huge list.
        if encoded.count(b"&") >= self.max_fields:
            raise UapiError(400, "request_invalid", f"The request has more than {self.max_fields} {kind}.")
        if len(encoded) <= self.max_field_bytes:
            return
        for pair in encoded.split(b"&"):
            if len(pair) > self.max_field_bytes:
                raise UapiError(400, "request_invalid",
                                f"One of the {kind} is longer than {self.max_field_bytes} bytes.")
