"""The names a generated client goes by: package, client class, error classes.

They come from the API's own `info.title` (`Pet Store` → `pet_store_client`,
`PetStoreClient`, `PetStoreError`), overridable with `--package-name` and
`--client-name`, or in the document with an `x-codegen` object under `info`
(`package`, `client`, `typedTimestamps`). One built-in profile keeps the names
of the SDKs this project already serves (`uapi_client`, `UapiClient`, `UapiError`,
timestamps as strings): renaming or retyping them would break their users' code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uapi.codegen.names import pascal, screaming, snake
from uapi.codegen.spec import mapping_at

# info.title of openapi/uapi.yaml -> its served SDK's names, fixed since its first release.
_PROFILES: dict[str, dict[str, Any]] = {
    "VoipNow UnifiedAPI — PhoneCalls": {"package": "uapi_client", "client": "Uapi", "typedTimestamps": False,
                                        "exampleUrl": "https://pbx.example.com", "exampleCode": "pc_phonenumber_invalid"},
}


@dataclass(frozen=True)
class Naming:
    module: str  # Python import name: uapi_client
    prefix: str  # class prefix: Uapi -> UapiClient, UapiError, UapiConnectionError
    typed_timestamps: bool  # date-time / date as datetime / date in Python
    example_url: str = "https://api.example.com"  # in docstrings and READMEs
    example_code: str = "invalid_request"  # an error code, in docstrings and READMEs

    @property
    def distribution(self) -> str:
        return self.module.replace("_", "-")

    @property
    def npm(self) -> str:
        return self.distribution

    @property
    def error(self) -> str:
        return self.prefix + "Error"

    @property
    def connection_error(self) -> str:
        return self.prefix + "ConnectionError"

    @property
    def ts_client(self) -> str:
        return self.prefix + "Client"

    @property
    def env(self) -> str:
        """Prefix of the environment variables the READMEs read (UAPI_BASE_URL, ...)."""
        return screaming(self.prefix) or "API"

    def python(self) -> dict[str, str]:
        return {"distribution": self.distribution, "module": self.module}

    def typescript(self) -> dict[str, str]:
        return {"name": self.npm}


def resolve(document: dict[str, Any], package_name: str | None = None, client_name: str | None = None) -> Naming:
    info = mapping_at(document, "info")
    title = str(info.get("title", "") or "")
    chosen: dict[str, Any] = dict(_PROFILES.get(title, {}))
    extension = info.get("x-codegen")
    if isinstance(extension, dict):
        chosen.update({k: v for k, v in extension.items() if k in ("package", "client", "typedTimestamps")})
    base = _title_words(title) or "api"
    prefix = pascal(client_name or str(chosen.get("client") or base)) or "Api"
    if prefix.endswith("Client") and prefix != "Client":
        prefix = prefix[: -len("Client")]
    module = snake(package_name or str(chosen.get("package") or f"{base}_client")) or "api_client"
    if module[0].isdigit():
        module = "api_" + module
    servers = document.get("servers") if isinstance(document.get("servers"), list) else []
    server = str(servers[0].get("url", "")) if servers and isinstance(servers[0], dict) else ""
    url = server.rstrip("/") if server.startswith(("http://", "https://")) and "{" not in server else ""
    return Naming(module=module, prefix=prefix, typed_timestamps=bool(chosen.get("typedTimestamps", True)),
                  example_url=str(chosen.get("exampleUrl") or url or "https://api.example.com"),
                  example_code=str(chosen.get("exampleCode") or "invalid_request"))


def _title_words(title: str) -> str:
    """The title without generic trailing words: `Swagger Petstore API` → `swagger_petstore`."""
    words = snake(title).split("_")
    while words and words[-1] in ("api", "apis", "openapi", "spec", "specification", "service", "client"):
        words.pop()
    return "_".join(words[:4])
