"""The rows a reproduction trains, validates and tests on, and the labels it keeps."""

import numpy as np
import pytest

from crossmodal.experiments._rows import keep_labels, labelled_rows, split_rows


@pytest.mark.parametrize("test_share", [0.5, 1 / 3])
def test_validation_never_reads_a_test_row(test_share):
    y = np.repeat(np.arange(3), 40)
    train, test = split_rows(y, 0, test_share=test_share)
    fit, val = split_rows(y, 0, validation=True, test_share=test_share)
    assert set(fit) | set(val) == set(train) and not set(fit) & set(val)
    assert not set(val) & set(test) and not set(fit) & set(test)
    assert len(test) == round(test_share * len(y))


def test_labels_kept_exactly_per_class_and_nested_across_budgets():
    y = np.repeat(np.arange(3), 40)
    for budget in (1, 7, 40):
        assert np.bincount(y[labelled_rows(y, budget, seed=2)]).tolist() == [budget] * 3
    assert np.all(labelled_rows(y, 7, seed=2) <= labelled_rows(y, 20, seed=2))  # a smaller budget is inside a larger
    kept = keep_labels(y, 7, seed=2)
    np.testing.assert_array_equal(kept[kept >= 0], y[kept >= 0])  # a kept label is the row's own
    assert np.sum(kept == -1) == len(y) - 21
    assert keep_labels(y, None, seed=2) is y
    with pytest.raises(ValueError, match=r"class 0 has 40 training rows, fewer than 41"):
        labelled_rows(y, 41, seed=0)
