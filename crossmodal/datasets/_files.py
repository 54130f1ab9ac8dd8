"""The data files shipped inside the package (``crossmodal/datasets/data``); nothing is downloaded."""

import contextlib
import importlib.resources

import numpy as np

__all__ = ["open_data_file"]


@contextlib.contextmanager
def open_data_file(name):
    """Open one of the ``.npz`` archives shipped in ``crossmodal/datasets/data`` (a context manager)."""
    ref = importlib.resources.files("crossmodal.datasets").joinpath("data", name)
    with importlib.resources.as_file(ref) as path, np.load(path) as npz:
        yield npz
