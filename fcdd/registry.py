"""Plain-dict registries: one table per extension point, lookups that suggest, entries loaded lazily.

Every extension point (datasets, networks, noise modes, outlier-exposure sources, methods) is one
``dict[str, Entry]`` in its package's ``registry.py``. An entry is either the object itself or a
``"package.module:attribute"`` reference that is imported on first use. The references keep the
registry modules free of torch, so :mod:`fcdd.config` can validate names against the registries at
construction while ``fcdd --help`` and ``fcdd presets`` start in well under a second.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Entry = str | Callable[..., Any] | object  # "module:attribute", or the registered object itself


def load(entry: Entry) -> Any:
    """The object an entry stands for: a ``"module:attribute"`` string is imported, anything else returned."""
    if not isinstance(entry, str):
        return entry
    module, _, attribute = entry.partition(":")
    if not attribute:
        raise ValueError(f"registry entry {entry!r} must read 'package.module:attribute'")
    return getattr(importlib.import_module(module), attribute)


def unknown(kind: str, name: object, known: Iterable[str], *, fold_case: bool = False) -> ValueError:
    """The error for a name no registry entry has: the sorted known names and the closest match."""
    names = sorted(known)
    probe = str(name).upper() if fold_case else str(name)
    pool = {n.upper(): n for n in names} if fold_case else {n: n for n in names}
    close = [pool[c] for c in difflib.get_close_matches(probe, list(pool), n=1)]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown {kind} {name!r}{hint}; choose one of {', '.join(names)}")


def lookup(registry: Mapping[str, Entry], name: str, kind: str, *, fold_case: bool = False) -> Any:
    """The loaded entry ``name`` of ``registry``; an unknown name is a ``ValueError`` naming the known ones."""
    if name not in registry:
        raise unknown(kind, name, registry, fold_case=fold_case)
    return load(registry[name])


def check(registry: Mapping[str, Entry], name: str, kind: str, *, fold_case: bool = False) -> None:
    """Raise the :func:`unknown` error unless ``name`` is registered (nothing is imported)."""
    if name not in registry:
        raise unknown(kind, name, registry, fold_case=fold_case)
