"""A per-pixel z-score baseline for pixel-level anomaly detection on an MVTec-layout category.

Each pixel's mean and standard deviation are taken over the nominal training images (resized
like the test images); a test pixel's anomaly score is its absolute z-score averaged over the
colour channels. Pixel AUC and per-image max-score AUC are computed exactly like `fcdd train`
does (maps nearest-resized to the masks' original resolution, one pooled streaming ROC), so the
numbers compare directly with an FCDD run's metrics.json.

    python benchmarks/mvtec_zscore_baseline.py --data-dir ../shared/data/mvtec3d_tire --classes tire
"""

from __future__ import annotations

import argparse
import resource

import torch

from fcdd.config import DataConfig
from fcdd.data.loading import dataset_classes, load_dataset, resolve_classes
from fcdd.engine.evaluate import evaluate_pixels
from fcdd.engine.roc import sample_roc


def zscore_maps(train: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """|x − μ| / σ per pixel, averaged over channels: (M, 1, H, W) for test images on the train statistics."""
    train, test = train.float(), test.float()
    mean, std = train.mean(dim=0), train.std(dim=0).clamp_min(1.0)  # σ floor: one grey level
    return ((test - mean) / std).abs().mean(dim=1, keepdim=True)


def _resized(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return torch.nn.functional.interpolate(images.float(), size=size, mode="bilinear", antialias=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--classes", default="all")
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    names = dataset_classes(DataConfig(dataset="mvtec", data_dir=args.data_dir))
    print(f"{'class':<14} {'pixel AUC':>10} {'max-score AUC':>14} {'mean-score AUC':>15}")
    for cls in resolve_classes(args.classes, names):
        data = load_dataset(
            DataConfig(dataset="mvtec", data_dir=args.data_dir, normal_class=cls, image_size=args.image_size)
        )
        size = (data.input_shape[1], data.input_shape[2])
        maps = zscore_maps(_resized(data.train_images, size), _resized(data.test_images, size))
        pixels = evaluate_pixels(maps, data.test_labels, data.test_mask_files, lambda m: m)
        mean_auc = sample_roc(maps.flatten(1).mean(dim=1), data.test_labels).auc
        print(f"{names[cls]:<14} {pixels.auc:>10.4f} {pixels.max_score_auc:>14.4f} {mean_auc:>15.4f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
