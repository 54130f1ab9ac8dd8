"""What the ranking reproduction trains and on which data: its constants, MLP template and dataset loaders.

:mod:`crossmodal.experiments.ranking` runs the protocol on these data and
:mod:`crossmodal.experiments._ranking_report` reports it; both read the
protocol from here.
"""

from crossmodal._utils.skorch_helpers import mlp_template
from crossmodal.datasets import make_modality_venn

__all__ = [
    "RATIOS",
    "MODES",
    "TEACHERS",
    "PAIR_HIDDEN",
    "STUDENT_HIDDEN",
    "STUDENT_BATCH",
    "STUDENT_LR",
    "N_REPEATS",
    "VALIDATION_SHARE",
    "TUNE_GRID",
    "load_av_digits_audio_image",
    "load_mvd_mlp",
]

RATIOS = (0.25, 0.5, 0.75)
MODES = ("general", "random", "specific")
TEACHERS = ("regular",) + MODES
#: Width of the hidden layer of f_a and f_b (the paper ranks 128 channels).
PAIR_HIDDEN = (128,)
STUDENT_HIDDEN = (64,)
STUDENT_BATCH = 128
STUDENT_LR = 3e-3
N_REPEATS = 10
#: Share of the training rows held out as validation rows by :func:`~crossmodal.experiments.ranking.tune`.
VALIDATION_SHARE = 0.3
#: Candidates searched by :func:`~crossmodal.experiments.ranking.tune`: children of MLP(hidden_sizes=(128,)) are
#: 0 = Linear (pre-activation), 1 = ReLU (post-activation, the paper's choice).
TUNE_GRID = dict(layer=(0, 1), temperature=(1.0, 2.0, 4.0, 8.0), epochs=(10, 20))


def _net(hidden, epochs):
    """The pair's and the students' MLP template (Adam, lr 3e-3, batches of 128)."""
    return mlp_template(hidden, max_epochs=epochs, lr=STUDENT_LR, batch_size=STUDENT_BATCH)


def load_av_digits_audio_image(seed):
    """Spoken (audio MFCC, teacher) and written (image, student) digits.

    The 28 x 28 images are averaged over 2 x 2 blocks (14 x 14 = 196 values)
    to keep the image nets within the time budget.
    """
    from crossmodal.datasets import load_av_digits

    views, y = load_av_digits(return_X_y=True)
    image = views["image"].reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(y), -1)
    return views["audio"], image, y


def _mfeat(teacher, student):
    def load(seed):
        from crossmodal.datasets import load_mfeat

        views, y = load_mfeat(views=[teacher, student], return_X_y=True)
        return views[teacher], views[student], y

    load.__doc__ = f"UCI mfeat: teacher view {teacher}, student view {student}: (X_teacher, X_student, y)."
    return load


def load_mvd_mlp(seed):
    """MVD data with nonlinear mixing, a new draw per seed: (X_teacher, X_student, y)."""
    diagram = dict(n_general=6, n_specific_a=6, n_specific_b=3, n_hidden=0, n_noise_a=12, n_noise_b=12, n_classes=3)
    return make_modality_venn(2000, **diagram, mixing="mlp", random_state=seed)
