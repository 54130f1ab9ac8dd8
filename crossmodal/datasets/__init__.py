"""Real multimodal datasets that ship with crossmodal; nothing is downloaded.

* :func:`load_mfeat` -- UCI Multiple Features: six views of the same 2,000
  handwritten digits, three of them blind to the 6/9 orientation
  (modality-general plus modality-specific information).
* :func:`load_av_digits` -- 3,000 MNIST images paired within class with Free
  Spoken Digit recordings (the pairs share only the label; the negative
  control of the Modality Focusing Hypothesis paper's AV-MNIST case).

* :class:`MVDGenerator`, :func:`make_modality_venn` -- synthetic data drawn
  from a modality Venn diagram, with known modality-general, -specific and
  noise channels (as scikit-learn's ``make_*`` generators live beside its
  loaders).

Licences and citations of the data are in ``crossmodal/datasets/data/README.md``
and in each loader's ``citation`` field.
"""

from crossmodal.datasets._av_digits import load_av_digits
from crossmodal.datasets._mfeat import load_mfeat
from crossmodal.datasets._mvd_generator import MVDGenerator
from crossmodal.datasets._mvd_samples import make_modality_venn

__all__ = ["MVDGenerator", "load_av_digits", "load_mfeat", "make_modality_venn"]
