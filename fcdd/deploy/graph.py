"""The exportable detector: raw images in; score, upsampled heatmap and decision out, on the run's own code path.

:class:`DetectorGraph` adds no arithmetic of its own: it calls what a run's evaluation calls, the
run's :meth:`~fcdd.data.preprocess.Preprocessing.test` transform, then the method scorer's
``score`` and ``upsample``, then :func:`is_anomalous`. Export traces this module (ONNX through
``torch.export``, TorchScript through ``torch.jit.trace``), so eager, ONNX and TorchScript run the
same lines of pre- and post-processing: parity by construction, which the parity tests then prove
(anomalib's export bugs came from pre- and post-processing on separate code paths).
"""

from __future__ import annotations

from torch import Tensor, nn

from fcdd.config import RunConfig
from fcdd.data.preprocess import Preprocessing
from fcdd.methods.base import Scorer
from fcdd.methods.build import make_scorer

# HSC explains a score by its input gradient: neither an ONNX nor a TorchScript graph carries autograd.
EXPORTABLE_OBJECTIVES = ("fcdd", "ae")
INPUT_NAME = "images"
OUTPUT_NAMES = ("score", "heatmap", "anomalous")  # "anomalous" only where a threshold is known


def is_anomalous(scores: Tensor, threshold: float) -> Tensor:
    """The decision at ``threshold``: a score strictly above it is anomalous (a bool per sample)."""
    return scores > threshold


def check_exportable(objective: str) -> None:
    """Refuse, in one line, a method whose heatmaps an exported graph cannot compute."""
    if objective not in EXPORTABLE_OBJECTIVES:
        raise ValueError(
            f"runs of objective {objective!r} cannot be exported: its heatmaps are input gradients, which neither "
            f"an ONNX nor a TorchScript graph computes; export a run of {' or '.join(EXPORTABLE_OBJECTIVES)}"
        )


class DetectorGraph(nn.Module):
    """Images ``(N, C, H, W)`` on the 0..255 scale (uint8 or float) at ``raw_shape`` -> score, heatmap[, decision].

    Outputs: scores ``(N,)``, heatmaps ``(N, 1, h, w)`` at the network's input resolution (what the
    run's pixel metrics evaluate) and, when ``threshold`` is given, ``anomalous`` ``(N,)`` bool.
    """

    def __init__(
        self,
        net: nn.Module,
        preprocessing: Preprocessing,
        raw_shape: tuple[int, int, int],
        scorer: Scorer,
        threshold: float | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.preprocessing = preprocessing
        self.raw_shape = raw_shape
        self.scorer = scorer
        self.threshold = threshold

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(h, w) of the heatmaps: the network's input size."""
        _, height, width = self.preprocessing.input_shape
        return height, width

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of :meth:`forward`'s outputs, in order."""
        return OUTPUT_NAMES if self.threshold is not None else OUTPUT_NAMES[:2]

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        inputs = self.preprocessing.test(images)
        scores, maps = self.scorer.score(self.net, inputs)
        heatmaps = self.scorer.upsample(self.net, maps, self.heatmap_size)
        if self.threshold is None:
            return scores, heatmaps
        return scores, heatmaps, is_anomalous(scores, self.threshold)


def detector_graph(
    config: RunConfig,
    net: nn.Module,
    preprocessing: Preprocessing,
    raw_shape: tuple[int, int, int],
    threshold: float | None = None,
) -> DetectorGraph:
    """The detector of a run: its network (fp32, eval mode) with the scorer its config makes, as evaluation uses it."""
    check_exportable(config.objective)
    net = net.float().eval()
    channels, height, width = (int(n) for n in raw_shape)  # JSON gives lists
    return DetectorGraph(net, preprocessing, (channels, height, width), make_scorer(config, net), threshold).eval()
