"""Where and how a run's arithmetic happens: device, precision, memory format and CPU threads."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Runtime:
    """Where and how the arithmetic runs."""

    device: torch.device
    autocast_dtype: torch.dtype | None = None  # e.g. torch.bfloat16 for mixed precision
    channels_last: bool = False

    @property
    def precision(self) -> str:
        """``bfloat16`` or ``fp32``, as the run's metrics record it."""
        return str(self.autocast_dtype or "fp32").replace("torch.", "")


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; an unavailable CUDA request is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} asked for CUDA, but no CUDA device is available; use --device cpu")
    return device


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has native bf16 dot products (AVX-512-BF16 or AMX), where bf16 autocast pays."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_runtime(device_name: str, precision: str) -> Runtime:
    """Device plus the autocast dtype and memory format measured fastest there (benchmarks/train_throughput.py)."""
    device = resolve_device(device_name)
    dtype: torch.dtype | None
    if precision == "fp32":
        dtype = None
    elif precision == "bf16":
        dtype = torch.bfloat16
    elif device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    else:
        dtype = torch.bfloat16 if cpu_has_fast_bf16() else None
    # channels_last lets oneDNN/cuDNN pick their fast NHWC kernels for these conv nets.
    return Runtime(device=device, autocast_dtype=dtype, channels_last=True)


def autocast_context(runtime: Runtime) -> contextlib.AbstractContextManager[object]:
    """``torch.autocast`` for the runtime's dtype on its device, or a no-op for full precision."""
    if runtime.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=runtime.device.type, dtype=runtime.autocast_dtype)


@contextlib.contextmanager
def deterministic_algorithms(on: bool) -> Iterator[None]:
    """Within the block, deterministic kernels only (``on``); the process's settings are restored after.

    cuDNN is told to pick deterministic algorithms and not to benchmark, torch to use deterministic
    implementations (warn-only: an operation without one warns rather than stopping the run), and
    cuBLAS gets the fixed workspace it needs for repeatable results.
    """
    if not on:
        yield
        return
    cudnn = torch.backends.cudnn
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              cudnn.deterministic, cudnn.benchmark, os.environ.get(_CUBLAS_KEY))  # fmt: skip
    os.environ.setdefault(_CUBLAS_KEY, ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        cudnn.deterministic, cudnn.benchmark = before[2], before[3]
        if before[4] is None:
            os.environ.pop(_CUBLAS_KEY, None)


_CUBLAS_KEY = "CUBLAS_WORKSPACE_CONFIG"


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` CPU threads for torch (None: as set), then restore; yields the count used.

    The count is part of a run's config: it changes the reduction order of CPU kernels, so two runs
    of one config agree bit for bit only with the same count.
    """
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
