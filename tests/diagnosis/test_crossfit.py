"""Tests of diagnose's cross-fitting: no model scores a row it was fitted on (crossmodal/diagnosis/_crossfit.py)."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier

from crossmodal import diagnose, make_modality_venn
from crossmodal.diagnosis._replicates import _N_SUBSAMPLES

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
    # 4 folds x (teacher, label student, teacher-imitating student, distilled student, mimic regressor on b,
    # regressor from a to the label student's decision); per half-data replicate 4 folds x (teacher, mimic
    # regressor) for gamma and 4 folds x (label student, regressor on a) for shared_gamma's other direction.
    n_fits = 4 * 6 + _N_SUBSAMPLES * 4 * 2 * 2
    assert len(fits) == n_fits
    # Each fold's teacher is asked twice: on its held-out fold, and on its own training rows (the targets a
    # distiller's teacher gives its student, in-sample on purpose); every other model only on held-out rows.
    in_sample = [(role, rows) for role, key, rows in predicted if rows & fits[key]]
    assert len(in_sample) == 4 and all(role == "teacher" for role, _ in in_sample)
    assert all(rows == fits[key] for role, key, rows in predicted if rows & fits[key])
    held_out = [(role, key, rows) for role, key, rows in predicted if not rows & fits[key]]
    assert len(held_out) == n_fits
    for role, copies in (
        ("teacher", 1 + _N_SUBSAMPLES),
        ("reg", 2 * (1 + _N_SUBSAMPLES)),
        ("student", 3 + _N_SUBSAMPLES),
    ):
        scored = [rows for r, _, rows in held_out if r == role]
        assert sorted(i for rows in scored for i in rows) == sorted(list(range(len(y))) * copies)
    # The replicates' models see about half of their fold's training rows.
    for role in ("teacher", "student"):
        sizes = sorted(len(rows) for r, kind, _, rows in _LOG if kind == "fit" and r == role)
        assert sizes[: 4 * _N_SUBSAMPLES] == [pytest.approx(len(y) * 3 / 8, abs=2)] * (4 * _N_SUBSAMPLES)


def test_with_few_labels_classifiers_fit_labelled_rows_and_the_rest_sees_every_pair():
    X_a, X_b, y = make_modality_venn(
        300, n_general=6, n_specific_a=2, n_specific_b=2, n_noise_a=5, n_noise_b=5, random_state=0
    )
    few = np.where(np.arange(300) % 5 == 0, y, -1)  # 60 labelled pairs
    ids = np.arange(len(y), dtype=float)[:, None]
    _LOG.clear()
    diagnose(
        np.hstack([X_a, ids]),
        np.hstack([X_b, ids]),
        few,
        teacher=_SpyClassifier("teacher"),
        student=_SpyClassifier("student"),
        mimic=_SpyRegressor("reg"),
        cv=4,
        n_bootstrap=10,
        random_state=0,
    )
    labelled = set(np.flatnonzero(few >= 0).tolist())
    fitted = [(role, model, rows) for role, kind, model, rows in _LOG if kind == "fit"]
    # The teacher and the label-trained student fit labelled rows only; the imitating and distilled students
    # (also "student" spies) and the mimics fit unlabelled pairs too.
    assert all(rows <= labelled for role, _, rows in fitted if role == "teacher")
    on_labels = [rows for role, _, rows in fitted if role == "student" and rows <= labelled]
    on_pairs = [rows for role, _, rows in fitted if role == "student" and not rows <= labelled]
    assert len(on_labels) == 4 * (1 + _N_SUBSAMPLES) and len(on_pairs) == 4 * 2
    assert all(len(rows) == 225 for rows in on_pairs)  # every training pair of the fold
    assert all(len(rows - labelled) > 0 for role, _, rows in fitted if role == "reg")


def test_a_memorising_teacher_is_scored_out_of_fold():
    # 1-NN is perfect on the rows it was fitted on; out of fold, on labels unrelated to X_a, it is at chance.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    X_a = rng.normal(size=(400, 5))
    X_b = rng.normal(size=(400, 5)) + y[:, None]
    res = diagnose(X_a, X_b, y, teacher=KNeighborsClassifier(n_neighbors=1), n_bootstrap=50, random_state=0)
    assert res.teacher_score < 0.6
    assert res.student_score > 0.8


def test_half_plan_halves_each_fold_stratified_and_shares_one_half_per_replicate():
    from crossmodal.diagnosis._crossfit import _folds
    from crossmodal.diagnosis._replicates import half_plan

    rng = np.random.default_rng(0)
    codes = np.where(rng.random(503) < 0.3, rng.integers(0, 4, 503), -1)
    codes[:8] = [0, 0, 1, 1, 2, 2, 3, 3]  # every class has labelled rows
    folds = _folds(5, codes, 0)
    plan = half_plan(folds, codes, np.random.default_rng(1))
    assert len(plan) == _N_SUBSAMPLES * len(folds)
    for r in range(_N_SUBSAMPLES):
        entries = [(te, half) for i, te, half in plan if i == r]
        union = np.unique(np.concatenate([half for _, half in entries]))
        for (tr, te), (te_plan, half) in zip(folds, entries):
            assert np.array_equal(te, te_plan)
            assert np.all(np.isin(half, tr)) and len(np.unique(half)) == len(half)
            # The replicate's half without this fold's test rows: one half of every row, shared by the folds.
            assert np.array_equal(half, np.setdiff1d(union, te))
            for c in np.unique(codes[tr]):
                n_train, n_half = np.sum(codes[tr] == c), np.sum(codes[half] == c)
                # Each test fold's cell is halved, rounded up or down: at most one row per fold from exactly half.
                assert abs(n_half - n_train / 2) <= len(folds) / 2 + 0.5 and n_half >= 1


def test_half_plan_keeps_every_class_of_a_fold_even_with_one_labelled_row_per_fold():
    from crossmodal.diagnosis._crossfit import _folds
    from crossmodal.diagnosis._replicates import half_plan

    codes = np.full(60, -1)
    codes[[0, 1, 2, 3, 4, 5]] = [0, 0, 0, 1, 1, 1]  # 3 labelled rows per class, 3 folds: one per fold
    folds = _folds(3, codes, 0)
    for seed in range(20):
        for _, te, half in half_plan(folds, codes, np.random.default_rng(seed)):
            train_classes = np.unique(codes[np.setdiff1d(np.arange(60), te)])
            assert np.array_equal(np.unique(codes[half]), train_classes)


def test_gram_statistics_shared_across_folds_equal_each_fold_alone():
    from crossmodal.diagnosis._crossfit import _gram_stats_of
    from crossmodal.diagnosis._ridge import _gram_stats

    rng = np.random.default_rng(0)
    # Offsets far from 0 and a constant column: the one pass shifts the rows first, and gives the constant scale 1.
    X = (rng.normal(size=(400, 6)) * [1.0, 2.0, 1e-3, 5.0, 1.0, 1.0] + [0.0, 1e4, -5.0, 7.0, 3.3, 0.0]).astype(
        np.float32
    )
    X[:, 5] = 0.1
    blocks = np.array_split(rng.permutation(400), 4)
    sets = [np.setdiff1d(np.arange(400), b) for b in blocks]
    sets[2] = sets[2][1:]  # not the union without its block: computed on its own
    for rows, (mean, scale, gram) in zip(sets, _gram_stats_of(X, sets, blocks)):
        ref_mean, ref_scale, ref_gram = _gram_stats(X[rows])
        eps = np.finfo(np.float64).eps
        np.testing.assert_allclose(mean, ref_mean, rtol=1e3 * eps)
        np.testing.assert_allclose(scale, ref_scale, rtol=1e3 * eps)
        assert scale[5] == 1.0
        np.testing.assert_allclose(gram, ref_gram, rtol=0, atol=1e3 * eps * np.abs(ref_gram).max())


def test_shared_gram_statistics_match_each_fold_alone_where_a_column_lives_in_one_block():
    from crossmodal.diagnosis._crossfit import _gram_stats_of
    from crossmodal.diagnosis._ridge import _gram_stats, _ridge_fit_predict

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    X[:, 2] = 0.0
    X[:7, 2] = rng.uniform(1, 17, 7)  # constant on every fold's training rows but the first fold's
    X[:, 3] = 0.1  # constant everywhere, a value whose mean rounding does not return exactly
    X[:, 4] = 1e-3 * X[:, 4]
    X[100:103, 4] = 1e5  # the second block's rows dwarf the others' spread: shared sums would lose its digits
    blocks = np.array_split(np.arange(500), 5)
    sets = [np.setdiff1d(np.arange(500), b) for b in blocks]
    T = rng.normal(size=(400, 3))
    eps = np.finfo(np.float64).eps
    for rows, block, stats in zip(sets, blocks, _gram_stats_of(X, sets, blocks)):
        alone = _gram_stats(X[rows])
        if block[0] == 0:  # the first block left out: the column is 0 on every kept row
            assert stats[1][2] == 1.0 and np.all(stats[2][2] == 0.0)
        assert stats[1][3] == 1.0 and stats[0][3] == 0.1 and np.all(stats[2][3] == 0.0)
        for shared, own in zip(stats, alone):
            np.testing.assert_allclose(shared, own, rtol=1e4 * eps, atol=1e4 * eps * np.abs(own).max())
        np.testing.assert_allclose(
            _ridge_fit_predict(X[rows], T, X[block], stats=stats), _ridge_fit_predict(X[rows], T, X[block]), atol=1e-9
        )


def test_sets_that_repeat_a_row_get_their_own_gram_statistics_and_repeated_test_rows_are_rejected():
    from crossmodal.diagnosis._crossfit import _folds, _gram_stats_of
    from crossmodal.diagnosis._ridge import _gram_stats

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    blocks = np.array_split(np.arange(100), 4)
    sets = [np.setdiff1d(np.arange(100), b) for b in blocks]
    sets[1] = np.concatenate([sets[1][1:], sets[1][1:2]])  # one row twice, another missing: as long as the rest
    for rows, stats in zip(sets, _gram_stats_of(X, sets, blocks)):
        for shared, own in zip(stats, _gram_stats(X[rows])):
            np.testing.assert_allclose(shared, own, rtol=1e-12, atol=1e-12)

    class Repeating:
        def split(self, X, y):
            for b in blocks:
                test = np.concatenate([b, b[:1]]) if b[0] == 0 else b
                yield np.setdiff1d(np.arange(100), b), test

        def get_n_splits(self, *args):
            return 4

    with pytest.raises(ValueError, match="exactly one test fold"):
        _folds(Repeating(), np.zeros(100, dtype=int), 0)
