"""A flat resident memory over long tagging runs (glibc's allocator).

glibc serves a large block from its own mapping until one is freed; then it raises that
threshold to the freed size, so later batch tensors, whose shapes change from batch to
batch, come from the heap and leave it fragmented: tagging a million words grew the peak
resident memory by 140 MB with nothing kept alive (results/scale.md). A fixed threshold
keeps every block of 1 MiB or more in its own mapping, returned whole when freed.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
THRESHOLD = 1 << 20


def fix_mmap_threshold(nbytes: int = THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``nbytes`` for this process; True if it took effect.

    Does nothing where the allocator is not glibc's, and leaves a threshold the user set
    with the environment variable ``MALLOC_MMAP_THRESHOLD_`` alone. The jmt commands that
    predict call it: the process is theirs. A program that uses jmt as a library can call it too.
    """
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, nbytes) == 1
