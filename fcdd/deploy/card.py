"""The model card (``model.json``) beside an exported graph: what the model is, where it came from, and its seal.

The card and the graph seal each other: the card holds the sha256 of the graph file, and the graph
carries the card's :meth:`~ModelCard.digest` (ONNX metadata, a TorchScript extra file), a hash of
every card field but that sha256. Changing either file after export is therefore caught on load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from fcdd.config import check_types

SCHEMA = "fcdd-model-card/1"
CARD_FILE = "model.json"
GRAPH_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}  # format -> the graph's file name
DIGEST_KEY = "fcdd.card_sha256"  # ONNX metadata key / TorchScript extra file holding the card's digest
INPUT_RANGE = "0..255"  # uint8 or float pixel values; the graph divides by 255 itself


@dataclass(frozen=True)
class Threshold:
    """The decision threshold baked into the graph: a score strictly above ``value`` is anomalous."""

    method: str  # how it was chosen; "value": given to the exporter as a number
    value: float
    source: str | None = None  # the data it was chosen on (None: not chosen on data)

    def __post_init__(self) -> None:
        check_types(self)
        if not math.isfinite(self.value):
            raise ValueError(f"the threshold must be a finite number, got {self.value!r}")


@dataclass(frozen=True)
class Provenance:
    """Where an export came from."""

    run_dir: str
    config_fingerprint: str  # the run's settings, as its checkpoint records them
    snapshot_sha256: str  # the weights file the graph was built from
    graph_sha256: str = ""  # the graph file's sha256; set once it exists, so not part of the card's digest

    def __post_init__(self) -> None:
        check_types(self)


@dataclass(frozen=True)
class ModelCard:
    """What ``model.json`` holds (see :mod:`fcdd.deploy.export` for how each field is filled)."""

    format: str  # onnx | torchscript
    graph: str  # the graph's file name, beside model.json
    objective: str
    dataset: str
    normal_class: int
    class_name: str | None
    preset: str | None  # None: runs do not record which preset they started from
    network: str
    preprocessing: dict[str, Any]  # Preprocessing.to_dict() of the run
    input_shape: tuple[int, ...]  # (C, H, W) the graph takes, any batch size
    input_range: str
    heatmap_shape: tuple[int, ...]  # (1, h, w) of the heatmap output
    outputs: tuple[str, ...]
    gauss_std: float  # σ of the receptive-field upsampling (FCDD)
    threshold: Threshold | None
    run_precision: str  # what the run was evaluated in; the graph computes in fp32
    metrics: dict[str, Any]  # the run's metrics.json
    versions: dict[str, str]
    opset: int | None  # ONNX opset (None for TorchScript)
    provenance: Provenance
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        check_types(self)
        if self.schema != SCHEMA:
            raise ValueError(f"schema {self.schema!r} is not {SCHEMA!r}")
        if self.format not in GRAPH_FILES:
            raise ValueError(f"format {self.format!r} is not one fcdd loads ({', '.join(GRAPH_FILES)})")
        if self.graph != GRAPH_FILES[self.format]:
            raise ValueError(f"a {self.format} card names its graph {GRAPH_FILES[self.format]!r}, not {self.graph!r}")
        if len(self.input_shape) != 3 or len(self.heatmap_shape) != 3:
            raise ValueError(f"input_shape and heatmap_shape must be (C, H, W), got {self.input_shape}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (tuples as lists)."""
        result: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(self), allow_nan=False))
        return result

    @classmethod
    def from_dict(cls, raw: Any) -> ModelCard:
        """Inverse of :meth:`to_dict`; a missing, unknown or mistyped field is a one-line ``ValueError``."""
        values = _fields_of(cls, raw, "model card")
        for name in ("input_shape", "heatmap_shape", "outputs"):
            if isinstance(values[name], list):
                values[name] = tuple(values[name])
        if values["threshold"] is not None:
            values["threshold"] = Threshold(**_fields_of(Threshold, values["threshold"], "threshold"))
        values["provenance"] = Provenance(**_fields_of(Provenance, values["provenance"], "provenance"))
        return cls(**values)

    def digest(self) -> str:
        """sha256 of the card without the graph's own sha256: what the graph carries."""
        raw = self.to_dict()
        del raw["provenance"]["graph_sha256"]
        return hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _fields_of(cls: type, raw: Any, what: str) -> dict[str, Any]:
    """``raw``'s entries, checked to be exactly the fields of dataclass ``cls`` (defaulted ones may be absent)."""
    if not isinstance(raw, dict):
        raise ValueError(f"the {what} must be a mapping, got {type(raw).__name__}")
    fields = dataclasses.fields(cls)
    required = {f.name for f in fields if f.default is dataclasses.MISSING}
    unknown = sorted(set(raw) - {f.name for f in fields})
    missing = sorted(required - set(raw))
    if unknown or missing:
        raise ValueError(f"the {what} has unknown fields {unknown} and lacks {missing}")
    return dict(raw)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
