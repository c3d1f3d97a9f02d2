"""Where the installed package keeps what it serves: the contract, the demo directory, the handlers.

In the repository the contract is `openapi/uapi.yaml` and the handlers are `handlers/` (where
designers edit them); pyproject.toml maps those folders to the packages `uapi.openapi` and
`uapi.handlers`, so a wheel, `pip install .` and the editable install all find them here, through
the package, whatever the working directory.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SPEC_PACKAGE = "uapi.openapi"
HANDLERS_PACKAGE = "uapi.handlers"   # Connexion resolves operations to HANDLERS_PACKAGE.<tag>.<function>


def _on_disk(package: str, name: str = "") -> Path:
    resource = files(package) / name if name else files(package)
    # Connexion, uvicorn's reloader and `uapi handlers --scaffold` need real files; a zipped
    # install (zipimport) would hand out a zipfile.Path instead.
    if not isinstance(resource, Path):
        raise RuntimeError(f"{package} must be installed as files, not zipped (got {resource!r})")
    return resource


SPEC = _on_disk(SPEC_PACKAGE, "uapi.yaml")
DEMO_DIRECTORY = _on_disk("uapi", "demo_directory.yaml")


def handlers_dir() -> Path:
    """The folder of the handlers package the server resolves operations in."""
    return _on_disk(HANDLERS_PACKAGE)


WORKING_SPEC = Path("openapi") / "uapi.yaml"


def default_spec() -> Path:
    """The spec `uapi lint`, `generate` and `handlers` read without --spec: the working directory's
    openapi/uapi.yaml when there is one (the checkout a designer is editing), else the installed one."""
    return WORKING_SPEC if WORKING_SPEC.is_file() else SPEC
