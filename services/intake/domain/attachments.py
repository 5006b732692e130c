"""Which files a complaint may carry: photos and scans (KTP/SIM/KK, a paper form), checked by what the bytes
are (their magic numbers, with ``filetype``), never by the file name or the type the sender declared. Images
are kept re-encoded (``domain.images``: no EXIF, no payload after the pixels); a PDF is kept as sent and only
ever served as a download.

Pure: no I/O. Rejections carry a stable ``code`` and a message in Bahasa Indonesia.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import filetype

from services.intake.domain.images import DEFAULT_MAX_PIXELS, REENCODED, ImageRefused, reencode
from shared.contracts.intake import Attachment

ALLOWED_TYPES: Final[dict[str, str]] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "application/pdf": "PDF",
}
KINDS: Final = ("ktp", "sim", "kk", "foto", "lainnya")
MAX_FILENAME: Final = 120

_ALLOWED_TEXT = ", ".join(ALLOWED_TYPES.values())


class AttachmentRejected(Exception):
    """Codes: ``attachment_empty``, ``attachment_too_large``, ``attachment_type_not_allowed``,
    ``attachment_unreadable``, ``attachment_image_too_large``, ``too_many_attachments``."""

    def __init__(self, code: str, message: str, filename: str | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.filename = filename

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks, with the bytes to store (an image's re-encoded ones) and their digest."""

    data: bytes
    sha256: str
    content_type: str
    filename: str | None
    kind: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def attachment(self) -> Attachment:
        return Attachment(
            sha256=self.sha256, content_type=self.content_type, size=self.size, filename=self.filename, kind=self.kind
        )


def real_content_type(data: bytes) -> str | None:
    """What the bytes are, from their first bytes; None when ``filetype`` does not recognise them."""
    kind = filetype.guess(data[:8192])
    return kind.mime if kind is not None else None


def check_file(
    data: bytes,
    filename: str | None,
    *,
    max_bytes: int,
    kind: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> CheckedFile:
    """The file, if it may be kept, as it will be stored (an image re-encoded: a HEIC becomes a JPEG and its
    name ends in .jpg); raises ``AttachmentRejected``."""
    name = sanitize_filename(filename)
    shown = f"Berkas {name}" if name else "Berkas"
    if not data:
        raise AttachmentRejected("attachment_empty", f"{shown} kosong.", name)
    if len(data) > max_bytes:
        raise AttachmentRejected(
            "attachment_too_large",
            f"{shown} terlalu besar (maksimal {_size_text(max_bytes)}).",
            name,
        )
    content_type = real_content_type(data)
    if content_type not in ALLOWED_TYPES:
        raise AttachmentRejected(
            "attachment_type_not_allowed",
            f"{shown} bukan jenis berkas yang diizinkan. Kirim foto atau pindaian dalam format {_ALLOWED_TEXT}.",
            name,
        )
    if kind is not None and kind not in KINDS:
        raise AttachmentRejected(
            "attachment_kind_unknown", f"Jenis lampiran tidak dikenal; pilihan: {', '.join(KINDS)}.", name
        )
    if content_type in REENCODED:
        try:
            data, stored_type = reencode(data, content_type, max_pixels=max_pixels)
        except ImageRefused as exc:
            raise AttachmentRejected(exc.code, f"{shown}: {exc.message}", name) from None
        if stored_type != content_type:
            name = _renamed(name, stored_type)
        content_type = stored_type
    return CheckedFile(
        data=data, sha256=hashlib.sha256(data).hexdigest(), content_type=content_type, filename=name, kind=kind
    )


def too_many(max_count: int) -> AttachmentRejected:
    return AttachmentRejected("too_many_attachments", f"Lampiran terlalu banyak (maksimal {max_count} berkas).")


@dataclass(frozen=True)
class Screened:
    """The files of one inbound message: those kept and those refused (which become a note, not a failure)."""

    kept: tuple[CheckedFile, ...]
    refused: tuple[AttachmentRejected, ...]


def screen(
    files: list[tuple[bytes, str | None]],
    *,
    max_bytes: int,
    max_count: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Screened:
    """Checks each file of a message; refused files are listed, duplicates (same stored bytes) kept once, and
    files beyond ``max_count`` refused."""
    kept: list[CheckedFile] = []
    refused: list[AttachmentRejected] = []
    for data, filename in files:
        try:
            checked = check_file(data, filename, max_bytes=max_bytes, max_pixels=max_pixels)
        except AttachmentRejected as exc:
            refused.append(exc)
            continue
        if any(k.sha256 == checked.sha256 for k in kept):
            continue
        if len(kept) >= max_count:
            refused.append(AttachmentRejected("too_many_attachments", too_many(max_count).message, checked.filename))
            continue
        kept.append(checked)
    return Screened(tuple(kept), tuple(refused))


def refusal_note(refused: tuple[AttachmentRejected, ...] | list[AttachmentRejected]) -> str | None:
    """A line for the description, so staff know a file came but was not kept."""
    if not refused:
        return None
    reasons = {
        "attachment_empty": "kosong",
        "attachment_too_large": "terlalu besar",
        "attachment_type_not_allowed": "jenis berkas tidak diizinkan",
        "attachment_unreadable": "gambar tidak dapat dibaca",
        "attachment_image_too_large": "gambar terlalu besar",
        "too_many_attachments": "melebihi jumlah lampiran",
        "attachment_unavailable": "tidak dapat diunduh",
    }
    items = [f"{r.filename or 'tanpa nama'} ({reasons.get(r.code, r.code)})" for r in refused]
    return "[Lampiran tidak disimpan: " + "; ".join(items) + "]"


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')
_SPACES = re.compile(r"\s+")


def sanitize_filename(filename: str | None) -> str | None:
    """A name safe to show and to put in a Content-Disposition header: no folders, no control or shell
    characters, at most ``MAX_FILENAME`` characters (the extension kept); None when nothing is left."""
    if not filename or not isinstance(filename, str):
        return None
    name = unicodedata.normalize("NFC", filename)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    if not name or set(name) <= {"_", " ", "."}:
        return None
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


def _renamed(name: str | None, content_type: str) -> str | None:
    """``foto.heic`` stored as a JPEG is ``foto.jpg``: the name a download gets matches its bytes."""
    if name is None:
        return None
    stem, dot, _ = name.rpartition(".")
    return sanitize_filename(f"{stem if dot and stem else name}.{_EXTENSIONS[content_type]}")


def _size_text(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB".replace(".", ",")
    return f"{max(1, n // 1024)} KB"
