"""``fcdd export`` on the command line: what it writes, and the one-line refusals that leave nothing behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fcdd import artifacts
from fcdd.config import RunConfig
from fcdd.data import fmnist
from fcdd.data.preprocess import build_preprocessing
from fcdd.deploy.export import probe_images
from fcdd.deploy.load import load_export
from tests.fcdd.deploy.conftest import RAW
from tests.helpers import build, write_run_folder
from tune.cli import main


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _fails(capsys, argv: list[str], match: str) -> None:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fcdd: error: ") and "\n" not in err and "Traceback" not in err, err
    assert match in err, err


@pytest.fixture
def run(small_run, tmp_path) -> Path:
    """A private copy of the small run (exports land inside it by default)."""
    return Path(shutil.copytree(small_run, tmp_path / "run"))


@pytest.mark.slow  # exports (seconds each)
@pytest.mark.parametrize(("fmt", "graph"), [("onnx", "model.onnx"), ("torchscript", "model.pt")])
def test_export_writes_the_graph_and_its_card_and_nothing_else(run, capsys, fmt, graph):
    assert main(["export", "--run", str(run), "--format", fmt]) == 0
    out = run / f"export-{fmt}"
    assert sorted(p.name for p in out.iterdir()) == sorted([graph, "model.json"])
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no staging folder left
    printed = capsys.readouterr().out
    assert str(out / graph) in printed and "images N x 1x28x28 on 0..255" in printed
    assert load_export(out).card.threshold is None and load_export(out).predict(probe_images(RAW, 2)).anomalous is None


@pytest.mark.slow  # exports (seconds each)
def test_a_second_export_replaces_the_first(run, tmp_path):
    out = tmp_path / "model"
    assert main(["export", "--run", str(run), "--format", "onnx", "--out", str(out)]) == 0
    assert main(["export", "--run", str(run), "--format", "torchscript", "--out", str(out), "--threshold", "0.5"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.pt"]
    assert load_export(out).card.threshold.value == 0.5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow  # exports (seconds each)
def test_a_failed_export_leaves_nothing_and_keeps_the_earlier_one(run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "model"
    assert main(["export", "--run", str(run), "--format", "torchscript", "--out", str(out)]) == 0
    before = _tree(out)

    def differs(*args, **kwargs):
        raise ValueError("the exported graph does not reproduce the eager model (simulated)")

    monkeypatch.setattr("fcdd.deploy.export.check_parity", differs)  # after graph and card are written
    _fails(capsys, ["export", "--run", str(run), "--format", "onnx", "--out", str(out)], "does not reproduce")
    _fails(capsys, ["export", "--run", str(run), "--format", "onnx", "--out", str(tmp_path / "new/a/b")], "reproduce")
    assert _tree(out) == before and not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "run"]  # no staging folder left


def _unfinished(run: Path) -> Path:
    (run / "metrics.json").unlink()
    return run


def _hsc(run: Path) -> Path:
    config = RunConfig().replace(**{"network.name": "CNN28", "objective": "hsc"})
    prep = build_preprocessing("lcn", "fmnist", 0, RAW, recipes=fmnist.RECIPES)
    return write_run_folder(run.parent / "hsc", config, build("CNN28"), prep, RAW)


def _broken_snapshot(run: Path) -> Path:
    (run / "snapshot.pt").write_bytes(b"not a checkpoint")
    return run


@pytest.mark.parametrize(
    ("make_run", "extra", "match"),
    [
        (lambda run: run / "missing", [], "is not a finished run folder (missing config.json"),
        (_unfinished, [], "has no metrics.json: the run did not finish"),
        (_hsc, [], "runs of objective 'hsc' cannot be exported"),
        (_broken_snapshot, [], "checkpoint"),
        (lambda run: run, ["--format", "pickle"], "argument --format: invalid choice: 'pickle'"),
        (lambda run: run, ["--threshold", "nan"], "argument --threshold: expected a finite number"),
        (lambda run: run, ["--out", "{run}/config.json"], "is a file, not a folder"),
        (lambda run: run, ["--out", "{run}"], "holds other files"),
    ],
    ids=["no-run", "unfinished", "hsc", "broken-snapshot", "format", "threshold", "out-file", "out-busy"],
)
def test_bad_input_is_one_line_and_writes_nothing(run, capsys, make_run, extra, match):
    target = make_run(run)
    before = _tree(run.parent)
    extra = [arg.format(run=run) for arg in extra]
    fmt = [] if "--format" in extra else ["--format", "torchscript"]
    _fails(capsys, ["export", "--run", str(target), *fmt, *extra], match)
    assert _tree(run.parent) == before
    assert not any(p.name.startswith(".") for p in run.parent.rglob("*"))


@pytest.mark.slow  # exports (seconds each)
def test_the_metrics_in_the_card_are_the_runs(run, tmp_path):
    artifacts.write_json(run / "metrics.json", {**json.loads((run / "metrics.json").read_text()), "auc": 0.75})
    assert main(["export", "--run", str(run), "--format", "torchscript", "--out", str(tmp_path / "m")]) == 0
    assert load_export(tmp_path / "m").card.metrics["auc"] == 0.75


def test_an_export_that_differs_from_the_run_is_refused_and_not_kept(run, tmp_path, capsys, monkeypatch):

    from fcdd.deploy import export
    from fcdd.methods.fcdd import FCDDScorer

    write = export.WRITERS["torchscript"]

    def write_another_sigma(detector, example, path, digest):
        other = export.DetectorGraph(detector.net, detector.preprocessing, detector.raw_shape, FCDDScorer(3.0))
        write(other.eval(), example, path, digest)

    monkeypatch.setitem(export.WRITERS, "torchscript", write_another_sigma)
    out = tmp_path / "model"
    _fails(capsys, ["export", "--run", str(run), "--format", "torchscript", "--out", str(out)], "does not reproduce")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
