"""The kabupaten's lambang (its coat of arms) for the kop surat of every document of its kecamatan.

A kabupaten sets its own by putting a PNG named after its slug in the lambang folder: ``<dir>/pamekasan.png``,
where ``<dir>`` is ``PENGADUAN_LAMBANG_DIR`` (default ``<data dir>/lambang``, beside the signing keys; in
docker-compose the ``letters-data`` volume that the letters API and worker share). A kabupaten without one gets
the neutral placeholder bundled with the service (``templates/lambang-placeholder.png``: a grey shield reading
"LAMBANG KABUPATEN", the symbol of no real region), never another kabupaten's.

A file is read again when it changes (its size or modification time), so a new lambang is printed from the next
document on without a restart. A file that is not a usable PNG (not a PNG, unreadable, too large or too small) is
an error (``InvalidLambang``) that fails the task visibly: a letter is never printed with a silently substituted
lambang. Transparency is kept (ReportLab draws a PNG's alpha channel as a soft mask).
"""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

from PIL import Image, UnidentifiedImageError

PLACEHOLDER = Path(__file__).resolve().parent.parent / "templates" / "lambang-placeholder.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 2 * 1024 * 1024  # a lambang for a 2.4 cm kop: a few hundred KB at most in practice
MIN_PIXELS = 32  # per side: smaller would print as a blur
MAX_PIXELS = 4000
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class InvalidLambang(ValueError):
    """A kabupaten's lambang file that cannot be printed; the message names the file and why."""


def check_png(data: bytes, source: str) -> tuple[int, int]:
    """The PNG's size in pixels; raises ``InvalidLambang`` when ``data`` is not a PNG this kop can print."""
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidLambang(f"{source}: not a PNG image (the lambang must be a .png file)")
    if len(data) > MAX_BYTES:
        raise InvalidLambang(f"{source}: {len(data)} bytes, more than {MAX_BYTES} for a lambang")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidLambang(f"{source}: not a readable PNG image ({exc})") from None
    if min(width, height) < MIN_PIXELS or max(width, height) > MAX_PIXELS:
        raise InvalidLambang(f"{source}: {width}x{height} px; a lambang is {MIN_PIXELS} to {MAX_PIXELS} px a side")
    return width, height


class LambangFiles:
    """Each kabupaten's lambang from ``folder`` (None: the placeholder for every one)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], bytes]] = {}

    def path_of(self, kabupaten_slug: str) -> Path | None:
        """Where the kabupaten's own lambang would be (a slug that is not one names no file)."""
        if self.folder is None or not _SLUG.fullmatch(kabupaten_slug):
            return None
        return self.folder / f"{kabupaten_slug}.png"

    def of(self, kabupaten_slug: str) -> bytes:
        """The kabupaten's own lambang if its file exists, else the placeholder."""
        path = self.path_of(kabupaten_slug)
        if path is not None:
            try:
                stat = path.stat()
            except FileNotFoundError:
                pass
            else:
                return self._read(path, (stat.st_size, stat.st_mtime_ns))
        stat = PLACEHOLDER.stat()
        return self._read(PLACEHOLDER, (stat.st_size, stat.st_mtime_ns))

    def _read(self, path: Path, version: tuple[int, int]) -> bytes:
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == version:
                return cached[1]
        data = path.read_bytes()
        check_png(data, str(path))
        with self._lock:
            self._cache[path] = (version, data)
        return data
