"""The command line: listings, a full train + explain round trip, one-line errors, and how fcdd.cli turns
exceptions into exit codes."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest
from PIL import Image

from fcdd.cli import RESUME_HINT, CliError, Terminated, count, dispatch, path_arg, positive_int
from tune.cli import main


def _train_args(tiny_fmnist, tiny_oe_folder, out, *extra):
    return [
        "train",
        "--preset",
        "fmnist",
        "--data-dir",
        str(tiny_fmnist),
        "--classes",
        "0,1",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--oe-folder",
        str(tiny_oe_folder),
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


def test_nets_lists_receptive_fields(capsys):
    assert main(["nets"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert lines["FCDD_CNN28_W"][1:6] == ["1x28x28", "7x7", "16", "4", "1.5"]
    assert lines["FCDD_CNN224_VGG_F"][1:6] == ["3x224x224", "28x28", "62", "8", "3.5"]
    assert len(lines) == 10


def test_presets_listing(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "fmnist: fmnist, FCDD_CNN28_W, noise/cifar100, lcnaug1, batch 128, 400 epochs, sgd lr 0.01" in out


@pytest.mark.slow
def test_train_then_skip_then_explain(tiny_fmnist, tiny_oe_folder, tmp_path, capsys):
    out = tmp_path / "results"
    assert main(_train_args(tiny_fmnist, tiny_oe_folder, out)) == 0
    summary = pd.read_csv(out / "report" / "summary_by_class.csv")
    assert summary["class_name"].tolist() == ["T-shirt/top", "Trouser", "overall"]
    run0 = out / "runs" / "default" / "normal_0" / "it_0"
    assert (out / "runs" / "default" / "normal_1" / "it_0" / "metrics.json").is_file()
    assert "default: class 1 (Trouser): AUC" in capsys.readouterr().out
    first = (out / "report" / "summary_by_class.csv").read_text()

    # The same command again finds both runs finished and retrains nothing.
    mtime = (run0 / "snapshot.pt").stat().st_mtime_ns
    assert main(_train_args(tiny_fmnist, tiny_oe_folder, out)) == 0
    assert (run0 / "snapshot.pt").stat().st_mtime_ns == mtime
    assert (out / "report" / "summary_by_class.csv").read_text() == first
    assert "0 run now" in capsys.readouterr().out

    image = tmp_path / "query.png"
    Image.new("L", (40, 40), 200).save(image)
    capsys.readouterr()
    assert main(["explain", "--run", str(run0), str(image), "--out", str(tmp_path / "ex")]) == 0
    score, path, written = capsys.readouterr().out.strip().split("\t")
    assert float(score) >= 0 and path == str(image)
    assert Image.open(written).size[0] > 28 * 3


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_missing_data_dir_is_one_line_and_writes_nothing(tiny_oe_folder, tmp_path, capsys):
    out = tmp_path / "results"
    assert main(_train_args(tmp_path / "nope", tiny_oe_folder, out)) == 2
    assert "does not exist" in _error_line(capsys)
    assert not out.exists()


def test_unknown_class(tiny_fmnist, tiny_oe_folder, tmp_path, capsys):
    args = _train_args(tiny_fmnist, tiny_oe_folder, tmp_path / "r")
    args[args.index("0,1")] = "12"
    assert main(args) == 2
    assert "unknown class '12'" in _error_line(capsys)


def test_empty_oe_folder(tiny_fmnist, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "results"
    assert main(_train_args(tiny_fmnist, empty, out)) == 2
    assert str(empty) in _error_line(capsys)
    assert not out.exists()


def test_unknown_network_suggests(tiny_fmnist, tiny_oe_folder, tmp_path, capsys):
    assert main(_train_args(tiny_fmnist, tiny_oe_folder, tmp_path / "r", "--net", "FCDD_CNN28W")) == 2
    assert "FCDD_CNN28_W" in _error_line(capsys)


def test_explain_rejects_corrupt_image_and_missing_run(tmp_path, capsys):
    assert main(["explain", "--run", str(tmp_path), str(tmp_path / "x.png")]) == 2
    assert "not a finished run folder" in _error_line(capsys)


def test_explain_on_a_run_whose_snapshot_was_removed_names_keep_snapshots(tmp_path, capsys):
    for name in ("config.json", "preprocessing.json", "metrics.json"):  # finished: only the snapshot is gone
        (tmp_path / name).write_text("{}")
    assert main(["explain", "--run", str(tmp_path), str(tmp_path / "x.png")]) == 2
    line = _error_line(capsys)
    assert "finished run whose snapshot.pt was removed (--keep-snapshots best or none)" in line
    (tmp_path / "metrics.json").unlink()  # unfinished: not a finished run folder, as before
    assert main(["explain", "--run", str(tmp_path), str(tmp_path / "x.png")]) == 2
    assert "not a finished run folder (missing snapshot.pt)" in _error_line(capsys)


@pytest.mark.slow
def test_explain_scores_a_test_image_exactly_as_the_evaluation_did(tiny_fmnist, tiny_oe_folder, tmp_path, capsys):
    import numpy as np

    from fcdd.config import DataConfig
    from fcdd.data.loading import load_dataset

    out = tmp_path / "results"
    assert main(_train_args(tiny_fmnist, tiny_oe_folder, out, "--classes", "0")) == 0
    run = out / "runs" / "default" / "normal_0" / "it_0"
    evaluated = np.load(run / "scores.npz")["score"]
    test = load_dataset(DataConfig(dataset="fmnist", data_dir=str(tiny_fmnist))).test_images
    paths = []
    for index in (0, 5, 33):  # the raw uint8 test images, losslessly as PNG
        paths.append(tmp_path / f"test{index}.png")
        Image.fromarray(test[index, 0].numpy()).save(paths[-1])
    capsys.readouterr()
    assert main(["explain", "--run", str(run), *map(str, paths), "--out", str(tmp_path / "ex")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    for line, index in zip(lines, (0, 5, 33), strict=True):
        # same image, same precision, same preprocessing: the same score (to the digits printed)
        assert float(line.split("\t")[0]) == pytest.approx(float(evaluated[index]), rel=1e-5, abs=1e-6)


def test_argument_types_refuse_with_the_reason() -> None:
    assert (positive_int("3"), count("0"), str(path_arg("runs/a"))) == (3, 0, "runs/a")
    refused = [(positive_int, "0", "must be >= 1, got 0"), (count, "-1", "must be >= 0, got -1"),
               (count, "two", "expected an integer, got 'two'"), (path_arg, " ", "is empty")]  # fmt: skip
    for parse, text, reason in refused:
        with pytest.raises(argparse.ArgumentTypeError, match=reason):
            parse(text)


def _dispatch(error: BaseException) -> int:
    def command(args: argparse.Namespace) -> int:
        raise error

    return dispatch(argparse.Namespace(verbose=False, func=command))


@pytest.mark.parametrize("error", [CliError("bad flag\nmore"), ValueError("bad value"), FileNotFoundError("gone")])
def test_input_errors_are_their_first_line_and_exit_2(error: Exception, capsys) -> None:
    assert _dispatch(error) == 2
    assert capsys.readouterr().err == f"fcdd: error: {str(error).splitlines()[0]}\n"


def test_interrupts_say_how_to_resume_and_other_errors_propagate(capsys) -> None:
    assert _dispatch(KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == f"fcdd: interrupted; {RESUME_HINT}\n"
    assert _dispatch(Terminated()) == 143
    assert "terminated (SIGTERM)" in capsys.readouterr().err
    try:  # a signal surfacing inside a C extension: a SystemError whose context is the interrupt
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        try:
            raise SystemError("error return without exception set")
        except SystemError as wrapped:
            inside = wrapped
    assert _dispatch(inside) == 130
    with pytest.raises(RuntimeError, match="a bug"):
        _dispatch(RuntimeError("a bug"))
