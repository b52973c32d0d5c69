"""Real anomalies from the test split as training anomalies (``--noise-mode mvtec`` / ``mvtec_gt``).

The semi-supervised MVTec setting trains with a few real defect images of the nominal
category, ``--defects-per-type`` per defect type (method notes §4.4). The original drew them from
the test split and left them there, so the model was evaluated on images it was trained
on (§9.1 item 2). :func:`take_test_anomalies` moves them instead: they leave the test set
and become an :class:`OutlierPool` with their masks.
"""

from __future__ import annotations

import logging

import torch

from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.data.base import ADData
from fcdd.data.subsets import select_test

log = logging.getLogger(__name__)


def take_test_anomalies(data: ADData, limit_per_group: int, seed: int) -> tuple[ADData, OutlierPool, int]:
    """Move ``limit_per_group`` anomalous test images per defect type into a training pool.

    Images are drawn without replacement per group (``data.test_groups``, groups in sorted
    order) with a generator seeded by ``seed``. Returns the dataset without them, the pool
    (images and raw-size masks) and how many test images were removed.
    """
    if data.test_groups is None or data.test_masks is None:
        raise ValueError(
            f"dataset {data.name!r} has no defect types and masks for its test images; "
            "real-anomaly noise modes (mvtec, mvtec_gt) need MVTec-style data"
        )
    if limit_per_group < 1:
        raise ValueError(
            f"`limit_per_group` (--defects-per-type) must be >= 1 real anomalies per defect type, got {limit_per_group}"
        )
    anomalous = data.test_labels.bool().tolist()
    members: dict[str, list[int]] = {}
    for index, (group, is_anomaly) in enumerate(zip(data.test_groups, anomalous, strict=True)):
        if is_anomaly:
            members.setdefault(group, []).append(index)
    if not members:
        raise ValueError(f"dataset {data.name!r} has no anomalous test images to take real anomalies from")
    generator = torch.Generator().manual_seed(seed)
    taken: list[int] = []
    for group in sorted(members):
        indices = members[group]
        if len(indices) < limit_per_group:
            raise ValueError(
                f"defect type {group!r} has {len(indices)} anomalous test images, fewer than the "
                f"{limit_per_group} asked for (--defects-per-type); lower --defects-per-type"
            )
        order = torch.randperm(len(indices), generator=generator)[:limit_per_group]
        taken += [indices[i] for i in order.tolist()]
    if len(taken) == sum(anomalous):
        raise ValueError(
            f"taking {limit_per_group} real anomalies per defect type leaves no anomalous test image "
            f"in {data.name!r}; lower --defects-per-type"
        )
    pick = torch.tensor(taken, dtype=torch.int64)
    keep = torch.ones(len(anomalous), dtype=torch.bool)
    keep[pick] = False
    kept = keep.nonzero().flatten()
    pool = OutlierPool(data.test_images[pick].contiguous(), data.test_masks[pick].contiguous())
    rest = select_test(data, kept)
    log.info(
        "took %d real anomalies (%d per defect type, %d types) from the test set for training; %d test images remain",
        len(taken),
        limit_per_group,
        len(members),
        len(kept),
    )
    return rest, pool, len(taken)
