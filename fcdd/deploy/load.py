"""Loading an exported model safely: the card checked, the graph's bytes checked against it, no code from the files.

An ONNX graph is handed to ONNX Runtime and a TorchScript archive to ``torch.jit.load``; neither
runs Python from the file (TorchScript's archive holds TorchScript, which runs in torch's own
interpreter, and its constants are read by TorchScript's own unpickler, which resolves no Python
globals). Nothing else is loaded: no pickle, no ``torch.load``. The bytes that are hashed are the
bytes that are loaded, so a file swapped between check and load is not possible.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from fcdd.deploy.card import CARD_FILE, DIGEST_KEY, ModelCard, sha256_bytes
from fcdd.deploy.graph import INPUT_NAME

REEXPORT = "export the run again (fcdd export --run RUN)"


class ExportLoadError(ValueError):
    """An export folder that is refused: not one, changed since export, or not a graph fcdd loads; one line."""


@dataclass(frozen=True)
class Prediction:
    """What an exported model says about a batch of images."""

    scores: np.ndarray  # float32 (N,)
    heatmaps: np.ndarray  # float32 (N, 1, h, w) at the network's input resolution
    anomalous: np.ndarray | None  # bool (N,), None where the export has no threshold


class _Graph(Protocol):
    digest: str | None  # the card digest the graph carries

    def run(self, images: np.ndarray) -> list[np.ndarray]: ...


class _OnnxGraph:
    """An ONNX graph in an ONNX Runtime session on the CPU."""

    def __init__(self, data: bytes, path: Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ExportLoadError(
                f"{path} is an ONNX model, which needs onnxruntime: pip install 'fcdd[deploy]'"
            ) from None
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings would be printed to the terminal
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # an untrusted file: whatever ONNX Runtime raises means "not a model"
            raise ExportLoadError(f"{path} is not an ONNX model ONNX Runtime can load ({_first_line(error)})") from None
        self.digest = self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        outputs: list[np.ndarray] = self.session.run(None, {INPUT_NAME: images})
        return outputs


class _TorchScriptGraph:
    """A TorchScript archive loaded with ``torch.jit.load`` on the CPU."""

    def __init__(self, data: bytes, path: Path) -> None:
        _check_torchscript_archive(data, path)
        extra = {DIGEST_KEY: ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 marks TorchScript deprecated
                self.module = torch.jit.load(  # type: ignore[no-untyped-call]
                    io.BytesIO(data), map_location="cpu", _extra_files=extra
                )
        except Exception as error:  # an untrusted file: whatever torch raises means "not an archive"
            raise ExportLoadError(
                f"{path} is not a TorchScript archive torch can load ({_first_line(error)})"
            ) from None
        self.module.eval()
        carried: str | bytes = extra[DIGEST_KEY]  # torch fills in bytes
        self.digest = (carried.decode("ascii", "replace") if isinstance(carried, bytes) else carried) or None

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            outputs = self.module(torch.from_numpy(images))
        return [output.numpy() for output in outputs]


def _check_torchscript_archive(data: bytes, path: Path) -> None:
    # torch.save files are zip archives too (with a Python pickle inside): only TorchScript's layout passes.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise ExportLoadError(f"{path} is not a TorchScript archive (not a zip file)") from None
    if not any("/code/" in name for name in names) or not any(name.endswith("/constants.pkl") for name in names):
        raise ExportLoadError(f"{path} is not a TorchScript archive (no TorchScript code in it); {REEXPORT}")


_GRAPHS: dict[str, Any] = {"onnx": _OnnxGraph, "torchscript": _TorchScriptGraph}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:160] if text else type(error).__name__


class ExportedModel:
    """A loaded export: :attr:`card` and :meth:`predict`."""

    def __init__(self, folder: Path, card: ModelCard, graph: _Graph) -> None:
        self.folder = folder
        self.card = card
        self._graph = graph

    def predict(self, images: np.ndarray | Tensor) -> Prediction:
        """Scores, heatmaps and decisions for images ``(N, C, H, W)`` on the 0..255 scale (uint8 or float)."""
        array = images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images)
        expected = tuple(self.card.input_shape)
        if array.ndim != 4 or tuple(array.shape[1:]) != expected:
            raise ValueError(
                f"this model takes images of shape (N, {', '.join(map(str, expected))}), got {tuple(array.shape)}; "
                "decode and resize them to the run's raw size first"
            )
        outputs = self._graph.run(np.ascontiguousarray(array, dtype=np.float32))
        return Prediction(
            scores=outputs[0],
            heatmaps=outputs[1],
            anomalous=outputs[2].astype(bool) if len(outputs) > 2 else None,
        )


def read_card(folder: Path) -> ModelCard:
    """The card of an export folder, parsed and checked; one-line ``ExportLoadError`` otherwise."""
    path = folder / CARD_FILE
    if not folder.is_dir() or not path.is_file():
        raise ExportLoadError(
            f"{folder} is not an exported model folder (no {CARD_FILE}); pass the --out of fcdd export"
        )
    try:
        return ModelCard.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise ExportLoadError(f"{path} is not a valid fcdd model card ({_first_line(error)}); {REEXPORT}") from None


def load_export(folder: str | Path) -> ExportedModel:
    """Load an export folder: card valid, graph bytes matching its sha256, graph carrying the card's digest."""
    folder = Path(folder)
    card = read_card(folder)
    path = folder / card.graph
    if not path.is_file():
        raise ExportLoadError(f"{path} is missing; {REEXPORT}")
    data = path.read_bytes()
    if sha256_bytes(data) != card.provenance.graph_sha256:
        raise ExportLoadError(f"{path} is not the graph its {CARD_FILE} describes (sha256 differs); {REEXPORT}")
    graph: _Graph = _GRAPHS[card.format](data, path)
    if graph.digest != card.digest():
        raise ExportLoadError(f"{folder / CARD_FILE} was changed after export (the graph's seal differs); {REEXPORT}")
    return ExportedModel(folder, card, graph)
