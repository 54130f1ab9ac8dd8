"""Will crossmodal distillation pay off? :func:`diagnose`, cross-fitted, before any training.

The folder is named ``diagnosis`` so that the function ``crossmodal.diagnose``
is never shadowed by a submodule of the same name.
"""

from crossmodal.diagnosis._diagnose import diagnose
from crossmodal.diagnosis._ranking import TeacherRanking
from crossmodal.diagnosis._result import DiagnoseResult

__all__ = ["DiagnoseResult", "TeacherRanking", "diagnose"]
