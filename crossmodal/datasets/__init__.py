"""Real multimodal datasets that ship with crossmodal; nothing is downloaded.

* :func:`load_mfeat` -- UCI Multiple Features: six views of the same 2,000
  handwritten digits, three of them blind to the 6/9 orientation
  (modality-general plus modality-specific information).
* :func:`load_av_digits` -- 3,000 MNIST images paired within class with Free
  Spoken Digit recordings (the pairs share only the label; the negative
  control of the Modality Focusing Hypothesis paper's AV-MNIST case).

Licences and citations of the data are in ``crossmodal/datasets/data/README.md``
and in each loader's ``citation`` field.
"""

from ._av_digits import load_av_digits
from ._mfeat import load_mfeat

__all__ = ["load_av_digits", "load_mfeat"]
