"""Artificial anomalies and outlier exposure (FCDD method notes §5).

Anomaly sources share one signature, :data:`AnomalySource`: synthetic noise modes
(:data:`NOISE_MODES`) and real-image pools (:class:`OutlierPool`). The
:class:`OnlineSupervisor` mixes a source's images into each training batch;
:func:`make_offline_training_set` makes a fixed set of anomalies once (offline supervision).
"""

from __future__ import annotations

from fcdd.anomalies.noise import NOISE_MODES, AnomalySource, get_noise_mode
from fcdd.anomalies.offline import OfflineSet, make_offline_training_set
from fcdd.anomalies.outlier_exposure import OutlierPool, load_cifar100_pool, load_folder_pool
from fcdd.anomalies.supervisor import SUPERVISE_MODES, OnlineSupervisor, SupervisedBatch, pool_from_train_anomalies

__all__ = [
    "NOISE_MODES",
    "SUPERVISE_MODES",
    "AnomalySource",
    "OfflineSet",
    "OnlineSupervisor",
    "OutlierPool",
    "SupervisedBatch",
    "get_noise_mode",
    "load_cifar100_pool",
    "load_folder_pool",
    "make_offline_training_set",
    "pool_from_train_anomalies",
]
