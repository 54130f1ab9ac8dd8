"""The ``crossmodal`` command line.

::

    crossmodal reproduce [EXPERIMENT ...] [--runs N] [--seed S] [--jobs J]
                         [--quick] [--out DIR] [--quiet] [--strict]
    crossmodal diagnose FILE [FILE FILE] [--teacher-columns A] [--student-columns B]
                        [--target Y] [--cv K] [--n-bootstrap B] [--seed S] [--json]
    crossmodal --version
    python -m crossmodal ...

``reproduce`` runs the paper reproductions named in :data:`EXPERIMENTS`
(all available ones when no name is given), each into ``DIR/<name>/``, and
prints each report's path and its trend checks; with ``--strict`` it exits
with status 1 when a trend check fails. Each experiment is a
``run(out_dir, *, runs, seed, jobs, quick, progress) -> dict`` callable
returning at least ``report``, ``files`` and ``checks``.
"""

import argparse
import importlib
import os
import sys
import tempfile
import time

from crossmodal import __version__
from crossmodal.diagnosis import _cli as _diagnose_cli

__all__ = ["main", "EXPERIMENTS", "available_experiments", "load_experiment"]

#: Experiment name -> module that defines ``run``; every one ships with the package.
EXPERIMENTS = {
    "synthetic": "crossmodal.experiments.synthetic",
    "ranking": "crossmodal.experiments.ranking",
    "case-study": "crossmodal.experiments.case_study",
    "diagnose": "crossmodal.experiments.diagnose",
    "transfer": "crossmodal.experiments.transfer",
    "methods": "crossmodal.experiments.methods",
}


def available_experiments():
    """Names of the registered experiments, in the order ``reproduce`` runs them."""
    return list(EXPERIMENTS)


def load_experiment(name):
    """The ``run`` callable of experiment ``name``, imported on demand (import errors propagate)."""
    return importlib.import_module(EXPERIMENTS[name]).run


def int_between(low, high=None):
    """An argparse type: an integer in ``[low, high]`` (no upper bound when ``high`` is None)."""
    required = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {required}; got {text!r}")
        return value

    return parse


# numpy's seeds: 0 to 2**32 - 1.
_SEED_MAX = 2**32 - 1
_seed = int_between(0, _SEED_MAX)


def _out(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder; got an empty path")
    return text


def _jobs(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or -1 (all cores); got {text!r}")
    return value


def build_parser():
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="crossmodal",
        description="Crossmodal knowledge distillation after the Modality Focusing Hypothesis (Xue et al., ICLR 2023).",
    )
    parser.add_argument("--version", action="version", version=f"crossmodal {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = available_experiments()
    rep = commands.add_parser(
        "reproduce",
        help="reproduce the paper's experiments",
        description="Reproduce the paper's experiments: tidy CSVs, a markdown report with trend checks, "
        "and PNG figures per experiment, written to OUT/<experiment>/. With no experiment name, every "
        "available experiment runs.",
    )
    rep.add_argument(
        "experiments",
        nargs="*",
        metavar="EXPERIMENT",
        help=f"which experiments to run (choose from {', '.join(names)}; default: all)",
    )
    rep.add_argument(
        "--runs",
        type=int_between(1),
        default=None,
        help=(
            "independent runs per setting (default: each experiment's own, with --quick in brackets: "
            "synthetic 10 (3), diagnose 3 (2), the others 5 (2))"
        ),
    )
    rep.add_argument("--seed", type=_seed, default=0, help="base seed; run r uses seed + r (default: 0)")
    rep.add_argument(
        "--jobs",
        type=_jobs,
        default=-1,
        help="parallel workers over runs, -1 for all cores; results do not depend on it (default: -1)",
    )
    rep.add_argument(
        "--quick", action="store_true", help="a reduced run (fewer runs, epochs and settings) to check the pipeline"
    )
    rep.add_argument(
        "--out", type=_out, default="crossmodal_reproduce", help="output folder (default: ./crossmodal_reproduce)"
    )
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when any trend check fails (N/A checks, not evaluated, do not "
        "count); default: status 0 whatever the checks say",
    )
    _diagnose_cli.add_parser(commands, int_between)
    return parser


def _command_parser(parser, command):
    """The sub-parser of ``command`` (its usage goes with its errors), or ``parser`` itself."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def _reproduce(parser, args):
    names = available_experiments()
    chosen = list(dict.fromkeys(args.experiments)) or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        parser.error(f"argument EXPERIMENT: invalid choice: {unknown[0]!r} (choose from {', '.join(names)})")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"argument --out: {args.out!r} exists and is not a directory")
    for name in chosen:
        entry = importlib.import_module(EXPERIMENTS[name]).ENTRY
        runs = args.runs or (entry.quick_runs if args.quick else entry.runs)
        if args.seed + runs - 1 > _SEED_MAX:
            parser.error(
                f"argument --seed: run r uses seed + r, so seed + runs - 1 must be <= {_SEED_MAX}; got seed "
                f"{args.seed} with {runs} runs of {name}"
            )
        # Before any computation: a folder that cannot be written would lose the experiment's results.
        out_dir = os.path.join(args.out, name)
        try:
            os.makedirs(out_dir, exist_ok=True)
            with tempfile.TemporaryFile(dir=out_dir):
                pass
        except OSError as exc:
            parser.error(f"argument --out: cannot write into {out_dir!r} ({exc.strerror or exc})")
    progress = not args.quiet and sys.stderr.isatty()
    failed = 0
    for name in chosen:
        run = load_experiment(name)
        out_dir = os.path.join(args.out, name)
        start = time.perf_counter()
        print(f"crossmodal reproduce {name}{' (quick)' if args.quick else ''} -> {out_dir}", flush=True)
        if os.path.exists(os.path.join(out_dir, "report.md")):
            print(f"  replacing the results already in {out_dir}", flush=True)
        result = run(out_dir, runs=args.runs, seed=args.seed, jobs=args.jobs, quick=args.quick, progress=progress)
        for check in result.get("checks", ()):
            print("  " + check.line())
            failed += check.passed is False
        print(f"  report: {result['report']} ({time.perf_counter() - start:.1f} s)", flush=True)
    if failed:
        print(f"{failed} trend check(s) did not meet their target; see the report(s).")
    return 1 if args.strict and failed else 0


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 1 with ``reproduce --strict`` when a trend check
        fails. Bad arguments exit through :class:`SystemExit` with status 2,
        the usage of the command they were given to and a message naming
        the argument.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    crossmodal 0.1.0
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None and not extra:
        parser.print_help(sys.stderr)
        parser.exit(2, "crossmodal: error: a command is required (try: crossmodal reproduce --quick)\n")
    command_parser = _command_parser(parser, args.command)
    if args.command == "reproduce":
        # Experiment names may follow options (``reproduce synthetic --quick ranking``), which a subparser's
        # plain parse does not take; the top-level parser has no options besides --help and --version.
        argv = sys.argv[1:] if argv is None else list(argv)
        rest = argv[argv.index("reproduce") + 1 :]
        args = command_parser.parse_intermixed_args(rest, namespace=argparse.Namespace(command="reproduce"))
        extra = []
    if extra:
        command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "diagnose":
        return _diagnose_cli.run(args.diagnose_parser, args)
    return _reproduce(command_parser, args)


if __name__ == "__main__":
    sys.exit(main())
