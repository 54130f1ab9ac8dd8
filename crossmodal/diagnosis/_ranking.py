"""Which modality should teach? :func:`~crossmodal.diagnose` over several candidate teacher views."""

import warnings

import pandas as pd

from crossmodal._utils.random import draw_seeds
from crossmodal._utils.validation import check_modality
from crossmodal.diagnosis._checks import _check_target

__all__ = ["TeacherRanking", "rank_teachers"]

_COLUMNS = (
    "predicted_gain",
    "ci_low",
    "ci_high",
    "verdict",
    "teacher_score",
    "student_score",
    "gamma",
    "complementarity",
    "regime",
)


class TeacherRanking:
    """:func:`diagnose` of one student view against several candidate teacher views, best first.

    Attributes
    ----------
    results : dict of str to DiagnoseResult
        One result per candidate, ordered by ``predicted_gain``, highest first.
    ranking : list of str
        The candidates' names in that order.
    best : str
        The candidate with the highest predicted gain.
    regime : str
        ``"labelled"`` or ``"few labels"`` (the same for every candidate).
    """

    def __init__(self, results):
        order = sorted(results, key=lambda name: -results[name].predicted_gain)
        self.results = {name: results[name] for name in order}
        self.ranking = order
        self.best = order[0]
        self.regime = results[order[0]].regime

    def to_frame(self):
        """One row per candidate teacher, best first: predicted gain (points), its 90% interval, verdict, scores.

        Returns
        -------
        DataFrame
            Index ``teacher`` (the candidates' names); columns
            ``rank``, ``predicted_gain``, ``ci_low``, ``ci_high``,
            ``verdict``, ``teacher_score``, ``student_score``, ``gamma``,
            ``complementarity`` (nats) and ``regime``.
        """
        rows = []
        for rank, (name, res) in enumerate(self.results.items(), start=1):
            values = dict(res.to_dict(), ci_low=res.predicted_gain_ci[0], ci_high=res.predicted_gain_ci[1])
            values["complementarity"] = res.complementarity
            rows.append({"teacher": name, "rank": rank, **{c: values[c] for c in _COLUMNS}})
        return pd.DataFrame(rows).set_index("teacher")

    def to_dict(self):
        """Plain Python values: the ranking, the best candidate and each candidate's result."""
        return {
            "ranking": list(self.ranking),
            "best": self.best,
            "regime": self.regime,
            "results": {name: res.to_dict() for name, res in self.results.items()},
        }

    def summary(self):
        """A few lines of text for people."""
        lines = [f"best teacher: {self.best} ({self.regime} regime)"]
        for rank, (name, res) in enumerate(self.results.items(), start=1):
            lo, hi = res.predicted_gain_ci
            lines.append(
                f"{rank}. {name}: {res.predicted_gain:+.1f} points (90% interval {lo:+.1f} to {hi:+.1f}), "
                f"{res.verdict}; teacher accuracy {res.teacher_score:.3f}, gamma {res.gamma:.3f}"
            )
        return "\n".join(lines)

    def __repr__(self):
        gains = ", ".join(f"{name}: {res.predicted_gain:+.2f}" for name, res in self.results.items())
        return f"TeacherRanking(best={self.best!r}, predicted_gain={{{gains}}})"

    def __str__(self):
        return self.summary()


def rank_teachers(views, X_b, y, settings, *, random_state=None, n_jobs=None):
    """``diagnose`` for each candidate of ``views`` (name -> teacher view) on the same folds; a TeacherRanking."""
    from crossmodal.diagnosis._diagnose import diagnose

    if len(views) == 0:
        raise ValueError("X_a is an empty mapping; give at least one candidate teacher view (name -> array).")
    bad = [name for name in views if not isinstance(name, str)]
    if bad:
        raise TypeError(f"X_a's keys must be the candidate views' names (str); got {bad[0]!r}.")
    # X_b and y are every candidate's: checked once here, so that an error in a candidate's run is that candidate's.
    _check_target(y, len(check_modality(X_b, "X_b")), "X_b")
    # One integer seed for every candidate: the same folds and bootstrap rows, so the candidates are compared paired.
    seed = draw_seeds(random_state, 1)[0]
    results = {}
    # The candidates' warnings (the same label-range warning for each, say) are collected, then given once each,
    # at the caller's line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, X_a in views.items():
            try:
                results[name] = diagnose(X_a, X_b, y, **settings, random_state=seed, n_jobs=n_jobs)
            except ValueError as exc:
                if "X_a" not in str(exc):
                    raise
                raise ValueError(f"X_a[{name!r}]: {exc}") from exc
    for category, message in dict.fromkeys((w.category, str(w.message)) for w in caught):
        warnings.warn(message, category, stacklevel=3)
    return TeacherRanking(results)
