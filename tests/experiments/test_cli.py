"""Tests of the ``crossmodal`` command line (crossmodal/__main__.py)."""

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import crossmodal
from crossmodal import __main__ as cli

ROOT = Path(__file__).resolve().parents[2]
CSVS = ("fig2.csv", "fig3.csv", "table2.csv")


@pytest.fixture
def fake_experiments(tmp_path, monkeypatch):
    """Two tiny importable experiment modules plus a broken one, registered in place of the real ones."""
    pkg = tmp_path / "fake_pkg"
    pkg.mkdir()
    body = """
        import os
        from crossmodal.experiments._report import LIBRARY, TrendCheck
        from crossmodal.experiments._reproduction import Entry

        ENTRY = Entry("{name}", runs=5, quick_runs=2, quick="", returns="")

        def run(out_dir, *, runs, seed, jobs, quick, progress):
            os.makedirs(out_dir, exist_ok=True)
            path = os.path.join(out_dir, "report.md")
            with open(path, "w") as fh:
                fh.write(f"runs={runs} seed={seed} jobs={jobs} quick={quick} progress={progress}")
            checks = [TrendCheck("{name} trend", {passed}, "ok", source=LIBRARY)]
            return {"report": path, "files": [path], "checks": checks}
    """
    for name, passed in (("alpha", True), ("beta", False)):
        (pkg / f"{name}.py").write_text(textwrap.dedent(body.replace("{name}", name).replace("{passed}", str(passed))))
    (pkg / "broken.py").write_text("import a_dependency_that_is_not_installed_xyz\n")
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m == "fake_pkg" or m.startswith("fake_pkg.")]:
        monkeypatch.delitem(sys.modules, module)  # an earlier test's fake_pkg lives in another tmp_path
    monkeypatch.setattr(
        cli, "EXPERIMENTS", {"alpha": "fake_pkg.alpha", "beta": "fake_pkg.beta", "broken": "fake_pkg.broken"}
    )
    return tmp_path


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"crossmodal {crossmodal.__version__}"
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--runs", "--seed", "--jobs", "--quick", "--out", "--quiet", "--strict", "synthetic"):
        assert option in out
    # the default runs the help states are each experiment's own
    stated = " ".join(out.split())
    entries = {name: importlib.import_module(module).ENTRY for name, module in cli.EXPERIMENTS.items()}
    for name, entry in entries.items():
        if name in ("synthetic", "diagnose"):
            assert f"{name} {entry.runs} ({entry.quick_runs})" in stated
        else:
            assert (entry.runs, entry.quick_runs) == (5, 2) and "the others 5 (2)" in stated


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "a command is required"),
        (["reproduce", "nope"], "invalid choice: 'nope' (choose from synthetic"),
        (["reproduce", "--runs", "0"], "argument --runs: must be an integer >= 1; got '0'"),
        (["reproduce", "--runs", "two"], "argument --runs: must be an integer >= 1; got 'two'"),
        (["reproduce", "--jobs", "0"], "argument --jobs: must be a positive integer or -1 (all cores); got '0'"),
        (["reproduce", "--seed", "x"], "argument --seed: must be an integer from 0 to 4294967295; got 'x'"),
        (["reproduce", "--seed", "-1"], "argument --seed: must be an integer from 0 to 4294967295; got '-1'"),
        (["reproduce", "--bogus"], "unrecognized arguments: --bogus"),
        (["reproduce", "synthetic", "--quik"], "unrecognized arguments: --quik"),
        (["reproduce", "--qui"], "ambiguous option: --qui could match --quick, --quiet"),
        (["reproduce", "--strict=yes"], "argument --strict: ignored explicit argument 'yes'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_arguments_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    # A mistake made after ``reproduce`` shows the usage of ``reproduce``, not the top-level one.
    usage = err.splitlines()[0]
    if argv[:1] == ["reproduce"]:
        assert usage.startswith("usage: crossmodal reproduce [-h]") and "crossmodal reproduce: error:" in err
    else:
        assert usage == "usage: crossmodal [-h] [--version] COMMAND ..."


def test_out_must_not_be_a_file(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("")
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "synthetic", "--out", str(target)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --out: {str(target)!r} exists and is not a directory" in err
    assert err.startswith("usage: crossmodal reproduce [-h]")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--out", ""], "argument --out: must name a folder; got an empty path"),
        (["--out", "{file}/sub"], "argument --out: cannot write into '{file}/sub/synthetic' (Not a directory)"),
        (["--out", "{tmp}/ok", "--out", "{file}"], "argument --out: '{file}' exists and is not a directory"),
        (
            ["--seed", "4294967295"],
            "argument --seed: run r uses seed + r, so seed + runs - 1 must be <= 4294967295; got seed 4294967295 "
            "with 10 runs of synthetic",
        ),
        (["--seed", "4294967290", "--runs", "7"], "got seed 4294967290 with 7 runs of synthetic"),
    ],
)
def test_out_and_seed_are_checked_before_any_computation(argv, message, tmp_path, monkeypatch, capsys):
    """A folder that cannot be written, or a seed that overflows, is a usage error before any experiment runs."""
    monkeypatch.setattr(cli, "load_experiment", lambda name: pytest.fail("an experiment ran"))
    target = tmp_path / "a_file"
    target.write_text("")
    fill = {"{file}": str(target), "{tmp}": str(tmp_path)}
    for key, value in fill.items():
        argv = [a.replace(key, value) for a in argv]
        message = message.replace(key, value)
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "synthetic", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_names_may_follow_options_and_a_rerun_says_it_replaces(fake_experiments, capsys):
    out = fake_experiments / "results"
    argv = ["reproduce", "alpha", "--quick", "beta", "--out", str(out), "--seed", "4294967293", "--runs", "3"]
    assert cli.main(argv) == 0  # the last run's seed is 2**32 - 1 exactly
    for name in ("alpha", "beta"):
        assert (out / name / "report.md").read_text() == "runs=3 seed=4294967293 jobs=-1 quick=True progress=False"
    assert "replacing" not in capsys.readouterr().out
    cli.main(["reproduce", "alpha", "--out", str(out)])
    assert f"replacing the results already in {out / 'alpha'}" in capsys.readouterr().out


def test_unknown_experiment_prints_the_reproduce_usage(fake_experiments, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "alpha", "gamma"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: crossmodal reproduce [-h]")
    assert (
        "crossmodal reproduce: error: argument EXPERIMENT: invalid choice: 'gamma' (choose from alpha, beta, broken)"
        in err
    )
    assert not (fake_experiments / "crossmodal_reproduce").exists()


def test_registry_offers_every_experiment_and_hides_no_import_error(fake_experiments):
    assert cli.available_experiments() == ["alpha", "beta", "broken"]
    assert callable(cli.load_experiment("alpha"))
    with pytest.raises(ModuleNotFoundError, match="a_dependency_that_is_not_installed_xyz"):
        cli.load_experiment("broken")  # a missing dependency is not hidden


def test_every_shipped_experiment_loads():
    names = ["synthetic", "ranking", "case-study", "diagnose", "transfer", "methods"]
    assert cli.available_experiments() == names
    for name in cli.available_experiments():
        assert callable(cli.load_experiment(name))


def test_reproduce_without_a_name_runs_every_available_experiment(fake_experiments, monkeypatch, capsys):
    monkeypatch.delitem(cli.EXPERIMENTS, "broken")  # keep the run clean
    out = fake_experiments / "results"
    assert cli.main(["reproduce", "--out", str(out), "--runs", "4", "--seed", "7", "--jobs", "-1"]) == 0
    for name in ("alpha", "beta"):
        text = (out / name / "report.md").read_text()
        assert text == "runs=4 seed=7 jobs=-1 quick=False progress=False"  # not a tty -> no progress bar
    printed = capsys.readouterr().out
    assert "[PASS] alpha trend: observed ok" in printed and "[FAIL] beta trend: observed ok" in printed
    assert "1 trend check(s) did not meet their target" in printed


@pytest.mark.parametrize(
    "names, strict, status",
    [
        (["alpha"], False, 0),
        (["alpha"], True, 0),  # every check passes
        (["alpha", "beta"], False, 0),  # a failed check is reported, the default status stays 0
        (["alpha", "beta"], True, 1),
        (["beta", "alpha"], True, 1),  # every experiment still runs after a failure
    ],
)
def test_strict_exits_1_when_a_trend_check_fails(fake_experiments, capsys, names, strict, status):
    out = fake_experiments / "results"
    argv = ["reproduce", *names, "--out", str(out)] + (["--strict"] if strict else [])
    assert cli.main(argv) == status
    for name in names:
        assert (out / name / "report.md").exists()
    printed = capsys.readouterr().out
    assert ("[FAIL] beta trend: observed ok" in printed) == ("beta" in names)
    assert ("1 trend check(s) did not meet their target" in printed) == ("beta" in names)


def test_strict_counts_failures_not_unevaluated_checks(fake_experiments, monkeypatch, capsys):
    """A check that could not be evaluated (N/A) is reported but does not fail ``--strict``."""
    pkg = fake_experiments / "fake_pkg"
    (pkg / "gamma.py").write_text(
        textwrap.dedent("""
        from crossmodal.experiments._report import TrendCheck
        from crossmodal.experiments._reproduction import Entry

        ENTRY = Entry("gamma", runs=5, quick_runs=2, quick="", returns="")

        def run(out_dir, *, runs, seed, jobs, quick, progress):
            checks = [TrendCheck("gamma trend", None, "not run", source="paper, Fig. 2")]
            return {"report": "r.md", "files": [], "checks": checks}
    """)
    )
    importlib.invalidate_caches()  # the path finder may have listed fake_pkg before gamma.py existed
    monkeypatch.setitem(cli.EXPERIMENTS, "gamma", "fake_pkg.gamma")
    assert cli.main(["reproduce", "gamma", "--strict", "--out", str(fake_experiments / "o")]) == 0
    printed = capsys.readouterr().out
    assert "[N/A] gamma trend: observed not run (paper, Fig. 2)" in printed and "did not match" not in printed


@pytest.mark.slow
def test_reproduce_synthetic_quick_in_process_and_as_python_m(tmp_path, capsys):
    """The real quick run, in-process and through ``python -m crossmodal`` in a fresh interpreter."""
    inproc = tmp_path / "inproc"
    assert cli.main(["reproduce", "synthetic", "--quick", "--runs", "2", "--out", str(inproc)]) == 0
    printed = capsys.readouterr().out
    assert "crossmodal reproduce synthetic (quick)" in printed and "report:" in printed
    report = (inproc / "synthetic" / "report.md").read_text()
    assert "QUICK RUN" in report and "2 runs per setting" in report
    for png in ("fig2.png", "fig3.png", "table2.png"):
        assert (inproc / "synthetic" / png).read_bytes()[:4] == b"\x89PNG"

    sub = tmp_path / "sub"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "crossmodal", "reproduce", "synthetic", "--quick", "--runs", "2", "--out", str(sub)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[PASS]" in proc.stdout or "[FAIL]" in proc.stdout
    # Same seed in another interpreter: byte-identical CSVs.
    for name in CSVS:
        assert (sub / "synthetic" / name).read_bytes() == (inproc / "synthetic" / name).read_bytes()
