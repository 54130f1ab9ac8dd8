"""What every reproduction's ``run(out_dir, ...)`` declares: its name, default runs and documentation.

``crossmodal reproduce NAME`` calls ``run(out_dir, *, runs, seed, jobs,
quick, progress)`` of each experiment module. The parts of that function
that are the same everywhere live here (:class:`Entry`: the documented
parameters and the default number of runs) and in
:mod:`crossmodal.experiments._output` (the clock, the output folder, the
files written and the dictionary returned).
"""

import dataclasses
import inspect

from crossmodal._utils.validation import check_positive_int
from crossmodal.experiments._output import Output

__all__ = ["Entry"]

_PARAMETERS = """
This is the ``{name}`` entry of ``crossmodal reproduce``.

Parameters
----------
out_dir : path-like
    Output folder (created if needed).
runs : int or None, default=None
    Runs (seeds) per setting; ``None`` means {runs}, or {quick_runs} with ``quick``.
seed : int, default=0
    Base seed; run ``r`` uses the seed ``seed + r``, whichever worker runs it.
jobs : int or None, default=None
    joblib workers over runs.
quick : bool, default=False
    {quick} The report says it is a quick run.
progress : bool, default=False
    Show tqdm progress bars.

Returns
-------
dict
    ``report`` (the markdown path), ``files`` (every file written, the
    report last), ``checks`` (a list of
    :class:`~crossmodal.experiments._report.TrendCheck`), ``seconds`` (the
    time spent computing, before anything is written){returns}.
"""


@dataclasses.dataclass(frozen=True)
class Entry:
    """What one reproduction's ``run`` sets: its name, default runs and quick settings.

    Parameters
    ----------
    name : str
        The name on the command line (``crossmodal reproduce NAME``).
    runs, quick_runs : int
        Runs per setting without and with ``quick`` when ``runs=None``.
    quick : str
        What ``quick=True`` reduces, one or two sentences.
    returns : str, default=""
        The keys the result holds beyond the shared ones, as markdown.
    """

    name: str
    runs: int
    quick_runs: int
    quick: str
    returns: str = ""

    def document(self, run):
        """Decorator: append the shared parameters and return value to ``run``'s own summary."""
        returns = f"; {self.returns}" if self.returns else ""
        text = _PARAMETERS.format(
            name=self.name, runs=self.runs, quick_runs=self.quick_runs, quick=self.quick, returns=returns
        )
        run.__doc__ = inspect.cleandoc(run.__doc__ or "") + "\n" + text
        return run

    def start(self, out_dir, runs, quick):
        """Start the clock of one call: an :class:`Output` with ``runs`` resolved."""
        resolved = (self.quick_runs if quick else self.runs) if runs is None else check_positive_int(runs, "runs")
        return Output(out_dir, runs=resolved, quick=bool(quick))
