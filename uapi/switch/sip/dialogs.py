"""Where dialog records live between processes, so a restarted engine can end orphan legs.

The domain implements `DialogStore` in SQL; `MemoryDialogStore` serves tests and a single
process. Records are JSON-serialisable dicts made by `SipLeg.record()`.
"""
from __future__ import annotations

from typing import Protocol


class DialogStore(Protocol):
    async def save(self, call_id: str, party: str, record: dict) -> None: ...
    async def forget(self, call_id: str, party: str) -> None: ...
    async def all(self) -> list[tuple[str, str, dict]]: ...


class MemoryDialogStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict] = {}

    async def save(self, call_id: str, party: str, record: dict) -> None:
        self.records[(call_id, party)] = record

    async def forget(self, call_id: str, party: str) -> None:
        self.records.pop((call_id, party), None)

    async def all(self) -> list[tuple[str, str, dict]]:
        return [(c, p, r) for (c, p), r in self.records.items()]
