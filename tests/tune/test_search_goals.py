"""The goals of a search (`--optimize`) and the rule that picks the rerun point of a Pareto front, on made-up fronts."""

from __future__ import annotations

import pytest

from tune.search_goals import check_goals, goal_values, gpu_seconds, parse_pick, pick_point
from tune.spec_file import spec_from_dict

# val_auc (max) and gpu_seconds (min): four points, none dominating another.
FRONT = {0: (0.90, 100.0), 1: (0.95, 130.0), 2: (0.97, 300.0), 3: (0.80, 50.0)}
MAX_MIN = ("max", "min")
DEFAULT_LR = {"type": "loguniform", "low": 1e-4, "high": 1e-1}


@pytest.mark.parametrize(
    ("pick", "expected"),
    [
        ("best", 2),  # the highest AUC, whatever it costs
        ("within:1.2", 3),  # cost <= 60: only the cheapest point
        ("within:2", 0),  # cost <= 100: 0.90 beats 0.80
        ("within:3", 1),  # cost <= 150: 0.95
        ("within:10", 2),  # every point qualifies: the best AUC again
        # scaled to [0, 1] (1 = best): 0 (0.588, 0.8), 1 (0.882, 0.68), 2 (1, 0), 3 (0, 1);
        # distances to (1, 1): 0.458, 0.341, 1, 1
        ("knee", 1),
    ],
)
def test_pick_on_a_hand_made_front(pick, expected):
    assert pick_point(FRONT, MAX_MIN, pick) == expected


def test_within_on_two_qualities_divides_the_best_second():
    front = {0: (0.90, 0.80), 1: (0.85, 0.95)}
    assert pick_point(front, ("max", "max"), "within:1.1") == 1  # 0.80 × 1.1 = 0.88 < 0.95
    assert pick_point(front, ("max", "max"), "within:1.2") == 0  # 0.80 × 1.2 = 0.96 >= 0.95


def test_ties_go_to_the_earlier_trial_and_one_objective_is_the_best():
    assert pick_point({4: (0.9, 10.0), 2: (0.9, 10.0)}, MAX_MIN, "best") == 2
    assert pick_point({0: (0.7,), 1: (0.9,)}, ("max",), "within:1.2") == 1
    with pytest.raises(ValueError, match="empty"):
        pick_point({}, MAX_MIN, "best")


@pytest.mark.parametrize(
    ("text", "message"),
    [("fastest", "must be one of"), ("within:0.5", "F >= 1"), ("within:x", "F >= 1"), ("within:", "F >= 1"),
     ("best:2", "must be one of"), ("within:nan", "F >= 1")],
)  # fmt: skip
def test_bad_pick_rules_are_one_line(text, message):
    with pytest.raises(ValueError, match=message):
        parse_pick(text)


@pytest.mark.parametrize(
    ("names", "message"),
    [((), "one or two"), (("val_auc", "gpu_seconds", "val_pixel_auc"), "one or two"), (("auc",), "unknown"),
     (("val_auc", "val_auc"), "twice"), (("gpu_seconds", "val_auc"), "first objective")],
)  # fmt: skip
def test_bad_objective_lists_are_refused(names, message):
    with pytest.raises(ValueError, match=message):
        check_goals(names)


def test_gpu_seconds_charge_the_share_held():
    assert gpu_seconds(200.0, 0.25) == 50.0
    assert gpu_seconds(200.0, 2) == 400.0
    assert gpu_seconds(200.0, 0) == 200.0  # a CPU-only trial counts its seconds
    assert goal_values({"val_auc": 0.8, "gpu_seconds": 20.0}, ("val_auc", "gpu_seconds")) == [0.8, 20.0]
    assert goal_values({"val_auc": float("nan")}, ("val_auc", "gpu_seconds")) == [None, None]


def _search_spec(**search):
    return spec_from_dict({"preset": "fmnist", "classes": [0], "seeds": 1, "search": search}, n_classes=10)


def test_two_objectives_turn_early_stopping_off_and_refuse_it_when_asked():
    spec = _search_spec(optimize="val_auc,gpu_seconds")
    assert spec.search.optimize == ("val_auc", "gpu_seconds") and spec.search.scheduler == "none"
    assert _search_spec().search.optimize == ("val_auc",) and _search_spec().search.scheduler == "asha"
    with pytest.raises(ValueError, match="needs `search.scheduler` none"):
        _search_spec(optimize=["val_auc", "gpu_seconds"], scheduler="asha")
    with pytest.raises(ValueError, match="must be one of"):
        _search_spec(optimize=["val_auc", "gpu_seconds"], pick="cheapest")


def test_validation_pixel_auc_needs_masked_validation_anomalies(tiny_fmnist, tiny_oe_folder):
    from tune.preflight import check_plan

    overrides = {"data.data_dir": str(tiny_fmnist), "anomalies.oe_folder": str(tiny_oe_folder)}
    raw = {"preset": "fmnist", "classes": [0], "seeds": 1, "overrides": overrides,
           "search": {"optimize": "val_auc,val_pixel_auc", "space": {"optim.lr": DEFAULT_LR}}}  # fmt: skip
    with pytest.raises(ValueError, match="without masks .* --validation-anomalies synthetic"):
        check_plan(spec_from_dict(raw, n_classes=10), search=True)
    raw["overrides"]["data.validation_anomalies"] = "synthetic"
    check_plan(spec_from_dict(raw, n_classes=10), search=True)  # confetti marks what it changed


def test_the_search_driver_reruns_the_picked_front_point(tmp_path):
    import optuna
    import pandas as pd

    from tune.experiment import pick_rerun

    study = optuna.create_study(directions=["maximize", "minimize"])
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for number, values in [*FRONT.items(), (4, (0.85, 200.0))]:  # #4 is dominated by #1
        study.add_trial(optuna.trial.create_trial(params={"optim.lr": 0.001 * (number + 1)},
                                                  distributions={"optim.lr": lr}, values=list(values)))  # fmt: skip
    spec = _search_spec(optimize="val_auc,gpu_seconds", pick="within:2")
    chosen, front, ties = pick_rerun(study, spec, tmp_path)
    assert (chosen.number, chosen.params["optim.lr"], front, ties) == (0, 0.001, [0, 1, 2, 3], None)
    table = pd.read_csv(tmp_path / "search" / "pareto.csv")
    assert table["on_front"].tolist() == [True, True, True, True, False] and table["picked"].tolist()[0]
