"""Distillation objectives: the term that carries the teacher into the student.

One module per objective, each registered by name in :data:`OBJECTIVES`. A
new objective is one module (a subclass of :class:`DistillationObjective`,
see :mod:`~crossmodal.distill.objectives._base` for the protocol) plus one
line here.
"""

from crossmodal.distill.objectives._base import DistillationObjective, ModuleContext, ObjectiveBatch, TeacherOutputs
from crossmodal.distill.objectives._kd import KD

__all__ = ["KD", "OBJECTIVES", "DistillationObjective", "ModuleContext", "ObjectiveBatch", "TeacherOutputs"]

#: Name -> objective class.
OBJECTIVES = {"kd": KD}
