"""Security requirements → where a client puts its one credential.

Every scheme of OpenAPI is read: HTTP bearer, OAuth 2.0 (any flow) and OpenID
Connect send `Authorization: Bearer <token>`; HTTP basic sends the token
(`user:password`) base64-encoded; API keys go in their header, query parameter or
cookie. A requirement naming several schemes at once uses the first one the client
can send (with a warning); mutual TLS is left to the HTTP client's configuration.
"""
from __future__ import annotations

from typing import Any

from uapi.codegen.model import Auth
from uapi.codegen.spec import Problem, Resolver, Unsupported
from uapi.spec_core import child

BEARER = ("header", "Authorization", "Bearer ")


def auth_for(requirements: Any, at: str, schemes: dict[str, Any], resolver: Resolver,
             warnings: list[Problem]) -> Auth | None:
    if not isinstance(requirements, list):
        return None
    for i, requirement in enumerate(requirements):
        if not requirement:
            return None  # anonymous access is an accepted alternative
        if not isinstance(requirement, dict):
            continue
        found = [auth for name in requirement if (auth := _scheme(name, child(at, i), schemes, resolver,
                                                                  warnings)) is not None]
        if found:
            if len(requirement) > 1:
                warnings.append(Problem(child(at, i), f"requires {len(requirement)} credentials at once; "
                                                        f"the client sends only its token, as {found[0].scheme!r}"))
            return found[0]
    if requirements:
        warnings.append(Problem(at, "no security requirement names a scheme a client can send; "
                                    "calls go without credentials"))
    return None


def _scheme(name: str, where: str, schemes: dict[str, Any], resolver: Resolver, warnings: list[Problem]) -> Auth | None:
    try:
        scheme, _ = resolver.deref(schemes.get(name), where)
    except Unsupported as exc:
        warnings.append(exc.problem)
        return None
    if not isinstance(scheme, dict):
        warnings.append(Problem(where, f"unknown security scheme {name!r}"))
        return None
    kind = scheme.get("type")
    http = str(scheme.get("scheme", "")).lower()
    if kind in ("oauth2", "openIdConnect") or (kind == "http" and http == "bearer"):
        return Auth(name, "header", "Authorization", "Bearer ")
    if kind == "http" and http == "basic":
        return Auth(name, "header", "Authorization", "Basic ")
    if kind == "http":
        # Other HTTP schemes (digest, hoba, ...): the token is sent with the scheme's own name.
        return Auth(name, "header", "Authorization", str(scheme.get("scheme", "")) + " ")
    if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie") and isinstance(scheme.get("name"), str):
        return Auth(name, scheme["in"], scheme["name"], "")
    return None
