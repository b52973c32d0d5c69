"""Search trials: sampling one parameter set from the search space, and the trial it becomes.

:func:`suggest` walks the space define-by-run; :func:`search_trial` turns the sampled parameters
into the trial's config and id. Nothing here computes anything expensive or talks to Ray: the
sampler only asks the Optuna trial for values, so it can be tested with a plain in-memory study.
(The report's section about a search is :mod:`tune.report.sections.study`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fcdd.config import RunConfig
from tune.plan import TrialSpec, trial_id
from tune.space import ANOMALY_MODE_KEY
from tune.spec import BenchmarkSpec


def suggest(trial: Any, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Ask an Optuna trial for every parameter of ``space`` whose ``when`` conditions hold.

    Parameters are visited in the order given, so a condition may refer to an earlier one.
    """
    chosen: dict[str, Any] = {}
    for key, param in space.items():
        conditions = param.get("when") or {}
        if any(chosen.get(name) not in values for name, values in conditions.items()):
            continue
        kind = param["type"]
        if kind == "loguniform":
            chosen[key] = trial.suggest_float(key, param["low"], param["high"], log=True)
        elif kind == "uniform":
            chosen[key] = trial.suggest_float(key, param["low"], param["high"])
        elif kind == "int":
            chosen[key] = trial.suggest_int(key, param["low"], param["high"])
        else:
            chosen[key] = trial.suggest_categorical(key, list(param["choices"]))
    return chosen


def overrides_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Sampled parameters → dotted RunConfig overrides (``anomalies.mode`` splits in two)."""
    overrides: dict[str, Any] = {}
    for key, value in params.items():
        if key == ANOMALY_MODE_KEY:
            supervise, _, noise = str(value).partition("/")
            overrides["anomalies.supervise_mode"] = supervise
            if noise:
                overrides["anomalies.noise_mode"] = noise
        else:
            overrides[key] = value
    return overrides


def search_base_config(spec: BenchmarkSpec) -> RunConfig:
    """The config every search trial starts from: one class, seed 0, validation held out, AUC each epoch."""
    normal_class = spec.search.search_class if spec.search.search_class is not None else spec.classes[0]
    return spec.base.replace(
        **{
            "data.normal_class": normal_class,
            "seed": 0,
            "data.validation_fraction": spec.search.validation_fraction,
            "eval_every": 1,
        }
    )


def search_trial(base: RunConfig, params: Mapping[str, Any]) -> TrialSpec:
    """The trial of one sampled parameter set; its run folder is ``search/runs/search/<trial_id>/...``.

    Search trials share class and seed, so the id in the setting keeps their checkpoints apart.
    """
    config = base.replace(**overrides_from_params(params))
    tid = trial_id(config)
    return TrialSpec(tid, f"search/{tid}", config.data.normal_class, config.seed, config.to_flat())


def search_trial_config(spec: BenchmarkSpec, params: Mapping[str, Any]) -> RunConfig:
    """The RunConfig of one search trial with sampled ``params``."""
    return search_base_config(spec).replace(**overrides_from_params(params))
