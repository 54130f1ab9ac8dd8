"""The permutation indices of :func:`crossmodal.permutation_salience`: one PCG64 stream, drawn by channel range.

Pair ``(channel i, repeat m)`` owns a fixed stretch of the stream, so the
indices of any range of channels can be drawn on their own (by jumping the
stream with ``PCG64.advance``) and every path, chunking and ``n_jobs`` sees
the same permutations; the stream is described in the Notes of
:func:`crossmodal.permutation_salience`.
"""

import numpy as np

from crossmodal._kernels import _salience as kernels

__all__ = ["PARALLEL_MIN_INDICES", "draw_permutations"]

#: Fewer permutation indices than this are drawn by the serial kernel.
PARALLEL_MIN_INDICES = 2**17


def draw_permutations(seed, n_samples, n_repeats, start, stop, parallel=False):
    """Permutation indices of channels ``start .. stop - 1``.

    Returns an int32 array (int64 from 2**31 samples) of shape
    ``(stop - start, n_repeats, n_samples)``; the stream is described in the
    Notes of :func:`crossmodal.permutation_salience`.
    """
    n_perms = (stop - start) * n_repeats
    words_per_perm = n_samples // 2
    bit_generator = np.random.PCG64(seed)
    if words_per_perm and n_perms:
        bit_generator.advance(start * n_repeats * words_per_perm)
        words = bit_generator.random_raw(n_perms * words_per_perm).reshape(n_perms, words_per_perm)
    else:
        words = np.zeros((n_perms, 0), dtype=np.uint64)
    out = np.empty((n_perms, n_samples), dtype=np.int32 if n_samples < 2**31 else np.int64)
    parallel = parallel and out.size >= PARALLEL_MIN_INDICES
    kernel = kernels.permutations_from_words_parallel if parallel else kernels.permutations_from_words_serial
    kernel(words, out)
    return out.reshape(stop - start, n_repeats, n_samples)
