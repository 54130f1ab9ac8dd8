"""Algorithm 1 of the Modality Focusing Hypothesis paper: rank channels by how modality-general they are.

:class:`ModalityGeneralRanker` (``_ranker``) trains the pair ``f_a``,
``f_b`` jointly (``_joint_net``, set up from the user's skorch templates by
``_templates``), scores every channel with :func:`permutation_salience`
(``_salience``: permutations from ``_permutations``, a compiled rank-1 plan
or a generic torch plan chosen by ``_plans``, channel ranges spread over
threads or joblib workers by ``_schedule``) and selects channels
(``_selection``). The alignment distances live in one registry
(``_distances``); ``_layers`` finds, cuts and nullifies hidden layers."""

from crossmodal.focus._ranker import ModalityGeneralRanker
from crossmodal.focus._salience import permutation_salience

__all__ = ["ModalityGeneralRanker", "permutation_salience"]
