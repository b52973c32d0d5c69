"""Checks of a plan that need only its settings and files, run before anything is written or started.

A mistake found here is one ``fcdd: error:`` line instead of a trial failing after the data was
loaded, once per trial and retry, inside Ray workers.
"""

from __future__ import annotations

import dataclasses

from tune.spec import BenchmarkSpec


def check_plan(spec: BenchmarkSpec) -> None:
    """Raise ``ValueError``/``FileNotFoundError`` for a missing data folder, bad class files, an unusable OE folder."""
    from pathlib import Path

    from fcdd.anomalies.outlier_exposure import list_images
    from fcdd.anomalies.registry import OE_FOLDER_SOURCES
    from fcdd.data.loading import check_data

    checked: set[str] = set()
    for name, _ in spec.settings:
        config = spec.setting_config(name)
        d, a = config.data, config.anomalies
        if d.data_dir is not None and not d.download and not Path(d.data_dir).is_dir():
            raise FileNotFoundError(
                f"data folder {d.data_dir} does not exist; check --data-dir (or pass --download to fetch it there)"
            )
        for normal_class in spec.classes:
            check_data(dataclasses.replace(d, normal_class=normal_class))
        if a.supervise_mode in ("unsupervised", "other"):
            continue
        if OE_FOLDER_SOURCES.get(a.noise_mode) and not a.oe_folder:
            raise ValueError(
                f"setting {name}: --noise-mode {a.noise_mode} needs --oe-folder DIR (the folder of its images)"
            )
        if a.noise_mode == "folder" and a.oe_folder not in checked:
            list_images(str(a.oe_folder))  # a missing or empty folder fails here, naming it
            checked.add(str(a.oe_folder))
