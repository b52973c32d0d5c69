"""One owner per fact: each test fails when a fact that has one home grows a second one.

The behaviour behind each owner is tested beside its module; these tests read the sources and
say where a second copy appeared.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import numpy as np

import fcdd
import tune
from fcdd.anomalies import offline
from fcdd.anomalies.registry import SUPERVISE_MODES
from fcdd.artifacts import jsonable
from fcdd.data.registry import DATASETS

PACKAGES = (Path(fcdd.__file__).parent, Path(tune.__file__).parent)


def _modules_matching(pattern: str) -> list[str]:
    """``package/module.py`` of every source file in fcdd/ and tune/ that matches ``pattern``."""
    found = []
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            if re.search(pattern, path.read_text(encoding="utf-8"), flags=re.MULTILINE):
                found.append(path.relative_to(package.parent).as_posix())
    return found


def test_the_own_side_flip_is_decided_on_the_data_only():
    # ADData.own_images_anomalous / loss_labels; the supervisor, offline set and validation split call them.
    assert _modules_matching(r"train_label\s*==|1 - \w[\w.]*labels\b") == ["fcdd/data/base.py"]


def test_the_preflight_keeps_no_list_of_datasets():
    # Which dataset is one-vs-rest is asked of its loader (DatasetLoader.one_vs_rest), never listed in tune/.
    text = inspect.getsource(__import__("tune.preflight", fromlist=["_"]))
    assert not [name for name in DATASETS if f'"{name}"' in text or f"'{name}'" in text]


def test_the_offline_module_implements_no_supervise_mode():
    # The modes live in the online supervisor; offline sets are its `anomalies` passes, bit for bit
    # what the former second implementation made (tests/fcdd/anomalies/test_supervisor_golden.py).
    text = inspect.getsource(offline)
    assert sorted(mode for mode in SUPERVISE_MODES if f'"{mode}"' in text) == ["unsupervised"]
    assert "malform(" not in text and "torch.rand(" not in text


def test_one_json_sanitiser():
    assert _modules_matching(r"^def _?json|^def _?(sanitize|plain)") == ["fcdd/artifacts.py"]


def test_one_sample_roc():
    # The curve is computed once, in NumPy (fcdd.engine.roc); nothing else builds one or calls sklearn's.
    assert _modules_matching(r"\broc_curve\b|\broc_auc_score\b|np\.trapezoid\(tpr") == ["fcdd/engine/roc.py"]


def test_jsonable_gives_plain_json_data():
    value = {1: (np.float32(0.5), float("nan")), "inf": -math.inf, "path": Path("/a/b"), "n": np.int64(3)}
    assert jsonable(value) == {"1": [0.5, None], "inf": None, "path": "/a/b", "n": 3}
    assert type(jsonable(np.int64(3))) is int and jsonable([{"k": [np.nan]}]) == [{"k": [None]}]
