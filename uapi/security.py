"""Token-info functions named by the spec's security schemes (x-bearerInfoFunc, x-apikeyInfoFunc).

Connexion calls them with the token; they answer the token info handlers receive as
`token_info` (with the :class:`Principal` under "principal"), or None to refuse.
"""
from __future__ import annotations

from typing import Any

from uapi.services import current


async def bearer_token_info(token: str) -> dict[str, Any] | None:
    principal = await current().tokens.verify(token.strip())
    if principal is None:
        return None
    return {"sub": principal.client_id, "principal": principal, "scope": []}


async def query_token_info(value: str, required_scopes: Any = None) -> dict[str, Any] | None:
    """`accessRequestToken=Bearer <token>`; a bare token is accepted too."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() == "bearer" and token:
        return await bearer_token_info(token)
    return await bearer_token_info(value)
