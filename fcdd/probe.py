"""How much GPU memory one run of a config holds: a short probe on the GPU (``--gpus-per-trial auto``).

The probe sets the run up exactly as :func:`fcdd.runner.run` does (network, optimiser, the
training set on the device, anomaly supervision), in a temporary folder, and trains a few of the
run's own steps: the same batch size, micro-batches, precision and memory format. Training is the
peak of a run: evaluation and heatmaps go through the network under ``no_grad`` at the same batch
size. The orchestrator turns the peak into a GPU share (:func:`tune.resources.gpu_share`).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from fcdd.config import RunConfig
from fcdd.engine.batching import Batch, Batcher
from fcdd.engine.fit import train_epoch
from fcdd.engine.runtime import deterministic_algorithms, torch_threads
from fcdd.runner import prepare

# The first step allocates gradients and the optimiser's state, the second runs with both; a
# third catches what cuDNN's algorithm choice adds once it settled.
PROBE_STEPS = 3


@dataclass(frozen=True)
class MemoryProbe:
    """What the probe measured on one GPU."""

    peak_bytes: int  # the most the run held from the GPU: torch's caching allocator, reserved
    allocated_bytes: int  # the most its tensors used at once (at most peak_bytes)
    total_bytes: int  # the GPU's memory
    device_name: str
    steps: int  # training steps the probe ran


class _FirstBatches(Batcher):
    """The run's batcher (the same images on the device), stopping after ``steps`` batches."""

    def __init__(self, batcher: Batcher, steps: int) -> None:
        super().__init__(
            batcher.images,
            batcher.supervisor,
            batcher.preprocessing,
            batcher.batch_size,
            repeats=batcher.repeats,
            labels=batcher.labels,
            maps=batcher.maps,
        )
        self.steps = steps
        self.drawn: list[int] = []  # the size of each batch handed out

    def __len__(self) -> int:
        return min(self.steps, super().__len__())

    def epoch(self, generator: torch.Generator) -> Iterator[Batch]:
        for inputs, labels, gt_maps in itertools.islice(super().epoch(generator), self.steps):
            self.drawn.append(len(inputs))
            yield inputs, labels, gt_maps


def probe_steps(config: RunConfig, folder: Path, steps: int = PROBE_STEPS) -> list[int]:
    """Set ``config`` up in ``folder`` as :func:`fcdd.runner.run` does and train its first ``steps`` batches.

    Runs on the config's device (the tests run it on the CPU); returns the size of each batch trained.
    """
    with torch_threads(config.threads), deterministic_algorithms(config.deterministic):
        prepared = prepare(config.replace(**{"optim.epochs": 1}), folder, resume=False)
        batcher = _FirstBatches(prepared.batcher, steps)
        train_epoch(
            prepared.state,
            batcher,
            prepared.runtime,
            scorer=prepared.scorer,
            micro_batch_size=config.optim.micro_batch_size,
        )
        return batcher.drawn


def probe_peak_memory(config: RunConfig, *, steps: int = PROBE_STEPS) -> MemoryProbe:
    """Set ``config`` up on the GPU as a run would, train ``steps`` batches, return the peak memory.

    Needs CUDA (``device`` auto or cuda); nothing of the run is kept. The peak is what torch's
    caching allocator reserved, which is what other processes on the GPU cannot have; it does not
    include the CUDA context (see :data:`tune.resources.CONTEXT_RESERVE_BYTES`).
    """
    if not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise ValueError(
            f"no CUDA device is visible to torch here (CUDA_VISIBLE_DEVICES={visible}); the GPU memory probe needs one"
        )
    if config.device == "cpu":
        raise ValueError("the GPU memory probe measures a run on CUDA, but the config says device cpu")
    config = config.replace(device="cuda" if config.device == "auto" else config.device)
    device = torch.device(config.device)
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory(prefix="fcdd-probe-") as folder:
        trained = probe_steps(config, Path(folder), steps)
        torch.cuda.synchronize(device)
    found = MemoryProbe(
        peak_bytes=int(torch.cuda.max_memory_reserved(device)),
        allocated_bytes=int(torch.cuda.max_memory_allocated(device)),
        total_bytes=int(torch.cuda.get_device_properties(device).total_memory),
        device_name=torch.cuda.get_device_name(device),
        steps=len(trained),
    )
    torch.cuda.empty_cache()
    return found
