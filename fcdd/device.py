"""Choosing the device, the precision and the memory format of a run."""

from __future__ import annotations

import torch

from fcdd.training import Runtime


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
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_runtime(device_name: str, precision: str) -> Runtime:
    """Device plus the autocast dtype and memory format measured fastest there (benchmarks/train_throughput.py)."""
    device = resolve_device(device_name)
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
