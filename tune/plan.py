"""Expanding a benchmark spec into plain, serialisable trials with stable content-hashed ids."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fcdd.config import EXECUTION_KEYS, RunConfig
from tune.spec import BenchmarkSpec


@dataclass(frozen=True)
class TrialSpec:
    """One trial: a setting's config for one nominal class and one seed."""

    trial_id: str  # hash of the resolved config: the same work always gets the same id
    setting: str
    normal_class: int
    seed: int
    config: dict[str, Any]  # RunConfig.to_flat()
    class_name: str = ""  # the dataset's name of the nominal class

    def run_config(self) -> RunConfig:
        """The method's config for this trial."""
        return RunConfig.from_flat(self.config)

    def run_dir(self, out: str | Path) -> Path:
        """Where the trial's run folder lives under the results folder."""
        return Path(out) / "runs" / self.setting / f"normal_{self.normal_class}" / f"it_{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for Ray's param_space)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrialSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(**raw)


ID_IGNORES = EXECUTION_KEYS


def trial_id(config: RunConfig) -> str:
    """Stable id of a resolved config: 12 hex digits of a SHA-256 of its flat form, :data:`ID_IGNORES` left out."""
    return config.fingerprint(ignore=ID_IGNORES)


def expand(spec: BenchmarkSpec) -> list[TrialSpec]:
    """All trials of a spec, ordered by setting, class, seed (deterministic)."""
    trials = []
    for setting, _ in spec.settings:
        base = spec.setting_config(setting)
        for normal_class in spec.classes:
            for seed in spec.seeds:
                config = base.replace(**{"data.normal_class": normal_class, "seed": seed})
                trials.append(
                    TrialSpec(
                        trial_id(config), setting, normal_class, seed, config.to_flat(), spec.class_name(normal_class)
                    )
                )
    ids = [t.trial_id for t in trials]
    if len(set(ids)) != len(ids):
        raise ValueError("two settings resolve to the same configuration; give them different overrides")
    return trials


def format_plan(spec: BenchmarkSpec, trials: list[TrialSpec], done: frozenset[str] | set[str] = frozenset()) -> str:
    """A printable table of the trials, marking those already finished."""
    base = spec.base
    lines = [
        f"benchmark {spec.name}: {len(trials)} trials ({len(spec.settings)} setting(s) × {len(spec.classes)} class(es) "
        f"× {len(spec.seeds)} seed(s)), dataset {base.data.dataset}, net {base.network.name}, "
        f"{base.optim.epochs} epochs, {spec.resources.cpus_per_trial:g} CPU + "
        f"{spec.resources.gpus_label} GPU per trial",
        f"{'trial_id':<13} {'setting':<16} {'class':>5} {'seed':>4}  status",
    ]
    for t in trials:
        lines.append(
            f"{t.trial_id:<13} {t.setting:<16} {t.normal_class:>5} {t.seed:>4}  "
            + ("done" if t.trial_id in done else "to run")
        )
    for name, overrides in spec.settings:
        if overrides:
            lines.append(f"setting {name}: " + ", ".join(f"{k}={v}" for k, v in overrides))
    return "\n".join(lines)
