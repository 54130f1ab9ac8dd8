"""crossmodal: crossmodal knowledge distillation for scikit-learn.

Built on *The Modality Focusing Hypothesis: Towards Understanding Crossmodal
Knowledge Distillation* (Xue et al., ICLR 2023). A teacher trained on modality
*a* teaches a student that only sees modality *b*; the student gains from the
modality-general decisive information the teacher uses.

Public objects are imported lazily so that ``import crossmodal`` stays cheap
(torch and numba load on first use of an estimator).
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "MVDGenerator": "crossmodal.datasets",
    "make_modality_venn": "crossmodal.datasets",
    "CrossModalDistiller": "crossmodal.distill",
    "ModalityGeneralRanker": "crossmodal.focus",
    "permutation_salience": "crossmodal.focus",
    "diagnose": "crossmodal.diagnosis",
    "DiagnoseResult": "crossmodal.diagnosis",
    "nets": "crossmodal.nets",
    "datasets": "crossmodal.datasets",
    "experiments": "crossmodal.experiments",
}

__all__ = [
    "CrossModalDistiller",
    "MVDGenerator",
    "DiagnoseResult",
    "ModalityGeneralRanker",
    "diagnose",
    "make_modality_venn",
    "permutation_salience",
    "__version__",
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__.endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crossmodal' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
