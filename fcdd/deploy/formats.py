"""The two graph formats: how the detector is written as ONNX and as TorchScript.

ONNX uses the ``torch.export``-based exporter (``dynamo=True``, torch's default since 2.9; the older
exporter rides on ``torch.jit.trace`` and is deprecated in torch 2.14), which needs ``onnx`` and
``onnxscript`` (the ``deploy`` extra). TorchScript is ``torch.jit.trace``: it records what the
eager code computes, where ``torch.jit.script`` would need every function on the path (dataclass
scorers, preprocessing) rewritten in its subset. Both graphs take any batch size and carry the
card's digest.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fcdd.deploy.card import DIGEST_KEY, GRAPH_FILES
from fcdd.deploy.graph import INPUT_NAME, DetectorGraph

OPSET = 20  # the exporter's default in torch 2.14; ONNX Runtime 1.31 runs opsets up to 23
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    # The exporter's optimiser logs every pass at INFO, which the CLI's logging would print.
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _mean_in_float64(self: Any, dim: Any, keepdim: bool = False, dtype: int = -1) -> Any:
    """``aten.mean.dim`` in the ONNX graph: the same mean, accumulated in float64.

    ONNX Runtime's float32 ReduceMean sums less accurately than torch's (3e-5 relative over the
    150,528 values of a 224² RGB image, which LCN divides by: 3e-4 on heatmaps); in float64 the
    graph's means agree with eager to float32 rounding. Nothing else in the graph changes.
    """
    from onnx import TensorProto
    from onnxscript import opset20  # OPSET

    op: Any = opset20  # its typed signatures do not know the traced values passed here

    if dtype not in (-1, None):
        raise NotImplementedError("mean with a dtype is not exported")
    dims = op.Reshape(dim, op.Constant(value_ints=[-1]))
    return op.CastLike(op.ReduceMean(op.Cast(self, to=TensorProto.DOUBLE), dims, keepdims=int(keepdim)), self)


def write_onnx(detector: DetectorGraph, example: Tensor, path: Path, digest: str) -> None:
    """The detector as one self-contained ONNX file (opset :data:`OPSET`, dynamic batch) carrying ``digest``."""
    batch = torch.export.Dim("batch")
    with torch.no_grad(), _quiet_loggers("onnxscript", "onnx_ir", "torch.onnx"):
        program = torch.onnx.export(
            detector,
            (example,),
            dynamo=True,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=list(detector.output_names),
            dynamic_shapes={INPUT_NAME: {0: batch}},
            external_data=False,
            verbose=False,
            custom_translation_table={torch.ops.aten.mean.dim: _mean_in_float64},
        )
    assert program is not None
    program.model.metadata_props[DIGEST_KEY] = digest
    program.save(str(path))


def write_torchscript(detector: DetectorGraph, example: Tensor, path: Path, digest: str) -> None:
    """The detector traced into a TorchScript archive (any batch size) carrying ``digest`` as an extra file."""
    with torch.no_grad(), warnings.catch_warnings():
        # The fixed input size's shapes become constants of the trace, by design; torch 2.14 marks
        # torch.jit deprecated. The trace is checked on another batch size, and parity after saving.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            detector, (example,), check_inputs=[(example[:1],)]
        )
        torch.jit.save(traced, str(path), _extra_files={DIGEST_KEY: digest})


WRITERS: dict[str, Callable[[DetectorGraph, Tensor, Path, str], None]] = {
    "onnx": write_onnx,
    "torchscript": write_torchscript,
}


def check_format(fmt: str) -> None:
    """Refuse an unknown format, or ONNX without its packages, before anything is loaded or written."""
    if fmt not in GRAPH_FILES:
        raise ValueError(f"--format must be one of {', '.join(GRAPH_FILES)}, got {fmt!r}")
    if fmt == "onnx":
        import importlib.util

        missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise ValueError(f"--format onnx needs {', '.join(missing)}: pip install 'fcdd[deploy]'")
