"""The protocol every distillation objective follows.

A :class:`~crossmodal.CrossModalDistiller` trains its student on

    ``rho * CE(labels, student) + (1 - rho) * objective term``

The cross-entropy term (over the labelled rows) is the distillation net's;
the objective supplies the second term. An objective is a scikit-learn
estimator (its constructor arguments are parameters: ``GridSearchCV`` can
set ``objective__temperature``) that declares what it needs from the
teacher and implements up to three methods:

``requires`` (class attribute)
    ``"proba"``: the teacher's class probabilities (any teacher);
    ``"features"``: also the output of a hidden layer of a torch teacher
    (``teacher_layer``) and of the student (``student_layer``);
    ``"trainable teacher"``: the teacher's torch module itself, trained
    together with the student.
``targets(teacher)``
    Called once per fit with a :class:`TeacherOutputs`. Returns a dict of
    per-row arrays (first axis ``n_samples``) that travel beside the
    student's input and are cut into the same mini-batches.
``build_module(context)`` (optional)
    Called once per fit, when the student's net is initialised, with a
    :class:`ModuleContext`. Returns a :class:`torch.nn.Module` holding the
    objective's own trainable parameters (a projection, embeddings, a
    trained teacher), or None. Its parameters are trained by the student's
    optimizer; it is seeded with the student.
``loss(batch)``
    Called for every mini-batch with an :class:`ObjectiveBatch`; returns the
    objective's term as a 0-d tensor, differentiable with respect to the
    student's logits (and features).

Each objective states what it does on a row without a label (``batch.y``
is -1 there): most use the teacher alone and cover every row.
"""

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.base import BaseEstimator

__all__ = ["DistillationObjective", "ModuleContext", "ObjectiveBatch", "TeacherOutputs"]

#: The values of ``DistillationObjective.requires``.
REQUIREMENTS = ("proba", "features", "trainable teacher")


@dataclass
class TeacherOutputs:
    """What the teacher contributes to one fit, row for row with the student's training rows.

    Attributes
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Class probabilities (float64).
    features : ndarray of shape (n_samples, n_teacher_features) or None
        Output of the teacher's hidden layer (``requires="features"``).
    inputs : ndarray of shape (n_samples, n_teacher_inputs) or None
        The teacher's input rows, float32 (``requires="trainable teacher"``).
    module : torch.nn.Module or None
        A copy of the teacher's torch module, to be trained with the student
        (``requires="trainable teacher"``).
    """

    proba: np.ndarray
    features: np.ndarray = None
    inputs: np.ndarray = None
    module: torch.nn.Module = None


@dataclass
class ModuleContext:
    """What :meth:`DistillationObjective.build_module` may size its parameters by.

    Attributes
    ----------
    n_samples : int
        Training rows.
    n_classes : int
    n_inputs : int or None
        Width of the student's input.
    student_features : int or None
        Width of the student's feature layer (``requires="features"``).
    teacher_features : int or None
        Width of the teacher's feature layer (``requires="features"``).
    teacher_module : torch.nn.Module or None
        The teacher's module (``requires="trainable teacher"``).
    n_teacher_inputs : int or None
        Width of the teacher's input rows (``requires="trainable teacher"``).
    """

    n_samples: int
    n_classes: int
    n_inputs: int = None
    student_features: int = None
    teacher_features: int = None
    teacher_module: torch.nn.Module = None
    n_teacher_inputs: int = None


class _ComputedWhenRead:
    """A field of :class:`ObjectiveBatch` that is the value given, else :meth:`compute` of the batch when read."""

    def __set_name__(self, owner, name):
        self.name = "_" + name

    def __get__(self, batch, owner=None):
        if batch is None:  # the dataclass's default
            return None
        given = batch.__dict__.get(self.name)
        return given if given is not None else self.compute(batch)

    def __set__(self, batch, value):
        batch.__dict__[self.name] = value


class _LabelledRows(_ComputedWhenRead):
    """``ObjectiveBatch.labelled``: the mask given, else ``y >= 0``."""

    @staticmethod
    def compute(batch):
        return None if batch.y is None else batch.y >= 0


class _LabelWeights(_ComputedWhenRead):
    """``ObjectiveBatch.label_weight``: the factors given, else ``label_scale`` on the labelled rows (0 elsewhere);
    None when every training row is labelled."""

    @staticmethod
    def compute(batch):
        if batch.label_scale is None or batch.y is None:
            return None
        return (batch.y >= 0).to(batch.student_logits.dtype) * batch.label_scale


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
        Which rows carry a label: as given, else ``y >= 0`` computed when
        read (most objectives never read it; a mini-batch does not pay for it).
    sample_weight : torch.Tensor of shape (m,) or None
        Per-row weights (mean 1 over the training rows), or None.
    student_features : torch.Tensor of shape (m, n_student_features) or None
        Output of the student's feature layer (``requires="features"``).
    module : torch.nn.Module or None
        What :meth:`DistillationObjective.build_module` returned.
    label_weight : torch.Tensor of shape (m,) or None
        When some training rows carry no label, the factors of the
        cross-entropy term (see :func:`crossmodal._utils.labels.label_weights`):
        ``sum(label_weight * CE) / m`` over the labelled rows is the
        distiller's own estimate of the weighted mean cross-entropy over the
        labelled training rows. None when every row is labelled. Without
        sample weights it is ``label_scale`` on the labelled rows and 0 on the
        others, computed when read.
    label_scale : float or None
        When some training rows carry no label and the rows are not weighted,
        the factor every labelled row shares (``n / n_labelled``); else None.
    """

    student_logits: torch.Tensor
    targets: dict = field(default_factory=dict)
    y: torch.Tensor = None
    labelled: torch.Tensor = _LabelledRows()
    sample_weight: torch.Tensor = None
    student_features: torch.Tensor = None
    module: torch.nn.Module = None
    label_weight: torch.Tensor = _LabelWeights()
    label_scale: float = None


class DistillationObjective(BaseEstimator):
    """Base class of the distillation objectives (see the module docstring for the protocol).

    Subclasses store their constructor arguments unchanged (scikit-learn's
    rule), set ``requires`` and implement :meth:`targets` and :meth:`loss`
    (and :meth:`build_module` when they train parameters of their own).
    Feature objectives take ``student_layer`` and ``teacher_layer``
    parameters: a child index or a submodule name, None for the penultimate
    child of an ``nn.Sequential`` (the last hidden activation of the
    library's MLP).
    """

    requires = "proba"
    #: Whether :meth:`loss` reads ``batch.student_features`` (the output of ``student_layer``).
    needs_student_features = False

    def targets(self, teacher):
        """Per-row arrays the objective needs from what the teacher contributes.

        Parameters
        ----------
        teacher : TeacherOutputs

        Returns
        -------
        dict of str to array-like
            Each of first dimension ``n_samples``.
        """
        raise NotImplementedError

    def build_module(self, context):
        """The objective's own trainable parameters, a torch module sized by ``context`` (a :class:`ModuleContext`).

        None (the default) when it has none.
        """
        return None

    def loss(self, batch):
        """The objective's term on one mini-batch (an :class:`ObjectiveBatch`): a 0-d tensor."""
        raise NotImplementedError
