"""`--objectives` became `--optimize`: the old spellings still work with one warning line, and search
folders and studies written by the old code still resume (their stored key stays ``"objectives"``)."""

from __future__ import annotations

import json

import pytest
import yaml

from tune.cli import make_parser
from tune.experiment import open_study, run_search, search_identity
from tune.resolve import resolve_spec
from tune.runners.serial import SerialRunner
from tune.search_trials import search_base_config
from tune.spec_file import load_spec, spec_from_dict

TWO = "val_auc,gpu_seconds"
LR = {"optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}}
WARNING = "fcdd: warning: {old} is deprecated, use {new} (removed in 0.3)"


def _resolve(*argv: str):
    return resolve_spec(make_parser().parse_args(list(argv)))


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_the_old_flag_gives_the_same_search_and_one_warning_line(tiny_fmnist, capsys):
    new = _resolve("tune", "--data-dir", str(tiny_fmnist), "--optimize", TWO)
    assert _stderr_lines(capsys) == []
    old = _resolve("tune", "--data-dir", str(tiny_fmnist), "--objectives", TWO)
    assert _stderr_lines(capsys) == [WARNING.format(old="--objectives", new="--optimize")]
    assert old == new and new.search.optimize == ("val_auc", "gpu_seconds")


def test_the_old_spec_key_gives_the_same_search_and_one_warning_line(tmp_path, capsys):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"preset": "fmnist", "search": {"objectives": TWO, "space": LR}}))
    old = spec_from_dict(load_spec(path), n_classes=10)
    assert _stderr_lines(capsys) == [WARNING.format(old="`search.objectives`", new="`search.optimize`")]
    new = spec_from_dict({"preset": "fmnist", "search": {"optimize": TWO, "space": LR}}, n_classes=10)
    assert _stderr_lines(capsys) == []
    assert old == new and old.search.scheduler == "none"
    # A raw mapping from Python takes the old key too, with the same one line.
    assert spec_from_dict({"preset": "fmnist", "search": {"objectives": TWO, "space": LR}}, n_classes=10) == new
    assert len(_stderr_lines(capsys)) == 1


def test_a_flag_overrides_the_old_key_of_a_spec_file_and_both_keys_in_one_file_are_refused(
    tiny_fmnist, tmp_path, capsys
):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"preset": "fmnist", "search": {"objectives": TWO}}))
    spec = _resolve("tune", "--spec", str(path), "--data-dir", str(tiny_fmnist), "--optimize", "val_auc")
    assert spec.search.optimize == ("val_auc",) and len(_stderr_lines(capsys)) == 1
    path.write_text(yaml.safe_dump({"preset": "fmnist", "search": {"objectives": TWO, "optimize": "val_auc"}}))
    with pytest.raises(ValueError, match=r"`search.objectives` and `search.optimize` both given"):
        load_spec(path)


def _old_search_json(spec) -> dict:
    """``search.json`` exactly as the code before `--optimize` wrote it for a two-goal search."""
    fixed = {"space": spec.search.space, "scheduler": "none", "grace_epochs": 1, "sampler_seed": 0,
             "study": spec.name, "objectives": ["val_auc", "gpu_seconds"]}  # fmt: skip
    settings = json.loads(json.dumps({"search": fixed}, sort_keys=True))
    return {"name": spec.name, "base_config": search_base_config(spec).to_dict(), "settings": settings}


class _Stop(Exception):
    pass


class _SearchStops(SerialRunner):
    """Records how many trials the search still had to run, then stops: resuming is all this test asks."""

    def max_concurrent(self, resources):
        return 1

    def for_subfolder(self, name):
        return self

    def search(self, spec, base, out, *, n_trials, **kwargs):
        self.n_trials = n_trials
        raise _Stop


def test_a_search_folder_written_before_optimize_resumes(tiny_fmnist, tmp_path):
    import optuna

    overrides = {"data.data_dir": str(tiny_fmnist), "anomalies.noise_mode": "confetti",
                 "anomalies.supervise_mode": "malformed_normal"}  # fmt: skip
    raw = {"preset": "fmnist", "name": "old", "classes": [0], "seeds": 1, "overrides": overrides,
           "search": {"optimize": TWO, "trials": 3, "space": LR}}  # fmt: skip
    spec = spec_from_dict(raw, n_classes=10)
    assert search_identity(spec)["settings"] == _old_search_json(spec)["settings"]
    out = tmp_path / "tune"
    out.mkdir()
    (out / "search.json").write_text(json.dumps(_old_search_json(spec)))
    study = optuna.create_study(study_name="old", storage=f"sqlite:///{out / 'study.db'}",
                                directions=["maximize", "minimize"])  # fmt: skip
    study.set_user_attr("objectives", ["val_auc", "gpu_seconds"])  # as the old code recorded the goals
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    study.add_trial(optuna.trial.create_trial(params={"optim.lr": 0.01}, distributions={"optim.lr": lr},
                                              values=[0.8, 12.0]))  # fmt: skip
    runner = _SearchStops(show_progress=False)
    with pytest.raises(_Stop):
        run_search(spec, out, runner)
    assert runner.n_trials == 2  # the old study's trial counts: the search continues, it does not start over
    # The goals the old study recorded are still read: other goals (as many) are refused.
    with pytest.raises(ValueError, match="optimises val_auc,gpu_seconds, not val_auc,val_pixel_auc; pass those to"):
        open_study("old", f"sqlite:///{out / 'study.db'}", ("val_auc", "val_pixel_auc"))
