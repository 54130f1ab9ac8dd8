"""The output of one call of a reproduction's ``run``: clock, folder, files and result."""

import os
import time

from crossmodal.experiments._figures import save_figure
from crossmodal.experiments._report import write_csv, write_report

__all__ = ["Output"]


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
        """Save a figure as ``name`` (:func:`~._figures.save_figure`)."""
        return self.add(save_figure(fig, self.path(name)))

    def report(self, title, sections, *, preamble=""):
        """Write ``report.md`` (:func:`~._report.write_report`, with this call's quick banner)."""
        self.report_path = self.add(
            write_report(self.path("report.md"), title, sections, quick=self.quick, preamble=preamble)
        )
        return self.report_path

    def result(self, checks, **extra):
        """The dictionary ``run`` returns: ``report``, ``files``, ``checks``, ``seconds`` and ``extra``."""
        return dict(report=self.report_path, files=list(self.files), checks=checks, seconds=self.seconds, **extra)
