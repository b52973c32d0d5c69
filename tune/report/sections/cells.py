"""Table cells shared by the report's sections: numbers with a dash for a missing value."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd


def fmt(value: Any, digits: int = 3) -> str:
    """``value`` to ``digits`` decimals; "—" for None or NaN."""
    return "—" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def pm(mean: Any, std: Any) -> str:
    """Mean ± std to three decimals ("0.875 ± 0.177"); "—" without a mean, std 0 when it is missing."""
    return "—" if pd.isna(mean) else f"{mean:.3f} ± {0.0 if pd.isna(std) else std:.3f}"


def compact(value: Any) -> str:
    """A float to four significant digits, any other value as text; "" for None or NaN."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def setting_slugs(settings: list[Any]) -> dict[Any, str]:
    """A file-name-safe name per setting ("lr=0.1" -> "lr_0.1"), distinct where names differ only in odd characters."""
    slugs: dict[Any, str] = {}
    for setting in settings:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(setting)).strip("._") or "setting"
        while slug in slugs.values():  # two names that differ only in odd characters
            slug += "_"
        slugs[setting] = slug
    return slugs


def last_line(error: Any) -> str:
    """The last line of an error message (what went wrong, under its traceback), at most 200 characters."""
    lines = str(error or "").strip().splitlines()
    return (lines[-1] if lines else "no error recorded")[:200]
