"""The fixed maps ``g^a``, ``g^b`` of the modality Venn diagram (the paper's eq. 2) behind ``mixing=``.

``"identity"`` copies the latents into columns (Appendix B.2), ``"linear"``
rotates them by a random orthogonal matrix, ``"mlp"`` passes them through
``Q2 tanh(Q1 z)``, rescaled to unit mean variance. Each map is a bijection,
so the latents stay recoverable and the masks describe latent factors.
"""

import numpy as np

__all__ = ["apply_mixing", "mixing_layers", "row_independent_product"]

# sqrt(E[tanh(u)^2]) for u ~ N(0, 1) (200-point Gauss-Hermite quadrature); dividing
# by it gives the "mlp" mixing outputs a mean variance of one, like the latents.
_TANH_STD = 0.6279287303491066


def _random_orthogonal(n, rng):
    """Haar-distributed random orthogonal (n, n) matrix: QR of a Gaussian, signs fixed."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def mixing_layers(kind, n, rng):
    """The fixed map of one modality as a list of affine layers ``(weight, bias)``."""
    if kind == "identity":
        return []
    if kind == "linear":
        return [(_random_orthogonal(n, rng), np.zeros(n))]
    # "mlp": x = Q2 tanh(Q1 z) / _TANH_STD, a bijection of R^n onto an open set.
    first = (_random_orthogonal(n, rng), np.zeros(n))
    second = (_random_orthogonal(n, rng) / _TANH_STD, np.zeros(n))
    return [first, second]


def row_independent_product(A, B):
    """``A @ B.T`` summed over the inner index in a fixed order, one rounding per step.

    BLAS splits a matrix product into blocks chosen by the arrays' shapes and
    the CPU, so a row of ``A @ B.T`` can differ in its last bits between a
    10-row and a 40-row call. Here each step is an elementwise multiply-add,
    exactly rounded whatever the shape, so every output row depends only on
    its own input row: the first rows of a larger draw equal a smaller draw.
    """
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"inner dimensions differ: A has {A.shape[1]} columns, B has {B.shape[1]}.")
    out = np.zeros((A.shape[0], B.shape[0]))
    for j in range(A.shape[1]):
        out += A[:, j : j + 1] * B[:, j]
    return out


def apply_mixing(Z, layers):
    """Run ``Z`` through affine ``layers`` with ``tanh`` between consecutive layers."""
    X = Z
    for i, (weight, bias) in enumerate(layers):
        if i > 0:
            X = np.tanh(X)
        X = row_independent_product(X, weight) + bias
    return np.ascontiguousarray(X, dtype=np.float64)
