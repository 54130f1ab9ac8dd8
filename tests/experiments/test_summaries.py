"""The report helpers' statistics (crossmodal/experiments/_summaries.py)."""

import numpy as np


def test_spearman_ties_values_that_differ_in_their_last_bits():
    from crossmodal.experiments._summaries import spearman

    tied = spearman([0.5, 0.5, 1.0], [1, 2, 3])
    # 0.5 and its neighbour 5e-10 above, on either side of a rounding boundary, still tie
    assert spearman([0.5, np.nextafter(0.5000000005, 1.0), 1.0], [1, 2, 3]) == tied
    assert spearman([0.1 + 0.2, 0.3, 1.0], [1, 2, 3]) == tied
    assert spearman([0.5, 0.5 + 1e-6, 1.0], [1, 2, 3]) == 1.0  # beyond 1e-9: ranked
    assert np.isnan(spearman([0.5, np.nan, 1.0], [1, 2, 3]))
