"""The protocol every distillation objective follows.

A :class:`CrossModalDistiller` trains its student on

    ``rho * CE(labels, student) + (1 - rho) * objective term``

The cross-entropy term is the distillation net's; the objective supplies the
second term. An objective is a scikit-learn estimator-like object (its
constructor arguments are parameters: ``GridSearchCV`` can set
``objective__temperature``) with two methods:

``targets(teacher_proba)``
    Called once per fit with the teacher's class probabilities on the
    training rows (float64, ``(n_samples, n_classes)``). Returns a dict of
    per-row arrays (first axis ``n_samples``), which travel beside the
    student's input and are cut into the same mini-batches.
``loss(batch)``
    Called for every mini-batch with an :class:`ObjectiveBatch`; returns the
    objective's term as a 0-d tensor differentiable with respect to the
    student's logits.
"""

from dataclasses import dataclass, field

import torch
from sklearn.base import BaseEstimator

__all__ = ["DistillationObjective", "ObjectiveBatch"]


@dataclass
class ObjectiveBatch:
    """What an objective receives for one mini-batch of ``m`` rows.

    Attributes
    ----------
    student_logits : torch.Tensor of shape (m, n_classes)
        The student's output on the batch.
    targets : dict of str to torch.Tensor
        The rows of what :meth:`DistillationObjective.targets` returned, on
        the logits' device.
    y : torch.Tensor of shape (m,), int64
        Encoded labels (``0 .. n_classes - 1``); ``-1`` on a row without a
        label.
    labelled : torch.Tensor of shape (m,), bool
        Which rows carry a label (``y >= 0``).
    sample_weight : torch.Tensor of shape (m,) or None
        Per-row weights (mean 1 over the training rows), or None.
    """

    student_logits: torch.Tensor
    targets: dict = field(default_factory=dict)
    y: torch.Tensor = None
    labelled: torch.Tensor = None
    sample_weight: torch.Tensor = None


class DistillationObjective(BaseEstimator):
    """Base class of the distillation objectives (see the module docstring for the protocol).

    Subclasses store their constructor arguments unchanged (scikit-learn's
    rule) and implement :meth:`targets` and :meth:`loss`.
    """

    def targets(self, teacher_proba):
        """Per-row arrays the objective needs, from the teacher's probabilities on the training rows.

        Parameters
        ----------
        teacher_proba : ndarray of shape (n_samples, n_classes), float64

        Returns
        -------
        dict of str to array-like
            Each of first dimension ``n_samples``.
        """
        raise NotImplementedError

    def loss(self, batch):
        """The objective's term on one mini-batch.

        Parameters
        ----------
        batch : ObjectiveBatch

        Returns
        -------
        torch.Tensor
            0-d.
        """
        raise NotImplementedError
