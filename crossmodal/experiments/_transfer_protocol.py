"""The transfer reproduction's protocol: constants, view pairs, splits and label budgets.

Read by :mod:`crossmodal.experiments.transfer` (the runs and the search
behind its settings), :mod:`crossmodal.experiments._transfer_runs` (one
seed) and :mod:`crossmodal.experiments._transfer_report`.
"""

from crossmodal.datasets import make_modality_venn
from crossmodal.experiments import _rows
from crossmodal.experiments._ranking_protocol import _mfeat, load_av_digits_audio_image

__all__ = [
    "BUDGETS",
    "STUDENTS",
    "KD_STUDENTS",
    "JOINT_MODES",
    "STUDENT_HIDDEN",
    "STUDENT_BATCH",
    "STUDENT_LR",
    "PAIR_HIDDEN",
    "PAIR_EPOCHS",
    "PAIR_LAYER",
    "PAIR_RATIO",
    "N_REPEATS",
    "DEFAULT_RUNS",
    "TEST_SHARE",
    "VALIDATION_SHARE",
    "TUNE_GRID",
    "MVD_DIAGRAM",
    "MVD_GAMMA",
    "DATASETS",
    "budget_label",
    "split_rows",
]

#: Labels per class of the curves; None is every training row labelled.
BUDGETS = (3, 10, 30, None)
#: The students, column ``student_<name>_acc`` of the tidy frame, in report order: labels only; KD from a
#: teacher fitted on the labelled rows, on those rows only and on every pair; then the teachers of Algorithm 1's
#: jointly trained ``f_a`` on every pair: modality-general, regular (nothing nullified), modality-specific.
STUDENTS = ("labels", "kd_labelled", "kd_every", "general", "regular", "specific")
#: The students whose settings :func:`~crossmodal.experiments.transfer.tune` chooses; the three students of
#: ``f_a`` share the regular one's settings (chosen without the ranking, so the comparison stays fair).
KD_STUDENTS = ("kd_labelled", "kd_every", "regular")
JOINT_MODES = ("general", "regular", "specific")
STUDENT_HIDDEN = (64,)
STUDENT_BATCH = 128
STUDENT_LR = 3e-3
#: Algorithm 1's pair (f_a, f_b): hidden width and epochs, the ranked layer (1: after the ReLU, the paper's
#: choice) and the share of its channels nullified.
PAIR_HIDDEN = (64,)
PAIR_EPOCHS = 20
PAIR_LAYER = 1
PAIR_RATIO = 0.5
N_REPEATS = 3
#: Runs (the first ones) whose few-labels cells also measure ``CrossModalDistiller()``'s defaults, the
#: configuration whose gain ``diagnose`` predicts (each costs a default teacher and two default students).
DEFAULT_RUNS = 5
#: Share of each data set's rows held out as test rows; the rest are the training pairs.
TEST_SHARE = 1 / 3
#: Share of the training pairs held out as validation rows by :func:`~crossmodal.experiments.transfer.tune`.
VALIDATION_SHARE = 0.3
#: Candidates of :func:`~crossmodal.experiments.transfer.tune`; every epoch count is read from one training run.
TUNE_GRID = dict(rho=(0.1, 0.3, 0.5, 0.7), temperature=(1.0, 2.0, 4.0), epochs=(5, 10, 20))
#: The MVD setting: 2 classes, decisive latents 6 general, 6 specific to a, 2 specific to b.
MVD_DIAGRAM = dict(n_general=6, n_specific_a=6, n_specific_b=2, n_hidden=0, n_noise_a=12, n_noise_b=12, n_classes=2)
#: Its modality Venn diagram's gamma, ``n_general / (n_general + n_specific_a + n_specific_b)``.
MVD_GAMMA = MVD_DIAGRAM["n_general"] / (
    MVD_DIAGRAM["n_general"] + MVD_DIAGRAM["n_specific_a"] + MVD_DIAGRAM["n_specific_b"]
)


def load_mvd(seed):
    """MVD data (identity mixing, as the paper's synthetic experiments), a new diagram and draw per seed."""
    return make_modality_venn(2000, **MVD_DIAGRAM, random_state=seed)


def load_av_digits_image_audio(seed):
    """Written (image, teacher) and spoken (audio MFCC, student) digits: the other direction."""
    audio, image, y = load_av_digits_audio_image(seed)
    return image, audio, y


#: name -> (loader(seed) -> (X_teacher, X_student, y), "teacher -> student" label)
DATASETS = {
    "mfeat-pix-fou": (_mfeat("pix", "fou"), "pix -> fou"),
    "mfeat-fac-mor": (_mfeat("fac", "mor"), "fac -> mor"),
    "mfeat-zer-pix": (_mfeat("zer", "pix"), "zer -> pix"),
    "av-digits-audio-image": (load_av_digits_audio_image, "audio -> image"),
    "av-digits-image-audio": (load_av_digits_image_audio, "image -> audio"),
    "mvd": (load_mvd, f"a -> b, MVD, gamma = {MVD_GAMMA:.2f}"),
}


def budget_label(per_class):
    """``"3"``, ``"10"``, ... or ``"all"`` for ``None``: the budget as the tidy frame and the report write it."""
    return "all" if per_class is None else str(int(per_class))


def split_rows(y, seed, validation):
    """Training pairs and scored rows (:func:`crossmodal.experiments._rows.split_rows`, :data:`TEST_SHARE` held out)."""
    return _rows.split_rows(y, seed, validation, test_share=TEST_SHARE, validation_share=VALIDATION_SHARE)
