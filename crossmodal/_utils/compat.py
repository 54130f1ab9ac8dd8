"""The private scikit-learn and skorch API that crossmodal uses, in one place.

Each has no public equivalent in the supported versions; CI runs the test
suite on the lower bounds of ``pyproject.toml`` (scikit-learn 1.6, skorch
1.4) and on the versions installed by default, so a change in any of them
fails there first. Import them from here, not from their private modules.

scikit-learn (re-exported below):

* ``sklearn.base._fit_context``: the decorator that validates the
  constructor parameters once per ``fit`` and scopes
  ``skip_parameter_validation`` for nested estimators (``CrossModalDistiller``,
  ``ModalityGeneralRanker``, ``MVDGenerator``).
* ``sklearn.utils._param_validation``: ``HasMethods``, ``Interval``,
  ``StrOptions`` and ``validate_params``, the constraint objects of
  ``_parameter_constraints`` and of :func:`crossmodal.make_modality_venn`.
* ``sklearn.utils.validation._check_sample_weight``: ``sample_weight``
  checked and converted as scikit-learn's own estimators do (the distiller).
* ``sklearn.utils._safe_indexing``: rows of an array, DataFrame or list
  by position (the distiller's labelled rows of a teacher's input as the
  user gave it).
* ``sklearn.utils.validation._check_feature_names_in``: the ranker's
  ``get_feature_names_out``. The public route is inheriting a mixin
  (``sklearn.feature_selection.SelectorMixin`` or ``OneToOneFeatureMixin``,
  which do not fit the ranker's ``transform`` as they stand).

The tests also catch ``sklearn.utils._param_validation.InvalidParameterError``
(the error these constraints raise).

skorch (a method, so not re-exported):

* ``NeuralNet._set_training(training)``: puts every module and criterion of
  a net in train or eval mode. The tight loop (:mod:`crossmodal._utils.tight_loop`)
  calls it, and :class:`crossmodal.focus._joint_net.JointPairNet` overrides it to
  switch both of its modules.

Public replacements already made: whether metadata routing is enabled is
read from ``sklearn.get_config()["enable_metadata_routing"]`` (not
``sklearn.utils.metadata_routing._routing_enabled``).
"""

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params
from sklearn.utils.validation import _check_feature_names_in, _check_sample_weight

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_check_feature_names_in",
    "_check_sample_weight",
    "_fit_context",
    "_safe_indexing",
    "validate_params",
]
