"""Checks of a plan that need only its settings and files, run before anything is written or started.

A mistake found here is one ``fcdd: error:`` line instead of a trial failing after the data was
loaded, once per trial and retry, inside Ray workers.
"""

from __future__ import annotations

import dataclasses
import logging

from tune.spec import BenchmarkSpec

log = logging.getLogger("fcdd")

# What a dry run trains on when its outlier exposure is not at hand: the method's own synthetic
# anomalies, which need no files.
DRY_RUN_FALLBACK = {"anomalies.supervise_mode": "malformed_normal", "anomalies.noise_mode": "confetti"}


def offline_fallback(spec: BenchmarkSpec) -> BenchmarkSpec:
    """A dry run whose outlier exposure is neither on disk nor to be downloaded trains on synthetic anomalies.

    Only dry runs: a full run never substitutes, it stops with the error instead. The substitution
    is logged in one line and kept in the spec's notes (benchmark.json, the report).
    """
    from fcdd.anomalies.sources import check_source

    try:
        check_source(spec.base)
    except FileNotFoundError as error:
        note = (
            f"dry run: {str(error).split(';')[0]}, so it trains on confetti-malformed nominal images instead "
            "(a full run never substitutes; pass --download or --oe-folder DIR for the real setting)"
        )
        log.warning("%s", note)
        return dataclasses.replace(spec, base=spec.base.replace(**DRY_RUN_FALLBACK), notes=(*spec.notes, note))
    return spec


def check_plan(spec: BenchmarkSpec) -> None:
    """Raise ``ValueError``/``FileNotFoundError`` for a missing data folder, bad class files, an unusable OE folder."""
    from pathlib import Path

    from fcdd.anomalies.sources import check_source
    from fcdd.data.loading import check_data
    from fcdd.methods.build import check_model

    for name, _ in spec.settings:
        config = spec.setting_config(name)
        d = config.data
        if d.data_dir is not None and not d.download and not Path(d.data_dir).is_dir():
            raise FileNotFoundError(
                f"data folder {d.data_dir} does not exist; check --data-dir (or pass --download to fetch it there)"
            )
        check_model(config)
        for normal_class in spec.classes:
            check_data(dataclasses.replace(d, normal_class=normal_class))
        check_source(config)
