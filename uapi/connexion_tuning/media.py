"""Media types of Content-Type values, each parsed once per value."""
from __future__ import annotations

import functools

from connexion.utils import is_json_mimetype, split_content_type
from python_multipart.multipart import parse_options_header


@functools.lru_cache(maxsize=256)
def media_type_of(content_type: str) -> str:
    """ConnexionRequest.mimetype (Connexion 3.3) of a Content-Type value, parsed once per value
    (bounded: the values come from clients)."""
    media_type, _ = parse_options_header(content_type)
    return str(media_type.decode())


@functools.lru_cache(maxsize=64)
def is_json_media(content_type: str | None) -> bool:
    """The response decorator's test (Connexion 3.3 `_serialize_data`) of the operation's
    response Content-Type, once per value."""
    media_type, _ = split_content_type(content_type)
    return bool(is_json_mimetype(media_type))
