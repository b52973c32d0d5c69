"""The offline training sets, bit for bit as the code made them before they were derived from the online supervisor.

The fingerprints below were computed with the second (offline-only) implementation of the five
supervise modes, before it was replaced by one pass of :class:`~fcdd.anomalies.supervisor.OnlineSupervisor`
(issue 17). Any change to the sets (images, labels or maps; any mode, source, chunking or shape)
changes a fingerprint.
"""

from __future__ import annotations

import hashlib

import pytest

from fcdd.anomalies.noise import get_noise_mode
from fcdd.anomalies.offline import make_offline_training_set
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.registry import SYNTHETIC_NOISE
from tests.fcdd.supervision_fixtures import gen, nominal_batch, pool_images, sources


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


def fingerprint(case: str) -> str:
    """sha256 (first 16 hex digits) of the offline set's images, labels and maps for ``case``, seed 3."""
    mode, source, with_gt_maps, n, chunk, shape = CASES[case]
    out = make_offline_training_set(
        nominal_batch(n, shape),
        mode,
        source,  # type: ignore[arg-type]
        generator=gen(3),
        with_gt_maps=with_gt_maps,
        chunk=chunk,
    )
    digest = hashlib.sha256()
    digest.update(str((tuple(out.images.shape), out.images.dtype)).encode())
    digest.update(out.images.contiguous().numpy().tobytes())
    digest.update(out.labels.numpy().tobytes())
    digest.update(b"none" if out.gt_maps is None else out.gt_maps.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


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


def test_every_case_has_a_fingerprint() -> None:
    assert sorted(EXPECTED) == sorted(CASES)
