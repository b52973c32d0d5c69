"""The exportable detector is the run's evaluation path, and capturing it changes nothing in the eager code."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

from fcdd.config import RunConfig
from fcdd.data import fmnist, mvtec
from fcdd.data.preprocess import build_preprocessing
from fcdd.deploy.export import probe_images
from fcdd.deploy.graph import check_exportable, detector_graph, is_anomalous
from fcdd.engine.evaluate import score_images
from fcdd.engine.runtime import resolve_runtime
from fcdd.methods.build import make_scorer
from fcdd.methods.fcdd import pseudo_huber
from fcdd.methods.upsample import gaussian_kernel_2d
from tests.helpers import build


def test_a_score_strictly_above_the_threshold_is_anomalous():
    scores = torch.tensor([0.25, 0.5, 0.5000001, 2.0])
    assert is_anomalous(scores, 0.5).tolist() == [False, False, True, True]


def test_hsc_runs_are_refused_in_one_line():
    check_exportable("fcdd")
    check_exportable("ae")
    with pytest.raises(ValueError, match="objective 'hsc' cannot be exported: its heatmaps are input gradients"):
        check_exportable("hsc")


@pytest.mark.parametrize(("net", "objective", "recipe"), [("FCDD_CNN32_S", "fcdd", "lcnaug1"), ("AE32", "ae", "none")])
def test_the_detector_computes_what_evaluation_computes_bit_for_bit(net, objective, recipe):
    config = RunConfig().replace(**{"network.name": net, "objective": objective, "heatmap.gauss_std": 2.0})
    model = build(net).eval()
    prep = build_preprocessing(recipe, "mvtec", 0, (3, 40, 40), input_size=32, recipes=mvtec.RECIPES)
    images = probe_images((3, 40, 40), 3, seed=5)
    scorer = make_scorer(config, model)
    # Evaluation on the CPU runs channels_last, a memory layout the graph leaves to its runtime; in
    # the same layout, the same operations give the same bits.
    runtime = dataclasses.replace(resolve_runtime("cpu", "fp32"), channels_last=False)
    scores, maps = score_images(model, images, prep.test, scorer, runtime, batch_size=3)
    detector = detector_graph(config, model, prep, (3, 40, 40), threshold=float(scores[1]))
    with torch.no_grad():
        got = detector(images.to(torch.uint8))
    assert torch.equal(got[0], scores) and torch.equal(got[1], scorer.upsample(model, maps, (32, 32)))
    assert got[2].tolist() == (scores > scores[1]).tolist()
    assert detector.output_names == ("score", "heatmap", "anomalous")


def _detector(sigma: float):
    # A σ of its own per test: the kernel cache then first fills while the graph is captured, the case at stake.
    config = RunConfig().replace(**{"network.name": "FCDD_CNN28", "heatmap.gauss_std": sigma})
    prep = build_preprocessing("lcn", "fmnist", 0, (1, 30, 30), input_size=28, recipes=fmnist.RECIPES)
    return detector_graph(config, build("FCDD_CNN28"), prep, (1, 30, 30))


def test_capturing_the_graph_for_onnx_leaves_the_eager_model_as_it_was():
    # torch.export traces with fake tensors: a kernel cached while it runs would reach every later eager call.
    detector, images = _detector(1.2345), probe_images((1, 30, 30), 2)
    with torch.no_grad():
        torch.export.export(detector, (images,), strict=False)
        heatmaps = detector(images)[1]
    assert type(heatmaps) is torch.Tensor and torch.isfinite(heatmaps).all()
    kernel = gaussian_kernel_2d(16, 1.2345)  # FCDD_CNN28's receptive field is 16 pixels
    with torch.no_grad():
        maps = pseudo_huber(detector.net(detector.preprocessing.test(images)))
    offset = (16 - 1) // 2 - 1  # its first cell is centred on pixel 1.5: floored, as receptive_upsample does
    full = torch.nn.functional.conv_transpose2d(maps, kernel[None, None], stride=4)
    assert torch.allclose(heatmaps, full[..., offset : offset + 28, offset : offset + 28], atol=1e-6)


def test_tracing_for_torchscript_sees_the_same_operations_each_time():
    detector, images = _detector(1.3579), probe_images((1, 30, 30), 2)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(detector, (images,), check_inputs=[(images[:1],)])  # raises if the runs differ
        assert torch.equal(traced(images)[1], detector(images)[1])
