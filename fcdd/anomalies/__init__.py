"""Artificial anomalies and outlier exposure (FCDD method notes §5).

Import from the modules: :mod:`fcdd.anomalies.registry` (the noise modes, OE sources and
supervise modes), :mod:`fcdd.anomalies.noise` and :mod:`fcdd.anomalies.confetti` (synthetic
noise), :mod:`fcdd.anomalies.oe_modes` (what each outlier-exposure noise mode loads) and the
pools of real images they load: :mod:`fcdd.anomalies.outlier_exposure` (``OutlierPool``, any
folder, CIFAR-100), :mod:`fcdd.anomalies.large_pools` (EMNIST, ImageNet-22k, ImageNet-1k val),
:mod:`fcdd.anomalies.streaming` and :mod:`fcdd.anomalies.real_anomalies`;
:mod:`fcdd.anomalies.supervisor` (online mixing), :mod:`fcdd.anomalies.offline`, and
:mod:`fcdd.anomalies.from_config` (a run's config to its training stream). This package file
imports nothing, so the registry stays cheap to import.
"""
