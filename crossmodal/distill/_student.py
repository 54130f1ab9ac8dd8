"""The student's side of :class:`~crossmodal.CrossModalDistiller`: predictions and the score on labelled rows."""

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from crossmodal._utils.compat import _safe_indexing
from crossmodal._utils.labels import labelled_mask
from crossmodal._utils.proba import logits_to_proba
from crossmodal._utils.torch_helpers import predict_logits
from crossmodal._utils.validation import check_float32_range, validate_numeric_data

__all__ = ["StudentPredictionsMixin"]

_FLOAT_DTYPES = (np.float32, np.float64)


class StudentPredictionsMixin:
    """``predict_proba``, ``predict`` and ``score`` of a fitted student (``student_``, ``classes_``)."""

    def predict_proba(self, X):
        """Class probabilities of the student, from the student modality only.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The student's modality.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)

        Notes
        -----
        Rows go through the student in chunks whose converted input and
        layer outputs fit in scikit-learn's ``working_memory`` (1024 MiB
        unless set with :func:`sklearn.config_context`); ``X`` itself is not
        copied, whatever its float dtype.
        """
        check_is_fitted(self, "student_")
        X = check_float32_range(validate_numeric_data(self, X, reset=False, dtype=_FLOAT_DTYPES), "X")
        proba = logits_to_proba(predict_logits(self.student_.module_, X, self.student_.device))
        if not np.all(np.isfinite(proba)):
            raise ValueError(
                f"The student's outputs hold {int(np.sum(~np.isfinite(proba)))} NaN or infinite values on X: its "
                "training diverged (see history_'s train_loss); a lower learning rate, or scaled inputs, may help."
            )
        return proba

    def predict(self, X):
        """Predicted class labels of the student on ``X`` (the student's modality), shape ``(n_samples,)``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of the student on the labelled rows of ``(X, y)``.

        Rows marked as unlabelled (``-1``, or ``None`` among string labels)
        are left out, so a cross-validation fold that holds unlabelled rows
        never counts them as errors (scikit-learn's semi-supervised
        estimators count them). Scorers such as ``scoring="accuracy"`` call
        :meth:`predict` and see every row; leave ``scoring`` unset to use
        this method.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The student's modality.
        y : array-like of shape (n_samples,)
            True labels, with the markers of unlabelled rows.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            Mean accuracy over the labelled rows.

        Raises
        ------
        ValueError
            When no row of ``y`` carries a label.
        """
        y = column_or_1d(np.asarray(y))
        check_consistent_length(X, y, *([] if sample_weight is None else [sample_weight]))
        labelled = labelled_mask(y)
        if not labelled.any():
            raise ValueError(f"score needs at least one labelled row; all {len(y)} rows of y are marked unlabelled.")
        weights = None if sample_weight is None else np.asarray(sample_weight)[labelled]
        return accuracy_score(
            y[labelled], self.predict(_safe_indexing(X, np.flatnonzero(labelled))), sample_weight=weights
        )
