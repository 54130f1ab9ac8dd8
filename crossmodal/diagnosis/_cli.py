"""``crossmodal diagnose``: :func:`crossmodal.diagnose` on tabular files.

::

    crossmodal diagnose DATA.csv --teacher-columns 'a_*' --student-columns 'b_*' --target label [--json]
    crossmodal diagnose DATA.csv --teacher-columns 'pix=pix_*' --teacher-columns 'fac=fac_*' \
        --student-columns 'fou_*' --target label
    crossmodal diagnose TEACHER.csv STUDENT.csv TARGET.csv [--json]

Files are CSV, or parquet (``.parquet``/``.pq``) when pyarrow is installed.
Column lists are comma-separated names or shell-style globs (``fnmatch``).
Several ``--teacher-columns`` groups (each optionally named ``NAME=...``)
are candidate teacher views, ranked by predicted gain. A target of -1, or
an empty cell, marks a row without a label (the few-labels regime); every
feature cell must hold a number.
"""

import fnmatch
import importlib.util
import json
import os

import numpy as np

__all__ = ["add_parser", "run"]

_PARQUET = (".parquet", ".pq")


def add_parser(commands, int_between):
    """Add the ``diagnose`` subcommand to an argparse subparsers object (``int_between(low, high)``: an int type)."""
    sub = commands.add_parser(
        "diagnose",
        help="predict whether crossmodal KD will pay off on tabular data",
        description="Cross-fitted diagnosis of crossmodal distillation from the teacher's columns (modality a) to "
        "the student's columns (modality b): gamma and shared gamma with 95% intervals, the predicted accuracy gain "
        "with its 90% interval, and a verdict. "
        "Give one file with --teacher-columns, --student-columns and --target, or three files (teacher, student, "
        "target) with the same rows in the same order.",
    )
    sub.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="one data file, or three: teacher, student, target (CSV with a header row, or parquet)",
    )
    sub.add_argument(
        "--teacher-columns",
        action="append",
        default=None,
        metavar="[NAME=]COLUMNS",
        help="comma-separated names or globs of the teacher's columns (required with one file; default with three "
        "files: all columns of the teacher file). Repeat it to rank several candidate teacher views, each "
        "optionally named NAME=COLUMNS",
    )
    sub.add_argument("--student-columns", default=None, help="the same for the student's columns")
    sub.add_argument(
        "--target",
        default=None,
        help="name of the label column (required with one file; with three files, needed only when the target "
        "file has several columns); -1 or an empty cell marks a row without a label (feature cells may not be "
        "empty)",
    )
    sub.add_argument("--cv", type=int_between(2), default=5, help="cross-fitting folds (default: 5)")
    sub.add_argument("--n-bootstrap", type=int_between(1), default=200, help="bootstrap resamples (default: 200)")
    sub.add_argument("--seed", type=int_between(0, 2**32 - 1), default=0, help="random seed (default: 0)")
    sub.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    sub.set_defaults(diagnose_parser=sub)
    return sub


def _read(parser, path, option):
    import pandas as pd

    if not os.path.isfile(path):
        parser.error(f"argument {option}: file {path!r} does not exist")
    if path.lower().endswith(_PARQUET):
        if importlib.util.find_spec("pyarrow") is None:
            parser.error(
                f"argument {option}: reading parquet file {path!r} needs pyarrow, which is not installed; "
                "install pyarrow or convert the file to CSV"
            )
        return pd.read_parquet(path)
    try:  # only an empty cell is missing: "NA", "None" or "nan" may be a class's name
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError) as exc:
        parser.error(f"argument {option}: cannot read {path!r} as CSV: {exc}")
    names = [str(c) for c in frame.columns]
    if names != [str(i) for i in range(len(names))] and all(_is_number(name) for name in names):
        parser.error(
            f"argument {option}: the first line of {path!r} holds numbers ({', '.join(names[:4])}"
            f"{', ...' if len(names) > 4 else ''}), not column names; the file needs a header row (np.savetxt "
            "writes one with header=..., comments='')"
        )
    return frame


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _all_columns(parser, frame, path, option):
    """Every column of ``frame``, the default selection; a column without a name (an index) is refused."""
    columns = [str(c) for c in frame.columns]
    unnamed = [c for c in columns if c.startswith("Unnamed: ")]
    if unnamed:
        parser.error(
            f"argument {option}: {path!r} has a column without a name ({unnamed[0]!r}, such as the index that "
            "DataFrame.to_csv writes unless index=False); name it, drop it, or choose columns with "
            "--teacher-columns and --student-columns"
        )
    return columns


def _select(parser, frame, spec, option, path):
    """Columns of ``frame`` matching the comma-separated names/globs in ``spec``, in file order."""
    columns = [str(c) for c in frame.columns]
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        parser.error(f"argument {option}: no column names given; got {spec!r}")
    chosen = set()
    for token in tokens:
        matched = [c for c in columns if c == token or fnmatch.fnmatchcase(c, token)]
        if not matched:
            shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
            parser.error(f"argument {option}: no column of {path!r} matches {token!r} (columns: {shown})")
        chosen.update(matched)
    return [c for c in columns if c in chosen]


def _numeric(parser, frame, columns, option):
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    part = frame[columns]
    bad = [c for c in columns if not is_numeric_dtype(part[c].dtype) or is_bool_dtype(part[c].dtype)]
    if bad:
        parser.error(f"argument {option}: columns must hold numbers; {bad[0]!r} has dtype {part[bad[0]].dtype}")
    values = part.to_numpy(dtype=float)
    row, col = np.nonzero(~np.isfinite(values))
    if len(row):
        parser.error(
            f"argument {option}: column {columns[col[0]]!r} has an empty or non-finite cell in data row {row[0] + 1} "
            f"({len(row)} such cells in these columns); every feature cell must hold a finite number (only the "
            "target may be empty)"
        )
    return values


def _groups(parser, frame, specs, path, default_all):
    """``{name: columns}`` of each ``--teacher-columns`` group (``NAME=COLUMNS`` or ``COLUMNS``), in order."""
    if not specs:
        return {"a": _all_columns(parser, frame, path, "FILE")} if default_all else {}
    groups = {}
    for spec in specs:
        name, sep, columns = spec.partition("=")
        name, columns = (name.strip(), columns) if sep else (spec, spec)
        if not name or name in groups:
            parser.error(f"argument --teacher-columns: each group needs its own name; got {spec!r}")
        groups[name] = _select(parser, frame, columns, "--teacher-columns", path)
    return groups


def _target(parser, frame, target):
    """The label column; an empty cell, or -1, becomes the unlabelled marker (-1 for numbers, None for strings).

    A text column's ``-1`` cells read as the string ``"-1"``: they mark rows
    without a label too. Other non-numeric cells (True/False beside empty
    cells) become their text, as the file holds them.
    """
    from pandas.api.types import is_numeric_dtype

    column = frame[target]
    missing = np.array(column.isna(), dtype=bool)
    if is_numeric_dtype(column.dtype):
        if not missing.any():
            return column.to_numpy()
        values = np.array(column, dtype=float)
        values[missing] = -1
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):  # (inf is left to diagnose's check)
            return values.astype(np.int64)
        return values
    values = column.to_numpy(dtype=object, copy=True)
    values[~missing] = [v if isinstance(v, str) else str(v) for v in values[~missing]]
    missing |= np.array([isinstance(v, str) and v.strip() == "-1" for v in values], dtype=bool)
    values[missing] = None
    return values


def _inputs(parser, args):
    if len(args.files) == 1:
        path = args.files[0]
        missing = [
            opt
            for opt, value in (
                ("--teacher-columns", args.teacher_columns),
                ("--student-columns", args.student_columns),
                ("--target", args.target),
            )
            if value is None
        ]
        if missing:
            parser.error(f"with one file, {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
        frame = _read(parser, path, "FILE")
        teachers = _groups(parser, frame, args.teacher_columns, path, False)
        student = _select(parser, frame, args.student_columns, "--student-columns", path)
        if args.target not in frame.columns:
            parser.error(f"argument --target: {args.target!r} is not a column of {path!r}")
        for option, cols in [("--teacher-columns", c) for c in teachers.values()] + [("--student-columns", student)]:
            if args.target in cols:
                parser.error(f"argument {option}: includes the target column {args.target!r}")
        both = sorted(set().union(*teachers.values()) & set(student))
        if both:
            parser.error(
                f"argument --student-columns: {both[0]!r} is also a teacher column; the two modalities "
                "must not share columns"
            )
        frames = (frame, frame, frame)
        target = args.target
    elif len(args.files) == 3:
        if len({os.path.realpath(path) for path in args.files}) < 3:
            parser.error(
                f"argument FILE: the teacher, student and target files must differ; got {args.files}. To take "
                "them from one file, give it once with --teacher-columns, --student-columns and --target"
            )
        frames = tuple(_read(parser, path, "FILE") for path in args.files)
        if len({len(f) for f in frames}) > 1:
            parser.error(
                f"argument FILE: the teacher, student and target files have {', '.join(str(len(f)) for f in frames)} "
                f"data rows ({', '.join(args.files)}); row i of each file must be the same sample"
            )
        frames = tuple(f.set_axis([str(c) for c in f.columns], axis=1) for f in frames)
        teachers = _groups(parser, frames[0], args.teacher_columns, args.files[0], True)
        student = (
            _select(parser, frames[1], args.student_columns, "--student-columns", args.files[1])
            if args.student_columns is not None
            else _all_columns(parser, frames[1], args.files[1], "FILE")
        )
        if args.target is not None:
            if args.target not in frames[2].columns:
                parser.error(f"argument --target: {args.target!r} is not a column of {args.files[2]!r}")
            target = args.target
        elif frames[2].shape[1] == 1:
            target = frames[2].columns[0]
        else:
            parser.error(
                f"argument --target: the target file {args.files[2]!r} has {frames[2].shape[1]} columns; "
                "name the label column with --target"
            )
    else:
        parser.error(f"argument FILE: give one file or three (teacher, student, target); got {len(args.files)}")
    X_a = {name: _numeric(parser, frames[0], cols, "--teacher-columns") for name, cols in teachers.items()}
    X_b = _numeric(parser, frames[1], student, "--student-columns")
    return X_a, X_b, _target(parser, frames[2], target), teachers, student, target


def run(parser, args):
    """Run ``crossmodal diagnose``; returns the exit status."""
    from crossmodal.diagnosis._diagnose import diagnose

    X_a, X_b, y, teachers, student, target = _inputs(parser, args)
    views = X_a if len(X_a) > 1 else next(iter(X_a.values()))
    try:
        result = diagnose(views, X_b, y, cv=args.cv, n_bootstrap=args.n_bootstrap, random_state=args.seed)
    except (TypeError, ValueError) as exc:
        names = "X_a: the teacher columns, X_b: the student columns, y: the target column, cv: --cv"
        parser.error(f"{exc} (in the command's terms, {names})")
    if args.json:
        out = result.to_dict()
        columns = teachers if len(teachers) > 1 else next(iter(teachers.values()))
        out.update(teacher_columns=columns, student_columns=student, target=str(target))
        print(json.dumps(out, indent=2))
    else:
        shown = ", ".join(f"{name} {len(cols)}" for name, cols in teachers.items()) if len(teachers) > 1 else None
        teacher_text = f"{len(next(iter(teachers.values())))} columns" if shown is None else f"columns {shown}"
        print(f"teacher (a): {teacher_text}; student (b): {len(student)} columns; target {target!r}")
        print(result.summary())
    return 0
