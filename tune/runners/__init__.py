"""Runners execute a plan's trials: :class:`~tune.runners.serial.SerialRunner` in this process
(`fcdd train`), :class:`~tune.runners.ray.RayRunner` as Ray Tune trials (`fcdd benchmark`,
`fcdd tune`). Both call :func:`fcdd.run`, append one :class:`~tune.store.TrialRecord` per trial
to the same store and keep the same ``progress.json``; only :mod:`tune.runners.ray` imports Ray.
"""
