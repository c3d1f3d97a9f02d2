"""uapi.heap.settle, run in a process of its own (it changes the collector of the whole process)."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from uapi import heap
before = gc.get_freeze_count()
heap.settle()
print(before, gc.get_freeze_count() > before, gc.get_threshold() == heap.THRESHOLDS)
"""


def test_settle_freezes_start_up_and_spaces_collections():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["0", "True", "True"]



PAUSE_PROBE = """
import asyncio, gc
from uapi import heap

def overlapping_requests_and_one_that_fails():
    first, second = heap.collections_paused(), heap.collections_paused()
    first.__enter__()
    states = [gc.isenabled()]
    second.__enter__()
    first.__exit__(None, None, None)
    states.append(gc.isenabled())   # the second request still runs
    try:
        with heap.collections_paused():
            raise RuntimeError("a request that fails")
    except RuntimeError:
        pass
    states.append(gc.isenabled())
    second.__exit__(None, None, None)
    return states + [gc.isenabled()]

async def a_pause_past_its_limit():
    heap.PAUSE_LIMIT_SECONDS = 0.05
    with heap.collections_paused():
        states = [gc.isenabled()]
        await asyncio.sleep(0.2)
        states.append(gc.isenabled())   # resumed by the limit, the request still running
    return states + [gc.isenabled()]

def without_collections_before():
    gc.disable()
    with heap.collections_paused():
        pass
    return [gc.isenabled()]

print(overlapping_requests_and_one_that_fails(), asyncio.run(a_pause_past_its_limit()), without_collections_before())
"""


def test_collections_pause_until_the_last_request_ends_for_a_bounded_time_and_come_back_as_they_were():
    result = subprocess.run([sys.executable, "-c", PAUSE_PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[False, False, False, True] [False, True, True] [False]"
