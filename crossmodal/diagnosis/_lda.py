"""The default teacher and student of :func:`~crossmodal.diagnose`: shrunk linear discriminant analysis.

Closed form: class means on columns standardised on the training rows, one
pooled covariance shrunk by the Ledoit-Wolf intensity, one linear solve per
fit. It also learns soft class memberships (a teacher's probabilities) in
closed form, through weighted class means and scatter.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from crossmodal.diagnosis._ridge import _standardised, _standardised_as

__all__ = ["default_estimator"]


class _ShrunkLDA(ClassifierMixin, BaseEstimator):
    """Linear discriminant analysis on standardised columns, pooled covariance shrunk by Ledoit-Wolf.

    The default teacher and student of :func:`diagnose`: closed form, one
    shrinkage estimate and one linear solve per fit (scikit-learn's
    ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`` shrinks
    one covariance per class, which costs more).
    Internal: it trusts its (validated) input.
    """

    def fit(self, X, y, stats=None):
        classes, y_idx = np.unique(y, return_inverse=True)
        return self.fit_soft(X, np.eye(len(classes))[y_idx], classes, stats=stats)

    def fit_soft(self, X, Q, classes, sample_weight=None, stats=None):
        """Fit to soft class memberships ``Q`` (rows summing to 1): weighted class means and scatter.

        ``sample_weight`` (rescaled to mean 1) weighs the rows: each row then
        counts as its weight's share of the rows, as the rows of a weighted
        cross-entropy do; the columns are still standardised unweighted.
        ``stats``: the rows' standardisation and Gram matrix
        (:func:`~._ridge._gram_stats`) when another fit has them already.
        With weights, the weighted Gram matrix is then the unweighted one
        times the smallest weight plus the products of the rows weighted
        above it (:func:`_weighted_gram`).
        """
        self.classes_ = np.asarray(classes)
        n = len(Q)
        if sample_weight is not None:
            row_weight = np.asarray(sample_weight, dtype=np.float64) * (n / np.sum(sample_weight))
            self.mean_, self.scale_, Z, gram = _weighted_gram(X, row_weight, stats)
            root = np.sqrt(row_weight)
            Q = Q * root[:, None]
        else:
            self.mean_, self.scale_, Z, gram = _standardised_as(X, stats)
            root = np.ones(n)
        weight = np.maximum(Q.T @ root, np.finfo(np.float64).tiny)
        means = (Q.T @ Z) / weight[:, None]
        between = (means.T * weight) @ means
        # The residuals R = Z - Q @ means enter the shrinkage through R^T R and their row norms, both taken
        # from the Gram matrix (Q^T Z = diag(weight) means): no second (n, p) array and no second O(n p^2) product.
        # With row weights, Z and Q hold the rows scaled by the square roots of the weights, so the same sums are
        # the weighted ones.
        residual_scatter = gram - 2.0 * between + means.T @ (Q.T @ Q) @ means
        row_sq = (
            np.einsum("ij,ij->i", Z, Z)
            - 2.0 * np.einsum("ik,ik->i", Z @ means.T, Q)
            + np.einsum("ik,ik->i", Q @ (means @ means.T), Q)
        )
        shrink = _ledoit_wolf_shrinkage(residual_scatter / n, row_sq)
        cov = (gram - between) / n
        mu = np.trace(cov) / cov.shape[0]
        if mu > 1e-12:
            cov *= 1.0 - shrink
            cov[np.diag_indices_from(cov)] += shrink * mu
        else:  # no spread within the classes (one row per class): the identity, i.e. nearest class mean
            cov = np.eye(cov.shape[0])
        self.coef_ = np.linalg.solve(cov, means.T).T
        self.intercept_ = -0.5 * np.einsum("kd,kd->k", means, self.coef_) + np.log(weight / weight.sum())
        return self

    def decision_function(self, X):
        Z = np.array(X, dtype=np.float64)  # our copy, standardised in place
        Z -= self.mean_
        Z /= self.scale_
        return Z @ self.coef_.T + self.intercept_

    def predict_proba(self, X):
        scores = self.decision_function(X)
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _weighted_gram(X, weight, stats=None):
    """``(mean, scale, Z, Z^T Z)`` of ``X``'s rows standardised (unweighted), each scaled by its weight's root.

    With ``stats`` (:func:`~._ridge._gram_stats` of the same rows), the
    weighted Gram matrix is ``w0 G + R^T R``: ``G`` the unweighted one,
    ``w0`` the smallest weight and ``R`` the rows weighted above it, scaled
    by the roots of their excess weights. Both terms are positive
    semi-definite (no digits lost to cancellation), and only the rows of
    ``R`` are multiplied. A distiller's targets weigh every unlabelled row
    alike, so ``R`` holds the labelled rows (none when every row is
    labelled). Where more than half of the rows are weighted above the
    smallest weight, or without ``stats``, the product is taken over every
    row.
    """
    base = weight.min() if len(weight) else 0.0
    above = np.flatnonzero(weight > base)
    if stats is None or 2 * len(above) > len(weight):
        mean, scale, Z = _standardised(X)
        Z *= np.sqrt(weight)[:, None]
        return mean, scale, Z, Z.T @ Z
    mean, scale, Z, gram = _standardised_as(X, stats)
    R = Z[above] * np.sqrt(weight[above] - base)[:, None]
    Z *= np.sqrt(weight)[:, None]
    return mean, scale, Z, base * gram + R.T @ R


def _ledoit_wolf_shrinkage(S, row_sq):
    """Ledoit-Wolf shrinkage intensity of the covariance ``S = R^T R / n`` of centred rows ``R``.

    The formula of :func:`sklearn.covariance.ledoit_wolf_shrinkage` with
    ``assume_centered=True``, written with the rows' squared norms
    ``row_sq`` (its sum over squared outer products is ``sum(row_sq**2)``),
    so that neither ``R`` nor a second O(n p^2) product is needed.
    """
    n, p = len(row_sq), S.shape[0]
    trace = row_sq.sum() / n
    mu = trace / p
    frob = float(np.sum(S * S))
    beta = (float(row_sq @ row_sq) / n - frob) / (p * n)
    delta = (frob - 2.0 * mu * trace + p * mu**2) / p
    beta = min(beta, delta)
    return 0.0 if beta == 0 else beta / delta


def default_estimator():
    """The default teacher and student: closed-form shrunk LDA (see :class:`_ShrunkLDA`)."""
    return _ShrunkLDA()
