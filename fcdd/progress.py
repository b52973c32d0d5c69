"""Progress bars: tqdm, switched off per call (``show``) and for the whole process by ``--quiet``.

``--quiet`` sets ``TQDM_DISABLE=1``; tqdm reads it only as a default that an explicit
``disable=`` overrides, so every bar goes through :func:`progress_bar`, which honours it.
"""

from __future__ import annotations

import os
from typing import Any

from tqdm.auto import tqdm


def quiet() -> bool:
    """Whether this process was asked for no progress bars."""
    return os.environ.get("TQDM_DISABLE", "") not in ("", "0")


def progress_bar(iterable: Any = None, *, show: bool = True, **kwargs: Any) -> Any:
    """A tqdm bar over ``iterable``, shown only when ``show`` and the process is not quiet."""
    return tqdm(iterable, disable=quiet() or not show, **kwargs)
