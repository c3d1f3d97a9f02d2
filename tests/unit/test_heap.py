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


def test_collections_stay_paused_until_the_last_overlapping_request_ends_even_one_that_failed():
    import gc

    from uapi import heap

    assert gc.isenabled()
    first, second = heap.collections_paused(), heap.collections_paused()
    first.__enter__()
    assert not gc.isenabled()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()   # the second request still runs
    try:
        with heap.collections_paused():
            raise RuntimeError("a request that fails")
    except RuntimeError:
        pass
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
