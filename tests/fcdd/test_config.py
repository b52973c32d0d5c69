"""RunConfig validation and round trips."""

import dataclasses
import json

import pytest

from fcdd.config import AnomalyConfig, OptimConfig, RunConfig
from fcdd.presets import PRESETS, get_preset


def test_round_trip_through_json_and_flat():
    config = get_preset("cifar10")
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    flat = config.to_flat()
    assert flat["optim.milestones"] == [400, 500]
    assert RunConfig.from_flat(flat) == config


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunConfig().seed = 3  # type: ignore[misc]


def test_unknown_key_is_rejected_with_suggestion():
    with pytest.raises(ValueError, match="did you mean 'optim.lr'"):
        RunConfig().replace(**{"optim.lrr": 0.1})
    with pytest.raises(ValueError, match="unknown config key"):
        RunConfig.from_dict({"optim": {"momentum": 0.5}})


def test_replace_with_dotted_keys():
    config = RunConfig().replace(**{"optim.lr": 0.5, "seed": 3})
    assert config.optim.lr == 0.5
    assert config.seed == 3
    assert config.optim.epochs == RunConfig().optim.epochs


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: OptimConfig(lr=0), "`lr` must be > 0"),
        (lambda: OptimConfig(optimizer="rmsprop"), "`optimizer` must be one of"),
        (lambda: OptimConfig(scheduler="milestones"), "needs `milestones`"),
        (lambda: AnomalyConfig(noise_mode="confeti"), "did you mean 'confetti'"),
        (lambda: AnomalyConfig(p=0), "`p` must be in"),
        (lambda: RunConfig(device="tpu"), "`device`"),
    ],
)
def test_validation_messages(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fmnist_preset_matches_original_runner():
    p = PRESETS["fmnist"]
    assert (p.network.name, p.optim.batch_size, p.optim.optimizer, p.optim.lr) == ("FCDD_CNN28_W", 128, "sgd", 1e-2)
    assert (p.optim.weight_decay, p.optim.scheduler, p.optim.gamma, p.optim.epochs) == (1e-6, "lambda", 0.98, 400)
    assert (p.heatmap.gauss_std, p.heatmap.quantile) == (1.2, 0.85)
    assert (p.anomalies.supervise_mode, p.data.preprocessing) == ("noise", "lcnaug1")


def test_unknown_preset():
    with pytest.raises(ValueError, match="did you mean 'fmnist'"):
        get_preset("fmnst")


def test_fingerprint_ignores_requested_keys():
    a = RunConfig()
    b = a.replace(**{"optim.epochs": 3})
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint(ignore=("optim.epochs",)) == b.fingerprint(ignore=("optim.epochs",))
