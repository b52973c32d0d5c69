"""Artificial anomalies and outlier exposure (FCDD method notes §5).

Anomaly sources share one signature, :data:`AnomalySource`: synthetic noise modes
(:data:`NOISE_MODES`) and real-image pools (:class:`OutlierPool`). The
:class:`OnlineSupervisor` mixes a source's images into each training batch.
"""

from __future__ import annotations

from fcdd.anomalies.noise import NOISE_MODES, AnomalySource, get_noise_mode
from fcdd.anomalies.outlier_exposure import OutlierPool, load_cifar100_pool, load_folder_pool
from fcdd.anomalies.supervisor import SUPERVISE_MODES, OnlineSupervisor, SupervisedBatch

__all__ = [
    "NOISE_MODES",
    "SUPERVISE_MODES",
    "AnomalySource",
    "OnlineSupervisor",
    "OutlierPool",
    "SupervisedBatch",
    "get_noise_mode",
    "load_cifar100_pool",
    "load_folder_pool",
]
