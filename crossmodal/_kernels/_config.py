"""The one place where numba compilation options are spelled.

``fastmath=True`` is never used: it lets LLVM assume no NaN/inf and deletes
NaN checks. The flag set below (the one STUMPY uses) allows reassociation and
contraction, which vectorises reductions, and keeps NaN/inf semantics.
"""

FASTMATH_FLAGS = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Serial kernels: safe to call from joblib threads (the GIL is released).
JIT_SERIAL = dict(nopython=True, nogil=True, cache=True, fastmath=FASTMATH_FLAGS, error_model="numpy")

# Kernels with ``prange`` loops. Never call these from inside joblib workers:
# one level of parallelism per call path.
JIT_PARALLEL = dict(JIT_SERIAL, parallel=True)
