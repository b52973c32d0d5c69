"""How the report scales with the number of trials, without training anything.

Writes a synthetic results folder of N trials (a results store and one small run folder per trial
with the files the report reads and the PNGs a run writes: scores.npz, heatmaps_test.png,
heatmaps_train.png, roc.png, loss.png), runs ``fcdd report`` on it in a child process and prints
one table: N, report seconds (wall and CPU), peak RSS of the report, report.html bytes, images on
the first page, report folder bytes (and how much of it is hard links to the runs' pictures: no new disk).

    python benchmarks/report_scale.py                 # N = 1,000: 10 classes x 100 seeds
    python benchmarks/report_scale.py --smoke         # N = 20: 10 classes x 2 seeds
    python benchmarks/report_scale.py --trials 300 --classes 3 --test-size 10000 --keep /tmp/rs

A trial fails now and then (every 37th) so the failed-trial paths are drawn too.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fcdd.metrics import RunMetrics
from fcdd.presets import get_preset
from tune.store import ResultsStore, TrialRecord

FAIL_EVERY = 37
ROOT = Path(__file__).resolve().parents[1]
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="N (default 1,000)")
    parser.add_argument("--classes", type=int, default=10, help="classes; N / classes seeds each (default 10)")
    parser.add_argument("--test-size", type=int, default=2000, help="test images per run: scores per ROC curve")
    parser.add_argument("--smoke", action="store_true", help="N = 20")
    parser.add_argument("--keep", type=Path, help="write the results folder here and keep it (default: a temp folder)")
    args = parser.parse_args()
    trials = 20 if args.smoke else args.trials
    seeds = max(1, trials // args.classes)
    work = args.keep or Path(tempfile.mkdtemp(prefix="fcdd-report-scale-"))
    try:
        started = time.perf_counter()
        write_results(work, args.classes, seeds, args.test_size)
        print(f"wrote {args.classes * seeds} synthetic trials to {work} in {time.perf_counter() - started:.1f} s")
        seconds, cpu, rss = run_report(work)
        print_table(args.classes * seeds, seconds, cpu, rss, work / "report")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def write_results(root: Path, classes: int, seeds: int, test_size: int) -> None:
    """A results store of ``classes`` x ``seeds`` trials and their run folders."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "trials.jsonl").unlink(missing_ok=True)
    store = ResultsStore(root)
    config = get_preset("fmnist").to_flat()
    rng = np.random.default_rng(0)
    for normal_class in range(classes):
        pictures = _pictures(normal_class)
        for seed in range(seeds):
            run_dir = root / "runs" / "default" / f"normal_{normal_class}" / f"it_{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            index = normal_class * seeds + seed
            failed = index % FAIL_EVERY == FAIL_EVERY - 1
            auc = None if failed else _write_run(run_dir, pictures, rng, normal_class, test_size)
            store.append(_record(root, run_dir, normal_class, seed, auc, {**config, "data.normal_class": normal_class}))


def _pictures(normal_class: int) -> dict[str, bytes]:
    """PNGs of a run's sizes (a heatmap grid as large as the F-MNIST one in docs/), one set per class."""
    template = Image.open(ROOT / "docs" / "heatmaps_fmnist.png").convert("RGB")
    draw = ImageDraw.Draw(template)
    draw.rectangle((0, 0, 220, 40), fill=(255, 255, 255))
    draw.text((8, 12), f"synthetic class {normal_class}", fill=(200, 0, 0))
    pictures = {}
    for name, size in (("heatmaps_test.png", None), ("heatmaps_train.png", None), ("roc.png", (480, 480)),
                       ("loss.png", (480, 320))):  # fmt: skip
        picture = template if size is None else template.resize(size)
        path = Path(tempfile.mkstemp(suffix=".png")[1])
        picture.save(path)
        pictures[name] = path.read_bytes()
        path.unlink()
    return pictures


def _write_run(run_dir: Path, pictures: dict[str, bytes], rng: np.random.Generator, cls: int, n: int) -> float:
    """scores.npz (one nominal for nine anomalous images, as F-MNIST's test split) and the PNGs; the AUC."""
    from sklearn.metrics import roc_auc_score

    labels = (np.arange(n) % 10 != 0).astype(np.int64)
    shift = 0.6 + 0.15 * (cls % 5) + rng.normal(0, 0.25)
    scores = (rng.normal(0, 1, n) + shift * labels).astype(np.float32)
    np.savez(run_dir / "scores.npz", score=scores, label=labels, original_class=np.where(labels == 0, cls, 9))
    for name, data in pictures.items():
        (run_dir / name).write_bytes(data)
    return float(roc_auc_score(labels, scores))


def _record(root: Path, run_dir: Path, cls: int, seed: int, auc: float | None, config: dict) -> TrialRecord:
    metrics = None
    if auc is not None:
        metrics = RunMetrics(auc=auc, epochs=1, train_seconds=0.2, images_per_second=150.0, eval_seconds=0.1,
                             wall_seconds=0.35, final_loss=0.3, n_train=32, n_test=64, n_test_anomalous=58,
                             device="cpu", precision="fp32", threads=1, heatmap_scale=(0.0, 1.0))  # fmt: skip
    error = None if auc is not None else "Traceback (most recent call last):\n  ...\nRuntimeError: synthetic failure"
    return TrialRecord(
        trial_id=f"default-c{cls}-s{seed}", benchmark="report-scale", setting="default", dataset="fmnist",
        normal_class=cls, class_name=CLASS_NAMES[cls % 10], seed=seed, status="ok" if auc is not None else "failed",
        error=error, attempts=1, attempt_seconds=(0.375,), trial_seconds=0.375, run_dir=str(run_dir), runner="ray",
        cpus=1.0, gpus=0.0, node="bench", node_id=None, started_at="2025-01-01T00:00:00+00:00",
        finished_at="2025-01-01T00:00:01+00:00", fcdd_version="0", torch_version="0", ray_version="0",
        metrics=metrics, config=config,
    )  # fmt: skip


def run_report(results: Path) -> tuple[float, float, int]:
    """``fcdd report`` in a child process: wall seconds, CPU seconds and peak RSS (bytes).

    CPU seconds are the child's user + system time: on a shared machine they say more than the wall.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", "import sys; from tune.cli import main; sys.exit(main())", "report", str(results)]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024  # Linux: ru_maxrss in KiB


def print_table(trials: int, seconds: float, cpu: float, rss: int, report: Path) -> None:
    page = (report / "report.html").read_text()
    files = [p.stat() for p in report.rglob("*") if p.is_file()]
    folder = sum(f.st_size for f in files)  # what a zip of the folder holds
    linked = sum(f.st_size for f in files if f.st_nlink > 1)  # hard links to the runs' pictures: no new disk
    headers = ["N", "report s", "report CPU s", "peak RSS MB", "report.html bytes", "images on page 1",
               "report folder bytes", "of which hard links"]  # fmt: skip
    values = [str(trials), f"{seconds:.1f}", f"{cpu:.1f}", f"{rss / 2**20:.0f}", f"{len(page.encode()):,}",
              str(page.count("<img")), f"{folder:,}", f"{linked:,}"]  # fmt: skip
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    print("| " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
