"""Ties at the best value of a search: the tolerance, the rule that breaks them, and the warning before a search."""

from __future__ import annotations

import json

import pytest

from fcdd.config import RunConfig
from tests.helpers import record
from tune.store import ResultsStore
from tune.ties import TIE_RULE, auc_resolution, break_ties, describe_ties, resolution_warning, search_resolution_warning


def test_the_auc_resolution_is_one_over_the_pairs():
    assert auc_resolution(10, 4) == 1 / 40
    assert auc_resolution(0, 4) is None and auc_resolution(10, None) is None


def test_ties_within_the_tolerance_go_to_the_cheapest_then_the_earliest():
    # best 0.9; #5 is one step (0.025) below it: tied; #6 two steps: not. #1 and #5 both cost 10 s: #1 is earlier.
    values = [0.9, 0.9, 0.875, 0.85, 0.9]
    costs = [30.0, 10.0, 10.0, 1.0, 20.0]
    numbers = [0, 1, 5, 6, 3]
    result = break_ties(values, costs, numbers, tolerance=0.025)
    assert (result.picked, result.trial_numbers, result.count) == (1, (0, 1, 3, 5), 4)
    assert break_ties([0.9, 0.875], [30.0, 10.0], [8, 2], tolerance=0.025).picked == 2  # #2 is cheaper
    assert break_ties([0.9, 0.875], [10.0, 10.0], [8, 2], tolerance=0.025).picked == 2  # as cheap, and earlier
    # Tolerance 0: exact ties only; the best alone is a tie of one.
    alone = break_ties([0.9, 0.875], [30.0, 10.0], [8, 2], tolerance=0.0)
    assert (alone.picked, alone.trial_numbers, alone.count) == (8, (8,), 1)
    assert break_ties([0.9, 0.9], [30.0, 10.0], [8, 2], tolerance=0.0).picked == 2


def test_a_trial_without_a_recorded_cost_counts_as_the_dearest():
    assert break_ties([1.0, 1.0, 1.0], [None, 50.0, float("nan")], [0, 1, 2], tolerance=0.0).picked == 1
    assert break_ties([1.0, 1.0], [None, None], [4, 3], tolerance=0.0).picked == 3


def test_a_float_step_of_exactly_the_tolerance_ties():
    # 1/10 and 1/100-steps are not exact in binary: 0.9 - 0.89 > 0.01 by a hair.
    assert break_ties([0.9, 0.89], [5.0, 1.0], [0, 1], tolerance=0.01).trial_numbers == (0, 1)
    with pytest.raises(ValueError, match="equal length"):
        break_ties([0.9], [1.0, 2.0], [0], tolerance=0.0)


def test_the_tie_report_names_count_tolerance_rule_and_trials():
    result = break_ties([0.9, 0.9, 0.5], [3.0, 2.0, 1.0], [0, 1, 2], tolerance=0.025)
    assert result.to_dict() == {"count": 2, "tolerance": 0.025, "rule": TIE_RULE, "trial_numbers": [0, 1]}
    line = result.describe("val_auc")
    assert line.startswith("2 trials tied at the best val_auc (within 0.025, one step of the validation AUC): #0, #1.")
    assert line.endswith("broken by cheaper first (trial seconds), then the earlier trial: trial #1.")
    assert break_ties([0.9, 0.5], [1.0, 1.0], [0, 1], tolerance=0.0).describe("val_auc") == ""


def test_the_warning_names_the_split_and_its_resolution():
    text = resolution_warning(6, 6)
    assert text == (
        "the search's validation split holds 6 nominal and 6 anomalous images: its AUC moves in steps of "
        "1/36 = 0.0278, coarser than 0.01, so settings closer than that tie; raise --validation-fraction or "
        "--train-limit to tell them apart"
    )
    assert resolution_warning(10, 10) is None  # exactly 0.01: fine


def test_the_planning_function_counts_the_validation_split_from_the_files(tiny_fmnist):
    # 24 nominal training images per class in the fixture; no training, only the label files are read.
    config = RunConfig().replace(**{"data.data_dir": str(tiny_fmnist), "data.normal_class": 3})
    quarter = search_resolution_warning(config.replace(**{"data.validation_fraction": 0.25}))
    assert quarter is not None
    assert quarter.startswith("the search's validation split (class 3) holds 6 nominal and 6 anomalous images")
    assert "1/36 = 0.0278" in quarter
    limited = config.replace(**{"data.validation_fraction": 0.5, "data.train_limit": 8})
    assert "holds 4 nominal and 4 anomalous images" in str(search_resolution_warning(limited))
    assert search_resolution_warning(config.replace(**{"data.validation_fraction": 0.5})) is None  # 12 × 12
    assert search_resolution_warning(config) is None  # nothing held out


def _study_with(values: dict[int, float]):
    import optuna

    study = optuna.create_study(direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for number in sorted(values):
        params = {"optim.lr": 0.001 * (number + 1)}
        trial = optuna.trial.create_trial(params=params, distributions={"optim.lr": lr}, value=values[number])
        study.add_trial(trial)
    return study


def test_the_search_driver_picks_among_ties_by_the_rule_not_optunas_best_trial(tmp_path):
    from tune.experiment import pick_rerun
    from tune.search_trials import search_base_config, search_trial
    from tune.spec_file import spec_from_dict

    spec = spec_from_dict({"preset": "fmnist", "classes": [0], "seeds": 1, "search": {}}, n_classes=10)
    # 5 nominal and 8 anomalous validation images: steps of 1/40 = 0.025.
    study = _study_with({0: 0.9, 1: 0.875, 2: 0.9, 3: 0.8})
    costs = {0: 40.0, 1: 5.0, 2: 20.0, 3: 1.0}
    store = ResultsStore(tmp_path / "search")
    for trial in study.trials:
        tid = search_trial(search_base_config(spec), trial.params).trial_id
        store.append(record(tid, trial_seconds=costs[trial.number], n_validation=13, n_validation_anomalous=8))
    assert study.best_trial.number == 0  # Optuna's pick: the first of the best
    chosen, front, ties = pick_rerun(study, spec, tmp_path)
    assert (chosen.number, front) == (1, [])  # #1 ties one step below the best, and is the cheapest of #0, #1, #2
    assert ties is not None and ties.to_dict() == {"count": 3, "tolerance": 0.025, "rule": TIE_RULE,
                                                   "trial_numbers": [0, 1, 2]}  # fmt: skip
    # Without the sizes in the records (older folders): exact ties only, #2 is cheaper than #0.
    (tmp_path / "search" / "trials.jsonl").unlink()
    for trial in study.trials:
        tid = search_trial(search_base_config(spec), trial.params).trial_id
        store.append(record(tid, trial_seconds=costs[trial.number]))
    chosen, _, ties = pick_rerun(study, spec, tmp_path)
    assert chosen.number == 2 and ties is not None and (ties.tolerance, ties.trial_numbers) == (0.0, (0, 2))
    json.dumps(ties.to_dict())  # what best_params.json records


def test_a_search_on_a_coarse_validation_split_is_warned_before_it_starts(tiny_fmnist, tiny_oe_folder, tmp_path,
                                                                          caplog):  # fmt: skip
    import logging

    from tune.experiment import run_search
    from tune.spec_file import spec_from_dict

    class Started(Exception):
        pass

    class NoSearch:  # the runner: the search would start at its prepare
        def prepare(self, spec):
            raise Started

    overrides = {"data.data_dir": str(tiny_fmnist), "anomalies.oe_folder": str(tiny_oe_folder)}
    raw = {"preset": "fmnist", "classes": [2], "seeds": 1, "overrides": overrides,
           "search": {"validation_fraction": 0.25}}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="fcdd"), pytest.raises(Started):
        run_search(spec_from_dict(raw, n_classes=10), tmp_path / "tune", NoSearch())  # type: ignore[arg-type]
    assert "warning: the search's validation split (class 2) holds 6 nominal and 6 anomalous images" in caplog.text


def test_a_long_tie_lists_twenty_trials_and_counts_the_rest():
    ties = {"count": 25, "tolerance": 0.0, "rule": TIE_RULE, "trial_numbers": list(range(25))}
    line = describe_ties(ties, 3, "val_auc")
    assert "(exactly): #0, #1" in line and "#19 and 5 more." in line and "#20" not in line
    assert describe_ties({**ties, "count": 1, "trial_numbers": [3]}, 3, "val_auc").startswith("No tie at the best")
