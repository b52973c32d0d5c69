"""Benchmark specs and plans: pure, no Ray."""

from __future__ import annotations

import pytest
import yaml

from fcdd.presets import get_preset
from tune.plan import TrialSpec, expand, format_plan, trial_id
from tune.resources import InsufficientResourcesError, check_placement
from tune.spec import BenchmarkSpec, Resources, SearchSpec
from tune.spec_file import load_spec, spec_from_dict


def _spec(**kw) -> BenchmarkSpec:
    return spec_from_dict({"preset": "fmnist", "classes": [0, 1], "seeds": 2, **kw}, n_classes=10)


def test_expand_is_class_by_seed_in_order_with_stable_ids():
    trials = expand(_spec())
    assert [(t.normal_class, t.seed) for t in trials] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [t.trial_id for t in trials] == [t.trial_id for t in expand(_spec())]
    assert len({t.trial_id for t in trials}) == 4
    assert trials[2].run_config().data.normal_class == 1 and trials[3].run_config().seed == 1


def test_trial_id_depends_on_result_relevant_settings_only():
    base = get_preset("fmnist")
    assert trial_id(base) == trial_id(base.replace(device="cpu", eval_every=3, threads=7))
    assert trial_id(base) != trial_id(base.replace(**{"optim.lr": 0.5}))


def test_trial_round_trip_and_run_dir(tmp_path):
    t = expand(_spec())[1]
    assert TrialSpec.from_dict(t.to_dict()) == t
    assert t.run_dir(tmp_path) == tmp_path / "runs" / "default" / "normal_0" / "it_1"


def test_settings_multiply_trials_and_unknown_override_fails_early():
    spec = _spec(settings=[{"name": "a"}, {"name": "b", "overrides": {"optim.lr": 0.001}}])
    trials = expand(spec)
    assert len(trials) == 8 and {t.setting for t in trials} == {"a", "b"}
    with pytest.raises(ValueError, match="unknown config key"):
        _spec(settings=[{"name": "a", "overrides": {"optim.learning_rate": 1}}])


def test_spec_from_yaml_file(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "demo",
                "preset": "fmnist",
                "overrides": {"optim.epochs": 3},
                "classes": "all",
                "seeds": [3, 4],
                "resources": {"cpus_per_trial": 2, "gpus_per_trial": 0.25},
                "max_failures": 2,
                "search": {"trials": 5, "space": {"optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}}},
            }
        )
    )
    spec = spec_from_dict(load_spec(path), n_classes=10)
    assert spec.name == "demo" and spec.base.optim.epochs == 3 and spec.classes == tuple(range(10))
    assert spec.seeds == (3, 4) and spec.resources == Resources(2, 0.25) and spec.search.trials == 5
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"classes": [12]}, "unknown class .12."),
        ({"seeds": 0}, "`seeds` must be >= 1"),
        ({"bogus": 1}, "unknown key .bogus. in the benchmark spec"),
        ({"resources": {"gpus_per_trial": 1.5}}, "whole number"),
        ({"search": {"scheduler": "hyperband"}}, "`search.scheduler`"),
        ({"search": {"space": {"optim.lr": {"type": "loguniform", "low": 1, "high": 0.1}}}}, "`low` < `high`"),
    ],
)
def test_spec_validation(raw, message):
    with pytest.raises(ValueError, match=message):
        spec_from_dict({"preset": "fmnist", **raw}, n_classes=10)


def test_default_space_drops_folder_oe_without_a_folder():
    spec = _spec()
    assert "noise/folder" not in spec.search.space["anomalies.mode"]["choices"]
    with_folder = _spec(overrides={"anomalies.oe_folder": "/x", "anomalies.noise_mode": "folder"})
    assert "noise/folder" in with_folder.search.space["anomalies.mode"]["choices"]
    assert isinstance(with_folder.search, SearchSpec)


def test_format_plan_marks_done():
    spec = _spec()
    trials = expand(spec)
    text = format_plan(spec, trials, {trials[0].trial_id})
    assert "4 trials" in text and text.count("done") == 1 and text.count("to run") == 3


def test_placement_check():
    check_placement(Resources(1, 0.5), [{"CPU": 2.0}, {"CPU": 4.0, "GPU": 1.0}])
    with pytest.raises(InsufficientResourcesError, match="no GPU: pass --gpus-per-trial 0"):
        check_placement(Resources(1, 1), [{"CPU": 2.0}])
    with pytest.raises(InsufficientResourcesError, match="2 CPU/0 GPU"):
        check_placement(Resources(4, 0), [{"CPU": 2.0}])
