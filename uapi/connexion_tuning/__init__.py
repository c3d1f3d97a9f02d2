"""Per-request work of Connexion 3.3 that depends only on the operation, done once instead.

Measured with bench/bench_server.py (cpu/req) and a profile of the request path, what
Connexion rebuilds on every request although nothing in them changes between requests:

* `AsyncOperation.fn` is a property: each request builds a new decorator around the handler;
* that decorator wraps the handler again (parameter and response decorators, each inspecting
  the handler's signature) and builds a new URI parser from the operation's parameters;
* the security handlers inspect the token-info function's signature, twice per request;
* request validation builds its parameter validator and URI parser, the URI parser rebuilds its
  name-to-schema tables at each use, parameter names go through `pythonic` (three regular
  expressions) and the operation is reached through a context-local proxy, all per request.

`install(app)`, `middlewares()` and `OnceURIParser` (AsyncApp's `middlewares` and
`uri_parser_class` options) swap in subclasses that keep these per operation (each operation object
serves exactly one operation, so nothing is shared between operations). Requests take the
same path through the same Connexion code otherwise. These are Connexion internals: the range
pinned in pyproject.toml is the one checked, by tests/unit/test_connexion_tuning.py.

One module each:

* `operations`: the handler's decorator and URI parser built on the first request
  (`OnceDecorator`, `CachedOperation`, `CachedOperationsApi`) and `install(app)`;
* `arguments`: the handler's arguments per operation (`OperationArguments`, the parameter
  converters, `pythonic_name`) and the parameter and response decorators that use them;
* `media`: the media type of a Content-Type value, once per value (`media_type_of`, `is_json_media`);
* `security`: the security handlers with their signature checks kept (`SECURITY_MAP`);
* `uri_parser`: the URI parser with its tables and casts kept (`OnceURIParser`, `COERCIONS`);
* `validation_layer`: request validation with its parameter validator built once
  (`OnceRequestValidationMiddleware` and its API and operation);
* `swagger_ui`: the Swagger UI layer that passes the API's requests on (`PassThroughSwaggerUIMiddleware`);
* `stack`: Connexion's default middleware stack with these layers in it (`middlewares()`).

Every name is importable from the package itself (`uapi.connexion_tuning.X`).
"""
from __future__ import annotations

from uapi.connexion_tuning.arguments import (
    OperationArguments,
    OperationParameterDecorator,
    OperationResponseDecorator,
    parameter_log,
    pythonic_name,
)
from uapi.connexion_tuning.media import is_json_media, media_type_of
from uapi.connexion_tuning.operations import CachedOperation, CachedOperationsApi, OnceDecorator, install
from uapi.connexion_tuning.security import SECURITY_MAP
from uapi.connexion_tuning.stack import middlewares
from uapi.connexion_tuning.swagger_ui import PassThroughSwaggerUIMiddleware, _route_prefixes
from uapi.connexion_tuning.uri_parser import COERCIONS, OnceURIParser
from uapi.connexion_tuning.validation_layer import (
    OnceRequestValidationAPI,
    OnceRequestValidationMiddleware,
    OnceRequestValidationOperation,
)

__all__ = [
    "COERCIONS",
    "SECURITY_MAP",
    "CachedOperation",
    "CachedOperationsApi",
    "OnceDecorator",
    "OnceRequestValidationAPI",
    "OnceRequestValidationMiddleware",
    "OnceRequestValidationOperation",
    "OnceURIParser",
    "OperationArguments",
    "OperationParameterDecorator",
    "OperationResponseDecorator",
    "PassThroughSwaggerUIMiddleware",
    "_route_prefixes",
    "install",
    "is_json_media",
    "media_type_of",
    "middlewares",
    "parameter_log",
    "pythonic_name",
]
