"""glibc's allocator, told to keep the memory a day's scan frees for its next block.

Parsing a block allocates and frees numpy arrays of a few MiB each. By default glibc gives such
memory back to the kernel at once (chunks above the mmap threshold, the top of a heap above the
trim threshold), so every block faults its pages in again: about 150,000-300,000 page faults and
0.6-1.0 s of system time per 256 MiB of JSON lines. Serving allocations below MMAP_BYTES from the
heap and keeping up to TRIM_BYTES free at its top removes about 90% of them, for about 20 MB of
resident memory. An operator's own settings (OPERATOR_SETTINGS in the environment) win.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

TRIM_BYTES = 64 << 20
MMAP_BYTES = 32 << 20
_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
OPERATOR_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


@functools.cache
def keep_freed_memory() -> bool:
    """Tunes glibc once per process; False where there is no glibc or the operator set it."""
    if not sys.platform.startswith("linux") or any(name in os.environ for name in OPERATOR_SETTINGS):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES))
