"""fcdd: explainable deep one-class anomaly detection (FCDD, ICLR 2021).

The public surface is small: a frozen :class:`RunConfig` (or a preset) goes into :func:`run`,
which returns a :class:`RunResult` with :class:`RunMetrics` and artifact paths.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Imported lazily so `import fcdd` stays cheap (Ray workers, the CLI's --help).
_EXPORTS = {
    "RunConfig": "fcdd.config",
    "get_preset": "fcdd.presets",
    "PRESETS": "fcdd.presets",
    "run": "fcdd.runner",
    "RunResult": "fcdd.runner",
    "RunMetrics": "fcdd.metrics",
    "EpochReport": "fcdd.engine.fit",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fcdd' has no attribute {name!r}")
