"""Safe archive extraction and local downloads (nothing leaves this machine)."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from fcdd.data.archive import archive_kind, download, safe_extract


def add_file(handle: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    handle.addfile(info, io.BytesIO(data))


def add_link(handle: tarfile.TarFile, name: str, target: str, kind: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    handle.addfile(info)


def write_tar(path: Path, members: list[tuple[str, str | None, bytes | None]]) -> Path:
    """members: (name, link target or None, link kind or None); plain files hold their own name."""
    compression = {".gz": "gz", ".xz": "xz"}.get(path.suffix, "")
    with tarfile.open(path, f"w:{compression}") as handle:  # type: ignore[call-overload]
        for name, target, kind in members:
            if target is None or kind is None:
                add_file(handle, name, name.encode())
            else:
                add_link(handle, name, target, kind)
    return path


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tar.xz"])
def test_good_tar_is_extracted(tmp_path: Path, suffix: str) -> None:
    archive = write_tar(
        tmp_path / f"good{suffix}",
        [
            ("bottle/train/good/000.png", None, None),
            ("bottle/./readme.txt", None, None),
            ("bottle/latest", "train/good/000.png", tarfile.SYMTYPE),
            ("bottle/copy.png", "bottle/train/good/000.png", tarfile.LNKTYPE),
        ],
    )
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "bottle" / "train" / "good" / "000.png").read_bytes() == b"bottle/train/good/000.png"
    assert (out / "bottle" / "readme.txt").is_file()
    assert (out / "bottle" / "latest").is_symlink()
    assert (out / "bottle" / "latest").read_bytes() == b"bottle/train/good/000.png"
    assert (out / "bottle" / "copy.png").read_bytes() == b"bottle/train/good/000.png"


@pytest.mark.parametrize(
    ("member", "target", "kind", "reason"),
    [
        ("/etc/evil.txt", None, None, "absolute path"),
        ("bottle/../../evil.txt", None, None, r"climbs out"),
        ("bottle/link", "/etc/passwd", tarfile.SYMTYPE, "absolute path"),
        ("bottle/link", "../../outside", tarfile.SYMTYPE, "points outside"),
        ("bottle/hard", "../outside", tarfile.LNKTYPE, "points outside"),
        ("bottle/dev", "", tarfile.CHRTYPE, "device"),
    ],
)
def test_malicious_tar_is_refused(
    tmp_path: Path, member: str, target: str | None, kind: bytes | None, reason: str
) -> None:
    members: list[tuple[str, str | None, bytes | None]] = [("bottle/ok.txt", None, None), (member, target, kind)]
    archive = write_tar(tmp_path / "bad.tar.gz", members)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=reason) as err:
        safe_extract(archive, out)
    assert repr(member) in str(err.value) and "\n" not in str(err.value)
    assert not (out / "bottle").exists()  # checked before anything is written
    assert not (tmp_path / "evil.txt").exists()


def test_good_zip_is_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "good.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("cable/train/good/000.png", b"png")
        handle.writestr("cable/readme.txt", b"hi")
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "cable" / "train" / "good" / "000.png").read_bytes() == b"png"


def zip_symlink(handle: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    handle.writestr(info, target)


@pytest.mark.parametrize(
    ("member", "link", "reason"),
    [
        ("../evil.txt", None, "climbs out"),
        ("/abs/evil.txt", None, "absolute path"),
        ("C:/evil.txt", None, "absolute path"),
        ("cable/link", "../../outside", "points outside"),
    ],
)
def test_malicious_zip_is_refused(tmp_path: Path, member: str, link: str | None, reason: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("cable/ok.txt", b"ok")
        if link is None:
            handle.writestr(member, b"evil")
        else:
            zip_symlink(handle, member, link)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=reason) as err:
        safe_extract(archive, out)
    assert repr(member) in str(err.value)
    assert not (out / "cable").exists() and not (tmp_path / "evil.txt").exists()


def test_unknown_and_corrupt_archives(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown archive type"):
        archive_kind("data.rar")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(ValueError, match=r"cannot extract archive .*broken\.tar\.gz"):
        safe_extract(broken, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="absent.zip"):
        safe_extract(tmp_path / "absent.zip", tmp_path / "out")


def test_download_local_file_and_failure(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(bytes(range(256)) * 10)
    dest = download(source.as_uri(), tmp_path / "dl" / "copy.bin", show_progress=False)
    assert dest.read_bytes() == source.read_bytes()
    with pytest.raises(ValueError, match="cannot download"):
        download((tmp_path / "absent.bin").as_uri(), tmp_path / "dl" / "x.bin", show_progress=False)
    assert not (tmp_path / "dl" / "x.bin.part").exists() and not (tmp_path / "dl" / "x.bin").exists()
