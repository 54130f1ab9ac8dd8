"""What the methods comparison trains, on which data, with which candidates.

:mod:`crossmodal.experiments.methods` runs it and
:mod:`crossmodal.experiments._methods_report` reports it. A *method* is no
KD, one of the registered distillation objectives
(:data:`crossmodal.distill.objectives.OBJECTIVES`), or ``focus`` (Algorithm
1's modality-general teacher, the paper's real-data protocol, called MGDFR
in the MST-Distill benchmark). Each method has a list of candidate settings:
its paper's defaults first, then a small grid; :func:`~crossmodal.experiments.methods.tune`
chooses one per method and regime on validation rows.
"""

from crossmodal._utils.skorch_helpers import mlp_template
from crossmodal.distill.objectives import OBJECTIVES
from crossmodal.experiments._ranking_protocol import _mfeat, load_av_digits_audio_image, load_mvd_mlp

__all__ = [
    "CANDIDATES",
    "STUDENT_EPOCHS",
    "DATASETS",
    "FOCUS",
    "LABELS_PER_CLASS",
    "METHODS",
    "REGIMES",
    "RHO",
    "pair_template",
    "student_template",
    "teacher_template",
]


def _image_audio(seed):
    """Written (image, teacher) and spoken (audio MFCC, student) digits."""
    audio, image, y = load_av_digits_audio_image(seed)
    return image, audio, y


#: name -> (loader(seed) -> (X_teacher, X_student, y), "teacher -> student")
DATASETS = {
    "av-audio-image": (load_av_digits_audio_image, "av-digits audio -> image"),
    "av-image-audio": (_image_audio, "av-digits image -> audio"),
    "mfeat-pix-fou": (_mfeat("pix", "fou"), "mfeat pix -> fou"),
    "mfeat-fac-mor": (_mfeat("fac", "mor"), "mfeat fac -> mor"),
    "mfeat-kar-zer": (_mfeat("kar", "zer"), "mfeat kar -> zer"),
    "mfeat-zer-pix": (_mfeat("zer", "pix"), "mfeat zer -> pix"),
    "mvd-mlp": (load_mvd_mlp, "MVD a -> b, mixing='mlp'"),
}

#: Labels kept per class in the few-labels regime (every other training pair is marked -1).
LABELS_PER_CLASS = 10
#: regime -> labels per class (None: every training row keeps its label).
REGIMES = {"every row labelled": None, f"{LABELS_PER_CLASS} labels per class": LABELS_PER_CLASS}
#: Weight of the labels' cross-entropy in every distilled student.
RHO = 0.5
#: Epochs of every method's student and of the focus pair (``--quick`` fewer).
STUDENT_EPOCHS = 10
#: The modality-general teacher of the paper's real-data protocol: the ranked layer and permutations per channel.
FOCUS = dict(layer=1, mode="general", n_repeats=5)

#: Methods in table order: no KD, every registered objective, then focus.
METHODS = ("no KD", *OBJECTIVES, "focus")

#: method -> candidate settings, the paper's defaults first. For an objective the settings are its
#: parameters; for focus, the ranker's ratio and the KD temperature of the joint teacher.
CANDIDATES = {
    "no KD": [{}],
    "kd": [dict(temperature=1.0), dict(temperature=4.0)],
    "dkd": [{}, dict(beta=2.0)],
    "mlld": [{}, dict(temperatures=(1.0, 2.0, 4.0))],
    "hint": [{}],
    "rkd": [{}, dict(distance_weight=1.0, angle_weight=2.0)],
    "crd": [{}, dict(nce_t=0.2)],
    "c2kd": [{}, dict(temperature=4.0)],
    "focus": [dict(ratio=0.5, temperature=1.0), dict(ratio=0.25, temperature=4.0)],
}


def candidates(method):
    """The candidate settings of ``method`` (the paper's defaults alone when none are listed)."""
    return CANDIDATES.get(method, [{}])


def teacher_template():
    """The teacher every method shares: the library's MLP (128 hidden units), 30 epochs."""
    return mlp_template((128,), max_epochs=30, lr=3e-3, batch_size=128)


def student_template(epochs=STUDENT_EPOCHS):
    """The student every method trains: an MLP with 64 hidden units."""
    return mlp_template((64,), max_epochs=epochs, lr=3e-3, batch_size=128)


def pair_template(epochs=STUDENT_EPOCHS):
    """Algorithm 1's jointly trained pair for ``focus``."""
    return mlp_template((128,), max_epochs=epochs, lr=3e-3, batch_size=128)
