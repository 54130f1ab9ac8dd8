"""Tests of crossmodal.diagnose (crossmodal/diagnosis/_diagnose.py): input, determinism, accuracy, result."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, ShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVR, LinearSVC

from crossmodal import DiagnoseResult, MVDGenerator, diagnose, make_modality_venn
from crossmodal.diagnosis import TeacherRanking
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
        (dict(y=np.zeros(60)), ValueError, r"y has 1 class \(\[0.0\]\)"),
        (dict(cv=1), ValueError, "cv must be an integer >= 2 or a cross-validation splitter; got 1"),
        (dict(cv="five"), ValueError, "cv must be an integer >= 2 or a cross-validation splitter; got 'five'"),
        (dict(cv=40), ValueError, "cv=40 needs at least 40 labelled samples of every class; the smallest class has"),
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
        (
            dict(mimic=SVR()),
            ValueError,
            r"diagnose's mimic \(SVR\) could not fit its targets, one column per class \(2\): it must be a "
            "multi-output regressor",
        ),
        (dict(y=y_nan, X_a=X_a), ValueError, "a row without a label is -1 among numeric labels"),
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


def test_values_beyond_float32_are_rejected_up_front_when_the_default_teacher_fits():
    """Every row labelled, the default MLP teacher (float32) fits a subsample: all of X_a must fit, any seed."""
    X_a, X_b, y = make_modality_venn(400, n_general=2, n_specific_a=1, n_specific_b=1, random_state=0)
    big = X_a.copy()
    big[17, 0] = 1e39  # one row: a 256-row subsample leaves it out for some seeds
    for seed in range(4):
        with pytest.raises(ValueError, match="X_a.*beyond float32's range"):
            diagnose(big, X_b, y, n_bootstrap=10, random_state=seed)
    few = np.where(np.arange(400) % 2 == 0, y, -1)  # no MLP fit with few labels: accepted, as before
    assert diagnose(big, X_b, few, cv=2, n_bootstrap=10, random_state=0).regime == "few labels"


def test_y_none_is_rejected():
    X_a, X_b, _ = BASE
    with pytest.raises(ValueError, match="y is required; got None"):
        diagnose(X_a, X_b, None)


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


def test_blas_runs_one_thread_through_the_whole_call_and_the_callers_setting_is_restored(data, monkeypatch):
    # The bootstrap statistics after the cross-fit, too: a second thread costs CPU time there, not wall time.
    from threadpoolctl import threadpool_info, threadpool_limits

    import crossmodal.diagnosis._diagnose as module

    seen = []

    def recording(*args, **kwargs):
        seen.append({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
        return original(*args, **kwargs)

    original = module.predicted_gain
    monkeypatch.setattr(module, "predicted_gain", recording)
    X_a, X_b, y = data
    with threadpool_limits(limits=2, user_api="blas"):
        outside = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
        diagnose(X_a, X_b, y, n_bootstrap=20, random_state=0)
        assert {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"} == outside
    assert seen == [{1}]


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


def test_gamma_is_zero_without_shared_information():
    X_a, X_b, y = make_modality_venn(400, n_general=0, n_specific_a=4, n_specific_b=4, random_state=0)
    res = diagnose(X_a, X_b, y, n_bootstrap=50, random_state=0)
    assert res.gamma < 0.05 and res.gamma_ci[0] == 0.0
    # The interval also carries the spread of refitted half-data models, so it is wider than 0.05.
    assert res.gamma_ci[1] < 0.15
    # Every row labelled, a distiller's teacher mostly repeats the labels: no gain predicted. With 60 labels among
    # 400 pairs the student would learn the teacher's decision on the other 340, none of which b can follow.
    assert res.predicted_gain <= 0.0
    few = diagnose(X_a, X_b, np.where(np.arange(400) < 60, y, -1), n_bootstrap=50, random_state=0)
    assert few.verdict == "likely to hurt" and few.predicted_gain < res.predicted_gain


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
    assert isinstance(res, DiagnoseResult) and res.regime == "labelled" and res.n_labelled == res.n_samples == 300
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == ["predicted_gain", "gamma", "shared_gamma", *DiagnoseResult._SCALARS]
    assert frame.attrs == {"regime": "labelled", "verdict": res.verdict}
    for name in ("predicted_gain", "gamma", "shared_gamma"):
        assert frame.loc[name, "estimate"] == getattr(res, name)
        assert frame.loc[name, "ci_low"] <= getattr(res, name) <= frame.loc[name, "ci_high"]
    assert np.isnan(frame.loc["teacher_score", "ci_low"])
    assert res.complementarity == res.teacher_student_information - res.student_label_information
    loaded = json.loads(json.dumps(res.to_dict()))
    assert loaded["verdict"] == res.verdict and loaded["gamma_ci"] == list(res.gamma_ci)
    assert loaded["regime"] == "labelled" and loaded["n_labelled"] == 300
    assert loaded["shared_gamma"] == res.shared_gamma and loaded["shared_gamma_ci"] == list(res.shared_gamma_ci)
    text = repr(res)
    assert text.startswith("DiagnoseResult(regime='labelled', verdict=") and f"gamma={res.gamma:.3f}" in text
    assert f"shared_gamma={res.shared_gamma:.3f}" in text
    summary = str(res)
    assert "verdict:" in summary and "labelled regime: 300 pairs, all labelled" in summary
    assert f"{res.predicted_gain:+.1f} points" in summary and "complementarity" in summary
    with pytest.raises(TypeError, match="DiagnoseResult needs"):
        DiagnoseResult(gamma=0.5)


def test_a_single_bootstrap_resample_still_gives_an_interval(data):
    X_a, X_b, y = data
    res = diagnose(X_a, X_b, y, n_bootstrap=1, random_state=0)
    assert res.gamma_ci[0] <= res.gamma <= res.gamma_ci[1] and res.gamma_ci[1] > res.gamma_ci[0]


def test_nan_in_an_object_target_is_rejected_and_none_marks_a_row_without_a_label():
    X_a, X_b, y = BASE
    labels = np.array(["no", "yes"], dtype=object)[y]
    labels[7] = float("nan")
    with pytest.raises(ValueError, match=r"y holds NaN or NA in 1 row\(s\) among string labels"):
        diagnose(X_a, X_b, labels)
    # pandas 3 stores None among strings as NaN: the message says how to keep None (as the distiller's does);
    # older pandas keeps None itself, the marker of a row without a label.
    series = pd.Series(np.array(["no", "yes"])[y]).where(np.arange(60) != 7, None)
    if isinstance(np.asarray(series, dtype=object)[7], float):
        with pytest.raises(ValueError, match=r"y.astype\(object\).where\(y.notna\(\), None\)"):
            diagnose(X_a, X_b, series)
    else:
        assert diagnose(X_a, X_b, series, n_bootstrap=10, random_state=0).n_labelled == 59
    labels[7] = None
    result = diagnose(X_a, X_b, labels, n_bootstrap=10, random_state=0)
    assert result.regime == "few labels" and result.n_labelled == 59
    result = diagnose(X_a, X_b, np.array(["no", "yes"])[y], n_bootstrap=10, random_state=0)
    assert 0.0 <= result.gamma <= 1.0 and result.regime == "labelled"


# ------------------------------------------------------------------ few labels
def _few(y, per_class=10, seed=0):
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    out = np.full_like(y, -1)
    out[keep] = y[keep]
    return out


@pytest.mark.parametrize(
    "labels, message",
    [
        (lambda y: np.full_like(y, -1), "y has no labelled row \\(all 60 rows are marked as unlabelled\\)"),
        (lambda y: np.where(y == 0, 0, -1), "y's labelled rows hold 1 class \\(0\\) beside"),
        (
            lambda y: np.array(["no", -1], dtype=object)[np.minimum(y, 1)],
            "y mixes string labels with -1. String labels mark a row without a label with None",
        ),
        (
            lambda y: np.array(["no", "-1"])[np.minimum(y, 1)],
            "y holds the string '-1' in .* row\\(s\\) of string labels",
        ),
        (lambda y: _few(y, 3), "cv=5 needs at least 5 labelled samples of every class; the smallest class has 3"),
    ],
    ids=["no-label", "one-class", "minus-one-among-strings", "string-minus-one", "too-few-per-class"],
)
def test_few_labels_bad_input_names_the_argument_and_the_values(labels, message):
    X_a, X_b, y = BASE
    with pytest.raises(ValueError, match=message):
        diagnose(X_a, X_b, labels(y), n_bootstrap=10)


def test_too_few_labels_for_the_folds_suggests_a_smaller_cv():
    X_a, X_b, y = BASE
    with pytest.raises(ValueError, match="Pass cv=3 or fewer folds"):
        diagnose(X_a, X_b, _few(y, 3), n_bootstrap=10)
    assert diagnose(X_a, X_b, _few(y, 3), cv=3, n_bootstrap=10, random_state=0).n_splits == 3


def test_few_labels_regime_is_reported_and_unlabelled_rows_change_the_distilled_model():
    X_a, X_b, y = make_modality_venn(
        1200, n_general=6, n_specific_a=1, n_specific_b=1, n_noise_a=4, n_noise_b=30, random_state=0
    )
    few = _few(y, 20)
    res = diagnose(X_a, X_b, few, n_bootstrap=50, random_state=0)
    assert res.regime == "few labels" and res.n_labelled == 40 and res.n_samples == 1200
    assert "few labels regime: 1200 pairs, 40 labelled" in res.summary()
    assert res.to_frame().attrs["regime"] == "few labels" and res.to_dict()["n_labelled"] == 40
    # The same 40 labelled pairs without the 1160 unlabelled ones: the labelled regime, and the distilled b-model
    # (which learns the teacher's probabilities on every pair) sees far fewer rows.
    kept = few >= 0
    alone = diagnose(X_a[kept], X_b[kept], y[kept], n_bootstrap=50, random_state=0)
    assert alone.regime == "labelled"
    assert res.distilled_score > alone.distilled_score


@pytest.mark.parametrize("labels_per_class, warns", [(2, True), (10, False), (50, False), (150, True)])
def test_few_labels_outside_the_calibrated_range_warn(labels_per_class, warns):
    X_a, X_b, y = make_modality_venn(400, n_general=4, n_specific_a=2, n_specific_b=2, random_state=0)
    few = _few(y, labels_per_class)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = diagnose(X_a, X_b, few, cv=2, n_bootstrap=20, random_state=0)
    said = [str(w.message) for w in caught if "calibrated on 3 to 50 labelled rows per class" in str(w.message)]
    assert res.regime == "few labels" and len(said) == int(warns)
    if warns:
        assert (
            f"these data have {labels_per_class:.1f} ({2 * labels_per_class} of 400 rows labelled, 2 classes)"
            in said[0]
        )


# ------------------------------------------------------------------ several candidate teachers
def test_several_teacher_views_are_ranked_on_the_same_folds(data):
    X_a, X_b, y = data
    rng = np.random.default_rng(0)
    views = {"general": X_a, "noise": rng.normal(size=X_a.shape), "frame": pd.DataFrame(X_a[:, :5])}
    ranking = diagnose(views, X_b, y, n_bootstrap=30, random_state=1)
    assert isinstance(ranking, TeacherRanking)
    assert ranking.ranking[-1] == "noise" and ranking.best in ("general", "frame")
    gains = [ranking.results[name].predicted_gain for name in ranking.ranking]
    assert gains == sorted(gains, reverse=True)
    frame = ranking.to_frame()
    assert list(frame.index) == ranking.ranking and list(frame["rank"]) == [1, 2, 3]
    assert set(frame["regime"]) == {"labelled"} and frame.loc["noise", "teacher_score"] < 0.7
    # The same seed for every candidate: each candidate's result equals a single call with that seed.
    seed = np.random.RandomState(1).randint(0, np.iinfo(np.int32).max)
    single = diagnose(X_a, X_b, y, n_bootstrap=30, random_state=int(seed))
    assert single.to_dict() == ranking.results["general"].to_dict()
    assert json.loads(json.dumps(ranking.to_dict()))["best"] == ranking.best
    assert "best teacher:" in str(ranking) and repr(ranking).startswith("TeacherRanking(best=")


def test_the_candidates_warnings_are_given_once_at_the_callers_line():
    X_a, X_b, y = make_modality_venn(400, n_general=4, n_specific_a=2, n_specific_b=2, random_state=0)
    few = _few(y, 2)  # below the few-labels map's calibrated range: every candidate warns alike
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diagnose({"a": X_a, "again": X_a[:, ::-1]}, X_b, few, cv=2, n_bootstrap=10, random_state=0)
    said = [w for w in caught if "calibrated on 3 to 50 labelled rows per class" in str(w.message)]
    assert len(said) == 1 and said[0].filename == __file__


@pytest.mark.parametrize(
    "views, error, message",
    [
        ({}, ValueError, "X_a is an empty mapping; give at least one candidate teacher view"),
        ({1: "x"}, TypeError, "X_a's keys must be the candidate views' names \\(str\\); got 1"),
        ({"short": np.zeros((10, 2))}, ValueError, "X_a\\['short'\\]: X_a and X_b have different numbers of samples"),
    ],
)
def test_bad_teacher_mappings_name_the_argument(views, error, message):
    X_a, X_b, y = BASE
    with pytest.raises(error, match=message):
        diagnose(views, X_b, y, n_bootstrap=10)
