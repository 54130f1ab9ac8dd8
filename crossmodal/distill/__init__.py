"""Crossmodal knowledge distillation as a scikit-learn classifier.

:class:`CrossModalDistiller` (``_distiller``) trains a student on one
modality from a teacher on another. Around it: the teacher's fitting,
querying and checks (``_teacher``, ``_teacher_io``, ``_joint_teacher``), the
cache of what the teacher contributes (``_cache``), the skorch net that
trains the student (``_net``) and the distillation objectives
(:mod:`crossmodal.distill.objectives`).
"""

from crossmodal.distill._distiller import CrossModalDistiller

__all__ = ["CrossModalDistiller"]
