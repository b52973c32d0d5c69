"""Artificial anomalies and outlier exposure (FCDD method notes §5).

Import from the modules: :mod:`fcdd.anomalies.registry` (the noise modes, OE sources and
supervise modes), :mod:`fcdd.anomalies.noise` and :mod:`fcdd.anomalies.confetti` (synthetic
noise), :mod:`fcdd.anomalies.outlier_exposure` and :mod:`fcdd.anomalies.sources` (real images),
:mod:`fcdd.anomalies.supervisor` (online mixing), :mod:`fcdd.anomalies.offline`, and
:mod:`fcdd.anomalies.from_config` (a run's config to its training stream). This package file
imports nothing, so the registry stays cheap to import.
"""
