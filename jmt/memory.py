"""Process settings for the jmt commands that tag: glibc's allocator, and the garbage collector.

glibc gives a block of at least its mmap threshold a mapping of its own, returned to the
system when freed, and returns the top of the heap once more than its trim threshold is
free there. Each batch allocates and frees tensors of a few MB whose shapes change from
batch to batch. Had they been mapped one by one (a 1 MiB threshold, jmt's setting until
2026-12-05), every batch would page-fault them in again: on EWT test that cost a quarter
of the tagging speed. glibc's own dynamic threshold serves them from the heap, but it moves
with every large block freed. Fixed at 32 MiB (the dynamic threshold's ceiling), with a
256 MiB trim threshold so the heap is not shrunk and regrown between batches, they are
reused from the heap; the resident memory still levels off (results/scale.md). One arena
for all threads: with a heap per thread, two batches tagged at once (``--threads 2``) kept
two sets of free blocks, about 12 MB more at the peak.
"""
from __future__ import annotations

import ctypes
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers in glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20


def fix_malloc_thresholds(mmap_bytes: int = MMAP_THRESHOLD, trim_bytes: int = TRIM_THRESHOLD) -> bool:
    """Fix glibc's mmap and trim thresholds for this process, and keep its threads in one
    arena; True if it took effect. Call it before the threads start.

    Does nothing where the allocator is not glibc's, and leaves the thresholds alone when the
    user set either with the environment variables ``MALLOC_MMAP_THRESHOLD_`` or
    ``MALLOC_TRIM_THRESHOLD_``. The jmt commands that predict call it: the process is theirs.
    A program that uses jmt as a library can call it too.
    """
    if not sys.platform.startswith("linux") or {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, mmap_bytes), (M_TRIM_THRESHOLD, trim_bytes), (M_ARENA_MAX, 1))
    return all([mallopt(param, value) == 1 for param, value in settings])


@contextmanager
def frozen_objects() -> Iterator[None]:
    """Keep the objects alive now (torch's modules and the model's vocabularies, some 180,000
    that the garbage collector tracks) out of its full collections while the block runs.

    A full collection walks every tracked object: about 80 ms on one thread, at moments no
    one chooses, against about 1.8 s for tagging EWT test. Frozen objects are still freed by
    reference counting; only cycles among them wait until the block ends. The jmt commands
    that predict tag inside it.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
