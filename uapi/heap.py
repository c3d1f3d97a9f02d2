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

import contextlib
import gc
from collections.abc import Iterator

THRESHOLDS = (50_000, 20, 20)


def settle() -> None:
    """Collect start-up's garbage, freeze what remains, space collections (once the app is built)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


_paused = 0   # requests under way that asked for no collections


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic collection while a request that builds a great many lasting objects runs
    (a bulk hang-up: 10 000 documents read, copied and answered), then collections as before.

    Each young collection walks every object made since the last one that is still alive; with
    10 000 documents alive until the answer is sent, the four collections such a hang-up set off
    took 86-168 ms of its 0.5-0.7 s (measured with gc.callbacks). Reference counting frees
    those documents when the request ends, so they need never be walked at all. Requests that
    overlap keep collections paused until the last of them ends; garbage cycles made meanwhile
    wait for the next collection, a second at most later."""
    global _paused
    if _paused == 0:
        gc.disable()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.enable()
