"""The result object of :func:`crossmodal.diagnose`."""

import numbers

import numpy as np
import pandas as pd

__all__ = ["DiagnoseResult"]


class DiagnoseResult:
    """What :func:`diagnose` found; every number is cross-fitted.

    Attributes
    ----------
    gamma : float
        Estimated share of the teacher's decision predictable from modality
        *b*: the variance-weighted out-of-fold R^2 of the mimic, extrapolated
        to unlimited training rows from half-data refits, clipped to [0, 1].
    gamma_ci : tuple of float
        95% interval of ``gamma``: row bootstrap plus the spread of the
        half-data refits (see :func:`diagnose`).
    shared_gamma : float
        Estimated share of the decisive information of both modalities that
        both modalities hold: the modality Venn diagram's (the paper's)
        gamma, ``d0 / (d0 + d_sa + d_sb)`` with equal decision weights. It
        combines ``gamma`` with the same estimate in the other direction (the
        share of the label-trained *b*-model's decision predictable from
        *a*) as ``g_ab g_ba / (g_ab + g_ba - g_ab g_ba)``.
    shared_gamma_ci : tuple of float
        95% interval of ``shared_gamma``: the same combination of the two
        directions' lower ends and of their upper ends.
    predicted_gain : float
        Predicted accuracy change of a student on *b* distilled from the
        teacher, against one trained on labels only (0.02 = two points).
    predicted_gain_ci : tuple of float
        95% bootstrap interval of ``predicted_gain``.
    teacher_score, student_score, mimic_score : float
        Out-of-fold accuracies of the teacher on *a*, of the label-trained
        student on *b*, and of the same student fitted to the teacher's
        probabilities instead of the labels (the *b*-model imitating the
        teacher).
    verdict : str
        ``"helps"``, ``"unlikely to help"`` or ``"likely to hurt"``.
    n_samples, n_splits, n_bootstrap : int
        Rows, cross-fitting folds and bootstrap resamples.
    """

    _FIELDS = (
        "gamma",
        "gamma_ci",
        "shared_gamma",
        "shared_gamma_ci",
        "predicted_gain",
        "predicted_gain_ci",
        "teacher_score",
        "student_score",
        "mimic_score",
        "verdict",
        "n_samples",
        "n_splits",
        "n_bootstrap",
    )

    def __init__(self, **values):
        missing = set(self._FIELDS) - set(values)
        if missing:
            raise TypeError(f"DiagnoseResult needs {sorted(missing)}.")
        for name in self._FIELDS:
            setattr(self, name, values[name])

    def to_dict(self):
        """Plain Python values (JSON-serialisable), intervals as two-element lists."""
        out = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = [float(v) for v in value]
            elif isinstance(value, (numbers.Integral,)) and not isinstance(value, bool):
                value = int(value)
            elif isinstance(value, numbers.Real):
                value = float(value)
            out[name] = value
        return out

    def to_frame(self):
        """One row per quantity: ``estimate``, ``ci_low``, ``ci_high``.

        Returns
        -------
        DataFrame
            Index ``gamma, shared_gamma, predicted_gain, teacher_score, student_score,
            mimic_score``; the intervals are NaN where none is
            computed.
        """
        rows = {
            "gamma": (self.gamma, *self.gamma_ci),
            "shared_gamma": (self.shared_gamma, *self.shared_gamma_ci),
            "predicted_gain": (self.predicted_gain, *self.predicted_gain_ci),
        }
        for name in ("teacher_score", "student_score", "mimic_score"):
            rows[name] = (getattr(self, name), np.nan, np.nan)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])
        frame.index.name = "quantity"
        return frame

    def summary(self):
        """A few lines of text for people."""
        g_lo, g_hi = self.gamma_ci
        p_lo, p_hi = self.predicted_gain_ci
        s_lo, s_hi = self.shared_gamma_ci
        return "\n".join(
            [
                f"verdict: {self.verdict}",
                f"predicted gain of KD: {100 * self.predicted_gain:+.2f} points "
                f"(95% CI {100 * p_lo:+.2f} to {100 * p_hi:+.2f})",
                f"gamma (teacher decision predictable from b): {self.gamma:.3f} (95% CI {g_lo:.3f} to {g_hi:.3f})",
                f"shared gamma (decisive information both modalities hold): {self.shared_gamma:.3f} "
                f"(95% CI {s_lo:.3f} to {s_hi:.3f})",
                f"cross-fitted accuracy: teacher on a {self.teacher_score:.3f}, student on b {self.student_score:.3f}, "
                f"b-model imitating the teacher {self.mimic_score:.3f}",
                f"({self.n_samples} rows, {self.n_splits} folds, {self.n_bootstrap} bootstrap resamples)",
            ]
        )

    def __repr__(self):
        return (
            f"DiagnoseResult(verdict={self.verdict!r}, predicted_gain={self.predicted_gain:+.4f} "
            f"[{self.predicted_gain_ci[0]:+.4f}, {self.predicted_gain_ci[1]:+.4f}], gamma={self.gamma:.3f} "
            f"[{self.gamma_ci[0]:.3f}, {self.gamma_ci[1]:.3f}], shared_gamma={self.shared_gamma:.3f} "
            f"[{self.shared_gamma_ci[0]:.3f}, {self.shared_gamma_ci[1]:.3f}], "
            f"teacher_score={self.teacher_score:.3f}, "
            f"student_score={self.student_score:.3f}, mimic_score={self.mimic_score:.3f})"
        )

    def __str__(self):
        return self.summary()
