"""Tests of ``crossmodal reproduce case-study`` and of the skeleton every reproduction's ``run`` shares.

The real runs train MLPs on av-digits; the gallery example runs them
(tests/test_examples.py). Here the frame is made up, so the checks and the
writing are tested on known numbers.
"""

import inspect
import os

import numpy as np
import pandas as pd
import pytest

from crossmodal.__main__ import EXPERIMENTS, load_experiment
from crossmodal.experiments import case_study
from crossmodal.experiments._reproduction import Entry

COLUMNS = ["teacher_umkd_acc", "teacher_cmkd_acc", "student_nokd_acc", "student_umkd_acc", "student_cmkd_acc"]


def _frame(student_gap, runs=5):
    rng = np.random.default_rng(1)
    base = 0.7 + rng.normal(0, 0.01, runs)
    return pd.DataFrame(
        dict(
            run=range(runs),
            seed=range(runs),
            rho=0.5,
            teacher_umkd_acc=0.85,
            teacher_cmkd_acc=0.9,
            student_nokd_acc=base - 0.01,
            student_umkd_acc=base,
            student_cmkd_acc=base + student_gap + rng.normal(0, 0.002, runs),
        )
    )


def test_checks_follow_the_paired_interval():
    ahead = case_study.check_trends(_frame(0.02))
    assert [c.verdict for c in ahead] == ["PASS", "FAIL"]  # CM-KD's student better with 95% confidence
    gap = 100 * (_frame(0.02)["student_cmkd_acc"] - _frame(0.02)["student_umkd_acc"])
    assert f"(share of seeds > 0)): {gap.mean():+.2f} [" in ahead[1].observed
    assert [c.verdict for c in case_study.check_trends(_frame(-0.01))] == ["PASS", "PASS"]
    level = _frame(0.0)
    level["student_cmkd_acc"] = level["student_umkd_acc"] + [0.004, -0.003, 0.002, -0.004, 0.002]
    assert case_study.check_trends(level)[1].verdict == "PASS"  # mean +0.02 points, the interval holds 0


def test_run_writes_csv_report_and_figure(tmp_path, monkeypatch):
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return _frame(-0.01, runs=kwargs["runs"])

    monkeypatch.setattr(case_study, "run_case_study", fake)
    result = case_study.run(tmp_path / "out", quick=True, seed=3)
    assert seen["runs"] == 2 and seen["seed"] == 3 and seen["epochs"] == case_study.QUICK_EPOCHS
    assert [os.path.basename(f) for f in result["files"]] == ["case_study.csv", "case_study.png", "report.md"]
    assert result["report"] == result["files"][-1] and result["seconds"] >= 0
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "out" / "case_study.csv")[COLUMNS], result["frame"][COLUMNS], rtol=1e-9
    )
    text = open(result["report"], encoding="utf-8").read()
    assert "QUICK RUN" in text and "2 seeds" in text and "| CM-KD " in text
    for check in result["checks"]:
        assert f"- {check.line()}" in text
    assert (tmp_path / "out" / "case_study.png").read_bytes()[:4] == b"\x89PNG"
    case_study.run(tmp_path / "full", runs=4)
    assert seen["runs"] == 4 and seen["epochs"] == 40
    one = case_study.run(tmp_path / "one", runs=1)  # one seed: no sd, the figure has no error bars
    assert (tmp_path / "one" / "case_study.png").read_bytes()[:4] == b"\x89PNG" and len(one["frame"]) == 1


def test_entry_resolves_runs_and_documents_run():
    entry = Entry("demo", runs=7, quick_runs=3, quick="Fewer settings.", returns="``frame``")
    assert [entry.start("o", runs, quick).runs for runs, quick in ((None, False), (None, True), (2, True))] == [7, 3, 2]
    for runs in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match=f"runs must be an integer >= 1; got {runs!r}"):
            entry.start("o", runs, False)

    @entry.document
    def run(out_dir, *, runs=None, seed=0, jobs=None, quick=False, progress=False):
        """Do the demo."""

    doc = inspect.getdoc(run)
    assert doc.startswith("Do the demo.\n\nThis is the ``demo`` entry of ``crossmodal reproduce``.")
    assert "``None`` means 7, or 3 with ``quick``." in doc and "Fewer settings. The report says" in doc
    assert doc.rstrip().endswith("``frame``.")


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_run_documents_every_parameter(name):
    run = load_experiment(name)
    doc = inspect.getdoc(run)
    for parameter in inspect.signature(run).parameters:
        assert f"\n{parameter} : " in doc
    assert f"``{name}`` entry of ``crossmodal reproduce``" in doc
