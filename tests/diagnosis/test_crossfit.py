"""Tests of diagnose's cross-fitting: no model scores a row it was fitted on (crossmodal/diagnosis/_crossfit.py)."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier

from crossmodal import diagnose, make_modality_venn
from crossmodal.diagnosis._crossfit import _N_SUBSAMPLES

_LOG = []


class _Spy(BaseEstimator):
    """Records which rows (identified by their last column) it is fitted on and asked about."""

    def __init__(self, role="clf"):
        self.role = role

    def fit(self, X, y, sample_weight=None):
        self.seen_ = set(np.asarray(X)[:, -1].astype(int).tolist())
        _LOG.append((self.role, "fit", self, self.seen_))  # keeps self alive: ids stay unique
        if self.role == "reg":
            self.model_ = Ridge().fit(X[:, :-1], y)
        else:
            self.model_ = LogisticRegression().fit(X[:, :-1], y, sample_weight=sample_weight)
            self.classes_ = self.model_.classes_
        return self

    def _record(self, X):
        asked = set(np.asarray(X)[:, -1].astype(int).tolist())
        _LOG.append((self.role, "predict", self, asked))
        assert not asked & self.seen_, f"{self.role} scored {len(asked & self.seen_)} rows it was fitted on"

    def predict(self, X):
        self._record(X)
        return self.model_.predict(X[:, :-1])


class _SpyClassifier(ClassifierMixin, _Spy):
    def predict_proba(self, X):
        self._record(X)
        return self.model_.predict_proba(X[:, :-1])


class _SpyRegressor(RegressorMixin, _Spy):
    pass


def test_no_model_scores_a_row_it_was_fitted_on():
    X_a, X_b, y = make_modality_venn(
        300, n_general=6, n_specific_a=2, n_specific_b=2, n_noise_a=5, n_noise_b=5, random_state=0
    )
    ids = np.arange(len(y), dtype=float)[:, None]
    _LOG.clear()
    diagnose(
        np.hstack([X_a, ids]),
        np.hstack([X_b, ids]),
        y,
        teacher=_SpyClassifier("teacher"),
        student=_SpyClassifier("student"),
        mimic=_SpyRegressor("reg"),
        cv=4,
        n_bootstrap=10,
        random_state=0,
    )
    fits = {id(model): rows for role, kind, model, rows in _LOG if kind == "fit"}
    predicted = [(role, id(model), rows) for role, kind, model, rows in _LOG if kind == "predict"]
    # 4 folds x (teacher, label student, teacher-imitating student, mimic regressor on b, regressor from a to the
    # label student's decision), each asked once; per half-data replicate 4 folds x (teacher, mimic regressor)
    # for gamma and 4 folds x (label student, regressor on a) for shared_gamma's other direction.
    n_fits = 4 * 5 + _N_SUBSAMPLES * 4 * 2 * 2
    assert len(fits) == n_fits and len(predicted) == n_fits
    for _role, key, rows in predicted:
        assert not rows & fits[key]
    for role, copies in (
        ("teacher", 1 + _N_SUBSAMPLES),
        ("reg", 2 * (1 + _N_SUBSAMPLES)),
        ("student", 2 + _N_SUBSAMPLES),
    ):
        scored = [rows for r, _, rows in predicted if r == role]
        assert sorted(i for rows in scored for i in rows) == sorted(list(range(len(y))) * copies)
    # The replicates' models see about half of their fold's training rows.
    for role in ("teacher", "student"):
        sizes = sorted(len(rows) for r, kind, _, rows in _LOG if kind == "fit" and r == role)
        assert sizes[: 4 * _N_SUBSAMPLES] == [pytest.approx(len(y) * 3 / 8, abs=2)] * (4 * _N_SUBSAMPLES)


def test_a_memorising_teacher_is_scored_out_of_fold():
    # 1-NN is perfect on the rows it was fitted on; out of fold, on labels unrelated to X_a, it is at chance.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    X_a = rng.normal(size=(400, 5))
    X_b = rng.normal(size=(400, 5)) + y[:, None]
    res = diagnose(X_a, X_b, y, teacher=KNeighborsClassifier(n_neighbors=1), n_bootstrap=50, random_state=0)
    assert res.teacher_score < 0.6
    assert res.student_score > 0.8
