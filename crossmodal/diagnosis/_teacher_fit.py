"""How closely the distiller's default teacher fits its own training rows: what its targets add to the labels.

With every row labelled, ``CrossModalDistiller()`` trains its student on the
labels and on its teacher's probabilities for the same rows, the rows that
teacher was fitted on. Where the teacher fits them exactly, the two targets
agree and distilling changes little; only where it cannot fit them do its
targets differ from the labels. The default MLP teacher (128 hidden units,
100 epochs) fits most views' rows almost exactly, where the shrunk-LDA
teacher of :func:`~crossmodal.diagnose` does not (on mfeat's Fourier view,
in-sample errors of 0.00 against 0.14), so the predicted gain reads the
default teacher's own in-sample loss, ``mean(1 - p(true class))``.

It is measured on a stratified subsample of at most :data:`MAX_ROWS`
labelled rows: the same teacher on every row would cost as much as the
distiller's own teacher fit, on a fixed subsample a fixed amount whatever
the rows (``benchmarks/RESULTS.md``). The subsample's loss differs from
the full teacher's (fewer rows to fit, and fewer steps); the calibration
measures it the same way, so its map reads the subsample's loss.
"""

import numpy as np
import torch

from crossmodal._utils.torch_helpers import torch_threads
from crossmodal.distill._teacher import fit_teacher, teacher_proba

__all__ = ["MAX_ROWS", "default_teacher_fit_loss"]

#: Labelled rows the default teacher is fitted on, at most (a multiple of its batch size, 64).
MAX_ROWS = 256


def _stratified_rows(codes, size, rng):
    """Exactly ``size`` rows of ``codes`` (all where there are fewer), each class in proportion, sorted.

    Exactly ``size``: the default teacher trains in batches of 64, and a
    last batch of one or two rows, repeated every epoch, leaves a fit
    measurably looser (on digits views twice the loss); :data:`MAX_ROWS`
    is a multiple of 64, so a subsample has full batches only. Up to
    ``size`` rows every row is used: the loss is then that of the
    distiller's own teacher on these data, looser fit of a short last batch
    included. Every class keeps at least one row; the rest is shared by
    largest remainder.
    """
    if len(codes) <= size:
        return np.arange(len(codes))
    classes, counts = np.unique(codes, return_counts=True)
    share = size * counts / len(codes)
    take = np.minimum(counts, np.maximum(1, np.floor(share).astype(int)))
    for c in np.argsort(take - share, kind="stable"):  # largest remainders first
        if take.sum() >= size:
            break
        if take[c] < counts[c]:
            take[c] += 1
    while take.sum() > size:  # only where many classes each needed their one row
        take[np.argmax(take)] -= 1
    rows = [rng.choice(np.flatnonzero(codes == c), k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(rows))


def default_teacher_fit_loss(X_a, codes, n_classes, seed):
    """In-sample ``mean(1 - p(true class))`` of ``CrossModalDistiller()``'s default teacher on a subsample.

    Parameters
    ----------
    X_a : ndarray of shape (n_samples, n_features)
        The teacher's modality; every row labelled.
    codes : ndarray of shape (n_samples,)
        Labels encoded as ``0 .. n_classes - 1``.
    n_classes : int
    seed : int
        Seeds the subsample and the teacher's fit.

    Returns
    -------
    float
        The loss on the (at most :data:`MAX_ROWS`) rows the teacher was fitted on.
    """
    rows = _stratified_rows(codes, MAX_ROWS, np.random.default_rng(seed))
    X = np.asarray(X_a[rows], dtype=np.float32)  # diagnose checked that X_a fits float32
    y = np.asarray(codes[rows], dtype=np.int64)
    with torch_threads(1):
        model = fit_teacher(None, X, y, y, n_classes, torch.device("cpu"), seed)
        proba = teacher_proba(model, X, np.arange(n_classes))
    return float(np.mean(1.0 - proba[np.arange(len(y)), y]))
