"""Views of the real-data reproductions, standardised on the rows a model is fitted on."""

import numpy as np
from sklearn.preprocessing import StandardScaler

__all__ = ["standardized_views"]


def standardized_views(views, fit_rows, eval_rows):
    """Standardise each view on its ``fit_rows`` and cut it into fit and evaluation parts.

    Parameters
    ----------
    views : list of ndarray of shape (n_samples, n_features_i)
        The views (modalities) of the same samples.
    fit_rows, eval_rows : array of int
        Rows to fit the scaler (and later the models) on, and rows to score.

    Returns
    -------
    list of (ndarray, ndarray)
        Per view, its standardised ``fit_rows`` and ``eval_rows`` as float32;
        means and scales come from ``fit_rows`` only.
    """
    out = []
    for X in views:
        scaler = StandardScaler().fit(X[fit_rows])
        out.append(tuple(scaler.transform(X[rows]).astype(np.float32) for rows in (fit_rows, eval_rows)))
    return out
