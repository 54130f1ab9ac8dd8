"""The result object of :func:`crossmodal.diagnose`."""

import numbers

import numpy as np
import pandas as pd

__all__ = ["DiagnoseResult"]


class DiagnoseResult:
    """What :func:`diagnose` found; every number is cross-fitted.

    Attributes
    ----------
    regime : {"labelled", "few labels"}
        ``"labelled"`` when every row carries a label; ``"few labels"`` when
        some rows are marked as unlabelled (-1, or None among string labels).
        ``predicted_gain`` then describes distilling on every pair against a
        student trained on the labelled rows.
    predicted_gain : float
        Predicted change, in accuracy points (+2.0 = two points), of the
        test accuracy of ``CrossModalDistiller()`` with its defaults (default
        MLP teacher and student, ``rho=0.5``, ``T=1``) against the same
        estimator with ``rho=1`` (labels only), calibrated on data no report
        uses (see :func:`diagnose`'s Notes).
    predicted_gain_ci : tuple of float
        90% interval of ``predicted_gain`` (points): the calibration's
        residual spread combined with the row bootstrap's.
    verdict : str
        ``"helps"``, ``"unlikely to help"`` or ``"likely to hurt"``, from
        ``predicted_gain`` and thresholds in points
        (:data:`crossmodal.diagnosis._calibration.VERDICT_THRESHOLDS`).
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
        combines ``gamma`` with the same estimate in the other direction as
        ``g_ab g_ba / (g_ab + g_ba - g_ab g_ba)``.
    shared_gamma_ci : tuple of float
        95% interval of ``shared_gamma``.
    teacher_score, student_score, mimic_score, distilled_score : float
        Out-of-fold accuracies on the labelled rows of the teacher on *a*, of
        the label-trained student on *b*, of the same student fitted to the
        teacher's probabilities alone (the *b*-model imitating the teacher),
        and of the same student fitted to the distiller's targets (labels and
        teacher probabilities with ``rho=0.5``, on every training pair).
    teacher_student_information, student_label_information : float
        The two sides of the cross-modal complementarity criterion (Xie, Xu
        and Sanguinetti, 2025), in nats: the mutual information between the
        teacher's and the label-trained student's representations, and
        between the student's representation and the labels (Gaussian
        estimates, see :mod:`crossmodal.diagnosis._complementarity`). The
        criterion expects KD to help when the first exceeds the second.
    n_samples, n_labelled, n_splits, n_bootstrap : int
        Rows (pairs), labelled rows, cross-fitting folds, bootstrap resamples.
    """

    _SCALARS = (
        "teacher_score",
        "student_score",
        "mimic_score",
        "distilled_score",
        "teacher_student_information",
        "student_label_information",
        "n_samples",
        "n_labelled",
    )
    _FIELDS = ("regime", "predicted_gain", "predicted_gain_ci", "verdict", "gamma", "gamma_ci", "shared_gamma")
    _FIELDS += ("shared_gamma_ci", *_SCALARS, "n_splits", "n_bootstrap")

    def __init__(self, **values):
        missing = set(self._FIELDS) - set(values)
        if missing:
            raise TypeError(f"DiagnoseResult needs {sorted(missing)}.")
        for name in self._FIELDS:
            setattr(self, name, values[name])

    @property
    def complementarity(self):
        """``teacher_student_information - student_label_information`` (nats); > 0: the criterion expects a gain."""
        return self.teacher_student_information - self.student_label_information

    def to_dict(self):
        """Plain Python values (JSON-serialisable), intervals as two-element lists."""
        out = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = [float(v) for v in value]
            elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
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
            Index ``predicted_gain`` (points), ``gamma``, ``shared_gamma``,
            then the scores, the two information terms, ``n_samples`` and
            ``n_labelled``; the intervals are NaN where none is computed.
            ``frame.attrs`` holds the ``regime`` and the ``verdict``.
        """
        rows = {
            "predicted_gain": (self.predicted_gain, *self.predicted_gain_ci),
            "gamma": (self.gamma, *self.gamma_ci),
            "shared_gamma": (self.shared_gamma, *self.shared_gamma_ci),
        }
        for name in self._SCALARS:
            rows[name] = (float(getattr(self, name)), np.nan, np.nan)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])
        frame.index.name = "quantity"
        frame.attrs.update(regime=self.regime, verdict=self.verdict)
        return frame

    def summary(self):
        """A few lines of text for people."""
        g_lo, g_hi = self.gamma_ci
        p_lo, p_hi = self.predicted_gain_ci
        s_lo, s_hi = self.shared_gamma_ci
        rows = f"{self.n_samples} pairs, all labelled"
        if self.regime != "labelled":
            rows = f"{self.n_samples} pairs, {self.n_labelled} labelled"
        return "\n".join(
            [
                f"verdict: {self.verdict} ({self.regime} regime: {rows})",
                f"predicted gain of CrossModalDistiller() over labels only: {self.predicted_gain:+.1f} points "
                f"(90% interval {p_lo:+.1f} to {p_hi:+.1f})",
                f"gamma (teacher decision predictable from b): {self.gamma:.3f} (95% CI {g_lo:.3f} to {g_hi:.3f})",
                f"shared gamma (decisive information both modalities hold): {self.shared_gamma:.3f} "
                f"(95% CI {s_lo:.3f} to {s_hi:.3f})",
                f"cross-fitted accuracy: teacher on a {self.teacher_score:.3f}, student on b {self.student_score:.3f}, "
                f"b-model imitating the teacher {self.mimic_score:.3f}, distilled b-model {self.distilled_score:.3f}",
                f"complementarity: I(teacher; student) {self.teacher_student_information:.3f} nats vs "
                f"I(student; labels) {self.student_label_information:.3f} nats",
                f"({self.n_splits} folds, {self.n_bootstrap} bootstrap resamples)",
            ]
        )

    def __repr__(self):
        lo, hi = self.predicted_gain_ci
        return (
            f"DiagnoseResult(regime={self.regime!r}, verdict={self.verdict!r}, "
            f"predicted_gain={self.predicted_gain:+.2f} [{lo:+.2f}, {hi:+.2f}], gamma={self.gamma:.3f} "
            f"[{self.gamma_ci[0]:.3f}, {self.gamma_ci[1]:.3f}], shared_gamma={self.shared_gamma:.3f} "
            f"[{self.shared_gamma_ci[0]:.3f}, {self.shared_gamma_ci[1]:.3f}], "
            f"teacher_score={self.teacher_score:.3f}, student_score={self.student_score:.3f}, "
            f"mimic_score={self.mimic_score:.3f}, n_labelled={self.n_labelled} of {self.n_samples})"
        )

    def __str__(self):
        return self.summary()
