"""Spellings kept for one release after a rename: each still works and prints one warning line.

`--objectives` (and the spec key ``search.objectives``) became `--optimize` (``search.optimize``):
beside the method's `--objective fcdd|hsc|ae` the old name read as its plural. Folders written
by the old code keep their stored key ``"objectives"`` (search identity, ``best_params.json``,
the study's user attribute): that is a file format, not a spelling, and it does not change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

REMOVED_IN = "0.3"
# Section of a raw spec → {old key: new key}.
RENAMED_KEYS: dict[str, dict[str, str]] = {"search": {"objectives": "optimize"}}


def warn_renamed(old: str, new: str) -> None:
    """The one deprecation line on stderr, in the CLI's ``fcdd: ...`` voice."""
    print(f"fcdd: warning: {old} is deprecated, use {new} (removed in {REMOVED_IN})", file=sys.stderr)


class RenamedFlag(argparse.Action):
    """An old flag that stores into its successor's ``dest`` after one warning; hidden from ``--help``."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new = new

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        warn_renamed(option_string or self.option_strings[0], self.new)
        setattr(namespace, self.dest, values)


def upgrade_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with every renamed section key under its new name (one warning each); both at once is an error."""
    for section, renames in RENAMED_KEYS.items():
        entries = raw.get(section)
        if not isinstance(entries, dict):
            continue  # the shape check names a section that is not a mapping
        for old, new in renames.items():
            if old not in entries:
                continue
            if new in entries:
                raise ValueError(f"`{section}.{old}` and `{section}.{new}` both given; keep `{section}.{new}`")
            warn_renamed(f"`{section}.{old}`", f"`{section}.{new}`")
            raw = {**raw, section: {(new if key == old else key): value for key, value in entries.items()}}
    return raw
