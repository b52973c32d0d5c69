"""Loading an export: the card, the seal between card and graph, and everything that is refused in one line."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fcdd.deploy.card import CARD_FILE, ModelCard
from fcdd.deploy.export import probe_images
from fcdd.deploy.load import ExportLoadError, load_export, read_card
from fcdd.runner import fingerprint
from tests.fcdd.deploy.conftest import RAW, THRESHOLD

FORMATS = ("onnx", "torchscript")


def _copy(export: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(export, tmp_path / export.name))


def _refused(folder: Path, match: str) -> str:
    with pytest.raises(ExportLoadError, match=match) as caught:
        load_export(folder)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_card_describes_the_run(small_run, small_exports, fmt):
    card = load_export(small_exports[fmt]).card
    config = json.loads((small_run / "config.json").read_text())
    assert (card.format, card.dataset, card.class_name, card.network) == (fmt, "fmnist", "T-shirt/top", "FCDD_CNN28")
    assert card.input_shape == RAW and card.heatmap_shape == (1, 28, 28) and card.input_range == "0..255"
    assert card.preprocessing == json.loads((small_run / "preprocessing.json").read_text())["preprocessing"]
    assert card.threshold is not None and (card.threshold.method, card.threshold.value) == ("value", THRESHOLD)
    assert card.metrics == json.loads((small_run / "metrics.json").read_text())
    assert card.gauss_std == config["heatmap"]["gauss_std"] and card.outputs == ("score", "heatmap", "anomalous")
    assert set(card.versions) >= {"fcdd", "torch"} and (fmt != "onnx" or {"onnx", "onnxruntime"} <= set(card.versions))
    assert card.opset == (20 if fmt == "onnx" else None)
    from fcdd.config import RunConfig

    assert card.provenance.config_fingerprint == fingerprint(RunConfig.from_dict(config))
    assert card.provenance.run_dir == str(small_run.resolve())


@pytest.mark.parametrize("fmt", FORMATS)
def test_uint8_and_float_images_give_the_same_answer(small_exports, fmt):
    model = load_export(small_exports[fmt])
    images = probe_images(RAW, 5, seed=3)
    as_float, as_uint8 = model.predict(images), model.predict(images.to(torch.uint8).numpy())
    assert np.array_equal(as_float.scores, as_uint8.scores) and np.array_equal(as_float.heatmaps, as_uint8.heatmaps)
    assert as_float.anomalous is not None and np.array_equal(as_float.anomalous, as_float.scores > THRESHOLD)


@pytest.mark.parametrize("fmt", FORMATS)
def test_any_batch_size_gives_each_image_its_own_answer(small_exports, fmt):
    model = load_export(small_exports[fmt])
    images = probe_images(RAW, 5, seed=3)
    whole, one = model.predict(images), model.predict(images[2:3])
    assert np.allclose(one.scores, whole.scores[2:3], rtol=0, atol=1e-6)
    assert np.allclose(one.heatmaps, whole.heatmaps[2:3], rtol=0, atol=1e-6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_images_of_another_shape_are_refused(small_exports, fmt):
    model = load_export(small_exports[fmt])
    with pytest.raises(ValueError, match=r"takes images of shape \(N, 1, 28, 28\), got \(2, 3, 28, 28\)"):
        model.predict(np.zeros((2, 3, 28, 28), dtype=np.uint8))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_changed_graph_is_refused(small_exports, tmp_path, fmt):
    folder = _copy(small_exports[fmt], tmp_path)
    graph = folder / read_card(folder).graph
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the weights
    graph.write_bytes(bytes(data))
    _refused(folder, "is not the graph its model.json describes")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda card: card["threshold"].update(value=0.5), "was changed after export"),
        (lambda card: card["metrics"].update(auc=0.99), "was changed after export"),
        (lambda card: card["preprocessing"]["recipe"].update(lcn=False), "was changed after export"),
        (lambda card: card.pop("dataset"), "not a valid fcdd model card .* lacks \\['dataset'\\]"),
        (lambda card: card.update(input_shape="1x28x28"), "not a valid fcdd model card"),
        (lambda card: card.update(format="pickle", graph="model.pkl"), "format 'pickle' is not one fcdd loads"),
        (lambda card: card.update(graph="../snapshot.pt"), "names its graph 'model"),
    ],
    ids=["threshold", "metrics", "preprocessing", "missing-field", "wrong-type", "pickle-format", "other-file"],
)
def test_a_changed_card_is_refused(small_exports, tmp_path, fmt, change, match):
    folder = _copy(small_exports[fmt], tmp_path)
    raw = json.loads((folder / CARD_FILE).read_text())
    change(raw)
    (folder / CARD_FILE).write_text(json.dumps(raw))
    _refused(folder, match)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_card_that_is_not_json_is_refused(small_exports, tmp_path, fmt):
    folder = _copy(small_exports[fmt], tmp_path)
    (folder / CARD_FILE).write_text('{"format": "onnx", ')
    _refused(folder, "is not a valid fcdd model card")


class _Payload:
    """Unpickling this would create ``path``: proof that a loader ran code from a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _reseal(folder: Path, graph_bytes: bytes) -> None:
    """Replace the graph and update the card's sha256, as a consistent forgery would."""
    card = read_card(folder)
    (folder / card.graph).write_bytes(graph_bytes)
    raw = card.to_dict()
    raw["provenance"]["graph_sha256"] = __import__("hashlib").sha256(graph_bytes).hexdigest()
    (folder / CARD_FILE).write_text(json.dumps(raw))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["pickle", "torch.save", "garbage", "empty", "other-format"])
def test_a_file_that_is_not_its_format_is_refused_without_running_it(small_exports, tmp_path, fmt, kind):
    folder = _copy(small_exports[fmt], tmp_path)
    marker = tmp_path / "code-ran"
    if kind == "pickle":
        data = pickle.dumps(_Payload(marker))
    elif kind == "torch.save":
        buffer = __import__("io").BytesIO()
        torch.save({"payload": _Payload(marker)}, buffer)
        data = buffer.getvalue()
    elif kind == "garbage":
        data = bytes(range(256)) * 64
    elif kind == "empty":
        data = b""
    else:  # the other format's graph under this format's name
        other = next(f for f in FORMATS if f != fmt)
        data = (small_exports[other] / read_card(small_exports[other]).graph).read_bytes()
    _reseal(folder, data)
    message = _refused(folder, "is not an ONNX model|is not a TorchScript archive")
    assert fmt.replace("torchscript", "TorchScript").replace("onnx", "ONNX") in message
    if (fmt, kind) == ("torchscript", "torch.save"):  # a zip with a pickle inside never reaches torch.jit.load
        assert "no TorchScript code in it" in message
    assert not marker.exists()


def test_a_folder_without_a_card_is_refused(tmp_path):
    _refused(tmp_path, "is not an exported model folder")
    _refused(tmp_path / "missing", "is not an exported model folder")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_digest_covers_every_field_but_the_graph_sha(small_exports, fmt):
    card = read_card(small_exports[fmt])
    raw = card.to_dict()
    raw["provenance"]["graph_sha256"] = "0" * 64
    assert ModelCard.from_dict(raw).digest() == card.digest()
    raw["provenance"]["run_dir"] = "/elsewhere"
    assert ModelCard.from_dict(raw).digest() != card.digest()
