"""Run every gallery example (``examples/plot_*.py``) as a plain script at small size.

Each example reads ``CROSSMODAL_EXAMPLE_SCALE`` and shrinks its runs, epochs
and sample sizes with it; here it runs in a fresh interpreter, as a user would
run it, with the non-interactive ``Agg`` backend so ``plt.show()`` returns at
once. New examples are picked up by the glob. Most of each run's time is the
interpreter start (importing torch, skorch, scikit-learn) rather than the
example's own work.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))
SCALE = "0.05"
TIMEOUT_S = 180

# Lines an example prints whatever its numbers: they show that it got to its
# end with the objects it meant to build, not merely that it exited with 0.
EXPECTED_OUTPUT = {
    "plot_mvd_generator.py": ["general columns equal: True", "gamma=1.000  accuracy on X_b="],
    "plot_reproduce_synthetic.py": ["gain_mean"],
    "plot_distiller.py": [
        "low gamma: overlap 0, gamma=0.00",
        "high gamma: overlap 10, gamma=1.00",
        "pipeline student accuracy:",
        "best rho:",
    ],
    "plot_ranker.py": [
        "X_a (200, 50): 10 general, 10 specific, 30 noise",
        "ROC AUC of the salience",
        "transform gives (200, 50), 25 columns set to their mean",
        "modality-specific",
    ],
    "plot_reproduce_ranking.py": [
        "teacher view pix (2000, 240), student view fou (2000, 76), 10 classes",
        "modality-general - modality-specific student:",
    ],
    "plot_reproduce_case_study.py": ["image (3000, 784), audio (3000, 286)", "CM-KD - UM-KD: teacher"],
    "plot_diagnose.py": [
        "teacher's share 1.00 (diagram gamma 1.00): estimated",
        "predicted gain of KD",
        "fou -> fac: predicted",
    ],
    "plot_transfer.py": [
        "100 of them labelled",
        "pix -> fou: labels only",
        "zer -> pix: predicted gain",
        "settings (rho, temperature, epochs) of KD on every pair",
    ],
}


def test_examples_are_found():
    names = {path.name for path in EXAMPLES}
    assert set(EXPECTED_OUTPUT) <= names, f"missing examples: {sorted(set(EXPECTED_OUTPUT) - names)}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_follows_gallery_conventions(path):
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    assert docstring is not None, f"{path.name} has no module docstring"
    lines = docstring.strip().splitlines()
    assert len(lines) >= 3 and set(lines[0]) == {"="} and set(lines[2]) == {"="}, (
        f"{path.name}: the docstring must open with a title between '=' rules, got {lines[:3]}"
    )
    assert "# %%" in source, f"{path.name} has no '# %%' cells"
    assert "CROSSMODAL_EXAMPLE_SCALE" in source, f"{path.name} ignores CROSSMODAL_EXAMPLE_SCALE"
    assert "matplotlib.use(" not in source, f"{path.name} selects a matplotlib backend; leave that to the user"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_at_small_scale(path, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", CROSSMODAL_EXAMPLE_SCALE=SCALE)
    result = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert result.returncode == 0, (
        f"{path.name} exited with {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    for expected in EXPECTED_OUTPUT.get(path.name, []):
        assert expected in result.stdout, f"{path.name} did not print {expected!r}; stdout:\n{result.stdout}"
    assert list(tmp_path.iterdir()) == [], f"{path.name} wrote files into the working directory"
