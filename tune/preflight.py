"""Checks of a plan that need only its settings and files, run before anything is written or started.

A mistake found here is one ``fcdd: error:`` line instead of a trial failing after the data was
loaded, once per trial and retry, inside Ray workers.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from pathlib import Path

from fcdd.config import RunConfig
from tune.plan import TrialSpec
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
    from fcdd.anomalies.oe_modes import check_source

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


def check_plan(spec: BenchmarkSpec, *, search: bool = False) -> None:
    """Raise a one-line error for anything in the plan's settings and files that would fail a trial.

    Per setting: the data folder, the network (method, input shape against the data, weights),
    every planned class's files (:func:`fcdd.data.loading.check_data`), the outlier-exposure
    source. ``search`` also checks the config `fcdd tune` searches with (its validation split).
    Data warnings (masks that look inverted) are logged once each.
    """
    from fcdd.anomalies.oe_modes import check_source
    from fcdd.data.loading import check_data
    from fcdd.methods.build import check_model

    configs = [(spec.setting_config(name), spec.classes) for name, _ in spec.settings]
    if search:
        from tune.search_trials import search_base_config

        config = search_base_config(spec)
        configs.append((config, (config.data.normal_class,)))
        if "val_pixel_auc" in spec.search.optimize:
            check_validation_masks(config)
    warned: set[str] = set()
    for config, classes in configs:
        d = config.data
        if d.data_dir is not None and not d.download and not Path(d.data_dir).is_dir():
            raise FileNotFoundError(
                f"data folder {d.data_dir} does not exist; check --data-dir (or pass --download to fetch it there)"
            )
        check_model(config)
        for normal_class in classes:
            summary = check_data(dataclasses.replace(d, normal_class=normal_class))
            for warning in summary.warnings:
                if warning not in warned:
                    warned.add(warning)
                    log.warning("warning: %s", warning)
        check_source(config)


def check_validation_masks(config: RunConfig) -> None:
    """``val_pixel_auc`` needs validation anomalies with masks: refuse the settings that have none."""
    from fcdd.engine.validation import masks_missing

    reason = masks_missing(config.data)
    if reason is not None:
        raise ValueError(
            f"--optimize val_pixel_auc: {reason}; pass --validation-anomalies synthetic "
            "(confetti-malformed images, masked where they changed)"
        )


def check_snapshots(trials: list[TrialSpec], out: Path) -> None:
    """Every checkpoint a trial would resume from loads and belongs to that trial's settings.

    Read as the run would read it (tensors only: a tampered file runs nothing), before anything
    starts, so a damaged one is one line here instead of a failed trial per retry.
    """
    from fcdd.artifacts import read_checkpoint
    from fcdd.runner import ResumeMismatchError, fingerprint

    for trial in trials:
        path = trial.run_dir(out) / "snapshot.pt"
        if not path.exists():
            continue
        saved = read_checkpoint(path)
        if saved.get("fingerprint") != fingerprint(trial.run_config()):
            raise ResumeMismatchError(
                f"checkpoint {path} belongs to a run with other settings; delete it or pass --restart"
            )


def check_address(address: str | None, timeout: float = 5.0) -> None:
    """A Ray address that is a host and port must accept a connection within ``timeout`` seconds.

    ``ray.init`` waits for a dead address for a long time; this is a plain TCP connect first.
    """
    if not address or address in ("auto", "local"):
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {address} is not HOST:PORT or ray://HOST:PORT; e.g. --address 10.0.0.5:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (error.strerror or type(error).__name__)
        raise ValueError(
            f"--address {address}: no Ray cluster answers there ({reason} after at most {timeout:g} s); "
            "start it (`ray start --head`) or fix --address"
        ) from None


def redacted(url: str) -> str:
    """The storage URL without its password, for messages and files."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL: Optuna will say so itself
        return url


def check_storage_url(url: str, timeout: float = 5.0) -> None:
    """An Optuna storage URL must parse, have its driver installed, and (a server) answer within ``timeout``.

    Opens a plain SQLAlchemy connection (no tables created); an SQLite file must be in an existing folder.
    """
    import sqlalchemy
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    shown = redacted(url)
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise ValueError(
            f"--storage {shown} is not a database URL; e.g. postgresql://user@host/db or sqlite:///path/study.db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).expanduser().parent.is_dir():
            raise FileNotFoundError(
                f"--storage {shown}: folder {Path(database).parent} does not exist; create it first"
            )
        return
    connect_args = {"connect_timeout": int(timeout)} if parsed.get_backend_name() in ("postgresql", "mysql") else {}
    try:
        engine = sqlalchemy.create_engine(parsed, connect_args=connect_args)
    except sqlalchemy.exc.NoSuchModuleError:
        raise ValueError(
            f"--storage {shown}: unknown database kind {parsed.drivername!r}; use postgresql://, mysql:// or sqlite:///"
        ) from None
    except ImportError as error:
        raise ValueError(
            f"--storage {shown} needs a database driver that is not installed ({error}); "
            "pip install 'fcdd[postgres]' for postgresql://"
        ) from None
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise ValueError(f"cannot reach the study database {shown} ({reason}); start it or fix --storage") from None
    finally:
        engine.dispose()
