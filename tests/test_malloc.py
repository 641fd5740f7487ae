"""Large freed blocks go back to the system (archive._malloc), in a fresh process: the allocator's state is the point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")

# A 30 MB block freed, then 32 MB in 8 MB blocks freed: glibc's own adjustment raises its
# mapping threshold to 30 MB after the first free, so the 8 MB blocks come from the heap.
_PROGRAM = """
import json, sys
from archive._malloc import release_large_blocks

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

took = release_large_blocks() if sys.argv[1] == "set" else None
before = rss()
block = b"x" * (30 << 20)
del block
blocks = [b"y" * (8 << 20) for _ in range(4)]
kept = [str(i) * 3 for i in range(2000)]  # small objects allocated after them, as a running program does
del blocks
print(json.dumps({"took": took, "grown": rss() - before}))
"""


def _run(mode: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROGRAM, mode], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_blocks_of_a_freed_capture_leave_no_high_water_mark() -> None:
    result = _run("set")
    assert result["took"] is True
    assert isinstance(result["grown"], int)
    assert result["grown"] < 4 << 20, result  # the 32 MB were given back


def test_without_it_the_same_frees_stay_in_the_process() -> None:
    # The baseline the first test is measured against: glibc's default keeps them.
    result = _run("default")
    assert isinstance(result["grown"], int)
    assert result["grown"] > 24 << 20, result
