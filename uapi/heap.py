"""The heap as the server starts serving: start-up's objects frozen, collections less frequent.

Python's cyclic garbage collector runs a young collection every 700 allocations and walks the
oldest generation on each full one: the modules, the parsed spec, Connexion's operations and the
directory, which live as long as the process. A request that builds many objects (a bulk
hang-up of 10 000 calls reads, copies and writes 10 000 documents) set off collection after
collection, each walking everything those documents had made so far: measured with
bench/bench_bulk_hangup.py, 1.42 s of server CPU for 10 000 calls, 1.16 s with start-up frozen
alone, 0.81 s with the thresholds below as well (10 000 as the first threshold: 0.96 s).

* `gc.freeze()` moves everything alive once the app is built into a permanent generation the
  collector skips; objects made later are collected as before.
* A young collection every 50 000 allocations instead of 700, an older one every 20 of those:
  garbage cycles still go, a little later, and a request's short-lived objects are mostly freed
  by reference counting before any collection sees them.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator

THRESHOLDS = (50_000, 20, 20)


def settle() -> None:
    """Collect start-up's garbage, freeze what remains, space collections (once the app is built)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


# A pause lasts this long at most, however slow the requests that asked for it (a database
# waiting on a lock) or however many overlap: collections then resume until the last ends.
PAUSE_LIMIT_SECONDS = 5.0


class _Pause:
    """The one pause of collections of this process, shared by the requests that asked for it."""

    def __init__(self) -> None:
        self.holders = 0
        self.was_enabled = True
        self.limit: asyncio.TimerHandle | None = None

    def enter(self) -> None:
        if self.holders == 0:
            self.was_enabled = gc.isenabled()
            gc.disable()
            try:
                self.limit = asyncio.get_running_loop().call_later(PAUSE_LIMIT_SECONDS, self.resume)
            except RuntimeError:   # no event loop: nothing could end a long pause, so none is bounded
                self.limit = None
        self.holders += 1

    def leave(self) -> None:
        self.holders -= 1
        if self.holders == 0:
            if self.limit is not None:
                self.limit.cancel()
            self.resume()

    def resume(self) -> None:
        if self.was_enabled:   # a process that runs without collections stays without
            gc.enable()


_PAUSE = _Pause()


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic collection while a request that builds a great many lasting objects runs
    (a bulk hang-up: 10 000 documents read, copied and answered), then collections as before.

    Each young collection walks every object made since the last one that is still alive; with
    10 000 documents alive until the answer is sent, the four collections such a hang-up set off
    took 86-168 ms of its 0.5-0.7 s (measured with gc.callbacks). Reference counting frees
    those documents when the request ends, so they need never be walked at all: the request
    must drop them before it leaves the pause. Requests that overlap keep collections paused
    until the last of them ends, and PAUSE_LIMIT_SECONDS at most; garbage cycles made meanwhile
    wait for the next collection."""
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.leave()
