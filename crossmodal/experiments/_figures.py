"""PNG figures of the reproductions, with +-1 sd bands.

Figures are drawn on an explicit Agg canvas, so no global matplotlib backend
is selected and no window ever opens.
"""

import os

import numpy as np

from crossmodal.experiments._summaries import paired_difference, summarize

__all__ = ["new_figure", "new_grid", "plot_band", "save_figure", "plot_sweep"]


def new_figure(ncols=1, *, width=4.8, height=3.6):
    """A matplotlib Figure on an Agg canvas with ``ncols`` axes side by side.

    No backend is selected globally and pyplot is not used, so this works
    headless and leaves the caller's matplotlib state alone.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : list of Axes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def new_grid(n_axes, ncols, *, width=4.0, height=3.2):
    """Like :func:`new_figure`, with ``n_axes`` axes on rows of ``ncols``; returns the figure and the axes used.

    Axes of the last row beyond ``n_axes`` are not created.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    nrows = -(-int(n_axes) // int(ncols))
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(nrows, ncols, i + 1) for i in range(n_axes)]


def plot_band(ax, x, mean, sd, *, label, color=None, marker="o", linestyle="-", scale=100.0):
    """Plot ``mean`` against ``x`` with a shaded +-1 sd band (scaled to percent)."""
    x = np.asarray(x, dtype=float)
    mean = np.asarray(mean, dtype=float) * scale
    sd = np.nan_to_num(np.asarray(sd, dtype=float) * scale)
    (line,) = ax.plot(x, mean, marker=marker, linestyle=linestyle, label=label, color=color)
    ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def save_figure(fig, path, dpi=120):
    """Save a figure made by :func:`new_figure` as PNG and return the path."""
    fig.savefig(path, dpi=dpi)
    return os.fspath(path)


def plot_sweep(
    frame, x, curves, path, *, differences=None, xlabel=None, title=None, ylabel="accuracy (%)", scale=100.0
):
    """PNG of a sweep: curves with +-1 sd bands, and optionally paired differences.

    Parameters
    ----------
    frame : DataFrame
        Tidy results.
    x : str
        Column on the horizontal axis (the sweep variable).
    curves : dict of {label: column}
        Left panel: mean +- sd of each column against ``x``.
    path : path-like
        Output PNG.
    differences : dict of {label: (minuend, subtrahend)}, optional
        Right panel: paired differences (mean +- sd) with a zero line.
    xlabel, title, ylabel : str, optional
        Axis labels and figure title.
    scale : float, default=100.0
        Multiplier of every value (percent by default).

    Returns
    -------
    str
        The path written.
    """
    fig, axes = new_figure(2 if differences else 1)
    summary = summarize(frame, [x], list(curves.values())).sort_values(x)
    for label, col in curves.items():
        plot_band(axes[0], summary[x], summary[f"{col}_mean"], summary[f"{col}_sd"], label=label, scale=scale)
    axes[0].set_ylabel(ylabel)
    if differences:
        for label, (a, b) in differences.items():
            d = paired_difference(frame, [x], a, b).sort_values(x)
            plot_band(axes[1], d[x], d["diff_mean"], d["diff_sd"], label=label, scale=scale)
        axes[1].axhline(0.0, color="0.4", linewidth=0.8, linestyle="--")
        axes[1].set_ylabel("paired difference (points)")
    for ax in axes:
        ax.set_xlabel(xlabel or x)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
