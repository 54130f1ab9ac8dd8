"""Reproductions of the paper's experiments, used by ``crossmodal reproduce``.

Each reproduction is a module with a ``run(out_dir, *, runs, seed, jobs,
quick, progress) -> dict`` function that writes tidy CSVs, a markdown report
and PNG figures into ``out_dir`` and returns at least ``report`` (the
markdown path), ``files`` and ``checks`` (a list of
:class:`~crossmodal.experiments._report.TrendCheck`).

* :mod:`crossmodal.experiments.synthetic` -- synthetic Gaussian data: Fig. 2,
  Fig. 3 and Table 2 of Xue et al. (ICLR 2023).
* :mod:`crossmodal.experiments.ranking` -- focused teachers on real data, the
  paper's RAVDESS protocol (Tables 4 and 8, Fig. 5).
* :mod:`crossmodal.experiments.case_study` -- is crossmodal KD always
  effective? The AV-MNIST case study (Table 1) on the bundled spoken +
  written digits.
* :mod:`crossmodal.experiments.diagnose` -- does :func:`crossmodal.diagnose`
  predict KD's pay-off? On MVD data (estimated against true ``gamma``, predicted
  against measured KD gain) and on the bundled real data (mfeat, av-digits).
* :mod:`crossmodal.experiments.transfer` -- few labels, many pairs:
  label-budget curves of students distilled on every pair against students
  trained on the labels alone, with :func:`crossmodal.diagnose` beside each
  measured gain.
* :mod:`crossmodal.experiments.methods` -- the crossmodal KD methods
  (every objective of :class:`crossmodal.CrossModalDistiller`, and the
  paper's modality-general teacher) compared on the shipped view pairs.

An experiment's parts live beside it: the paper's synthetic protocol
(:mod:`~crossmodal.experiments._synthetic_protocol`, shared with
``diagnose``) and the synthetic report
(:mod:`~crossmodal.experiments._synthetic_report`); the ranking protocol
and report (:mod:`~crossmodal.experiments._ranking_protocol`,
:mod:`~crossmodal.experiments._ranking_report`); ``diagnose``'s MVD and
real-data parts and report (:mod:`~crossmodal.experiments._diagnose_mvd`,
:mod:`~crossmodal.experiments._diagnose_real`,
:mod:`~crossmodal.experiments._diagnose_report`).

Shared helpers, one concept each: :mod:`~crossmodal.experiments._reproduction`
(what a ``run`` declares: name, default runs, documentation),
:mod:`~crossmodal.experiments._output` (one call's clock, output folder,
files and result),
:mod:`~crossmodal.experiments._runs` (repeated runs through joblib),
:mod:`~crossmodal.experiments._views` (views standardised on the training
rows), :mod:`~crossmodal.experiments._summaries` (means, sd, paired
differences over runs and rank correlation), :mod:`~crossmodal.experiments._report` (markdown
tables, trend checks with their sources, CSV and report files),
:mod:`~crossmodal.experiments._figures` (PNG figures), and the batched
trainers of many small models, :mod:`~crossmodal.experiments._batched_linear`
and :mod:`~crossmodal.experiments._batched_mlp`. Submodules are imported on
demand (they load torch).
"""
