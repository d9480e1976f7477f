"""Safe zip expansion in memory: member count, size, ratio and nesting limits; unsafe names refused."""

from __future__ import annotations

import io
import lzma
import posixpath
import stat
import zipfile
import zlib
from dataclasses import dataclass

from core.ingest.options import MB, Limits

# What zipfile raises for an archive it cannot open, and for a member it cannot unpack (RuntimeError: an encrypted
# member; zlib / lzma errors: a corrupt stream, found by tests/test_hardening_uploads.py). Every zip reader of the
# project (uploads, BEIR sets, bundles) turns these into its own refusal.
ZIP_OPEN_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
)  # fmt: skip
ZIP_MEMBER_ERRORS: tuple[type[Exception], ...] = (*ZIP_OPEN_ERRORS, RuntimeError, zlib.error, lzma.LZMAError)


@dataclass(frozen=True)
class Member:
    """A zip member read into memory (``path`` is archive-relative, '/'-separated, prefixed by the zip's path)."""

    path: str
    data: bytes


@dataclass(frozen=True)
class Refused:
    """A member (or the whole archive, path == archive) that was not unpacked, and why."""

    path: str
    reason: str


def _skip_silently(name: str) -> bool:
    parts = name.split("/")
    return any(p.startswith(".") or p in ("__MACOSX", "__pycache__", "node_modules") for p in parts if p)


def safe_member_name(name: str) -> str | None:
    """Normalised relative path of a member, or None for absolute paths, drive letters and '..' escapes."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or "\x00" in norm:
        return None
    if any(part == ".." for part in norm.split("/")):
        return None
    clean = posixpath.normpath(norm)
    if clean in (".", "") or clean.startswith("../"):
        return None
    return clean


_UNIX = 3  # ZipInfo.create_system of an archive made on Unix: external_attr >> 16 is the file's st_mode
_MEMBER_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def member_kind(info: zipfile.ZipInfo) -> str:
    """What a member is when its Unix mode says it is not a regular file: "folder", "a symbolic link", ...;
    "" for a regular file (or an archive that records no Unix mode)."""
    if info.create_system != _UNIX:
        return ""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind in (0, stat.S_IFREG):
        return ""
    if kind == stat.S_IFDIR:
        return "folder"
    return _MEMBER_KINDS.get(kind, f"a special file (type {kind:#o})")


_CENTRAL = b"PK\x01\x02"
_END = b"PK\x05\x06"
_UTF8_FLAG = 0x800


def _unflag_bad_utf8_names(data: bytes) -> tuple[bytes, set[str]]:
    """``data`` with the UTF-8 flag cleared on central-directory names that are not valid UTF-8.

    ``zipfile`` then reads those names as cp437 instead of refusing the whole archive; the returned set
    holds them (as zipfile will spell them) so that exactly those members are skipped.
    """
    end = data.rfind(_END)
    if end < 0 or end + 22 > len(data):
        return data, set()
    size = int.from_bytes(data[end + 12 : end + 16], "little")
    pos = end - size  # the central directory ends where the end record starts (prefixed data tolerated)
    if size == 0xFFFFFFFF or pos < 0:  # zip64: leave it to zipfile
        return data, set()
    patched, bad = bytearray(data), set()
    while pos + 46 <= end and data[pos : pos + 4] == _CENTRAL:
        flags = int.from_bytes(data[pos + 8 : pos + 10], "little")
        n_name, n_extra, n_comment = (
            int.from_bytes(data[pos + o : pos + o + 2], "little") for o in (28, 30, 32)
        )
        raw = data[pos + 46 : pos + 46 + n_name]
        if flags & _UTF8_FLAG:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                patched[pos + 8 : pos + 10] = (flags & ~_UTF8_FLAG).to_bytes(2, "little")
                bad.add(raw.decode("cp437"))
        pos += 46 + n_name + n_extra + n_comment
    return bytes(patched), bad


def _open(data: bytes) -> tuple[zipfile.ZipFile, set[str]]:
    """The archive, and the names of members whose name bytes are not the UTF-8 their flag claims."""
    try:
        return zipfile.ZipFile(io.BytesIO(data)), set()
    except UnicodeDecodeError:
        patched, bad = _unflag_bad_utf8_names(data)
        if not bad:
            raise
        return zipfile.ZipFile(io.BytesIO(patched)), bad


def archive_refusal(
    infos: list[zipfile.ZipInfo], *, archive: str, limits: Limits, fix: str = "upload the files themselves"
) -> str:
    """Why a whole archive is refused before any member is unpacked ('' if it is not): more members than
    ``limits.zip_max_members``, or a zip bomb by the central directory's sizes (over
    ``limits.zip_max_total_bytes`` unpacked, or over ``limits.zip_max_ratio`` for the archive or one member).
    ``infos``: its file members; ``fix``: what to do instead of a bomb, for the message."""
    if len(infos) > limits.zip_max_members:
        return (
            f"{archive}: zip has {len(infos):,} files (limit {limits.zip_max_members:,}); refused, not unpacked — "
            "split it into smaller archives or raise Limits.zip_max_members"
        )
    declared = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos)
    ratio = declared / max(1, compressed)
    bomb = declared > limits.zip_max_total_bytes or (declared > 10 * MB and ratio > limits.zip_max_ratio)
    if bomb or any(
        i.file_size > MB and i.file_size / max(1, i.compress_size) > limits.zip_max_ratio for i in infos
    ):
        return (
            f"{archive}: looks like a zip bomb ({declared / MB:,.0f} MB uncompressed from {compressed / MB:,.2f} MB, "
            f"ratio {ratio:,.0f}:1; limits {limits.zip_max_total_bytes / MB:,.0f} MB and "
            f"{limits.zip_max_ratio:,.0f}:1); refused, not unpacked — {fix}"
        )
    return ""


def expand_zip(data: bytes, *, archive: str, limits: Limits, depth: int = 1) -> list[Member | Refused]:
    """Members of a zip (nested zips expanded up to ``limits.zip_max_depth``), or why each was refused."""
    try:
        zf, bad_names = _open(data)
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except ZIP_OPEN_ERRORS as exc:
        return [
            Refused(archive, f"{archive}: not a readable zip archive ({exc}); re-create it with a zip tool")
        ]
    refusal = archive_refusal(infos, archive=archive, limits=limits)
    if refusal:
        return [Refused(archive, refusal)]
    out: list[Member | Refused] = []
    for info in infos:
        if info.orig_filename in bad_names:
            out.append(
                Refused(
                    f"{archive}/{info.orig_filename.encode('cp437').decode('utf-8', 'replace')}",
                    f"{archive}: member name {info.orig_filename.encode('cp437')!r} is not valid UTF-8 although "
                    "the zip says it is; skipped, the other members are read — rename it and re-create the zip",
                )
            )
            continue
        clean = safe_member_name(info.filename)
        shown = f"{archive}/{info.filename}"
        if clean is None:
            out.append(
                Refused(
                    shown,
                    f"{archive}: member {info.filename!r} has an unsafe path (absolute or '..' traversal); "
                    "skipped — re-create the zip with relative paths",
                )
            )
            continue
        if _skip_silently(clean):
            continue
        path = f"{archive}/{clean}"
        kind = member_kind(info)
        if kind == "folder":  # a folder entry without the trailing '/' zipfile looks for: nothing to read
            continue
        if kind:  # its bytes are a link target or nothing, not the file's content
            out.append(
                Refused(
                    path,
                    f"{path}: {kind} in the zip, not a regular file; skipped — zip the file itself (zip stores a "
                    "link as a link only with --symlinks)",
                )
            )
            continue
        if info.flag_bits & 0x1:
            out.append(
                Refused(
                    path, f"{path}: encrypted zip member; unzip it with its password and upload the files"
                )
            )
            continue
        if info.file_size > limits.max_file_bytes:
            out.append(
                Refused(
                    path,
                    f"{path}: {info.file_size / MB:,.1f} MB exceeds the {limits.max_file_bytes / MB:,.0f} MB per-file "
                    "limit; split it or raise Limits.max_file_bytes",
                )
            )
            continue
        try:
            with zf.open(info) as fh:
                member = fh.read(info.file_size + 1)
        except ZIP_MEMBER_ERRORS as exc:
            out.append(Refused(path, f"{path}: cannot be unpacked ({exc}); re-create the zip"))
            continue
        if len(member) > info.file_size:
            out.append(
                Refused(path, f"{path}: larger than its zip header says; refused (damaged or malicious zip)")
            )
            continue
        if clean.lower().endswith(".zip"):
            if depth >= limits.zip_max_depth:
                out.append(
                    Refused(
                        path,
                        f"{path}: zip nested {depth + 1} levels deep (limit {limits.zip_max_depth}); "
                        "unpack it and upload the inner files",
                    )
                )
                continue
            out.extend(expand_zip(member, archive=path, limits=limits, depth=depth + 1))
            continue
        out.append(Member(path, member))
    return out
