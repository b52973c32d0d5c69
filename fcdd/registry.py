"""Plain-dict registries: one table per extension point, lookups that suggest, entries loaded lazily.

Every extension point (datasets, networks, noise modes, outlier-exposure sources, methods) is one
``dict[str, Entry]`` in its package's ``registry.py``. An entry is either the object itself or a
``"package.module:attribute"`` reference that is imported on first use. The references keep the
registry modules free of torch, so :mod:`fcdd.config` can validate names against the registries at
construction while ``fcdd --help`` and ``fcdd presets`` start in well under a second.

Lookups are typed: :func:`lookup` (an instance of a class), :func:`lookup_class` (a subclass) and
:func:`lookup_function` (a callable) check what they load. Each registry's typed accessor lives
beside its users: :func:`fcdd.data.loading.get_loader`, :func:`fcdd.networks.build.network_class`,
:func:`fcdd.anomalies.noise.get_noise_mode`, :func:`fcdd.methods.build.get_method`.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

Entry = str | Callable[..., Any] | object  # "module:attribute", or the registered object itself

T = TypeVar("T")


def load(entry: Entry) -> object:
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


def _loaded(registry: Mapping[str, Entry], name: str, kind: str, fold_case: bool) -> object:
    if name not in registry:
        raise unknown(kind, name, registry, fold_case=fold_case)
    return load(registry[name])


def _misfit(registry: Mapping[str, Entry], name: str, kind: str, found: object, promise: str) -> TypeError:
    # A wrong registration, not a wrong name: it names the line of the table to fix.
    what = type(found).__name__
    return TypeError(f"{kind} {name!r} is registered as {registry[name]!r}, which loads a {what}, not {promise}")


def lookup(registry: Mapping[str, Entry], name: str, kind: str, expect: type[T], *, fold_case: bool = False) -> T:
    """The loaded entry ``name`` of ``registry``, an instance of ``expect``.

    An unknown name is a ``ValueError`` naming the known ones; an entry of another type a ``TypeError``.
    """
    found = _loaded(registry, name, kind, fold_case)
    if not isinstance(found, expect):
        raise _misfit(registry, name, kind, found, f"an instance of {expect.__name__}")
    return found


def lookup_class(
    registry: Mapping[str, Entry], name: str, kind: str, base: type[T], *, fold_case: bool = False
) -> type[T]:
    """The loaded entry ``name`` of ``registry``, a subclass of ``base`` (errors as :func:`lookup`)."""
    found = _loaded(registry, name, kind, fold_case)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise _misfit(registry, name, kind, found, f"a subclass of {base.__name__}")
    return found


def lookup_function(
    registry: Mapping[str, Entry], name: str, kind: str, *, fold_case: bool = False
) -> Callable[..., Any]:
    """The loaded entry ``name`` of ``registry``, a callable (errors as :func:`lookup`).

    Its signature is the registry's convention, which no runtime check can see: the typed accessor
    next to the registry's users states it (e.g. :func:`fcdd.anomalies.noise.get_noise_mode`).
    """
    found = _loaded(registry, name, kind, fold_case)
    if not callable(found):
        raise _misfit(registry, name, kind, found, "a function")
    return found


def check(registry: Mapping[str, Entry], name: str, kind: str, *, fold_case: bool = False) -> None:
    """Raise the :func:`unknown` error unless ``name`` is registered (nothing is imported)."""
    if name not in registry:
        raise unknown(kind, name, registry, fold_case=fold_case)
