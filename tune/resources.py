"""Resource pre-flight and GPU shares: can every trial be placed on some node, and how many fit on one GPU?

Ray Tune only warns after a minute when a trial can never be scheduled, and such a trial waits in
PENDING forever; checking before anything starts turns that into a one-line error.

``--gpus-per-trial auto`` sizes the GPU share from a measurement instead of a guess: one short
probe of the plan's largest trial on a GPU node (:func:`fcdd.probe.probe_peak_memory`), turned
into a fraction by :func:`gpu_share`. Ray only counts fractions, it does not partition a GPU's
memory, so the share has to leave room for every trial that Ray puts beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fcdd.config import RunConfig
from tune.spec import GpuProbe, Resources

GIB = 2**30
# The probe's peak times this: it sees a few training steps, not a whole run. Evaluation and
# heatmaps run under no_grad at the same batch size, but the caching allocator fragments over a
# long run, cuDNN may pick algorithms with other workspaces, and a last partial batch reshapes.
PROBE_MARGIN = 1.3
# Plus this per trial: every trial is its own process with its own CUDA context (kernels, cuBLAS
# and cuDNN handles), typically 0.3–0.6 GiB that torch's allocator statistics never show.
CONTEXT_RESERVE_BYTES = GIB // 2
# At most this many trials per GPU, however small: beyond it the trials mostly queue for the
# GPU's compute (and each still costs a CPU process with a CUDA context).
MAX_TRIALS_PER_GPU = 8
# Ray keeps fractional resources in fixed point with 4 decimals (0.0001 GPU).
RAY_RESOLUTION = 10_000
# What a search's space may make larger than its base config (its largest trial takes the maxima).
SIZE_KEYS = ("optim.batch_size", "data.image_size")


class InsufficientResourcesError(ValueError):
    """No node of the cluster can hold one trial."""


class NoGpuToMeasureError(InsufficientResourcesError):
    """``--gpus-per-trial auto`` on a cluster without a GPU: there is nothing to measure on."""


class GpuProbeError(ValueError):
    """The probe of ``--gpus-per-trial auto`` could not measure the trial."""


def check_placement(request: Resources, nodes: Iterable[Mapping[str, float]]) -> None:
    """Raise unless some node has at least the CPUs and GPUs one trial asks for.

    ``nodes`` are the total resources of each alive node, as Ray reports them (keys ``CPU``, ``GPU``).
    An unmeasured ``gpus_per_trial: auto`` asks for a whole GPU: what its probe runs on.
    """
    nodes = list(nodes)
    gpus = 1.0 if request.gpus_unmeasured else request.gpus_per_trial
    for node in nodes:
        if node.get("CPU", 0.0) >= request.cpus_per_trial and node.get("GPU", 0.0) >= gpus:
            return
    total_gpus = sum(n.get("GPU", 0.0) for n in nodes)
    listing = ", ".join(f"{n.get('CPU', 0):g} CPU/{n.get('GPU', 0):g} GPU" for n in nodes) or "no nodes"
    if request.gpus_unmeasured and total_gpus == 0:
        raise NoGpuToMeasureError(
            f"--gpus-per-trial auto needs a GPU to measure, and the Ray cluster has none (nodes: {listing}); "
            "pass --gpus-per-trial 0, or add GPU nodes"
        )
    if gpus > 0 and total_gpus == 0:
        fix = "the Ray cluster has no GPU: pass --gpus-per-trial 0, or add GPU nodes"
    else:
        fix = "lower --cpus-per-trial/--gpus-per-trial or add bigger nodes"
    asked = "1 GPU (to measure --gpus-per-trial auto)" if request.gpus_unmeasured else f"{gpus:g} GPU"
    raise InsufficientResourcesError(
        f"a trial asks for {request.cpus_per_trial:g} CPU + {asked} but no node has that (nodes: {listing}); {fix}"
    )


def trials_per_gpu(
    peak_bytes: int,
    total_bytes: int,
    *,
    margin: float = PROBE_MARGIN,
    reserve_bytes: int = CONTEXT_RESERVE_BYTES,
    cap: int = MAX_TRIALS_PER_GPU,
) -> int:
    """How many trials with a probe peak of ``peak_bytes`` fit side by side in ``total_bytes``.

    ``floor(total / (peak × margin + reserve))``, at most ``cap``; 0 when not even one fits.
    """
    if peak_bytes < 0 or total_bytes <= 0 or margin < 1 or reserve_bytes < 0 or cap < 1:
        raise ValueError(f"bad GPU probe numbers: peak {peak_bytes}, total {total_bytes}, margin {margin}")
    need = peak_bytes * margin + reserve_bytes
    if need <= 0:
        return cap
    return min(cap, math.floor(total_bytes / need))


def gpu_fraction(trials: int) -> float:
    """The GPU share that lets exactly ``trials`` trials onto one GPU (1.0 for one or none).

    1/k rounded *down* to Ray's 4 decimals: k shares then sum to at most 1 (3 × 0.3333), and
    k + 1 of them to more than 1 for every k below 100, so Ray places k per GPU, never k + 1.
    """
    if trials <= 1:
        return 1.0
    return math.floor(RAY_RESOLUTION / trials) / RAY_RESOLUTION


def gpu_share(
    peak_bytes: int,
    total_bytes: int,
    *,
    margin: float = PROBE_MARGIN,
    reserve_bytes: int = CONTEXT_RESERVE_BYTES,
    cap: int = MAX_TRIALS_PER_GPU,
) -> tuple[int, float]:
    """Trials per GPU (:func:`trials_per_gpu`) and the fraction each asks Ray for (:func:`gpu_fraction`).

    A peak that fits once but not with the margin gives (0, 1.0): a whole GPU per trial, which
    may still run out of memory late in the run (the caller warns). A trial that does not fit at
    all never gets here: its probe ran out of memory (:func:`probe_failure`).
    """
    k = trials_per_gpu(peak_bytes, total_bytes, margin=margin, reserve_bytes=reserve_bytes, cap=cap)
    return k, gpu_fraction(k)


def measured(resources: Resources, trial: str, peak_bytes: int, total_bytes: int, device_name: str = "") -> Resources:
    """``resources`` with the GPU share a probe of ``trial`` (in words) found, and the probe's numbers."""
    trials, share = gpu_share(peak_bytes, total_bytes)
    probe = GpuProbe(
        trial=trial,
        peak_bytes=int(peak_bytes),
        total_bytes=int(total_bytes),
        trials_per_gpu=trials,
        margin=PROBE_MARGIN,
        reserve_bytes=CONTEXT_RESERVE_BYTES,
        device_name=device_name,
    )
    return resources.measured(share, probe)


def probe_summary(probe: GpuProbe, share: float) -> str:
    """The one log line of a measured ``--gpus-per-trial auto``."""
    head = (
        f"gpus-per-trial auto: probe of {probe.trial} peaked at {probe.peak_bytes / GIB:.2f} GiB "
        f"of {probe.total_bytes / GIB:.2f} GiB"
    )
    if probe.trials_per_gpu == 0:
        return (
            f"{head} → not even 1 trial per GPU with the ×{probe.margin:g} margin; each trial gets a whole GPU "
            f"({share:g} each) and may still run out of memory"
        )
    per = "trial" if probe.trials_per_gpu == 1 else "trials"
    return f"{head} → {probe.trials_per_gpu} {per} per GPU ({share:g} each)"


def probe_failure(trial: str, cause: BaseException) -> str:
    """The one error line of a probe of ``trial`` (in words) that raised ``cause`` on the GPU node."""
    text = str(cause).strip()
    first = text.splitlines()[0] if text else type(cause).__name__
    if "out of memory" in first.lower():
        return (
            f"--gpus-per-trial auto: {trial} does not fit on one GPU even alone ({first[:200]}); "
            "lower --batch-size or set --micro-batch-size"
        )
    return f"--gpus-per-trial auto: the probe of {trial} on a GPU node failed: {type(cause).__name__}: {first}"


def input_volume(config: RunConfig, shapes: dict[str, tuple[int, int, int]] | None = None) -> int:
    """What one training step feeds the network: batch × channels × height × width.

    The batch is the forward chunk: ``micro_batch_size`` when set (activations are bounded by
    it), else ``batch_size``. ``shapes`` caches the networks' input shapes between calls.
    """
    from fcdd.networks.build import network_input_shape

    shapes = {} if shapes is None else shapes
    name = config.network.name
    if name not in shapes:
        shapes[name] = network_input_shape(name)
    channels, height, width = shapes[name]
    optim = config.optim
    batch = min(optim.batch_size, optim.micro_batch_size or optim.batch_size)
    return batch * channels * height * width


def largest_trial(configs: Sequence[RunConfig]) -> int:
    """Index of the config with the largest :func:`input_volume`; ties go to the first.

    Activation memory grows with the input volume; the network's width is not weighed, so a
    plan whose settings change the network at the same input size (baselines) is probed at its
    first such setting, and the margin has to cover the rest.
    """
    if not configs:
        raise ValueError("no trial to probe")
    shapes: dict[str, tuple[int, int, int]] = {}
    volumes = [input_volume(config, shapes) for config in configs]
    return volumes.index(max(volumes))


def largest_in_space(base: RunConfig, space: Mapping[str, Mapping[str, Any]]) -> RunConfig:
    """A search's largest trial: its base config with the space's largest batch size and image size."""
    changes: dict[str, int] = {}
    for key in SIZE_KEYS:
        param = space.get(key)
        if param is None:
            continue
        values = param.get("choices") or [param.get("high")]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers:
            changes[key] = int(max(numbers))
    return base.replace(**changes) if changes else base


def probe_target(resources: Resources, candidates: Sequence[tuple[str, RunConfig]]) -> tuple[str, RunConfig] | None:
    """Which (label, config) ``--gpus-per-trial auto`` probes: the largest candidate; None if nothing is to measure.

    Trials that run on ``device: cpu`` would never use the GPU they measure a share of: refused.
    """
    if not resources.gpus_unmeasured or not candidates:
        return None
    if any(config.device == "cpu" for _, config in candidates):
        raise ValueError(
            "--gpus-per-trial auto measures the trials on a GPU, but they run on --device cpu; "
            "pass --device auto (or cuda), or --gpus-per-trial 0"
        )
    return candidates[largest_trial([config for _, config in candidates])]
