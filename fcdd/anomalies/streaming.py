"""Outlier exposure streamed from a folder too large to hold in memory (ImageNet-22k: about 14M images).

A :class:`StreamingPool` draws images from the whole file listing, as the original did through its
nested DataLoader, instead of a subset decoded once: a seeded stream of file indices (a fresh
random permutation of every file per pass, so each file is drawn once per pass) is decoded in
background threads (:func:`fcdd.data.images.decode_in_threads`), in order, into a bounded buffer;
each call takes the next images from it. The same seed gives the same images in the same order,
memory is bounded by the buffer, and the training step rarely waits: decoding runs while the
model trains (PIL releases the GIL).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from fcdd.data.images import decode_in_threads

log = logging.getLogger(__name__)

DEFAULT_BUFFER = 512  # decoded images held ahead of the training loop


class StreamingPool:
    """An anomaly source over ``files``: ``(n, (C, H, W), generator)`` -> float32 (n, C, H, W), 0..255.

    ``decode(path, (H, W), mode)`` gives one uint8 array or raises ``ValueError`` (such files are
    skipped with a warning). The draw order depends only on ``seed``, not on the training
    generator, so it is reproducible whatever the batch sizes. ``workers`` decoding threads
    (None: :func:`~fcdd.data.images.decode_workers`).
    """

    def __init__(
        self,
        files: Sequence[Path],
        shape: tuple[int, int, int],
        decode: Callable[[Path, tuple[int, int], str], np.ndarray],
        *,
        seed: int = 0,
        buffer: int = DEFAULT_BUFFER,
        workers: int | None = None,
    ) -> None:
        if not files:
            raise ValueError("a streaming outlier pool needs at least one file")
        self.files = list(files)
        self.shape = tuple(int(s) for s in shape)
        self.decode = decode
        self.seed = seed
        self.capacity = buffer
        self.workers = workers
        self.drawn = 0  # images handed out so far
        self.skipped = 0  # files that could not be decoded
        self._queue: queue.Queue[object] | None = None
        self._stop: threading.Event | None = None

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"StreamingPool(files={len(self.files)}, shape={self.shape}, seed={self.seed}, buffer={self.capacity})"

    def to(self, device: torch.device | str) -> StreamingPool:
        """The pool itself: images go to the generator's device when drawn."""
        return self

    def order(self) -> Iterator[int]:
        """The endless, seeded stream of file indices: a new permutation of all files per pass."""
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            yield from torch.randperm(len(self.files), generator=generator).tolist()

    def buffered(self) -> int:
        """Decoded images waiting in the buffer (at most ``capacity``)."""
        return 0 if self._queue is None else self._queue.qsize()

    def _produce(self, out: queue.Queue[object], stop: threading.Event) -> None:
        c, h, w = self.shape
        # In the stream's order, whatever thread finishes first.
        decoded = decode_in_threads(self._decode_or_none, self.order(), workers=self.workers)
        try:
            for index, array in decoded:
                if stop.is_set():
                    break
                if array is None:
                    self.skipped += 1
                    log.warning("skipped undecodable outlier image %s", self.files[index])
                    continue
                tensor = torch.from_numpy(array).view(h, w, c).permute(2, 0, 1)
                while not stop.is_set():
                    try:
                        out.put(tensor, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except Exception as error:  # a decoder bug, not a file to skip: the waiting draw raises it
            if not stop.is_set():
                out.put(error)
        finally:
            decoded.close()  # drops the files queued for decoding

    def _decode_or_none(self, index: int) -> tuple[int, np.ndarray | None]:
        _, h, w = self.shape
        try:
            return index, self.decode(self.files[index], (h, w), "L" if self.shape[0] == 1 else "RGB")
        except ValueError:
            return index, None

    def _start(self) -> queue.Queue[object]:
        if self._queue is None:
            self._queue, self._stop = queue.Queue(maxsize=self.capacity), threading.Event()
            thread = threading.Thread(
                target=self._produce, args=(self._queue, self._stop), daemon=True, name="fcdd-oe-stream"
            )
            thread.start()
        return self._queue

    def __call__(self, n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
        """The next ``n`` images of the stream, float32 on ``generator.device``."""
        if tuple(shape) != self.shape:
            raise ValueError(f"streaming pool holds images of shape {self.shape}, got a request for {tuple(shape)}")
        if n == 0:
            return torch.empty((0, *self.shape), device=generator.device)
        stream = self._start()
        images = []
        for _ in range(n):
            item = stream.get()
            if isinstance(item, Exception):
                raise RuntimeError(f"the outlier-exposure stream stopped: {item}") from item
            images.append(item)
        self.drawn += n
        return torch.stack(images).to(generator.device).float()  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the background decoding (a closed pool restarts its stream from the seed on the next draw)."""
        if self._stop is not None:
            self._stop.set()
        self._queue, self._stop = None, None
        self.drawn = 0

    def __getstate__(self) -> dict[str, object]:
        # The buffer and the thread stay behind; a copy streams again from its seed.
        state = dict(self.__dict__)
        state.update(_queue=None, _stop=None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
