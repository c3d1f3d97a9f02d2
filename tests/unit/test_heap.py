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
