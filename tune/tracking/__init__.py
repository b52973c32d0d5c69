"""Experiment trackers that mirror a results folder's store: :mod:`tune.tracking.mlflow` (``--mlflow URI``).

The results store stays the record; a tracker only copies its trials (config, per-epoch and final
metrics, figures) to where people look at them, and a tracker that fails never stops a benchmark.
"""
