"""Where dialog records live between processes, so a restarted engine can end orphan legs.

The domain implements `DialogStore` in SQL; `MemoryDialogStore` serves tests and a single
process. Records are JSON-serialisable dicts made by `SipLeg.record()`.
"""
from __future__ import annotations

from typing import Any, Protocol


class DialogStore(Protocol):
    async def save(self, call_id: str, party: str, record: dict[str, Any]) -> None: ...
    async def forget(self, call_id: str, party: str) -> None: ...
    async def all(self) -> list[tuple[str, str, dict[str, Any]]]: ...


class MemoryDialogStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    async def save(self, call_id: str, party: str, record: dict[str, Any]) -> None:
        self.records[(call_id, party)] = record

    async def forget(self, call_id: str, party: str) -> None:
        self.records.pop((call_id, party), None)

    async def all(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(c, p, r) for (c, p), r in self.records.items()]
