"""Run folders on shared storage that is not a mounted folder: an object store (s3://, gs://) or any URI pyarrow reads.

With ``--storage URI``, trials run in a local scratch folder on whatever node Ray places them,
pull their run folder from ``URI/runs/...`` first (so a retried or resumed trial continues from its
checkpoint), push it back after every epoch and at the end, and the driver pulls finished run
folders into ``--out`` for the results store and the report. No Ray here: pyarrow's filesystem
layer does the copying, so the same code serves S3, GCS and local ``file://`` URIs (the tests).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteRuns:
    """Run folders under ``uri`` (``<uri>/<relative run path>``)."""

    uri: str

    def _fs(self):  # pyarrow filesystems don't pickle everywhere: open one where it is used
        import pyarrow.fs

        try:
            return pyarrow.fs.FileSystem.from_uri(self.uri.rstrip("/"))
        except Exception as error:  # noqa: BLE001 - pyarrow raises several kinds for a bad URI
            raise ValueError(
                f"--remote-storage {self.uri}: cannot open it ({error}); pass an s3://, gs:// or file:// URI"
            ) from None

    def exists(self, relative: str) -> bool:
        """Whether ``<uri>/<relative>`` holds anything."""
        import pyarrow.fs

        fs, root = self._fs()
        return fs.get_file_info(f"{root}/{relative}").type != pyarrow.fs.FileType.NotFound

    def push(self, local: Path, relative: str) -> None:
        """Copy a local folder to ``<uri>/<relative>`` (files written atomically by the run are complete)."""
        import pyarrow.fs

        fs, root = self._fs()
        fs.create_dir(f"{root}/{relative}", recursive=True)
        pyarrow.fs.copy_files(str(local), f"{root}/{relative}", destination_filesystem=fs)

    def pull(self, relative: str, local: Path) -> bool:
        """Copy ``<uri>/<relative>`` into a local folder; False when there is nothing there."""
        import pyarrow.fs

        if not self.exists(relative):
            return False
        fs, root = self._fs()
        local.mkdir(parents=True, exist_ok=True)
        pyarrow.fs.copy_files(f"{root}/{relative}", str(local), source_filesystem=fs)
        return True

    def push_results(self, out: Path) -> None:
        """Copy the driver's results (store, tables, report) next to the run folders."""
        import pyarrow.fs

        fs, root = self._fs()
        for name in ("trials.jsonl", "results.csv", "results.parquet", "benchmark.json"):
            if (out / name).is_file():
                pyarrow.fs.copy_files(str(out / name), f"{root}/{name}", destination_filesystem=fs)
        if (out / "report").is_dir():
            self.push(out / "report", "report")


def scratch_dir(trial_id: str) -> Path:
    """A node-local working folder for one trial."""
    return Path(tempfile.gettempdir()) / "fcdd-trials" / trial_id


def check_storage(uri: str) -> RemoteRuns:
    """Open the storage once on the driver so a bad URI fails before anything runs."""
    remote = RemoteRuns(uri)
    fs, root = remote._fs()
    fs.create_dir(root, recursive=True)
    return remote
