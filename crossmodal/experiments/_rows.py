"""Which rows of a reproduction train, validate and test, and which keep their label.

:func:`split_rows` gives every reproduction its stratified test rows and,
for tuning, validation rows carved from the training rows only (the test
rows are the same with or without validation, so no tuning reads one).
:func:`labelled_rows` keeps an exact number of labels per class (nested
across budgets for one seed), and :func:`keep_labels` marks the other rows
-1, the library's marker of a row without a label.
"""

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["keep_labels", "labelled_rows", "split_rows"]


def split_rows(y, seed, validation=False, *, test_share=0.5, validation_share=0.3):
    """Training and scored rows: (train, test), or (train part, validation part) of the training rows.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels (the splits are stratified).
    seed : int
    validation : bool, default=False
        Carve ``validation_share`` of the training rows as the scored rows.
    test_share, validation_share : float
        Shares of the rows held out for testing, and of the training rows for validation.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1], 10)
    >>> train, test = split_rows(y, 0)
    >>> fit, val = split_rows(y, 0, validation=True)
    >>> sorted(np.concatenate([fit, val])) == sorted(train), len(test)
    (True, 10)
    """
    idx = np.arange(len(y))
    idx_train, idx_test = train_test_split(idx, test_size=test_share, stratify=y, random_state=seed)
    if not validation:
        return idx_train, idx_test
    return train_test_split(idx_train, test_size=validation_share, stratify=y[idx_train], random_state=seed)


def labelled_rows(y, per_class, seed):
    """Which rows of ``y`` keep their label: exactly ``per_class`` of each class, drawn at random.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Labels of the training pairs (and of nothing else).
    per_class : int or None
        Labels kept per class; None keeps every label.
    seed : int
        Seeds the draw. For one seed the budgets are nested: the rows of a
        smaller budget are labelled in every larger one.

    Returns
    -------
    ndarray of bool of shape (n_samples,)

    Raises
    ------
    ValueError
        When a class has fewer than ``per_class`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1, 2], 20)
    >>> np.bincount(y[labelled_rows(y, 3, seed=0)]).tolist()
    [3, 3, 3]
    """
    y = np.asarray(y)
    if per_class is None:
        return np.ones(len(y), dtype=bool)
    order = np.random.RandomState(seed).permutation(len(y))
    mask = np.zeros(len(y), dtype=bool)
    for cls in np.unique(y):
        rows = order[y[order] == cls]
        if len(rows) < per_class:
            raise ValueError(f"class {cls.item()!r} has {len(rows)} training rows, fewer than {per_class} to label.")
        mask[rows[:per_class]] = True
    return mask


def keep_labels(y, per_class, seed):
    """``y`` with every row but :func:`labelled_rows`' marked -1 (``y`` itself when ``per_class`` is None).

    Examples
    --------
    >>> import numpy as np
    >>> keep_labels(np.repeat([0, 1], 3), 1, seed=0).tolist()
    [-1, -1, 0, -1, -1, 1]
    """
    if per_class is None:
        return y
    return np.where(labelled_rows(y, per_class, seed), y, -1)
