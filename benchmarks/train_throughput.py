"""Training throughput on Fashion-MNIST-sized data: bare model step vs the full training epoch.

(a) the bare step: forward + backward + SGD on pre-loaded, already-normalised tensors;
(b) the full epoch: gathering, outlier-exposure mixing, augmentation and LCN on the device, then
    the same step — what `fcdd train` does.
The ratio b/a says how much the data path costs. Each is measured in fp32 and bf16 autocast,
with and without channels_last. Prints a table.

    python benchmarks/train_throughput.py [--epochs 2] [--oe-folder DIR] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from fcdd.anomalies.noise import get_noise_mode
from fcdd.anomalies.outlier_exposure import load_folder_pool
from fcdd.anomalies.supervisor import OnlineSupervisor
from fcdd.config import DataConfig, OptimConfig
from fcdd.data.loading import load_dataset
from fcdd.engine.batching import Batcher
from fcdd.engine.fit import TrainState, make_optimizer, make_scheduler, train_epoch
from fcdd.engine.runtime import Runtime
from fcdd.methods.fcdd import FCDDScorer, fcdd_sample_losses
from fcdd.networks.build import build_network

DEFAULT_OE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10_jpeg" / "test"


def _state(runtime: Runtime, seed: int = 0) -> TrainState:
    torch.manual_seed(seed)
    net = build_network("FCDD_CNN28_W").to(runtime.device)
    if runtime.channels_last:
        net = net.to(memory_format=torch.channels_last)
    cfg = OptimConfig()
    opt = make_optimizer(net.parameters(), cfg)
    return TrainState(net, opt, make_scheduler(opt, cfg), torch.Generator().manual_seed(seed))


def bare_step(runtime: Runtime, inputs: torch.Tensor, steps: int, batch: int = 128) -> float:
    """Images/second of forward + backward + step on pre-loaded normalised tensors."""
    state = _state(runtime)
    labels = (torch.arange(batch) % 2).long()
    autocast = (
        torch.autocast("cpu", dtype=runtime.autocast_dtype)
        if runtime.autocast_dtype
        else torch.autocast("cpu", enabled=False)
    )
    state.net.train()

    def step(i: int) -> None:
        x = inputs[(i * batch) % (len(inputs) - batch) :][:batch]
        if runtime.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            loss = fcdd_sample_losses(state.net(x).float(), labels).mean()
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()

    for i in range(3):  # warm-up: oneDNN picks and caches its kernels
        step(i)
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * batch / (time.perf_counter() - started)


def full_epoch(runtime: Runtime, batcher: Batcher, epochs: int) -> float:
    """Images/second of whole training epochs through the real data path."""
    state = _state(runtime)
    train_epoch(
        state,
        Batcher(batcher.images[:512], batcher.supervisor, batcher.preprocessing, 128),
        runtime,
        scorer=FCDDScorer(1.2),
    )
    images, seconds = 0.0, 0.0
    for _ in range(epochs):
        started = time.perf_counter()
        stats = train_epoch(state, batcher, runtime, scorer=FCDDScorer(1.2))
        seconds += time.perf_counter() - started
        images += stats["images"]
    return images / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="full epochs per variant")
    parser.add_argument("--steps", type=int, default=30, help="bare steps per variant")
    parser.add_argument("--oe-folder", type=Path, default=DEFAULT_OE)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = load_dataset(DataConfig(dataset="fmnist"))
    if args.oe_folder.is_dir():
        source = load_folder_pool(args.oe_folder, data.raw_shape, show_progress=False)
        oe_name = f"OE {args.oe_folder.name} ({len(source.images)} images)"
    else:
        source, oe_name = get_noise_mode("confetti"), "confetti noise"
    supervisor = OnlineSupervisor("noise", source)
    batcher = Batcher(data.train_images, supervisor, data.preprocessing, 128)
    inputs = data.preprocessing.test(data.train_images.float())

    print(
        f"FCDD_CNN28_W, batch 128, {len(data.train_images)} images/epoch, {oe_name}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    header = f"{'variant':<26} {'(a) bare img/s':>15} {'(b) epoch img/s':>16} {'b/a':>6} {'s/epoch':>8}"
    print(header)
    print("-" * len(header))
    for dtype in (None, torch.bfloat16):
        for channels_last in (False, True):
            runtime = Runtime(torch.device("cpu"), dtype, channels_last)
            a = bare_step(runtime, inputs, args.steps)
            b = full_epoch(runtime, batcher, args.epochs)
            name = f"{'bf16 autocast' if dtype else 'fp32'}{' + channels_last' if channels_last else ''}"
            print(f"{name:<26} {a:>15.0f} {b:>16.0f} {b / a:>6.2f} {len(data.train_images) / b:>8.1f}")
    print("original FCDD on this CPU: ≈222 img/s end to end (≈27 s per epoch)")


if __name__ == "__main__":
    main()
