"""What the teacher contributes to a distillation objective, and whether it can.

:func:`~crossmodal.distill._teacher.fit_and_query` returns a
:class:`FittedTeacher`; :func:`objective_outputs` turns it into the
:class:`~crossmodal.distill.objectives.TeacherOutputs` the objective asks
for (probabilities; hidden features of a torch teacher; the teacher's module
itself, to be trained with the student), with a clear error when the
teacher cannot give it.
"""

import copy
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNetClassifier

from crossmodal._utils.skorch_helpers import fitted_net
from crossmodal.distill._teacher_io import teacher_name
from crossmodal.distill.objectives import OBJECTIVES, TeacherOutputs

__all__ = [
    "FittedTeacher",
    "check_teacher_proba_serves",
    "feature_request",
    "objective_outputs",
    "objectives_for_any_teacher",
    "torch_module",
]


@dataclass
class FittedTeacher:
    """What :func:`fit_and_query` returns: the teacher, its focus ranker and what it says on every row.

    ``features`` is the output of the requested hidden layer (or None),
    ``inputs`` the teacher's input rows as it saw them.
    """

    teacher: object
    focus: object
    proba: np.ndarray
    features: np.ndarray = None
    inputs: object = None


def torch_module(teacher):
    """The torch module of a fitted teacher (the library's net, a skorch net, ``teacher="joint"``'s), else None."""
    if isinstance(teacher, torch.nn.Module):
        return teacher
    net = teacher if isinstance(teacher, NeuralNetClassifier) else fitted_net(teacher)
    return None if net is None else net.module_


def feature_request(objective):
    """What :func:`fit_and_query` must also compute for ``objective``: ``("layer", spec)`` or None."""
    return ("layer", objective.teacher_layer) if objective.requires == "features" else None


def objectives_for_any_teacher():
    """The registered objectives that need only the teacher's probabilities, as a quoted list: "'kd', 'dkd'"."""
    return ", ".join(repr(name) for name, cls in OBJECTIVES.items() if cls.requires == "proba")


def check_teacher_proba_serves(objective, focus):
    """Raise when precomputed probabilities cannot serve: a focus ranker, or an objective that needs more."""
    if focus is not None:
        raise ValueError(
            "focus needs the teacher modality to train a focused teacher, so it cannot be "
            "combined with teacher_proba; pass X_teacher instead."
        )
    if objective.requires != "proba":
        raise ValueError(
            f"objective {type(objective).__name__} needs the teacher's {objective.requires} (requires="
            f"{objective.requires!r}), which teacher_proba does not hold; pass X_teacher and a torch teacher, "
            f"or use an objective that any teacher serves: {objectives_for_any_teacher()}."
        )


def objective_outputs(objective, proba, fitted):
    """The :class:`TeacherOutputs` an objective asks for (``fitted``: :func:`fit_and_query`'s result, or None)."""
    if objective.requires == "proba":
        return TeacherOutputs(proba)
    if objective.requires == "features":
        return TeacherOutputs(proba, features=fitted.features)
    module = torch_module(fitted.teacher)
    if module is None or isinstance(fitted.teacher, FrozenEstimator):
        raise TypeError(
            f"objective {type(objective).__name__} trains the teacher together with the student, so it needs a "
            f"trainable torch teacher (teacher=None, a skorch NeuralNetClassifier template, or 'joint'); got "
            f"{teacher_name(fitted.teacher)}."
        )
    inputs = np.ascontiguousarray(fitted.inputs, dtype=np.float32)
    return TeacherOutputs(proba, inputs=inputs, module=copy.deepcopy(module))
