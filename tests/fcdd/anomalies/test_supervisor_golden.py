"""Supervised sets bit for bit as the code made them before the offline set was derived from the online supervisor.

The offline fingerprints were computed with the second (offline-only) implementation of the five
supervise modes, before it was replaced by passes of :class:`~fcdd.anomalies.supervisor.OnlineSupervisor`
(issue 17); the online ones guard the supervisor itself (training batches, validation anomalies).
Any change to a set (images, labels or maps; any mode, source, chunking or shape) changes a fingerprint.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

from fcdd.anomalies.noise import get_noise_mode
from fcdd.anomalies.offline import make_offline_training_set
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.registry import SYNTHETIC_NOISE
from fcdd.anomalies.supervisor import OnlineSupervisor
from tests.helpers.supervision import gen, nominal_batch, pool_images, sources


def _cases() -> dict[str, tuple[str, object, bool, int, int | None, tuple[int, int, int]]]:
    """case id -> (supervise mode, source, with_gt_maps, N, chunk, (C, H, W))."""
    cases: dict[str, tuple[str, object, bool, int, int | None, tuple[int, int, int]]] = {}
    for name, (mode, source, maps) in sources().items():
        for chunk in (4, None):
            cases[f"{name}-chunk{chunk}"] = (mode, source, maps, 23, chunk, (3, 8, 8))
    cases["malformed_normal_pool"] = ("malformed_normal", OutlierPool(pool_images()), True, 23, 4, (3, 8, 8))
    for noise in SYNTHETIC_NOISE:
        for mode in ("noise", "malformed_normal", "malformed_normal_gt"):
            cases[f"{mode}-{noise}"] = (mode, get_noise_mode(noise), False, 7, 3, (3, 40, 40))
    cases["grey-malformed_normal_gt-confetti"] = (
        "malformed_normal_gt",
        get_noise_mode("confetti"),
        False,
        9,
        4,
        (1, 40, 40),
    )
    cases["grey-noise-gaussian-maps"] = ("noise", get_noise_mode("gaussian"), True, 9, None, (1, 16, 16))
    return cases


CASES = _cases()


def _digest(images: torch.Tensor, labels: torch.Tensor, maps: torch.Tensor | None) -> str:
    """sha256 (first 16 hex digits) of a set's images, labels and maps."""
    digest = hashlib.sha256()
    digest.update(str((tuple(images.shape), images.dtype)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    digest.update(b"none" if maps is None else maps.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def fingerprint(case: str) -> str:
    """The offline set's fingerprint for ``case``, seed 3."""
    mode, source, with_gt_maps, n, chunk, shape = CASES[case]
    out = make_offline_training_set(
        nominal_batch(n, shape),
        mode,
        source,  # type: ignore[arg-type]
        generator=gen(3),
        with_gt_maps=with_gt_maps,
        chunk=chunk,
    )
    return _digest(out.images, out.labels, out.gt_maps)


def online_fingerprint(case: str, p: float) -> str:
    """The fingerprint of one online batch (N images of ``case``, probability ``p``), seed 3."""
    mode, source, with_gt_maps, n, _, shape = CASES[case]
    supervisor = OnlineSupervisor(mode, source, p=p, with_gt_maps=with_gt_maps)  # type: ignore[arg-type]
    out = supervisor(nominal_batch(n, shape).float(), gen(3))
    return _digest(out.images, out.labels, out.gt_maps)


EXPECTED: dict[str, str] = {
    "grey-malformed_normal_gt-confetti": "add0a7d74dcc7f30",
    "grey-noise-gaussian-maps": "24b605f7aa710c97",
    "malformed_normal-blob": "189e19ea03ca13b5",
    "malformed_normal-chunk4": "ebd19d9d86210ce4",
    "malformed_normal-chunkNone": "ebd19d9d86210ce4",
    "malformed_normal-confetti": "3a046e3443c6da75",
    "malformed_normal-gaussian": "5d0f5d0d8c58e268",
    "malformed_normal-mixed_blob": "5fdda0eae829ed77",
    "malformed_normal-solid": "594655621e56f406",
    "malformed_normal-uniform": "f419e2b280087883",
    "malformed_normal_gt-blob": "c2fd4a05626771f8",
    "malformed_normal_gt-chunk4": "ebd19d9d86210ce4",
    "malformed_normal_gt-chunkNone": "ebd19d9d86210ce4",
    "malformed_normal_gt-confetti": "1f039a30765459e1",
    "malformed_normal_gt-gaussian": "a7d74f31a9eb12c5",
    "malformed_normal_gt-mixed_blob": "37759db7142859a2",
    "malformed_normal_gt-solid": "1f69568c9c0870ee",
    "malformed_normal_gt-uniform": "f62b91641137e685",
    "malformed_normal_pool": "901fac3a3a7367d2",
    "noise-blob": "07370a4335bb84d0",
    "noise-chunk4": "cee8b91909920c36",
    "noise-chunkNone": "cee8b91909920c36",
    "noise-confetti": "2b304f134dc82e71",
    "noise-gaussian": "4cefe1d5f6af818d",
    "noise-mixed_blob": "6932f36a37db2f40",
    "noise-solid": "f68b994b85ef88d7",
    "noise-uniform": "40363b0c08cf41dc",
    "noise_masked_pool-chunk4": "adafa4a8b2aed328",
    "noise_masked_pool-chunkNone": "adafa4a8b2aed328",
    "noise_no_maps-chunk4": "eaf57bc9220ad832",
    "noise_no_maps-chunkNone": "eaf57bc9220ad832",
    "other-chunk4": "f37e06993617542b",
    "other-chunkNone": "f37e06993617542b",
    "other_masked_pool-chunk4": "adafa4a8b2aed328",
    "other_masked_pool-chunkNone": "adafa4a8b2aed328",
    "unsupervised-chunk4": "5401d2a761a89197",
    "unsupervised-chunkNone": "5401d2a761a89197",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_offline_set_is_unchanged(case: str) -> None:
    assert fingerprint(case) == EXPECTED[case]


ONLINE: dict[str, str] = {
    "grey-malformed_normal_gt-confetti-p0.5": "44b5d3881622f4b5",
    "grey-malformed_normal_gt-confetti-p1.0": "12844da9979b40c1",
    "grey-noise-gaussian-maps-p0.5": "b806a9c2b8c210e4",
    "grey-noise-gaussian-maps-p1.0": "6b04e12e1b5b8224",
    "malformed_normal-blob-p0.5": "a2610fc6bd8175e1",
    "malformed_normal-blob-p1.0": "5c3f1b17c49ec738",
    "malformed_normal-chunk4-p0.5": "2594d757c43c5ed1",
    "malformed_normal-chunk4-p1.0": "ed60649aa5a4c561",
    "malformed_normal-confetti-p0.5": "02edbb14d64671d6",
    "malformed_normal-confetti-p1.0": "5c09efe414ace570",
    "malformed_normal-gaussian-p0.5": "ab50bbe817c43d93",
    "malformed_normal-gaussian-p1.0": "fbccac059e5eb327",
    "malformed_normal-mixed_blob-p0.5": "5a7f7f04b65dd1da",
    "malformed_normal-mixed_blob-p1.0": "aee9dd1a05a0be53",
    "malformed_normal-solid-p0.5": "9b535687dfe4e369",
    "malformed_normal-solid-p1.0": "3a613b0d43dd406e",
    "malformed_normal-uniform-p0.5": "2970c10e8c023191",
    "malformed_normal-uniform-p1.0": "a7995393293ae50a",
    "malformed_normal_gt-blob-p0.5": "d3018941be120779",
    "malformed_normal_gt-blob-p1.0": "07e5c33562de15f5",
    "malformed_normal_gt-chunk4-p0.5": "2594d757c43c5ed1",
    "malformed_normal_gt-chunk4-p1.0": "ed60649aa5a4c561",
    "malformed_normal_gt-confetti-p0.5": "b38004c5bed60a6a",
    "malformed_normal_gt-confetti-p1.0": "8c26805519b170c8",
    "malformed_normal_gt-gaussian-p0.5": "8ff973eeea261cab",
    "malformed_normal_gt-gaussian-p1.0": "d57d67c1755413fd",
    "malformed_normal_gt-mixed_blob-p0.5": "4b27a3a651459c56",
    "malformed_normal_gt-mixed_blob-p1.0": "71777903ae56dc82",
    "malformed_normal_gt-solid-p0.5": "0b957b0457e5f475",
    "malformed_normal_gt-solid-p1.0": "36a70eca7ea5df4c",
    "malformed_normal_gt-uniform-p0.5": "f24a5a8552504e81",
    "malformed_normal_gt-uniform-p1.0": "af3def2559e2760c",
    "malformed_normal_pool-p0.5": "781e458e5dfb33dd",
    "malformed_normal_pool-p1.0": "b93ad65de8823ed9",
    "noise-blob-p0.5": "df284f1c1b012961",
    "noise-blob-p1.0": "df5b009256218d8d",
    "noise-chunk4-p0.5": "8857020ac9aeaa59",
    "noise-chunk4-p1.0": "b9d7c4936d9395df",
    "noise-confetti-p0.5": "e46b5bc75bd79eb6",
    "noise-confetti-p1.0": "b966403acad8e7ff",
    "noise-gaussian-p0.5": "b0238f177be49817",
    "noise-gaussian-p1.0": "3d45da25a5d6be26",
    "noise-mixed_blob-p0.5": "ab64025b9d9e9b3b",
    "noise-mixed_blob-p1.0": "e23f0862f6a6052e",
    "noise-solid-p0.5": "26a4151d4436d3a4",
    "noise-solid-p1.0": "51288335dadee04b",
    "noise-uniform-p0.5": "0082476830a86f6e",
    "noise-uniform-p1.0": "e8a9da84becce2a0",
    "noise_masked_pool-chunk4-p0.5": "e11ea45e93438bb2",
    "noise_masked_pool-chunk4-p1.0": "d714bdd870c84644",
    "noise_no_maps-chunk4-p0.5": "ab995b7d9b73646a",
    "noise_no_maps-chunk4-p1.0": "ef7d757830002e12",
    "other-chunk4-p0.5": "07b626656cd2afae",
    "other-chunk4-p1.0": "51d945f137191c45",
    "other_masked_pool-chunk4-p0.5": "e11ea45e93438bb2",
    "other_masked_pool-chunk4-p1.0": "d714bdd870c84644",
    "unsupervised-chunk4-p0.5": "8e8b1414a207d2ec",
    "unsupervised-chunk4-p1.0": "8e8b1414a207d2ec",
}


@pytest.mark.parametrize("case", sorted(c for c in CASES if "chunkNone" not in c))
@pytest.mark.parametrize("p", [0.5, 1.0])
def test_online_batch_is_unchanged(case: str, p: float) -> None:
    assert online_fingerprint(case, p) == ONLINE[f"{case}-p{p}"]


def test_every_case_has_a_fingerprint() -> None:
    assert sorted(EXPECTED) == sorted(CASES)
    assert sorted(ONLINE) == sorted(f"{c}-p{p}" for c in CASES if "chunkNone" not in c for p in (0.5, 1.0))
