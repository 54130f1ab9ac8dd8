"""Tests of ``crossmodal diagnose`` (crossmodal/diagnosis/_cli.py)."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from crossmodal import __main__ as cli
from crossmodal import diagnose, make_modality_venn


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("diagnose_cli")
    X_a, X_b, y = make_modality_venn(
        200, n_general=4, n_specific_a=2, n_specific_b=2, n_noise_a=4, n_noise_b=4, random_state=0
    )
    a = pd.DataFrame(X_a).add_prefix("a_")
    b = pd.DataFrame(X_b).add_prefix("b_")
    one = pd.concat([a, b], axis=1).assign(label=y, name="row")
    paths = {
        "one": root / "one.csv",
        "a": root / "a.csv",
        "b": root / "b.csv",
        "y": root / "y.csv",
        "y2": root / "y2.csv",
        "nan": root / "nan.csv",
        "short": root / "short.csv",
        "zeros": root / "zeros.csv",
    }
    one.to_csv(paths["one"], index=False)
    a.to_csv(paths["a"], index=False)
    b.to_csv(paths["b"], index=False)
    pd.DataFrame({"label": y}).to_csv(paths["y"], index=False)
    pd.DataFrame({"label": y, "other": y}).to_csv(paths["y2"], index=False)
    one.assign(a_1=one["a_1"].mask(one.index.isin([5, 9]))).to_csv(paths["nan"], index=False)
    b.iloc[:190].to_csv(paths["short"], index=False)
    pd.DataFrame({"label": np.zeros(len(y), dtype=int)}).to_csv(paths["zeros"], index=False)
    return {k: str(v) for k, v in paths.items()}, (X_a, X_b, y)


def test_one_file_with_globs_prints_the_summary(tables, capsys):
    paths, _ = tables
    assert (
        cli.main(
            [
                "diagnose",
                paths["one"],
                "--teacher-columns",
                "a_*",
                "--student-columns",
                "b_*",
                "--target",
                "label",
                "--n-bootstrap",
                "20",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "teacher (a): 10 columns; student (b): 10 columns; target 'label'" in out
    assert "verdict:" in out and "gamma" in out


def test_json_matches_the_function_and_three_files_match_one(tables, capsys):
    paths, (X_a, X_b, y) = tables
    cli.main(["diagnose", paths["a"], paths["b"], paths["y"], "--json", "--seed", "3", "--n-bootstrap", "20"])
    three = json.loads(capsys.readouterr().out)
    cli.main(
        [
            "diagnose",
            paths["one"],
            "--teacher-columns",
            "a_*",
            "--student-columns",
            "b_0,b_1*,b_[2-9]*",
            "--target",
            "label",
            "--json",
            "--seed",
            "3",
            "--n-bootstrap",
            "20",
        ]
    )
    one = json.loads(capsys.readouterr().out)
    expected = diagnose(X_a, X_b, y, n_bootstrap=20, random_state=3).to_dict()
    # The CSV round trip may change a float's last digit (pandas' parser
    # before 2.0 is not round-trip exact): numbers agree to 1e-9, the rest exactly.
    for key, value in expected.items():
        numeric = isinstance(value, float) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, float) for v in value)
        )
        assert three[key] == pytest.approx(value, rel=1e-9) if numeric else three[key] == value, key
    assert one["student_columns"] == three["student_columns"] == [f"b_{i}" for i in range(10)]
    assert one["gamma"] == pytest.approx(three["gamma"], rel=1e-9)
    assert {"shared_gamma", "shared_gamma_ci"} <= set(three)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["{one}", "--teacher-columns", "x_*", "--student-columns", "b_*", "--target", "label"],
            "argument --teacher-columns: no column of '{one}' matches 'x_*' (columns: a_0",
        ),
        (["{one}", "--teacher-columns", "a_*", "--student-columns", "b_*"], "with one file, --target is required"),
        (["{one}", "--target", "label"], "with one file, --teacher-columns, --student-columns are required"),
        (
            ["{one}", "--teacher-columns", "a_*", "--student-columns", "b_*", "--target", "lbl"],
            "argument --target: 'lbl' is not a column of '{one}'",
        ),
        (
            ["{one}", "--teacher-columns", "a_*,label", "--student-columns", "b_*", "--target", "label"],
            "argument --teacher-columns: includes the target column 'label'",
        ),
        (
            ["{one}", "--teacher-columns", "a_*", "--student-columns", "a_0,b_*", "--target", "label"],
            "argument --student-columns: 'a_0' is also a teacher column",
        ),
        (
            ["{one}", "--teacher-columns", "a_*,name", "--student-columns", "b_*", "--target", "label"],
            "argument --teacher-columns: columns must hold numbers; 'name' has dtype",
        ),
        (
            ["{one}", "--teacher-columns", " , ", "--student-columns", "b_*", "--target", "label"],
            "argument --teacher-columns: no column names given",
        ),
        (
            [
                "{one}",
                "--teacher-columns",
                "a_0",
                "--teacher-columns",
                "a_0",
                "--student-columns",
                "b_*",
                "--target",
                "label",
            ],
            "argument --teacher-columns: each group needs its own name; got 'a_0'",
        ),
        (
            ["{one}", "--teacher-columns", "=a_*", "--student-columns", "b_*", "--target", "label"],
            "argument --teacher-columns: each group needs its own name; got '=a_*'",
        ),
        (["{a}", "{b}"], "argument FILE: give one file or three (teacher, student, target); got 2"),
        (["{a}", "{b}", "{y2}"], "argument --target: the target file '{y2}' has 2 columns"),
        (["{a}", "{b}", "{y}", "--target", "nope"], "argument --target: 'nope' is not a column of '{y}'"),
        (
            ["missing.csv", "--teacher-columns", "a", "--student-columns", "b", "--target", "y"],
            "argument FILE: file 'missing.csv' does not exist",
        ),
        (
            ["{one}", "--teacher-columns", "a_*", "--student-columns", "b_*", "--target", "label", "--cv", "0"],
            "argument --cv: must be an integer >= 2; got '0'",
        ),
        (
            ["{one}", "--teacher-columns", "a_*", "--student-columns", "b_*", "--target", "label", "--cv", "1"],
            "argument --cv: must be an integer >= 2; got '1'",
        ),
        (
            ["{one}", "--teacher-columns", "a_*", "--student-columns", "b_*", "--target", "label", "--seed", "-1"],
            "argument --seed: must be an integer from 0 to 4294967295; got '-1'",
        ),
        (
            ["{one}", "{one}", "{one}", "--target", "label"],
            "argument FILE: the teacher, student and target files must differ",
        ),
        (
            ["{nan}", "--teacher-columns", "a_*", "--student-columns", "b_*", "--target", "label"],
            "argument --teacher-columns: column 'a_1' has an empty or non-finite cell in data row 6 (2 such cells",
        ),
        (
            ["{a}", "{short}", "{y}"],
            "argument FILE: the teacher, student and target files have 200, 190, 200 data rows",
        ),
        (
            ["{a}", "{b}", "{zeros}"],
            "y has 1 class ([0]); a classifier needs at least 2 classes. (in the command's terms, X_a: the "
            "teacher columns, X_b: the student columns, y: the target column, cv: --cv)",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(tables, argv, message, capsys):
    paths, _ = tables
    argv = [a.format(**paths) for a in argv]
    with pytest.raises(SystemExit) as exc:
        cli.main(["diagnose"] + argv)
    assert exc.value.code == 2
    assert message.format(**paths) in capsys.readouterr().err


def test_parquet_needs_pyarrow(tables, tmp_path, capsys):
    paths, (X_a, X_b, y) = tables
    path = tmp_path / "data.parquet"
    argv = [
        "diagnose",
        str(path),
        "--teacher-columns",
        "a_*",
        "--student-columns",
        "b_*",
        "--target",
        "label",
        "--n-bootstrap",
        "10",
    ]
    if importlib.util.find_spec("pyarrow") is None:
        path.write_bytes(b"PAR1")
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        assert f"reading parquet file '{path}' needs pyarrow, which is not installed" in capsys.readouterr().err
    else:  # pragma: no cover - pyarrow is not installed in the reference environment
        pd.read_csv(paths["one"]).drop(columns="name").to_parquet(path)
        assert cli.main(argv) == 0
        assert "verdict:" in capsys.readouterr().out


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["diagnose", "--help"])
    out = capsys.readouterr().out
    for option in ("--teacher-columns", "--student-columns", "--target", "--json", "--cv", "--n-bootstrap"):
        assert option in out
    assert "gamma and shared gamma with 95% intervals, the predicted accuracy gain with its 90% interval" in " ".join(
        out.split()
    )
    assert np.all(["diagnose" in cli.available_experiments()])


def test_several_teacher_groups_are_ranked_and_empty_targets_are_unlabelled(tables, tmp_path, capsys):
    paths, (X_a, X_b, y) = tables
    argv = ["diagnose", paths["one"], "--student-columns", "b_*", "--target", "label", "--n-bootstrap", "20"]
    groups = ["--teacher-columns", "first=a_0,a_1,a_2", "--teacher-columns", "a_[3-9]"]
    assert cli.main(argv + groups) == 0
    out = capsys.readouterr().out
    assert "teacher (a): columns first 3, a_[3-9] 7" in out and "best teacher:" in out
    cli.main(argv + groups + ["--json", "--seed", "2"])
    ranked = json.loads(capsys.readouterr().out)
    expected = diagnose({"first": X_a[:, :3], "a_[3-9]": X_a[:, 3:]}, X_b, y, n_bootstrap=20, random_state=2)
    assert ranked["ranking"] == expected.ranking and ranked["teacher_columns"]["first"] == ["a_0", "a_1", "a_2"]
    for name, res in expected.results.items():
        assert ranked["results"][name]["predicted_gain"] == pytest.approx(res.predicted_gain)
    # An empty target cell marks a row without a label, for numbers and for strings.
    frame = pd.read_csv(paths["one"])
    frame.loc[frame.index % 4 != 0, "label"] = np.nan
    frame["word"] = np.where(frame["label"] == 1, "yes", np.where(frame["label"] == 0, "no", None))
    path = tmp_path / "few.csv"
    frame.to_csv(path, index=False)
    # A text column's -1 cells mark rows without a label too, and True/False labels may have empty cells.
    frame["word_minus_one"] = frame["word"].fillna("-1")
    frame["flag"] = np.where(frame["label"] == 1, "True", np.where(frame["label"] == 0, "False", None))
    frame.to_csv(path, index=False)
    assert pd.read_csv(path)["flag"].dtype == object  # pandas keeps True/False beside empty cells as objects
    for target in ("label", "word", "word_minus_one", "flag"):
        argv = ["diagnose", str(path), "--teacher-columns", "a_*", "--student-columns", "b_*", "--target", target]
        cli.main(argv + ["--n-bootstrap", "20", "--cv", "3", "--json"])
        out = json.loads(capsys.readouterr().out)
        assert out["regime"] == "few labels" and out["n_labelled"] == 50 and out["n_samples"] == 200


def test_files_are_read_as_written_or_refused(tables, tmp_path, capsys):
    paths, (X_a, X_b, y) = tables
    small = ["--n-bootstrap", "10", "--cv", "3", "--json"]

    def refused(argv, message):
        with pytest.raises(SystemExit) as exc:
            cli.main(["diagnose"] + [str(a) for a in argv] + small)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err

    # Class names that pandas would read as missing ("NA", "None", "nan") are classes: only an empty cell is not.
    one = pd.read_csv(paths["one"])
    one["region"] = np.array(["NA", "EU", "None"])[np.arange(len(one)) % 3]
    one.to_csv(tmp_path / "na.csv", index=False)
    argv = ["diagnose", tmp_path / "na.csv", "--teacher-columns", "a_*", "--student-columns", "b_*"]
    assert cli.main([str(a) for a in argv] + ["--target", "region"] + small) == 0
    out = json.loads(capsys.readouterr().out)
    direct = diagnose(X_a, X_b, one["region"].to_numpy(dtype=object), n_bootstrap=10, cv=3, random_state=0)
    assert out["n_labelled"] == out["n_samples"] == len(y)
    assert out["predicted_gain"] == pytest.approx(direct.predicted_gain)
    # An infinite label beside an empty cell is not cast to an integer class.
    one["weird"] = np.where(np.arange(len(one)) == 0, np.inf, np.where(np.arange(len(one)) == 1, np.nan, y))
    one.to_csv(tmp_path / "inf.csv", index=False)
    refused(
        [tmp_path / "inf.csv", "--teacher-columns", "a_*", "--student-columns", "b_*", "--target", "weird"], "infinite"
    )
    # A file without a header row (np.savetxt's default) would lose its first row as column names.
    for name, values in (("ta", X_a), ("sb", X_b), ("y", y[:, None])):
        np.savetxt(tmp_path / f"{name}.csv", values, delimiter=",")
    refused([tmp_path / "ta.csv", tmp_path / "sb.csv", tmp_path / "y.csv"], "holds numbers (")
    # pandas' numbered columns are names, not a missing header.
    pd.DataFrame(X_a).to_csv(tmp_path / "ta.csv", index=False)
    pd.DataFrame(X_b).to_csv(tmp_path / "sb.csv", index=False)
    pd.DataFrame({"label": y}).to_csv(tmp_path / "y.csv", index=False)
    assert (
        cli.main(["diagnose", str(tmp_path / "ta.csv"), str(tmp_path / "sb.csv"), str(tmp_path / "y.csv")] + small) == 0
    )
    capsys.readouterr()
    # An index column written by to_csv is not taken as a feature by default; an empty --student-columns is refused.
    pd.DataFrame(X_b).to_csv(tmp_path / "sb_index.csv")
    refused([tmp_path / "ta.csv", tmp_path / "sb_index.csv", tmp_path / "y.csv"], "has a column without a name")
    refused(
        [tmp_path / "ta.csv", tmp_path / "sb.csv", tmp_path / "y.csv", "--student-columns", ""], "no column names given"
    )
