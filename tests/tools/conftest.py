"""Fixtures for the lint and diff tests: a clean contract and a way to write specs to disk."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from uapi.spec_core import load_spec

CLEAN_SPEC = Path(__file__).parent / "specs" / "clean.yaml"


@pytest.fixture
def spec() -> dict[str, Any]:
    """A fresh copy of a contract that passes every lint rule; tests mutate it."""
    return load_spec(CLEAN_SPEC)


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a spec dict to a YAML (or JSON) file and return its path."""
    counter = iter(range(1000))

    def write(document: dict[str, Any], suffix: str = ".yaml") -> Path:
        path = tmp_path / f"spec{next(counter)}{suffix}"
        text = json.dumps(document) if suffix == ".json" else yaml.safe_dump(document, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write
