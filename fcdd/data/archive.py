"""Fetching a dataset archive and unpacking it without letting it write outside its folder.

``safe_extract`` checks every member before anything is written: an absolute name, a
``..`` that climbs out of the target, or a symbolic or hard link that points outside it
is refused with a one-line ``ValueError`` naming the member. Tar archives are then
extracted with the standard library's ``"data"`` filter as a second line of defence
(it also drops device files and unsafe permission bits); zip archives are extracted by
``zipfile``, which never creates links.
"""

from __future__ import annotations

import logging
import shutil
import stat
import tarfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from fcdd.progress import progress_bar

log = logging.getLogger(__name__)

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
ZIP_SUFFIXES = (".zip",)
CHUNK_BYTES = 1 << 20


def archive_kind(path: str | Path) -> str:
    """``"tar"`` or ``"zip"`` from the file name; anything else raises a ``ValueError``."""
    name = Path(path).name.lower()
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    if name.endswith(ZIP_SUFFIXES):
        return "zip"
    raise ValueError(
        f"cannot extract {path}: unknown archive type; expected one of {', '.join(TAR_SUFFIXES + ZIP_SUFFIXES)}"
    )


def _escapes(name: str) -> str | None:
    """Why an archive path ``name`` (relative to the target) is unsafe, or None when it stays inside."""
    if not name:
        return "empty name"
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return "absolute path"
    depth = 0
    for part in name.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return "path climbs out of the target with '..'"
        elif part not in ("", "."):
            depth += 1
    return None


def _link_escapes(member_name: str, link: str, *, hard: bool) -> str | None:
    """Why a link target is unsafe: symlinks resolve from the member's folder, hard links from the root."""
    if PurePosixPath(link).is_absolute() or PureWindowsPath(link).drive:
        return f"link to absolute path {link!r}"
    base = "" if hard else str(PurePosixPath(member_name).parent)
    joined = f"{base}/{link}" if base not in ("", ".") else link
    if _escapes(joined) is not None:
        return f"link to {link!r} points outside the target"
    return None


def _refuse(archive: Path, member: str, reason: str) -> ValueError:
    return ValueError(f"unsafe member {member!r} in archive {archive}: {reason}; refusing to extract it")


def _check_tar(archive: Path, members: list[tarfile.TarInfo]) -> None:
    for m in members:
        reason = _escapes(m.name)
        if reason is None and m.issym():
            reason = _link_escapes(m.name, m.linkname, hard=False)
        elif reason is None and m.islnk():
            reason = _link_escapes(m.name, m.linkname, hard=True)
        elif reason is None and (m.isdev() or not (m.isfile() or m.isdir())):
            reason = "device or special file"
        if reason is not None:
            raise _refuse(archive, m.name, reason)


def _check_zip(archive: Path, handle: zipfile.ZipFile) -> None:
    for info in handle.infolist():
        reason = _escapes(info.filename)
        mode = info.external_attr >> 16
        if reason is None and stat.S_ISLNK(mode):
            # zipfile writes a link entry as a small file holding its target; refuse escaping ones anyway.
            target = handle.read(info).decode("utf-8", errors="replace")
            reason = _link_escapes(info.filename, target, hard=False)
        if reason is not None:
            raise _refuse(archive, info.filename, reason)


def safe_extract(archive_path: str | Path, target: str | Path) -> Path:
    """Extract a .tar[.gz|.xz|.bz2] or .zip archive into ``target`` after checking every member.

    Raises ``ValueError`` naming the first unsafe member (absolute path, ``..`` escape,
    link pointing outside ``target``, device file) before writing anything; a damaged
    archive raises ``ValueError`` naming the file. Returns ``target``.
    """
    archive = Path(archive_path)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    kind = archive_kind(archive)
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "tar":
            with tarfile.open(archive, "r:*") as handle:
                members = handle.getmembers()
                _check_tar(archive, members)
                handle.extractall(out, members=members, filter="data")
        else:
            with zipfile.ZipFile(archive) as handle:
                _check_zip(archive, handle)
                handle.extractall(out)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        if isinstance(err, tarfile.FilterError):
            raise ValueError(f"unsafe member in archive {archive}: {err}; refusing to extract it") from err
        raise ValueError(f"cannot extract archive {archive}: {err}; delete it and download it again") from err
    log.info("extracted %s into %s", archive, out)
    return out


def download(url: str, destination: str | Path, *, show_progress: bool = True) -> Path:
    """Fetch ``url`` to the file ``destination`` with a progress bar; a partial download never stays behind.

    Writes to ``<destination>.part`` first and renames it when complete, so an interrupted
    download is not mistaken for a finished one.
    """
    dest = Path(destination)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    log.info("downloading %s to %s", url, dest)
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as handle:  # noqa: S310 (URL set by the user)
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress_bar(total=total, unit="B", unit_scale=True, desc=dest.name, show=show_progress) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    handle.write(chunk)
                    bar.update(len(chunk))
    except (OSError, ValueError) as err:
        partial.unlink(missing_ok=True)
        raise ValueError(f"cannot download {url} to {dest}: {err}; check the URL and the connection") from err
    shutil.move(partial, dest)
    return dest
