"""Large freed blocks go back to the system: a process's peak memory follows what it holds, not what it once held."""

from __future__ import annotations

import ctypes
import sys
from functools import cache

__all__ = ["LARGE_BLOCK", "release_large_blocks"]

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_BLOCK = 1 << 20


@cache
def release_large_blocks() -> bool:
    """Make every allocation of LARGE_BLOCK bytes or more a mapping of its own, unmapped when freed; True when set.

    glibc maps blocks from 128 kB up and unmaps them when freed, but each such free raises that
    threshold to the freed block's size (up to 32 MB). After the first huge capture, its later
    copies (decoded text, normalized text, digest input, WARC record, SQL parameters) come from
    the heap, and small objects allocated between them keep the heap from shrinking. Replaying
    a 30 MB text capture peaked at 614 MiB that way and at 490 MiB with the threshold fixed;
    the 990 development pages replay no slower. A fixed threshold turns the raising off.
    Elsewhere (macOS, musl, Windows) there is nothing to set: False.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this interpreter allocates with
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))
