"""Where a run's arithmetic happens on a CPU: device, precision and memory format, threads, determinism."""

from __future__ import annotations

import os

import pytest
import torch

from fcdd.engine import runtime
from fcdd.engine.runtime import (
    Runtime,
    autocast_context,
    deterministic_algorithms,
    resolve_device,
    resolve_runtime,
    torch_threads,
)


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize(
    ("precision", "dtype", "recorded"), [("fp32", None, "fp32"), ("bf16", torch.bfloat16, "bfloat16")]
)
def test_an_explicit_precision_is_taken_as_asked(no_cuda: None, precision: str, dtype, recorded: str) -> None:
    resolved = resolve_runtime("cpu", precision)
    assert resolved == Runtime(torch.device("cpu"), dtype, channels_last=True)
    assert resolved.precision == recorded


@pytest.mark.parametrize(("fast_bf16", "dtype"), [(True, torch.bfloat16), (False, None)])
def test_auto_precision_on_a_cpu_is_bf16_only_where_the_cpu_has_it(
    no_cuda: None, monkeypatch: pytest.MonkeyPatch, fast_bf16: bool, dtype
) -> None:
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: fast_bf16)
    assert resolve_runtime("auto", "auto") == Runtime(torch.device("cpu"), dtype, channels_last=True)


@pytest.mark.parametrize(
    ("flags", "fast"), [("fpu sse avx512f", False), ("fpu avx512_bf16 sse", True), ("x amx_bf16", True)]
)
def test_fast_bf16_is_read_from_the_cpu_flags(
    tmp_path, monkeypatch: pytest.MonkeyPatch, flags: str, fast: bool
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    monkeypatch.setattr(runtime, "open", lambda *_: cpuinfo.open(), raising=False)
    assert runtime.cpu_has_fast_bf16() is fast


def test_unreadable_cpu_flags_mean_no_fast_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*_: object) -> None:
        raise FileNotFoundError("/proc/cpuinfo")

    monkeypatch.setattr(runtime, "open", missing, raising=False)
    assert runtime.cpu_has_fast_bf16() is False


def test_devices_auto_is_the_cpu_without_cuda_and_cuda_without_it_is_one_clear_error(no_cuda: None) -> None:
    assert resolve_device("auto") == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(
        ValueError, match=r"--device cuda:1 asked for CUDA, but no CUDA device is available; use --device cpu"
    ):
        resolve_runtime("cuda:1", "fp32")


def test_autocast_only_for_a_reduced_precision() -> None:
    with autocast_context(Runtime(torch.device("cpu"))):
        assert not torch.is_autocast_enabled("cpu")
    with autocast_context(Runtime(torch.device("cpu"), torch.bfloat16)):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_threads_are_set_for_the_block_and_restored() -> None:
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with torch_threads(other) as used:
        assert used == other == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with torch_threads(None) as used:  # None: as the process has it
        assert used == before
    with pytest.raises(RuntimeError), torch_threads(other):
        raise RuntimeError("the block failed")
    assert torch.get_num_threads() == before


def test_deterministic_algorithms_for_the_block_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    cudnn = torch.backends.cudnn
    before = (torch.are_deterministic_algorithms_enabled(), cudnn.deterministic, cudnn.benchmark)
    with deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert cudnn.deterministic and not cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert (torch.are_deterministic_algorithms_enabled(), cudnn.deterministic, cudnn.benchmark) == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with deterministic_algorithms(False):
        assert torch.are_deterministic_algorithms_enabled() == before[0]
