"""The define-by-run space and parameter mapping, with a plain in-memory Optuna study."""

from __future__ import annotations

import optuna

from tune.search_trials import overrides_from_params, search_base_config, search_trial_config, suggest
from tune.space import DEFAULT_SPACE
from tune.spec_file import spec_from_dict


def _spec():
    return spec_from_dict(
        {
            "preset": "fmnist",
            "classes": [3, 5],
            "seeds": 2,
            "overrides": {"anomalies.oe_folder": "/x", "anomalies.noise_mode": "folder"},
        },
        n_classes=10,
    )


def test_conditional_parameter_only_with_oe():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(30):
        trial = study.ask()
        params = suggest(trial, DEFAULT_SPACE)
        seen.append(params)
        study.tell(trial, 0.5)
    for params in seen:
        uses_oe = params["anomalies.mode"] in ("noise/folder", "noise/cifar100")
        assert ("anomalies.oe_limit" in params) == uses_oe
        assert 1e-4 <= params["optim.lr"] <= 1e-1 and 0.25 <= params["anomalies.p"] <= 0.75
    assert any("anomalies.oe_limit" in p for p in seen) and any("anomalies.oe_limit" not in p for p in seen)


def test_same_sampler_seed_same_suggestions():
    def draw():
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3))
        return suggest(study.ask(), DEFAULT_SPACE)

    assert draw() == draw()


def test_overrides_split_the_anomaly_mode():
    o = overrides_from_params({"anomalies.mode": "malformed_normal/confetti", "optim.lr": 0.01})
    assert o == {"anomalies.supervise_mode": "malformed_normal", "anomalies.noise_mode": "confetti", "optim.lr": 0.01}


def test_search_configs_hold_out_validation_and_report_every_epoch():
    spec = _spec()
    base = search_base_config(spec)
    assert (base.data.normal_class, base.seed, base.eval_every) == (3, 0, 1)
    assert base.data.validation_fraction == spec.search.validation_fraction > 0
    config = search_trial_config(spec, {"anomalies.mode": "noise/confetti", "optim.lr": 0.003})
    assert (config.anomalies.noise_mode, config.optim.lr) == ("confetti", 0.003)
