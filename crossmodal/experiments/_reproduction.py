"""The skeleton every reproduction's ``run(out_dir, ...)`` shares.

``crossmodal reproduce NAME`` calls ``run(out_dir, *, runs, seed, jobs,
quick, progress)`` of each experiment module. What that function does around
its own science is the same everywhere and lives here: its documented
parameters (:meth:`Entry.document`), the default number of runs, the clock,
the output folder, the files written into it and the dictionary returned
(:class:`Output`).
"""

import dataclasses
import inspect
import os
import time

from ._figures import save_figure
from ._report import write_csv, write_report

__all__ = ["Entry", "Output"]

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
        text = _PARAMETERS.format(name=self.name, runs=self.runs, quick_runs=self.quick_runs, quick=self.quick,
                                  returns=returns)
        run.__doc__ = inspect.cleandoc(run.__doc__ or "") + "\n" + text
        return run

    def start(self, out_dir, runs, quick):
        """Start the clock of one call: an :class:`Output` with ``runs`` resolved."""
        resolved = (self.quick_runs if quick else self.runs) if runs is None else int(runs)
        return Output(out_dir, runs=resolved, quick=bool(quick))


class Output:
    """One call of a reproduction's ``run``: clock, output folder, files and result.

    The clock starts when the object is made; :meth:`computed` stops it and
    creates the folder, so ``seconds`` counts the runs and not the writing.
    Every file goes into ``files`` in the order written.

    Parameters
    ----------
    out_dir : path-like
        Output folder.
    runs : int
        Runs per setting of this call.
    quick : bool
        Whether this is a ``--quick`` run (the report says so).
    """

    def __init__(self, out_dir, *, runs, quick):
        self.out_dir = os.fspath(out_dir)
        self.runs = runs
        self.quick = quick
        self.files = []
        self.report_path = None
        self.seconds = None
        self._start = time.perf_counter()

    def computed(self):
        """Stop the clock and create the output folder; returns the seconds spent."""
        self.seconds = time.perf_counter() - self._start
        os.makedirs(self.out_dir, exist_ok=True)
        return self.seconds

    def path(self, name):
        """Path of the file ``name`` in the output folder."""
        return os.path.join(self.out_dir, name)

    def add(self, path):
        """Record a file written into the folder by other code; returns its path."""
        self.files.append(os.fspath(path))
        return self.files[-1]

    def written(self, files, report):
        """Record what a writer of its own put into the folder: ``files``, ``report`` among them."""
        self.files.extend(os.fspath(f) for f in files)
        self.report_path = os.fspath(report)

    def csv(self, frame, name):
        """Write a tidy frame as ``name`` (:func:`~._report.write_csv`)."""
        return self.add(write_csv(frame, self.path(name)))

    def figure(self, fig, name):
        """Save a figure as ``name`` (:func:`~._report.save_figure`)."""
        return self.add(save_figure(fig, self.path(name)))

    def report(self, title, sections, *, preamble=""):
        """Write ``report.md`` (:func:`~._report.write_report`, with this call's quick banner)."""
        self.report_path = self.add(write_report(self.path("report.md"), title, sections, quick=self.quick,
                                                 preamble=preamble))
        return self.report_path

    def result(self, checks, **extra):
        """The dictionary ``run`` returns: ``report``, ``files``, ``checks``, ``seconds`` and ``extra``."""
        return dict(report=self.report_path, files=list(self.files), checks=checks, seconds=self.seconds, **extra)
