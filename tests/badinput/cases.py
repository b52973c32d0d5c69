"""Every bad input the README's promise covers, as data: the command line, what the one error line says.

Each case runs the real CLI in a subprocess from its own folder (its cwd); the suite asserts exit
code 2, exactly one ``fcdd: error:`` line matching ``expect``, no traceback, the case folder
byte-identical afterwards (nothing new under ``--out``, an existing ``--out`` untouched, nothing
in the cwd) and no marker file from the hostile inputs. Setups copy what they change.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.badinput.world import (
    World,
    evil_pickle,
    evil_torch_file,
    train_args,
    write_cifar10,
)
from tests.helpers import bomb_png, free_port

Argv = Callable[[World, Path], list[str]]
Setup = Callable[[World, Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    argv: Argv
    expect: str  # regex the single `fcdd: error:` line must match
    setup: Setup | None = None


def _out(c: Path) -> str:
    return str(c / "out")


def train(*extra: str) -> Argv:
    """`fcdd train` on the fmnist fixture with ``extra`` flags, into a new --out."""
    return lambda w, c: [*train_args(w, *extra), "--out", _out(c)]


def command(name: str, *extra: str) -> Argv:
    """`fcdd benchmark` / `fcdd tune` with the train fixture's flags (they fail before Ray starts)."""
    return lambda w, c: [name, *train_args(w, *extra)[1:], "--out", _out(c)]


def into_done(*extra: str, cmd: str = "train") -> Argv:
    """The fixture's command into a copy of the finished folder (``done``)."""
    return lambda w, c: [cmd, *train_args(w, *extra)[1:], "--out", str(c / "done")]


def copy_done(w: World, c: Path) -> None:
    shutil.copytree(w.done, c / "done")


def copy_run(w: World, c: Path) -> None:
    shutil.copytree(w.run_dir, c / "run")


def spec(text: str | bytes, name: str = "spec.yaml") -> Setup:
    def setup(w: World, c: Path) -> None:
        data = text if isinstance(text, bytes) else text.format(fmnist=w.fmnist, oe=w.oe, marker=w.marker).encode()
        (c / name).write_bytes(data)

    return setup


def with_spec(name: str = "spec.yaml", cmd: str = "train") -> Argv:
    return lambda w, c: [cmd, "--spec", str(c / name), "--out", _out(c)]


def with_config(name: str = "config.json") -> Argv:
    return lambda w, c: ["train", "--config", str(c / name), "--out", _out(c)]


# A spec that would be valid: the bad ones below each break one thing of it.
GOOD_SPEC = (
    "preset: fmnist\n"
    "overrides: {{data.data_dir: {fmnist}, anomalies.oe_folder: {oe}, optim.epochs: 1}}\n"
    "classes: [0]\nseeds: 1\n"
)


def resumable(snapshot: Callable[[World, Path, Path], None]) -> Setup:
    """A copy of the finished folder whose trial is unfinished again (no store row), with a damaged snapshot."""

    def setup(w: World, c: Path) -> None:
        copy_done(w, c)
        run = c / "done" / "runs" / "default" / "normal_0" / "it_0"
        (c / "done" / "trials.jsonl").unlink()
        (run / "metrics.json").unlink()
        snapshot(w, c, run / "snapshot.pt")

    return setup


def explained(snapshot: Callable[[World, Path, Path], None]) -> Setup:
    def setup(w: World, c: Path) -> None:
        copy_run(w, c)
        snapshot(w, c, c / "run" / "snapshot.pt")

    return setup


def explain(*images: str) -> Argv:
    return lambda w, c: ["explain", "--run", str(c / "run"), "--out", _out(c), *(images or [str(w.image)])]


def _garbage(w: World, c: Path, path: Path) -> None:
    path.write_bytes(b"\x00\x13garbage, not a torch file" * 10)


def _removed(w: World, c: Path, path: Path) -> None:
    path.unlink()  # what --keep-snapshots best|none does to a finished run


def _empty(w: World, c: Path, path: Path) -> None:
    path.write_bytes(b"")


def _foreign(w: World, c: Path, path: Path) -> None:
    import torch

    torch.save({"model": {"w": torch.zeros(2)}}, path)


def _hostile(w: World, c: Path, path: Path) -> None:
    path.unlink()
    evil_torch_file(path, w.marker)


def _other_settings(w: World, c: Path, path: Path) -> None:
    import torch

    state = torch.load(path, weights_only=True)
    torch.save({**state, "fingerprint": "000000000000"}, path)


def _wrong_net(w: World, c: Path, path: Path) -> None:
    import torch

    state = torch.load(path, weights_only=True)
    torch.save({**state, "net": {"conv.weight": torch.zeros(1)}}, path)


def fmnist_data(extra: Callable[[World, Path], None] | None = None) -> Setup:
    """A data dir holding the fmnist fixture's IDX files (and what ``extra`` adds)."""

    def setup(w: World, c: Path) -> None:
        shutil.copytree(w.fmnist, c / "data")
        if extra is not None:
            extra(w, c)

    return setup


def _copy_of(name: str, change: Callable[[Path], None], inner: str = "") -> Setup:
    """Copy the world's ``name`` folder (``mvtec``, ``custom``, ``search``) into the case, then ``change`` it."""

    def setup(w: World, c: Path) -> None:
        shutil.copytree(getattr(w, name), c / name)
        change(c / name / inner if inner else c / name)

    return setup


def _mvtec_copy(change: Callable[[Path], None]) -> Setup:
    return _copy_of("mvtec", change, inner="widget")


def _grey_mask(category: Path) -> None:
    mask = category / "ground_truth" / "crack" / "000_mask.png"
    values = np.tile(np.arange(0, 250, 250 / 32, dtype=np.uint8)[:32], (48, 1))  # a soft gradient
    Image.fromarray(values).save(mask)


def _small_mask(category: Path) -> None:
    mask = category / "ground_truth" / "crack" / "000_mask.png"
    Image.new("L", (8, 8), 255).save(mask)


def _custom_copy(change: Callable[[Path], None]) -> Setup:
    return _copy_of("custom", change)


def _corrupt_image(root: Path) -> None:
    (root / "train" / "metal" / "normal" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")


def _no_test_anomalies(root: Path) -> None:
    # A test split with one label has no AUC.
    for image in (root / "test" / "metal" / "anomalous").iterdir():
        image.unlink()


def _one_class_flat(root: Path) -> None:
    shutil.rmtree(root)
    for split in ("train", "test"):
        (root / split / "metal").mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (32, 32), (i * 40, 10, 10)).save(root / split / "metal" / f"{i}.png")


def mvtec(*extra: str, data: str = "{mvtec}") -> Argv:
    def argv(w: World, c: Path) -> list[str]:
        root = data.format(mvtec=w.mvtec, case=c)
        return ["train", "--preset", "mvtec", "--data-dir", root, "--classes", "widget", "--seeds", "1",
                "--epochs", "1", "--net", "FCDD_CNN224_VGG_NOPT", "--quiet", *extra, "--out", _out(c)]  # fmt: skip

    return argv


def custom(*extra: str, data: str = "{custom}", cmd: str = "train") -> Argv:
    def argv(w: World, c: Path) -> list[str]:
        root = data.format(custom=w.custom, case=c)
        return [cmd, "--dataset", "custom", "--data-dir", root, "--classes", "0", "--seeds", "1", "--epochs", "1",
                "--noise-mode", "confetti", "--supervise-mode", "malformed_normal", "--quiet", *extra,
                "--out", _out(c)]  # fmt: skip

    return argv


def _search_copy(change: Callable[[Path], None]) -> Setup:
    return _copy_of("search", change)


def _study_elsewhere(search: Path) -> None:
    # Copied from another folder whose study.db still exists: the copy's own study.db is gone.
    (search / "study.db").unlink()


def _torn_store(folder: Path) -> None:
    (folder / "best" / "trials.jsonl").write_bytes(b'{"trial_id": "abc", "sta')


def _not_results(w: World, c: Path) -> None:
    (c / "out").mkdir()
    (c / "out" / "thesis.tex").write_text("my thesis\n")


def _out_file(w: World, c: Path) -> None:
    (c / "out").write_text("a file\n")


PORT = free_port()

CASES: list[Case] = [
    # -- code execution: every hostile file refused before it could run anything --------------------
    Case(
        "cifar100-hostile-pickle",
        lambda w, c: [
            "train",
            "--data-dir",
            str(c / "data"),
            "--classes",
            "0",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--out",
            _out(c),
        ],
        r"corrupt CIFAR-100 pickle .*cifar-100-python/train",
        fmnist_data(lambda w, c: evil_pickle(c / "data" / "cifar-100-python" / "train", w.marker)),
    ),  # fmt: skip
    Case(
        "cifar10-hostile-batch",
        lambda w, c: [
            "train",
            "--preset",
            "cifar10",
            "--data-dir",
            str(c / "cifar"),
            "--classes",
            "0",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--oe-folder",
            str(w.oe),
            "--out",
            _out(c),
        ],
        r"corrupt CIFAR-10 batch .*data_batch_3",
        lambda w, c: (
            write_cifar10(c / "cifar" / "cifar-10-batches-py"),
            evil_pickle(c / "cifar" / "cifar-10-batches-py" / "data_batch_3", w.marker),
        ),
    ),  # fmt: skip
    Case(
        "resume-hostile-snapshot",
        into_done(),
        r"snapshot.pt holds objects other than tensors.*--restart",
        resumable(_hostile),
    ),
    Case(
        "resume-corrupt-snapshot",
        into_done(),
        r"snapshot.pt cannot be read .*delete it or pass --restart",
        resumable(_garbage),
    ),
    Case("resume-empty-snapshot", into_done(), r"snapshot.pt cannot be read .*--restart", resumable(_empty)),
    Case("resume-foreign-snapshot", into_done(), r"not an fcdd snapshot .*--restart", resumable(_foreign)),
    Case(
        "resume-other-settings-snapshot",
        into_done(),
        r"belongs to a run with other settings; delete it or pass "
        r"--restart",
        resumable(_other_settings),
    ),  # fmt: skip
    Case("explain-hostile-snapshot", explain(), r"holds objects other than tensors.*retrain", explained(_hostile)),
    Case("explain-corrupt-snapshot", explain(), r"cannot be read .*retrain", explained(_garbage)),
    Case("explain-empty-snapshot", explain(), r"cannot be read .*retrain", explained(_empty)),
    Case("explain-foreign-snapshot", explain(), r"not an fcdd snapshot .*retrain", explained(_foreign)),
    Case("explain-wrong-net-snapshot", explain(), r"weights of another network", explained(_wrong_net)),
    Case("explain-removed-snapshot", explain(), r"snapshot.pt was removed \(--keep-snapshots", explained(_removed)),
    Case(
        "hostile-weights",
        lambda w, c: mvtec("--net", "FCDD_CNN224_VGG", "--weights", str(c / "w.pt"))(w, c),
        r"cannot read vgg11_bn weights",
        lambda w, c: evil_torch_file(c / "w.pt", w.marker),
    ),  # fmt: skip
    Case(
        "spec-python-tag",
        with_spec(),
        r"not valid YAML .*python/object",
        spec("!!python/object/apply:os.system ['touch {marker}']\n"),
    ),
    # -- results destroyed or mixed --------------------------------------------------------------------
    Case("restart-nan-lr", into_done("--restart", "--lr", "nan"), r"`lr` must be a finite number", copy_done),
    Case("restart-inf-lr", into_done("--restart", "--lr", "inf"), r"`lr` must be a finite number", copy_done),
    Case(
        "rerun-other-plan", into_done("--lr", "0.001"), r"holds another plan \(optim.lr .*--restart.*--out", copy_done
    ),
    Case("rerun-other-epochs", into_done("--epochs", "2"), r"holds another plan \(optim.epochs", copy_done),
    Case("benchmark-other-plan", into_done("--lr", "0.001", cmd="benchmark"), r"holds another plan", copy_done),
    Case(
        "restart-remote-storage",
        into_done("--restart", "--remote-storage", "file:///tmp/fcdd-no-bucket", cmd="benchmark"),
        r"--restart cannot start over runs kept in --remote-storage",
        copy_done,
    ),
    Case("out-not-results", train(), r"not empty and holds no fcdd results", _not_results),
    Case(
        "report-study-db-gone",
        lambda w, c: ["report", str(c / "search")],
        r"holds no study.db.*--storage",
        _search_copy(_study_elsewhere),
    ),
    Case(
        "report-torn-store",
        lambda w, c: ["report", str(c / "search")],
        r"holds no readable trial row.*kept",
        _search_copy(_torn_store),
    ),
    Case(
        "report-bogus-storage",
        lambda w, c: ["report", str(c / "search"), "--storage", "bogus://"],
        r"unknown database kind 'bogus'",
        _search_copy(lambda s: None),
    ),
    Case(
        "report-missing-sqlite",
        lambda w, c: ["report", str(c / "search"), "--storage", f"sqlite:///{c / 'nowhere.db'}"],
        r"no study database at",
        _search_copy(lambda s: None),
    ),  # fmt: skip
    # -- --out that cannot hold results ----------------------------------------------------------------
    Case("train-out-is-file", train(), r"--out .*out is a file", _out_file),
    Case("benchmark-out-is-file", command("benchmark"), r"--out .*out is a file", _out_file),
    Case("tune-out-is-file", command("tune"), r"--out .*out is a file", _out_file),
    Case(
        "explain-out-is-file", explain(), r"--out .*out is a file", lambda w, c: (copy_run(w, c), _out_file(w, c))
    ),  # fmt: skip
    Case(
        "train-out-under-file",
        lambda w, c: [*train_args(w), "--out", str(c / "out" / "sub")],
        r"is a file, so no "
        "folder",
        _out_file,
    ),  # fmt: skip
    Case("train-out-in-sys", lambda w, c: [*train_args(w), "--out", "/sys/fcdd-results"], r"not writable"),
    Case(
        "benchmark-out-in-proc",
        lambda w, c: ["benchmark", *train_args(w)[1:], "--out", "/proc/fcdd-results"],
        r"not writable",
    ),
    Case(
        "explain-out-in-sys",
        lambda w, c: ["explain", "--run", str(c / "run"), "--out", "/sys/fcdd-x", str(w.image)],
        r"not writable",
        copy_run,
    ),  # fmt: skip
    Case("train-out-empty", lambda w, c: [*train_args(w), "--out", ""], r"argument --out: is empty"),
    Case("name-escapes-results", train("--name", "../../x"), r"benchmark name '../../x' is not a plain folder"),
    # -- spec and config files -------------------------------------------------------------------------
    Case("spec-empty", with_spec(), r"spec.yaml is empty", spec("")),
    Case(
        "spec-string-lr",
        with_spec(),
        r"spec.yaml: `lr` must be a number",
        spec(GOOD_SPEC.replace("optim.epochs: 1", "optim.epochs: 1, optim.lr: '0.1'")),
    ),  # fmt: skip
    Case(
        "spec-quoted-epochs",
        with_spec(),
        r"spec.yaml: `epochs` must be an integer",
        spec(GOOD_SPEC.replace("optim.epochs: 1", "optim.epochs: '3'")),
    ),  # fmt: skip
    Case("spec-list", with_spec(), r"must be a YAML mapping", spec("- preset\n- fmnist\n")),
    Case("spec-config-list", with_spec(), r"`config` must be a mapping", spec("config: [1, 2]\n")),
    Case(
        "spec-setting-without-name",
        with_spec(),
        r"`settings\[0\]` has no `name`",
        spec(GOOD_SPEC + "settings: [{{overrides: {{optim.lr: 0.1}}}}]\n"),
    ),
    Case(
        "spec-resources-typo",
        with_spec(),
        r"'resources.cpu_per_trial' .*did you mean 'cpus_per_trial'",
        spec(GOOD_SPEC + "resources: {{cpu_per_trial: 1}}\n"),
    ),
    Case(
        "spec-search-typo",
        with_spec(cmd="tune"),
        r"'search.trails' .*did you mean 'trials'",
        spec(GOOD_SPEC + "search: {{trails: 2}}\n"),
    ),
    Case(
        "spec-float-seeds", with_spec(), r"`seeds` must be a count", spec(GOOD_SPEC.replace("seeds: 1", "seeds: 1.5"))
    ),
    Case("spec-top-level-typo", with_spec(), r"'presets' .*did you mean 'preset'", spec("presets: fmnist\n")),
    Case("spec-malformed-yaml", with_spec(), r"spec.yaml is not valid YAML at line", spec("preset: [fmnist\n")),
    Case("spec-not-utf8", with_spec(), r"spec.yaml is not UTF-8", spec(b"preset: \xff\xfe\n")),
    Case(
        "spec-unsafe-setting-name",
        with_spec(),
        r"settings\[0\].name '\.\./x' is not a plain folder",
        spec(GOOD_SPEC + "settings: [{{name: ../x}}]\n"),
    ),
    Case("config-list", with_config(), r"holds a JSON list", spec(b"[1, 2]", "config.json")),
    Case(
        "config-bad-json",
        with_config(),
        r"config.json is not valid JSON \(line 1",
        spec(b'{"optim": {"lr": 1,}}', "config.json"),
    ),  # fmt: skip
    Case("config-not-utf8", with_config(), r"config.json is not UTF-8", spec(b"\xff\xfe{}", "config.json")),
    Case(
        "config-string-lr",
        with_config(),
        r"config.json: `lr` must be a number",
        spec(b'{"optim": {"lr": "0.1"}}', "config.json"),
    ),  # fmt: skip
    Case(
        "config-unknown-key",
        with_config(),
        r"unknown config key 'optim.lrr' \(did you mean 'optim.lr'",
        spec(b'{"optim": {"lrr": 0.1}}', "config.json"),
    ),
    Case("config-missing", with_config("nope.json"), r"--config .*nope.json: no such file"),
    Case(
        "spec-and-preset",
        lambda w, c: ["train", "--spec", "x.yaml", "--preset", "fmnist"],
        r"argument --preset: not allowed with argument --spec",
    ),
    # -- flags -----------------------------------------------------------------------------------------
    Case("batch-size-1", train("--batch-size", "1"), r"`batch_size` must be >= 2"),
    Case("micro-batch-size-1", train("--micro-batch-size", "1"), r"`micro_batch_size` must be >= 2"),
    Case("test-limit-1", train("--test-limit", "1"), r"`test_limit` must be >= 2"),
    Case("train-limit-1", train("--train-limit", "1"), r"`train_limit` must be >= 2"),
    Case("validation-fraction-099", train("--validation-fraction", "0.99"), r"leaves 0 nominal training image"),
    Case("validation-fraction-15", train("--validation-fraction", "1.5"), r"`validation_fraction` must be in"),
    Case("classes-twice", train("--classes", "0,0"), r"given twice in `classes`"),
    Case("classes-unknown", train("--classes", "99"), r"unknown class '99'; valid classes: 0=T-shirt"),
    Case("seeds-0", train("--seeds", "0"), r"argument --seeds: must be >= 1"),
    Case("seeds-float", train("--seeds", "1.5"), r"argument --seeds: expected an integer"),
    Case("epochs-negative", train("--epochs", "-1"), r"`epochs` must be >= 0"),
    Case("lr-nan", train("--lr", "nan"), r"`lr` must be a finite number"),
    Case("benchmark-lr-nan", command("benchmark", "--lr", "nan"), r"`lr` must be a finite number"),
    Case("gauss-std-nan", train("--gauss-std", "nan"), r"`gauss_std` must be a finite number"),
    Case("anomaly-p-0", train("--anomaly-p", "0"), r"`p` must be in \(0, 1\]"),
    Case("cpus-0", train("--cpus-per-trial", "0"), r"`cpus_per_trial` must be > 0"),
    Case(
        "gpus-per-trial-word",
        command("benchmark", "--gpus-per-trial", "lots"),
        r"argument --gpus-per-trial: expected a number of GPUs or auto, got 'lots'",
    ),
    Case(
        "gpus-auto-trials-on-cpu",
        command("benchmark", "--gpus-per-trial", "auto", "--device", "cpu"),
        r"--gpus-per-trial auto measures the trials on a GPU, but they run on --device cpu",
    ),
    Case(
        "spec-gpus-word",
        with_spec(cmd="benchmark"),
        r"`gpus_per_trial` must be a number or auto",
        spec("preset: fmnist\nresources:\n  gpus_per_trial: most\n"),
    ),
    Case("max-failures-negative", train("--max-failures", "-1"), r"argument --max-failures: must be >= 0"),
    Case("unknown-net", train("--net", "FCDD_CNN28_WW"), r"did you mean"),
    Case("unknown-noise-mode", train("--noise-mode", "bogus"), r"argument --noise-mode: invalid choice"),
    Case("unknown-dataset", train("--dataset", "mnist"), r"unknown dataset 'mnist'"),
    Case("fmnist-image-size", train("--image-size", "32"), r"fmnist is fixed at 28"),
    Case(
        "net-input-mismatch",
        custom("--net", "FCDD_CNN28_W", "--image-size", "64"),
        r"FCDD_CNN28_W takes inputs "
        r"of shape \(1, 28, 28\) but custom .* gives \(3, 64, 64\)",
    ),  # fmt: skip
    Case(
        "unsupervised-with-oe-folder",
        train("--supervise-mode", "unsupervised"),
        r"`oe_folder` .* outlier "
        r"exposure, but supervise mode 'unsupervised'",
    ),  # fmt: skip
    Case(
        "data-dir-missing",
        lambda w, c: [*train_args(w), "--data-dir", str(c / "nope"), "--out", _out(c)],
        r"data folder .*nope does not exist",
    ),
    Case(
        "data-dir-empty-no-fallback",
        lambda w, c: [*train_args(w), "--data-dir", str(c / "empty"), "--out", _out(c)],
        r"not found in .*empty.*drop --data-dir",
        lambda w, c: (c / "empty").mkdir(),
    ),  # fmt: skip
    Case("data-dir-empty-flag", lambda w, c: [*train_args(w), "--data-dir", ""], r"argument --data-dir: is empty"),
    Case(
        "oe-folder-missing",
        train("--oe-folder", "/nonexistent/oe"),
        r"outlier-exposure folder '/nonexistent/oe' does not exist",
    ),
    Case(
        "oe-folder-empty",
        lambda w, c: [*train_args(w), "--oe-folder", str(c / "empty"), "--out", _out(c)],
        r"no images in outlier-exposure folder",
        lambda w, c: (c / "empty").mkdir(),
    ),
    Case(
        "cifar100-missing",
        lambda w, c: ["train", "--data-dir", str(w.fmnist), "--classes", "0", "--seeds", "1", "--out", _out(c)],
        r"CIFAR-100 .* is not at .*--oe-folder DIR",
    ),  # fmt: skip
    Case(
        "weights-missing",
        mvtec("--net", "FCDD_CNN224_VGG", "--weights", "/nonexistent/w.pt"),
        r"vgg11_bn weights file not found",
    ),
    Case(
        "vgg-f-without-pretraining", mvtec("--net", "FCDD_CNN224_VGG_F", "--no-pretrained"), r"freezes its first layers"
    ),
    Case("resume-missing-out", command("benchmark", "--resume"), r"--resume: .*out does not exist"),
    # -- data --------------------------------------------------------------------------------------------
    Case("one-vs-rest-on-per-class", custom("--one-vs-rest"), r"holds normal/ .*drop --one-vs-rest"),
    Case(
        "one-vs-rest-single-class",
        custom("--one-vs-rest", data="{case}/custom"),
        r"needs at least two classes",
        _custom_copy(_one_class_flat),
    ),
    Case(
        "corrupt-training-image",
        custom(data="{case}/custom"),
        r"cannot decode image .*1.png",
        _custom_copy(_corrupt_image),
    ),
    Case(
        "single-label-test-set",
        custom(data="{case}/custom"),
        r"no images in .*test/metal/anomalous .*add images or remove the class",
        _custom_copy(_no_test_anomalies),
    ),
    Case(
        "benchmark-corrupt-image",
        custom(data="{case}/custom", cmd="benchmark"),
        r"cannot decode image .*1.png",
        _custom_copy(_corrupt_image),
    ),
    Case("mvtec-soft-mask", mvtec(data="{case}/mvtec"), r"mask .*000_mask.png is not binary", _mvtec_copy(_grey_mask)),
    Case(
        "mvtec-mask-size",
        mvtec(data="{case}/mvtec"),
        r"mask .*000_mask.png is 8x8 .* but its image",
        _mvtec_copy(_small_mask),
    ),
    Case("check-soft-mask", lambda w, c: ["check", str(c / "mvtec")], r"is not binary", _mvtec_copy(_grey_mask)),
    Case("check-missing-folder", lambda w, c: ["check", str(c / "nope")], r"nope is not a folder"),
    Case("check-one-vs-rest", lambda w, c: ["check", str(w.custom), "--one-vs-rest"], r"drop --one-vs-rest"),
    Case(
        "explain-bomb",
        explain("{bomb}"),
        r"cannot decode image .*bomb.png.*(bomb|exceeds)",
        lambda w, c: (copy_run(w, c), bomb_png(c / "bomb.png")),
    ),
    Case(
        "explain-corrupt-image",
        explain("{bad}"),
        r"cannot decode image .*bad.png",
        lambda w, c: (copy_run(w, c), (c / "bad.png").write_bytes(b"nope")),
    ),
    Case(
        "explain-missing-run",
        lambda w, c: ["explain", "--run", str(c / "nope"), str(w.image)],
        r"is not a finished run folder",
    ),
    # -- tune, storage, cluster --------------------------------------------------------------------------
    Case("search-class-99", command("tune", "--search-class", "99"), r"--search-class\) 99 is not a class"),
    Case("max-concurrent-0", command("tune", "--max-concurrent", "0"), r"argument --max-concurrent: must be >= 1"),
    Case("max-concurrent-negative", command("tune", "--max-concurrent", "-1"), r"--max-concurrent: must be >= 1"),
    Case("trials-0", command("tune", "--trials", "0"), r"argument --trials: must be >= 1"),
    Case("objectives-unknown", command("tune", "--optimize", "val_auc,speed"), r"unknown objective 'speed'"),
    Case(
        "objectives-deprecated-flag",  # the old spelling still reaches the same check (after its warning line)
        command("tune", "--objectives", "val_auc,speed"),
        r"unknown objective 'speed' in `search.optimize`",
    ),
    Case("objectives-cost-first", command("tune", "--optimize", "gpu_seconds"), r"first objective .* must be one of"),
    Case(
        "objectives-with-asha",
        command("tune", "--optimize", "val_auc,gpu_seconds", "--early-stopping", "asha"),
        r"needs `search.scheduler` none \(--early-stopping none\)",
    ),
    Case(
        "pick-factor-below-1",
        command("tune", "--optimize", "val_auc,gpu_seconds", "--pick", "within:0.5"),
        r"within:F needs a factor F >= 1",
    ),  # fmt: skip
    Case(
        "pixel-objective-without-masks",
        command("tune", "--optimize", "val_auc,val_pixel_auc"),
        r"--optimize val_pixel_auc: .*without masks .* pass --validation-anomalies synthetic",
    ),
    Case("tune-bogus-storage", command("tune", "--storage", "bogus://"), r"unknown database kind 'bogus'"),
    Case("tune-unparsable-storage", command("tune", "--storage", "bogus"), r"--storage bogus is not a database URL"),
    Case(
        "tune-dead-database",
        command("tune", "--storage", f"postgresql://fcdd@127.0.0.1:{PORT}/db"),
        r"cannot reach the study database .*127.0.0.1",
    ),
    Case(
        "tune-sqlite-no-folder",
        command("tune", "--storage", "sqlite:////nonexistent/dir/study.db"),
        r"folder /nonexistent/dir does not exist",
    ),
    Case(
        "tune-restart-external-study",
        command("tune", "--restart", "--storage", "sqlite:////tmp/x.db"),
        r"--restart cannot start over a study kept in --storage",
    ),
    Case(
        "benchmark-dead-address",
        command("benchmark", "--address", f"127.0.0.1:{PORT}"),
        r"--address 127.0.0.1:\d+: no Ray cluster answers there",
    ),
    Case(
        "benchmark-address-not-host-port",
        command("benchmark", "--address", "nowhere"),
        r"--address nowhere is not HOST:PORT",
    ),
    # -- --mlflow: checked before anything is written or trained -----------------------------------------
    Case(
        "mlflow-dead-server",
        train("--mlflow", f"http://127.0.0.1:{PORT}"),
        r"--mlflow http://127.0.0.1:\d+: cannot reach the tracking server \(Connection refused\); "
        r"start it \(mlflow server --host 127.0.0.1 --port \d+\) or fix the URI",
    ),
    Case(
        "mlflow-dead-server-into-done",
        into_done("--mlflow", f"http://127.0.0.1:{PORT}"),
        r"cannot reach the tracking server",
        setup=copy_done,
    ),
    Case(
        "tune-mlflow-dead-server",
        command("tune", "--mlflow", f"http://127.0.0.1:{PORT}/"),
        r"--mlflow http://127.0.0.1:\d+/: cannot reach the tracking server",
    ),
    Case(
        "mlflow-unknown-scheme",
        train("--mlflow", "bogus://tracking"),
        r"--mlflow bogus://tracking: MLflow does not know this kind of tracking URI; pass a server's http://",
    ),
    Case(
        "mlflow-folder-store",
        lambda w, c: [*train_args(w, "--mlflow", str(c / "mlruns")), "--out", _out(c)],
        r"MLflow refuses a folder as its tracking store .*sqlite:///",
    ),
    Case(
        "mlflow-damaged-record",
        into_done("--mlflow", f"http://127.0.0.1:{PORT}"),
        r"done/mlflow.json cannot be read; delete it",
        setup=lambda w, c: (copy_done(w, c), (c / "done" / "mlflow.json").write_text("{torn")),
    ),
    Case("report-missing-folder", lambda w, c: ["report", str(c / "nope")], r"nope is not a folder"),
    Case("report-no-store", lambda w, c: ["report", str(c)], r"holds no trials.jsonl"),
    Case(
        "report-gallery-seeds-0",
        lambda w, c: ["report", str(w.done), "--gallery-seeds", "0"],
        r"argument --gallery-seeds: must be >= 1",
    ),
]


def substitute(argv: list[str], case_dir: Path) -> list[str]:
    """Placeholders of file arguments a setup wrote into the case folder."""
    names = {"bomb": case_dir / "bomb.png", "bad": case_dir / "bad.png"}
    return [a.format(**{k: str(v) for k, v in names.items()}) if a.startswith("{") else a for a in argv]


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value))
