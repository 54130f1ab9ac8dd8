"""Table-driven bad-input tests for every public estimator and function.

Each row of ``BAD_INPUTS`` is one call with one bad argument, the exception
type it must raise and a regex that must name the offending argument (or
state the broken requirement in our wording). Every row also checks that the
error is raised by our validation, not from deep inside torch or numba: the
innermost traceback frame must lie outside those packages.

Rows marked ``xfail(strict=True)`` document a current unclear error; their
reason quotes what the library does today, so that fixing it flips the row
to XPASS and forces the mark to be removed.
"""

import os
import re
from functools import cache

import numpy as np
import pytest
import torch
from conftest import quick_template
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetBinaryClassifier, NeuralNetRegressor

import crossmodal
from crossmodal import (
    CrossModalDistiller,
    ModalityGeneralRanker,
    MVDGenerator,
    make_modality_venn,
    permutation_salience,
)
from crossmodal.nets import MLP

N = 20
_RNG = np.random.RandomState(0)
X = _RNG.randn(N, 3)
X_T = _RNG.randn(N, 4)
X_B = _RNG.randn(N, 2)
Y = np.arange(N) % 2
P = np.column_stack([np.full(N, 0.7), np.full(N, 0.3)])
X32 = X.astype(np.float32)
XB32 = X_B.astype(np.float32)

_FORBIDDEN_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (torch,)) + ("numba" + os.sep,)


def _with(A, value, index=(0, 0)):
    A = np.array(A, dtype=np.float64, copy=True)
    A[index] = value
    return A


def _strings(n_rows, n_cols):
    return np.full((n_rows, n_cols), "a", dtype=object)


def tiny_net(**params):
    return quick_template(max_epochs=2, batch_size=-1, **params)


def distiller(**params):
    params = {"student": tiny_net(), "teacher": LogisticRegression(), "random_state": 0, **params}
    return CrossModalDistiller(**params)


def ranker(**params):
    params = {"estimator_a": tiny_net(), "estimator_b": tiny_net(), "n_repeats": 1, "random_state": 0, **params}
    return ModalityGeneralRanker(**params)


def fit_kd(X_=X, y=Y, **kwargs):
    """Fit a tiny distiller on precomputed teacher probabilities unless overridden."""
    params = kwargs.pop("params", {})
    if "X_teacher" not in kwargs and "teacher_proba" not in kwargs:
        kwargs["teacher_proba"] = P
    return distiller(**params).fit(X_, y, **kwargs)


def _strings_with_nan():
    """String labels as pandas holds them with two missing: NaN in an object array."""
    y = np.array(["a", "b"], dtype=object)[Y]
    y[:2] = np.nan
    return y


def _prefit(labels):
    """A logistic regression on X_T fitted to ``labels``: a prefit teacher."""
    return LogisticRegression().fit(X_T, labels)


def fit_ranker(X_=X, y=Y, X_b=X_B, **params):
    return ranker(**params).fit(X_, y, X_b=X_b)


def salience(X_a=X32, X_b=XB32, module_a=None, module_b=None, **kwargs):
    torch.manual_seed(0)
    module_a = MLP(3, 2, hidden_sizes=()) if module_a is None else module_a
    module_b = MLP(2, 2, hidden_sizes=()) if module_b is None else module_b
    kwargs = {"n_repeats": 1, "random_state": 0, **kwargs}
    return permutation_salience(module_a, module_b, X_a, X_b, **kwargs)


@cache
def fitted_kd():
    return fit_kd()


@cache
def fitted_ranker(**params):
    return fit_ranker(**params)


@cache
def fitted_generator():
    return MVDGenerator(random_state=0).fit()


def row(name, call, exc, match, xfail=None):
    """One table row; ``xfail`` quotes the current unclear behaviour.

    An xfail row must fail the way its reason says: by the regex not matching
    (AssertionError from pytest.raises) or by torch's RuntimeError escaping.
    """
    raises = RuntimeError if xfail and xfail.startswith("module_b is run") else AssertionError
    marks = [pytest.mark.xfail(strict=True, raises=raises, reason=xfail)] if xfail else []
    return pytest.param(call, exc, match, id=name, marks=marks)


def second_view_rows(prefix, fit, name, A):
    """Rows for the second view an estimator's ``fit`` takes as keyword ``name`` (``X_teacher``, ``X_b``)."""
    bad = {
        "nan": (_with(A, np.nan), rf"{name} contains NaN"),
        "inf": (_with(A, np.inf), rf"{name} contains infinity"),
        "1d": (A[:, 0], name),
        "3d": (A[:, :, None], name),
        "empty": (A[:0], name),
        "rows": (A[:-1], rf"X and {name} have different numbers of samples: {N} and {N - 1}"),
        "strings": (_strings(N, A.shape[1]), name),
    }
    return [
        row(f"{prefix}-{name}-{kind}", lambda value=value: fit(**{name: value}), ValueError, match)
        for kind, (value, match) in bad.items()
    ]


# --------------------------------------------------------------------------- #
# The table
# --------------------------------------------------------------------------- #

DISTILLER_FIT = [
    row("kd.fit-X-nan", lambda: fit_kd(_with(X, np.nan)), ValueError, r"Input X contains NaN"),
    row("kd.fit-X-inf", lambda: fit_kd(_with(X, np.inf)), ValueError, r"Input X contains infinity"),
    row("kd.fit-X-1d", lambda: fit_kd(X[:, 0]), ValueError, r"Expected 2D array, got 1D array"),
    row("kd.fit-X-3d", lambda: fit_kd(X[:, :, None]), ValueError, r"dim 3"),
    row("kd.fit-X-empty", lambda: fit_kd(X[:0], Y[:0]), ValueError, r"0 sample\(s\)"),
    row("kd.fit-X-strings", lambda: fit_kd(_strings(N, 3)), ValueError, r"X.*string|string.*X"),
    row("kd.fit-X-y-rows", lambda: fit_kd(X, Y[:-1]), ValueError, r"inconsistent numbers of samples"),
    *second_view_rows("kd.fit", fit_kd, "X_teacher", X_T),
    row(
        "kd.fit-X_teacher-missing",
        lambda: fit_kd(X_teacher=None),
        ValueError,
        r"needs X_teacher .* or precomputed teacher_proba; got neither",
    ),
    row(
        "kd.fit-y-one-class",
        lambda: fit_kd(y=np.zeros(N, dtype=int), teacher_proba=P[:, :1] / P[:, :1]),
        ValueError,
        r"y has 1 class .*at least 2 classes",
    ),
    row("kd.fit-y-continuous", lambda: fit_kd(y=X[:, 0]), ValueError, r"Unknown label type"),
    row(
        "kd.fit-y-no-labelled-row-no-prefit-teacher",
        lambda: fit_kd(y=np.full(N, -1), X_teacher=X_T),
        ValueError,
        r"y has no labelled row \(all 20 rows .*FrozenEstimator, or teacher_proba",
    ),
    row(
        "kd.fit-y-labelled-rows-one-class",
        lambda: fit_kd(y=np.where(Y == 0, -1, 1), X_teacher=X_T),
        ValueError,
        r"y's labelled rows hold 1 class \(1\) beside 10 rows marked as unlabelled.*encode them as 0 and 1",
    ),
    row(
        "kd.fit-y-minus-one-among-strings",
        lambda: fit_kd(y=np.array(["a", "b"] * (N // 2 - 1) + ["a", -1], dtype=object), X_teacher=X_T),
        ValueError,
        r"y mixes string labels with -1.*None",
    ),
    row(
        "kd.fit-y-string-minus-one",
        lambda: fit_kd(y=np.array(["a", "b"] * (N // 2 - 1) + ["a", "-1"]), X_teacher=X_T),
        ValueError,
        r"y holds the string '-1' in 1 row\(s\).*None",
    ),
    row(
        "kd.fit-y-none-among-numbers",
        lambda: fit_kd(y=np.array([0, 1] * (N // 2 - 1) + [0, None], dtype=object), X_teacher=X_T),
        ValueError,
        r"y holds None in 1 row\(s\) of numeric labels.*-1",
    ),
    row(
        "kd.fit-y-missing-strings-from-pandas",
        lambda: fit_kd(y=_strings_with_nan(), X_teacher=X_T),
        ValueError,
        r"y holds NaN or NA in 2 row\(s\) among string labels.*where\(y.notna\(\), None\)",
    ),
    row(
        "kd.fit-prefit-teacher-class-is-the-marker",
        lambda: fit_kd(
            y=np.full(N, -1), X_teacher=X_T, params={"teacher": FrozenEstimator(_prefit(np.where(Y == 0, -1, 1)))}
        ),
        ValueError,
        r"The prefit teacher's classes_ include -1, which marks a row without a label",
    ),
    row(
        "kd.fit-prefit-teacher-strings-beside-numbers",
        lambda: fit_kd(
            y=np.where(np.arange(N) < 4, Y, -1),
            X_teacher=X_T,
            params={"teacher": FrozenEstimator(_prefit(np.array(["a", "b"])[Y]))},
        ),
        ValueError,
        r"The prefit teacher's classes_ \(\['a', 'b'\]\) and y's labels \(\[0, 1\]\) mix strings and numbers",
    ),
    row(
        "kd.fit-sample_weight-zero-on-every-labelled-row",
        lambda: fit_kd(
            y=np.where(np.arange(N) < 4, Y, -1), X_teacher=X_T, sample_weight=np.where(np.arange(N) < 4, 0.0, 1.0)
        ),
        ValueError,
        r"sample_weight sums to 0.0 over the 4 labelled rows of y",
    ),
    row(
        "kd.fit-teacher_proba-1d-without-labels",
        lambda: fit_kd(y=np.full(N, -1), teacher_proba=P[:, 0]),
        ValueError,
        r"teacher_proba must be a 2-D array.*got 1-D input",
    ),
    row(
        "kd.fit-teacher_proba-one-column-without-labels",
        lambda: fit_kd(y=np.full(N, -1), teacher_proba=P[:, :1] / P[:, :1]),
        ValueError,
        r"teacher_proba has 1 column; with no labelled row in y its columns are the classes",
    ),
    row(
        "kd.fit-teacher_proba-rows-with-unlabelled",
        lambda: fit_kd(y=np.where(np.arange(N) < 4, Y, -1), teacher_proba=P[:-2]),
        ValueError,
        r"X and teacher_proba have different numbers of samples: 20 and 18",
    ),
    row(
        "kd.fit-teacher_proba-nan",
        lambda: fit_kd(teacher_proba=_with(P, np.nan)),
        ValueError,
        r"teacher_proba contains NaN",
    ),
    row(
        "kd.fit-teacher_proba-inf",
        lambda: fit_kd(teacher_proba=_with(P, np.inf)),
        ValueError,
        r"teacher_proba contains infinity",
    ),
    row("kd.fit-teacher_proba-1d", lambda: fit_kd(teacher_proba=P[:, 0]), ValueError, r"teacher_proba"),
    row("kd.fit-teacher_proba-3d", lambda: fit_kd(teacher_proba=P[:, :, None]), ValueError, r"teacher_proba"),
    row("kd.fit-teacher_proba-empty", lambda: fit_kd(teacher_proba=P[:0]), ValueError, r"teacher_proba"),
    row(
        "kd.fit-teacher_proba-rows",
        lambda: fit_kd(teacher_proba=P[:-1]),
        ValueError,
        r"X and teacher_proba have different numbers of samples: 20 and 19",
    ),
    row(
        "kd.fit-teacher_proba-unseen-class",
        lambda: fit_kd(teacher_proba=np.column_stack([P, np.zeros(N)])),
        ValueError,
        r"teacher_proba must have shape .*\(20, 2\).*got shape \(20, 3\)",
    ),
    row(
        "kd.fit-teacher_proba-too-few-columns",
        lambda: fit_kd(teacher_proba=np.ones((N, 1))),
        ValueError,
        r"teacher_proba must have shape .*\(20, 2\).*got shape \(20, 1\)",
    ),
    row(
        "kd.fit-teacher_proba-negative",
        lambda: fit_kd(teacher_proba=P * [-1, 2]),
        ValueError,
        r"teacher_proba must hold probabilities in \[0, 1\]",
    ),
    row(
        "kd.fit-teacher_proba-row-sum",
        lambda: fit_kd(teacher_proba=P * 0.5),
        ValueError,
        r"Each row of teacher_proba must sum to 1; row 0 sums to 0.5",
    ),
    row("kd.fit-teacher_proba-strings", lambda: fit_kd(teacher_proba=_strings(N, 2)), ValueError, r"teacher_proba"),
    row(
        "kd.fit-teacher_proba-with-focus",
        lambda: fit_kd(params={"focus": ranker()}),
        ValueError,
        r"focus .*cannot be combined with teacher_proba",
    ),
    row(
        "kd.fit-sample_weight-negative",
        lambda: fit_kd(sample_weight=-np.ones(N)),
        ValueError,
        r"Negative values in data passed to `sample_weight`",
    ),
    row(
        "kd.fit-sample_weight-rows",
        lambda: fit_kd(sample_weight=np.ones(N - 1)),
        ValueError,
        r"sample_weight.shape == \(19,\), expected \(20,\)",
    ),
    row(
        "kd.fit-sample_weight-zero-sum",
        lambda: fit_kd(sample_weight=np.zeros(N)),
        ValueError,
        # scikit-learn >= 1.7 says it first; on older versions the distiller does
        r"Sample weights must contain at least one non-zero number|sample_weight must have a positive sum",
    ),
    row(
        "kd.fit-sample_weight-nan",
        lambda: fit_kd(sample_weight=_with(np.ones(N), np.nan, 0)),
        ValueError,
        r"sample_weight contains NaN",
    ),
    row("kd.param-rho-negative", lambda: fit_kd(params={"rho": -0.1}), ValueError, r"'rho' parameter.*Got -0.1"),
    row("kd.param-rho-above-1", lambda: fit_kd(params={"rho": 1.5}), ValueError, r"'rho' parameter.*Got 1.5"),
    row(
        "kd.param-temperature-zero",
        lambda: fit_kd(params={"temperature": 0}),
        ValueError,
        r"'temperature' parameter.*range \(0.0, inf\).*Got 0",
    ),
    row(
        "kd.param-temperature-negative",
        lambda: fit_kd(params={"temperature": -1.0}),
        ValueError,
        r"'temperature' parameter.*Got -1.0",
    ),
    row(
        "kd.param-kl_reduction",
        lambda: fit_kd(params={"kl_reduction": "sum"}),
        ValueError,
        r"'kl_reduction' parameter.*Got 'sum'",
    ),
    row(
        "kd.param-teacher_input",
        lambda: fit_kd(params={"teacher_input": "a"}),
        ValueError,
        r"'teacher_input' parameter.*Got 'a'",
    ),
    row(
        "kd.param-teacher-no-proba",
        lambda: fit_kd(X_teacher=X_T, params={"teacher": KMeans(2, n_init=1)}),
        TypeError,
        r"teacher must have predict_proba or decision_function; got KMeans",
    ),
    row(
        "kd.param-student-subclass",
        lambda: CrossModalDistiller(student=NeuralNetBinaryClassifier(MLP), random_state=0).fit(X, Y, teacher_proba=P),
        TypeError,
        r"student .*must be a skorch.NeuralNetClassifier template; got NeuralNetBinaryClassifier",
    ),
    row(
        "kd.param-student-not-a-net",
        lambda: fit_kd(params={"student": LogisticRegression()}),
        ValueError,
        r"The 'student' parameter of CrossModalDistiller must be None or an object implementing 'fit' and 'initialize'",
    ),
    row(
        "kd.param-student-regressor",
        lambda: fit_kd(params={"student": NeuralNetRegressor(MLP)}),
        TypeError,
        r"student .*must be a skorch.NeuralNetClassifier template; got NeuralNetRegressor",
    ),
    row(
        "kd.param-device",
        lambda: fit_kd(params={"device": "tpu"}),
        ValueError,
        r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'",
    ),
    row(
        "kd.param-focus-with-student-input",
        lambda: fit_kd(X_teacher=X_T, params={"focus": ranker(), "teacher_input": "student"}),
        ValueError,
        r"focus .*needs teacher_input='teacher' or 'both'",
    ),
    row(
        "kd.param-focus-not-a-ranker",
        lambda: fit_kd(X_teacher=X_T, params={"focus": StandardScaler()}),
        ValueError,
        r"The 'focus' parameter of CrossModalDistiller must be None or an instance of .*ModalityGeneralRanker",
    ),
]


class _NanTeacher(LogisticRegression):
    """Fits as a logistic regression, answers NaN."""

    def predict_proba(self, X):
        return np.full((len(X), 2), np.nan)


class _FlatMimic:
    """A regressor that flattens its multi-output prediction."""

    def fit(self, X, y):
        self.n_ = y.shape[1]
        return self

    def predict(self, X):
        return np.zeros(len(X) * self.n_)

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self


DISTILLER_PREDICT = [
    row("kd.predict-not-fitted", lambda: distiller().predict(X), NotFittedError, r"CrossModalDistiller.*not fitted"),
    row("kd.predict_proba-not-fitted", lambda: distiller().predict_proba(X), NotFittedError, r"not fitted"),
    row(
        "kd.predict-n_features",
        lambda: fitted_kd().predict(X[:, :2]),
        ValueError,
        r"X has 2 features, but CrossModalDistiller is expecting 3 features",
    ),
    row(
        "kd.predict_proba-n_features",
        lambda: fitted_kd().predict_proba(X_T),
        ValueError,
        r"X has 4 features, but CrossModalDistiller is expecting 3 features",
    ),
    row("kd.predict-nan", lambda: fitted_kd().predict(_with(X, np.nan)), ValueError, r"Input X contains NaN"),
    row("kd.predict-inf", lambda: fitted_kd().predict(_with(X, -np.inf)), ValueError, r"Input X contains infinity"),
    row("kd.predict-1d", lambda: fitted_kd().predict(X[0]), ValueError, r"Expected 2D array, got 1D array"),
    row("kd.predict-3d", lambda: fitted_kd().predict(X[:, :, None]), ValueError, r"dim 3"),
    row("kd.predict-empty", lambda: fitted_kd().predict(X[:0]), ValueError, r"0 sample\(s\)"),
    row("kd.predict-strings", lambda: fitted_kd().predict(_strings(N, 3)), ValueError, r"X.*string|string.*X"),
    row(
        "kd.predict-beyond-float32",
        lambda: fitted_kd().predict(_with(X, 1e300)),
        ValueError,
        r"X holds values up to 1e\+300 in magnitude, beyond float32's range",
    ),
    row(
        "kd.score-lengths",
        lambda: fitted_kd().score(X, Y[:10]),
        ValueError,
        r"inconsistent numbers of samples: \[20, 10\]",
    ),
    row(
        "kd.score-sample_weight-length",
        lambda: fitted_kd().score(X, Y, sample_weight=np.ones(19)),
        ValueError,
        r"inconsistent numbers of samples: \[20, 20, 19\]",
    ),
    row(
        "kd.score-y-missing-strings-from-pandas",
        lambda: fitted_kd().score(X, _strings_with_nan()),
        ValueError,
        r"y holds NaN or NA in 2 row\(s\) among string labels",
    ),
]

RANKER = [
    row("ranker.fit-X-nan", lambda: fit_ranker(_with(X, np.nan)), ValueError, r"Input X contains NaN"),
    row(
        "ranker.fit-y-missing-strings-from-pandas",
        lambda: fit_ranker(y=_strings_with_nan()),
        ValueError,
        r"y holds NaN or NA in 2 row\(s\) among string labels",
    ),
    row("ranker.fit-X-inf", lambda: fit_ranker(_with(X, np.inf)), ValueError, r"Input X contains infinity"),
    row("ranker.fit-X-1d", lambda: fit_ranker(X[:, 0]), ValueError, r"Expected 2D array, got 1D array"),
    row("ranker.fit-X-empty", lambda: fit_ranker(X[:0], Y[:0], X_B[:0]), ValueError, r"0 sample\(s\)"),
    *second_view_rows("ranker.fit", fit_ranker, "X_b", X_B),
    row("ranker.fit-X_b-none", lambda: fit_ranker(X_b=None), ValueError, r"X_b is required; got None"),
    row(
        "ranker.fit-y-one-class",
        lambda: fit_ranker(y=np.zeros(N, dtype=int)),
        ValueError,
        r"y has 1 class .*at least 2 classes",
    ),
    row("ranker.param-n_repeats-zero", lambda: fit_ranker(n_repeats=0), ValueError, r"'n_repeats' parameter.*Got 0"),
    row(
        "ranker.param-n_repeats-negative",
        lambda: fit_ranker(n_repeats=-2),
        ValueError,
        r"'n_repeats' parameter.*Got -2",
    ),
    row("ranker.param-ratio-one", lambda: fit_ranker(ratio=1.0), ValueError, r"'ratio' parameter.*Got 1.0"),
    row("ranker.param-ratio-negative", lambda: fit_ranker(ratio=-0.1), ValueError, r"'ratio' parameter.*Got -0.1"),
    row("ranker.param-mode", lambda: fit_ranker(mode="both"), ValueError, r"'mode' parameter.*Got 'both'"),
    row("ranker.param-nullify", lambda: fit_ranker(nullify="nan"), ValueError, r"'nullify' parameter.*Got 'nan'"),
    row("ranker.param-distance", lambda: fit_ranker(distance="l2"), ValueError, r"'distance' parameter.*Got 'l2'"),
    row(
        "ranker.param-estimator_a-type",
        lambda: fit_ranker(estimator_a=LogisticRegression()),
        TypeError,
        r"estimator_a must be a skorch.NeuralNetClassifier .*got LogisticRegression",
    ),
    row("ranker.param-layer-out-of-range", lambda: fit_ranker(layer=5), ValueError, r"layer"),
    row(
        "ranker.param-layer-unknown-name", lambda: fit_ranker(layer="nope"), ValueError, r"layer.*'nope'|'nope'.*layer"
    ),
    row("ranker.transform-not-fitted", lambda: ranker().transform(X), NotFittedError, r"not fitted"),
    row(
        "ranker.transform-n_features",
        lambda: fitted_ranker().transform(X[:, :2]),
        ValueError,
        r"X has 2 features, but ModalityGeneralRanker is expecting 3 features",
    ),
    row(
        "ranker.transform-drop-n_features",
        lambda: fitted_ranker(nullify="drop").transform(X_T),
        ValueError,
        r"X has 4 features, but ModalityGeneralRanker is expecting 3 features",
    ),
    row(
        "ranker.transform-nan", lambda: fitted_ranker().transform(_with(X, np.nan)), ValueError, r"Input X contains NaN"
    ),
    row("ranker.transform-1d", lambda: fitted_ranker().transform(X[0]), ValueError, r"Expected 2D array, got 1D array"),
    row(
        "ranker.transform-strings",
        lambda: fitted_ranker().transform(_strings(N, 3)),
        ValueError,
        r"X.*string|string.*X",
    ),
    row(
        "ranker.nullify_module-no-layer",
        lambda: fitted_ranker().nullify_module(fitted_ranker().nets_[0]),
        ValueError,
        r"nullify_module needs a ranker fitted with layer set",
    ),
    row(
        "ranker.support_for-ratio",
        lambda: fitted_ranker().support_for("general", 1.0),
        ValueError,
        r"ratio must be in \[0, 1\); got 1.0",
    ),
    row(
        "ranker.support_for-mode",
        lambda: fitted_ranker().support_for("both", 0.5),
        ValueError,
        r"mode must be 'general', 'specific' or 'random'; got 'both'",
    ),
]

SALIENCE = [
    row("salience-X_a-nan", lambda: salience(X_a=_with(X32, np.nan)), ValueError, r"X_a contains NaN"),
    row("salience-X_a-inf", lambda: salience(X_a=_with(X32, np.inf)), ValueError, r"X_a contains infinity"),
    row("salience-X_b-nan", lambda: salience(X_b=_with(XB32, np.nan)), ValueError, r"X_b contains NaN"),
    row("salience-X_b-inf", lambda: salience(X_b=_with(XB32, -np.inf)), ValueError, r"X_b contains infinity"),
    row("salience-X_a-1d", lambda: salience(X_a=X32[:, 0]), ValueError, r"X_a must have shape \(n_samples, n_channels"),
    row("salience-X_b-1d", lambda: salience(X_b=XB32[:, 0]), ValueError, r"X_b must have shape"),
    row("salience-X_a-3d", lambda: salience(X_a=X32[:, :, None]), ValueError, r"module_a cannot be applied to X_a"),
    row("salience-X_b-3d", lambda: salience(X_b=XB32[:, :, None]), ValueError, r"X_b"),
    row("salience-X_a-empty", lambda: salience(X_a=X32[:0], X_b=XB32[:0]), ValueError, r"X_a"),
    row("salience-X_b-empty", lambda: salience(X_b=XB32[:0]), ValueError, r"X_b"),
    row(
        "salience-rows",
        lambda: salience(X_b=XB32[:-1]),
        ValueError,
        r"X_a and X_b have different numbers of samples: 20 and 19",
    ),
    row("salience-X_a-strings", lambda: salience(X_a=_strings(N, 3)), ValueError, r"X_a"),
    row("salience-X_b-strings", lambda: salience(X_b=_strings(N, 2)), ValueError, r"X_b"),
    row(
        "salience-X_a-n_features",
        lambda: salience(X_a=X_T.astype(np.float32)),
        ValueError,
        r"module_a cannot be applied to X_a of shape \(20, 4\)",
    ),
    row(
        "salience-X_b-n_features",
        lambda: salience(X_b=X_T.astype(np.float32)),
        ValueError,
        r"module_b cannot be applied to X_b",
    ),
    row(
        "salience-logit-shapes",
        lambda: salience(module_b=MLP(2, 3, hidden_sizes=())),
        ValueError,
        r"module_a and module_b must return logits of the same shape",
    ),
    row(
        "salience-n_repeats-zero",
        lambda: salience(n_repeats=0),
        ValueError,
        r"n_repeats must be an integer >= 1; got 0",
    ),
    row(
        "salience-n_repeats-negative",
        lambda: salience(n_repeats=-3),
        ValueError,
        r"n_repeats must be an integer >= 1; got -3",
    ),
    row(
        "salience-n_repeats-float",
        lambda: salience(n_repeats=1.5),
        ValueError,
        r"n_repeats must be an integer >= 1; got 1.5",
    ),
    row(
        "salience-n_repeats-bool",
        lambda: salience(n_repeats=True),
        ValueError,
        r"n_repeats must be an integer >= 1; got True",
    ),
    row("salience-distance", lambda: salience(distance="l2"), ValueError, r"distance must be one of .*got 'l2'"),
    row(
        "salience-batch_size-zero",
        lambda: salience(batch_size=0),
        ValueError,
        r"batch_size must be an integer >= 1; got 0",
    ),
    row("salience-n_jobs-zero", lambda: salience(n_jobs=0), ValueError, r"n_jobs"),
    row("salience-layer-out-of-range", lambda: salience(layer=5), ValueError, r"layer"),
    row("salience-layer-unknown-name", lambda: salience(layer="nope"), ValueError, r"layer.*'nope'|'nope'.*layer"),
    row(
        "salience-module_a-type",
        lambda: salience(module_a="net"),
        TypeError,
        r"module_a must be a torch.nn.Module or a fitted skorch net; got str",
    ),
    row(
        "salience-module_b-unfitted-skorch",
        lambda: salience(module_b=tiny_net()),
        ValueError,
        r"module_b is a skorch net without module_",
    ),
]

GENERATOR = [
    row(
        "gen.param-n_general-negative",
        lambda: MVDGenerator(n_general=-1).fit(),
        ValueError,
        r"'n_general' parameter.*Got -1",
    ),
    row(
        "gen.param-n_noise_b-float",
        lambda: MVDGenerator(n_noise_b=2.5).fit(),
        ValueError,
        r"'n_noise_b' parameter.*Got 2.5",
    ),
    row(
        "gen.param-n_classes-one", lambda: MVDGenerator(n_classes=1).fit(), ValueError, r"'n_classes' parameter.*Got 1"
    ),
    row(
        "gen.param-hyperplane",
        lambda: MVDGenerator(hyperplane="zeros").fit(),
        ValueError,
        r"'hyperplane' parameter.*Got 'zeros'",
    ),
    row("gen.param-mixing", lambda: MVDGenerator(mixing="relu").fit(), ValueError, r"'mixing' parameter.*Got 'relu'"),
    row(
        "gen.param-no-decisive",
        lambda: MVDGenerator(n_general=0, n_specific_a=0, n_specific_b=0).fit(),
        ValueError,
        r"n_general \+ n_specific_a \+ n_specific_b must be >= 1",
    ),
    row(
        "gen.param-empty-modality",
        lambda: MVDGenerator(n_general=0, n_specific_a=0, n_noise_a=0, n_specific_b=2).fit(),
        ValueError,
        r"Modality a has no column",
    ),
    row(
        "gen.param-ones-multiclass",
        lambda: MVDGenerator(hyperplane="ones", n_classes=3).fit(),
        ValueError,
        r"hyperplane='ones' .*needs n_classes=2; got n_classes=3",
    ),
    row("gen.sample-not-fitted", lambda: MVDGenerator().sample(5), NotFittedError, r"MVDGenerator.*not fitted"),
    row(
        "gen.sample-n_samples-zero",
        lambda: fitted_generator().sample(0),
        ValueError,
        r"n_samples must be an integer >= 1; got 0",
    ),
    row(
        "gen.sample-n_samples-negative",
        lambda: fitted_generator().sample(-5),
        ValueError,
        r"n_samples must be an integer >= 1; got -5",
    ),
    row(
        "gen.sample-n_samples-float",
        lambda: fitted_generator().sample(2.5),
        ValueError,
        r"n_samples must be an integer >= 1; got 2.5",
    ),
    row(
        "gen.sample-n_samples-string",
        lambda: fitted_generator().sample("10"),
        ValueError,
        r"n_samples must be an integer >= 1; got '10'",
    ),
    row(
        "gen.sample-random_state",
        lambda: fitted_generator().sample(5, random_state="seed"),
        ValueError,
        r"'seed' cannot be used to seed",
    ),
    row("venn-n_samples-zero", lambda: make_modality_venn(0), ValueError, r"'n_samples' parameter.*Got 0"),
    row("venn-n_samples-negative", lambda: make_modality_venn(-10), ValueError, r"'n_samples' parameter.*Got -10"),
    row("venn-n_samples-float", lambda: make_modality_venn(10.5), ValueError, r"'n_samples' parameter.*Got 10.5"),
    row(
        "venn-n_general-negative",
        lambda: make_modality_venn(10, n_general=-1),
        ValueError,
        r"'n_general' parameter.*Got -1",
    ),
    row("venn-n_classes-one", lambda: make_modality_venn(10, n_classes=1), ValueError, r"'n_classes' parameter.*Got 1"),
    row("venn-mixing", lambda: make_modality_venn(10, mixing="relu"), ValueError, r"'mixing' parameter.*Got 'relu'"),
    row(
        "venn-no-decisive",
        lambda: make_modality_venn(10, n_general=0, n_specific_a=0, n_specific_b=0),
        ValueError,
        r"n_general \+ n_specific_a \+ n_specific_b must be >= 1",
    ),
    row(
        "venn-return_info",
        lambda: make_modality_venn(10, return_info="yes"),
        ValueError,
        r"'return_info' parameter.*Got 'yes'",
    ),
]


def _diagnose_data(n=40):
    return make_modality_venn(n, n_general=2, n_specific_a=1, n_specific_b=1, n_noise_a=2, n_noise_b=2, random_state=0)


def _diagnose(**changes):
    X_a, X_b, y = _diagnose_data()
    args = dict(X_a=X_a, X_b=X_b, y=y, n_bootstrap=5)
    args.update(changes)
    return crossmodal.diagnose(args.pop("X_a"), args.pop("X_b"), args.pop("y"), **args)


def _few_named_labels():
    """String labels of the diagnose data: 6 'cat' and 2 'dog' rows labelled, the others None."""
    y = np.full(40, None, dtype=object)
    y[:8] = ["cat"] * 6 + ["dog"] * 2
    return y


def _with_nan(X):
    X = X.copy()
    X[0, 0] = np.nan
    return X


DIAGNOSE = [
    row(
        "diagnose-rows",
        lambda: _diagnose(X_b=_diagnose_data()[1][:30]),
        ValueError,
        r"X_a and X_b have different numbers of samples: 40 and 30",
    ),
    row("diagnose-nan", lambda: _diagnose(X_a=_with_nan(_diagnose_data()[0])), ValueError, r"X_a.*NaN"),
    row("diagnose-one-class", lambda: _diagnose(y=np.zeros(40, dtype=int)), ValueError, r"y has 1 class"),
    row(
        "diagnose-teacher",
        lambda: _diagnose(teacher=KMeans(2)),
        TypeError,
        r"teacher must be a scikit-learn classifier with fit and predict_proba; got KMeans",
    ),
    row("diagnose-cv", lambda: _diagnose(cv=1), ValueError, r"cv must be an integer >= 2"),
    row(
        "diagnose-cv-split-without-labelled-training-rows",
        lambda: _diagnose(y=np.where(np.arange(40) < 8, _diagnose_data()[2], -1), cv=KFold(5)),
        ValueError,
        r"cv's split 0 leaves 0 class\(es\) among its labelled training rows \(0 of 32 training rows labelled\)",
    ),
    row("diagnose-random_state", lambda: _diagnose(random_state="seed"), ValueError, r"'seed' cannot be used to seed"),
    row(
        "diagnose-random_state-negative",
        lambda: _diagnose(random_state=-1),
        ValueError,
        r"random_state must be None, an integer from 0 to 2\*\*32 - 1 or a numpy RandomState; got -1",
    ),
    row(
        "diagnose-cv-names-the-short-class",
        lambda: _diagnose(y=_few_named_labels()),
        ValueError,
        r"cv=5 needs at least 5 labelled samples of every class; the smallest class has 2 \(class 'dog'\)\. "
        r"Pass cv=2",
    ),
    row(
        "diagnose-teacher-class",
        lambda: _diagnose(teacher=LogisticRegression),
        TypeError,
        r"teacher must be an estimator instance, not a class; got LogisticRegression",
    ),
    row(
        "diagnose-views-X_b-rows",
        lambda: _diagnose(X_a={"v": _diagnose_data()[0], "w": _diagnose_data()[0]}, X_b=_diagnose_data()[1][:30]),
        ValueError,
        r"^X_b and y have different numbers of samples: 30 and 40",
    ),
]

DISTILLER_FIT += [
    row(
        "kd.fit-unused-X_teacher-rows",
        lambda: fit_kd(params={"rho": 1.0}, X_teacher=X_T[:7]),
        ValueError,
        r"X and X_teacher have different numbers of samples: 20 and 7",
    ),
    row(
        "kd.fit-unused-teacher_proba-rows",
        lambda: fit_kd(params={"rho": 1.0}, teacher_proba=P[:3]),
        ValueError,
        r"X and teacher_proba have different numbers of samples: 20 and 3",
    ),
    row(
        "kd.fit-beyond-float32",
        lambda: fit_kd(_with(X, -1e300), X_teacher=X_T),
        ValueError,
        r"X holds values up to 1e\+300 in magnitude, beyond float32's range",
    ),
]

SALIENCE += [
    row(
        "salience-X_a-beyond-float32",
        lambda: salience(X_a=_with(X, 1e300)),
        ValueError,
        r"X_a holds values up to 1e\+300 in magnitude, beyond float32's range",
    ),
    row("salience-n_jobs", lambda: salience(n_jobs=1.5), ValueError, r"n_jobs must be None or an integer .*got 1.5"),
]

RANKER += [
    row(
        "ranker.fit-X-beyond-float32",
        lambda: fit_ranker(_with(X, 1e300)),
        ValueError,
        r"^X holds values up to 1e\+300 in magnitude",
    ),
    row(
        "ranker.fit-X_b-beyond-float32",
        lambda: fit_ranker(X_b=_with(X_B, -1e300)),
        ValueError,
        r"^X_b holds values up to 1e\+300 in magnitude",
    ),
]

RANKER += [
    row(
        "ranker.transform-drop-sparse",
        lambda: fitted_ranker(nullify="drop").transform(sparse.csr_matrix(X)),
        TypeError,
        r"Sparse data was passed for X, but dense data is required",
    ),
    row(
        "ranker.transform-drop-strings",
        lambda: fitted_ranker(nullify="drop").transform(_strings(N, 3)),
        ValueError,
        r"X must hold numbers|not compatible with arrays of bytes/strings",
    ),
]

GENERATOR += [
    row(
        "load_mfeat-return_X_y",
        lambda: crossmodal.datasets.load_mfeat(views="mor", return_X_y="no"),
        ValueError,
        r"return_X_y must be True or False; got 'no'",
    ),
    row(
        "load_mfeat-as_frame",
        lambda: crossmodal.datasets.load_mfeat(views="mor", as_frame="no"),
        ValueError,
        r"as_frame must be True or False; got 'no'",
    ),
    row(
        "load_av_digits-random_state",
        lambda: crossmodal.datasets.load_av_digits(random_state=-1),
        ValueError,
        r"random_state must be None, an integer from 0 to 2\*\*32 - 1 or a numpy RandomState; got -1",
    ),
    row(
        "generator.sample-random_state",
        lambda: fitted_generator().sample(3, random_state=-1),
        ValueError,
        r"random_state must be None, an integer from 0 to 2\*\*32 - 1 or a numpy RandomState; got -1",
    ),
]


def _class_labelled_proba(columns):
    import pandas as pd

    return pd.DataFrame(P, columns=columns)


def test_teacher_proba_columns_named_unlike_the_classes_are_read_by_position():
    # Column names whose first letters are the classes in another order are not the classes reordered.
    y = np.array(["a", "b"])[Y]
    kd = fit_kd(y=y, teacher_proba=_class_labelled_proba(["bz", "az"]))
    np.testing.assert_array_equal(kd.teacher_proba_, P)


def _diverged_kd():
    kd = distiller().fit(X, Y, teacher_proba=P)
    with torch.no_grad():
        next(kd.student_.module_.parameters()).fill_(float("nan"))
    return kd


DISTILLER_FIT += [
    row(
        "kd.fit-teacher_proba-frame-classes-reordered",
        lambda: fit_kd(teacher_proba=_class_labelled_proba([1, 0])),
        ValueError,
        r"teacher_proba's columns are labelled \[1, 0\], the classes in another order; its columns are read by "
        r"position as classes_ \[0, 1\]",
    ),
    row(
        "kd.fit-teacher_proba-frame-csv-labels-reordered",
        lambda: fit_kd(teacher_proba=_class_labelled_proba(["1", "0"])),
        ValueError,
        r"columns are labelled \['1', '0'\], the classes in another order; .* pass teacher_proba\[\['0', '1'\]\]",
    ),
    row(
        "kd.fit-teacher_proba-frame-float-classes",
        lambda: fit_kd(y=Y.astype(float), teacher_proba=_class_labelled_proba([1, 0])),
        ValueError,
        r"columns are labelled \[1, 0\], the classes in another order; .*classes_ \[0.0, 1.0\]",
    ),
    row(
        "kd.fit-teacher_proba-frame-bool-classes-text-reordered",
        lambda: fit_kd(y=Y.astype(bool), teacher_proba=_class_labelled_proba(["True", "False"])),
        ValueError,
        r"columns are labelled \['True', 'False'\], the classes in another order; .*classes_ \[False, True\]: pass "
        r"teacher_proba\[\['False', 'True'\]\]",
    ),
    row(
        "kd.fit-teacher_proba-1-D",
        lambda: fit_kd(teacher_proba=P[:, 0]),
        ValueError,
        r"teacher_proba must be a 2-D array of shape \(n_samples, n_classes\) = \(20, 2\); got 1 dimension",
    ),
    row(
        "kd.fit-sparse-X_teacher",
        lambda: fit_kd(X_teacher=sparse.csr_matrix(X_T), params={"teacher": LogisticRegression()}),
        TypeError,
        r"Sparse data was passed for X_teacher, but dense data is required",
    ),
]

DISTILLER_PREDICT += [
    row(
        "kd.predict-diverged-student",
        lambda: _diverged_kd().predict(X),
        ValueError,
        r"The student's outputs hold 40 NaN or infinite values on X: its training diverged",
    )
]

DIAGNOSE += [
    row(
        "diagnose-teacher-returns-nan",
        lambda: _diagnose(teacher=_NanTeacher()),
        ValueError,
        r"diagnose's teacher \(_NanTeacher\) returned predict_proba of shape \(8, 2\) \(none finite, 16 not finite\)",
    ),
    row(
        "diagnose-mimic-flat",
        lambda: _diagnose(mimic=_FlatMimic()),
        ValueError,
        r"diagnose's mimic \(_FlatMimic\) predicted shape \(16,\) with 0 NaN or infinite values; required: finite "
        r"values of shape \(8, 2\)",
    ),
    row(
        "diagnose-beyond-float64-squares",
        lambda: _diagnose(X_a=_with(_diagnose_data()[0], 1e160)),
        ValueError,
        r"X_a holds values up to 1e\+160 in magnitude; diagnose's sums of squares overflow",
    ),
    row("diagnose-n_jobs", lambda: _diagnose(n_jobs=1.5), ValueError, r"n_jobs must be None or an integer .*got 1.5"),
    row(
        "diagnose-X_a-no-columns",
        lambda: _diagnose(X_a=np.zeros((40, 0))),
        ValueError,
        r"^X_a: Found array with 0 feature\(s\)",
    ),
]

BAD_INPUTS = DISTILLER_FIT + DISTILLER_PREDICT + RANKER + SALIENCE + GENERATOR + DIAGNOSE


def _innermost_frame_outside_torch_numba(excinfo):
    path = str(excinfo.traceback[-1].path)
    return not any(part in path for part in _FORBIDDEN_DIRS)


@pytest.mark.parametrize(("call", "exc", "match"), BAD_INPUTS)
def test_bad_input_raises_clear_error(call, exc, match):
    with pytest.raises(exc, match=match) as excinfo:
        call()
    assert _innermost_frame_outside_torch_numba(excinfo), (
        f"raised inside torch/numba at {excinfo.traceback[-1].path}: {excinfo.value!r}"
    )


def test_table_covers_every_public_callable():
    """Each public estimator or function has rows in the table."""
    ids = " ".join(p.id for p in BAD_INPUTS)
    for prefix in (
        "kd.fit",
        "kd.predict",
        "ranker.fit",
        "ranker.transform",
        "salience-",
        "gen.param",
        "gen.sample",
        "venn-",
        "diagnose-",
    ):
        assert prefix in ids
    assert set(crossmodal.__all__) - {"__version__"} == {
        "CrossModalDistiller",
        "MVDGenerator",
        "ModalityGeneralRanker",
        "make_modality_venn",
        "permutation_salience",
        "diagnose",
        "DiagnoseResult",
    }


def test_table_ids_are_unique():
    ids = [p.id for p in BAD_INPUTS]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- #
# Property test: CrossModalDistiller over shapes and dtypes
# --------------------------------------------------------------------------- #

_DOCUMENTED_FIT_ERRORS = re.compile(
    r"y has 1 class|teacher_proba must have shape|Each row of teacher_proba must sum to 1"
)


@st.composite
def distillation_problems(draw):
    n_rows = draw(st.integers(2, 30))
    n_features = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    seed = draw(st.integers(0, 2**16))
    n_classes = draw(st.integers(1, 3))
    rng = np.random.RandomState(seed)
    X_ = (rng.randn(n_rows, n_features) * 3).astype(dtype)
    y = rng.randint(n_classes, size=n_rows) * 10 + 5  # labels 5, 15, 25: not 0..K-1
    k = len(np.unique(y))
    proba = rng.dirichlet(np.ones(k), size=n_rows) if k else np.empty((n_rows, 0))
    return X_, y, proba


@settings(max_examples=25, deadline=None, derandomize=True)
@given(distillation_problems())
def test_distiller_fit_predict_property(problem):
    X_, y, proba = problem
    try:
        kd = distiller().fit(X_, y, teacher_proba=proba)
    except ValueError as error:
        assert _DOCUMENTED_FIT_ERRORS.search(str(error)), repr(error)
        assert len(np.unique(y)) < 2
        return
    pred = kd.predict(X_)
    assert pred.shape == (len(X_),)
    assert set(pred.tolist()) <= set(np.unique(y).tolist())
    out = kd.predict_proba(X_)
    assert out.shape == (len(X_), len(np.unique(y)))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    assert np.isfinite(out).all()
