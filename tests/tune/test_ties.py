"""Ties at the top of a search, hand-computed: the AUC's resolution, the tie set, the trial picked, its sentence."""

from __future__ import annotations

import math

import pytest

from tune.ties import RULE, Candidate, Ties, auc_resolution, break_ties, describe_ties, validation_resolution

# Trials 0..4 at validation AUCs over 20 nominal × 20 anomalous images (one step: 1/400 = 0.0025).
TRIALS = [Candidate(0, 398 / 400, 10.0), Candidate(1, 399 / 400, 30.0), Candidate(2, 397 / 400, 5.0),
          Candidate(3, 399 / 400, 20.0), Candidate(4, 398 / 400, None)]  # fmt: skip


def test_auc_resolution_is_one_pair_of_images():
    assert auc_resolution(20, 20) == 1 / 400 == 0.0025
    assert auc_resolution(10, 4) == 0.025
    assert auc_resolution(None, 5) == auc_resolution(5, 0) == auc_resolution(0, 5) == 0.0  # unknown: exact ties only
    # (n_validation, n_validation_anomalous) per trial: 40 images, 20 anomalous -> 20 × 20; unknown counts skipped
    assert validation_resolution([(40, 20), (None, 20), (40, None)]) == 0.0025
    assert validation_resolution([(40, 20), (30, 10)]) == 1 / 200  # the coarsest step: 20 × 10
    assert validation_resolution([]) == 0.0


def test_one_step_below_the_best_is_a_tie_and_the_cheapest_is_picked():
    ties = break_ties(TRIALS, 0.0025)
    # 399/400 - 398/400 is 0.0025000000000000577 in floats: still one step, still a tie; 397/400 is two off
    assert ties.trial_numbers == (0, 1, 3, 4) and ties.count == 4
    assert ties.chosen == 0  # costs 10, 30, 20 and unknown: the cheapest
    assert ties.to_json() == {"count": 4, "tolerance": 0.0025, "rule": RULE, "trial_numbers": [0, 1, 3, 4]}


def test_exact_ties_and_the_earlier_trial_on_equal_cost():
    assert break_ties(TRIALS, 0.0) == Ties((1, 3), chosen=3, tolerance=0.0)  # cost 20 beats 30
    same_cost = [Candidate(5, 0.8, 1.0), Candidate(2, 0.8, 1.0), Candidate(9, 0.7, 0.1)]
    assert break_ties(same_cost, 0.0).chosen == 2
    unknown_costs = [Candidate(7, 0.8), Candidate(3, 0.8)]
    assert break_ties(unknown_costs, 0.0).chosen == 3
    assert break_ties([Candidate(4, 0.8, None), Candidate(6, 0.8, 99.0)], 0.0).chosen == 6  # a known cost first


def test_no_tie_and_minimised_objectives():
    alone = break_ties([Candidate(0, 0.9), Candidate(1, 0.8)], 0.05)
    assert (alone.trial_numbers, alone.chosen) == ((0,), 0)
    losses = [Candidate(0, 0.30, 5.0), Candidate(1, 0.20, 9.0), Candidate(2, 0.22, 1.0), Candidate(3, 0.25, 0.5)]
    assert break_ties(losses, 0.02, maximize=False) == Ties((1, 2), chosen=2, tolerance=0.02)


def test_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        break_ties([], 0.1)
    for tolerance in (-0.1, math.nan):
        with pytest.raises(ValueError, match="tolerance"):
            break_ties(TRIALS, tolerance)
    with pytest.raises(ValueError, match=r"NaN for trials \[8\]"):
        break_ties([Candidate(8, math.nan), *TRIALS], 0.0)


def test_describe_ties():
    text = describe_ties(break_ties(TRIALS, 0.0025).to_json(), 0, "val_auc")
    assert text == (
        "4 trials tied at the best val_auc (within 0.0025, one step of the validation AUC): #0, #1, #3, #4. "
        f"The validation split cannot tell them apart; the tie was broken by {RULE}: trial #0."
    )
    many = {"count": 25, "tolerance": 0.0, "rule": RULE, "trial_numbers": list(range(25))}
    assert "(exactly): #0, #1, #2, #3, #4 and 20 more." in describe_ties(many, 3, "val_auc", shown=5)
    alone = {"count": 1, "tolerance": 0.01, "rule": RULE, "trial_numbers": [4]}
    assert describe_ties(alone, 4, "val_auc") == (
        "No tie at the best val_auc: no other trial within 0.01, one step of the validation AUC; trial #4 is the pick."
    )
    assert "no other trial with the same value;" in describe_ties({**alone, "tolerance": 0.0}, 4, "val_auc")
