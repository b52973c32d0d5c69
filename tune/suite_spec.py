"""A suite: several benchmarks in one spec, run by one command (`fcdd train` or `fcdd benchmark`).

A suite file is a benchmark spec file (:mod:`tune.spec_file`) whose ``suite:`` lists the
benchmarks; each entry is a benchmark spec mapping without ``max_failures`` and ``search``::

    name: paper                  # the suite's name: its results folder results/<name>
    seeds: 5                     # the top level's seeds, overrides and resources are every entry's defaults
    overrides: {device: cuda}
    resources: {cpus_per_trial: 4}
    max_failures: 1              # the whole suite's: one run retries every trial alike
    suite:
      - preset: fmnist
      - {preset: cifar10, seeds: 2}
      - {name: mvtec, preset: mvtec, classes: [0, 1], overrides: {data.data_dir: /data/mvtec}}
      - {preset: custom, overrides: {data.data_dir: /data/parts}}

An entry's ``name`` (default ``<dataset>-benchmark``) names its results folder ``<out>/<name>``.
Where several places set one thing, the strongest wins: a command-line flag (it applies to every
entry), then the entry, then the suite's top level (an entry's ``overrides`` and ``resources`` are
merged over the top level's key by key), then the preset. ``--name`` names the suite.

A benchmark whose dataset cannot even list its classes (no data folder, or a folder that does not
exist) is kept as :class:`Missing` with the reason, and so is one whose pre-flight finds its files
missing (:func:`as_missing`); :mod:`tune.suite` refuses to start while any benchmark is missing,
unless told to skip them. ``--preset paper`` is the shipped suite
``tune/specs/paper.yaml``: the paper's whole benchmark.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tune.spec import BenchmarkSpec, check_name, dry_run
from tune.spec_file import SPEC_KEYS, check_raw, spec_from_dict

SUITE_KEY = "suite"
# What the top level of a suite file may hold besides the list.
SUITE_KEYS = ("name", SUITE_KEY, "seeds", "overrides", "resources", "max_failures")
# What an entry may hold: a benchmark spec's keys, less what only the whole suite (or `fcdd tune`) sets.
_SUITE_ONLY = {
    "max_failures": "`max_failures` applies to the whole suite (one run retries every trial alike); set it at the top",
    "search": "a suite runs with `fcdd train` or `fcdd benchmark`, which search nothing; drop `search`",
}
ENTRY_KEYS = tuple(key for key in SPEC_KEYS if key not in _SUITE_ONLY)
# Folders of the suite's own beside its benchmarks' (the suite report, Ray's experiment state).
RESERVED_NAMES = ("report", "ray")
DEFAULT_NAME = "suite"
# Suites shipped with the package, by the name `--preset` takes.
SHIPPED = {"paper": Path(__file__).with_name("specs") / "paper.yaml"}


def is_suite(raw: Any) -> bool:
    """Whether a raw spec lists several benchmarks (``suite:``)."""
    return isinstance(raw, dict) and SUITE_KEY in raw


def shipped_suite(name: str | None) -> Path | None:
    """The shipped suite file ``--preset name`` stands for, or None (a preset of the method)."""
    return SHIPPED.get(name) if name is not None else None


@dataclass(frozen=True)
class Missing:
    """A benchmark of a suite whose data (or another file it needs) is not there."""

    name: str
    dataset: str
    reason: str  # the check's own one-line error, naming the folder and the fix


@dataclass(frozen=True)
class Suite:
    """Several benchmarks run by one command, each into ``<out>/<its name>``; those without data kept apart."""

    name: str
    benchmarks: tuple[BenchmarkSpec, ...]
    missing: tuple[Missing, ...] = ()

    def __post_init__(self) -> None:
        check_name("suite name", self.name)
        if not self.benchmarks and not self.missing:
            raise ValueError("a suite needs at least one benchmark")
        names = [spec.name for spec in self.benchmarks] + [m.name for m in self.missing]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(
                f"two benchmarks of suite {self.name} are named {twice[0]} (each names its folder "
                f"<out>/{twice[0]}); give each entry its own `name`"
            )
        taken = [name for name in names if name in RESERVED_NAMES]
        if taken:
            raise ValueError(
                f"benchmark name {taken[0]!r} is taken by the suite's own folder <out>/{taken[0]}; "
                "give the entry another `name`"
            )
        if len({spec.max_failures for spec in self.benchmarks}) > 1:
            raise ValueError("the benchmarks of a suite share one `max_failures`; set it at the suite's top level")

    def without(self, missing: list[Missing]) -> Suite:
        """The suite with the benchmarks ``missing`` names moved to its missing ones (no files at their pre-flight)."""
        names = {m.name for m in missing}
        kept = tuple(spec for spec in self.benchmarks if spec.name not in names)
        return dataclasses.replace(self, benchmarks=kept, missing=(*self.missing, *missing))


def check_suite_raw(raw: dict[str, Any]) -> None:
    """The shape of a raw suite: known keys at the top and in every entry, a non-empty list of mappings.

    Each entry is then checked as a benchmark spec (:func:`tune.spec_file.check_raw`), and so is
    the top level's shared part (resources, overrides, max_failures).
    """
    for key in raw:
        if key not in SUITE_KEYS:
            raise _unknown(str(key), SUITE_KEYS, "the suite spec (beside `suite:` go only the suite-wide keys)")
    entries = raw[SUITE_KEY]
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"`suite` must be a non-empty list of benchmark specs ({{preset: fmnist}}, ...), got {entries!r}"
        )
    check_raw({key: raw[key] for key in ("overrides", "resources", "max_failures") if key in raw})
    if "name" in raw:
        check_name("suite name", raw["name"])
    for index, entry in enumerate(entries):
        where = f"suite[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"`{where}` must be a benchmark spec mapping ({{preset: fmnist}}), got {entry!r}")
        for key in entry:
            if key in _SUITE_ONLY:
                raise ValueError(f"{where}: {_SUITE_ONLY[key]}")
            if key not in ENTRY_KEYS:
                raise _unknown(str(key), ENTRY_KEYS, f"`{where}`")
        try:
            check_raw(entry)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None


def _unknown(key: str, known: tuple[str, ...], where: str) -> ValueError:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown key {key!r} in {where}{hint}; known: {', '.join(known)}")


def entry_raw(raw: dict[str, Any], index: int) -> dict[str, Any]:
    """Entry ``index`` with the suite's top-level defaults under it (the entry's own keys win, key by key)."""
    entry = dict(raw[SUITE_KEY][index])
    for section in ("overrides", "resources"):
        if raw.get(section) or entry.get(section):
            entry[section] = {**(raw.get(section) or {}), **(entry.get(section) or {})}
    if "seeds" in raw:
        entry.setdefault("seeds", raw["seeds"])
    if "max_failures" in raw:
        entry["max_failures"] = raw["max_failures"]
    return entry


def suite_from_dict(
    raw: dict[str, Any],
    *,
    overrides: dict[str, Any] | None = None,
    source: str | None = None,
    dry: bool = False,
) -> Suite:
    """Build a suite from its raw mapping; ``overrides`` (dotted keys, the flags) win over every entry's.

    Each entry becomes a :class:`~tune.spec.BenchmarkSpec` through
    :func:`tune.spec_file.spec_from_dict`, or a :class:`Missing` when its dataset cannot list its
    classes for want of data. ``dry`` makes each a dry run (:func:`tune.spec.dry_run`) and the
    suite ``<name>-dry-run``, so a dry run never resumes into the real suite's folders.
    """
    prefix = f"{source}: " if source else ""
    try:
        check_suite_raw(raw)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None
    built = [_entry(entry_raw(raw, i), overrides, f"{prefix}suite[{i}]") for i in range(len(raw[SUITE_KEY]))]
    if dry:
        built = [_dry(b) if isinstance(b, BenchmarkSpec) else b for b in built]
    name = str(raw.get("name") or DEFAULT_NAME)
    return Suite(
        name=f"{name}-dry-run" if dry else name,
        benchmarks=tuple(b for b in built if isinstance(b, BenchmarkSpec)),
        missing=tuple(b for b in built if isinstance(b, Missing)),
    )


def _dry(spec: BenchmarkSpec) -> BenchmarkSpec | Missing:
    """A benchmark's dry run, with synthetic anomalies where its outlier exposure is not at hand."""
    from tune.preflight import offline_fallback

    try:
        return offline_fallback(dry_run(spec))
    except (FileNotFoundError, ValueError) as error:
        missing = as_missing(spec, error)
        if missing is None:
            raise ValueError(f"benchmark {spec.name}: {error}") from None
        return missing


def as_missing(spec: BenchmarkSpec, error: Exception) -> Missing | None:
    """A pre-flight's ``error`` as :class:`Missing` when it says the benchmark's files are not there, else None.

    Not there: a file or folder that does not exist (``FileNotFoundError``), or an outlier
    exposure that reads a folder while the benchmark names none (`--noise-mode imagenet22k`
    without ``anomalies.oe_folder``).
    """
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, FileNotFoundError) or _oe_folder_missing(spec):
        return Missing(spec.name, spec.base.data.dataset, reason)
    return None


def _oe_folder_missing(spec: BenchmarkSpec) -> bool:
    """Its outlier exposure reads a folder, and the benchmark names none (the one ``ValueError`` of its check)."""
    from fcdd.anomalies.oe_modes import check_source

    try:
        check_source(spec.base)
    except ValueError:
        return True
    except FileNotFoundError:  # missing on its own
        return False
    return False


def _entry(raw: dict[str, Any], overrides: dict[str, Any] | None, where: str) -> BenchmarkSpec | Missing:
    """One entry's spec, or :class:`Missing` when its classes cannot be listed for want of its data."""
    try:
        return spec_from_dict(raw, overrides=overrides)
    except (FileNotFoundError, ValueError) as error:
        missing = _missing(raw, overrides)
        if missing is not None:
            return missing
        kind = FileNotFoundError if isinstance(error, FileNotFoundError) else ValueError
        raise kind(f"{where}: {error}") from None


def _missing(raw: dict[str, Any], overrides: dict[str, Any] | None) -> Missing | None:
    """The entry as :class:`Missing` if its dataset cannot list its classes; None if it can (or is broken anyway)."""
    try:  # its name and dataset without listing its classes (which needs the data): one class stands in
        stub = spec_from_dict({**raw, "classes": "all"}, n_classes=1, overrides=overrides)
    except (FileNotFoundError, ValueError):
        return None
    reason = _unlisted(stub)
    return None if reason is None else Missing(stub.name, stub.base.data.dataset, reason)


def _unlisted(spec: BenchmarkSpec) -> str | None:
    """Why the benchmark's dataset cannot list its classes (no data folder, or one that is not there), or None."""
    from fcdd.data.loading import dataset_classes

    try:
        dataset_classes(spec.base.data)
    except (FileNotFoundError, ValueError) as error:
        return str(error).splitlines()[0]
    return None
