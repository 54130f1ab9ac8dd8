"""Tests of crossmodal.diagnose (crossmodal/_diagnose.py)."""

import json

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, ShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from crossmodal import DiagnoseResult, MVDGenerator, diagnose, make_modality_venn
from crossmodal.diagnosis._diagnose import (
    _N_SUBSAMPLES,
    VERDICT_THRESHOLDS,
    _corrected_gamma,
    _extrapolated,
    _shared_gamma,
    _ShrunkLDA,
    _union_share,
    _verdict,
)
from crossmodal.experiments.synthetic import table2_params


@pytest.fixture(scope="module")
def data():
    return make_modality_venn(
        300, n_general=6, n_specific_a=2, n_specific_b=2, n_noise_a=5, n_noise_b=5, random_state=0
    )


# ------------------------------------------------------------------ bad input
def _bad_inputs():
    X_a, X_b, y = make_modality_venn(
        60, n_general=2, n_specific_a=1, n_specific_b=1, n_noise_a=2, n_noise_b=2, random_state=0
    )
    nan_a = X_a.copy()
    nan_a[3, 1] = np.nan
    y_nan = y.astype(float)
    y_nan[5] = np.nan
    return [
        (dict(X_b=X_b[:50]), ValueError, "X_a and X_b have different numbers of samples: 60 and 50"),
        (dict(y=y[:59]), ValueError, "X_a and y have different numbers of samples: 60 and 59"),
        (dict(X_a=nan_a), ValueError, "X_a"),
        (dict(X_a=X_a[:, 0]), ValueError, "X_a must be a 2-D array"),
        (dict(X_b=None), ValueError, "X_b is required; got None"),
        (dict(y=y_nan), ValueError, "y must hold class labels; got 1 NaN"),
        (dict(y=np.zeros(60)), ValueError, r"y has 1 class \(\[np.float64\(0.0\)\]|y has 1 class"),
        (dict(cv=1), ValueError, "cv must be an integer >= 2 or a cross-validation splitter; got 1"),
        (dict(cv="five"), ValueError, "cv must be an integer >= 2 or a cross-validation splitter; got 'five'"),
        (dict(cv=40), ValueError, "cv=40 needs at least 40 samples of every class; the smallest class has"),
        (dict(cv=ShuffleSplit(3, random_state=0)), ValueError, "cv must put every row in exactly one test fold"),
        (dict(n_bootstrap=0), ValueError, "n_bootstrap must be an integer >= 1; got 0"),
        (dict(n_bootstrap=2.5), ValueError, "n_bootstrap must be an integer >= 1; got 2.5"),
        (
            dict(teacher=LinearSVC()),
            TypeError,
            "teacher must be a scikit-learn classifier with fit and predict_proba; got LinearSVC",
        ),
        (
            dict(student=Ridge()),
            TypeError,
            "student must be a scikit-learn classifier with fit and predict_proba; got Ridge",
        ),
        (dict(mimic="ridge"), TypeError, "mimic must be a scikit-learn regressor with fit and predict"),
    ], (X_a, X_b, y)


BAD, BASE = _bad_inputs()


@pytest.mark.parametrize("override, error, message", BAD, ids=[m[:30] for _, _, m in BAD])
def test_bad_input_names_the_argument(override, error, message):
    X_a, X_b, y = BASE
    kwargs = dict(X_a=X_a, X_b=X_b, y=y)
    kwargs.update(override)
    args = (kwargs.pop("X_a"), kwargs.pop("X_b"), kwargs.pop("y"))
    with pytest.raises(error, match=message):
        diagnose(*args, n_bootstrap=kwargs.pop("n_bootstrap", 10), **kwargs)


def test_y_none_is_rejected():
    X_a, X_b, _ = BASE
    with pytest.raises(ValueError, match="y is required; got None"):
        diagnose(X_a, X_b, None)


# ------------------------------------------------------------------ cross-fitting
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


def test_no_model_scores_a_row_it_was_fitted_on(data):
    X_a, X_b, y = data
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


# ------------------------------------------------------------------ determinism
def test_same_seed_same_result_and_jobs_do_not_matter(data):
    X_a, X_b, y = data
    first = diagnose(X_a, X_b, y, n_bootstrap=50, random_state=3).to_dict()
    again = diagnose(X_a, X_b, y, n_bootstrap=50, random_state=3).to_dict()
    with parallel_config(backend="threading"):
        threads = diagnose(X_a, X_b, y, n_bootstrap=50, random_state=3, n_jobs=2).to_dict()
    assert first == again == threads
    other = diagnose(X_a, X_b, y, n_bootstrap=50, random_state=4).to_dict()
    assert other != first


def test_custom_estimators_and_splitter_are_used(data):
    X_a, X_b, y = data
    default = diagnose(X_a, X_b, y, n_bootstrap=20, random_state=0)
    custom = diagnose(
        X_a,
        X_b,
        y,
        teacher=LogisticRegression(C=1e-3),
        student=KNeighborsClassifier(5),
        mimic=Ridge(alpha=10.0),
        cv=KFold(3, shuffle=True, random_state=0),
        n_bootstrap=20,
        random_state=0,
    )
    assert custom.n_splits == 3
    assert custom.teacher_score != default.teacher_score
    assert custom.student_score != default.student_score
    assert custom.gamma != default.gamma


# ------------------------------------------------------------------ the oracle: MVD's true gamma
def test_gamma_tracks_the_true_gamma_on_mvd():
    results = {}
    for true_gamma, (general, specific) in ((0.8, (8, 1)), (0.2, (2, 4))):
        gen = dict(n_general=general, n_specific_a=specific, n_specific_b=specific, hyperplane="ones")
        X_a, X_b, y = make_modality_venn(2000, **gen, random_state=1)
        results[true_gamma] = diagnose(X_a, X_b, y, random_state=0)
    high, low = results[0.8], results[0.2]
    # The intervals are disjoint, in the right order, and each estimate lies within 0.2 of the truth.
    assert high.gamma_ci[0] > low.gamma_ci[1]
    assert abs(high.gamma - 0.8) < 0.2 and abs(low.gamma - 0.2) < 0.2


@pytest.mark.parametrize(
    "name, gen_params, tolerance",
    [
        # Table 2's (xs1, xs2) = (10, 15): true gamma 0.6. At 200 rows the uncorrected R^2 averages about 0.38 and
        # its row-bootstrap interval covered the truth in 13% of draws; the extrapolated one must cover it in most.
        ("gamma", table2_params(10, 15), 0.1),
        # Fig. 2's overlap 6 with equal weights: the diagram's gamma is 6 / 14 = 0.43, the teacher's decision share
        # (what gamma estimates) 6 / 10 = 0.6. At 200 rows shared_gamma is biased low (the b-model, 6 + 4 decisive
        # of 50 columns, is noisy: about 0.29 here) but its interval must still cover the truth in most draws.
        ("shared_gamma", dict(n_general=6, n_specific_a=4, n_specific_b=4, n_hidden=6, hyperplane="ones"), 0.2),
    ],
)
def test_intervals_cover_the_diagram_gamma_at_200_rows(name, gen_params, tolerance):
    gen = MVDGenerator(**gen_params, random_state=0).fit()
    estimates, covered = [], 0
    for seed in range(20):
        X_a, X_b, y = gen.sample(200, random_state=seed)
        res = diagnose(X_a, X_b, y, n_bootstrap=100, random_state=seed)
        estimate, (low, high) = getattr(res, name), getattr(res, f"{name}_ci")
        assert low <= estimate <= high
        estimates.append(estimate)
        covered += low <= gen.gamma_ <= high
    assert covered >= 14
    assert abs(np.mean(estimates) - gen.gamma_) < tolerance


def test_shared_gamma_separates_the_diagram_gamma_from_the_teacher_share_at_2000_rows():
    gen = MVDGenerator(n_general=6, n_specific_a=4, n_specific_b=4, n_hidden=6, hyperplane="ones", random_state=0).fit()
    X_a, X_b, y = gen.sample(2000, random_state=99)
    res = diagnose(X_a, X_b, y, random_state=0)
    share = 6 / 10
    assert res.gamma_ci[0] <= share <= res.gamma_ci[1]
    assert res.shared_gamma_ci[0] <= gen.gamma_ <= res.shared_gamma_ci[1] < share
    assert abs(res.shared_gamma - gen.gamma_) < 0.05


def test_union_share_is_the_diagram_gamma_and_bounds_the_interval():
    d0, d_sa, d_sb = 4.0, 6.0, 2.0
    assert _union_share(d0 / (d0 + d_sa), d0 / (d0 + d_sb)) == pytest.approx(d0 / (d0 + d_sa + d_sb), rel=1e-12)
    # Shares are clipped to [0, 1]; nothing shared in either direction gives 0, not NaN.
    np.testing.assert_allclose(
        _union_share(np.array([0.0, -0.2, 1.3]), np.array([0.0, 0.5, 0.5])), [0.0, 0.0, 0.5], atol=1e-15
    )
    rng = np.random.default_rng(0)
    L = rng.normal(size=(400, 3))
    L -= L.mean(axis=1, keepdims=True)
    W = rng.multinomial(400, np.full(400, 1 / 400), size=100).astype(float)
    ab = _extrapolated(L, 0.5 * L, [(L, (0.3 + 0.02 * r) * L) for r in range(_N_SUBSAMPLES)], W)
    ba = _extrapolated(L, 0.4 * L, [(L, (0.2 + 0.03 * r) * L) for r in range(_N_SUBSAMPLES)], W)
    point, (low, high) = _shared_gamma(ab, ba)
    assert point == pytest.approx(float(_union_share(ab[0], ba[0])), rel=1e-12)
    assert low < point < high
    # The interval is the combination of the two directions' own (gamma-style) interval ends.
    a_ci, b_ci = (
        _corrected_gamma(L, 0.5 * L, [(L, (0.3 + 0.02 * r) * L) for r in range(_N_SUBSAMPLES)], W)[1],
        _corrected_gamma(L, 0.4 * L, [(L, (0.2 + 0.03 * r) * L) for r in range(_N_SUBSAMPLES)], W)[1],
    )
    assert low == pytest.approx(float(_union_share(a_ci[0], b_ci[0])), rel=1e-9)
    assert high == pytest.approx(float(_union_share(a_ci[1], b_ci[1])), rel=1e-9)


def test_corrected_gamma_extrapolates_from_half_data_replicates():
    rng = np.random.default_rng(0)
    L = rng.normal(size=(500, 3))
    L -= L.mean(axis=1, keepdims=True)
    M = 0.3 * L  # R^2 = 1 - 0.7^2 = 0.51
    worse = [(L, 0.2 * L)] * _N_SUBSAMPLES  # identical replicates (R^2 0.36): no fit noise
    W = rng.multinomial(500, np.full(500, 1 / 500), size=200).astype(float)
    full = 1 - np.sum((L - M) ** 2) / np.sum((L - L.mean(axis=0)) ** 2)
    half = 1 - np.sum((L - 0.2 * L) ** 2) / np.sum((L - L.mean(axis=0)) ** 2)
    gamma, ci, uncorrected = _corrected_gamma(L, M, worse, W)
    assert uncorrected == pytest.approx(full, rel=1e-12)
    assert gamma == pytest.approx(2 * full - half, rel=1e-12)
    # Here the bootstrap replicates move together, so the interval is narrow but not empty.
    assert ci[0] < gamma < ci[1] and ci[1] - ci[0] < 0.05
    noisy = [(L, (0.2 + 0.05 * r) * L) for r in range(_N_SUBSAMPLES)]
    _, wide, _ = _corrected_gamma(L, M, noisy, W)
    assert wide[1] - wide[0] > ci[1] - ci[0] + 0.1


def test_gamma_is_zero_without_shared_information():
    X_a, X_b, y = make_modality_venn(400, n_general=0, n_specific_a=4, n_specific_b=4, random_state=0)
    res = diagnose(X_a, X_b, y, n_bootstrap=50, random_state=0)
    assert res.gamma < 0.05 and res.gamma_ci[0] == 0.0
    # The interval also carries the spread of refitted half-data models, so it is wider than 0.05.
    assert res.gamma_ci[1] < 0.15
    assert res.verdict == "likely to hurt"


# ------------------------------------------------------------------ verdict
@pytest.mark.parametrize(
    "gain, ci, verdict",
    [
        (VERDICT_THRESHOLDS["helps"], (1e-9, 0.05), "helps"),
        (VERDICT_THRESHOLDS["helps"], (0.0, 0.05), "unlikely to help"),
        (VERDICT_THRESHOLDS["helps"] - 1e-9, (0.001, 0.05), "unlikely to help"),
        (0.0, (-0.01, 0.01), "unlikely to help"),
        (VERDICT_THRESHOLDS["hurts"], (-0.05, -1e-9), "likely to hurt"),
        (VERDICT_THRESHOLDS["hurts"] + 1e-9, (-0.05, -0.001), "unlikely to help"),
        (-0.2, (-0.3, 0.0), "unlikely to help"),
    ],
)
def test_verdict_thresholds(gain, ci, verdict):
    assert _verdict(gain, ci) == verdict


def test_a_teacher_on_noise_is_likely_to_hurt_and_a_denoising_teacher_helps():
    rng = np.random.default_rng(0)
    X_a, X_b, y = make_modality_venn(
        600, n_general=8, n_specific_a=0, n_specific_b=0, n_noise_a=2, n_noise_b=30, random_state=0
    )
    hurt = diagnose(rng.normal(size=X_a.shape), X_b, y, n_bootstrap=100, random_state=0)
    assert hurt.verdict == "likely to hurt" and hurt.predicted_gain_ci[1] < 0
    # Labels flipped at random: the teacher's probabilities are cleaner targets than the labels.
    noisy = y.copy()
    flip = rng.random(len(y)) < 0.35
    noisy[flip] = 1 - noisy[flip]
    helped = diagnose(X_a, X_b, noisy, n_bootstrap=100, random_state=0)
    assert helped.predicted_gain > hurt.predicted_gain


# ------------------------------------------------------------------ result object
def test_result_frame_dict_and_repr(data):
    X_a, X_b, y = data
    res = diagnose(X_a, X_b, y, n_bootstrap=30, random_state=0)
    assert isinstance(res, DiagnoseResult)
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [
        "gamma",
        "shared_gamma",
        "predicted_gain",
        "teacher_score",
        "student_score",
        "mimic_score",
    ]
    for name in ("gamma", "shared_gamma"):
        assert frame.loc[name, "estimate"] == getattr(res, name)
        assert frame.loc[name, "ci_low"] <= getattr(res, name) <= frame.loc[name, "ci_high"]
    assert np.isnan(frame.loc["teacher_score", "ci_low"])
    assert res.predicted_gain == pytest.approx(res.mimic_score - res.student_score, abs=1e-12)
    loaded = json.loads(json.dumps(res.to_dict()))
    assert loaded["verdict"] == res.verdict and loaded["gamma_ci"] == list(res.gamma_ci)
    assert loaded["shared_gamma"] == res.shared_gamma and loaded["shared_gamma_ci"] == list(res.shared_gamma_ci)
    text = repr(res)
    assert text.startswith("DiagnoseResult(verdict=") and f"gamma={res.gamma:.3f}" in text
    assert f"shared_gamma={res.shared_gamma:.3f}" in text
    assert "verdict:" in str(res) and "predicted gain of KD" in str(res) and "shared gamma" in str(res)
    with pytest.raises(TypeError, match="DiagnoseResult needs"):
        DiagnoseResult(gamma=0.5)


def test_shrunk_lda_soft_labels_match_hard_labels_for_one_hot(data):
    X_a, _, y = data
    hard = _ShrunkLDA().fit(X_a, y)
    soft = _ShrunkLDA().fit_soft(X_a, np.eye(2)[y], np.array([0, 1]))
    np.testing.assert_allclose(hard.coef_, soft.coef_, rtol=1e-7, atol=1e-10)
    assert hard.score(X_a, y) > 0.7


@pytest.mark.parametrize("shape", [(50, 80), (300, 20), (2, 3)])
def test_ledoit_wolf_shrinkage_matches_scikit_learn(shape):
    from sklearn.covariance import ledoit_wolf_shrinkage

    from crossmodal.diagnosis._diagnose import _ledoit_wolf_shrinkage

    R = np.random.default_rng(0).normal(size=shape) * np.linspace(0.1, 3.0, shape[1])
    expected = ledoit_wolf_shrinkage(R, assume_centered=True)
    got = _ledoit_wolf_shrinkage(R.T @ R / len(R), np.einsum("ij,ij->i", R, R))
    assert got == pytest.approx(expected, rel=1e3 * np.finfo(np.float64).eps, abs=0.0)


@pytest.mark.parametrize("soft", [False, True])
def test_shrunk_lda_matches_the_textbook_computation(soft):
    # Reference: explicit residuals R = Z - Q M and scikit-learn's shrinkage, against fit_soft's Gram-matrix route.
    from sklearn.covariance import ledoit_wolf_shrinkage

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 12)) * np.linspace(0.5, 4.0, 12) + 3.0
    y = rng.integers(0, 3, 300)
    X[y == 1, :4] += 1.5
    Q = rng.dirichlet(np.ones(3), size=300) if soft else np.eye(3)[y]
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    weight = Q.sum(axis=0)
    M = (Q.T @ Z) / weight[:, None]
    R = Z - Q @ M
    shrink = ledoit_wolf_shrinkage(R, assume_centered=True)
    cov = (Z.T @ Z - (M.T * weight) @ M) / len(Z)
    mu = np.trace(cov) / 12
    cov = (1.0 - shrink) * cov + shrink * mu * np.eye(12)
    expected = np.linalg.solve(cov, M.T).T
    model = _ShrunkLDA().fit_soft(X, Q, np.arange(3))
    # 300-term sums and a 12x12 solve of a well-conditioned matrix: far inside 1e-10 relative.
    np.testing.assert_allclose(model.coef_, expected, rtol=1e-10, atol=1e-12)


def test_a_single_bootstrap_resample_still_gives_an_interval(data):
    X_a, X_b, y = data
    res = diagnose(X_a, X_b, y, n_bootstrap=1, random_state=0)
    assert res.gamma_ci[0] <= res.gamma <= res.gamma_ci[1] and res.gamma_ci[1] > res.gamma_ci[0]


def test_missing_labels_in_an_object_target_are_rejected():
    X_a, X_b, y = BASE
    labels = np.array(["no", "yes"], dtype=object)[y]
    labels[7] = None
    with pytest.raises(ValueError, match="y must hold class labels; got None or NaN values"):
        diagnose(X_a, X_b, labels)
    result = diagnose(X_a, X_b, np.array(["no", "yes"])[y], n_bootstrap=10, random_state=0)
    assert 0.0 <= result.gamma <= 1.0


@pytest.mark.parametrize("signal, n_features", [(0.1, 20), (3.0, 20), (1.0, 200)])
def test_default_mimic_with_few_rows_per_column_equals_ridgecv_with_leave_one_out(signal, n_features):
    from sklearn.linear_model import RidgeCV

    from crossmodal.diagnosis._diagnose import _GCV_ROWS_PER_COLUMN, _RIDGE_ALPHAS, _ridge_fit_predict

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, n_features)) * 3 + 1
    assert len(X) < _GCV_ROWS_PER_COLUMN * n_features
    T = signal * X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(150, 4))
    X_test = rng.normal(size=(30, n_features))
    mean, sd = X.mean(axis=0), X.std(axis=0)
    reference = RidgeCV(alphas=_RIDGE_ALPHAS).fit((X - mean) / sd, T)
    np.testing.assert_allclose(
        _ridge_fit_predict(X, T, X_test), reference.predict((X_test - mean) / sd), rtol=1e-7, atol=1e-9
    )


@pytest.mark.parametrize("signal", [0.05, 0.3])
def test_default_mimic_with_many_rows_per_column_uses_generalised_cross_validation(signal):
    # Reference: one scikit-learn Ridge per penalty, GCV from its training residuals and the explicit hat matrix.
    from sklearn.linear_model import Ridge

    from crossmodal.diagnosis._diagnose import _GCV_ROWS_PER_COLUMN, _RIDGE_ALPHAS, _ridge_fit_predict

    n, p = 400, 30
    assert n >= _GCV_ROWS_PER_COLUMN * p
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, p)) * 3 + 1
    T = signal * X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(n, 4))
    X_test = rng.normal(size=(30, p))
    Z, Z_test = (X - X.mean(axis=0)) / X.std(axis=0), (X_test - X.mean(axis=0)) / X.std(axis=0)
    gcv = []
    for alpha in _RIDGE_ALPHAS:
        rss = np.sum((T - Ridge(alpha=alpha).fit(Z, T).predict(Z)) ** 2)
        dof = np.trace(Z @ np.linalg.solve(Z.T @ Z + alpha * np.eye(p), Z.T))
        gcv.append(rss / (n * (1 - dof / n) ** 2))
    best = int(np.argmin(gcv))
    assert 0 < best < len(_RIDGE_ALPHAS) - 1  # an interior choice: the criterion, not the grid's end, decides
    expected = Ridge(alpha=_RIDGE_ALPHAS[best]).fit(Z, T).predict(Z_test)
    np.testing.assert_allclose(_ridge_fit_predict(X, T, X_test), expected, rtol=1e-7, atol=1e-9)
