"""Recycled memory for the fused KD loss's large gradients.

A fresh allocation of hundreds of MB is faulted in page by page (and zeroed
by the operating system) on first write; for a 100000 x 1000 float32 batch
that costs as much as the kernel itself. :func:`empty_gradient` hands large
gradients out from one recycled buffer instead.
"""

import math
import mmap
import sys
import threading

import numpy as np
import torch

from crossmodal._utils.torch_helpers import numpy_dtype

__all__ = ["LARGE_GRADIENT_BYTES", "LargeGradientCache", "empty_gradient", "large_gradients", "new_large_buffer"]

#: Gradients of at least this many bytes reuse the memory of the previous one
#: when it has been freed (see LargeGradientCache).
LARGE_GRADIENT_BYTES = 1 << 24


def new_large_buffer(nbytes):
    """``nbytes`` uninitialised bytes, on transparent huge pages where the system allows."""
    if not hasattr(mmap, "MADV_HUGEPAGE"):  # not Linux
        return np.empty(nbytes, dtype=np.uint8)
    mapping = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        mapping.madvise(mmap.MADV_HUGEPAGE)
    except OSError:  # a kernel without transparent huge pages: 4 KiB pages
        pass
    return np.frombuffer(mapping, dtype=np.uint8)


class LargeGradientCache:
    """Recycles the memory of the last large gradient once nobody uses it any more.

    A fresh allocation of hundreds of MB is faulted in page by page (and
    zeroed by the operating system) on first write, which costs as much as
    the kernel itself for a 100000 x 1000 float32 batch. The gradients are
    handed out as ``torch.from_numpy`` views of one byte buffer; every tensor
    and view made from them keeps a reference to that buffer, so when its
    reference count is back to the cache's own, no gradient is alive and the
    memory can be handed out again (CPython reference counts). At most one
    buffer is kept: the last large one (for a fixed batch shape, the one
    every step uses).
    """

    def __init__(self):
        self._buffer = None
        self._lock = threading.Lock()

    def empty(self, shape, dtype):
        np_dtype = numpy_dtype(dtype)
        nbytes = math.prod(shape) * np_dtype.itemsize
        with self._lock:
            # References: self._buffer and getrefcount's argument.
            free = self._buffer is not None and sys.getrefcount(self._buffer) == 2
            if not (free and self._buffer.nbytes >= nbytes):
                self._buffer = new_large_buffer(nbytes)
            view = self._buffer[:nbytes].view(np_dtype).reshape(shape)
            return torch.from_numpy(view)


large_gradients = LargeGradientCache()


def empty_gradient(s):
    """An uninitialised C-contiguous CPU tensor of the shape and dtype of ``s``.

    The kernel writes every element. Gradients of at least
    ``LARGE_GRADIENT_BYTES`` come from :class:`LargeGradientCache`.
    """
    if s.numel() * s.element_size() < LARGE_GRADIENT_BYTES:
        return torch.empty(s.shape, dtype=s.dtype)
    return large_gradients.empty(tuple(s.shape), s.dtype)
