"""Distillation objectives: the term that carries the teacher into the student.

One module per objective, each registered by name in :data:`OBJECTIVES`. A
new objective is one module (a subclass of :class:`DistillationObjective`,
see :mod:`~crossmodal.distill.objectives._base` for the protocol) plus one
line here.
"""

from sklearn.base import clone

from crossmodal.distill.objectives._base import DistillationObjective, ModuleContext, ObjectiveBatch, TeacherOutputs
from crossmodal.distill.objectives._c2kd import C2KD
from crossmodal.distill.objectives._crd import CRD
from crossmodal.distill.objectives._dkd import DKD
from crossmodal.distill.objectives._hint import Hint
from crossmodal.distill.objectives._kd import KD
from crossmodal.distill.objectives._mlld import MLLD
from crossmodal.distill.objectives._rkd import RKD

__all__ = [
    "C2KD",
    "CRD",
    "DKD",
    "KD",
    "MLLD",
    "OBJECTIVES",
    "RKD",
    "DistillationObjective",
    "Hint",
    "ModuleContext",
    "ObjectiveBatch",
    "TeacherOutputs",
    "resolve_objective",
]

#: Name -> objective class.
OBJECTIVES = {"kd": KD, "dkd": DKD, "mlld": MLLD, "hint": Hint, "rkd": RKD, "crd": CRD, "c2kd": C2KD}


def resolve_objective(objective, temperature=None, kl_reduction="batchmean"):
    """The objective a distiller trains with: a fresh instance of a named one, or a clone of an object.

    A named objective takes the distiller's ``temperature`` when it has one
    and it is set (None keeps the objective's own default: 1 for ``"kd"``,
    4 for ``"dkd"``), and ``kl_reduction`` for ``"kd"``; a setting the objective does not
    have, or one given beside an objective object (which carries its own),
    is an error rather than ignored. An objective that declares
    ``_parameter_constraints`` has them checked here: the distiller's own
    validation does not reach into an objective object.
    """
    if not isinstance(objective, str):
        if temperature is not None or kl_reduction != "batchmean":
            raise ValueError(
                f"temperature={temperature!r} and kl_reduction={kl_reduction!r} apply to objectives given by name; "
                f"with objective={type(objective).__name__}(...) set them on the objective itself (e.g. "
                "KD(temperature=4.0, reduction='mean')) and leave the distiller's at None and 'batchmean'."
            )
        return _validated(clone(objective))
    cls = OBJECTIVES[objective]
    params, own = {}, cls().get_params()
    for name, value, default, key in (
        ("temperature", temperature, None, "temperature"),
        ("kl_reduction", kl_reduction, "batchmean", "reduction"),
    ):
        if value == default:
            continue
        if key in own and (name == "temperature" or cls is KD):
            params[key] = value
        elif key in own:  # the objective has the setting, but it is not the one the distiller's setting names
            raise ValueError(
                f"{name}={value!r} applies only to objective='kd'; objective={objective!r} has a {key} of its own: "
                f"pass objective={cls.__name__}({key}=...) and leave {name} at {default!r}."
            )
        else:
            raise ValueError(f"{name}={value!r} does not apply to objective={objective!r}, which has no {key}.")
    return _validated(cls(**params))


def _validated(objective):
    if hasattr(objective, "_parameter_constraints"):
        objective._validate_params()
    return objective
