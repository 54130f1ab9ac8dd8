"""Algorithm 1 of the Modality Focusing Hypothesis paper: rank channels by how modality-general they are.

:class:`ModalityGeneralRanker` (``_ranker``) trains the pair ``f_a``,
``f_b`` jointly (``_joint_net``), scores every channel with
:func:`permutation_salience` (``_salience``, executed by a compiled rank-1
plan or a generic torch plan) and selects channels. The alignment distances
live in one registry (``_distances``).
"""

from crossmodal.focus._ranker import ModalityGeneralRanker
from crossmodal.focus._salience import permutation_salience

__all__ = ["ModalityGeneralRanker", "permutation_salience"]
